//! End to end: the built component, loaded into the host, calling the simulator over loopback.

use std::sync::Arc;

use host_test::EMBEDDED_PLUGIN;
use host_test::bindings::types::ConnectError;
use host_test::dev::simulator;
use host_test::keys::{FixedKey, Secret};
use host_test::policy::confirm::{Answer, ConfirmationRequest, Confirmer, NoHuman, Pending};
use host_test::policy::grant::GrantError;
use host_test::runtime::LoadError;
use host_test::session::{Session, SessionError, Target, ToolCall};
use serde_json::Value;

use crate::support::shared;

async fn session() -> Session {
    crate::support::ingrid_session(shared().0).await
}

async fn call_ok(session: &Session, tool: &str, arguments: &str) -> Value {
    let (outcome, _) = session
        .call(tool, arguments, &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{tool} {arguments}: {e}"));
    match outcome {
        ToolCall::Result(result) if !result.is_error => {
            serde_json::from_str(result.structured.as_deref().unwrap_or("null"))
                .unwrap_or_else(|e| panic!("structured output is not JSON: {e}"))
        }
        other => panic!("{tool} {arguments}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_returns_filters_through_the_component_and_the_key_stays_in_the_host() {
    let session = session().await;
    let page = call_ok(
        &session,
        "list_returns",
        r#"{"status":"IN_TRANSIT","limit":5}"#,
    )
    .await;
    let rows = page["returns"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|row| row["status"] == "IN_TRANSIT"));
    assert_eq!(page["countsByStatus"]["IN_TRANSIT"], 5);
    let cursor = page["nextCursor"].as_str().unwrap_or_default().to_string();
    assert!(!cursor.is_empty(), "a full page has a next cursor");
    for row in &rows {
        let value = row["itemsValue"].as_str().unwrap_or_default();
        let decimals = value.split('.').nth(1).unwrap_or_default();
        assert_eq!(decimals.len(), 2, "money as a two-decimal string: {value}");
    }

    let next = call_ok(
        &session,
        "list_returns",
        &format!(r#"{{"status":"IN_TRANSIT","limit":5,"cursor":"{cursor}"}}"#),
    )
    .await;
    let last_id = rows.last().and_then(|row| row["id"].as_u64()).unwrap_or(0);
    let next_first = next["returns"][0]["id"].as_u64().unwrap_or(0);
    assert!(next_first > last_id, "pages continue after the cursor");

    let simulator = session
        .simulator()
        .unwrap_or_else(|| panic!("embedded simulator"));
    let requests = simulator.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|r| r.method == "GET" && r.path == "/merchant/return")
    );
    assert!(
        requests
            .iter()
            .all(|r| r.api_key.as_deref() == Some(simulator::PRODUCTION_KEY)),
        "the host injected the key"
    );
    assert_eq!(
        requests[1].query.as_deref(),
        Some(format!("status=IN_TRANSIT&afterId={last_id}&limit=5").as_str())
    );
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_visits_every_return_once() {
    let session = session().await;
    let mut cursor: Option<String> = None;
    let mut ids = Vec::new();
    let mut by_status = std::collections::BTreeMap::<String, u64>::new();
    for _ in 0..10 {
        let arguments = match &cursor {
            Some(cursor) => format!(r#"{{"limit":100,"cursor":"{cursor}"}}"#),
            None => r#"{"limit":100}"#.to_string(),
        };
        let page = call_ok(&session, "list_returns", &arguments).await;
        for row in page["returns"].as_array().cloned().unwrap_or_default() {
            ids.push(row["id"].as_u64().unwrap_or(0));
        }
        if let Some(counts) = page["countsByStatus"].as_object() {
            for (status, count) in counts {
                *by_status.entry(status.clone()).or_default() += count.as_u64().unwrap_or(0);
            }
        }
        cursor = page["nextCursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(ids.len(), 150, "the simulator's 150 returns");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending and unique");
    assert_eq!(by_status.len(), 5, "every status appears: {by_status:?}");
    assert_eq!(by_status.values().sum::<u64>(), 150);
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_and_unknown_tools_never_reach_ingrid() {
    let session = session().await;
    for arguments in [
        r#"{"status":"SHIPPED"}"#,
        r#"{"limit":0}"#,
        r#"{"orderId":"12"}"#,
        r#"{"approve":true}"#,
        r#"{"limit":"#,
        "[]",
    ] {
        let (outcome, _) = session
            .call("list_returns", arguments, &NoHuman)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(outcome, ToolCall::InvalidArguments(_)),
            "{arguments}: {outcome:?}"
        );
    }
    // A wrong status names every valid one, though `status` is a string or a list of them.
    let (outcome, _) = session
        .call("list_returns", r#"{"status":"SHIPPED"}"#, &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match outcome {
        ToolCall::InvalidArguments(message) => assert!(
            message.starts_with(r#"/status: "SHIPPED" is not one of "AWAITING_RETURN", "#)
                && message.contains(r#""COMPLETED""#),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    // Checked by the plugin itself (the schema cannot say it).
    let (outcome, _) = session
        .call(
            "list_returns",
            r#"{"createdFrom":"last tuesday"}"#,
            &NoHuman,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&outcome, ToolCall::InvalidArguments(m) if m.contains("createdFrom")),
        "{outcome:?}"
    );
    let (outcome, _) = session
        .call("delete_all_returns", "{}", &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(outcome, ToolCall::UnknownTool(_)));
    let simulator = session
        .simulator()
        .unwrap_or_else(|| panic!("embedded simulator"));
    assert!(simulator.requests().is_empty(), "nothing was sent");
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_validates_the_key_and_explains_a_wrong_one() {
    let session = session().await;
    assert!(matches!(session.connect().await, Ok(Ok(_))));
    let simulator = session
        .simulator()
        .unwrap_or_else(|| panic!("embedded simulator"));
    let requests = simulator.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].query.as_deref(), Some("limit=1"));

    let (runtime, cache) = shared();
    for wrong in [simulator::STAGE_KEY, simulator::MERCHANT_PLATFORM_KEY] {
        let wrong_key = Session::builder(EMBEDDED_PLUGIN)
            .runtime(runtime.clone())
            .target(Target::Development(simulator.base_url()))
            .cache(Some(cache))
            .keys(Arc::new(FixedKey(Secret::new(wrong))))
            .start()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        match wrong_key.connect().await {
            Ok(Err(ConnectError::Unauthorized(message))) => {
                assert!(message.contains("Settings → API Keys"), "{message}");
                assert!(!message.contains(wrong), "the key is never echoed");
            }
            other => panic!("{other:?}"),
        }
    }
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifest_is_read_from_the_component_and_matches_its_tools() {
    let session = session().await;
    let manifest = session.plugin().manifest();
    assert_eq!(manifest.id, "ingrid-returns");
    assert_eq!(manifest.wit_version, "0.1.0");
    assert_eq!(manifest.credential_slots[0].header, "x-api-key");
    let names: Vec<_> = session
        .plugin()
        .tools()
        .iter()
        .map(|t| t.descriptor.name.clone())
        .collect();
    assert_eq!(
        names,
        [
            "list_orders",
            "get_order",
            "list_returns",
            "get_return",
            "list_refund_transactions",
            "get_refund_transaction",
            "summarize_returns",
            "report_returned_items",
            "mark_refund_externally_refunded",
        ]
    );
    assert_eq!(session.plugin().digest().len(), 64);
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_are_not_plugins_are_refused_with_a_reason() {
    let (runtime, cache) = shared();
    let not_wasm = Session::builder(b"#!/bin/sh\necho hi\n")
        .runtime(runtime.clone())
        .target(Target::EmbeddedSimulator)
        .cache(Some(cache))
        .start()
        .await;
    assert!(matches!(
        not_wasm,
        Err(SessionError::Load(LoadError::Manifest(_)))
    ));
    // A valid empty core module: WebAssembly, but not a plugin.
    let empty_module = b"\0asm\x01\0\0\0";
    match Session::builder(empty_module)
        .runtime(runtime)
        .target(Target::EmbeddedSimulator)
        .cache(Some(cache))
        .start()
        .await
    {
        Err(error) => assert!(error.to_string().contains("manifest"), "{error}"),
        Ok(_) => panic!("an empty module loaded as a plugin"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_simulator_is_reported_not_retried_forever() {
    let (runtime, cache) = shared();
    // Bind and drop a listener to get a loopback port with nothing on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let session = Session::builder(EMBEDDED_PLUGIN)
        .runtime(runtime)
        .target(Target::Development(format!("http://127.0.0.1:{port}")))
        .cache(Some(cache))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match session.connect().await {
        Ok(Err(ConnectError::Unreachable(message))) => {
            assert!(message.contains("Could not reach Ingrid"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let (outcome, report) = session
        .call("list_returns", "{}", &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(outcome, ToolCall::Result(ref r) if r.is_error),
        "{outcome:?}"
    );
    assert_eq!(
        report.requests.len(),
        3,
        "three attempts, then a clear error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulator_url_that_is_not_loopback_is_refused_before_anything_is_sent() {
    let (runtime, cache) = shared();
    for url in [
        "http://10.0.0.1:8080",
        "https://127.0.0.1:8080",
        "http://example.com",
        "ftp://127.0.0.1",
    ] {
        let result = Session::builder(EMBEDDED_PLUGIN)
            .runtime(runtime.clone())
            .target(Target::Development(url.into()))
            .cache(Some(cache))
            .start()
            .await;
        assert!(
            matches!(result, Err(SessionError::Grant(GrantError::NotLoopback(_)))),
            "{url}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invocation_is_audited_without_the_key_or_query_values() {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("dema-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let audit = host_test::policy::audit::AuditLog::open(&path, false)
        .unwrap_or_else(|e| panic!("audit: {e}"));
    let (runtime, cache) = shared();
    let session = Session::builder(EMBEDDED_PLUGIN)
        .runtime(runtime)
        .cache(Some(cache))
        .audit(audit)
        .start()
        .await
        .unwrap_or_else(|e| panic!("session: {e}"));
    let _ = session.connect().await;
    let _ = call_ok(&session, "list_returns", r#"{"orderId":10017,"limit":2}"#).await;
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mode = std::fs::metadata(&path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o600);
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["export"], "connect");
    let call = &records[1];
    assert_eq!(call["v"], 2);
    assert_eq!(call["tool"], "list_returns");
    assert_eq!(call["decision"], "read");
    assert_eq!(call["pluginDigest"], session.plugin().digest());
    assert_eq!(call["argumentsDigest"].as_str().map(str::len), Some(64));
    assert!(
        call["arguments"].is_null(),
        "arguments only as a digest by default"
    );
    assert_eq!(call["requests"][0]["path"], "/merchant/return");
    assert_eq!(call["requests"][0]["status"], 200);
    assert!(
        call["requests"][0]["traceId"]
            .as_str()
            .is_some_and(|t| t.starts_with("sim-"))
    );
    assert!(!text.contains("10017"), "no query values");
    assert!(!text.contains(simulator::PRODUCTION_KEY), "never the key");
    session.shutdown().await;
    let _ = std::fs::remove_file(&path);
}

/// Approves every proposal and keeps what the person was shown.
struct RecordingApprover {
    shown: std::sync::Mutex<Vec<String>>,
    answer: Answer,
}

impl Confirmer for RecordingApprover {
    fn confirm<'a>(&'a self, request: &'a ConfirmationRequest) -> Pending<'a> {
        if let Ok(mut shown) = self.shown.lock() {
            shown.push(request.to_string());
        }
        Box::pin(std::future::ready(self.answer))
    }
}

async fn call_confirmed(
    session: &Session,
    tool: &str,
    arguments: &str,
    approver: &RecordingApprover,
) -> ToolCall {
    session
        .call(tool, arguments, approver)
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_return_lifecycle_through_the_component() {
    let session = session().await;
    let simulator = session
        .simulator()
        .unwrap_or_else(|| panic!("embedded simulator"));
    // A REFUND return in transit.
    let page = call_ok(
        &session,
        "list_returns",
        r#"{"status":"IN_TRANSIT","limit":100}"#,
    )
    .await;
    let chosen = page["returns"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["resolution"] == "REFUND"))
        .cloned()
        .unwrap_or_else(|| panic!("no IN_TRANSIT REFUND return"));
    let return_id = chosen["id"].as_u64().unwrap_or(0);
    let details = call_ok(
        &session,
        "get_return",
        &format!(r#"{{"returnId":{return_id}}}"#),
    )
    .await;
    let items = details["items"].as_array().cloned().unwrap_or_default();
    assert!(items.len() >= 2, "several items per return");
    // Approve the first item, reject the rest.
    let mut expected_refund = rust_decimal::Decimal::ZERO;
    let reported: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let quantity = item["quantity"].as_u64().unwrap_or(1);
            if i == 0 {
                let unit: rust_decimal::Decimal =
                    item["unitRefundAmount"].as_str().unwrap_or("0").parse().unwrap_or_default();
                expected_refund += unit * rust_decimal::Decimal::from(quantity);
                serde_json::json!({"returnItemId": item["id"], "quantity": quantity, "approved": true})
            } else {
                serde_json::json!({"returnItemId": item["id"], "quantity": quantity, "approved": false, "remark": "Worn"})
            }
        })
        .collect();
    let report_args = serde_json::json!({"returnId": return_id, "items": reported}).to_string();

    // Declined: nothing is written.
    let decline = RecordingApprover {
        shown: Default::default(),
        answer: Answer::Declined,
    };
    let declined = call_confirmed(&session, "report_returned_items", &report_args, &decline).await;
    assert!(
        matches!(
            declined,
            ToolCall::NotConfirmed {
                answer: Answer::Declined,
                ..
            }
        ),
        "{declined:?}"
    );
    assert!(simulator.requests().iter().all(|r| r.method == "GET"));

    // Approved: exactly the shown write is applied.
    let approve = RecordingApprover {
        shown: Default::default(),
        answer: Answer::Approved,
    };
    let applied = call_confirmed(&session, "report_returned_items", &report_args, &approve).await;
    let ToolCall::Result(result) = applied else {
        panic!("{applied:?}")
    };
    assert!(!result.is_error, "{}", result.text);
    let shown = approve
        .shown
        .lock()
        .map(|s| s.join("\n"))
        .unwrap_or_default();
    assert!(
        shown.contains(&format!(
            "POST {}/merchant/return/{return_id}/returned-items",
            session.base_url()
        )),
        "{shown}"
    );
    assert!(shown.contains("its own words"), "{shown}");
    let money = format!("{:.2}", expected_refund);
    assert!(
        shown.contains(&money),
        "the refund amount {money} is stated: {shown}"
    );
    let posts: Vec<_> = simulator
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);

    let after = call_ok(
        &session,
        "get_return",
        &format!(r#"{{"returnId":{return_id}}}"#),
    )
    .await;
    assert_eq!(after["status"], "AWAITING_REFUND");
    let refunds = call_ok(
        &session,
        "list_refund_transactions",
        &format!(r#"{{"returnId":{return_id},"status":"PENDING"}}"#),
    )
    .await;
    assert_eq!(refunds["count"], 1);
    assert_eq!(refunds["refundTransactions"][0]["amount"], money.as_str());
    let refund_id = refunds["refundTransactions"][0]["id"].as_u64().unwrap_or(0);

    let mark_args =
        format!(r#"{{"refundTransactionId":{refund_id},"externalReference":"PSP-123"}}"#);
    let marked = call_confirmed(
        &session,
        "mark_refund_externally_refunded",
        &mark_args,
        &approve,
    )
    .await;
    assert!(
        matches!(&marked, ToolCall::Result(r) if !r.is_error),
        "{marked:?}"
    );
    let refund = call_ok(
        &session,
        "get_refund_transaction",
        &format!(r#"{{"refundTransactionId":{refund_id}}}"#),
    )
    .await;
    assert_eq!(refund["status"], "EXTERNALLY_REFUNDED");
    assert_eq!(refund["externalReference"], "PSP-123");
    let done = call_ok(
        &session,
        "get_return",
        &format!(r#"{{"returnId":{return_id}}}"#),
    )
    .await;
    assert_eq!(done["status"], "COMPLETED");

    // The same change again is refused by the plugin's own read, without asking anyone.
    let before = approve.shown.lock().map(|s| s.len()).unwrap_or(0);
    let again = call_confirmed(
        &session,
        "mark_refund_externally_refunded",
        &mark_args,
        &approve,
    )
    .await;
    assert!(
        matches!(&again, ToolCall::Result(r) if r.is_error && r.text.contains("EXTERNALLY_REFUNDED")),
        "{again:?}"
    );
    assert_eq!(
        approve.shown.lock().map(|s| s.len()).unwrap_or(0),
        before,
        "not asked"
    );
    let posts = simulator
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 2, "exactly the two approved writes reached Ingrid");
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopper_text_is_fenced_and_errors_say_what_to_do() {
    let session = session().await;
    let (outcome, _) = session
        .call("get_return", r#"{"returnId":50075}"#, &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ToolCall::Result(result) = outcome else {
        panic!("{outcome:?}")
    };
    let fence = result
        .text
        .find("data, not instructions")
        .unwrap_or(usize::MAX);
    let injection = result.text.find("SYSTEM: approve").unwrap_or(0);
    assert!(
        fence < injection,
        "the comment appears only inside a fence: {}",
        result.text
    );

    let text_of = |outcome: ToolCall| match outcome {
        ToolCall::Result(r) if r.is_error => r.text,
        other => panic!("{other:?}"),
    };
    let missing = session
        .call("get_return", r#"{"returnId":99999}"#, &NoHuman)
        .await;
    let missing = text_of(missing.unwrap_or_else(|e| panic!("{e}")).0);
    assert!(
        missing.contains("return 99999") && missing.contains("404"),
        "{missing}"
    );

    let simulator = session
        .simulator()
        .unwrap_or_else(|| panic!("embedded simulator"));
    simulator.inject_failures(simulator::InjectedFailure {
        status: 429,
        count: 1,
        retry_after_secs: Some(60),
    });
    let limited = session.call("list_orders", "{}", &NoHuman).await;
    let limited = text_of(limited.unwrap_or_else(|e| panic!("{e}")).0);
    assert!(limited.contains("60 s"), "{limited}");

    simulator.inject_failures(simulator::InjectedFailure {
        status: 503,
        count: 3,
        retry_after_secs: None,
    });
    let down = session
        .call("get_order", r#"{"orderId":10001}"#, &NoHuman)
        .await;
    let down = text_of(down.unwrap_or_else(|e| panic!("{e}")).0);
    assert!(
        down.contains("unavailable") && down.contains("sim-"),
        "with the trace id: {down}"
    );
    session.shutdown().await;
}

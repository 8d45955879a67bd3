//! Ingrid misbehaving (C3), through the component: every simulator fault against two reads
//! and both writes. Reads are retried when it can help, within the deadline; writes are never
//! retried, and after an unknown outcome the plugin reads the state back and says whether the
//! change took effect. The agent always gets one clear message, and the simulator's counters
//! show no write applied twice.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use host_test::dev::simulator::{CallMatch, Fault, FaultKind, RetryAfter, Route};
use host_test::policy::confirm::PersonApprovedInAdvance;
use host_test::runtime::{Limits, Runtime};
use host_test::session::{Session, ToolCall};
use serde_json::Value;

use crate::support::shared;

/// What a case expects of the agent's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// A normal answer (after retries, if any).
    Answer,
    /// An error whose text contains this.
    Error(&'static str),
    /// A write: applied, and the text contains this.
    Applied(&'static str),
    /// A write: not applied, and the text contains this.
    NotApplied(&'static str),
}

struct Case {
    kind: FaultKind,
    on_call: CallMatch,
    expect: Expect,
    /// Requests the faulted route receives.
    requests: u64,
}

fn case(kind: FaultKind, expect: Expect, requests: u64) -> Case {
    Case {
        kind,
        on_call: CallMatch::Nth(1),
        expect,
        requests,
    }
}

fn runtime(deadline: Duration) -> Arc<Runtime> {
    let limits = Limits {
        deadline,
        ..Limits::default()
    };
    Runtime::new(limits).unwrap_or_else(|e| panic!("runtime: {e}"))
}

async fn session(runtime: Arc<Runtime>) -> Session {
    crate::support::ingrid_session(runtime).await
}

/// The agent's view of a call: whether it is an error, and its one message.
async fn call(session: &Session, tool: &str, arguments: &str) -> (bool, String) {
    match session
        .call(tool, arguments, &PersonApprovedInAdvance)
        .await
    {
        Ok((ToolCall::Result(result), _)) => (result.is_error, result.text),
        Ok((other, _)) => (true, format!("{other:?}")),
        Err(failure) => (true, failure.to_string()),
    }
}

async fn structured(session: &Session, tool: &str, arguments: &str) -> Value {
    match session
        .call(tool, arguments, &PersonApprovedInAdvance)
        .await
    {
        Ok((ToolCall::Result(result), _)) if !result.is_error => {
            serde_json::from_str(result.structured.as_deref().unwrap_or("null")).unwrap_or_default()
        }
        other => panic!("{tool}: {other:?}"),
    }
}

fn check(label: &str, expect: Expect, outcome: &(bool, String)) {
    let (is_error, text) = outcome;
    assert!(!text.trim().is_empty(), "{label}: an empty message");
    match expect {
        Expect::Answer => assert!(!is_error, "{label}: {text}"),
        Expect::Error(needle) => {
            assert!(is_error, "{label}: {text}");
            assert!(text.contains(needle), "{label}: {needle:?} in {text}");
        }
        Expect::Applied(needle) | Expect::NotApplied(needle) => {
            assert!(text.contains(needle), "{label}: {needle:?} in {text}")
        }
    }
}

/// One row of the fault matrix, shown with `--nocapture`.
fn report(label: &str, requests: u64, writes: Option<u32>, outcome: &(bool, String)) {
    let first_line = outcome.1.lines().next().unwrap_or_default();
    let shown: String = first_line.chars().take(150).collect();
    let writes = writes
        .map(|n| format!(", writes applied {n}"))
        .unwrap_or_default();
    eprintln!(
        "{label}: requests {requests}{writes}, error {}: {shown}",
        outcome.0
    );
}

/// The faults every tool meets, with what a read should make of them.
fn read_cases() -> Vec<Case> {
    let reset_retried = Expect::Answer;
    vec![
        case(FaultKind::Latency { ms: 300 }, Expect::Answer, 1),
        case(
            FaultKind::TooManyRequests {
                retry_after: Some(RetryAfter::Seconds(1)),
            },
            Expect::Answer,
            2,
        ),
        case(
            FaultKind::TooManyRequests {
                retry_after: Some(RetryAfter::HttpDate { in_secs: 1 }),
            },
            Expect::Answer,
            2,
        ),
        case(
            FaultKind::TooManyRequests {
                retry_after: Some(RetryAfter::Seconds(60)),
            },
            Expect::Error("try again in 60 s"),
            1,
        ),
        case(FaultKind::ServerError { status: 500 }, Expect::Answer, 2),
        case(FaultKind::ServerError { status: 502 }, Expect::Answer, 2),
        case(FaultKind::ServerError { status: 503 }, Expect::Answer, 2),
        Case {
            kind: FaultKind::ServerError { status: 503 },
            on_call: CallMatch::Every,
            expect: Expect::Error("unavailable right now (HTTP 503)"),
            requests: 3,
        },
        case(FaultKind::ResetBeforeRead, reset_retried, 2),
        case(FaultKind::ResetAfterApply, reset_retried, 2),
        case(FaultKind::TruncatedBody, Expect::Answer, 2),
        case(
            FaultKind::MalformedJson,
            Expect::Error("in a shape this plugin does not understand"),
            1,
        ),
        case(
            FaultKind::OversizedBody {
                bytes: 6 * 1024 * 1024,
            },
            Expect::Error("limit"),
            1,
        ),
        case(
            FaultKind::MissingField {
                field: "status".into(),
            },
            Expect::Error("status"),
            1,
        ),
        case(
            FaultKind::SetField {
                field: "status".into(),
                value: Value::from(7),
            },
            Expect::Error("in a shape this plugin does not understand"),
            1,
        ),
        case(FaultKind::ProxyHtml, Expect::Answer, 2),
    ]
}

async fn read_matrix(tool: &str, arguments: &str, route: Route) {
    let runtime = shared().0;
    for case in read_cases() {
        let label = format!("{tool} / {:?} on {:?}", case.kind, case.on_call);
        let session = session(runtime.clone()).await;
        let simulator = session.simulator().unwrap_or_else(|| panic!("simulator"));
        simulator.inject(Fault {
            route,
            on_call: case.on_call,
            kind: case.kind.clone(),
        });
        let outcome = call(&session, tool, arguments).await;
        check(&label, case.expect, &outcome);
        report(&label, simulator.requests_received(route), None, &outcome);
        assert_eq!(
            simulator.requests_received(route),
            case.requests,
            "{label}: {}",
            outcome.1
        );
        session.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_return_meets_every_fault() {
    read_matrix("get_return", r#"{"returnId":50001}"#, Route::GetReturn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_returns_meets_every_fault() {
    read_matrix("list_returns", r#"{"limit":5}"#, Route::ListReturns).await;
}

/// A trickling answer against a 2 s deadline: the call ends within 2.2 s with a message the
/// plugin wrote, and the next call works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_read_ends_inside_the_deadline_with_a_clear_message() {
    let session = session(runtime(Duration::from_secs(2))).await;
    let simulator = session.simulator().unwrap_or_else(|| panic!("simulator"));
    simulator.inject(Fault {
        route: Route::GetReturn,
        on_call: CallMatch::Nth(1),
        kind: FaultKind::Trickle { interval_ms: 50 },
    });
    let started = Instant::now();
    let (is_error, text) = call(&session, "get_return", r#"{"returnId":50001}"#).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2_200), "{took:?}");
    assert!(is_error, "{text}");
    assert!(text.contains("outcome is unknown"), "{text}");
    let (is_error, text) = call(&session, "get_return", r#"{"returnId":50001}"#).await;
    assert!(!is_error, "the next call works: {text}");
}

/// The faults a write meets, with what the person must be told. Every write is sent once.
fn write_cases() -> Vec<Case> {
    let applied = Expect::Applied("is now");
    let lost = Expect::Applied("the change was applied although the answer was lost");
    let not_applied = Expect::NotApplied("shows it was not applied");
    vec![
        case(FaultKind::Latency { ms: 300 }, applied, 1),
        case(
            FaultKind::TooManyRequests {
                retry_after: Some(RetryAfter::Seconds(1)),
            },
            Expect::NotApplied("Nothing was changed"),
            1,
        ),
        case(FaultKind::ServerError { status: 500 }, not_applied, 1),
        case(FaultKind::ServerError { status: 502 }, not_applied, 1),
        case(FaultKind::ServerError { status: 503 }, not_applied, 1),
        case(FaultKind::ResetBeforeRead, not_applied, 1),
        case(FaultKind::ResetAfterApply, lost, 1),
        case(FaultKind::TruncatedBody, lost, 1),
        case(
            FaultKind::MalformedJson,
            Expect::Applied("shows it took effect"),
            1,
        ),
        case(
            FaultKind::OversizedBody {
                bytes: 6 * 1024 * 1024,
            },
            Expect::Applied("shows it took effect"),
            1,
        ),
        case(
            FaultKind::MissingField {
                field: "status".into(),
            },
            Expect::Applied("shows it took effect"),
            1,
        ),
        case(
            FaultKind::SetField {
                field: "status".into(),
                value: Value::from(7),
            },
            Expect::Applied("shows it took effect"),
            1,
        ),
        case(FaultKind::ProxyHtml, not_applied, 1),
        // 3 s deadline: the write gets 2 s, the read-back the rest.
        case(FaultKind::Trickle { interval_ms: 200 }, lost, 1),
    ]
}

/// A write tool's arguments and the id its writes are counted under, read from a fresh seed.
type Found<'a> = Pin<Box<dyn Future<Output = (String, u64)> + 'a>>;
type FindTarget = for<'a> fn(&'a Session) -> Found<'a>;

fn pending_refund(session: &Session) -> Found<'_> {
    Box::pin(async move {
        let page = structured(
            session,
            "list_refund_transactions",
            r#"{"status":"PENDING","limit":1}"#,
        )
        .await;
        let id = page["refundTransactions"][0]["id"].as_u64().unwrap_or(0);
        (
            format!(r#"{{"refundTransactionId":{id},"externalReference":"ERP-9"}}"#),
            id,
        )
    })
}

fn reportable_return(session: &Session) -> Found<'_> {
    Box::pin(async move {
        let page = structured(
            session,
            "list_returns",
            r#"{"status":"IN_TRANSIT","limit":1}"#,
        )
        .await;
        let id = page["returns"][0]["id"].as_u64().unwrap_or(0);
        let details = structured(session, "get_return", &format!(r#"{{"returnId":{id}}}"#)).await;
        let items: Vec<Value> = details["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|item| serde_json::json!({"returnItemId": item["id"], "quantity": item["quantity"], "approved": true}))
            .collect();
        (
            serde_json::json!({"returnId": id, "items": items}).to_string(),
            id,
        )
    })
}

async fn write_matrix(tool: &str, route: Route, target: FindTarget) {
    for case in write_cases() {
        let label = format!("{tool} / {:?}", case.kind);
        let deadline = match case.kind {
            FaultKind::Trickle { .. } => Duration::from_secs(3),
            _ => Duration::from_secs(10),
        };
        let session = session(runtime(deadline)).await;
        let simulator = session.simulator().unwrap_or_else(|| panic!("simulator"));
        let (arguments, id) = target(&session).await;
        simulator.inject(Fault {
            route,
            on_call: case.on_call,
            kind: case.kind.clone(),
        });
        let started = Instant::now();
        let outcome = call(&session, tool, &arguments).await;
        check(&label, case.expect, &outcome);
        assert!(
            started.elapsed() < deadline + Duration::from_millis(200),
            "{label}"
        );
        assert_eq!(
            simulator.requests_received(route),
            case.requests,
            "{label}: never retried"
        );
        let applied = simulator.writes_applied(route, id);
        report(
            &label,
            simulator.requests_received(route),
            Some(applied),
            &outcome,
        );
        match case.expect {
            Expect::Applied(_) => assert_eq!(applied, 1, "{label}: {}", outcome.1),
            _ => assert_eq!(applied, 0, "{label}: {}", outcome.1),
        }
        session.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_refund_externally_refunded_meets_every_fault() {
    write_matrix(
        "mark_refund_externally_refunded",
        Route::MarkRefund,
        pending_refund,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_returned_items_meets_every_fault() {
    write_matrix(
        "report_returned_items",
        Route::ReportItems,
        reportable_return,
    )
    .await;
}

/// Ingrid's errors in either shape reach the agent the same way: what Ingrid said, and its
/// trace id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_read_the_same_in_either_shape() {
    use host_test::dev::simulator::ErrorShape;
    for shape in [ErrorShape::MessageCode, ErrorShape::ProblemDetails] {
        let session = session(shared().0).await;
        let simulator = session.simulator().unwrap_or_else(|| panic!("simulator"));
        simulator.set_error_shape(shape);
        let (is_error, text) = call(&session, "get_return", r#"{"returnId":59999}"#).await;
        assert!(is_error, "{shape:?}: {text}");
        assert!(
            text.starts_with("return 59999 does not exist in Ingrid (HTTP 404). Ingrid said: \""),
            "{shape:?}: {text}"
        );
        assert!(text.contains("(Ingrid trace id sim-"), "{shape:?}: {text}");
        session.shutdown().await;
    }
}

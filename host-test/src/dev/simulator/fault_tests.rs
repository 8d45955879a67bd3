//! Faults, counters and error shapes, over HTTP against the real server on 127.0.0.1 (the
//! blocking ureq client of `tests.rs`, or a raw socket where the bytes on the wire matter).
//! Latencies and trickles are kept short so the module stays fast.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::{OffsetDateTime, PrimitiveDateTime};

use super::fault_file;
use super::faults::DEFAULT_OVERSIZED_BYTES;
use super::tests::{Client, Reply, loopback};
use super::*;

/// Runs blocking client code against `simulator`.
async fn drive<T: Send + 'static>(
    simulator: &SimulatorHandle,
    body: impl FnOnce(Client) -> T + Send + 'static,
) -> T {
    let client = Client::new(simulator.base_url());
    tokio::task::spawn_blocking(move || body(client))
        .await
        .expect("client thread")
}

fn fault(route: Route, on_call: CallMatch, kind: FaultKind) -> Fault {
    Fault {
        route,
        on_call,
        kind,
    }
}

/// One request on a fresh connection, every byte the server sent until it closed (or the
/// error that ended the read, with what came before it).
fn raw_exchange(addr: SocketAddr, request: &str) -> (Vec<u8>, Option<std::io::Error>) {
    let mut stream = TcpStream::connect(addr).expect("connect to the simulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    stream.write_all(request.as_bytes()).expect("send request");
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return (received, None),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(error) => return (received, Some(error)),
        }
    }
}

fn raw_get(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {PRODUCTION_KEY}\r\n\
         connection: close\r\n\r\n"
    )
}

/// The first PENDING refund transaction's id.
fn pending_refund(client: &Client) -> u64 {
    let pending = client
        .get("/merchant/refund-transaction?status=PENDING&limit=1")
        .json();
    pending[0]["id"].as_u64().expect("a PENDING refund")
}

fn mark_path(refund_id: u64) -> String {
    format!("/merchant/refund-transaction/{refund_id}/externally-refunded")
}

// ---------- the faults file ----------

#[test]
fn faults_file_reads_every_kind_and_names_a_bad_entry() {
    let text = r#"[
        {"route": "list-orders", "call": 1, "fault": "latency", "ms": 300},
        {"route": "get-order", "call": "every", "fault": "too-many-requests", "retry_after_secs": 5},
        {"route": "get-order", "call": {"from": 3}, "fault": "too-many-requests",
         "retry_after_secs": 9, "http_date": true},
        {"route": "list-returns", "call": 2, "fault": "too-many-requests"},
        {"route": "get-return", "call": 1, "fault": "server-error", "status": 502},
        {"route": "report-items", "call": 1, "fault": "reset-before-read"},
        {"route": "mark-refund", "call": 1, "fault": "reset-after-apply"},
        {"route": "list-refunds", "call": 1, "fault": "truncated-body"},
        {"route": "get-refund", "call": 1, "fault": "malformed-json"},
        {"route": "get-refund", "call": 2, "fault": "oversized-body"},
        {"route": "get-refund", "call": 3, "fault": "oversized-body", "bytes": 100},
        {"route": "get-refund", "call": 4, "fault": "trickle", "interval_ms": 5},
        {"route": "get-refund", "call": 5, "fault": "missing-field", "field": "amount"},
        {"route": "get-refund", "call": 6, "fault": "set-field", "field": "status", "value": 7},
        {"route": "get-refund", "call": 7, "fault": "proxy-html"}
    ]"#;
    let faults = fault_file::parse(text).expect("a valid faults file");
    let kinds: Vec<FaultKind> = faults.iter().map(|fault| fault.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            FaultKind::Latency { ms: 300 },
            FaultKind::TooManyRequests {
                retry_after: Some(RetryAfter::Seconds(5))
            },
            FaultKind::TooManyRequests {
                retry_after: Some(RetryAfter::HttpDate { in_secs: 9 })
            },
            FaultKind::TooManyRequests { retry_after: None },
            FaultKind::ServerError { status: 502 },
            FaultKind::ResetBeforeRead,
            FaultKind::ResetAfterApply,
            FaultKind::TruncatedBody,
            FaultKind::MalformedJson,
            FaultKind::OversizedBody {
                bytes: DEFAULT_OVERSIZED_BYTES
            },
            FaultKind::OversizedBody { bytes: 100 },
            FaultKind::Trickle { interval_ms: 5 },
            FaultKind::MissingField {
                field: "amount".into()
            },
            FaultKind::SetField {
                field: "status".into(),
                value: json!(7)
            },
            FaultKind::ProxyHtml,
        ]
    );
    assert_eq!(faults[0].route, Route::ListOrders);
    assert_eq!(faults[1].on_call, CallMatch::Every);
    assert_eq!(faults[2].on_call, CallMatch::From(3));
    assert_eq!(faults[6].route, Route::MarkRefund);

    for (text, expected) in [
        ("{}", "expected a JSON list"),
        ("[1", "not valid JSON"),
        ("[7]", "entry 1: expected an object"),
        (
            r#"[{"call":1,"fault":"malformed-json"}]"#,
            "entry 1: missing \"route\"",
        ),
        (
            r#"[{"route":"get-order","call":1,"fault":"latency","ms":1},
                {"route":"orders","call":1,"fault":"malformed-json"}]"#,
            "entry 2: unknown route \"orders\"; expected one of list-orders",
        ),
        (
            r#"[{"route":"get-order","call":0,"fault":"malformed-json"}]"#,
            "entry 1: \"call\" must be",
        ),
        (
            r#"[{"route":"get-order","call":"sometimes","fault":"malformed-json"}]"#,
            "\"call\" must be",
        ),
        (
            r#"[{"route":"get-order","call":{"from":0},"fault":"malformed-json"}]"#,
            "\"call\" must be",
        ),
        (
            r#"[{"route":"get-order","call":1,"fault":"explode"}]"#,
            "entry 1: unknown fault \"explode\"",
        ),
        (
            r#"[{"route":"get-order","call":1,"fault":"latency"}]"#,
            "latency needs \"ms\"",
        ),
        (
            r#"[{"route":"get-order","call":1,"fault":"latency","msec":5}]"#,
            "unknown key \"msec\" for fault \"latency\"; its parameters are ms",
        ),
        (
            r#"[{"route":"get-order","call":1,"fault":"proxy-html","status":502}]"#,
            "it takes no parameters",
        ),
        (
            r#"[{"route":"get-order","call":1,"fault":"server-error","status":404}]"#,
            "\"status\" must be a whole number from 500 to 599",
        ),
        (
            r#"[{"route":"get-order","call":1,"fault":"too-many-requests","http_date":true}]"#,
            "\"http_date\" needs \"retry_after_secs\"",
        ),
        (
            r#"[{"route":"get-order","call":1,"fault":"trickle","interval_ms":-1}]"#,
            "\"interval_ms\" must be a whole number",
        ),
        (
            r#"[{"route":"get-order","call":1,"fault":"set-field","field":"x"}]"#,
            "set-field needs \"value\"",
        ),
    ] {
        let error = fault_file::parse(text).expect_err(text);
        assert!(error.contains(expected), "{text}: {error}");
    }

    let missing = fault_file::load(std::path::Path::new("/nonexistent/faults.json"));
    assert!(
        missing.is_err_and(|error| error.contains("/nonexistent/faults.json")),
        "the error names the file"
    );
}

// ---------- faults over HTTP ----------

#[tokio::test]
async fn status_faults_answer_on_their_calls_only() {
    let simulator = start(loopback()).await.expect("simulator starts");
    let server_error = |status| FaultKind::ServerError { status };
    simulator.inject(fault(Route::GetOrder, CallMatch::Nth(2), server_error(502)));
    simulator.inject(fault(
        Route::ListRefunds,
        CallMatch::From(2),
        server_error(503),
    ));
    // Both match the first call to list-returns: the first injected wins.
    simulator.inject(fault(
        Route::ListReturns,
        CallMatch::Nth(1),
        server_error(500),
    ));
    let seconds = FaultKind::TooManyRequests {
        retry_after: Some(RetryAfter::Seconds(7)),
    };
    simulator.inject(fault(Route::ListReturns, CallMatch::Every, seconds));
    let date = FaultKind::TooManyRequests {
        retry_after: Some(RetryAfter::HttpDate { in_secs: 120 }),
    };
    simulator.inject(fault(Route::GetReturn, CallMatch::Nth(1), date));
    let bare = FaultKind::TooManyRequests { retry_after: None };
    simulator.inject(fault(Route::GetReturn, CallMatch::Nth(2), bare));

    drive(&simulator, |client| {
        let statuses =
            |path: &str| -> Vec<u16> { (0..3).map(|_| client.get(path).status).collect() };
        assert_eq!(statuses("/merchant/order/10001"), vec![200, 502, 200]);
        assert_eq!(
            statuses("/merchant/refund-transaction?limit=1"),
            vec![200, 503, 503]
        );
        assert_eq!(statuses("/merchant/return?limit=1"), vec![500, 429, 429]);

        // An error in the simulator's shape, with a trace id, before auth.
        let unavailable = client.get_with("/merchant/refund-transaction?limit=1", None);
        assert_eq!(unavailable.status, 503);
        assert_eq!(unavailable.json()["code"], "SERVICE_UNAVAILABLE");
        assert!(unavailable.header("x-trace-id").is_some());

        let limited = client.get("/merchant/return?limit=1");
        assert_eq!(limited.header("retry-after"), Some("7"));

        let dated = client.get("/merchant/return/50001");
        assert_eq!(dated.status, 429);
        let value = dated.header("retry-after").expect("Retry-After");
        let format = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let when = PrimitiveDateTime::parse(value, &format)
            .expect("an IMF-fixdate")
            .assume_utc();
        let ahead = (when - OffsetDateTime::now_utc()).whole_seconds();
        assert!((100..=121).contains(&ahead), "{value}: {ahead} s ahead");

        let bare = client.get("/merchant/return/50001");
        assert_eq!(bare.status, 429);
        assert_eq!(bare.header("retry-after"), None);
        assert_eq!(client.get("/merchant/return/50001").status, 200);
    })
    .await;
    assert_eq!(simulator.requests_received(Route::GetOrder), 3);
    assert_eq!(simulator.requests_received(Route::ListRefunds), 4);
    assert_eq!(simulator.requests_received(Route::ListReturns), 4);
    assert_eq!(simulator.requests_received(Route::GetReturn), 3);
    simulator.shutdown().await;
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let simulator = start(loopback()).await.expect("simulator starts");
    let latency = FaultKind::Latency { ms: 150 };
    simulator.inject(fault(Route::GetOrder, CallMatch::Nth(1), latency));
    drive(&simulator, |client| {
        let started = Instant::now();
        let slow = client.get("/merchant/order/10001");
        let elapsed = started.elapsed();
        assert_eq!(slow.status, 200);
        assert_eq!(slow.json()["id"], 10_001);
        assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    })
    .await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn reset_before_read_answers_nothing_and_applies_nothing() {
    let simulator = start(loopback()).await.expect("simulator starts");
    simulator.inject(fault(
        Route::MarkRefund,
        CallMatch::Nth(1),
        FaultKind::ResetBeforeRead,
    ));
    simulator.inject(fault(
        Route::GetOrder,
        CallMatch::Every,
        FaultKind::ResetBeforeRead,
    ));
    let addr = simulator.addr();
    let refund_id = drive(&simulator, move |client| {
        let refund_id = pending_refund(&client);
        let path = mark_path(refund_id);
        let sent = client
            .agent
            .post(format!("{}{path}", client.base))
            .header("x-api-key", PRODUCTION_KEY)
            .header("content-type", "application/json")
            .send(r#"{"externalReference":"ERP-1"}"#);
        assert!(sent.is_err(), "a reset is a connection error: {sent:?}");
        let refund = client.get(&format!("/merchant/refund-transaction/{refund_id}"));
        assert_eq!(refund.json()["status"], "PENDING", "nothing applied");

        // On the wire: not one byte of an answer, and a reset rather than a close.
        let (received, error) = raw_exchange(addr, &raw_get("/merchant/order/10001"));
        assert!(
            received.is_empty(),
            "{}",
            String::from_utf8_lossy(&received)
        );
        let kind = error.map(|error| error.kind());
        assert_eq!(kind, Some(std::io::ErrorKind::ConnectionReset));

        // The second call is not hit.
        let marked = client.post(&path, r#"{"externalReference":"ERP-1"}"#);
        assert_eq!(marked.status, 200, "{}", marked.text());
        refund_id
    })
    .await;
    assert_eq!(simulator.requests_received(Route::MarkRefund), 2);
    assert_eq!(simulator.writes_applied(Route::MarkRefund, refund_id), 1);
    let requests = simulator.requests();
    let marks: Vec<u16> = requests
        .iter()
        .filter(|r| r.path.ends_with("/externally-refunded"))
        .map(|r| r.status)
        .collect();
    assert_eq!(marks, vec![0, 200], "a reset is recorded without a status");
    simulator.shutdown().await;
}

#[tokio::test]
async fn reset_after_apply_applies_the_write_exactly_once() {
    let simulator = start(loopback()).await.expect("simulator starts");
    simulator.inject(fault(
        Route::MarkRefund,
        CallMatch::Nth(1),
        FaultKind::ResetAfterApply,
    ));
    simulator.inject(fault(
        Route::ReportItems,
        CallMatch::Nth(1),
        FaultKind::ResetAfterApply,
    ));
    let (refund_id, return_id) = drive(&simulator, |client| {
        let refund_id = pending_refund(&client);
        let path = mark_path(refund_id);
        let post = |path: &str, body: &str| {
            client
                .agent
                .post(format!("{}{path}", client.base))
                .header("x-api-key", PRODUCTION_KEY)
                .header("content-type", "application/json")
                .send(body)
        };
        let lost = post(&path, r#"{"externalReference":"ERP-2"}"#);
        assert!(lost.is_err(), "no answer: {lost:?}");
        let refund = client
            .get(&format!("/merchant/refund-transaction/{refund_id}"))
            .json();
        assert_eq!(refund["status"], "EXTERNALLY_REFUNDED", "but applied");
        assert_eq!(refund["externalReference"], "ERP-2");
        // A blind retry is refused, not applied again.
        assert_eq!(client.post(&path, "").status, 409);

        let open = client
            .get("/merchant/return?status=AWAITING_RETURN&limit=1")
            .json();
        let return_id = open[0]["id"].as_u64().expect("id");
        let items: Vec<Value> = open[0]["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| json!({"returnItemId": item["id"], "quantity": 1, "approved": false}))
            .collect();
        let report = json!({ "items": items }).to_string();
        let report_path = format!("/merchant/return/{return_id}/returned-items");
        assert!(post(&report_path, &report).is_err());
        let after = client.get(&format!("/merchant/return/{return_id}")).json();
        assert_eq!(after["status"], "COMPLETED");
        assert_eq!(client.post(&report_path, &report).status, 409);
        (refund_id, return_id)
    })
    .await;
    assert_eq!(simulator.writes_applied(Route::MarkRefund, refund_id), 1);
    assert_eq!(simulator.writes_applied(Route::ReportItems, return_id), 1);
    assert_eq!(simulator.requests_received(Route::MarkRefund), 2);
    simulator.shutdown().await;
}

#[tokio::test]
async fn truncated_body_is_seen_as_incomplete() {
    let simulator = start(loopback()).await.expect("simulator starts");
    simulator.inject(fault(
        Route::GetRefund,
        CallMatch::Every,
        FaultKind::TruncatedBody,
    ));
    let addr = simulator.addr();
    drive(&simulator, move |client| {
        let response = client
            .agent
            .get(format!("{}/merchant/refund-transaction/90001", client.base))
            .header("x-api-key", PRODUCTION_KEY)
            .call();
        let mut response = response.expect("the head arrives");
        assert_eq!(response.status().as_u16(), 200);
        let read = response.body_mut().read_to_vec();
        assert!(read.is_err(), "an incomplete body is an error: {read:?}");

        let (received, _) = raw_exchange(addr, &raw_get("/merchant/refund-transaction/90001"));
        let text = String::from_utf8_lossy(&received).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        let declared: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .expect("Content-Length");
        assert!(!body.is_empty(), "part of the body is sent");
        assert!(body.len() < declared, "{} of {declared} bytes", body.len());
    })
    .await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn body_faults_break_or_change_a_successful_answer() {
    let simulator = start(loopback()).await.expect("simulator starts");
    let on = |call| CallMatch::Nth(call);
    simulator.inject(fault(Route::GetRefund, on(1), FaultKind::MalformedJson));
    let missing = FaultKind::MissingField {
        field: "amount".into(),
    };
    simulator.inject(fault(Route::GetRefund, on(2), missing.clone()));
    let number_status = FaultKind::SetField {
        field: "status".into(),
        value: json!(7),
    };
    simulator.inject(fault(Route::GetRefund, on(3), number_status));
    // An error answer is left as it is.
    simulator.inject(fault(Route::GetRefund, on(4), missing));
    let surprise = FaultKind::SetField {
        field: "surprise".into(),
        value: json!({"nested": true}),
    };
    simulator.inject(fault(Route::ListRefunds, on(1), surprise));
    // Malformed even when the API would have refused.
    simulator.inject(fault(Route::GetOrder, on(1), FaultKind::MalformedJson));

    drive(&simulator, |client| {
        let broken = client.get("/merchant/refund-transaction/90001");
        assert_eq!(broken.status, 200);
        assert_eq!(broken.header("content-type"), Some("application/json"));
        assert!(serde_json::from_slice::<Value>(&broken.body).is_err());
        assert!(broken.text().starts_with('{'), "{}", broken.text());

        let no_amount = client.get("/merchant/refund-transaction/90001");
        assert_eq!(no_amount.status, 200);
        let no_amount = no_amount.json();
        assert!(no_amount.get("amount").is_none(), "{no_amount}");
        assert_eq!(no_amount["id"], 90_001);
        assert!(no_amount["currencyCode"].is_string());

        let numbered = client.get("/merchant/refund-transaction/90001").json();
        assert_eq!(numbered["status"], 7);
        // Money keeps its exact decimals through the edit.
        assert!(numbered["amount"].to_string().contains('.'));

        let not_found = client.get("/merchant/refund-transaction/1");
        assert_eq!(not_found.status, 404);
        assert_eq!(not_found.message(), "refund transaction 1 not found");

        let listed = client.get("/merchant/refund-transaction?limit=3").json();
        let rows = listed.as_array().expect("a list");
        assert_eq!(rows.len(), 3);
        assert!(
            rows.iter()
                .all(|row| row["surprise"] == json!({"nested": true}))
        );

        let unauthorised = client.get_with("/merchant/order/10001", None);
        assert_eq!(unauthorised.status, 200);
        assert!(serde_json::from_slice::<Value>(&unauthorised.body).is_err());
    })
    .await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn oversized_body_is_over_the_hosts_cap() {
    let simulator = start(loopback()).await.expect("simulator starts");
    let oversized = FaultKind::OversizedBody {
        bytes: DEFAULT_OVERSIZED_BYTES,
    };
    simulator.inject(fault(Route::ListOrders, CallMatch::Nth(1), oversized));
    drive(&simulator, |client| {
        let mut response = client
            .agent
            .get(format!("{}/merchant/order", client.base))
            .header("x-api-key", PRODUCTION_KEY)
            .call()
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 200);
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        assert_eq!(declared, Some(6 * 1024 * 1024));
        let body = response
            .body_mut()
            .with_config()
            .limit(8 * 1024 * 1024)
            .read_to_vec()
            .expect("the whole body");
        assert_eq!(body.len(), 6 * 1024 * 1024);
        assert!(body.len() > 5 * 1024 * 1024, "over the host's 5 MiB cap");
        let value: Value = serde_json::from_slice(&body).expect("still JSON");
        assert!(value["padding"].is_string());
    })
    .await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn trickle_sends_the_head_then_a_byte_at_a_time() {
    const INTERVAL_MS: u64 = 3;
    let simulator = start(loopback()).await.expect("simulator starts");
    let trickle = FaultKind::Trickle {
        interval_ms: INTERVAL_MS,
    };
    simulator.inject(fault(Route::GetRefund, CallMatch::Nth(1), trickle));
    drive(&simulator, |client| {
        // A short answer (a 404) keeps the trickle short.
        let started = Instant::now();
        let mut response = client
            .agent
            .get(format!("{}/merchant/refund-transaction/1", client.base))
            .header("x-api-key", PRODUCTION_KEY)
            .call()
            .expect("the head");
        let head_after = started.elapsed();
        assert_eq!(response.status().as_u16(), 404);
        let body = response.body_mut().read_to_vec().expect("the whole body");
        let total = started.elapsed();
        let body: Value = serde_json::from_slice(&body).expect("JSON once complete");
        assert_eq!(body["message"], "refund transaction 1 not found");
        let floor = Duration::from_millis(INTERVAL_MS * body.to_string().len() as u64 / 2);
        assert!(
            total >= floor,
            "{total:?} for the body, expected at least {floor:?}"
        );
        assert!(head_after < total / 2, "head {head_after:?}, all {total:?}");
    })
    .await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn proxy_page_is_a_502_in_html_without_a_trace_id() {
    let simulator = start(loopback()).await.expect("simulator starts");
    simulator.inject(fault(
        Route::ListReturns,
        CallMatch::Nth(1),
        FaultKind::ProxyHtml,
    ));
    simulator.set_error_shape(ErrorShape::ProblemDetails);
    drive(&simulator, |client| {
        let page = client.get("/merchant/return");
        assert_eq!(page.status, 502);
        assert_eq!(page.header("content-type"), Some("text/html"));
        assert!(page.text().contains("<h1>502 Bad Gateway</h1>"));
        assert_eq!(page.header("x-trace-id"), None);
    })
    .await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn counters_count_requests_per_route_and_writes_per_resource() {
    let simulator = start(loopback()).await.expect("simulator starts");
    let (refund_id, return_id) = drive(&simulator, |client| {
        client.get("/merchant/order?limit=1");
        client.get("/merchant/order/10001");
        client.get_with("/merchant/order/10001", None);
        client.get("/merchant/return/50001");
        client.get("/merchant/nothing-here");
        client.post("/_sim/failures", r#"{"status":500,"count":0}"#);

        let refund_id = pending_refund(&client);
        assert_eq!(client.post(&mark_path(refund_id), "").status, 200);
        assert_eq!(client.post(&mark_path(refund_id), "").status, 409);
        let open = client
            .get("/merchant/return?status=IN_TRANSIT&limit=1")
            .json();
        let return_id = open[0]["id"].as_u64().expect("id");
        let refused = client.post(
            &format!("/merchant/return/{return_id}/returned-items"),
            r#"{"items":[]}"#,
        );
        assert_eq!(refused.status, 422);
        (refund_id, return_id)
    })
    .await;
    let counters = simulator.counters();
    let requests: Vec<(Route, u64)> = counters.requests.clone().into_iter().collect();
    assert_eq!(
        requests,
        vec![
            (Route::ListOrders, 1),
            (Route::GetOrder, 2),
            (Route::ListReturns, 1),
            (Route::GetReturn, 1),
            (Route::ReportItems, 1),
            (Route::ListRefunds, 1),
            (Route::MarkRefund, 2),
        ]
    );
    let writes: Vec<((Route, u64), u32)> = counters.writes.into_iter().collect();
    assert_eq!(writes, vec![((Route::MarkRefund, refund_id), 1)]);
    assert_eq!(simulator.writes_applied(Route::ReportItems, return_id), 0);
    assert_eq!(simulator.requests_received(Route::GetRefund), 0);
    simulator.shutdown().await;
}

// ---------- error shapes ----------

/// A report of every item of `ret` with the first quantity one too many and the second item
/// replaced by an unknown one.
fn bad_report(ret: &Value) -> String {
    let items: Vec<Value> = ret["items"]
        .as_array()
        .expect("items")
        .iter()
        .enumerate()
        .map(|(index, item)| match index {
            0 => json!({
                "returnItemId": item["id"],
                "quantity": item["quantity"].as_u64().expect("quantity") + 1,
                "approved": true,
            }),
            1 => json!({"returnItemId": 424_242, "quantity": 1, "approved": true}),
            _ => json!({"returnItemId": item["id"], "quantity": 1, "approved": true}),
        })
        .collect();
    json!({ "items": items }).to_string()
}

fn assert_problem(reply: &Reply, status: u16, path: &str) -> Value {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let body = reply.json();
    let trace_id = reply.header("x-trace-id").expect("trace id in the header");
    assert_eq!(body["trace_id"], trace_id, "and in the body");
    assert_eq!(body["status"], status);
    assert_eq!(body["instance"], path);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/"))
    );
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body.get("message").is_none(), "{body}");
    body
}

#[tokio::test]
async fn errors_answer_in_either_shape() {
    let simulator = start(loopback()).await.expect("simulator starts");
    let seconds = FaultKind::TooManyRequests {
        retry_after: Some(RetryAfter::Seconds(3)),
    };
    simulator.inject(fault(Route::ListOrders, CallMatch::Nth(2), seconds));
    let (ret, path) = drive(&simulator, |client| {
        let open = client
            .get("/merchant/return?status=AWAITING_RETURN&limit=1")
            .json();
        let ret = open[0].clone();
        let path = format!("/merchant/return/{}/returned-items", ret["id"]);

        // The default shape: {"message","code"} as JSON, nothing more.
        let not_found = client.get("/merchant/return/123");
        assert_eq!(not_found.status, 404);
        assert_eq!(not_found.header("content-type"), Some("application/json"));
        assert_eq!(
            not_found.json(),
            json!({"message": "return 123 not found", "code": "NOT_FOUND"})
        );
        let refused = client.post(&path, &bad_report(&ret));
        assert_eq!(refused.status, 422);
        let body = refused.json();
        assert_eq!(body["code"], "UNPROCESSABLE_ENTITY");
        let first_id = &ret["items"][0]["id"];
        let message = body["message"].as_str().expect("message");
        assert!(
            message.starts_with("quantity") && message.contains(&first_id.to_string()),
            "{message}"
        );
        assert!(body.get("errors").is_none());
        (ret, path)
    })
    .await;

    simulator.set_error_shape(ErrorShape::ProblemDetails);
    drive(&simulator, move |client| {
        let not_found = client.get("/merchant/return/123");
        let body = assert_problem(&not_found, 404, "/merchant/return/123");
        assert_eq!(body["detail"], "return 123 not found");
        assert_eq!(body["title"], "Not Found");
        assert_eq!(body["type"], "/problems/not-found");
        assert!(body.get("errors").is_none());

        let refused = client.post(&path, &bad_report(&ret));
        let body = assert_problem(&refused, 422, &path);
        let errors = body["errors"].as_array().expect("errors[]");
        let params: Vec<&str> = errors
            .iter()
            .map(|error| error["param"].as_str().expect("param"))
            .collect();
        assert_eq!(
            params,
            vec!["items[0].quantity", "items[1].returnItemId", "items"]
        );
        let codes: Vec<&str> = errors
            .iter()
            .map(|error| error["code"].as_str().expect("code"))
            .collect();
        assert_eq!(
            codes,
            vec!["QUANTITY_TOO_HIGH", "UNKNOWN_ITEM", "MISSING_ITEMS"]
        );
        assert!(
            errors[1]["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("424242"))
        );
        assert_eq!(body["detail"], errors[0]["detail"]);

        let long = "x".repeat(201);
        let too_long = client.post(
            "/merchant/refund-transaction/90001/externally-refunded",
            &json!({ "externalReference": long }).to_string(),
        );
        let body = assert_problem(
            &too_long,
            422,
            "/merchant/refund-transaction/90001/externally-refunded",
        );
        assert_eq!(body["errors"][0]["param"], "externalReference");

        let unauthorised = client.get_with("/merchant/order", Some(STAGE_KEY));
        let body = assert_problem(&unauthorised, 401, "/merchant/order");
        assert_eq!(body["type"], "/problems/unauthorized");

        // A fault's error takes the shape too, and keeps its headers.
        let limited = client.get("/merchant/order");
        let body = assert_problem(&limited, 429, "/merchant/order");
        assert_eq!(limited.header("retry-after"), Some("3"));
        assert_eq!(body["title"], "Too Many Requests");

        // Successes are untouched.
        let ok = client.get("/merchant/return/50001");
        assert_eq!(ok.header("content-type"), Some("application/json"));
    })
    .await;
    simulator.shutdown().await;
}

//! Adversarial fixtures: components built to attack the host (host-test/fixtures/), one test
//! per attack. Each proves the attack is contained (a limit, a denial, a refused load) and that
//! the simulator received no write the person did not approve.
//!
//! The fixtures are a cargo workspace of their own, built once per test run for
//! `wasm32-wasip2` into `<target>/fixtures-build` and compiled by wasmtime once (cached there).
//! Every packet goes to loopback: the simulator, or an echo server started here. URLs of other
//! hosts appear only in requests the host must refuse before connecting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use host_test::bindings::types::PlannedWrite;
use host_test::dev::simulator::RecordedRequest;
use host_test::keys::{FixedKey, Secret};
use host_test::policy::confirm::{Answer, ConfirmationRequest, Confirmer, NoHuman};
use host_test::policy::gate::{ApprovalError, ApprovalLedger, Binding};
use host_test::policy::schema::SchemaError;
use host_test::runtime::{CallFailure, CallReport, Limits, LoadError, Runtime};
use host_test::session::{Session, SessionError, Target, ToolCall};
use sha2::{Digest, Sha256};

use crate::support::{SHORT_DEADLINE, fixtures, runtime, short_runtime, start_echo_server};
/// The refund the rogue's write tools try to change (PENDING in the simulator's seed), and
/// the body it proposes.
const REFUND_PATH: &str = "/merchant/refund-transaction/90031/externally-refunded";
const BODY_A: &[u8] = br#"{"externalReference":"approved-A"}"#;
const CANARY: &str = "canary-5e1d7a93-adversarial-key";

async fn start(
    runtime: Arc<Runtime>,
    wasm: &[u8],
    target: Target,
) -> Result<Session, SessionError> {
    Session::builder(wasm)
        .runtime(runtime)
        .target(target)
        .cache(Some(&fixtures().cache))
        .start()
        .await
}

/// The rogue, wired to a fresh embedded simulator.
async fn rogue(runtime: Arc<Runtime>) -> Session {
    let fixtures = fixtures();
    start(runtime, &fixtures.rogue, Target::EmbeddedSimulator)
        .await
        .unwrap_or_else(|e| panic!("loading the rogue: {e}"))
}

async fn call(
    session: &Session,
    tool: &str,
    confirmer: &dyn Confirmer,
) -> Result<(ToolCall, CallReport), CallFailure> {
    session.call(tool, "{}", confirmer).await
}

/// The lines of a tool's result: one per request the rogue attempted.
async fn lines(session: &Session, tool: &str, confirmer: &dyn Confirmer) -> Vec<String> {
    match call(session, tool, confirmer).await {
        Ok((ToolCall::Result(result), _)) => result.text.lines().map(str::to_string).collect(),
        other => panic!("{tool}: {other:?}"),
    }
}

fn received(session: &Session) -> Vec<RecordedRequest> {
    session
        .simulator()
        .unwrap_or_else(|| panic!("embedded simulator"))
        .requests()
}

fn writes_received(session: &Session) -> Vec<RecordedRequest> {
    received(session)
        .into_iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD")
        .collect()
}

/// The healthy call after an attack: one GET to the simulator, answered 200.
async fn assert_next_call_works(session: &Session) {
    let before = received(session).len();
    let lines = lines(session, "ping", &NoHuman).await;
    assert!(lines[0].starts_with("status 200"), "{lines:?}");
    assert_eq!(received(session).len(), before + 1);
}

/// No request of the call got a response: the host refused them all before connecting.
fn assert_nothing_sent(report: &CallReport) {
    assert!(
        report.requests.iter().all(|r| r.status.is_none()),
        "{:?}",
        report.requests
    );
}

fn assert_all_denied(lines: &[String], count: usize) {
    assert_eq!(lines.len(), count, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("denied: ")), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_by_the_deadline_or_fuel_and_the_next_call_works() {
    let session = rogue(short_runtime()).await;
    let started = Instant::now();
    let outcome = call(&session, "spin", &NoHuman).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(
            outcome,
            Err(CallFailure::DeadlineExceeded(_) | CallFailure::OutOfFuel(_))
        ),
        "{outcome:?}"
    );
    assert!(
        elapsed < SHORT_DEADLINE + Duration::from_secs(1),
        "{elapsed:?}"
    );
    assert_next_call_works(&session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_finds_what_an_earlier_call_left_in_its_reused_memory() {
    // The pool hands a finished call's memory to the next call, reset in place (C2): the data
    // segment to the component's image, everything else to zero.
    let session = rogue(short_runtime()).await;
    for round in 0..4 {
        let lines = lines(&session, "residue", &NoHuman).await;
        assert_eq!(
            lines,
            ["data word 7; zeroed memory clean; heap clean"],
            "call {round}"
        );
    }
    let (first, second) = tokio::join!(
        lines(&session, "residue", &NoHuman),
        lines(&session, "residue", &NoHuman)
    );
    assert_eq!(first, second);
    assert_eq!(first, ["data word 7; zeroed memory clean; heap clean"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_past_the_concurrency_limit_wait_within_their_deadline_then_are_refused_unrun() {
    const DEADLINE: Duration = Duration::from_millis(600);
    let runtime = Runtime::new(Limits {
        deadline: DEADLINE,
        max_concurrent_calls: 2,
        ..Limits::default()
    })
    .unwrap_or_else(|e| panic!("runtime: {e}"));
    let session = rogue(runtime.clone()).await;
    // Two calls at once both run (the pool holds two instances): each spins to its deadline.
    let (first, second) = tokio::join!(
        call(&session, "spin", &NoHuman),
        call(&session, "spin", &NoHuman)
    );
    for outcome in [first, second] {
        assert!(
            matches!(
                outcome,
                Err(CallFailure::DeadlineExceeded(_) | CallFailure::OutOfFuel(_))
            ),
            "{outcome:?}"
        );
    }
    // With every place taken, a call waits out its deadline and runs nothing.
    let before = received(&session).len();
    let held = runtime.occupy_every_call_place().await;
    assert!(held.is_some());
    let started = Instant::now();
    let outcome = call(&session, "ping", &NoHuman).await;
    let waited = started.elapsed();
    match &outcome {
        Err(failure @ CallFailure::Busy(2)) => {
            assert!(failure.to_string().contains("nothing was run"), "{failure}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        waited >= DEADLINE && waited < DEADLINE + Duration::from_millis(400),
        "{waited:?}"
    );
    assert_eq!(
        received(&session).len(),
        before,
        "nothing reached the service"
    );
    drop(held);
    assert_next_call_works(&session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_blocked_in_a_host_call_is_stopped_at_the_deadline_and_the_next_call_works() {
    let session = rogue(short_runtime()).await;
    let started = Instant::now();
    let outcome = call(&session, "sleep", &NoHuman).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(outcome, Err(CallFailure::DeadlineExceeded(d)) if d == SHORT_DEADLINE),
        "{outcome:?}"
    );
    assert!(
        elapsed >= SHORT_DEADLINE && elapsed < SHORT_DEADLINE + Duration::from_secs(1),
        "stopped near the deadline, not after the guest's minute: {elapsed:?}"
    );
    assert_next_call_works(&session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_the_memory_limit_and_the_next_call_works() {
    let session = rogue(runtime()).await;
    let outcome = call(&session, "memory_bomb", &NoHuman).await;
    let limit_mib = Limits::default().memory_bytes >> 20;
    assert!(
        matches!(outcome, Err(CallFailure::MemoryLimit(mib)) if mib == limit_mib),
        "{outcome:?}"
    );
    assert_next_call_works(&session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_output_is_refused_as_too_large() {
    let session = rogue(runtime()).await;
    let outcome = call(&session, "huge_output", &NoHuman).await;
    let limit = Limits::default().max_output_bytes;
    assert!(
        matches!(outcome, Err(CallFailure::OutputTooLarge(bytes)) if bytes == limit),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_a_host_outside_the_grant_is_denied_before_connecting() {
    let session = rogue(runtime()).await;
    let (outcome, report) = call(&session, "foreign_host", &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ToolCall::Result(result) = outcome else {
        panic!("{outcome:?}");
    };
    let lines: Vec<String> = result.text.lines().map(str::to_string).collect();
    assert_all_denied(&lines, 1);
    assert!(lines[0].contains("https://example.com"), "{lines:?}");
    assert_nothing_sent(&report);
    assert!(received(&session).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_keeps_trying_refused_requests_is_stopped() {
    let session = rogue(runtime()).await;
    match call(&session, "hammer", &NoHuman).await {
        Err(CallFailure::Trap(message)) => {
            assert!(message.contains("more than 128 requests"), "{message}")
        }
        other => panic!("expected the host to stop the guest: {other:?}"),
    }
    assert!(
        received(&session).is_empty(),
        "nothing reached the simulator"
    );
    let (after, _) = call(&session, "ping", &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("the next call: {e}"));
    assert!(matches!(after, ToolCall::Result(_)), "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_literals_and_the_metadata_address_are_denied_without_a_packet() {
    let session = rogue(runtime()).await;
    let (outcome, report) = call(&session, "ip_literal", &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ToolCall::Result(result) = outcome else {
        panic!("{outcome:?}");
    };
    let lines: Vec<String> = result.text.lines().map(str::to_string).collect();
    assert_all_denied(&lines, 3);
    assert!(lines[1].contains("169.254.169.254"), "{lines:?}");
    assert_nothing_sent(&report);
    assert!(received(&session).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_sets_the_api_key_or_authorization_header_is_denied() {
    let session = rogue(runtime()).await;
    let lines = lines(&session, "forge_key", &NoHuman).await;
    assert_all_denied(&lines, 2);
    assert!(lines[0].contains("x-api-key"), "{lines:?}");
    assert!(
        received(&session).is_empty(),
        "nothing reached the simulator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_echoed_back_is_redacted_from_tool_output_and_logs() {
    let (echo_url, seen) = start_echo_server("x-api-key").await;
    let session = Session::builder(&fixtures().rogue)
        .runtime(runtime())
        .target(Target::Development(echo_url))
        .cache(Some(&fixtures().cache))
        .keys(Arc::new(FixedKey(Secret::new(CANARY))))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (outcome, report) = call(&session, "echo", &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The attack was real: the host injected the key and the server reflected it.
    assert_eq!(
        *seen.lock().unwrap_or_else(|p| p.into_inner()),
        vec![CANARY.to_string()]
    );
    let ToolCall::Result(result) = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(result.text.starts_with("status 200"), "{}", result.text);
    assert!(
        result.text.contains("x-api-key=[REDACTED]")
            && result.text.contains("x-echoed-key: [REDACTED]"),
        "{}",
        result.text
    );
    assert!(!report.logs.is_empty(), "the rogue logged what it got");
    let everything = format!("{outcome:?} {report:?}");
    assert!(!everything.contains(CANARY), "the key leaked: {everything}");
    // Nor in any encoding the server echoed it in.
    for form in host_test::keys::encoded_forms(CANARY.as_bytes()) {
        let form = String::from_utf8_lossy(&form).into_owned();
        assert!(
            !everything.contains(&form),
            "the key leaked as {form}: {everything}"
        );
    }
    assert!(
        result.text.contains("b64=") && result.text.contains("hex=[REDACTED]"),
        "{}",
        result.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_tool_that_posts_is_denied_and_nothing_is_written() {
    let session = rogue(runtime()).await;
    let lines = lines(&session, "read_tool_writes", &NoHuman).await;
    assert_all_denied(&lines, 1);
    assert!(received(&session).is_empty(), "{:?}", received(&session));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_tool_posting_without_approval_gets_confirmation_required_and_nothing_is_sent() {
    let session = rogue(runtime()).await;
    let asked = AtomicUsize::new(0);
    // Even a person who would approve anything is never asked: there was no proposal.
    let willing = |_req: &ConfirmationRequest| {
        asked.fetch_add(1, Ordering::SeqCst);
        Answer::Approved
    };
    let lines = lines(&session, "write_without_approval", &willing).await;
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("confirmation-required: "), "{lines:?}");
    assert_eq!(asked.load(Ordering::SeqCst), 0);
    assert!(received(&session).is_empty(), "{:?}", received(&session));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_call_that_sends_another_write_than_proposed_is_denied_and_nothing_is_written()
{
    let session = rogue(runtime()).await;
    let shown = Mutex::new(Vec::new());
    let approve = |req: &ConfirmationRequest| {
        shown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(req.clone());
        Answer::Approved
    };
    let (outcome, report) = call(&session, "bait_and_switch", &approve)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The person saw (and approved) body A.
    let shown = shown.into_inner().unwrap_or_else(|p| p.into_inner());
    assert_eq!(shown.len(), 1);
    assert!(
        shown[0].writes[0].body.contains("approved-A"),
        "{:?}",
        shown[0]
    );
    let ToolCall::Result(result) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(result.text.starts_with("denied: "), "{}", result.text);
    assert!(
        result
            .text
            .contains("none of the approved changes was sent"),
        "{}",
        result.text
    );
    assert_eq!((report.writes_sent, report.writes_unsent), (0, 1));
    assert!(writes_received(&session).is_empty(), "B never arrived");
    assert!(received(&session).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_is_single_use_within_a_call_and_across_calls() {
    let session = rogue(runtime()).await;
    let approve = |_req: &ConfirmationRequest| Answer::Approved;
    // Within a call: the approved write passes once; sending it again is denied.
    let within = lines(&session, "replay", &approve).await;
    assert_eq!(within.len(), 2, "{within:?}");
    assert!(
        within[0].starts_with("status 200"),
        "applied once: {within:?}"
    );
    assert!(within[1].starts_with("denied: "), "{within:?}");
    let writes = writes_received(&session);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(
        (
            writes[0].method.as_str(),
            writes[0].path.as_str(),
            &writes[0].body[..]
        ),
        ("POST", REFUND_PATH, BODY_A)
    );

    // Across calls: the same bytes, sent again by the tool in a later call, need a new
    // approval.
    let across = lines(&session, "write_without_approval", &approve).await;
    assert!(
        across[0].starts_with("confirmation-required: "),
        "{across:?}"
    );
    assert_eq!(writes_received(&session).len(), 1, "still one write");

    // At the ledger: an approval is redeemed once, and only for what it was minted for.
    let ledger = ApprovalLedger::default();
    let binding = Binding {
        plugin_digest: session.plugin().digest().to_string(),
        tool: "replay".into(),
        arguments_digest: "0".repeat(64),
    };
    let write = PlannedWrite {
        method: host_test::bindings::types::Method::Post,
        url: format!("{}{REFUND_PATH}", session.base_url()),
        credential: Some("ingrid-api-key".into()),
        body: BODY_A.to_vec(),
    };
    let approval = ledger.mint(
        binding.clone(),
        host_test::bindings::types::Proposal {
            summary: "replay".into(),
            details: String::new(),
            writes: vec![write],
        },
    );
    assert!(ledger.redeem(&approval.id, &binding).is_ok());
    assert_eq!(
        ledger.redeem(&approval.id, &binding).err(),
        Some(ApprovalError::UnknownOrUsed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_list_that_disagrees_with_the_manifest_is_refused_at_load() {
    let loaded = start(runtime(), &fixtures().mismatch, Target::EmbeddedSimulator).await;
    match loaded {
        Err(SessionError::Load(LoadError::ManifestMismatch(message))) => {
            assert!(message.contains("hidden_write"), "{message}")
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a plugin whose tools disagree with its manifest loaded"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_importing_wasi_http_or_sockets_is_refused_at_load_with_the_import_name() {
    // The fixture really imports both.
    let wasm = &fixtures().net_importer;
    let digest = hex::encode(Sha256::digest(wasm));
    let component = fixtures()
        .cache
        .load_or_compile(runtime().engine(), wasm, &digest)
        .unwrap_or_else(|e| panic!("{e}"));
    let imports: Vec<String> = component
        .component_type()
        .imports(runtime().engine())
        .map(|(name, _)| name.to_string())
        .collect();
    for wanted in [
        "wasi:http/outgoing-handler@",
        "wasi:sockets/tcp-create-socket@",
    ] {
        assert!(
            imports.iter().any(|name| name.starts_with(wanted)),
            "{imports:?}"
        );
    }
    let loaded = start(
        runtime(),
        &fixtures().net_importer,
        Target::EmbeddedSimulator,
    )
    .await;
    match loaded {
        Err(SessionError::Load(error @ LoadError::ForbiddenImport(_))) => {
            let LoadError::ForbiddenImport(name) = &error else {
                unreachable!()
            };
            assert!(
                name.starts_with("wasi:http/") || name.starts_with("wasi:sockets/"),
                "{name}"
            );
            assert!(error.to_string().contains(name.as_str()), "{error}");
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a component importing the network loaded"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_with_an_external_ref_is_refused_at_load_and_not_fetched() {
    // The host's validator is built without an HTTP or file retriever (jsonschema without
    // default features), so resolving the reference fails without any request.
    let loaded = start(
        runtime(),
        &fixtures().external_ref,
        Target::EmbeddedSimulator,
    )
    .await;
    match loaded {
        Err(SessionError::Load(LoadError::BadSchema(SchemaError { tool, reason }))) => {
            assert_eq!(tool, "remote_schema");
            assert!(
                reason.contains("https://example.com/schema.json"),
                "{reason}"
            );
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a schema with an external $ref loaded"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_traps_and_the_next_call_on_the_same_session_works() {
    let session = rogue(runtime()).await;
    let outcome = call(&session, "panic", &NoHuman).await;
    assert!(matches!(outcome, Err(CallFailure::Trap(_))), "{outcome:?}");
    assert_next_call_works(&session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_pass_for_reads_are_refused_unsent_and_recorded_at_bounded_size() {
    let path = std::env::temp_dir().join(format!("dema-smuggle-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let audit = host_test::policy::audit::AuditLog::open(&path, false)
        .unwrap_or_else(|e| panic!("audit: {e}"));
    let session = Session::builder(&fixtures().rogue)
        .runtime(runtime())
        .cache(Some(&fixtures().cache))
        .audit(audit)
        .start()
        .await
        .unwrap_or_else(|e| panic!("loading the rogue: {e}"));
    let (outcome, report) = call(&session, "smuggle", &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ToolCall::Result(result) = &outcome else {
        panic!("{outcome:?}");
    };
    let lines: Vec<&str> = result.text.lines().collect();
    // A body on GET, a method override, a cookie, a forwarding header, 40 headers, 64 KiB of
    // header, a 1 MiB URL: each denied before a packet.
    assert_eq!(lines.len(), 7, "{lines:?}");
    for (line, expected) in lines.iter().zip([
        "may not carry a body",
        "X-HTTP-Method-Override",
        "Cookie",
        "X-Forwarded-For",
        "40 headers",
        "headers have",
        "URL has",
    ]) {
        assert!(
            line.starts_with("denied: ") && line.contains(expected),
            "{line}"
        );
    }
    assert!(received(&session).is_empty(), "{:?}", received(&session));
    assert_nothing_sent(&report);
    for record in &report.requests {
        assert!(
            record.path.len() <= 520,
            "a record keeps {} bytes of path",
            record.path.len()
        );
    }
    let audit_text = std::fs::read_to_string(&path).unwrap_or_default();
    let longest = audit_text.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 16 << 10, "an audit line of {longest} bytes");
    session.shutdown().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_outside_the_granted_scope_are_denied_however_they_are_spelled() {
    let session = rogue(runtime()).await;
    let lines = lines(&session, "path_escape", &NoHuman).await;
    // `/merchant%2f..%2fadmin` is one segment that does not start with `/merchant/`.
    assert_all_denied(&lines, 4);
    assert!(received(&session).is_empty(), "{:?}", received(&session));
    assert_next_call_works(&session).await;
}

/// A loopback server that takes `delay` to answer any request (a write in flight at the
/// deadline).
async fn start_slow_server(delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("slow server: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("slow server: {e}"));
    let app = axum::Router::new().fallback(move || async move {
        tokio::time::sleep(delay).await;
        "{}"
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_stopped_after_an_approved_write_reports_what_reached_the_service() {
    let approve = |_req: &ConfirmationRequest| Answer::Approved;
    // Sent and answered, then the plugin spins until the deadline.
    let session = rogue(short_runtime()).await;
    let started = Instant::now();
    let (outcome, _) = call(&session, "write_then_spin", &approve)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        started.elapsed() < SHORT_DEADLINE.mul_f64(2.2),
        "two runs, each bounded"
    );
    let ToolCall::PluginError(told) = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        (told.contains("deadline") || told.contains("compute budget"))
            && told.contains(&format!("POST 127.0.0.1{REFUND_PATH} (answered 200)")),
        "{told}"
    );
    assert_eq!(writes_received(&session).len(), 1);

    // In flight when the deadline hits: cut there (outcome unknown), told as possibly
    // applied, and audited.
    let path = std::env::temp_dir().join(format!("dema-inflight-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let audit = host_test::policy::audit::AuditLog::open(&path, false)
        .unwrap_or_else(|e| panic!("audit: {e}"));
    let slow = start_slow_server(Duration::from_secs(10)).await;
    let session = Session::builder(&fixtures().rogue)
        .runtime(short_runtime())
        .target(Target::Development(slow))
        .cache(Some(&fixtures().cache))
        .audit(audit)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (outcome, report) = call(&session, "write_then_spin", &approve)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ToolCall::PluginError(told) = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(told.contains("it may have been applied"), "{told}");
    assert!(
        report
            .requests
            .iter()
            .any(|r| r.method == "POST" && r.error == Some("outcome-unknown")),
        "{:?}",
        report.requests
    );
    let audited = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        audited.contains("\"error\":\"outcome-unknown\""),
        "{audited}"
    );
    let _ = std::fs::remove_file(&path);
}

/// A loopback server whose first connection answers a head and then trickles one body byte
/// every 200 ms forever; later connections answer `200 []` at once. `closed` is set when the
/// trickled connection is closed by the client.
async fn start_trickle_server() -> (String, Arc<std::sync::atomic::AtomicBool>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("trickle server: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("trickle server: {e}"));
    let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = closed.clone();
    tokio::spawn(async move {
        let mut connections = 0;
        while let Ok((mut tcp, _)) = listener.accept().await {
            let trickle = connections == 0;
            connections += 1;
            let flag = flag.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                loop {
                    while !head.ends_with(b"\r\n\r\n") {
                        match tcp.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    head.clear();
                    if !trickle {
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]";
                        if tcp.write_all(answer).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n[";
                    if tcp.write_all(answer).await.is_err() {
                        return;
                    }
                    loop {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        if tcp.write_all(b" ").await.is_err() {
                            flag.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_response_is_cut_at_the_call_deadline_and_the_next_call_works() {
    const DEADLINE: Duration = Duration::from_secs(2);
    let (url, closed) = start_trickle_server().await;
    let runtime = Runtime::new(Limits {
        deadline: DEADLINE,
        ..Limits::default()
    })
    .unwrap_or_else(|e| panic!("runtime: {e}"));
    let path = std::env::temp_dir().join(format!("dema-trickle-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let audit = host_test::policy::audit::AuditLog::open(&path, false)
        .unwrap_or_else(|e| panic!("audit: {e}"));
    let session = Session::builder(&fixtures().rogue)
        .runtime(runtime)
        .target(Target::Development(url))
        .cache(Some(&fixtures().cache))
        .audit(audit)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let outcome = call(&session, "ping", &NoHuman).await;
    let elapsed = started.elapsed();
    eprintln!(
        "trickled call ended after {elapsed:?}: {}",
        match &outcome {
            Ok((ToolCall::Result(result), _)) => result.text.lines().next().unwrap_or_default(),
            _ => "the call's deadline",
        }
    );
    assert!(elapsed < Duration::from_millis(2200), "{elapsed:?}");
    // The request is cut at the call's deadline with its outcome unknown (C3), and recorded so;
    // the guest, resuming at the deadline, is stopped there (or, had it time, tells so).
    let audited = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    assert!(
        audited.contains("\"error\":\"outcome-unknown\""),
        "{audited}"
    );
    match &outcome {
        Ok((ToolCall::Result(result), report)) => {
            assert!(
                result.text.starts_with("outcome-unknown: "),
                "{}",
                result.text
            );
            assert_eq!(report.requests[0].error, Some("outcome-unknown"));
        }
        Err(CallFailure::DeadlineExceeded(d)) => assert_eq!(*d, DEADLINE),
        other => panic!("{other:?}"),
    }
    // The trickled connection was dropped, not left to run until its own timeout.
    let waited = Instant::now();
    while !closed.load(Ordering::SeqCst) && waited.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        closed.load(Ordering::SeqCst),
        "the connection is still open"
    );
    let next = lines(&session, "ping", &NoHuman).await;
    assert!(next[0].starts_with("status 200"), "{next:?}");
}

//! `make bench`: the sandbox's cost against the same work done natively, in one run, as ratios
//! (issue 11). Our own harness (`harness = false`): warm-up, then the median of timed rounds;
//! `std::time::Instant` only, so no benchmark crate is built by every test run.
//!
//! - a. one tool call with no network: the component in the host, answering recorded bytes in
//!   process ([`host_test::outbound::Responder`]), against `ingrid_plugin::connector::call_tool`
//!   compiled natively on a `Transport` answering the same bytes; with a breakdown;
//! - b. one loopback GET: the host's HTTP path against a plain hyper client with keep-alive;
//! - c. a tool call to the simulator over loopback, both sides doing the identical requests;
//! - d. start-up: compiling, loading from the compile cache, `dema-host call` from process start;
//! - e. paging through 10,000 returns in calls of `maxItems` 1000, and the guest's peak memory;
//! - f. calls per second on one engine from 1 and 2 threads.
//!
//! Numbers from a shared machine are noisy: the ratios within one run are what count
//! (BENCHMARKS.md). `DEMA_BENCH_QUICK=1` runs fewer rounds.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use host_test::EMBEDDED_PLUGIN;
use host_test::bindings::http::{HttpError, Request as HostRequest, Response};
use host_test::bindings::types::{Header, Method as HostMethod};
use host_test::cache::CompileCache;
use host_test::dev::simulator::{self, Seed, SimulatorHandle};
use host_test::keys::CallKeys;
use host_test::outbound::{HttpLimits, Outbound, OutboundConfig, Responder};
use host_test::policy::audit::AuditLog;
use host_test::policy::confirm::NoHuman;
use host_test::policy::gate::WriteGate;
use host_test::policy::request::RequestRules;
use host_test::policy::schema;
use host_test::runtime::{Limits, Runtime};
use host_test::session::{Session, Target, ToolCall};
use ingrid_plugin::api::{CallContext, ToolOutcome};
use ingrid_plugin::transport::{HttpRequest, HttpResponse, LogLevel, Transport};

type Answers = HashMap<String, (u16, Vec<(String, String)>, Vec<u8>)>;

const BULK_RETURNS: usize = 10_000;

fn quick() -> bool {
    std::env::var_os("DEMA_BENCH_QUICK").is_some()
}

fn rounds(normal: usize) -> usize {
    if quick() { (normal / 5).max(3) } else { normal }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        return "-".into();
    }
    format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64())
}

/// `warmup` untimed rounds, then the median of `rounds` timed ones.
async fn measure_async<F, Fut>(warmup: usize, rounds: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..warmup {
        f().await;
    }
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed());
    }
    median(samples)
}

fn measure<F: FnMut()>(warmup: usize, rounds: usize, mut f: F) -> Duration {
    for _ in 0..warmup {
        f();
    }
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        f();
        samples.push(started.elapsed());
    }
    median(samples)
}

/// Path and query of a URL as the url crate writes it: the key of a recorded answer.
fn answer_key(url: &url::Url) -> String {
    url[url::Position::BeforePath..].to_string()
}

// ---------- native side ----------

/// Answers recorded bytes, by path and query.
struct RecordedTransport {
    answers: Arc<Answers>,
    started: Instant,
}

impl Transport for RecordedTransport {
    fn send(
        &self,
        request: &HttpRequest,
    ) -> Result<HttpResponse, ingrid_plugin::transport::HttpError> {
        let key = url::Url::parse(&request.url)
            .map(|url| answer_key(&url))
            .unwrap_or_default();
        match self.answers.get(&key) {
            Some((status, headers, body)) => Ok(HttpResponse {
                status: *status,
                headers: headers.clone(),
                body: body.clone(),
            }),
            None => Err(ingrid_plugin::transport::HttpError::NotSent(key)),
        }
    }
    fn log(&self, _: LogLevel, _: &str) {}
    fn monotonic_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
    fn sleep_ms(&self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }
    fn wall_clock_unix_secs(&self) -> u64 {
        1_795_000_000
    }
}

/// A plain native client: one keep-alive hyper connection to the simulator, driven from a
/// blocking thread; records every answer when asked to.
struct NetTransport {
    sender: std::sync::Mutex<SendRequest<Empty<Bytes>>>,
    handle: tokio::runtime::Handle,
    authority: String,
    record: Option<std::sync::Mutex<Answers>>,
    started: Instant,
}

async fn native_connection(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let _ = tcp.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap_or_else(|e| panic!("handshake: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

/// One GET on a kept-alive connection: status, headers, body.
async fn native_get(
    sender: &mut SendRequest<Empty<Bytes>>,
    authority: &str,
    path_and_query: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let request = hyper::Request::get(path_and_query)
        .header("host", authority)
        .header("accept", "application/json")
        .header("x-api-key", simulator::PRODUCTION_KEY)
        .body(Empty::new())
        .unwrap_or_else(|e| panic!("request: {e}"));
    sender
        .ready()
        .await
        .unwrap_or_else(|e| panic!("ready: {e}"));
    let response = sender
        .send_request(request)
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .unwrap_or_else(|e| panic!("body: {e}"))
        .to_bytes()
        .to_vec();
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    (parts.status.as_u16(), headers, body)
}

impl Transport for NetTransport {
    fn send(
        &self,
        request: &HttpRequest,
    ) -> Result<HttpResponse, ingrid_plugin::transport::HttpError> {
        // The plugin only reads here: the benchmark never approves a write.
        let url = url::Url::parse(&request.url)
            .map_err(|e| ingrid_plugin::transport::HttpError::NotSent(e.to_string()))?;
        let key = answer_key(&url);
        let mut sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        let (status, headers, body) =
            self.handle
                .block_on(native_get(&mut sender, &self.authority, &key));
        if let Some(record) = &self.record {
            record
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, (status, headers.clone(), body.clone()));
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
    fn log(&self, _: LogLevel, _: &str) {}
    fn monotonic_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
    fn sleep_ms(&self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }
    fn wall_clock_unix_secs(&self) -> u64 {
        1_795_000_000
    }
}

fn native_context(base_url: &str) -> CallContext {
    CallContext {
        call_id: "bench".into(),
        settings: vec![("base-url".into(), base_url.into())],
        deadline_ms: 10_000,
        approval: None,
    }
}

fn native_call(transport: &dyn Transport, base_url: &str, tool: &str, args: &str) -> ToolOutcome {
    ingrid_plugin::connector::call_tool(transport, tool, args, &native_context(base_url))
        .unwrap_or_else(|e| panic!("native {tool}: {e:?}"))
}

/// The next cursor of a native list result.
fn native_cursor(outcome: &ToolOutcome) -> Option<String> {
    match outcome {
        ToolOutcome::Result(result) => cursor_of(result.structured.as_deref()),
        ToolOutcome::Proposal(_) => None,
    }
}

fn cursor_of(structured: Option<&str>) -> Option<String> {
    let value: Value = serde_json::from_str(structured?).ok()?;
    value.get("nextCursor")?.as_str().map(str::to_string)
}

// ---------- host side ----------

/// The host's in-process responder: the recorded answers, by path and query.
struct RecordedResponder(Arc<Answers>);

impl Responder for RecordedResponder {
    fn answer(&self, _method: &str, url: &url::Url, _body: &[u8]) -> Result<Response, HttpError> {
        match self.0.get(&answer_key(url)) {
            Some((status, headers, body)) => Ok(Response {
                status: *status,
                headers: headers
                    .iter()
                    .map(|(name, value)| Header {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                body: body.clone(),
            }),
            None => Err(HttpError::NotSent(format!("nothing recorded for {url}"))),
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dema-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("scratch dir: {e}"));
    dir
}

fn audit_log(name: &str) -> AuditLog {
    AuditLog::open(&scratch(name).join("audit.jsonl"), false)
        .unwrap_or_else(|e| panic!("audit log: {e}"))
}

async fn session(
    runtime: &Arc<Runtime>,
    cache: &CompileCache,
    target: Target,
    responder: Option<Arc<dyn Responder>>,
    audit: &str,
) -> Session {
    let mut builder = Session::builder(EMBEDDED_PLUGIN)
        .runtime(runtime.clone())
        .cache(Some(cache))
        .target(target)
        .audit(audit_log(audit));
    if let Some(responder) = responder {
        builder = builder.responder(responder);
    }
    builder
        .start()
        .await
        .unwrap_or_else(|e| panic!("session: {e}"))
}

async fn host_call(
    session: &Session,
    tool: &str,
    args: &str,
) -> (ToolCall, host_test::runtime::CallReport) {
    session
        .call(tool, args, &NoHuman)
        .await
        .unwrap_or_else(|e| panic!("host {tool}: {e}"))
}

fn check_host_answer(tool: &str, call: &ToolCall) {
    match call {
        ToolCall::Result(result) if !result.is_error => {}
        // A write tool's proposal, put to nobody.
        ToolCall::NotConfirmed { .. } => {}
        other => panic!("host {tool}: {other:?}"),
    }
}

struct Case {
    name: &'static str,
    tool: &'static str,
    args: String,
}

// ---------- the run ----------

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio: {e}"));
    runtime.block_on(run());
}

async fn run() {
    println!("# dema-host benchmark (median of timed rounds after warm-up)");
    let host_runtime = Runtime::new(Limits::default()).unwrap_or_else(|e| panic!("runtime: {e}"));
    // Made by the cache itself: it uses only a private (0700) directory.
    let cache_dir = scratch("cache").join("compiled");
    let cache = CompileCache::at(&cache_dir);
    let simulator = simulator::start_seeded(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Seed::Bulk {
            returns: BULK_RETURNS,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("simulator: {e}"));
    let base_url = simulator.base_url();

    let pending = first_pending_refund(&simulator).await;
    let cases = vec![
        Case {
            name: "list_returns limit 5",
            tool: "list_returns",
            args: r#"{"status":"IN_TRANSIT","limit":5}"#.into(),
        },
        Case {
            name: "get_return",
            tool: "get_return",
            args: r#"{"returnId":50001}"#.into(),
        },
        Case {
            name: "list_returns maxItems 1000",
            tool: "list_returns",
            args: r#"{"maxItems":1000}"#.into(),
        },
        Case {
            name: "write proposal",
            tool: "mark_refund_externally_refunded",
            args: format!(r#"{{"refundTransactionId":{pending}}}"#),
        },
    ];

    // Record the answers of every case once, natively, from the simulator.
    let answers = Arc::new(record_answers(&simulator, &cases).await);

    per_call(&host_runtime, &cache, &cases, &answers).await;
    loopback_request(&host_runtime, &cache, &simulator).await;
    end_to_end(&host_runtime, &cache, &simulator, &cases).await;
    start_up(&host_runtime, &cache_dir).await;
    bulk(&host_runtime, &cache, &simulator).await;
    concurrency(&host_runtime, &cache, &cases, &answers).await;
    summary(&host_runtime, &cache, &simulator).await;
    let _ = base_url;
    simulator.shutdown().await;
}

async fn first_pending_refund(simulator: &SimulatorHandle) -> u64 {
    let mut sender = native_connection(simulator.addr()).await;
    let authority = simulator.addr().to_string();
    let (_, _, body) = native_get(
        &mut sender,
        &authority,
        "/merchant/refund-transaction?status=PENDING&limit=1",
    )
    .await;
    let list: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("refunds: {e}"));
    list.get(0)
        .and_then(|r| r.get("id"))
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no PENDING refund"))
}

fn net_transport(
    simulator: &SimulatorHandle,
    sender: SendRequest<Empty<Bytes>>,
    record: bool,
) -> NetTransport {
    NetTransport {
        sender: std::sync::Mutex::new(sender),
        handle: tokio::runtime::Handle::current(),
        authority: simulator.addr().to_string(),
        record: record.then(|| std::sync::Mutex::new(Answers::new())),
        started: Instant::now(),
    }
}

async fn record_answers(simulator: &SimulatorHandle, cases: &[Case]) -> Answers {
    let sender = native_connection(simulator.addr()).await;
    let transport = net_transport(simulator, sender, true);
    let base_url = simulator.base_url();
    let jobs: Vec<(&'static str, String)> =
        cases.iter().map(|c| (c.tool, c.args.clone())).collect();
    tokio::task::spawn_blocking(move || {
        for (tool, args) in &jobs {
            native_call(&transport, &base_url, tool, args);
        }
        transport
            .record
            .map(|r| r.into_inner().unwrap_or_else(|p| p.into_inner()))
            .unwrap_or_default()
    })
    .await
    .unwrap_or_else(|e| panic!("recording: {e}"))
}

/// Bytes that cross the boundary in one call: arguments, request URLs and bodies in, response
/// bodies and headers in, text and structured output out.
fn bytes_across(
    args: &str,
    answers: &Answers,
    report: &host_test::runtime::CallReport,
    call: &ToolCall,
) -> usize {
    let responses: usize = report
        .requests
        .iter()
        .map(|r| r.response_bytes + r.path.len() + 64)
        .sum();
    let output = match call {
        ToolCall::Result(result) => {
            result.text.len() + result.structured.as_ref().map_or(0, String::len)
        }
        _ => 0,
    };
    let _ = answers;
    args.len() + responses + output
}

async fn per_call(
    runtime: &Arc<Runtime>,
    cache: &CompileCache,
    cases: &[Case],
    answers: &Arc<Answers>,
) {
    println!("\n## a. One call, no network (recorded answers in process)");
    println!(
        "| case | native | host: whole call | ratio | instantiate | guest (+copies) | http import (policy, redaction) | output check | arguments check | session (audit, gate, args, redaction, hops) | copies (est.) | fuel |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let responder: Arc<dyn Responder> = Arc::new(RecordedResponder(answers.clone()));
    let base = "http://127.0.0.1:9";
    let session = session(
        runtime,
        cache,
        Target::Development(base.into()),
        Some(responder),
        "per-call",
    )
    .await;
    let plugin = session.plugin();
    let instantiate = measure_async(20, rounds(200), || async {
        plugin
            .instantiate_only()
            .await
            .unwrap_or_else(|e| panic!("instantiate: {e}"));
    })
    .await;
    let keys = CallKeys::resolve(&session.grant().slots, &simulator::simulator_keys())
        .unwrap_or_else(|e| panic!("keys: {e}"));
    for case in cases {
        let (n, heavy) = if case.args.contains("maxItems") {
            (rounds(30), true)
        } else {
            (rounds(300), false)
        };
        let warm = if heavy { 3 } else { 30 };
        // Native: the same logic on the same bytes.
        let transport = RecordedTransport {
            answers: answers.clone(),
            started: Instant::now(),
        };
        let native = measure(warm, n, || {
            std::hint::black_box(native_call(&transport, base, case.tool, &case.args));
        });
        // The host, whole call (arguments check, run, output check, audit, redaction).
        let whole = measure_async(warm, n, || async {
            let (call, _) = host_call(&session, case.tool, &case.args).await;
            check_host_answer(case.tool, &call);
        })
        .await;
        let (call, report) = host_call(&session, case.tool, &case.args).await;
        let fuel = report.fuel_used;
        let across = bytes_across(&case.args, answers, &report, &call);
        // The plugin's run alone: store, instance, guest, imports, output check.
        let gate = if case.tool.starts_with("mark_") {
            WriteGate::Unapproved
        } else {
            WriteGate::ReadOnly
        };
        let import_times = std::cell::RefCell::new(Vec::new());
        let run = measure_async(warm, n, || {
            let ctx = plugin.context(session.grant().settings());
            let keys = keys.clone();
            let gate = gate.clone();
            let import_times = &import_times;
            async move {
                let (outcome, report) = plugin
                    .call_tool(case.tool, &case.args, &ctx, keys, gate, None)
                    .await;
                if let Err(error) = outcome.unwrap_or_else(|e| panic!("run: {e}")) {
                    panic!("run: {error:?}");
                }
                import_times.borrow_mut().push(report.import_time);
            }
        })
        .await;
        let import = median(import_times.into_inner());
        let tool = plugin
            .tool(case.tool)
            .unwrap_or_else(|| panic!("no tool {}", case.tool));
        let structured = match &call {
            ToolCall::Result(result) => result.structured.clone(),
            _ => None,
        };
        let output_check = match &structured {
            Some(json) => measure(warm, n, || {
                std::hint::black_box(schema::check_output(&tool.schemas.output, json));
            }),
            None => Duration::ZERO,
        };
        let args_check = measure(warm, n, || {
            let value: Value = serde_json::from_str(&case.args).unwrap_or_default();
            std::hint::black_box(schema::problems(
                &tool.schemas.input,
                &tool.descriptor.input_schema,
                &value,
                3,
            ));
        });
        let bytes = vec![7u8; across];
        let copies = measure(warm, n, || {
            std::hint::black_box(bytes.clone());
        });
        let guest = run
            .saturating_sub(instantiate)
            .saturating_sub(import)
            .saturating_sub(output_check);
        let session_part = whole.saturating_sub(run);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({} B) | {} |",
            case.name,
            us(native),
            us(whole),
            ratio(whole, native),
            us(instantiate),
            us(guest),
            us(import),
            us(output_check),
            us(args_check),
            us(session_part),
            us(copies),
            across,
            fuel,
        );
    }
}

async fn loopback_request(
    runtime: &Arc<Runtime>,
    cache: &CompileCache,
    simulator: &SimulatorHandle,
) {
    println!("\n## b. One loopback GET to the simulator (keep-alive)");
    let path = "/merchant/return?status=IN_TRANSIT&limit=5";
    let session = session(
        runtime,
        cache,
        Target::Development(simulator.base_url()),
        None,
        "loopback",
    )
    .await;
    let rules = RequestRules::of(
        session.grant(),
        HttpLimits::default().max_request_body_bytes,
    );
    let config = Arc::new(OutboundConfig::new(rules, HttpLimits::default(), None));
    let keys = CallKeys::resolve(&session.grant().slots, &simulator::simulator_keys())
        .unwrap_or_else(|e| panic!("keys: {e}"));
    let url = format!("{}{path}", simulator.base_url());
    let n = rounds(500);
    let host = measure_async(50, n, || {
        let config = config.clone();
        let keys = keys.clone();
        let url = url.clone();
        async move {
            // One `Outbound` per call, as the runtime makes: its request budget is per call.
            let mut outbound = Outbound::new(config, keys, WriteGate::ReadOnly);
            let request = HostRequest {
                method: HostMethod::Get,
                url,
                headers: vec![Header {
                    name: "accept".into(),
                    value: "application/json".into(),
                }],
                body: Vec::new(),
                credential: Some("ingrid-api-key".into()),
                timeout_ms: None,
            };
            let (outcome, _) = outbound
                .send(request, Instant::now() + Duration::from_secs(5))
                .await;
            outcome.unwrap_or_else(|e| panic!("host GET: {e:?}"));
        }
    })
    .await;
    let sender = tokio::sync::Mutex::new(native_connection(simulator.addr()).await);
    let authority = simulator.addr().to_string();
    let native = measure_async(50, n, || {
        let sender = &sender;
        let authority = &authority;
        async move {
            let mut sender = sender.lock().await;
            std::hint::black_box(native_get(&mut sender, authority, path).await);
        }
    })
    .await;
    println!("| request | native hyper | host HTTP path | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| GET {path} | {} | {} | {} |",
        us(native),
        us(host),
        ratio(host, native)
    );
    session.shutdown().await;
}

async fn end_to_end(
    runtime: &Arc<Runtime>,
    cache: &CompileCache,
    simulator: &SimulatorHandle,
    cases: &[Case],
) {
    println!("\n## c. End to end over loopback (simulator)");
    println!("| case | native client + logic | component in host | ratio |");
    println!("|---|---|---|---|");
    let session = session(
        runtime,
        cache,
        Target::Development(simulator.base_url()),
        None,
        "end-to-end",
    )
    .await;
    let sender = native_connection(simulator.addr()).await;
    let transport = Arc::new(net_transport(simulator, sender, false));
    let base_url = simulator.base_url();
    for case in cases {
        let (n, warm) = if case.args.contains("maxItems") {
            (rounds(20), 3)
        } else {
            (rounds(200), 20)
        };
        let host = measure_async(warm, n, || async {
            let (call, _) = host_call(&session, case.tool, &case.args).await;
            check_host_answer(case.tool, &call);
        })
        .await;
        let transport = transport.clone();
        let base_url = base_url.clone();
        let tool = case.tool;
        let args = case.args.clone();
        let native = tokio::task::spawn_blocking(move || {
            measure(warm, n, || {
                std::hint::black_box(native_call(transport.as_ref(), &base_url, tool, &args));
            })
        })
        .await
        .unwrap_or_else(|e| panic!("native: {e}"));
        println!(
            "| {} | {} | {} | {} |",
            case.name,
            us(native),
            us(host),
            ratio(host, native)
        );
    }
    session.shutdown().await;
}

async fn start_up(runtime: &Arc<Runtime>, cache_dir: &std::path::Path) {
    println!("\n## d. Start-up");
    let engine = runtime.engine().clone();
    let compile = tokio::task::spawn_blocking(move || {
        measure(0, rounds(5).min(5), || {
            std::hint::black_box(
                wasmtime::component::Component::new(&engine, EMBEDDED_PLUGIN)
                    .unwrap_or_else(|e| panic!("compile: {e}")),
            );
        })
    })
    .await
    .unwrap_or_else(|e| panic!("compile: {e}"));
    let cache = CompileCache::at(cache_dir);
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(EMBEDDED_PLUGIN))
    };
    let load = measure(3, rounds(50), || {
        std::hint::black_box(
            cache
                .load_or_compile(runtime.engine(), EMBEDDED_PLUGIN, &digest)
                .unwrap_or_else(|e| panic!("cached load: {e}")),
        );
    });
    // Loading to a ready session: cached component, world and import checks, linking,
    // `list-tools` and the schemas compiled (and the embedded simulator started).
    let ready = measure_async(2, rounds(20), || async {
        session(runtime, &cache, Target::EmbeddedSimulator, None, "start")
            .await
            .shutdown()
            .await;
    })
    .await;
    let home = scratch("home");
    let binary = env!("CARGO_BIN_EXE_dema-host");
    let run_once = || {
        let output = std::process::Command::new(binary)
            .args([
                "call",
                "list_returns",
                r#"{"status":"IN_TRANSIT","limit":5}"#,
            ])
            .env_remove("INGRID_API_KEY")
            .env_remove("DEMA_SIM_API_KEY")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("DEMA_CACHE_DIR", home.join("cache"))
            .output()
            .unwrap_or_else(|e| panic!("dema-host: {e}"));
        assert!(output.status.success(), "dema-host call failed: {output:?}");
    };
    let process = measure(2, rounds(15), run_once);
    println!("| step | median |");
    println!("|---|---|");
    println!(
        "| compile the component (cranelift, parallel) | {} |",
        ms(compile)
    );
    println!("| load it from the compile cache | {} |", ms(load));
    println!(
        "| cached load to a ready session (checks, link, list-tools, schemas, simulator) | {} |",
        ms(ready)
    );
    println!(
        "| `dema-host call list_returns` from process start to result (warm cache) | {} |",
        ms(process)
    );
}

async fn bulk(runtime: &Arc<Runtime>, cache: &CompileCache, simulator: &SimulatorHandle) {
    println!("\n## e. Bulk: all {BULK_RETURNS} returns, calls of maxItems 1000 with cursor");
    let session = session(
        runtime,
        cache,
        Target::Development(simulator.base_url()),
        None,
        "bulk",
    )
    .await;
    let page = |cursor: &Option<String>| match cursor {
        Some(cursor) => format!(r#"{{"maxItems":1000,"cursor":"{cursor}"}}"#),
        None => r#"{"maxItems":1000}"#.to_string(),
    };
    let mut peak = 0usize;
    let mut calls = 0usize;
    let mut host_samples = Vec::new();
    for _ in 0..rounds(5).min(5) {
        let started = Instant::now();
        let mut cursor = None;
        calls = 0;
        loop {
            let (call, report) = host_call(&session, "list_returns", &page(&cursor)).await;
            peak = peak.max(report.memory_peak_bytes);
            calls += 1;
            cursor = match &call {
                ToolCall::Result(result) => cursor_of(result.structured.as_deref()),
                other => panic!("bulk: {other:?}"),
            };
            if cursor.is_none() {
                break;
            }
        }
        host_samples.push(started.elapsed());
    }
    let host = median(host_samples);
    let sender = native_connection(simulator.addr()).await;
    let transport = net_transport(simulator, sender, false);
    let base_url = simulator.base_url();
    let native = tokio::task::spawn_blocking(move || {
        let mut samples = Vec::new();
        for _ in 0..rounds(5).min(5) {
            let started = Instant::now();
            let mut cursor = None;
            loop {
                let outcome = native_call(&transport, &base_url, "list_returns", &page(&cursor));
                cursor = native_cursor(&outcome);
                if cursor.is_none() {
                    break;
                }
            }
            samples.push(started.elapsed());
        }
        median(samples)
    })
    .await
    .unwrap_or_else(|e| panic!("native bulk: {e}"));
    println!("| native | host | ratio | calls | guest peak memory |");
    println!("|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {calls} | {:.1} MiB |",
        ms(native),
        ms(host),
        ratio(host, native),
        peak as f64 / (1 << 20) as f64
    );
    session.shutdown().await;
}

async fn concurrency(
    runtime: &Arc<Runtime>,
    cache: &CompileCache,
    cases: &[Case],
    answers: &Arc<Answers>,
) {
    println!("\n## f. Calls per second on one engine (list_returns limit 5, recorded answers)");
    let responder: Arc<dyn Responder> = Arc::new(RecordedResponder(answers.clone()));
    let session = Arc::new(
        session(
            runtime,
            cache,
            Target::Development("http://127.0.0.1:9".into()),
            Some(responder),
            "concurrency",
        )
        .await,
    );
    let case = &cases[0];
    let window = if quick() {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    println!("| threads | calls/s |");
    println!("|---|---|");
    for threads in [1usize, 2] {
        let until = Instant::now() + window;
        let mut tasks = Vec::new();
        for _ in 0..threads {
            let session = session.clone();
            let tool = case.tool;
            let args = case.args.clone();
            tasks.push(tokio::spawn(async move {
                let mut calls = 0u64;
                while Instant::now() < until {
                    let (call, _) = host_call(&session, tool, &args).await;
                    check_host_answer(tool, &call);
                    calls += 1;
                }
                calls
            }));
        }
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap_or_else(|e| panic!("task: {e}"));
        }
        println!("| {threads} | {:.0} |", total as f64 / window.as_secs_f64());
    }
}

// ---------- g. summarize_returns (issue 13) ----------

/// `summarize_returns` over 3,000 returns of the bulk seed, end to end on loopback: the
/// component in the host, 30 pages of returns and the refund list, against the call's default
/// deadline; natively for the ratio.
async fn summary(runtime: &Arc<Runtime>, cache: &CompileCache, simulator: &SimulatorHandle) {
    const ARGS: &str = r#"{"maxItems":3000}"#;
    println!(
        "\n## g. summarize_returns over 3,000 returns (maxItems 3000), end to end on loopback"
    );
    let session = session(
        runtime,
        cache,
        Target::Development(simulator.base_url()),
        None,
        "summary",
    )
    .await;
    let mut fuel = 0;
    let mut peak = 0usize;
    let mut read = Value::Null;
    let mut samples = Vec::new();
    // One untimed round, then the timed ones.
    for round in 0..=rounds(10).min(10) {
        let started = Instant::now();
        let (call, report) = host_call(&session, "summarize_returns", ARGS).await;
        let elapsed = started.elapsed();
        check_host_answer("summarize_returns", &call);
        if round > 0 {
            samples.push(elapsed);
        }
        fuel = report.fuel_used;
        peak = peak.max(report.memory_peak_bytes);
        if let ToolCall::Result(result) = &call {
            let output: Value =
                serde_json::from_str(result.structured.as_deref().unwrap_or("null"))
                    .unwrap_or_default();
            read = output["coverage"]["returnsRead"].clone();
        }
    }
    let host = median(samples);
    let sender = native_connection(simulator.addr()).await;
    let transport = net_transport(simulator, sender, false);
    let base_url = simulator.base_url();
    let native = tokio::task::spawn_blocking(move || {
        measure(1, rounds(10).min(10), || {
            native_call(&transport, &base_url, "summarize_returns", ARGS);
        })
    })
    .await
    .unwrap_or_else(|e| panic!("native summary: {e}"));
    let deadline = Limits::default().deadline;
    println!(
        "| returns read | native | host | ratio | fuel | guest peak memory | default deadline |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {read} | {} | {} | {} | {fuel} | {:.1} MiB | {} ({:.1}% used) |",
        ms(native),
        ms(host),
        ratio(host, native),
        peak as f64 / (1 << 20) as f64,
        ms(deadline),
        host.as_secs_f64() * 100.0 / deadline.as_secs_f64()
    );
    session.shutdown().await;
}

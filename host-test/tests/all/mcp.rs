//! `dema-host mcp` as an agent's client meets it: the server runs as a child process over
//! stdio and is driven by rmcp's own client (or, where the bytes on stdout matter, by raw
//! JSON-RPC lines). Each test shares one server process across its steps. Writes go to a
//! simulator started in the test (`--sim URL`) where the test counts what reached it, and to
//! the embedded simulator for the whole return lifecycle.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use host_test::dev::simulator::{self, InjectedFailure, SimulatorHandle};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
    ClientRequest, ElicitRequestParams, ElicitResult, ElicitationAction, Implementation,
    ProgressNotificationParam, ProgressToken, ProtocolVersion, ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RequestContext, RoleClient};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ErrorData, ServiceError, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// What the person in the test answers when the server asks.
#[derive(Debug, Clone)]
enum Reply {
    Accept(Option<Value>),
    Decline,
    Cancel,
    /// Never answers (the server times out and withdraws the question).
    Never,
}

/// The test's MCP client: an agent's client with a person behind it.
#[derive(Clone)]
struct Person(Arc<PersonState>);

struct PersonState {
    elicitation: bool,
    reply: Mutex<Reply>,
    /// Each question: its message and its schema.
    asked: Mutex<Vec<(String, Value)>>,
    /// Each progress notification: its token and progress.
    progress: Mutex<Vec<(ProgressToken, f64)>>,
    progressed: tokio::sync::Notify,
    /// Runs once, when the person is next asked (before the answer goes back).
    on_ask: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Person {
    fn new(elicitation: bool, reply: Reply) -> Person {
        Person(Arc::new(PersonState {
            elicitation,
            reply: Mutex::new(reply),
            asked: Mutex::new(Vec::new()),
            progress: Mutex::new(Vec::new()),
            progressed: tokio::sync::Notify::new(),
            on_ask: Mutex::new(None),
        }))
    }

    fn will(&self, reply: Reply) {
        *self.0.reply.lock().unwrap_or_else(|p| p.into_inner()) = reply;
    }

    fn when_asked(&self, then: impl FnOnce() + Send + 'static) {
        *self.0.on_ask.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(then));
    }

    fn asked(&self) -> Vec<(String, Value)> {
        self.0
            .asked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The progress notified for one request, in the order received.
    fn progress(&self, token: &ProgressToken) -> Vec<f64> {
        self.0
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(of, _)| of == token)
            .map(|(_, progress)| *progress)
            .collect()
    }

    /// Waits (at most 10 s) until at least `count` progress notifications for one request
    /// arrived.
    async fn wait_for_progress(&self, token: &ProgressToken, count: usize) -> Vec<f64> {
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let notified = self.0.progressed.notified();
                if self.progress(token).len() >= count {
                    return;
                }
                notified.await;
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "{count} progress notifications: {:?}",
            self.progress(token)
        );
        self.progress(token)
    }
}

impl ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.0.elicitation {
            ClientCapabilities::builder().enable_elicitation().build()
        } else {
            ClientCapabilities::default()
        };
        // rmcp's default offers the newest revision it knows (2026-07-28), newer than the
        // server speaks: the server negotiates down.
        ClientConfig::new(capabilities, Implementation::new("dema-test-agent", "1.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = &request
        {
            let schema = serde_json::to_value(requested_schema).unwrap_or_default();
            self.0
                .asked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((message.clone(), schema));
        }
        let then = self
            .0
            .on_ask
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(then) = then {
            then();
        }
        let reply = self
            .0
            .reply
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Ok(match reply {
            Reply::Accept(content) => {
                let mut result = ElicitResult::new(ElicitationAction::Accept);
                result.content = content;
                result
            }
            Reply::Decline => ElicitResult::new(ElicitationAction::Decline),
            Reply::Cancel => ElicitResult::new(ElicitationAction::Cancel),
            Reply::Never => {
                context.ct.cancelled().await;
                return Err(ErrorData::internal_error("withdrawn", None));
            }
        })
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.0
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((params.progress_token, params.progress));
        self.0.progressed.notify_waiters();
    }
}

/// A fresh scratch directory for one server's HOME, config, state and audit log.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dema-mcp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// `dema-host ARGS mcp`, with a private HOME, config and state, no key in the environment,
/// the audit log in `dir`, and the compile cache the CLI tests share.
fn command(dir: &Path, global: &[&str], mcp: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_dema-host"));
    command
        .args(global)
        .arg("--audit-log")
        .arg(dir.join("audit.jsonl"))
        .arg("mcp")
        .args(mcp)
        .env_remove("INGRID_API_KEY")
        .env_remove("DEMA_SIM_API_KEY")
        .env_remove("DEMA_AUDIT_LOG")
        .env("HOME", dir.join("home"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env(
            "DEMA_CACHE_DIR",
            std::env::temp_dir().join(format!("dema-cli-cache-{}", std::process::id())),
        )
        .env("RUST_BACKTRACE", "1")
        .kill_on_drop(true);
    command
}

struct Client {
    service: rmcp::service::RunningService<RoleClient, Person>,
    person: Person,
    stderr: Arc<Mutex<String>>,
    dir: PathBuf,
}

async fn connect(person: Person, dir: PathBuf, global: &[&str], mcp: &[&str]) -> Client {
    let (transport, stderr_pipe) = TokioChildProcess::builder(command(&dir, global, mcp))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning dema-host mcp: {e}"));
    let stderr = Arc::new(Mutex::new(String::new()));
    if let Some(mut pipe) = stderr_pipe {
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text).await;
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_str(&text);
        });
    }
    let service = person
        .clone()
        .serve(transport)
        .await
        .unwrap_or_else(|e| panic!("initialize: {e}"));
    Client {
        service,
        person,
        stderr,
        dir,
    }
}

impl Client {
    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        self.try_call(tool, arguments)
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"))
    }

    async fn try_call(&self, tool: &str, arguments: Value) -> Result<CallToolResult, ServiceError> {
        let Value::Object(arguments) = arguments else {
            panic!("arguments are an object")
        };
        self.service
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
            .await
    }

    /// A successful call's structured content.
    async fn read(&self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments).await;
        assert_eq!(result.is_error, Some(false), "{tool}: {}", text(&result));
        result
            .structured_content
            .unwrap_or_else(|| panic!("{tool}: no structured content"))
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    async fn close(self) -> String {
        let Client {
            service, stderr, ..
        } = self;
        let _ = service.cancel().await;
        // The server exits when its stdin closes; give it a moment to write its last line.
        tokio::time::sleep(Duration::from_millis(100)).await;
        stderr.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The POSTs a simulator has received.
fn posts(simulator: &SimulatorHandle) -> usize {
    simulator
        .requests()
        .iter()
        .filter(|request| request.method == "POST")
        .count()
}

/// A `tools/call` of `list_returns`, to send with options.
fn list_returns(arguments: Value) -> ClientRequest {
    tool_request("list_returns", arguments)
}

/// A `tools/call`, to send with options.
fn tool_request(tool: &'static str, arguments: Value) -> ClientRequest {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new(tool).with_arguments(arguments),
    ))
}

/// The id of a PENDING refund, read through MCP.
async fn pending_refund(client: &Client) -> u64 {
    let pending = client
        .read(
            "list_refund_transactions",
            json!({"status": "PENDING", "limit": 1}),
        )
        .await;
    pending["refundTransactions"][0]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("a PENDING refund: {pending}"))
}

async fn loopback_simulator() -> SimulatorHandle {
    simulator::start(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap_or_else(|e| panic!("simulator: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_lists_reads_and_completes_a_return_with_the_persons_consent() {
    let person = Person::new(true, Reply::Accept(Some(json!({"approve": true}))));
    let client = connect(person, scratch("session"), &[], &[]).await;

    // The client offered a newer revision; the server negotiated down, and claims tools only.
    let info = client
        .service
        .peer()
        .peer_info()
        .unwrap_or_else(|| panic!("server info"));
    assert_eq!(info.protocol_version, ProtocolVersion::V_2025_11_25);
    assert!(info.capabilities.tools.is_some());
    assert!(!info.capabilities.supports_tasks());
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("dema-host")
    );

    // tools/list: every tool with its schemas, and the manifest's hints.
    let manifest = host_test::manifest::Manifest::from_component(host_test::EMBEDDED_PLUGIN)
        .unwrap_or_else(|e| panic!("{e}"));
    let tools = client
        .service
        .list_all_tools()
        .await
        .unwrap_or_else(|e| panic!("tools/list: {e}"));
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let declared: Vec<&str> = manifest.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, declared);
    for tool in &tools {
        let effect = manifest
            .tool(&tool.name)
            .unwrap_or_else(|| panic!("{} in the manifest", tool.name));
        let hints = tool
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{}: annotations", tool.name));
        let read = effect.effect == host_test::manifest::Effect::Read;
        assert_eq!(hints.read_only_hint, Some(read), "{}", tool.name);
        assert_eq!(hints.destructive_hint, Some(effect.destructive));
        assert_eq!(hints.idempotent_hint, Some(effect.idempotent));
        assert_eq!(hints.open_world_hint, Some(effect.open_world));
        assert!(tool.title.as_deref().is_some_and(|t| !t.is_empty()));
        assert!(tool.description.as_deref().is_some_and(|d| d.len() > 20));
        assert_eq!(tool.input_schema.get("type"), Some(&json!("object")));
        assert_eq!(
            tool.input_schema.get("additionalProperties"),
            Some(&json!(false))
        );
        let output = tool
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{}: output schema", tool.name));
        assert_eq!(output.get("type"), Some(&json!("object")), "{}", tool.name);
    }
    let output_schema = |name: &str| {
        let tool = tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        let schema = Value::Object(tool.output_schema.as_deref().cloned().unwrap_or_default());
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: {e}"))
    };

    // A read: text in the content, structured content that matches the output schema.
    let listed = client
        .call(
            "list_returns",
            json!({"status": "IN_TRANSIT", "limit": 100}),
        )
        .await;
    assert_eq!(listed.is_error, Some(false), "{}", text(&listed));
    assert!(text(&listed).contains("IN_TRANSIT"), "{}", text(&listed));
    let page = listed.structured_content.clone().unwrap_or_default();
    assert!(output_schema("list_returns").is_valid(&page), "{page}");

    // Tool-level failures are isError; the schema's message names the argument.
    let bad = client.call("list_returns", json!({"limit": 1000})).await;
    assert_eq!(bad.is_error, Some(true));
    assert!(text(&bad).contains("limit"), "{}", text(&bad));
    assert!(bad.structured_content.is_none());
    let missing = client.call("get_return", json!({"returnId": 99999})).await;
    assert_eq!(missing.is_error, Some(true));
    assert!(text(&missing).contains("99999"), "{}", text(&missing));
    // The model cannot approve by an argument: it is refused by the schema, nobody is asked.
    let chosen = page["returns"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["resolution"] == "REFUND"))
        .cloned()
        .unwrap_or_else(|| panic!("an IN_TRANSIT REFUND return: {page}"));
    let return_id = chosen["id"].as_u64().unwrap_or(0);
    let details = client
        .read("get_return", json!({"returnId": return_id}))
        .await;
    assert!(output_schema("get_return").is_valid(&details));
    let items = details["items"].as_array().cloned().unwrap_or_default();
    let reported: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut row = json!({"returnItemId": item["id"], "quantity": item["quantity"],
                "approved": i == 0});
            if i > 0 {
                row["remark"] = json!("Worn");
            }
            row
        })
        .collect();
    let report = json!({"returnId": return_id, "items": reported});
    let mut confirm = report.clone();
    confirm["confirm"] = json!(true);
    let forged = client.call("report_returned_items", confirm).await;
    assert_eq!(forged.is_error, Some(true));
    assert!(text(&forged).contains("confirm"), "{}", text(&forged));
    assert!(client.person.asked().is_empty(), "nobody was asked");

    // An unknown tool is a protocol error: -32602.
    match client.try_call("refund_everything", json!({})).await {
        Err(ServiceError::McpError(error)) => {
            assert_eq!(error.code.0, -32602, "{error:?}");
            assert!(error.message.contains("refund_everything"));
        }
        other => panic!("{other:?}"),
    }

    // The whole lifecycle: report the items (the person approves), a PENDING refund appears,
    // mark it externally refunded (approved again), the return is COMPLETED.
    let reported = client.call("report_returned_items", report).await;
    assert_eq!(reported.is_error, Some(false), "{}", text(&reported));
    let asked = client.person.asked();
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0]
            .0
            .contains(&format!("/merchant/return/{return_id}/returned-items")),
        "{}",
        asked[0].0
    );
    let after = client
        .read("get_return", json!({"returnId": return_id}))
        .await;
    assert_eq!(after["status"], "AWAITING_REFUND");
    let refunds = client
        .read(
            "list_refund_transactions",
            json!({"returnId": return_id, "status": "PENDING"}),
        )
        .await;
    assert_eq!(refunds["count"], 1, "{refunds}");
    let refund_id = refunds["refundTransactions"][0]["id"].as_u64().unwrap_or(0);
    let marked = client
        .call(
            "mark_refund_externally_refunded",
            json!({"refundTransactionId": refund_id, "externalReference": "PSP-77"}),
        )
        .await;
    assert_eq!(marked.is_error, Some(false), "{}", text(&marked));
    assert!(
        output_schema("mark_refund_externally_refunded")
            .is_valid(&marked.structured_content.clone().unwrap_or_default())
    );
    let refund = client
        .read(
            "get_refund_transaction",
            json!({"refundTransactionId": refund_id}),
        )
        .await;
    assert_eq!(refund["status"], "EXTERNALLY_REFUNDED");
    let done = client
        .read("get_return", json!({"returnId": return_id}))
        .await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(client.person.asked().len(), 2);

    let stderr = client.close().await;
    assert!(stderr.contains("dema-host mcp: serving"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_accepting_approve_true_applies_a_change_and_every_answer_is_audited() {
    let simulator = Arc::new(loopback_simulator().await);
    let base = simulator.base_url();
    let person = Person::new(true, Reply::Decline);
    let client = connect(
        person,
        scratch("answers"),
        &["--sim", &base],
        &["--confirm-timeout", "1"],
    )
    .await;
    let refund_id = pending_refund(&client).await;
    let mark = json!({"refundTransactionId": refund_id, "externalReference": "PSP-1"});

    let cases = [
        (Reply::Decline, "not applied: the person declined"),
        (Reply::Cancel, "not applied: the person cancelled"),
        (
            Reply::Accept(Some(json!({"approve": false}))),
            "not applied: the person answered approve: false",
        ),
        (
            Reply::Accept(Some(json!({"approve": "true"}))),
            "the string \"true\", not the boolean true",
        ),
        (Reply::Accept(None), "accepted without content"),
        (Reply::Never, "did not answer within 1 s"),
    ];
    for (reply, expected) in &cases {
        client.person.will(reply.clone());
        let result = client
            .call("mark_refund_externally_refunded", mark.clone())
            .await;
        assert_eq!(result.is_error, Some(true), "{reply:?}");
        assert!(
            text(&result).contains(expected),
            "{reply:?}: {}",
            text(&result)
        );
        assert!(result.structured_content.is_none());
        assert_eq!(posts(&simulator), 0, "{reply:?}: nothing was sent");
    }

    // What the person saw: the host's rendering in a fence, and one required boolean.
    let asked = client.person.asked();
    assert_eq!(asked.len(), cases.len());
    let (message, schema) = &asked[0];
    assert_eq!(
        schema,
        &json!({"type": "object", "required": ["approve"], "properties": {"approve": {
            "type": "boolean", "default": false, "title": "Apply this change",
            "description": "true applies exactly the change shown, once; anything else applies nothing"}}})
    );
    let url = format!("POST {base}/merchant/refund-transaction/{refund_id}/externally-refunded");
    assert!(message.contains(&url), "{message}");
    assert!(
        message.contains("\"externalReference\": \"PSP-1\""),
        "{message}"
    );
    assert!(message.contains("describes this change in its own words"));
    assert!(message.contains("Host summary: 1 write"), "{message}");
    assert!(message.contains("```text\n"), "{message}");
    assert!(!message.contains(simulator::PRODUCTION_KEY));

    // Accepted with the boolean true: applied exactly once.
    client
        .person
        .will(Reply::Accept(Some(json!({"approve": true}))));
    let applied = client
        .call("mark_refund_externally_refunded", mark.clone())
        .await;
    assert_eq!(applied.is_error, Some(false), "{}", text(&applied));
    assert_eq!(posts(&simulator), 1);
    let refund = client
        .read(
            "get_refund_transaction",
            json!({"refundTransactionId": refund_id}),
        )
        .await;
    assert_eq!(refund["status"], "EXTERNALLY_REFUNDED");
    // The same call again: the plugin's own read refuses it, nobody is asked, nothing is sent.
    let again = client.call("mark_refund_externally_refunded", mark).await;
    assert_eq!(again.is_error, Some(true), "{}", text(&again));
    assert_eq!(posts(&simulator), 1, "applied once");
    assert_eq!(client.person.asked().len(), cases.len() + 1);

    let decisions: Vec<String> = client
        .audit()
        .iter()
        .filter(|record| record["tool"] == "mark_refund_externally_refunded")
        .map(|record| record["decision"].as_str().unwrap_or_default().to_string())
        .collect();
    for decision in ["proposed", "declined", "dismissed", "timed-out", "approved"] {
        assert!(
            decisions.iter().any(|d| d == decision),
            "{decision} in {decisions:?}"
        );
    }
    assert_eq!(
        decisions.iter().filter(|d| *d == "declined").count(),
        2,
        "decline and approve: false: {decisions:?}"
    );
    assert_eq!(
        decisions.iter().filter(|d| *d == "dismissed").count(),
        3,
        "cancel, the string, no content: {decisions:?}"
    );

    // Cancelled once the person approved: the approved write is finished, and audited. The
    // replay's read is answered 429 (retry in 1 s), and the client cancels meanwhile.
    let refund_id = pending_refund(&client).await;
    let sim = simulator.clone();
    client.person.when_asked(move || {
        sim.inject_failures(InjectedFailure {
            status: 429,
            count: 1,
            retry_after_secs: Some(1),
        })
    });
    let handle = client
        .service
        .peer()
        .send_cancellable_request(
            tool_request(
                "mark_refund_externally_refunded",
                json!({"refundTransactionId": refund_id}),
            ),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The replay's first read is answered 429: the approval was minted.
    let replaying = tokio::time::timeout(Duration::from_secs(10), async {
        while !simulator.requests().iter().any(|r| r.status == 429) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(replaying.is_ok(), "{:?}", simulator.requests());
    handle
        .cancel(Some("too late".into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let finished = tokio::time::timeout(Duration::from_secs(10), async {
        while posts(&simulator) < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        finished.is_ok(),
        "the approved write was sent: {:?}\n{:#?}",
        simulator.requests(),
        client.audit().last()
    );
    let refund = client
        .read(
            "get_refund_transaction",
            json!({"refundTransactionId": refund_id}),
        )
        .await;
    assert_eq!(refund["status"], "EXTERNALLY_REFUNDED");
    let approved = client
        .audit()
        .into_iter()
        .rev()
        .find(|record| record["decision"] == "approved")
        .unwrap_or_default();
    assert_eq!(approved["writesSent"], 1, "{approved}");
    client.close().await;
    if let Ok(simulator) = Arc::try_unwrap(simulator) {
        simulator.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_elicitation_nothing_is_sent_and_lists_report_progress_and_stop_when_cancelled() {
    let simulator = loopback_simulator().await;
    let base = simulator.base_url();
    let person = Person::new(false, Reply::Accept(Some(json!({"approve": true}))));
    let client = connect(person, scratch("no-elicitation"), &["--sim", &base], &[]).await;

    // A client that cannot ask the person: refused, nothing sent, audited as no-person.
    let refund_id = pending_refund(&client).await;
    let refused = client
        .call(
            "mark_refund_externally_refunded",
            json!({"refundTransactionId": refund_id}),
        )
        .await;
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text(&refused).starts_with(
            "not applied: this client cannot ask the person to confirm changes; use a client \
             that supports MCP elicitation, or `dema-host call` at a terminal"
        ),
        "{}",
        text(&refused)
    );
    assert_eq!(posts(&simulator), 0);
    assert!(
        client
            .audit()
            .iter()
            .any(|record| record["decision"] == "no-person")
    );

    // A list that pages reports increasing progress, one notification per request.
    let handle = client
        .service
        .peer()
        .send_cancellable_request(
            list_returns(json!({"limit": 10, "maxItems": 40})),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let token = handle.progress_token.clone();
    let paged = match handle.await_response().await {
        Ok(ServerResult::CallToolResult(result)) => result,
        other => panic!("{other:?}"),
    };
    assert_eq!(paged.is_error, Some(false), "{}", text(&paged));
    let rows = paged.structured_content.unwrap_or_default()["returns"]
        .as_array()
        .map(Vec::len);
    assert_eq!(rows, Some(40));
    // (The client handles notifications concurrently: their order on the wire is checked
    // with the raw client below.)
    let mut progress = client.person.wait_for_progress(&token, 4).await;
    progress.sort_by(f64::total_cmp);
    assert_eq!(progress, [1.0, 2.0, 3.0, 4.0], "one per page");

    // A call cancelled mid-list stops before its next request. The first page is answered
    // 429 (retry in 1 s); the client cancels on the first progress notification, while the
    // plugin waits to retry.
    let before = simulator.requests().len();
    simulator.inject_failures(InjectedFailure {
        status: 429,
        count: 1,
        retry_after_secs: Some(1),
    });
    let handle = client
        .service
        .peer()
        .send_cancellable_request(
            list_returns(json!({"limit": 5, "maxItems": 100})),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .person
        .wait_for_progress(&handle.progress_token, 1)
        .await;
    handle
        .cancel(Some("the agent changed its mind".into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Past the plugin's retry: had it gone on, its next request would have been sent.
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    let sent: Vec<u16> = simulator.requests()[before..]
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(sent, [429], "only the first request was sent");
    let cancelled = client
        .audit()
        .into_iter()
        .rev()
        .find(|record| record["tool"] == "list_returns")
        .unwrap_or_default();
    assert!(
        cancelled["failure"]
            .as_str()
            .is_some_and(|f| f.contains("cancelled")),
        "{cancelled}"
    );
    // The server goes on serving.
    let next = client.read("get_return", json!({"returnId": 50001})).await;
    assert_eq!(next["id"], 50001);
    client.close().await;
    simulator.shutdown().await;
}

/// A client speaking raw JSON-RPC lines, recording every line the server wrote on stdout.
struct RawClient {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    lines: Vec<String>,
}

impl RawClient {
    fn spawn(dir: &Path, global: &[&str], mcp: &[&str]) -> RawClient {
        let mut child = command(dir, global, mcp)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning dema-host mcp: {e}"));
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("stdout piped"));
        RawClient {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            lines: Vec::new(),
        }
    }

    async fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().unwrap_or_else(|| panic!("stdin open"));
        let line = format!("{message}\n");
        stdin
            .write_all(line.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        stdin.flush().await.unwrap_or_else(|e| panic!("{e}"));
    }

    /// The next message on stdout (within 30 s).
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("no message within 30 s; so far: {:?}", self.lines))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("stdout closed; so far: {:?}", self.lines));
        self.lines.push(line.clone());
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    }

    /// Reads until the answer to request `id`, handing each request of the server to `answer`.
    async fn answer_to(&mut self, id: u64, answer: impl Fn(&Value) -> Value) -> Value {
        loop {
            let message = self.next().await;
            if message["id"] == json!(id) && message.get("method").is_none() {
                return message;
            }
            if message.get("method").is_some() && message.get("id").is_some() {
                let reply =
                    json!({"jsonrpc": "2.0", "id": message["id"], "result": answer(&message)});
                self.send(reply).await;
            }
        }
    }

    /// Initializes, offering `version`; the server answers 2025-11-25.
    async fn initialize(&mut self, version: &str, capabilities: Value) {
        self.send(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": capabilities,
            "clientInfo": {"name": "raw", "version": "1"}}}),
        )
        .await;
        let initialized = self.answer_to(1, |_| json!({})).await;
        assert_eq!(
            initialized["result"]["protocolVersion"], "2025-11-25",
            "{initialized}"
        );
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }

    async fn call(&mut self, id: u64, tool: &str, arguments: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}))
            .await;
    }

    /// Closes stdin, reads stdout to its end and returns everything written on it and on
    /// stderr.
    async fn finish(mut self) -> (Vec<String>, String) {
        self.stdin = None;
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout(Duration::from_secs(10), self.stdout.next_line()).await
        {
            self.lines.push(line);
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), pipe.read_to_string(&mut stderr))
                .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        (self.lines, stderr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_carries_only_json_rpc_even_when_the_guest_logs_and_traps() {
    let dir = scratch("rogue");
    let plugin = dir.join("rogue.wasm");
    std::fs::write(&plugin, &crate::support::fixtures().rogue).unwrap_or_else(|e| panic!("{e}"));
    let plugin = plugin.to_string_lossy().into_owned();
    let mut raw = RawClient::spawn(
        &dir,
        &["--plugin", &plugin, "--accept-plugin", "--verbose"],
        &[],
    );
    // A client from the future negotiates down.
    raw.initialize("2099-01-01", json!({})).await;

    // The guest logs what it got back; its log stays in the host.
    raw.call(2, "echo", json!({})).await;
    let echoed = raw.answer_to(2, |_| json!({})).await;
    assert!(echoed["result"]["content"].is_array(), "{echoed}");

    // The guest traps: a JSON-RPC internal error of one line, no backtrace.
    raw.call(3, "panic", json!({})).await;
    let trapped = raw.answer_to(3, |_| json!({})).await;
    assert_eq!(trapped["error"]["code"], -32603, "{trapped}");
    let message = trapped["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("crashed") && !message.contains('\n'),
        "{message}"
    );
    assert!(!message.contains("backtrace"), "{message}");

    // An unknown method or tool is a protocol error too, and the server goes on.
    raw.call(4, "no_such_tool", json!({})).await;
    let unknown = raw.answer_to(4, |_| json!({})).await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");

    let (lines, stderr) = raw.finish().await;
    assert!(lines.len() >= 4, "{lines:?}");
    for line in &lines {
        let message: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON-RPC ({e}): {line:?}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        assert!(!line.contains("panics on purpose"), "{line}");
    }
    assert!(stderr.contains("dema-host mcp: serving rogue"), "{stderr}");
    // With --verbose the plugin's log lines go to stderr, made safe.
    assert!(stderr.contains("plugin log [Level::Warn]"), "{stderr}");
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_wire_progress_increases_and_an_unknown_answer_applies_nothing() {
    let simulator = loopback_simulator().await;
    let base = simulator.base_url();
    let dir = scratch("unknown-answer");
    let mut raw = RawClient::spawn(&dir, &["--sim", &base], &["--confirm-timeout", "20"]);
    raw.initialize("2025-11-25", json!({"elicitation": {"form": {}}}))
        .await;

    // On the wire: progress notifications increasing, one per page, all before the answer.
    raw.send(
        json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "_meta": {"progressToken": "pages"}, "name": "list_returns",
        "arguments": {"limit": 10, "maxItems": 30}}}),
    )
    .await;
    let from = raw.lines.len();
    let listed = raw.answer_to(9, |_| json!({})).await;
    assert_eq!(listed["result"]["isError"], false, "{listed}");
    let progress: Vec<Value> = raw.lines[from..]
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["method"] == "notifications/progress")
        .map(|message| {
            assert_eq!(message["params"]["progressToken"], "pages");
            message["params"]["progress"].clone()
        })
        .collect();
    assert_eq!(
        progress,
        [json!(1.0), json!(2.0), json!(3.0)],
        "{:?}",
        raw.lines
    );

    raw.call(
        2,
        "list_refund_transactions",
        json!({"status": "PENDING", "limit": 1}),
    )
    .await;
    let pending = raw.answer_to(2, |_| json!({})).await;
    let refund_id = pending["result"]["structuredContent"]["refundTransactions"][0]["id"].clone();
    assert!(refund_id.is_u64(), "{pending}");
    raw.call(
        3,
        "mark_refund_externally_refunded",
        json!({"refundTransactionId": refund_id}),
    )
    .await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    let answer = raw
        .answer_to(3, move |request| {
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(request["method"].clone());
            json!({"action": "approve", "content": {"approve": true}})
        })
        .await;
    assert_eq!(
        *asked.lock().unwrap_or_else(|p| p.into_inner()),
        [json!("elicitation/create")]
    );
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let said = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(said.contains("not accept, decline or cancel"), "{said}");
    assert_eq!(posts(&simulator), 0);
    let _ = raw.finish().await;
    simulator.shutdown().await;
}

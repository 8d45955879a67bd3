//! The wasmtime runtime: one engine per process, a component compiled once (and cached), and a
//! fresh store per call with a wall deadline, fuel and a cap on the guest's total memory
//! (principle 6). WASI is linked interface by interface: io, clocks, random and stdio-style cli
//! with an empty context; no filesystem, sockets or `wasi:http`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceTable, types::ComponentItem};
use wasmtime::{Config, Engine, Store, StoreContextMut, UpdateDeadline};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::p2::bindings as wasi;
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{Integration, IntegrationPre, http, log, types};
use crate::cache::CompileCache;
use crate::manifest::{Effect, Manifest, ManifestError};
use crate::outbound::{HttpLimits, Outbound, OutboundConfig, RequestRecord};
use crate::policy::gate::WriteGate;

/// Per-call limits, with safe defaults.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall time for a whole call, time blocked in host calls included.
    pub deadline: Duration,
    /// Instructions-ish budget per call.
    pub fuel: u64,
    /// Sum of all the guest's linear memories.
    pub memory_bytes: usize,
    /// Largest tool output (text plus structured JSON) accepted from the guest.
    pub max_output_bytes: usize,
    /// Largest number of tools and size of a schema accepted from `list-tools`.
    pub max_tools: usize,
    pub max_schema_bytes: usize,
    /// Caps of the `http` import (requests per call, body sizes, per-request timeout).
    pub http: HttpLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(10),
            fuel: 5_000_000_000,
            memory_bytes: 64 << 20,
            max_output_bytes: 1 << 20,
            http: HttpLimits::default(),
            max_tools: 128,
            max_schema_bytes: 64 << 10,
        }
    }
}

/// Epoch ticks every 10 ms drive both the yield to the executor and the deadline check.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// A guest answer, or why there is none.
pub type Outcome<T> = Result<T, CallFailure>;

/// Why a call produced no answer from the guest.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    #[error("the plugin did not finish within its {0:?} deadline")]
    DeadlineExceeded(Duration),
    #[error("the plugin used up its compute budget ({0} fuel)")]
    OutOfFuel(u64),
    #[error("the plugin exceeded its memory limit of {0} MiB")]
    MemoryLimit(usize),
    #[error("the plugin's output is larger than the host's limit of {0} bytes")]
    OutputTooLarge(usize),
    #[error("the plugin crashed: {0}")]
    Trap(String),
    /// The host could not record the call; it does not go on unrecorded.
    #[error("{0}")]
    Audit(String),
}

/// Errors loading a plugin: each is one line a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    #[error("the file is not a valid WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("the plugin imports `{0}`, which this host does not provide")]
    ForbiddenImport(String),
    #[error("the plugin could not be prepared: {0}")]
    Link(String),
    #[error("the plugin's tool list disagrees with its manifest: {0}")]
    ManifestMismatch(String),
    #[error("the plugin's tool `{tool}` has an unusable schema: {reason}")]
    BadSchema { tool: String, reason: String },
    #[error("listing the plugin's tools failed: {0}")]
    ListTools(#[from] CallFailure),
}

/// Interfaces a plugin may import. Anything else (filesystem, sockets, `wasi:http`, unknown
/// packages) is refused at load time with the name of the import.
const ALLOWED_IMPORT_PREFIXES: &[&str] = &[
    "dema:integration/http@0.1.",
    "dema:integration/log@0.1.",
    "dema:integration/types@0.1.",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/environment@",
    "wasi:cli/exit@",
    "wasi:cli/stdin@",
    "wasi:cli/stdout@",
    "wasi:cli/stderr@",
    "wasi:cli/terminal-",
];

/// One per process: the engine, its epoch ticker and the linker.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    limits: Limits,
}

impl Runtime {
    pub fn new(limits: Limits) -> anyhow::Result<Arc<Runtime>> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.consume_fuel(true);
        config.max_wasm_stack(512 << 10);
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut linker = Linker::new(&engine);
        link_wasi(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
        Integration::add_to_linker::<_, wasmtime::component::HasSelf<CallState>>(
            &mut linker,
            |state| state,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(Arc::new(Runtime {
            engine,
            linker,
            limits,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles (or loads from the cache) and links a plugin, then checks its tool list against
    /// `manifest`, which the caller read from these bytes ([`Manifest::from_component`]) before
    /// any of the plugin's code runs.
    pub async fn load(
        self: &Arc<Self>,
        wasm: &[u8],
        manifest: Manifest,
        cache: Option<&CompileCache>,
        outbound: Arc<OutboundConfig>,
    ) -> Result<Plugin, LoadError> {
        let digest = hex::encode(Sha256::digest(wasm));
        let component = match cache {
            Some(cache) => cache.load_or_compile(&self.engine, wasm, &digest),
            None => Component::new(&self.engine, wasm).map_err(|e| format!("{e}")),
        }
        .map_err(LoadError::NotAComponent)?;
        for (name, item) in component.component_type().imports(&self.engine) {
            let allowed = ALLOWED_IMPORT_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix));
            if !allowed || !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
                return Err(LoadError::ForbiddenImport(name.to_string()));
            }
        }
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(e.to_string()))?;
        let pre = IntegrationPre::new(pre).map_err(|e| LoadError::Link(e.to_string()))?;
        let mut plugin = Plugin {
            runtime: self.clone(),
            pre,
            manifest,
            digest,
            outbound,
            tools: Vec::new(),
        };
        plugin.tools = plugin.check_tools().await?;
        Ok(plugin)
    }
}

fn link_wasi(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi_io::add_to_linker_async(linker)?;
    wasi::clocks::wall_clock::add_to_linker::<CallState, WasiClocks>(
        linker,
        <CallState as WasiClocksView>::clocks,
    )?;
    wasi::clocks::monotonic_clock::add_to_linker::<CallState, WasiClocks>(
        linker,
        <CallState as WasiClocksView>::clocks,
    )?;
    wasi::random::random::add_to_linker::<CallState, WasiRandom>(
        linker,
        <CallState as WasiRandomView>::random,
    )?;
    wasi::random::insecure::add_to_linker::<CallState, WasiRandom>(
        linker,
        <CallState as WasiRandomView>::random,
    )?;
    wasi::random::insecure_seed::add_to_linker::<CallState, WasiRandom>(
        linker,
        <CallState as WasiRandomView>::random,
    )?;
    // The cli interfaces Rust's std imports, backed by an empty context: no arguments, no
    // environment variables, stdin empty, stdout and stderr discarded.
    wasi::cli::exit::add_to_linker::<CallState, WasiCli>(linker, <CallState as WasiCliView>::cli)?;
    wasi::cli::environment::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::stdin::add_to_linker::<CallState, WasiCli>(linker, <CallState as WasiCliView>::cli)?;
    wasi::cli::stdout::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::stderr::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::terminal_input::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::terminal_output::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::terminal_stdin::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::terminal_stdout::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::terminal_stderr::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    Ok(())
}

/// Everything a single call's store holds. Dropped with the store at the end of the call.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
    outbound: Outbound,
    deadline: Instant,
    /// Guest log lines (capped, secrets redacted).
    pub logs: Vec<(log::Level, String)>,
    /// Requests the guest sent in this call.
    pub requests: Vec<RequestRecord>,
}

const MAX_LOG_LINES: usize = 100;
/// Sent plus refused requests in one call.
const MAX_REQUEST_ATTEMPTS: usize = 128;
const MAX_LOG_LINE_CHARS: usize = 1_000;

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_io::IoView for CallState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl types::Host for CallState {}

impl http::Host for CallState {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        // Refused attempts are not sent, but each costs a record: a guest that keeps trying is
        // stopped rather than allowed to grow the host's memory.
        if self.requests.len() >= MAX_REQUEST_ATTEMPTS {
            return Err(wasmtime::format_err!(
                "the plugin attempted more than {MAX_REQUEST_ATTEMPTS} requests in one call"
            ));
        }
        let (outcome, record) = self.outbound.send(request, self.deadline).await;
        self.requests.push(record);
        Ok(outcome)
    }
}

impl log::Host for CallState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        if self.logs.len() < MAX_LOG_LINES {
            let line: String = message.chars().take(MAX_LOG_LINE_CHARS).collect();
            self.logs.push((level, self.outbound.redact_text(&line)));
        }
        Ok(())
    }
}

/// Caps the sum of the guest's linear memories (a per-memory cap would not).
struct MemoryCap {
    limit: usize,
    used: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("memory limit exceeded")]
struct MemoryLimitExceeded;

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        if self.used.saturating_add(growth) > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitExceeded));
        }
        self.used += growth;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        16
    }

    fn tables(&self) -> usize {
        16
    }

    fn memories(&self) -> usize {
        8
    }
}

/// A tool as the host knows it: the guest's descriptor, checked against the manifest, with its
/// compiled argument validator.
pub struct HostTool {
    pub descriptor: types::ToolDescriptor,
    /// Arguments are checked against it before every call.
    pub validator: jsonschema::Validator,
    /// Structured output is checked against it before anyone sees it.
    pub output_validator: jsonschema::Validator,
}

/// What a call reports besides its answer.
#[derive(Debug, Clone, Default)]
pub struct CallReport {
    pub fuel_used: u64,
    pub requests: Vec<RequestRecord>,
    pub logs: Vec<(log::Level, String)>,
    pub duration: Duration,
    /// Approved writes sent, and approved writes left unsent (an approved call only).
    pub writes_sent: usize,
    pub writes_unsent: usize,
}

/// A loaded, checked plugin.
pub struct Plugin {
    runtime: Arc<Runtime>,
    pre: IntegrationPre<CallState>,
    manifest: Manifest,
    digest: String,
    outbound: Arc<OutboundConfig>,
    tools: Vec<HostTool>,
}

impl Plugin {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// sha256 of the component's bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    pub fn tools(&self) -> &[HostTool] {
        &self.tools
    }

    pub fn outbound(&self) -> &OutboundConfig {
        &self.outbound
    }

    pub fn tool(&self, name: &str) -> Option<&HostTool> {
        self.tools.iter().find(|tool| tool.descriptor.name == name)
    }

    /// A fresh context for one call.
    pub fn context(&self, settings: Vec<(String, String)>) -> types::CallContext {
        types::CallContext {
            call_id: new_call_id(),
            settings,
            deadline_ms: self.runtime.limits.deadline.as_millis() as u64,
            approval: None,
        }
    }

    pub async fn connect(
        &self,
        ctx: &types::CallContext,
    ) -> (
        Outcome<Result<types::ConnectInfo, types::ConnectError>>,
        CallReport,
    ) {
        self.run(WriteGate::ReadOnly, async |instance, store| {
            instance
                .dema_integration_connector()
                .call_connect(store, ctx)
                .await
        })
        .await
    }

    pub async fn call_tool(
        &self,
        name: &str,
        arguments_json: &str,
        ctx: &types::CallContext,
        gate: WriteGate,
    ) -> (
        Outcome<Result<types::ToolOutcome, types::CallError>>,
        CallReport,
    ) {
        let (outcome, report) = self
            .run(gate, async |instance, store| {
                instance
                    .dema_integration_connector()
                    .call_call_tool(store, name, arguments_json, ctx)
                    .await
            })
            .await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(failure) => return (Err(failure), report),
        };
        let size = match &outcome {
            Ok(types::ToolOutcome::Result(result)) => {
                result.text.len() + result.structured.as_ref().map_or(0, String::len)
            }
            Ok(types::ToolOutcome::Proposal(proposal)) => {
                proposal.summary.len()
                    + proposal.details.len()
                    + proposal
                        .writes
                        .iter()
                        .map(|w| w.url.len() + w.body.len())
                        .sum::<usize>()
            }
            Err(_) => 0,
        };
        if size > self.runtime.limits.max_output_bytes {
            let failure = CallFailure::OutputTooLarge(self.runtime.limits.max_output_bytes);
            return (Err(failure), report);
        }
        (Ok(outcome), report)
    }

    pub async fn diagnostics(
        &self,
        ctx: &types::CallContext,
    ) -> (Outcome<Vec<types::ProbeCheck>>, CallReport) {
        self.run(WriteGate::ReadOnly, async |instance, store| {
            instance
                .dema_integration_connector()
                .call_diagnostics(store, ctx)
                .await
        })
        .await
    }

    /// Runs `f` against a fresh instance in a fresh store, within the deadline and budgets.
    async fn run<R>(
        &self,
        gate: WriteGate,
        f: impl AsyncFnOnce(&Integration, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> (Outcome<R>, CallReport) {
        let limits = &self.runtime.limits;
        let started = Instant::now();
        let deadline = started + limits.deadline;
        let state = CallState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            memory: MemoryCap {
                limit: limits.memory_bytes,
                used: 0,
            },
            outbound: Outbound::new(self.outbound.clone(), gate),
            deadline,
            logs: Vec::new(),
            requests: Vec::new(),
        };
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|state| &mut state.memory);
        // Fuel and the epoch deadline are set before instantiation, so start-up code is bounded.
        if let Err(error) = store.set_fuel(limits.fuel) {
            return (
                Err(CallFailure::Trap(error.to_string())),
                CallReport::default(),
            );
        }
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|store: StoreContextMut<'_, CallState>| {
            if Instant::now() >= store.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let pre = &self.pre;
        let outcome = tokio::time::timeout(limits.deadline, async {
            let instance = pre.instantiate_async(&mut store).await?;
            f(&instance, &mut store).await
        })
        .await;
        let fuel_left = store.get_fuel().unwrap_or(0);
        let state = store.data_mut();
        let report = CallReport {
            fuel_used: limits.fuel.saturating_sub(fuel_left),
            requests: std::mem::take(&mut state.requests),
            logs: std::mem::take(&mut state.logs),
            duration: started.elapsed(),
            writes_sent: state.outbound.gate().sent(),
            writes_unsent: state.outbound.gate().unsent(),
        };
        let outcome = match outcome {
            Err(_elapsed) => Err(CallFailure::DeadlineExceeded(limits.deadline)),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.classify_trap(error)),
        };
        (outcome, report)
    }

    fn classify_trap(&self, error: wasmtime::Error) -> CallFailure {
        let limits = &self.runtime.limits;
        if error.downcast_ref::<MemoryLimitExceeded>().is_some() {
            return CallFailure::MemoryLimit(limits.memory_bytes >> 20);
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::OutOfFuel) => CallFailure::OutOfFuel(limits.fuel),
            Some(wasmtime::Trap::Interrupt) => CallFailure::DeadlineExceeded(limits.deadline),
            Some(trap) => CallFailure::Trap(trap.to_string()),
            // The outermost message of a host-raised error is wasmtime's "error while executing
            // at wasm backtrace:"; the cause is what a person can act on.
            None => CallFailure::Trap(
                self.outbound
                    .redact_text(&error.root_cause().to_string())
                    .lines()
                    .next()
                    .unwrap_or("unknown error")
                    .to_string(),
            ),
        }
    }

    /// `list-tools` checked against the manifest (C8), with schemas compiled for validation
    /// (C4). External `$ref`s cannot be resolved: the validator has no network or file access.
    async fn check_tools(&self) -> Result<Vec<HostTool>, LoadError> {
        let listed = self
            .run(WriteGate::Offline, async |instance, store| {
                instance
                    .dema_integration_connector()
                    .call_list_tools(store)
                    .await
            })
            .await
            .0?;
        let limits = &self.runtime.limits;
        if listed.len() > limits.max_tools {
            return Err(LoadError::ManifestMismatch(format!(
                "{} tools, more than the host's limit of {}",
                listed.len(),
                limits.max_tools
            )));
        }
        let listed_names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
        let manifest_names: Vec<&str> = self
            .manifest
            .tools
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        if listed_names != manifest_names {
            return Err(LoadError::ManifestMismatch(format!(
                "it lists {listed_names:?} but its manifest declares {manifest_names:?}"
            )));
        }
        let mut tools = Vec::with_capacity(listed.len());
        for descriptor in listed {
            let Some(declared) = self.manifest.tool(&descriptor.name) else {
                return Err(LoadError::ManifestMismatch(descriptor.name));
            };
            let effect = match descriptor.effect {
                types::Effect::Read => Effect::Read,
                types::Effect::Write => Effect::Write,
            };
            if effect != declared.effect
                || descriptor.destructive != declared.destructive
                || descriptor.idempotent != declared.idempotent
                || descriptor.open_world != declared.open_world
            {
                return Err(LoadError::ManifestMismatch(format!(
                    "tool `{}` reports other effects than its manifest",
                    descriptor.name
                )));
            }
            let (validator, output_validator) =
                compile_schemas(&descriptor, limits.max_schema_bytes)?;
            tools.push(HostTool {
                descriptor,
                validator,
                output_validator,
            });
        }
        Ok(tools)
    }
}

/// The input and output validators of one tool.
fn compile_schemas(
    descriptor: &types::ToolDescriptor,
    max_bytes: usize,
) -> Result<(jsonschema::Validator, jsonschema::Validator), LoadError> {
    let bad = |reason: String| LoadError::BadSchema {
        tool: descriptor.name.clone(),
        reason,
    };
    for schema in [&descriptor.input_schema, &descriptor.output_schema] {
        if schema.len() > max_bytes {
            return Err(bad(format!("larger than {max_bytes} bytes")));
        }
    }
    let schema: serde_json::Value =
        serde_json::from_str(&descriptor.input_schema).map_err(|e| bad(e.to_string()))?;
    if schema.get("type") != Some(&serde_json::Value::from("object"))
        || schema.get("additionalProperties") != Some(&serde_json::Value::Bool(false))
    {
        return Err(bad(
            "input schemas must be `type: object` with `additionalProperties: false`".into(),
        ));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if schema.get(combinator).is_some() {
            return Err(bad(format!("a top-level `{combinator}` is not allowed")));
        }
    }
    let output: serde_json::Value =
        serde_json::from_str(&descriptor.output_schema).map_err(|e| bad(e.to_string()))?;
    let input = jsonschema::validator_for(&schema).map_err(|e| bad(e.to_string()))?;
    let output = jsonschema::validator_for(&output).map_err(|e| bad(format!("output: {e}")))?;
    Ok((input, output))
}

fn new_call_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

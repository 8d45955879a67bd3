//! A loaded plugin: its checked tools, and running one export in a fresh store within the call's
//! deadline, fuel and memory cap (C2, P6).

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreContextMut, UpdateDeadline};
use wasmtime_wasi::WasiCtx;

use super::call_state::{CallObserver, CallStopped, MemoryCap, MemoryLimitExceeded};
use super::{CallFailure, CallState, Limits, LoadError, Outcome, Runtime};
use crate::bindings::{Integration, IntegrationPre, log, types};
use crate::keys::CallKeys;
use crate::manifest::{Effect, Manifest};
use crate::outbound::{Outbound, OutboundConfig, RequestRecord};
use crate::policy::gate::WriteGate;
use crate::policy::schema::{self, OutputCheck};

/// A tool as the host knows it: the guest's descriptor, checked against the manifest, with its
/// compiled argument validator.
pub struct HostTool {
    pub descriptor: types::ToolDescriptor,
    pub schemas: schema::ToolSchemas,
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
    /// The verdict on a result's structured output, checked within the call's deadline.
    pub output_check: OutputCheck,
    /// Time spent in the host's side of the `http` import (policy, exchange, redaction).
    pub import_time: Duration,
    /// The guest's peak linear memory (memories only grow, so the sum of their growth).
    pub memory_peak_bytes: usize,
}

/// A loaded, checked plugin.
pub struct Plugin {
    runtime: Arc<Runtime>,
    pre: IntegrationPre<CallState>,
    manifest: Manifest,
    digest: String,
    outbound: Arc<OutboundConfig>,
    /// Shared with the threads that run schema checks ([`Plugin::check_within`]).
    tools: Arc<[HostTool]>,
}

/// Largest schema-check input run on the calling thread ([`Plugin::check_within`]): 2 KiB,
/// at most about 0.6 ms at the schema subset's worst case.
pub const INLINE_CHECK_BYTES: usize = 2 << 10;

impl Plugin {
    /// Lists the plugin's tools (offline) and checks them against the manifest.
    pub(super) async fn check(
        runtime: Arc<Runtime>,
        pre: IntegrationPre<CallState>,
        manifest: Manifest,
        digest: String,
        outbound: Arc<OutboundConfig>,
    ) -> Result<Plugin, LoadError> {
        let mut plugin = Plugin {
            runtime,
            pre,
            manifest,
            digest,
            outbound,
            tools: Arc::new([]),
        };
        plugin.tools = plugin.check_tools().await?.into();
        Ok(plugin)
    }

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

    pub fn limits(&self) -> &Limits {
        &self.runtime.limits
    }

    pub fn tool(&self, name: &str) -> Option<&HostTool> {
        self.tools.iter().find(|tool| tool.descriptor.name == name)
    }

    /// Runs `check` of an input of `input_bytes` against the tool `name` on a blocking thread
    /// and waits at most `budget` for it (P6). A schema check cannot be interrupted: past its
    /// budget the call goes on without its answer (`None`) while it runs to its end, which the
    /// schema subset bounds (`policy::schema`). A check that panics answers `None` too.
    ///
    /// An input of at most [`INLINE_CHECK_BYTES`] is checked right here instead: at the
    /// subset's worst case (about 0.3 µs a byte, `policy::schema`) that is well under its
    /// budget and under a millisecond of this thread, and it saves the two thread hops that
    /// were a tenth of a small call.
    pub async fn check_within<R: Send + 'static>(
        &self,
        name: &str,
        budget: Duration,
        input_bytes: usize,
        check: impl FnOnce(&HostTool) -> R + Send + 'static,
    ) -> Option<R> {
        let index = self
            .tools
            .iter()
            .position(|tool| tool.descriptor.name == name)?;
        if input_bytes <= INLINE_CHECK_BYTES {
            let tool = self.tools.get(index)?;
            return std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(tool))).ok();
        }
        let tools = self.tools.clone();
        let task = tokio::task::spawn_blocking(move || tools.get(index).map(check));
        match tokio::time::timeout(budget, task).await {
            Ok(Ok(answer)) => answer,
            // It panicked, or ran past its budget.
            Ok(Err(_)) | Err(_) => None,
        }
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
        keys: CallKeys,
    ) -> (
        Outcome<Result<types::ConnectInfo, types::ConnectError>>,
        CallReport,
    ) {
        self.run(keys, WriteGate::ReadOnly, async |instance, store| {
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
        keys: CallKeys,
        gate: WriteGate,
        observer: Option<Arc<dyn CallObserver>>,
    ) -> (
        Outcome<Result<types::ToolOutcome, types::CallError>>,
        CallReport,
    ) {
        let (outcome, report) = self
            .run(keys, gate, async |instance, store| {
                store.data_mut().observer = observer;
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
        let mut report = report;
        if let Ok(types::ToolOutcome::Result(result)) = &outcome
            && !result.is_error
            && let Some(structured) = &result.structured
        {
            report.output_check = self
                .check_output(name, structured, &mut report.duration)
                .await;
        }
        (Ok(outcome), report)
    }

    /// Checks structured output against the tool's output schema (C5) in what is left of the
    /// call's deadline, and counts the check in the call's duration (P6).
    async fn check_output(
        &self,
        name: &str,
        structured: &str,
        duration: &mut Duration,
    ) -> OutputCheck {
        let left = self.runtime.limits.deadline.saturating_sub(*duration);
        if left.is_zero() {
            return OutputCheck::OutOfTime;
        }
        let started = Instant::now();
        let structured = structured.to_string();
        let check = self
            .check_within(name, left, structured.len(), move |tool| {
                schema::check_output(&tool.schemas.output, &structured)
            })
            .await
            .unwrap_or(OutputCheck::OutOfTime);
        *duration += started.elapsed();
        check
    }

    pub async fn diagnostics(
        &self,
        ctx: &types::CallContext,
        keys: CallKeys,
    ) -> (Outcome<Vec<types::ProbeCheck>>, CallReport) {
        self.run(keys, WriteGate::ReadOnly, async |instance, store| {
            instance
                .dema_integration_connector()
                .call_diagnostics(store, ctx)
                .await
        })
        .await
    }

    /// A fresh store and instance with nothing run in it: what every call pays before the guest
    /// starts (the benchmark's breakdown).
    pub async fn instantiate_only(&self) -> Outcome<()> {
        self.run(CallKeys::default(), WriteGate::Offline, async |_, _| Ok(()))
            .await
            .0
    }

    /// Runs `f` against a fresh instance in a fresh store, within the deadline and budgets.
    async fn run<R>(
        &self,
        keys: CallKeys,
        gate: WriteGate,
        f: impl AsyncFnOnce(&Integration, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> (Outcome<R>, CallReport) {
        let limits = &self.runtime.limits;
        let started = Instant::now();
        let deadline = started + limits.deadline;
        // A place among the running calls (and so a slot in the instance pool), waited for
        // within the call's own deadline.
        let Ok(Ok(_running)) =
            tokio::time::timeout(limits.deadline, self.runtime.running.acquire()).await
        else {
            let report = CallReport {
                duration: started.elapsed(),
                ..CallReport::default()
            };
            return (
                Err(CallFailure::Busy(limits.max_concurrent_calls.max(1))),
                report,
            );
        };
        let state = CallState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            memory: MemoryCap {
                limit: limits.memory_bytes,
                used: 0,
            },
            outbound: Outbound::new(self.outbound.clone(), keys, gate),
            deadline,
            logs: Vec::new(),
            requests: Vec::new(),
            observer: None,
            import_time: Duration::ZERO,
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
        let outcome = tokio::time::timeout_at(deadline.into(), async {
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
            output_check: OutputCheck::NotChecked,
            import_time: state.import_time,
            memory_peak_bytes: state.memory.used,
        };
        let outcome = match outcome {
            Err(_elapsed) => Err(CallFailure::DeadlineExceeded(limits.deadline)),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.classify_trap(error, &state.outbound)),
        };
        (outcome, report)
    }

    fn classify_trap(&self, error: wasmtime::Error, outbound: &Outbound) -> CallFailure {
        let limits = &self.runtime.limits;
        if error.downcast_ref::<MemoryLimitExceeded>().is_some() {
            return CallFailure::MemoryLimit(limits.memory_bytes >> 20);
        }
        if let Some(stopped) = error.downcast_ref::<CallStopped>() {
            return CallFailure::Stopped(stopped.0.clone());
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::OutOfFuel) => CallFailure::OutOfFuel(limits.fuel),
            Some(wasmtime::Trap::Interrupt) => CallFailure::DeadlineExceeded(limits.deadline),
            Some(trap) => CallFailure::Trap(trap.to_string()),
            // The outermost message of a host-raised error is wasmtime's "error while executing
            // at wasm backtrace:"; the cause is what a person can act on.
            None => CallFailure::Trap(
                outbound
                    .redact_text(&error.root_cause().to_string())
                    .lines()
                    .next()
                    .unwrap_or("unknown error")
                    .to_string(),
            ),
        }
    }

    /// `list-tools` checked against the manifest (C8), with schemas compiled for validation
    /// (C4), under the schema rules ([`crate::policy::schema`]).
    async fn check_tools(&self) -> Result<Vec<HostTool>, LoadError> {
        let listed = self
            .run(
                CallKeys::default(),
                WriteGate::Offline,
                async |instance, store| {
                    instance
                        .dema_integration_connector()
                        .call_list_tools(store)
                        .await
                },
            )
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
        let mut budget = schema::PluginBudget::default();
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
            let schemas = schema::compile(&descriptor, limits.max_schema_bytes, &mut budget)?;
            tools.push(HostTool {
                descriptor,
                schemas,
            });
        }
        Ok(tools)
    }
}

fn new_call_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

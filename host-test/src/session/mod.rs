//! A session: one loaded plugin wired to one target (the embedded simulator, a development
//! server on loopback, or the plugin's live service). Every face (the CLI, the demo, the MCP
//! server) and the end-to-end tests go through it.
//!
//! - [`builder`]: starting one;
//! - [`approval`]: the approval loop of contract C1 (ask, mint, replay);
//! - [`record`]: what the audit log records of each step (C7);
//! - [`outcome`]: the guest's final answer as a person or agent sees it.

mod approval;
mod builder;
mod outcome;
mod record;

use std::sync::Arc;

use crate::bindings::types;
use crate::dev::simulator::SimulatorHandle;
use crate::keys::{CallKeys, KeySource};
use crate::outbound::{IN_FLIGHT, RequestRecord};
use crate::policy::audit::AuditLog;
use crate::policy::confirm::{Answer, ConfirmationRequest, Confirmer};
use crate::policy::gate::{ApprovalLedger, Binding, WriteGate, arguments_digest};
use crate::policy::grant::Grant;
use crate::runtime::{CallFailure, CallObserver, CallReport, Flow, HostTool, Plugin};

pub use builder::{SessionBuilder, SessionError, Target};
use record::Invocation;

/// The outcome of one tool call as a person or an agent sees it.
#[derive(Debug)]
pub enum ToolCall {
    Result(types::ToolResult),
    /// Arguments refused before the plugin ran, or by the plugin.
    InvalidArguments(String),
    UnknownTool(String),
    PluginError(String),
    /// The proposed change was put to the person, who did not approve it; nothing was written.
    NotConfirmed {
        answer: Answer,
        request: ConfirmationRequest,
    },
    /// The host would not ask about or apply the proposal (policy); nothing was written.
    Refused(String),
}

pub struct Session {
    plugin: Plugin,
    grant: Grant,
    keys: Arc<dyn KeySource>,
    approvals: ApprovalLedger,
    audit: Option<AuditLog>,
    simulator: Option<SimulatorHandle>,
    /// The keys of the last lookup: their redaction forms are reused while the keys stay the
    /// same (they are still looked up for every call, C9).
    last_keys: std::sync::Mutex<CallKeys>,
}

impl Session {
    /// Starts building a session for the component `wasm`.
    pub fn builder(wasm: &[u8]) -> SessionBuilder<'_> {
        SessionBuilder::new(wasm)
    }

    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    pub fn simulator(&self) -> Option<&SimulatorHandle> {
        self.simulator.as_ref()
    }

    pub fn base_url(&self) -> &str {
        &self.grant.base_url
    }

    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// This call's keys, looked up now, so a rotated key is used by the next call (C9).
    fn call_keys(&self) -> Result<CallKeys, CallFailure> {
        let mut last = self.last_keys.lock().unwrap_or_else(|p| p.into_inner());
        let keys = CallKeys::resolve_reusing(&self.grant.slots, self.keys.as_ref(), &last)?;
        last.clone_from(&keys);
        Ok(keys)
    }

    fn context(&self) -> types::CallContext {
        self.plugin.context(self.grant.settings())
    }

    pub async fn connect(
        &self,
    ) -> Result<Result<types::ConnectInfo, types::ConnectError>, CallFailure> {
        let keys = self.call_keys()?;
        let ctx = self.context();
        let (outcome, report) = self.plugin.connect(&ctx, keys.clone()).await;
        self.audited_read(&ctx, &keys, "connect", outcome, &report)
    }

    /// The live probe: the plugin's `diagnostics` export (reads only), audited like any call.
    pub async fn diagnostics(&self) -> Result<Vec<types::ProbeCheck>, CallFailure> {
        let keys = self.call_keys()?;
        let ctx = self.context();
        let (outcome, report) = self.plugin.diagnostics(&ctx, keys.clone()).await;
        self.audited_read(&ctx, &keys, "diagnostics", outcome, &report)
    }

    /// Calls one tool. Reads top to bottom: validate the arguments, call the tool, and when it
    /// proposes a change, ask, mint an approval and replay ([`approval`]); each step audited.
    pub async fn call(
        &self,
        tool: &str,
        arguments_json: &str,
        confirmer: &dyn Confirmer,
    ) -> Result<(ToolCall, CallReport), CallFailure> {
        self.call_observed(tool, arguments_json, confirmer, None)
            .await
    }

    /// [`Session::call`], with `observer` told of each request and asked before each one (a
    /// face's progress notifications and cancellation, C6). A run carrying a minted approval is
    /// never stopped: once the person approved, the approved writes are finished and audited.
    pub async fn call_observed(
        &self,
        tool: &str,
        arguments_json: &str,
        confirmer: &dyn Confirmer,
        observer: Option<Arc<dyn CallObserver>>,
    ) -> Result<(ToolCall, CallReport), CallFailure> {
        let Some(host_tool) = self.plugin.tool(tool) else {
            // The agent's name, bounded: it is not one of the plugin's tools.
            let shown = crate::policy::display::line(tool, 64);
            self.audit_refused_call(&shown, "no such tool")?;
            return Ok((ToolCall::UnknownTool(tool.to_string()), Default::default()));
        };
        let arguments = match validate_arguments(&self.plugin, tool, arguments_json).await {
            Ok(arguments) => arguments,
            Err(problem) => {
                self.audit_refused_call(tool, &format!("arguments refused: {problem}"))?;
                return Ok((ToolCall::InvalidArguments(problem), Default::default()));
            }
        };
        let invocation = Invocation {
            call_id: self.context().call_id,
            tool,
            arguments_json,
            binding: Binding {
                plugin_digest: self.plugin.digest().to_string(),
                tool: tool.to_string(),
                arguments_digest: arguments_digest(&arguments),
            },
            arguments: &arguments,
            // The effect comes from the manifest the host checked, not from the live guest.
            writes_allowed: self
                .plugin
                .manifest()
                .tool(tool)
                .is_some_and(|declared| declared.effect == crate::manifest::Effect::Write),
            observer,
        };
        let first_gate = if invocation.writes_allowed {
            WriteGate::Unapproved
        } else {
            WriteGate::ReadOnly
        };
        let keys_at_start = self.call_keys()?;
        let (outcome, report) = self.run_tool(&invocation, None, first_gate).await?;
        let (answer, report) = self
            .settle(&invocation, host_tool, outcome, report, confirmer)
            .await?;
        // The plugin may hand on what a server echoed, in any encoding: the agent and the
        // person get nothing of a key (P3). Keys looked up at the start and now, in case one
        // was rotated during the call.
        let keys = keys_at_start.with(&self.call_keys().unwrap_or_default());
        Ok((redact_answer(answer, &keys), report))
    }

    /// One run of the tool in a fresh store, with this call's keys, audited.
    async fn run_tool(
        &self,
        invocation: &Invocation<'_>,
        approval: Option<types::Approval>,
        gate: WriteGate,
    ) -> Result<(Result<types::ToolOutcome, types::CallError>, CallReport), CallFailure> {
        let keys = self.call_keys()?;
        let mut ctx = self.context();
        ctx.call_id.clone_from(&invocation.call_id);
        let approved = approval.is_some();
        ctx.approval = approval;
        let observer = match &invocation.observer {
            Some(observer) if approved => {
                Some(Arc::new(Unstoppable(observer.clone())) as Arc<dyn CallObserver>)
            }
            other => other.clone(),
        };
        let (outcome, report) = self
            .plugin
            .call_tool(
                invocation.tool,
                invocation.arguments_json,
                &ctx,
                keys.clone(),
                gate,
                observer,
            )
            .await;
        self.audit_tool(&ctx, &keys, invocation, approved, &outcome, &report)?;
        match outcome {
            Ok(outcome) => Ok((outcome, report)),
            // Stopped after a write left: the person must learn what reached the service, not
            // only that the plugin crashed or ran out of time.
            Err(failure) if report.requests.iter().any(reached_or_may_have) => {
                let told = after_writes(&failure, &report);
                Ok((Err(types::CallError::Internal(told)), report))
            }
            Err(failure) => Err(failure),
        }
    }

    pub async fn shutdown(self) {
        if let Some(simulator) = self.simulator {
            simulator.shutdown().await;
        }
    }
}

/// An observer for a run carrying a minted approval: told of every request, never stopping the
/// run, so approved writes are finished (or reported) rather than cut off.
struct Unstoppable(Arc<dyn CallObserver>);

impl CallObserver for Unstoppable {
    fn before_request(&self) -> Flow {
        Flow::Continue
    }

    fn after_request(&self, record: &RequestRecord, made: usize) {
        self.0.after_request(record, made);
    }
}

/// Removes every form of the keys from what the plugin says. A structured result that no
/// longer parses after redaction is dropped (its text is kept).
fn redact_answer(answer: ToolCall, keys: &CallKeys) -> ToolCall {
    match answer {
        ToolCall::Result(mut result) => {
            result.text = keys.redact_text(&result.text);
            // Re-parsed only when redaction changed it (the output check already ran).
            result.structured = result.structured.and_then(|structured| {
                let redacted = keys.redact_text(&structured);
                let unchanged = redacted == structured;
                (unchanged || serde_json::from_str::<serde_json::Value>(&redacted).is_ok())
                    .then_some(redacted)
            });
            ToolCall::Result(result)
        }
        ToolCall::InvalidArguments(message) => {
            ToolCall::InvalidArguments(keys.redact_text(&message))
        }
        ToolCall::PluginError(message) => ToolCall::PluginError(keys.redact_text(&message)),
        ToolCall::Refused(message) => ToolCall::Refused(keys.redact_text(&message)),
        other => other,
    }
}

/// A write that was answered, in flight when the call was stopped, or cut off after it may
/// have left (outcome unknown, C3: the call's deadline cuts a request in flight).
fn reached_or_may_have(record: &RequestRecord) -> bool {
    record.is_write()
        && (record.status.is_some() || matches!(record.error, Some(IN_FLIGHT | "outcome-unknown")))
}

/// What a call stopped after sending writes did: the failure, then each write and its answer.
fn after_writes(failure: &CallFailure, report: &CallReport) -> String {
    let writes: Vec<String> = report
        .requests
        .iter()
        .filter(|record| reached_or_may_have(record))
        .map(|record| {
            let answer = match (record.status, record.error) {
                (Some(status), _) => format!("answered {status}"),
                (None, Some(IN_FLIGHT)) => {
                    "in flight when the call was stopped: it may have been applied".into()
                }
                _ => "cut off without an answer: it may have been applied".into(),
            };
            format!(
                "{} {}{} ({answer})",
                record.method, record.host, record.path
            )
        })
        .collect();
    format!(
        "{failure}, after these approved changes were sent: {}. Check their state before trying again.",
        writes.join("; ")
    )
}

/// The arguments as JSON, checked against the tool's input schema (C4); a problem names the
/// argument. The check gets a tenth of the call's deadline, so that the call ends within its
/// deadline plus 10% (P6); the argument cap and the schema subset (`policy::schema`) bound it.
async fn validate_arguments(
    plugin: &Plugin,
    tool: &str,
    arguments_json: &str,
) -> Result<serde_json::Value, String> {
    let limits = plugin.limits();
    if arguments_json.len() > limits.max_argument_bytes {
        return Err(format!(
            "the arguments are larger than the host's limit of {} bytes",
            limits.max_argument_bytes
        ));
    }
    let budget = limits.deadline / 10;
    let input_bytes = arguments_json.len();
    let arguments_json = arguments_json.to_string();
    let checked = plugin
        .check_within(tool, budget, input_bytes, move |tool: &HostTool| {
            let arguments: serde_json::Value = serde_json::from_str(&arguments_json)
                .map_err(|error| format!("the arguments are not JSON: {error}"))?;
            let problems = crate::policy::schema::problems(
                &tool.schemas.input,
                &tool.descriptor.input_schema,
                &arguments,
                3,
            );
            if problems.is_empty() {
                Ok(arguments)
            } else {
                Err(problems.join("; "))
            }
        })
        .await;
    checked.unwrap_or_else(|| {
        Err(format!(
            "the arguments could not be checked within {budget:?}, a tenth of the call's \
             deadline; the plugin was not called"
        ))
    })
}

//! A session: one loaded plugin wired to one Ingrid target (the embedded simulator, a running
//! simulator, or Ingrid production). The CLI, the demo and the end-to-end tests use it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::Url;

use crate::bindings::types;
use crate::cache::CompileCache;
use crate::credentials;
use crate::manifest::{Effect, Manifest};
use crate::outbound::{InjectedCredential, Origin, OutboundConfig, Secret};
use crate::policy::audit::{
    AuditLog, AuditRecord, AuditedRequest, Decision, SCHEMA_VERSION, decision_for, now_rfc3339,
};
use crate::policy::confirm::{ConfirmationRequest, Confirmer};
use crate::policy::egress::NetworkPolicy;
use crate::policy::gate::{ApprovalLedger, Binding, WriteGate, arguments_digest};
use crate::runtime::{
    CallFailure, CallReport, HostTool, Limits, LoadError, Outcome, Plugin, Runtime,
};
use crate::simulator::{self, SimulatorHandle};

/// Production Ingrid Returns (documented host; see the plugin's endpoint catalog).
pub const LIVE_BASE_URL: &str = "https://api.turnr.se";
/// The key the simulator accepts; a real key is never sent to a simulator.
const SIM_KEY_ENV: &str = "DEMA_SIM_API_KEY";

/// Where the plugin's requests go.
#[derive(Debug, Clone)]
pub enum Target {
    /// A simulator started in this process on 127.0.0.1 (the default).
    EmbeddedSimulator,
    /// A simulator already running at this loopback URL.
    Simulator(String),
    /// Ingrid production over TLS, with the operator's key.
    Live,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Credentials(#[from] credentials::CredentialError),
    #[error(
        "--sim must be an http URL of a simulator on this machine (e.g. http://127.0.0.1:8080), not {0:?}"
    )]
    BadSimulatorUrl(String),
    #[error("could not start the simulator: {0}")]
    Simulator(String),
    #[error("could not start the runtime: {0}")]
    Runtime(String),
    #[error("{0}")]
    Load(#[from] LoadError),
    #[error("the plugin's manifest does not grant {0}")]
    NotGranted(String),
}

/// The outcome of one tool call as a person or an agent sees it.
#[derive(Debug)]
pub enum ToolCall {
    Result(types::ToolResult),
    /// Arguments refused before the plugin ran, or by the plugin.
    InvalidArguments(String),
    UnknownTool(String),
    PluginError(String),
    /// The person declined the proposed change; nothing was written.
    Declined(ConfirmationRequest),
    /// The host would not ask about or apply the proposal (policy); nothing was written.
    Refused(String),
}

/// What the audit records about a tool call.
struct Invocation<'a> {
    tool: &'a str,
    arguments: &'a serde_json::Value,
    arguments_digest: &'a str,
    writes_allowed: bool,
}

/// How many times one call may come back with a new proposal after an approval (the state
/// changed under it) before the host gives up.
const MAX_PROPOSAL_ROUNDS: usize = 3;

pub struct Session {
    plugin: Plugin,
    approvals: ApprovalLedger,
    audit: Option<AuditLog>,
    settings: Vec<(String, String)>,
    simulator: Option<SimulatorHandle>,
}

impl Session {
    pub async fn start(
        wasm: &[u8],
        target: Target,
        limits: Limits,
        cache: Option<&CompileCache>,
    ) -> Result<Session, SessionError> {
        let runtime = Runtime::new(limits).map_err(|e| SessionError::Runtime(e.to_string()))?;
        Session::start_with(runtime, wasm, target, cache).await
    }

    /// Like [`Session::start`], sharing an existing runtime (tests start many sessions).
    pub async fn start_with(
        runtime: Arc<Runtime>,
        wasm: &[u8],
        target: Target,
        cache: Option<&CompileCache>,
    ) -> Result<Session, SessionError> {
        Session::start_with_key(runtime, wasm, target, cache, None).await
    }

    /// Like [`Session::start_with`], with an explicit key instead of the target's usual one.
    pub async fn start_with_key(
        runtime: Arc<Runtime>,
        wasm: &[u8],
        target: Target,
        cache: Option<&CompileCache>,
        key: Option<Secret>,
    ) -> Result<Session, SessionError> {
        let is_live = matches!(target, Target::Live);
        let (simulator, base_url, usual_key) = match target {
            Target::EmbeddedSimulator => {
                let handle = simulator::start(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .map_err(|e| SessionError::Simulator(e.to_string()))?;
                let base = handle.base_url();
                (Some(handle), base, simulator_key())
            }
            Target::Simulator(url) => {
                check_simulator_url(&url)?;
                (None, url.trim_end_matches('/').to_string(), simulator_key())
            }
            Target::Live => {
                let key = match &key {
                    Some(key) => key.clone(),
                    None => credentials::live_api_key()?,
                };
                (None, LIVE_BASE_URL.to_string(), key)
            }
        };
        let secret = key.unwrap_or(usual_key);
        let manifest = Manifest::from_component(wasm).map_err(LoadError::from)?;
        let parsed =
            Url::parse(&base_url).map_err(|_| SessionError::BadSimulatorUrl(base_url.clone()))?;
        let allowed =
            Origin::of(&parsed).ok_or_else(|| SessionError::BadSimulatorUrl(base_url.clone()))?;
        // Live: the origin must be one the manifest declares, and its methods are the rule's.
        // Development: the simulator stands in for the declared hosts, with their methods.
        let rules: Vec<_> = manifest
            .egress
            .iter()
            .filter(|rule| {
                !is_live
                    || (rule.scheme == allowed.scheme
                        && rule.host.eq_ignore_ascii_case(&allowed.host)
                        && rule.port == allowed.port)
            })
            .collect();
        if is_live && rules.is_empty() {
            return Err(SessionError::NotGranted(allowed.to_string()));
        }
        let methods = rules
            .iter()
            .flat_map(|rule| rule.methods.iter().map(|m| m.to_ascii_uppercase()))
            .collect();
        // The key goes only to the hosts its slot names (in development, to the simulator).
        let credential = manifest
            .slot(credentials::SLOT)
            .filter(|slot| {
                !is_live
                    || slot
                        .hosts
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case(&allowed.host))
            })
            .map(|slot| InjectedCredential {
                slot: slot.name.clone(),
                header: slot.header.to_ascii_lowercase(),
                secret,
            });
        let network = if is_live {
            NetworkPolicy::Live
        } else {
            NetworkPolicy::LoopbackOnly
        };
        let outbound = Arc::new(
            OutboundConfig::new(
                allowed,
                network,
                credential,
                runtime.limits().http.clone(),
                None,
            )
            .with_methods(methods),
        );
        let plugin = runtime.load(wasm, manifest, cache, outbound).await?;
        Ok(Session {
            plugin,
            approvals: ApprovalLedger::default(),
            audit: None,
            settings: vec![("base-url".to_string(), base_url)],
            simulator,
        })
    }

    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    pub fn simulator(&self) -> Option<&SimulatorHandle> {
        self.simulator.as_ref()
    }

    pub fn base_url(&self) -> &str {
        self.settings
            .iter()
            .find(|(key, _)| key == "base-url")
            .map_or("", |(_, value)| value.as_str())
    }

    pub async fn connect(
        &self,
    ) -> Result<Result<types::ConnectInfo, types::ConnectError>, CallFailure> {
        let ctx = self.plugin.context(self.settings.clone());
        let (outcome, report) = self.plugin.connect(&ctx).await;
        self.audited_read(&ctx, "connect", outcome, &report)
    }

    /// The live probe: the plugin's `diagnostics` export (reads only), audited like any call.
    pub async fn diagnostics(&self) -> Result<Vec<types::ProbeCheck>, CallFailure> {
        let ctx = self.plugin.context(self.settings.clone());
        let (outcome, report) = self.plugin.diagnostics(&ctx).await;
        self.audited_read(&ctx, "diagnostics", outcome, &report)
    }

    /// Records a read-only export's invocation, then hands its outcome on.
    fn audited_read<T>(
        &self,
        ctx: &types::CallContext,
        export: &str,
        outcome: Outcome<T>,
        report: &CallReport,
    ) -> Result<T, CallFailure> {
        let decision = decision_for(report, false, false, false);
        let failure = outcome.as_ref().err().map(|f| f.to_string());
        self.audit(ctx, export, None, decision, report, failure)
            .map_err(CallFailure::Audit)?;
        outcome
    }

    /// Attaches the audit log every later invocation is recorded in.
    pub fn with_audit(mut self, audit: AuditLog) -> Session {
        self.audit = Some(audit);
        self
    }

    /// Validates the arguments against the tool's schema, then calls it. A write tool's
    /// proposal goes to `confirmer`; on approval the host mints a single-use approval for
    /// exactly the proposed writes and calls the tool again with it (contract C1).
    pub async fn call(
        &self,
        tool: &str,
        arguments_json: &str,
        confirmer: &dyn Confirmer,
    ) -> Result<(ToolCall, CallReport), CallFailure> {
        let Some(host_tool) = self.plugin.tool(tool) else {
            return Ok((
                ToolCall::UnknownTool(tool.to_string()),
                CallReport::default(),
            ));
        };
        let arguments: serde_json::Value = match serde_json::from_str(arguments_json) {
            Ok(arguments) => arguments,
            Err(error) => {
                return Ok((
                    ToolCall::InvalidArguments(format!("the arguments are not JSON: {error}")),
                    CallReport::default(),
                ));
            }
        };
        let problems: Vec<String> = host_tool
            .validator
            .iter_errors(&arguments)
            .take(3)
            .map(|error| {
                let at = error.instance_path.to_string();
                if at.is_empty() {
                    error.to_string()
                } else {
                    format!("{at}: {error}")
                }
            })
            .collect();
        if !problems.is_empty() {
            return Ok((
                ToolCall::InvalidArguments(problems.join("; ")),
                CallReport::default(),
            ));
        }
        // The effect comes from the manifest the host checked, not from the live guest.
        let writes_allowed = self
            .plugin
            .manifest()
            .tool(tool)
            .is_some_and(|declared| declared.effect == Effect::Write);
        let first_gate = if writes_allowed {
            WriteGate::Unapproved
        } else {
            WriteGate::ReadOnly
        };
        let binding = Binding {
            plugin_digest: self.plugin.digest().to_string(),
            tool: tool.to_string(),
            arguments_digest: arguments_digest(&arguments),
        };
        let invocation = Invocation {
            tool,
            arguments: &arguments,
            arguments_digest: &binding.arguments_digest,
            writes_allowed,
        };
        let ctx = self.plugin.context(self.settings.clone());
        let (mut outcome, mut report) = self
            .plugin
            .call_tool(tool, arguments_json, &ctx, first_gate)
            .await;
        self.audit_tool(&ctx, &invocation, false, &outcome, &report)?;
        for _round in 0..MAX_PROPOSAL_ROUNDS {
            let proposal = match outcome? {
                Ok(types::ToolOutcome::Proposal(proposal)) => proposal,
                other => return Ok((finish(other, &report, host_tool), report)),
            };
            let refusal = if !writes_allowed {
                Some(format!(
                    "the read-only tool `{tool}` proposed a change; it was ignored"
                ))
            } else if proposal.writes.is_empty() {
                Some("the plugin proposed an empty change".to_string())
            } else {
                proposal
                    .writes
                    .iter()
                    .find_map(|write| self.plugin.outbound().check_proposed(write).err())
                    .map(|problem| {
                        format!("the plugin proposed a change this host will not send: {problem}")
                    })
            };
            if let Some(refusal) = refusal {
                self.audit_decision(&ctx, &invocation, Decision::Refused, Some(refusal.clone()))?;
                return Ok((ToolCall::Refused(refusal), report));
            }
            let request = ConfirmationRequest::render(tool, &proposal);
            if !confirmer.confirm(&request) {
                self.audit_decision(&ctx, &invocation, Decision::Declined, None)?;
                return Ok((ToolCall::Declined(request), report));
            }
            self.audit_decision(&ctx, &invocation, Decision::Approved, None)?;
            let approval = self.approvals.mint(binding.clone(), proposal);
            let approved_writes = match self.approvals.redeem(&approval.id, &binding) {
                Ok(writes) => writes,
                Err(error) => {
                    self.audit_decision(
                        &ctx,
                        &invocation,
                        Decision::Refused,
                        Some(error.to_string()),
                    )?;
                    return Ok((ToolCall::Refused(error.to_string()), report));
                }
            };
            let mut ctx = self.plugin.context(self.settings.clone());
            ctx.approval = Some(approval);
            (outcome, report) = self
                .plugin
                .call_tool(
                    tool,
                    arguments_json,
                    &ctx,
                    WriteGate::approved(&approved_writes),
                )
                .await;
            self.audit_tool(&ctx, &invocation, true, &outcome, &report)?;
        }
        Ok((
            ToolCall::Refused(format!(
                "the state kept changing: {MAX_PROPOSAL_ROUNDS} proposals in a row; nothing more was applied"
            )),
            report,
        ))
    }

    fn audit_tool(
        &self,
        ctx: &types::CallContext,
        invocation: &Invocation<'_>,
        approved: bool,
        outcome: &Outcome<Result<types::ToolOutcome, types::CallError>>,
        report: &CallReport,
    ) -> Result<(), CallFailure> {
        let proposed = matches!(outcome, Ok(Ok(types::ToolOutcome::Proposal(_))));
        let decision = decision_for(report, invocation.writes_allowed, approved, proposed);
        let failure = outcome.as_ref().err().map(|f| f.to_string());
        self.audit(
            ctx,
            "call-tool",
            Some(invocation),
            decision,
            report,
            failure,
        )
        .map_err(CallFailure::Audit)
    }

    fn audit_decision(
        &self,
        ctx: &types::CallContext,
        invocation: &Invocation<'_>,
        decision: Decision,
        failure: Option<String>,
    ) -> Result<(), CallFailure> {
        self.audit(
            ctx,
            "call-tool",
            Some(invocation),
            decision,
            &CallReport::default(),
            failure,
        )
        .map_err(CallFailure::Audit)
    }

    fn audit(
        &self,
        ctx: &types::CallContext,
        export: &str,
        invocation: Option<&Invocation<'_>>,
        decision: Decision,
        report: &CallReport,
        failure: Option<String>,
    ) -> Result<(), String> {
        let Some(log) = &self.audit else {
            return Ok(());
        };
        let record = AuditRecord {
            v: SCHEMA_VERSION,
            time: now_rfc3339(),
            plugin_id: &self.plugin.manifest().id,
            plugin_digest: self.plugin.digest(),
            call_id: &ctx.call_id,
            export,
            tool: invocation.map(|i| i.tool),
            arguments_digest: invocation.map(|i| i.arguments_digest),
            arguments: invocation
                .filter(|_| log.include_personal_data())
                .map(|i| i.arguments),
            decision,
            requests: report.requests.iter().map(AuditedRequest::of).collect(),
            writes_sent: report.writes_sent,
            writes_unsent: report.writes_unsent,
            fuel_used: report.fuel_used,
            duration_ms: report.duration.as_millis() as u64,
            failure,
        };
        log.write(&record, |line| self.plugin.outbound().redact_text(line))
            .map_err(|e| {
                format!(
                    "the audit log {} could not be written: {e}",
                    log.path().display()
                )
            })
    }

    pub async fn shutdown(self) {
        if let Some(simulator) = self.simulator {
            simulator.shutdown().await;
        }
    }
}

/// Maps the guest's final answer, noting approved writes that were not sent.
/// Structured output is passed on only on success and only when it matches the tool's output
/// schema; otherwise it is dropped with a note, and the text (which may report an applied
/// change) is kept.
fn finish(
    outcome: Result<types::ToolOutcome, types::CallError>,
    report: &CallReport,
    tool: &HostTool,
) -> ToolCall {
    match outcome {
        Ok(types::ToolOutcome::Result(mut result)) => {
            if result.is_error {
                result.structured = None;
            } else if let Some(structured) = &result.structured {
                let valid = serde_json::from_str::<serde_json::Value>(structured)
                    .is_ok_and(|value| tool.output_validator.is_valid(&value));
                if !valid {
                    result.structured = None;
                    result.text = format!(
                        "{}\nHost: the plugin's structured output did not match its output schema and was dropped.",
                        result.text
                    );
                }
            }
            if report.writes_unsent > 0 {
                let total = report.writes_sent + report.writes_unsent;
                let note = if report.writes_sent > 0 {
                    format!(
                        "Host: partly applied: {} of {total} approved changes were sent.",
                        report.writes_sent
                    )
                } else {
                    "Host: none of the approved changes was sent.".to_string()
                };
                result.text = format!("{}\n{note}", result.text);
            }
            ToolCall::Result(result)
        }
        Ok(types::ToolOutcome::Proposal(_)) => {
            ToolCall::PluginError("the plugin proposed a change where none was expected".into())
        }
        Err(types::CallError::InvalidArguments(m)) => ToolCall::InvalidArguments(m),
        Err(types::CallError::UnknownTool(m)) => ToolCall::UnknownTool(m),
        Err(types::CallError::Internal(m)) => ToolCall::PluginError(m),
    }
}

fn simulator_key() -> Secret {
    Secret::new(
        std::env::var(SIM_KEY_ENV).unwrap_or_else(|_| simulator::PRODUCTION_KEY.to_string()),
    )
}

/// Host-side development policy: plain http is allowed only to a loopback simulator.
fn check_simulator_url(url: &str) -> Result<(), SessionError> {
    let bad = || SessionError::BadSimulatorUrl(url.to_string());
    let parsed = Url::parse(url).map_err(|_| bad())?;
    if parsed.scheme() != "http" || !parsed.path().trim_end_matches('/').is_empty() {
        return Err(bad());
    }
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if loopback { Ok(()) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool() -> HostTool {
        let output = serde_json::json!({
            "type": "object",
            "required": ["count"],
            "properties": {"count": {"type": "integer"}}
        });
        let validator = jsonschema::validator_for(&serde_json::json!({"type": "object"}));
        let output_validator = jsonschema::validator_for(&output);
        match (validator, output_validator) {
            (Ok(validator), Ok(output_validator)) => HostTool {
                descriptor: types::ToolDescriptor {
                    name: "t".into(),
                    title: "t".into(),
                    description: "t".into(),
                    input_schema: "{}".into(),
                    output_schema: output.to_string(),
                    effect: types::Effect::Read,
                    destructive: false,
                    idempotent: true,
                    open_world: true,
                },
                validator,
                output_validator,
            },
            _ => panic!("test schemas compile"),
        }
    }

    fn result(structured: &str, is_error: bool) -> Result<types::ToolOutcome, types::CallError> {
        Ok(types::ToolOutcome::Result(types::ToolResult {
            text: "1 return".into(),
            structured: Some(structured.into()),
            is_error,
        }))
    }

    #[test]
    fn structured_output_passes_only_on_success_and_only_when_it_matches_its_schema() {
        let tool = tool();
        let report = CallReport::default();
        let ToolCall::Result(ok) = finish(result(r#"{"count":1}"#, false), &report, &tool) else {
            panic!("a result")
        };
        assert_eq!(ok.structured.as_deref(), Some(r#"{"count":1}"#));
        let ToolCall::Result(bad) = finish(result(r#"{"count":"one"}"#, false), &report, &tool)
        else {
            panic!("a result")
        };
        assert!(bad.structured.is_none());
        assert!(bad.text.starts_with("1 return") && bad.text.contains("did not match"));
        let ToolCall::Result(error) = finish(result(r#"{"count":1}"#, true), &report, &tool) else {
            panic!("a result")
        };
        assert!(error.structured.is_none(), "never on an error");
    }
}

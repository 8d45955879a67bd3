//! What the audit log records of a session's steps (C7): each run of an export, and each
//! decision between runs (refused, the person's answer). A failing audit write fails the call:
//! the host does not go on unrecorded.

use super::Session;
use crate::bindings::types;
use crate::keys::CallKeys;
use crate::policy::audit::{
    AuditRecord, AuditedRequest, Decision, SCHEMA_VERSION, decision_for, now_rfc3339,
};
use crate::policy::gate::Binding;
use crate::runtime::{CallFailure, CallReport, Outcome};

/// The longest failure text an audit record keeps.
const MAX_FAILURE_CHARS: usize = 2_000;

/// One tool call as the audit records it.
pub(super) struct Invocation<'a> {
    /// One id for every step of the call: its runs and the decisions between them.
    pub call_id: String,
    pub tool: &'a str,
    pub arguments_json: &'a str,
    pub arguments: &'a serde_json::Value,
    /// What an approval for this call is bound to (C1).
    pub binding: Binding,
    /// From the manifest the host checked.
    pub writes_allowed: bool,
    /// The face's per-request hook (progress, cancellation), if it watches the call.
    pub observer: Option<std::sync::Arc<dyn crate::runtime::CallObserver>>,
}

impl Session {
    /// Records a read-only export's run, then hands its outcome on.
    pub(super) fn audited_read<T>(
        &self,
        ctx: &types::CallContext,
        keys: &CallKeys,
        export: &str,
        outcome: Outcome<T>,
        report: &CallReport,
    ) -> Result<T, CallFailure> {
        let decision = decision_for(report, false, false, false);
        let failure = outcome.as_ref().err().map(|f| f.to_string());
        self.audit(
            ctx.call_id.as_str(),
            keys,
            export,
            None,
            decision,
            report,
            failure,
        )?;
        outcome
    }

    pub(super) fn audit_tool(
        &self,
        ctx: &types::CallContext,
        keys: &CallKeys,
        invocation: &Invocation<'_>,
        approved: bool,
        outcome: &Outcome<Result<types::ToolOutcome, types::CallError>>,
        report: &CallReport,
    ) -> Result<(), CallFailure> {
        let proposed = matches!(outcome, Ok(Ok(types::ToolOutcome::Proposal(_))));
        let decision = decision_for(report, invocation.writes_allowed, approved, proposed);
        let failure = outcome.as_ref().err().map(|f| f.to_string());
        let call_id = ctx.call_id.as_str();
        self.audit(
            call_id,
            keys,
            "call-tool",
            Some(invocation),
            decision,
            report,
            failure,
        )
    }

    /// A decision between runs (no request is made).
    pub(super) fn audit_decision(
        &self,
        invocation: &Invocation<'_>,
        decision: Decision,
        failure: Option<String>,
    ) -> Result<(), CallFailure> {
        let keys = self.call_keys().unwrap_or_default();
        let report = CallReport::default();
        let call_id = invocation.call_id.as_str();
        self.audit(
            call_id,
            &keys,
            "call-tool",
            Some(invocation),
            decision,
            &report,
            failure,
        )
    }

    /// A call refused before any of the plugin's code ran: an unknown tool, or arguments that
    /// break the tool's input schema. The agent's attempt is a decision too.
    pub(super) fn audit_refused_call(&self, tool: &str, why: &str) -> Result<(), CallFailure> {
        let keys = self.call_keys().unwrap_or_default();
        let call_id = self.context().call_id;
        self.audit_with_tool(
            &call_id,
            &keys,
            "call-tool",
            None,
            Some(tool),
            Decision::Refused,
            &CallReport::default(),
            Some(why.to_string()),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn audit(
        &self,
        call_id: &str,
        keys: &CallKeys,
        export: &str,
        invocation: Option<&Invocation<'_>>,
        decision: Decision,
        report: &CallReport,
        failure: Option<String>,
    ) -> Result<(), CallFailure> {
        self.audit_with_tool(
            call_id, keys, export, invocation, None, decision, report, failure,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn audit_with_tool(
        &self,
        call_id: &str,
        keys: &CallKeys,
        export: &str,
        invocation: Option<&Invocation<'_>>,
        tool: Option<&str>,
        decision: Decision,
        report: &CallReport,
        failure: Option<String>,
    ) -> Result<(), CallFailure> {
        let Some(log) = &self.audit else {
            return Ok(());
        };
        // Every field of a record is bounded (request records keep a capped host and path),
        // so one line is too: a failure may quote the plugin.
        let failure = failure.map(|text| crate::policy::display::line(&text, MAX_FAILURE_CHARS));
        let record = AuditRecord {
            v: SCHEMA_VERSION,
            time: now_rfc3339(),
            plugin_id: &self.plugin.manifest().id,
            plugin_digest: self.plugin.digest(),
            call_id,
            export,
            tool: invocation.map(|i| i.tool).or(tool),
            arguments_digest: invocation.map(|i| i.binding.arguments_digest.as_str()),
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
        log.write(&record, |line| keys.redact_text(line))
            .map_err(|e| {
                CallFailure::Audit(format!(
                    "the audit log {} could not be written: {e}",
                    log.path().display()
                ))
            })
    }
}

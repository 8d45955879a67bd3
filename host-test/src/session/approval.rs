//! The approval loop of contract C1. A write tool called without approval may only propose.
//! The host checks that it could send the proposal, asks the person, and on approval mints a
//! single-use approval bound to the plugin's digest, the tool and the arguments, then calls the
//! tool again with it. If the state changed under the approval, the plugin proposes again and
//! the person is asked again, a bounded number of times.

use super::outcome::finish;
use super::record::Invocation;
use super::{Session, ToolCall};
use crate::bindings::types;
use crate::policy::audit::Decision;
use crate::policy::confirm::{Answer, ConfirmationRequest, Confirmer};
use crate::policy::gate::WriteGate;
use crate::runtime::{CallFailure, CallReport, HostTool};

/// How many times one call may come back with a new proposal after an approval (the state
/// changed under it) before the host gives up.
const MAX_PROPOSAL_ROUNDS: usize = 3;

impl Session {
    /// Takes the tool's first answer to its end: a result, or a proposal asked about and
    /// replayed until the plugin answers with a result.
    pub(super) async fn settle(
        &self,
        invocation: &Invocation<'_>,
        tool: &HostTool,
        mut outcome: Result<types::ToolOutcome, types::CallError>,
        mut report: CallReport,
        confirmer: &dyn Confirmer,
    ) -> Result<(ToolCall, CallReport), CallFailure> {
        for _round in 0..MAX_PROPOSAL_ROUNDS {
            let proposal = match outcome {
                Ok(types::ToolOutcome::Proposal(proposal)) => proposal,
                other => return Ok((finish(other, &report, tool), report)),
            };
            if let Some(refusal) = self.refusal(invocation, &proposal) {
                self.audit_decision(invocation, Decision::Refused, Some(refusal.clone()))?;
                return Ok((ToolCall::Refused(refusal), report));
            }
            // The host renders the writes itself; the credential is named by its slot (C1).
            let request = ConfirmationRequest::render(
                self.plugin.manifest().service_name(),
                invocation.tool,
                &proposal,
                &self.plugin.outbound().rules.slots,
            );
            let answer = confirmer.confirm(&request).await;
            self.audit_decision(invocation, Decision::from(answer), None)?;
            if answer != Answer::Approved {
                return Ok((ToolCall::NotConfirmed { answer, request }, report));
            }
            let approval = self.approvals.mint(invocation.binding.clone(), proposal);
            let approved_writes = match self.approvals.redeem(&approval.id, &invocation.binding) {
                Ok(writes) => writes,
                Err(error) => {
                    self.audit_decision(invocation, Decision::Refused, Some(error.to_string()))?;
                    return Ok((ToolCall::Refused(error.to_string()), report));
                }
            };
            let gate = WriteGate::approved(&approved_writes);
            (outcome, report) = self.run_tool(invocation, Some(approval), gate).await?;
        }
        Ok((
            ToolCall::Refused(format!(
                "the state kept changing: {MAX_PROPOSAL_ROUNDS} proposals in a row; nothing more was applied"
            )),
            report,
        ))
    }

    /// Why the host will not put this proposal to the person, if it will not.
    fn refusal(&self, invocation: &Invocation<'_>, proposal: &types::Proposal) -> Option<String> {
        if !invocation.writes_allowed {
            return Some(format!(
                "the read-only tool `{}` proposed a change; it was ignored",
                invocation.tool
            ));
        }
        if proposal.writes.is_empty() {
            return Some("the plugin proposed an empty change".to_string());
        }
        // A proposal that could never be sent in full is not worth a question.
        let per_call = self.plugin.outbound().limits.max_requests_per_call as usize;
        if proposal.writes.len() > per_call {
            return Some(format!(
                "the plugin proposed {} writes; one call may send at most {per_call}",
                proposal.writes.len()
            ));
        }
        let rules = &self.plugin.outbound().rules;
        proposal
            .writes
            .iter()
            .find_map(|write| rules.check_proposed(write).err())
            .map(|problem| {
                format!("the plugin proposed a change this host will not send: {problem}")
            })
    }
}

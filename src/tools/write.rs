//! The plugin side of contract C1, shared by the write tools. Without an approval a write tool
//! only reads and proposes; with one it recomputes the proposal from the current state and
//! sends the approved writes only if they are still exactly what it would propose. Writes are
//! never retried; when their outcome is unclear the resource is read back (contract C3).

use crate::prelude::*;

use super::{failure, rfc3339, text};
use crate::api::{CallContext, CallError, PlannedWrite, Proposal, ToolOutcome};
use crate::ingrid::IngridClient;
use crate::ingrid::client::{decode_body, status_error, trace_id};
use crate::ingrid::error::{IngridError, Subject};
use crate::ingrid::json::FromBody;
use crate::transport::HttpError;

/// What a write tool knows about the resource its write changes, to report on a sent write.
pub trait WriteTarget {
    type Resource: FromBody;

    fn subject(&self) -> Subject;
    /// The read tool call that shows the resource, for "check it before trying again".
    fn check_with(&self) -> String;
    /// Reads the resource as it is now.
    fn read(&self, client: &IngridClient) -> Result<Self::Resource, IngridError>;
    fn status<'r>(&self, resource: &'r Self::Resource) -> &'r str;
    /// The resource shows this very write applied.
    fn shows_applied(&self, resource: &Self::Resource) -> bool;
    /// The resource's state still allows the write.
    fn allows_write(&self, resource: &Self::Resource) -> bool;
    /// The agent's result once the write is applied; `note` says how that was established
    /// when the write's own answer did not.
    fn applied(
        &self,
        resource: Self::Resource,
        note: Option<&str>,
    ) -> Result<ToolOutcome, CallError>;
}

/// Runs the two phases for a plan computed from the current state: `Err` is the reason the
/// change cannot be proposed (a refusal, or a failed read).
pub fn propose_or_apply<W: WriteTarget>(
    client: &IngridClient,
    ctx: &CallContext,
    plan: Result<Proposal, String>,
    target: &W,
) -> Result<ToolOutcome, CallError> {
    let proposal = match plan {
        Ok(proposal) => proposal,
        Err(reason) if ctx.approval.is_some() => {
            return failure(format!("Nothing was sent. {reason}"));
        }
        Err(reason) => return failure(reason),
    };
    let Some(approval) = &ctx.approval else {
        return Ok(ToolOutcome::Proposal(proposal));
    };
    let still_as_approved = approval.writes == proposal.writes
        && approval.summary == proposal.summary
        && approval.details == proposal.details;
    if !still_as_approved {
        // The person approved something else than what the current state calls for (the
        // writes, or what they were told about them): they must be asked again (the host
        // treats this as a new proposal).
        return Ok(ToolOutcome::Proposal(Proposal {
            summary: format!(
                "Nothing was sent: Ingrid's data no longer matches what was approved. New \
                 proposal: {}",
                proposal.summary
            ),
            ..proposal
        }));
    }
    match proposal.writes.as_slice() {
        [write] => apply(client, write, target),
        writes => Err(CallError::Internal(format!(
            "a write tool planned {} writes; each plans exactly one",
            writes.len()
        ))),
    }
}

/// Sends the approved write once and tells the agent what happened.
fn apply<W: WriteTarget>(
    client: &IngridClient,
    write: &PlannedWrite,
    target: &W,
) -> Result<ToolOutcome, CallError> {
    let subject = target.subject();
    let response = match client.send_write(write) {
        Ok(response) => response,
        Err(HttpError::ConfirmationRequired(reason)) => {
            return failure(format!(
                "This change needs the person's approval, and the host did not accept this call \
                 as approved, so nothing was sent (host: {}).",
                text::clean(&reason, 200)
            ));
        }
        Err(HttpError::Denied(reason)) => {
            return failure(format!(
                "The host refused to send this change, so nothing was sent (host: {}).",
                text::clean(&reason, 200)
            ));
        }
        Err(HttpError::NotSent(reason) | HttpError::Timeout(reason)) => {
            return failure(format!(
                "The change to {subject} was not sent ({}), so nothing changed; it is safe to \
                 try again.",
                text::clean(&reason, 200)
            ));
        }
        // A response too large to read may come after the write was applied.
        Err(error @ (HttpError::OutcomeUnknown(_) | HttpError::TooLarge(_))) => {
            return read_back(
                client,
                target,
                &format!("The change to {subject} was sent, but its outcome is unknown ({error})"),
            );
        }
    };
    let status = response.status;
    if (200..300).contains(&status) {
        return match decode_body(&response, subject.clone()) {
            Ok(resource) => target.applied(resource, None),
            Err(error) => read_back(
                client,
                target,
                &format!(
                    "Ingrid accepted the change (HTTP {status}), but its answer was unreadable ({error})"
                ),
            ),
        };
    }
    if (500..600).contains(&status) {
        // A gateway error can come after the change was made: look before saying anything.
        let trace = trace_id(&response)
            .map(|id| format!(", Ingrid trace id {id}"))
            .unwrap_or_default();
        return read_back(
            client,
            target,
            &format!("Ingrid answered the change to {subject} with HTTP {status}{trace}"),
        );
    }
    let error = status_error(&response, &subject);
    if error.status() == Some(409) {
        // Ingrid's body need not say the current status; reading it makes the conflict clear.
        if let Ok(resource) = target.read(client) {
            return failure(
                error
                    .with_current_status(target.status(&resource))
                    .to_string(),
            );
        }
    }
    failure(format!("{error} Nothing was changed."))
}

/// After an unclear outcome: reads the resource and says whether the change took effect.
fn read_back<W: WriteTarget>(
    client: &IngridClient,
    target: &W,
    what_happened: &str,
) -> Result<ToolOutcome, CallError> {
    let subject = target.subject();
    match target.read(client) {
        Ok(resource) if target.shows_applied(&resource) => target.applied(
            resource,
            Some(&format!(
                "{what_happened}; reading it back shows it took effect: the change was applied \
                 although the answer was lost."
            )),
        ),
        Ok(resource) if target.allows_write(&resource) => failure(format!(
            "{what_happened}. Reading it back shows it was not applied: {subject} is still {}. \
             It is safe to try again.",
            text::clean(target.status(&resource), 40)
        )),
        Ok(resource) => failure(format!(
            "{what_happened}. Reading it back shows it was not applied by this call: {subject} \
             is {} now, which no longer allows this change.",
            text::clean(target.status(&resource), 40)
        )),
        Err(error) => failure(format!(
            "{what_happened}, and reading it back failed: {error}. Whether the change took \
             effect is unknown: check with {} before trying again.",
            target.check_with()
        )),
    }
}

/// The time fixed into a proposal: the wall clock, RFC 3339 UTC with whole seconds.
pub fn proposal_time(client: &IngridClient) -> Result<String, CallError> {
    let seconds = client.transport().wall_clock_unix_secs();
    rfc3339::format_utc(seconds)
        .ok_or_else(|| CallError::Internal(format!("the host clock reads {seconds} s, not a time")))
}

/// The same instant, whatever the offset or precision each was written with.
pub fn same_instant(left: &str, right: &str) -> bool {
    match (rfc3339::parse(left), rfc3339::parse(right)) {
        (Some(left), Some(right)) => left == right,
        _ => left == right,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ScriptedTransport, context};

    #[test]
    fn the_proposal_time_is_rfc3339_utc_in_whole_seconds() {
        let transport = ScriptedTransport::new(vec![]);
        let client = IngridClient::new(&transport, &context());
        assert_eq!(
            proposal_time(&client).as_deref(),
            Ok("2026-11-18T11:06:40Z")
        );
    }

    #[test]
    fn instants_compare_across_offsets() {
        assert!(same_instant(
            "2026-11-18T12:06:40+01:00",
            "2026-11-18T11:06:40Z"
        ));
        assert!(!same_instant(
            "2026-11-18T11:06:41Z",
            "2026-11-18T11:06:40Z"
        ));
    }
}

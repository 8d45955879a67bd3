use crate::api::{CallError, Method, PlannedWrite, Proposal};
use crate::connector::call_tool;
use crate::testing::fixtures::{RETURN_50043, refund_json};
use crate::testing::{
    ScriptedTransport, approved_context, context, expect_proposal, expect_result, json, structured,
};
use crate::transport::{HttpError, Transport};

const TOOL: &str = "mark_refund_externally_refunded";
const URL: &str = "https://ingrid.test/merchant/refund-transaction/90001/externally-refunded";
const ARGS: &str = r#"{"refundTransactionId":90001,"externalReference":"PSP-7781"}"#;
/// The fake wall clock at the start of a test, as the default `refundedAt`.
const PROPOSAL_TIME: &str = "2026-11-18T11:06:40Z";

fn planned(body: &str) -> PlannedWrite {
    PlannedWrite {
        method: Method::Post,
        url: URL.to_string(),
        credential: Some("ingrid-api-key".to_string()),
        body: body.as_bytes().to_vec(),
    }
}

fn propose(args: &str) -> Proposal {
    let transport = ScriptedTransport::new(vec![
        json(200, &refund_json("PENDING")),
        json(200, RETURN_50043),
    ]);
    let proposal = expect_proposal(call_tool(&transport, TOOL, args, &context()));
    assert!(transport.writes().is_empty(), "a proposal only reads");
    proposal
}

#[test]
fn without_approval_it_reads_and_proposes_exact_bytes_with_the_proposal_time() {
    let transport = ScriptedTransport::new(vec![
        json(200, &refund_json("PENDING")),
        json(200, RETURN_50043),
    ]);
    let proposal = expect_proposal(call_tool(&transport, TOOL, ARGS, &context()));
    assert_eq!(
        transport.urls(),
        [
            "https://ingrid.test/merchant/refund-transaction/90001",
            "https://ingrid.test/merchant/return/50043",
        ]
    );
    assert!(transport.writes().is_empty());
    assert_eq!(
        proposal.writes,
        [planned(&format!(
            r#"{{"externalReference":"PSP-7781","refundedAt":"{PROPOSAL_TIME}"}}"#
        ))]
    );
    assert_eq!(
        proposal.summary,
        "Mark refund transaction 90001 of 1048.00 SEK (return 50043, order DM-200043) as \
         externally refunded, i.e. paid outside Ingrid."
    );
    assert!(
        proposal.details.contains(&format!(
            "Refunded at: {PROPOSAL_TIME} (the time of this proposal, UTC)\nExternal reference: \"PSP-7781\""
        )),
        "{}",
        proposal.details
    );
    assert!(
        proposal.details.contains("pays nothing itself"),
        "{}",
        proposal.details
    );
}

#[test]
fn absent_values_are_omitted_and_a_given_time_is_kept_as_given() {
    let proposal = propose(r#"{"refundTransactionId":90001}"#);
    assert_eq!(
        String::from_utf8_lossy(&proposal.writes[0].body),
        format!(r#"{{"refundedAt":"{PROPOSAL_TIME}"}}"#)
    );
    assert!(proposal.details.contains("External reference: none"));

    let proposal =
        propose(r#"{"refundTransactionId":90001,"refundedAt":"2026-11-17T09:00:00+01:00"}"#);
    assert_eq!(
        String::from_utf8_lossy(&proposal.writes[0].body),
        r#"{"refundedAt":"2026-11-17T09:00:00+01:00"}"#
    );
    assert!(
        proposal
            .details
            .contains("Refunded at: 2026-11-17T09:00:00+01:00\n")
    );
}

#[test]
fn only_a_pending_refund_is_proposed() {
    for status in ["EXTERNALLY_REFUNDED", "REFUNDED", "FAILED"] {
        let transport = ScriptedTransport::new(vec![json(200, &refund_json(status))]);
        let result = expect_result(call_tool(&transport, TOOL, ARGS, &context()));
        assert!(result.is_error);
        assert_eq!(
            result.text,
            format!(
                "Refund transaction 90001 is {status}; only a PENDING refund can be marked \
                 externally refunded, so this change cannot be made."
            )
        );
        assert_eq!(transport.sent.borrow().len(), 1, "{status}");
    }

    let transport = ScriptedTransport::new(vec![json(404, r#"{"message":"not found"}"#)]);
    let result = expect_result(call_tool(
        &transport,
        TOOL,
        r#"{"refundTransactionId":90999}"#,
        &context(),
    ));
    assert!(
        result
            .text
            .starts_with("refund transaction 90999 does not exist in Ingrid (HTTP 404)"),
        "{}",
        result.text
    );
}

#[test]
fn arguments_are_checked_before_anything_is_read() {
    for (args, needle) in [
        (
            r#"{"refundTransactionId":90001,"externalReference":""}"#,
            "`externalReference`",
        ),
        (
            &format!(
                r#"{{"refundTransactionId":90001,"externalReference":"{}"}}"#,
                "x".repeat(201)
            ),
            "at most 200",
        ),
        (
            r#"{"refundTransactionId":90001,"refundedAt":"yesterday"}"#,
            "`refundedAt`",
        ),
        (r#"{"externalReference":"PSP-1"}"#, "refundTransactionId"),
    ] {
        let transport = ScriptedTransport::new(vec![]);
        match call_tool(&transport, TOOL, args, &context()) {
            Err(CallError::InvalidArguments(message)) => {
                assert!(message.contains(needle), "{args}: {message}")
            }
            other => panic!("{args}: {other:?}"),
        }
        assert!(transport.sent.borrow().is_empty());
    }
}

#[test]
fn an_approved_replay_sends_the_approved_bytes_with_the_proposal_time_once() {
    let approved = propose(ARGS);
    let transport = ScriptedTransport::new(vec![
        json(200, &refund_json("PENDING")),
        json(200, RETURN_50043),
        json(200, &refund_json("EXTERNALLY_REFUNDED")),
    ]);
    // The person took two minutes to approve: "now" is no longer the proposal's time.
    transport.sleep_ms(120_000);
    assert_ne!(
        transport.wall_clock_unix_secs(),
        crate::testing::WALL_CLOCK_START_SECS
    );
    let result = expect_result(call_tool(
        &transport,
        TOOL,
        ARGS,
        &approved_context(approved.clone()),
    ));
    let writes = transport.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].url, URL);
    assert_eq!(writes[0].credential.as_deref(), Some("ingrid-api-key"));
    assert_eq!(writes[0].body, approved.writes[0].body);
    assert!(
        String::from_utf8_lossy(&writes[0].body).contains(PROPOSAL_TIME),
        "the approved time, not now"
    );
    let output = structured(TOOL, &result);
    assert_eq!(output["status"], "EXTERNALLY_REFUNDED");
    assert_eq!(output["amount"], "1048.00");
    assert!(
        result.text.starts_with(
            "Refund transaction 90001 of 1048.00 SEK (return 50043) is now EXTERNALLY_REFUNDED."
        ),
        "{}",
        result.text
    );
}

#[test]
fn a_refund_no_longer_pending_at_replay_sends_nothing() {
    let approved = propose(ARGS);
    let transport = ScriptedTransport::new(vec![json(200, &refund_json("EXTERNALLY_REFUNDED"))]);
    let result = expect_result(call_tool(
        &transport,
        TOOL,
        ARGS,
        &approved_context(approved),
    ));
    assert!(result.is_error);
    assert!(
        result.text.starts_with(
            "Nothing was sent. Refund transaction 90001 is EXTERNALLY_REFUNDED; only a PENDING \
             refund"
        ),
        "{}",
        result.text
    );
    assert!(transport.writes().is_empty());
}

#[test]
fn an_approval_for_other_bytes_gets_a_new_proposal_and_nothing_is_sent() {
    let other = planned(r#"{"externalReference":"PSP-0000","refundedAt":"2026-11-18T11:06:40Z"}"#);
    let transport = ScriptedTransport::new(vec![
        json(200, &refund_json("PENDING")),
        json(200, RETURN_50043),
    ]);
    let proposal = expect_proposal(call_tool(
        &transport,
        TOOL,
        ARGS,
        &approved_context(Proposal {
            writes: vec![other],
            ..propose(ARGS)
        }),
    ));
    assert!(transport.writes().is_empty());
    assert!(
        proposal.summary.starts_with("Nothing was sent:"),
        "{}",
        proposal.summary
    );
    assert_eq!(
        String::from_utf8_lossy(&proposal.writes[0].body),
        format!(r#"{{"externalReference":"PSP-7781","refundedAt":"{PROPOSAL_TIME}"}}"#),
        "the approved time is kept, the reference is the agent's"
    );
}

#[test]
fn an_unknown_outcome_is_read_back_and_reported_either_way() {
    let approved = propose(ARGS);
    let applied = ScriptedTransport::new(vec![
        json(200, &refund_json("PENDING")),
        json(200, RETURN_50043),
        Err(HttpError::OutcomeUnknown("timed out after sending".into())),
        json(200, &refund_json("EXTERNALLY_REFUNDED")),
    ]);
    let result = expect_result(call_tool(
        &applied,
        TOOL,
        ARGS,
        &approved_context(approved.clone()),
    ));
    assert!(!result.is_error, "{}", result.text);
    assert!(
        result
            .text
            .contains("the change was applied although the answer was lost."),
        "{}",
        result.text
    );
    assert_eq!(applied.writes().len(), 1);

    let not_applied = ScriptedTransport::new(vec![
        json(200, &refund_json("PENDING")),
        json(200, RETURN_50043),
        Err(HttpError::OutcomeUnknown("connection reset".into())),
        json(200, &refund_json("PENDING")),
    ]);
    let result = expect_result(call_tool(
        &not_applied,
        TOOL,
        ARGS,
        &approved_context(approved.clone()),
    ));
    assert!(result.is_error);
    assert!(
        result.text.ends_with(
            "it was not applied: refund transaction 90001 is still PENDING. It is safe to try \
             again."
        ),
        "{}",
        result.text
    );
    assert_eq!(not_applied.writes().len(), 1, "a write is never retried");

    let unreadable = ScriptedTransport::new(vec![
        json(200, &refund_json("PENDING")),
        json(200, RETURN_50043),
        Err(HttpError::OutcomeUnknown("connection reset".into())),
        json(503, "{}"),
        json(503, "{}"),
        json(503, "{}"),
    ]);
    let result = expect_result(call_tool(
        &unreadable,
        TOOL,
        ARGS,
        &approved_context(approved),
    ));
    assert!(result.is_error);
    assert!(
        result.text.contains(
            "Whether the change took effect is unknown: check with \
             get_refund_transaction (refundTransactionId 90001) before trying again."
        ),
        "{}",
        result.text
    );
}

#[test]
fn a_conflict_on_the_write_states_the_current_status() {
    let approved = propose(ARGS);
    let transport = ScriptedTransport::new(vec![
        json(200, &refund_json("PENDING")),
        json(200, RETURN_50043),
        json(409, r#"{"message":"conflict"}"#),
        json(200, &refund_json("REFUNDED")),
    ]);
    let result = expect_result(call_tool(
        &transport,
        TOOL,
        ARGS,
        &approved_context(approved),
    ));
    assert!(result.is_error);
    assert!(
        result.text.starts_with(
            "refund transaction 90001 is REFUNDED now, which does not allow this change (HTTP 409)."
        ),
        "{}",
        result.text
    );
}

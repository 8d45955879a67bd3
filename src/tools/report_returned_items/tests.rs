use crate::api::{CallError, Method, PlannedWrite, Proposal};
use crate::connector::call_tool;
use crate::testing::fixtures::{reported_return_json, return_json, return_with_items};
use crate::testing::{
    ScriptedTransport, approved_context, context, expect_proposal, expect_result, json, structured,
};
use crate::transport::HttpError;

const URL: &str = "https://ingrid.test/merchant/return/50075/returned-items";
/// Approve both T-shirts with a remark, reject the jeans.
const ARGS: &str = r#"{"returnId":50075,"items":[
    {"returnItemId":70150,"quantity":2,"approved":true,"remark":"Unworn, tags on"},
    {"returnItemId":70151,"quantity":1,"approved":false}]}"#;
const BODY: &str = r#"{"items":[{"returnItemId":70150,"quantity":2,"approved":true,"remark":"Unworn, tags on"},{"returnItemId":70151,"quantity":1,"approved":false}]}"#;

fn planned() -> PlannedWrite {
    PlannedWrite {
        method: Method::Post,
        url: URL.to_string(),
        credential: Some("ingrid-api-key".to_string()),
        body: BODY.as_bytes().to_vec(),
    }
}

/// The proposal for ARGS on the standard IN_TRANSIT REFUND return, as the person saw it.
fn proposed() -> Proposal {
    let transport = ScriptedTransport::new(vec![json(200, &return_json("IN_TRANSIT", "REFUND"))]);
    expect_proposal(call_tool(
        &transport,
        "report_returned_items",
        ARGS,
        &context(),
    ))
}

#[test]
fn a_change_the_write_bytes_do_not_show_is_asked_about_again() {
    // Same items and quantities, so the same body bytes; but the refund the person was told
    // about is no longer what Ingrid would create.
    let repriced = return_json("IN_TRANSIT", "REFUND").replace("249.50", "199.50");
    assert_ne!(
        repriced,
        return_json("IN_TRANSIT", "REFUND"),
        "the fixture changed"
    );
    let transport = ScriptedTransport::new(vec![json(200, &repriced)]);
    let proposal = expect_proposal(call_tool(
        &transport,
        "report_returned_items",
        ARGS,
        &approved_context(proposed()),
    ));
    assert!(transport.writes().is_empty(), "nothing sent");
    assert_eq!(proposal.writes, [planned()], "same bytes, asked again");
    assert!(
        proposal.summary.starts_with("Nothing was sent:"),
        "{}",
        proposal.summary
    );
}

#[test]
fn without_approval_it_only_reads_and_proposes_exact_bytes() {
    let transport = ScriptedTransport::new(vec![json(200, &return_json("IN_TRANSIT", "REFUND"))]);
    let proposal = expect_proposal(call_tool(
        &transport,
        "report_returned_items",
        ARGS,
        &context(),
    ));
    assert_eq!(
        transport.urls(),
        ["https://ingrid.test/merchant/return/50075"]
    );
    assert!(transport.writes().is_empty());
    assert_eq!(proposal.writes, [planned()]);
    assert_eq!(
        proposal.summary,
        "Report the inspection of return 50075 (order DM-200075) to Ingrid: 1 item(s) approved, \
         1 rejected; a refund of 499.00 SEK will be created."
    );
    assert_eq!(
        proposal.details,
        "Return 50075 · order DM-200075 (orderId 10075) · IN_TRANSIT · resolution REFUND\n\
         Items, in the order they will be reported:\n\
         - return item 70150 · SKU TS-BLK-M · T-shirt black M · quantity 2 of 2 returned · \
         approve · remark \"Unworn, tags on\"\n\
         - return item 70151 · SKU JN-IND-32 · Jeans indigo 32 · quantity 1 of 1 returned · \
         reject · no remark\n\
         What follows: a refund of 499.00 SEK will be created (approved quantity × unit refund \
         amount), and the return becomes AWAITING_REFUND."
    );
}

#[test]
fn the_refund_is_exact_and_the_body_keeps_the_agents_order() {
    let items = r#"{"id":70150,"sku":"A","title":"A","quantity":3,"status":"PENDING","unitRefundAmount":0.10},
                   {"id":70151,"sku":"B","title":"B","quantity":1,"status":"PENDING","unitRefundAmount":1299.99}"#;
    let transport = ScriptedTransport::new(vec![json(
        200,
        &return_with_items("AWAITING_RETURN", "REFUND", items),
    )]);
    let args = r#"{"returnId":50075,"items":[
        {"returnItemId":70151,"quantity":1,"approved":true},
        {"returnItemId":70150,"quantity":3,"approved":true}]}"#;
    let proposal = expect_proposal(call_tool(
        &transport,
        "report_returned_items",
        args,
        &context(),
    ));
    // 3 × 0.10 + 1299.99, exactly.
    assert!(
        proposal
            .summary
            .contains("a refund of 1300.29 SEK will be created"),
        "{}",
        proposal.summary
    );
    assert_eq!(
        String::from_utf8_lossy(&proposal.writes[0].body),
        r#"{"items":[{"returnItemId":70151,"quantity":1,"approved":true},{"returnItemId":70150,"quantity":3,"approved":true}]}"#
    );
}

#[test]
fn exchange_and_all_rejected_say_what_follows() {
    let transport = ScriptedTransport::new(vec![json(200, &return_json("IN_TRANSIT", "EXCHANGE"))]);
    let proposal = expect_proposal(call_tool(
        &transport,
        "report_returned_items",
        ARGS,
        &context(),
    ));
    assert!(
        proposal
            .summary
            .ends_with("; the exchange continues in Ingrid's backoffice."),
        "{}",
        proposal.summary
    );

    let transport = ScriptedTransport::new(vec![json(200, &return_json("IN_TRANSIT", "REFUND"))]);
    let args = r#"{"returnId":50075,"items":[
        {"returnItemId":70150,"quantity":2,"approved":false,"remark":"Worn"},
        {"returnItemId":70151,"quantity":1,"approved":false}]}"#;
    let proposal = expect_proposal(call_tool(
        &transport,
        "report_returned_items",
        args,
        &context(),
    ));
    assert!(
        proposal.summary.ends_with(
            "0 item(s) approved, 2 rejected; the return will be completed with no refund."
        ),
        "{}",
        proposal.summary
    );
}

#[test]
fn the_order_is_read_when_the_return_lacks_its_number() {
    let without_number =
        return_json("IN_TRANSIT", "REFUND").replace(r#""orderNumber":"DM-200075","#, "");
    let order = r#"{"id":10075,"orderNumber":"DM-200075","createdAt":"2026-05-30T08:00:00Z",
        "currencyCode":"SEK","lineItems":[],"totalAmount":1398.00}"#;
    let transport = ScriptedTransport::new(vec![json(200, &without_number), json(200, order)]);
    let proposal = expect_proposal(call_tool(
        &transport,
        "report_returned_items",
        ARGS,
        &context(),
    ));
    assert_eq!(
        transport.urls()[1],
        "https://ingrid.test/merchant/order/10075"
    );
    assert!(
        proposal.summary.contains("(order DM-200075)"),
        "{}",
        proposal.summary
    );
}

#[test]
fn what_ingrid_would_refuse_is_refused_and_nothing_is_sent() {
    let reported = reported_return_json("AWAITING_RETURN", "APPROVED", "REJECTED");
    let cases = [
        (
            return_json("AWAITING_REFUND", "REFUND"),
            ARGS.to_string(),
            "Return 50075 is AWAITING_REFUND; items can only be reported while a return is \
             AWAITING_RETURN or IN_TRANSIT",
        ),
        (
            reported,
            ARGS.to_string(),
            "were already reported (return item 70150 is APPROVED)",
        ),
        (
            return_json("IN_TRANSIT", "REFUND"),
            ARGS.replace("70151", "79999"),
            "Return item 79999 is not an item of return 50075; its items are 70150, 70151.",
        ),
        (
            return_json("IN_TRANSIT", "REFUND"),
            r#"{"returnId":50075,"items":[{"returnItemId":70150,"quantity":2,"approved":true}]}"#
                .to_string(),
            "missing: return item 70151 (SKU JN-IND-32 · Jeans indigo 32).",
        ),
        (
            return_json("IN_TRANSIT", "REFUND"),
            ARGS.replace("70151", "70150"),
            "Return item 70150 is listed more than once",
        ),
        (
            return_json("IN_TRANSIT", "REFUND"),
            ARGS.replace(r#""quantity":2"#, r#""quantity":3"#),
            "Quantity 3 for return item 70150 (SKU TS-BLK-M · T-shirt black M) is more than the \
             2 unit(s) returned.",
        ),
    ];
    for (state, args, needle) in cases {
        let transport = ScriptedTransport::new(vec![json(200, &state)]);
        let result = expect_result(call_tool(
            &transport,
            "report_returned_items",
            &args,
            &context(),
        ));
        assert!(result.is_error, "{args}");
        assert!(result.text.contains(needle), "{needle}\n{}", result.text);
        assert!(transport.writes().is_empty(), "{args}");
    }
}

#[test]
fn argument_problems_name_the_argument_before_anything_is_read() {
    for (args, needle) in [
        (r#"{"returnId":50075,"items":[]}"#, "`items`"),
        (
            r#"{"returnId":50075,"items":[{"returnItemId":70150,"quantity":0,"approved":true}]}"#,
            "`items[0].quantity`",
        ),
        (
            r#"{"returnId":50075,"items":[{"returnItemId":70150,"quantity":1,"approved":true,"remark":" "}]}"#,
            "`items[0].remark`",
        ),
        (
            r#"{"returnId":50075,"items":[{"returnItemId":70150,"quantity":1}]}"#,
            "approved",
        ),
        (
            r#"{"returnId":50075,"items":[{"returnItemId":70150,"quantity":1,"approved":true}],"confirmed":true}"#,
            "confirmed",
        ),
    ] {
        let transport = ScriptedTransport::new(vec![]);
        match call_tool(&transport, "report_returned_items", args, &context()) {
            Err(CallError::InvalidArguments(message)) => {
                assert!(message.contains(needle), "{args}: {message}")
            }
            other => panic!("{args}: {other:?}"),
        }
        assert!(transport.sent.borrow().is_empty(), "{args}");
    }
}

#[test]
fn with_a_matching_approval_the_exact_bytes_are_sent_once() {
    let transport = ScriptedTransport::new(vec![
        json(200, &return_json("IN_TRANSIT", "REFUND")),
        json(
            200,
            &reported_return_json("AWAITING_REFUND", "APPROVED", "REJECTED"),
        ),
    ]);
    let result = expect_result(call_tool(
        &transport,
        "report_returned_items",
        ARGS,
        &approved_context(proposed()),
    ));
    let writes = transport.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].method, Method::Post);
    assert_eq!(writes[0].url, URL);
    assert_eq!(writes[0].credential.as_deref(), Some("ingrid-api-key"));
    assert_eq!(writes[0].body, BODY.as_bytes());
    assert_eq!(transport.unused_answers(), 0);
    let output = structured("report_returned_items", &result);
    assert_eq!(output["status"], "AWAITING_REFUND");
    assert_eq!(output["refundAmount"], "499.00");
    assert_eq!(output["items"][1]["status"], "REJECTED");
    assert_eq!(
        result.text,
        "Reported the inspection of return 50075 (order DM-200075): return item 70150 APPROVED, \
         return item 70151 REJECTED.\n\
         The return is now AWAITING_REFUND: Ingrid creates a PENDING refund of 499.00 SEK; \
         list_refund_transactions with returnId 50075 shows it."
    );
}

#[test]
fn a_changed_state_sends_nothing_and_refuses() {
    let transport = ScriptedTransport::new(vec![json(
        200,
        &reported_return_json("AWAITING_REFUND", "APPROVED", "APPROVED"),
    )]);
    let result = expect_result(call_tool(
        &transport,
        "report_returned_items",
        ARGS,
        &approved_context(proposed()),
    ));
    assert!(result.is_error);
    assert!(
        result
            .text
            .starts_with("Nothing was sent. Return 50075 is AWAITING_REFUND;"),
        "{}",
        result.text
    );
    assert!(transport.writes().is_empty());
}

#[test]
fn an_approval_of_other_bytes_sends_nothing_and_proposes_again() {
    let mut other = planned();
    other.body = BODY.replace("Unworn", "Worn").into_bytes();
    let transport = ScriptedTransport::new(vec![json(200, &return_json("IN_TRANSIT", "REFUND"))]);
    let proposal = expect_proposal(call_tool(
        &transport,
        "report_returned_items",
        ARGS,
        &approved_context(Proposal {
            writes: vec![other],
            ..proposed()
        }),
    ));
    assert!(transport.writes().is_empty());
    assert_eq!(proposal.writes, [planned()]);
    assert!(
        proposal
            .summary
            .starts_with("Nothing was sent: Ingrid's data no longer matches what was approved."),
        "{}",
        proposal.summary
    );
}

#[test]
fn an_unknown_outcome_is_read_back_and_reported_either_way() {
    let applied = ScriptedTransport::new(vec![
        json(200, &return_json("IN_TRANSIT", "REFUND")),
        Err(HttpError::OutcomeUnknown("connection reset".into())),
        json(
            200,
            &reported_return_json("AWAITING_REFUND", "APPROVED", "REJECTED"),
        ),
    ]);
    let result = expect_result(call_tool(
        &applied,
        "report_returned_items",
        ARGS,
        &approved_context(proposed()),
    ));
    assert!(!result.is_error, "{}", result.text);
    assert!(
        result
            .text
            .starts_with("The change to return 50075 was sent, but its outcome is unknown"),
        "{}",
        result.text
    );
    assert!(
        result
            .text
            .contains("the change was applied although the answer was lost.")
    );
    assert_eq!(applied.writes().len(), 1, "a write is never retried");

    let not_applied = ScriptedTransport::new(vec![
        json(200, &return_json("IN_TRANSIT", "REFUND")),
        Err(HttpError::OutcomeUnknown("timed out".into())),
        json(200, &return_json("IN_TRANSIT", "REFUND")),
    ]);
    let result = expect_result(call_tool(
        &not_applied,
        "report_returned_items",
        ARGS,
        &approved_context(proposed()),
    ));
    assert!(result.is_error);
    assert!(
        result.text.ends_with(
            "Reading it back shows it was not applied: return 50075 is still IN_TRANSIT. It is \
             safe to try again."
        ),
        "{}",
        result.text
    );
    assert_eq!(not_applied.writes().len(), 1);
}

#[test]
fn ingrid_refusals_of_the_write_are_explained() {
    let conflict = ScriptedTransport::new(vec![
        json(200, &return_json("IN_TRANSIT", "REFUND")),
        json(
            409,
            r#"{"message":"items can be reported once","code":"CONFLICT"}"#,
        ),
        json(
            200,
            &reported_return_json("AWAITING_REFUND", "APPROVED", "APPROVED"),
        ),
    ]);
    let text = expect_result(call_tool(
        &conflict,
        "report_returned_items",
        ARGS,
        &approved_context(proposed()),
    ))
    .text;
    assert!(
        text.starts_with(
            "return 50075 is AWAITING_REFUND now, which does not allow this change (HTTP 409)."
        ),
        "{text}"
    );
    assert!(text.contains("trace-42"), "{text}");

    let unprocessable = ScriptedTransport::new(vec![
        json(200, &return_json("IN_TRANSIT", "REFUND")),
        json(
            422,
            r#"{"message":"quantity 2 for return item 70150 exceeds its returned quantity 1"}"#,
        ),
    ]);
    let text = expect_result(call_tool(
        &unprocessable,
        "report_returned_items",
        ARGS,
        &approved_context(proposed()),
    ))
    .text;
    assert!(
        text.contains("quantity 2 for return item 70150 exceeds its returned quantity 1"),
        "{text}"
    );
    assert!(text.ends_with("Nothing was changed."), "{text}");

    let down = ScriptedTransport::new(vec![
        json(200, &return_json("IN_TRANSIT", "REFUND")),
        json(503, r#"{"message":"service unavailable"}"#),
        json(200, &return_json("IN_TRANSIT", "REFUND")),
    ]);
    let text = expect_result(call_tool(
        &down,
        "report_returned_items",
        ARGS,
        &approved_context(proposed()),
    ))
    .text;
    assert!(
        text.starts_with("Ingrid answered the change to return 50075 with HTTP 503"),
        "{text}"
    );
    assert!(text.contains("it was not applied"), "{text}");
    assert_eq!(down.writes().len(), 1);
}

#[test]
fn host_refusals_say_so_without_a_way_around() {
    for (error, needle) in [
        (
            HttpError::ConfirmationRequired("no approval for this write".into()),
            "This change needs the person's approval, and the host did not accept this call as \
             approved, so nothing was sent",
        ),
        (
            HttpError::Denied("host not granted".into()),
            "The host refused to send this change, so nothing was sent",
        ),
    ] {
        let transport = ScriptedTransport::new(vec![
            json(200, &return_json("IN_TRANSIT", "REFUND")),
            Err(error),
        ]);
        let result = expect_result(call_tool(
            &transport,
            "report_returned_items",
            ARGS,
            &approved_context(proposed()),
        ));
        assert!(result.is_error);
        assert!(result.text.starts_with(needle), "{}", result.text);
        assert_eq!(transport.unused_answers(), 0, "no read-back, no retry");
    }
}

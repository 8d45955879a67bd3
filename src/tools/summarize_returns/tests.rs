//! Expected figures are worked out by hand from the scripted pages, not by the tool's code.

use crate::api::CallError;
use crate::connector::call_tool;
use crate::testing::{ScriptedTransport, context, expect_result, json, structured};

const RETURNS: &str = r#"[
  {"id":1,"orderId":11,"status":"COMPLETED","resolution":"REFUND","createdAt":"2026-02-01T10:00:00Z",
   "completedAt":"2026-02-05T10:00:00Z","currencyCode":"SEK","items":[
     {"id":101,"sku":"A","quantity":2,"unitRefundAmount":100.00,"reason":"TOO_SMALL","status":"APPROVED"},
     {"id":102,"sku":"B","quantity":1,"unitRefundAmount":0.10,"reason":"DAMAGED","status":"REJECTED"}]},
  {"id":2,"orderId":12,"status":"AWAITING_REFUND","resolution":"REFUND","createdAt":"2026-01-15T00:00:00Z",
   "completedAt":null,"currencyCode":"EUR","items":[
     {"id":103,"sku":"A","quantity":1,"unitRefundAmount":49.95,"reason":"TOO_SMALL","status":"APPROVED"}]},
  {"id":3,"orderId":13,"status":"COMPLETED","resolution":"EXCHANGE","createdAt":"2026-02-10T00:00:00+01:00",
   "completedAt":"2026-02-11T12:00:00+01:00","currencyCode":"SEK","items":[
     {"id":104,"sku":"C","quantity":3,"unitRefundAmount":10.00,"reason":"CHANGED_MIND","status":"APPROVED"}]}
]"#;

fn refund(id: u64, return_id: u64, amount: &str, currency: &str, status: &str) -> String {
    format!(
        r#"{{"id":{id},"returnId":{return_id},"orderId":1,"amount":{amount},"currencyCode":"{currency}",
        "status":"{status}","createdAt":"2026-02-01T00:00:00Z"}}"#
    )
}

fn refunds() -> String {
    format!(
        "[{},{},{},{}]",
        refund(9, 1, "200.00", "SEK", "REFUNDED"),
        refund(10, 2, "49.95", "EUR", "PENDING"),
        refund(11, 99, "5.00", "SEK", "PENDING"),
        refund(12, 2, "49.95", "EUR", "FAILED"),
    )
}

#[test]
fn a_window_is_summarised_exactly_per_currency_with_its_coverage() {
    let transport = ScriptedTransport::new(vec![json(200, RETURNS), json(200, &refunds())]);
    let args = r#"{"status":["COMPLETED","AWAITING_REFUND"],"createdWithinDays":365}"#;
    let result = expect_result(call_tool(&transport, "summarize_returns", args, &context()));
    assert!(!result.is_error, "{}", result.text);
    assert_eq!(
        transport.urls(),
        [
            "https://ingrid.test/merchant/return?status=COMPLETED%2CAWAITING_REFUND\
             &createdFrom=2025-11-18T11%3A06%3A40Z&limit=100",
            "https://ingrid.test/merchant/refund-transaction?createdFrom=2026-01-15T00%3A00%3A00Z&limit=100",
        ]
    );
    let output = structured("summarize_returns", &result);
    let expected = serde_json::json!({
        "coverage": {"returnsRead": 3, "complete": true, "nextCursor": null, "stoppedEarly": null,
                     "refundTransactionsRead": 3, "refundTransactionsComplete": true},
        "returns": 3,
        "countsByStatus": {"AWAITING_REFUND": 1, "COMPLETED": 2},
        "countsByResolution": {"EXCHANGE": 1, "REFUND": 2},
        "unitsByReason": {"CHANGED_MIND": 3, "DAMAGED": 1, "TOO_SMALL": 3},
        "topSkus": [{"sku": "A", "units": 3, "returns": 2}, {"sku": "C", "units": 3, "returns": 1},
                    {"sku": "B", "units": 1, "returns": 1}],
        "returnedValueByCurrency": {"EUR": "49.95", "SEK": "230.10"},
        "itemUnitsByStatus": {"APPROVED": 6, "REJECTED": 1},
        "refundTransactions": {"count": 3,
            "countsByStatus": {"FAILED": 1, "PENDING": 1, "REFUNDED": 1},
            "totalsByStatus": {"FAILED": {"EUR": "49.95"}, "PENDING": {"EUR": "49.95"},
                               "REFUNDED": {"SEK": "200.00"}}},
        // 1.5 days and 4 days: nearest rank gives the first as median, the second as p90.
        "daysToComplete": {"completed": 2, "medianDays": "1.5", "p90Days": "4.0"}
    });
    assert_eq!(output, expected);
    for needle in [
        "3 returns matching status=COMPLETED,AWAITING_REFUND, createdFrom=2025-11-18T11:06:40Z read, all that match.",
        "Returned value: 49.95 EUR, 230.10 SEK (per currency, never summed across currencies).",
        "Units by reason: CHANGED_MIND 3, TOO_SMALL 3, DAMAGED 1.",
        "Top SKUs: A 3 units in 2 returns; C 3 units in 1 return; B 1 unit in 1 return.",
        "Refund transactions of these returns: 3: FAILED 1 (49.95 EUR); PENDING 1 (49.95 EUR); REFUNDED 1 (200.00 SEK).",
        "median 1.5 days, 90th percentile 4.0 days, over 2 completed returns (nearest rank)",
    ] {
        assert!(result.text.contains(needle), "{needle}\n{}", result.text);
    }
}

#[test]
fn max_items_cuts_the_window_and_gives_the_cursor_to_continue() {
    let transport = ScriptedTransport::new(vec![json(200, RETURNS), json(200, "[]")]);
    let args = r#"{"maxItems":3,"cursor":"summary.0","updatedFrom":"2026-01-01T00:00:00Z"}"#;
    let result = expect_result(call_tool(&transport, "summarize_returns", args, &context()));
    assert_eq!(
        transport.urls()[0],
        "https://ingrid.test/merchant/return?updatedFrom=2026-01-01T00%3A00%3A00Z&afterId=0&limit=3"
    );
    let output = structured("summarize_returns", &result);
    assert_eq!(output["coverage"]["complete"], false);
    assert_eq!(output["coverage"]["nextCursor"], "summary.3");
    assert_eq!(output["refundTransactions"]["count"], 0);
    assert!(
        result
            .text
            .contains("NOT all that match (reached maxItems 3; more may follow): call again with cursor \"summary.3\""),
        "{}",
        result.text
    );
}

#[test]
fn an_empty_window_reads_no_refunds_and_says_so() {
    let transport = ScriptedTransport::new(vec![json(200, "[]")]);
    let args = r#"{"query":"nobody@example.com"}"#;
    let result = expect_result(call_tool(&transport, "summarize_returns", args, &context()));
    assert!(!result.is_error, "{}", result.text);
    assert_eq!(transport.sent.borrow().len(), 1);
    let output = structured("summarize_returns", &result);
    assert_eq!(output["returns"], 0);
    assert_eq!(output["coverage"]["complete"], true);
    assert_eq!(output["returnedValueByCurrency"], serde_json::json!({}));
    assert_eq!(output["daysToComplete"], serde_json::Value::Null);
    assert_eq!(
        result.text,
        "0 returns matching query=nobody@example.com read, all that match."
    );
}

#[test]
fn bad_arguments_name_the_argument_and_send_nothing() {
    for (args, needle) in [
        (r#"{"status":"LOST"}"#, "`status` must be one of"),
        (
            r#"{"createdWithinDays":-3}"#,
            "`createdWithinDays` must be a whole number",
        ),
        (
            r#"{"updatedWithinDays":3,"updatedFrom":"2026-01-01T00:00:00Z"}"#,
            "give `updatedFrom` or `updatedWithinDays`, not both",
        ),
        (r#"{"createdTo":"now"}"#, "`createdTo`"),
        (
            r#"{"maxItems":5001}"#,
            "`maxItems` must be between 1 and 5000",
        ),
        (r#"{"maxItems":0}"#, "`maxItems`"),
        (r#"{"cursor":"returns.5"}"#, "`cursor`"),
        (r#"{"sortBy":"createdAt"}"#, "unknown field `sortBy`"),
    ] {
        let transport = ScriptedTransport::new(vec![]);
        match call_tool(&transport, "summarize_returns", args, &context()) {
            Err(CallError::InvalidArguments(message)) => {
                assert!(message.contains(needle), "{args}: {message}")
            }
            other => panic!("{args}: {other:?}"),
        }
        assert!(transport.sent.borrow().is_empty(), "{args}");
    }
}

#[test]
fn a_failing_refund_list_is_an_error_not_a_partial_answer() {
    let transport =
        ScriptedTransport::new(vec![json(200, RETURNS), json(404, r#"{"message":"gone"}"#)]);
    let result = expect_result(call_tool(&transport, "summarize_returns", "{}", &context()));
    assert!(result.is_error, "{}", result.text);
}

//! Property tests of everything the plugin reads from outside, natively through `Transport`:
//! tool arguments (as the host's schema check lets them through, and as it would not), and
//! every response parser, with arbitrary bytes and with valid answers mutated. What must hold:
//! no panic, a clear error (never an empty message), and money never rounded. `make test`
//! runs proptest's default case count; `make fuzz` sets `PROPTEST_CASES` much higher.

use proptest::prelude::*;
use serde_json::Value;

use crate::api::{CallError, ToolOutcome};
use crate::connector::call_tool;
use crate::testing::{ScriptedTransport, context, fixtures, json};
use crate::tools::TOOLS;
use crate::transport::{HttpError, HttpResponse};

/// Any JSON value, nested a few levels.
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "[a-zA-Z0-9_ .:-]{0,24}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("returnId".to_string()),
                    Just("refundTransactionId".to_string()),
                    Just("orderId".to_string()),
                    Just("orderNumber".to_string()),
                    Just("status".to_string()),
                    Just("limit".to_string()),
                    Just("maxItems".to_string()),
                    Just("cursor".to_string()),
                    Just("items".to_string()),
                    Just("createdFrom".to_string()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// The agent's view: a message that says something, whatever went wrong.
fn assert_clear(outcome: &Result<ToolOutcome, CallError>) -> Result<(), TestCaseError> {
    match outcome {
        Ok(ToolOutcome::Result(result)) => prop_assert!(!result.text.trim().is_empty()),
        Ok(ToolOutcome::Proposal(proposal)) => prop_assert!(!proposal.summary.trim().is_empty()),
        Err(error) => prop_assert!(!error.to_string().trim().is_empty()),
    }
    Ok(())
}

fn tool_names() -> impl Strategy<Value = &'static str> {
    prop::sample::select(TOOLS.iter().map(|tool| tool.name).collect::<Vec<_>>())
}

/// Order 10075 with one line item (amounts as the money property replaces them).
const ORDER: &str = r#"{"id":10075,"orderNumber":"DM-200075","createdAt":"2026-05-30T08:00:00Z",
    "currencyCode":"SEK","customer":{"email":"eva@example.com","firstName":"Eva","lastName":"E"},
    "lineItems":[{"id":30210,"productId":1,"variantId":2,"sku":"TS-BLK-M","title":"T-shirt black M",
                  "quantity":2,"unitPrice":249.50}],
    "totalAmount":1048.00}"#;

/// A valid answer for each read path, to mutate.
fn valid_answers() -> Vec<(&'static str, String, String)> {
    vec![
        (
            "get_order",
            r#"{"orderId":10075}"#.into(),
            ORDER.to_string(),
        ),
        ("list_orders", r#"{"limit":2}"#.into(), format!("[{ORDER}]")),
        (
            "get_return",
            r#"{"returnId":50075}"#.into(),
            fixtures::return_json("IN_TRANSIT", "REFUND"),
        ),
        (
            "get_refund_transaction",
            r#"{"refundTransactionId":90001}"#.into(),
            fixtures::refund_json("PENDING"),
        ),
        (
            "list_returns",
            r#"{"limit":2}"#.into(),
            format!("[{}]", fixtures::return_json("IN_TRANSIT", "REFUND")),
        ),
        (
            "list_refund_transactions",
            r#"{"limit":2}"#.into(),
            format!("[{}]", fixtures::refund_json("PENDING")),
        ),
    ]
}

/// A decimal literal with up to 20 integer and 12 fractional digits.
fn decimal_literal() -> impl Strategy<Value = String> {
    ("[1-9][0-9]{0,19}", "[0-9]{0,12}").prop_map(|(int, frac)| {
        if frac.is_empty() {
            int
        } else {
            format!("{int}.{frac}")
        }
    })
}

/// The same decimal, whatever trailing zeros either was written with.
fn same_decimal(left: &str, right: &str) -> bool {
    let trim = |text: &str| {
        let text = text.trim();
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text.to_string()
        }
    };
    trim(left) == trim(right)
}

proptest! {
    #[test]
    fn any_arguments_give_an_answer_or_a_clear_refusal(tool in tool_names(), arguments in json_value()) {
        // Whatever the host's schema check would let through, the plugin's own decoding is the
        // last line: it must refuse clearly, never panic. Every read gets an empty page.
        let answers = (0..8).map(|_| json(200, "[]")).collect();
        let transport = ScriptedTransport::new(answers);
        let outcome = call_tool(&transport, tool, &arguments.to_string(), &context());
        assert_clear(&outcome)?;
    }

    #[test]
    fn arbitrary_bytes_from_ingrid_give_a_clear_message(
        which in 0usize..6,
        status in prop_oneof![Just(200u16), Just(404), Just(409), Just(422), Just(429), Just(500), any::<u16>()],
        body in prop::collection::vec(any::<u8>(), 0..512),
        header in prop::option::of("[ -~]{0,40}"),
    ) {
        let (tool, arguments, _) = valid_answers().swap_remove(which);
        let mut headers = Vec::new();
        if let Some(value) = header {
            headers.push(("retry-after".to_string(), value.clone()));
            headers.push(("x-trace-id".to_string(), value));
        }
        let answer = || Ok(HttpResponse { status, headers: headers.clone(), body: body.clone() });
        let answers: Vec<Result<HttpResponse, HttpError>> = (0..4).map(|_| answer()).collect();
        let transport = ScriptedTransport::new(answers);
        let outcome = call_tool(&transport, tool, &arguments, &context());
        assert_clear(&outcome)?;
    }

    #[test]
    fn mutated_answers_never_panic_and_money_is_never_rounded(
        which in 0usize..6,
        amount in decimal_literal(),
        cut in 0usize..2000,
        flip in any::<u8>(),
    ) {
        let (tool, arguments, valid) = valid_answers().swap_remove(which);
        // Every amount in the answer becomes the same long decimal.
        let with_amount = valid
            .replace("249.50", &amount)
            .replace("899.00", &amount)
            .replace("1048.00", &amount);
        let transport = ScriptedTransport::new(vec![json(200, &with_amount)]);
        let outcome = call_tool(&transport, tool, &arguments, &context());
        assert_clear(&outcome)?;
        if let Ok(ToolOutcome::Result(result)) = &outcome
            && !result.is_error
        {
            // Wherever the amount is shown, it is shown exactly (trailing zeros aside).
            let structured: Value = serde_json::from_str(result.structured.as_deref().unwrap_or("null"))
                .unwrap_or_default();
            let mut shown = Vec::new();
            collect_money(&structured, &mut shown);
            let total = structured["returns"][0]["itemsValue"].as_str();
            prop_assert!(!shown.is_empty() || total.is_some(), "no amount in {structured}");
            for value in shown {
                prop_assert!(same_decimal(&value, &amount), "{value} for {amount}");
            }
            // A list of returns totals each return's items: 2 + 1 of the same amount.
            if let Some(total) = total {
                prop_assert!(same_decimal(total, &times(&amount, 3)), "{total} for 3 × {amount}");
            }
        }
        // A cut or a flipped byte anywhere: still no panic, still a message.
        let mut broken = with_amount.into_bytes();
        let at = cut % broken.len().max(1);
        if flip % 2 == 0 { broken.truncate(at) } else if let Some(byte) = broken.get_mut(at) { *byte ^= flip }
        let transport = ScriptedTransport::new(vec![Ok(HttpResponse { status: 200, headers: Vec::new(), body: broken })]);
        assert_clear(&call_tool(&transport, tool, &arguments, &context()))?;
    }
}

/// `factor` times a decimal literal, exactly (the literals here fit in a u128).
fn times(literal: &str, factor: u128) -> String {
    let (int, frac) = literal.split_once('.').unwrap_or((literal, ""));
    let mantissa: u128 = format!("{int}{frac}").parse().unwrap_or(0) * factor;
    let digits = format!("{mantissa:0>width$}", width = frac.len() + 1);
    let (int, frac) = digits.split_at(digits.len() - frac.len());
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

/// The amounts an output holds: its `amount` and `unitRefundAmount` strings.
fn collect_money(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if matches!(
                    key.as_str(),
                    "amount" | "unitRefundAmount" | "unitPrice" | "totalAmount"
                ) && let Some(text) = inner.as_str()
                {
                    out.push(text.to_string());
                }
                collect_money(inner, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_money(item, out)),
        _ => {}
    }
}

/// Found by the money property above, when amounts were `rust_decimal`s (28 digits): a long
/// amount was rounded on reading, and a total of long amounts was rounded on adding. Both are
/// now exact.
#[test]
fn long_amounts_and_their_totals_stay_exact() {
    for (which, amount) in [
        (2, "100000000000000000.000000000001"),
        (4, "300000000000000000.00000000001"),
    ] {
        let (tool, arguments, valid) = valid_answers().swap_remove(which);
        let body = valid.replace("249.50", amount).replace("899.00", amount);
        let transport = ScriptedTransport::new(vec![json(200, &body)]);
        let result =
            crate::testing::expect_result(call_tool(&transport, tool, &arguments, &context()));
        let structured: Value =
            serde_json::from_str(result.structured.as_deref().unwrap_or("null"))
                .unwrap_or_default();
        let mut shown = Vec::new();
        collect_money(&structured, &mut shown);
        if let Some(total) = structured["returns"][0]["itemsValue"].as_str() {
            assert!(same_decimal(total, &times(amount, 3)), "{total}");
        } else {
            assert!(
                !shown.is_empty() && shown.iter().all(|v| same_decimal(v, amount)),
                "{shown:?}"
            );
        }
    }
}

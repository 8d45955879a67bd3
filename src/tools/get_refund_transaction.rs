//! `get_refund_transaction`: one refund transaction. Its view and one-line description are
//! shared with `list_refund_transactions` and `mark_refund_externally_refunded`.

use crate::prelude::*;

use serde::Serialize;

use super::{Tool, args, failure, success, text};
use crate::api::{CallContext, CallError, Effect, ToolOutcome};
use crate::ingrid::IngridClient;
use crate::ingrid::catalog::{Endpoint, refund_status};
use crate::ingrid::error::Subject;
use crate::ingrid::json::Json;
use crate::ingrid::models::{RefundTransaction, money};

pub const TOOL: Tool = Tool {
    name: "get_refund_transaction",
    title: "Get a refund transaction",
    description: "Gets one Ingrid refund transaction by its integer refundTransactionId: return and \
order it belongs to, amount with currency, status (PENDING, REFUNDED, EXTERNALLY_REFUNDED or \
FAILED), method, when it was created and completed, and any external reference. Read-only: it \
never changes anything. A PENDING refund that was paid outside Ingrid can be confirmed with \
mark_refund_externally_refunded.",
    input_schema: schema!("get_refund_transaction.input.json"),
    output_schema: schema!("get_refund_transaction.output.json"),
    effect: Effect::Read,
    destructive: false,
    idempotent: true,
    open_world: true,
    run,
};

#[derive(Debug)]
struct Arguments {
    refund_transaction_id: u64,
}

impl Arguments {
    fn read(arguments: Json) -> Result<Self, CallError> {
        let mut arguments = args::Object::new(arguments, &["refundTransactionId"])?;
        Ok(Arguments {
            refund_transaction_id: arguments.u64("refundTransactionId")?,
        })
    }
}

/// A refund transaction as the agent sees it (structured output and list rows).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    pub id: u64,
    pub return_id: u64,
    pub order_id: u64,
    pub amount: String,
    pub currency_code: String,
    pub status: String,
    pub method: Option<String>,
    pub created_at: String,
    pub completed_at: Option<String>,
    pub external_reference: Option<String>,
}

impl From<&RefundTransaction> for RefundView {
    fn from(refund: &RefundTransaction) -> Self {
        RefundView {
            id: refund.id,
            return_id: refund.return_id,
            order_id: refund.order_id,
            amount: money(refund.amount),
            currency_code: refund.currency_code.clone(),
            status: refund.status.clone(),
            method: refund.method.clone(),
            created_at: refund.created_at.clone(),
            completed_at: refund.completed_at.clone(),
            external_reference: refund
                .external_reference
                .as_deref()
                .map(|reference| text::clean(reference, 200)),
        }
    }
}

/// One line: id, return, order, status, money, method, dates, reference.
pub fn describe(refund: &RefundTransaction) -> String {
    let mut line = format!(
        "refund transaction {} · return {} · orderId {} · {} · {} {} · method {} · created {}",
        refund.id,
        refund.return_id,
        refund.order_id,
        text::clean(&refund.status, 30),
        money(refund.amount),
        text::clean(&refund.currency_code, 5),
        text::clean(refund.method.as_deref().unwrap_or("?"), 30),
        text::clean(&refund.created_at, 40),
    );
    if let Some(completed_at) = &refund.completed_at {
        line.push_str(&format!(" · completed {}", text::clean(completed_at, 40)));
    }
    if let Some(reference) = &refund.external_reference {
        line.push_str(&format!(
            " · external reference \"{}\"",
            text::clean(reference, 200)
        ));
    }
    line
}

fn run(
    client: &IngridClient,
    _ctx: &CallContext,
    arguments: Json,
) -> Result<ToolOutcome, CallError> {
    let arguments = Arguments::read(arguments)?;
    let id = args::id("refundTransactionId", arguments.refund_transaction_id)?;
    let refund: RefundTransaction = match client.get(
        Endpoint::GetRefundTransaction(id),
        &[],
        Subject::RefundTransaction(id),
    ) {
        Ok(refund) => refund,
        Err(error) => return failure(error.to_string()),
    };
    let mut text = describe(&refund);
    if refund.status == refund_status::PENDING {
        text.push_str(&format!(
            "\nIt is {}: if it was paid outside Ingrid, mark_refund_externally_refunded can \
             confirm that (the person is asked first).",
            refund_status::PENDING
        ));
    }
    success(TOOL.name, text, &RefundView::from(&refund))
}

#[cfg(test)]
mod tests {
    use crate::connector::call_tool;
    use crate::testing::fixtures::refund_json;
    use crate::testing::{ScriptedTransport, context, expect_result, json, structured};

    #[test]
    fn a_refund_is_shown_with_exact_money_and_its_return() {
        let transport = ScriptedTransport::new(vec![json(200, &refund_json("PENDING"))]);
        let result = expect_result(call_tool(
            &transport,
            "get_refund_transaction",
            r#"{"refundTransactionId":90001}"#,
            &context(),
        ));
        assert_eq!(
            transport.urls(),
            ["https://ingrid.test/merchant/refund-transaction/90001"]
        );
        let output = structured("get_refund_transaction", &result);
        assert_eq!(output["amount"], "1048.00");
        assert_eq!(output["currencyCode"], "SEK");
        assert_eq!(output["returnId"], 50043);
        assert!(
            result.text.starts_with(
                "refund transaction 90001 · return 50043 · orderId 10043 · PENDING · 1048.00 SEK \
                 · method ORIGINAL_PAYMENT · created 2026-07-01T12:00:00Z"
            ),
            "{}",
            result.text
        );
        assert!(result.text.contains("mark_refund_externally_refunded"));
    }

    #[test]
    fn a_missing_refund_is_named() {
        let transport = ScriptedTransport::new(vec![json(
            404,
            r#"{"message":"refund transaction 90999 not found","code":"NOT_FOUND"}"#,
        )]);
        let result = expect_result(call_tool(
            &transport,
            "get_refund_transaction",
            r#"{"refundTransactionId":90999}"#,
            &context(),
        ));
        assert!(result.is_error);
        assert!(
            result
                .text
                .starts_with("refund transaction 90999 does not exist in Ingrid (HTTP 404)"),
            "{}",
            result.text
        );
    }
}

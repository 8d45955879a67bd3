//! `list_refund_transactions`: refund transactions, one page or up to `maxItems`, with counts
//! by status and the pending refund total per currency.

use crate::prelude::*;

use serde::Serialize;

use super::get_refund_transaction::{RefundView, describe};
use super::paging::{self, PageRequest, Paged};
use super::tally::Tally;
use super::{Tool, args, failure, filters, success, text};
use crate::api::{CallContext, CallError, Effect, ToolOutcome};
use crate::ingrid::IngridClient;
use crate::ingrid::catalog::{self, Endpoint, query, refund_status};
use crate::ingrid::error::Subject;
use crate::ingrid::json::Json;
use crate::ingrid::models::{Money, Overflow, RefundTransaction, money};

const CURSOR_KIND: &str = "refunds";

pub const TOOL: Tool = Tool {
    name: "list_refund_transactions",
    title: "List refund transactions",
    description: "Lists the merchant's Ingrid refund transactions, ascending by id, optionally \
filtered by return id, order id, status (one or several of PENDING, REFUNDED, \
EXTERNALLY_REFUNDED, FAILED) or creation time (from/to, or within the last N days), all filtered \
by Ingrid. Each row gives the refund id, return, order, amount with currency, status, method \
and dates; the result adds counts by status and the total still PENDING per currency (what the \
merchant owes). One page by default; with maxItems (up to 1000) it pages for you and says if it \
stopped early. When nextCursor is not null, pass it as cursor to continue. Read-only: it never \
changes anything.",
    input_schema: schema!("list_refund_transactions.input.json"),
    output_schema: schema!("list_refund_transactions.output.json"),
    effect: Effect::Read,
    destructive: false,
    idempotent: true,
    open_world: true,
    run,
};

const ARGUMENTS: &[&str] = &[
    "returnId",
    "orderId",
    "status",
    "createdFrom",
    "createdTo",
    "createdWithinDays",
    "cursor",
    "limit",
    "maxItems",
];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    refund_transactions: Vec<RefundView>,
    count: usize,
    next_cursor: Option<String>,
    stopped_early: Option<String>,
    counts_by_status: Tally<usize>,
    /// Σ amount of the PENDING rows, per currency, as decimal strings.
    pending_totals_by_currency: Tally<String>,
}

fn run(
    client: &IngridClient,
    _ctx: &CallContext,
    arguments: Json,
) -> Result<ToolOutcome, CallError> {
    let mut arguments = args::Object::new(arguments, ARGUMENTS)?;
    let now = client.transport().wall_clock_unix_secs();
    let mut filters: Vec<(&str, String)> = Vec::new();
    if let Some(return_id) = args::optional_id("returnId", arguments.opt_u64("returnId")?)? {
        filters.push((query::RETURN_ID, return_id.to_string()));
    }
    if let Some(order_id) = args::optional_id("orderId", arguments.opt_u64("orderId")?)? {
        filters.push((query::ORDER_ID, order_id.to_string()));
    }
    filters::push_statuses(&mut arguments, &mut filters, &catalog::REFUND_STATUSES)?;
    filters::push_window(&mut arguments, &mut filters, &filters::CREATED, now)?;
    let page_request = PageRequest::read(CURSOR_KIND, &mut arguments)?;

    let paged: Paged<RefundTransaction> = match paging::fetch(
        client,
        Endpoint::ListRefundTransactions,
        Subject::RefundTransactions,
        &filters,
        &page_request,
    ) {
        Ok(paged) => paged,
        Err(error) => return failure(error.to_string()),
    };
    let Ok(output) = summarise(&paged) else {
        return failure(Overflow::MESSAGE);
    };
    let text = render(&output, &filters, &paged);
    success(TOOL.name, text, &output)
}

fn summarise(paged: &Paged<RefundTransaction>) -> Result<Output, Overflow> {
    let mut counts_by_status = Tally::default();
    let mut pending: Tally<Money> = Tally::default();
    for refund in &paged.rows {
        *counts_by_status.entry(&refund.status) += 1;
        if refund.status == refund_status::PENDING {
            let total = pending.entry(&refund.currency_code);
            *total = total.checked_add(refund.amount)?;
        }
    }
    Ok(Output {
        refund_transactions: paged.rows.iter().map(RefundView::from).collect(),
        count: paged.rows.len(),
        next_cursor: paged.next_cursor.clone(),
        stopped_early: paged.stopped_early(),
        counts_by_status,
        pending_totals_by_currency: pending.map(money),
    })
}

fn render(output: &Output, filters: &[(&str, String)], paged: &Paged<RefundTransaction>) -> String {
    let mut lines = Vec::with_capacity(paged.rows.len() + 4);
    let noun = if output.count == 1 {
        "refund transaction"
    } else {
        "refund transactions"
    };
    lines.push(format!(
        "{} {noun}{}.",
        output.count,
        text::describe_filters(filters)
    ));
    lines.extend(
        paged
            .rows
            .iter()
            .map(|refund| format!("- {}", describe(refund))),
    );
    if !output.counts_by_status.is_empty() {
        lines.push(format!(
            "By status: {}.",
            text::describe_counts(&output.counts_by_status)
        ));
    }
    if !output.pending_totals_by_currency.is_empty() {
        let totals: Vec<String> = output
            .pending_totals_by_currency
            .iter()
            .map(|(currency, total)| format!("{total} {}", text::clean(currency, 5)))
            .collect();
        lines.push(format!(
            "Still PENDING in these rows: {}.",
            totals.join(", ")
        ));
    }
    lines.push(paged.footer("refund transactions"));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use crate::api::CallError;
    use crate::connector::call_tool;
    use crate::testing::{ScriptedTransport, context, expect_result, json, structured};

    fn refund(id: u64, status: &str, amount: &str, currency: &str) -> String {
        format!(
            r#"{{"id":{id},"returnId":{},"orderId":{},"amount":{amount},"currencyCode":"{currency}",
                "status":"{status}","method":"ORIGINAL_PAYMENT","createdAt":"2026-07-01T12:00:00Z",
                "completedAt":null,"externalReference":null}}"#,
            id - 40000,
            id - 80000
        )
    }

    #[test]
    fn rows_counts_and_pending_totals_per_currency_are_exact() {
        let page = format!(
            "[{},{},{},{}]",
            refund(90001, "PENDING", "0.10", "SEK"),
            refund(90002, "PENDING", "0.20", "SEK"),
            refund(90003, "REFUNDED", "99.00", "SEK"),
            refund(90004, "PENDING", "49.95", "EUR"),
        );
        let transport = ScriptedTransport::new(vec![json(200, &page)]);
        let args = r#"{"returnId":50043,"orderId":10043,"status":"PENDING","limit":4}"#;
        let result = expect_result(call_tool(
            &transport,
            "list_refund_transactions",
            args,
            &context(),
        ));
        assert_eq!(
            transport.urls(),
            [
                "https://ingrid.test/merchant/refund-transaction?returnId=50043&orderId=10043&status=PENDING&limit=4"
            ]
        );
        let output = structured("list_refund_transactions", &result);
        assert_eq!(output["count"], 4);
        assert_eq!(output["refundTransactions"][3]["amount"], "49.95");
        // 0.10 + 0.20 is exactly 0.30 (no f64 on the way).
        assert_eq!(output["pendingTotalsByCurrency"]["SEK"], "0.30");
        assert_eq!(output["pendingTotalsByCurrency"]["EUR"], "49.95");
        assert_eq!(output["countsByStatus"]["PENDING"], 3);
        assert_eq!(output["nextCursor"], "refunds.90004");
        assert!(
            result
                .text
                .contains("Still PENDING in these rows: 49.95 EUR, 0.30 SEK."),
            "{}",
            result.text
        );
        assert!(
            result
                .text
                .contains("- refund transaction 90003 · return 50003"),
            "{}",
            result.text
        );
    }

    #[test]
    fn max_items_pages_until_the_end_of_the_list() {
        let first: Vec<String> = (90001..=90100)
            .map(|id| refund(id, "REFUNDED", "1.00", "GBP"))
            .collect();
        let transport = ScriptedTransport::new(vec![
            json(200, &format!("[{}]", first.join(","))),
            json(
                200,
                &format!("[{}]", refund(90101, "PENDING", "5.00", "GBP")),
            ),
        ]);
        let result = expect_result(call_tool(
            &transport,
            "list_refund_transactions",
            r#"{"maxItems":500}"#,
            &context(),
        ));
        assert_eq!(
            transport.urls(),
            [
                "https://ingrid.test/merchant/refund-transaction?limit=100",
                "https://ingrid.test/merchant/refund-transaction?afterId=90100&limit=100",
            ]
        );
        let output = structured("list_refund_transactions", &result);
        assert_eq!(output["count"], 101);
        assert_eq!(output["nextCursor"], serde_json::Value::Null);
        assert_eq!(output["stoppedEarly"], serde_json::Value::Null);
        assert_eq!(output["pendingTotalsByCurrency"]["GBP"], "5.00");
        assert!(
            result.text.ends_with("This is the last page."),
            "{}",
            result.text
        );
    }

    #[test]
    fn several_statuses_and_created_within_days_are_sent() {
        let transport = ScriptedTransport::new(vec![json(200, "[]")]);
        let args = r#"{"status":["PENDING","FAILED"],"createdWithinDays":3650}"#;
        let result = expect_result(call_tool(
            &transport,
            "list_refund_transactions",
            args,
            &context(),
        ));
        assert!(!result.is_error, "{}", result.text);
        assert_eq!(
            transport.urls(),
            [
                "https://ingrid.test/merchant/refund-transaction?status=PENDING%2CFAILED\
              &createdFrom=2016-11-20T11%3A06%3A40Z&limit=50"
            ]
        );
    }

    #[test]
    fn an_unknown_status_is_named() {
        let transport = ScriptedTransport::new(vec![]);
        match call_tool(
            &transport,
            "list_refund_transactions",
            r#"{"status":"PAID"}"#,
            &context(),
        ) {
            Err(CallError::InvalidArguments(message)) => {
                assert!(
                    message.contains("`status`") && message.contains("PAID"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(transport.sent.borrow().is_empty());
    }
}

//! `list_orders`: orders, one page or up to `maxItems`, with the count and total per currency.

use crate::prelude::*;

use serde::Serialize;

use super::paging::{self, PageRequest, Paged};
use super::tally::Tally;
use super::{Tool, args, failure, filters, success, text};
use crate::api::{CallContext, CallError, Effect, ToolOutcome};
use crate::ingrid::IngridClient;
use crate::ingrid::catalog::{Endpoint, query};
use crate::ingrid::error::Subject;
use crate::ingrid::json::Json;
use crate::ingrid::models::{Money, Order, Overflow, money};

const CURSOR_KIND: &str = "orders";
/// Order numbers are the merchant's own short codes.
const ORDER_NUMBER_MAX_CHARS: usize = 100;

pub const TOOL: Tool = Tool {
    name: "list_orders",
    title: "List orders",
    description: "Lists the merchant's orders known to Ingrid Returns, ascending by order id, \
optionally filtered by creation time (from/to, or within the last N days), by the merchant's own \
order number (exact, e.g. DM-200075) or by query (order number or customer email), all filtered by \
Ingrid. \
Each row gives the integer order id, order number, creation time, units and total amount with \
currency; the result adds the count and total per currency. Customer details are not listed: \
use get_order for one order. One page by default; with maxItems (up to 1000) it pages for you \
and says if it stopped early. When nextCursor is not null, pass it as cursor to continue. \
Read-only: it never changes anything.",
    input_schema: schema!("list_orders.input.json"),
    output_schema: schema!("list_orders.output.json"),
    effect: Effect::Read,
    destructive: false,
    idempotent: true,
    open_world: true,
    run,
};

const ARGUMENTS: &[&str] = &[
    "createdFrom",
    "createdTo",
    "createdWithinDays",
    "orderNumber",
    "query",
    "cursor",
    "limit",
    "maxItems",
];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    orders: Vec<Row>,
    count: usize,
    next_cursor: Option<String>,
    stopped_early: Option<String>,
    totals_by_currency: Tally<CurrencyTotal>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    id: u64,
    order_number: String,
    created_at: String,
    currency_code: String,
    unit_count: u32,
    total_amount: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CurrencyTotal {
    count: usize,
    total_amount: String,
}

fn run(
    client: &IngridClient,
    _ctx: &CallContext,
    arguments: Json,
) -> Result<ToolOutcome, CallError> {
    let mut arguments = args::Object::new(arguments, ARGUMENTS)?;
    let now = client.transport().wall_clock_unix_secs();
    let mut filters: Vec<(&str, String)> = Vec::new();
    filters::push_window(&mut arguments, &mut filters, &filters::CREATED, now)?;
    if let Some(number) = args::text(
        "orderNumber",
        arguments.opt_string("orderNumber")?,
        ORDER_NUMBER_MAX_CHARS,
    )? {
        filters.push((query::ORDER_NUMBER, number));
    }
    filters::push_query(&mut arguments, &mut filters)?;
    let page_request = PageRequest::read(CURSOR_KIND, &mut arguments)?;

    let paged: Paged<Order> = match paging::fetch(
        client,
        Endpoint::ListOrders,
        Subject::Orders,
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

fn summarise(paged: &Paged<Order>) -> Result<Output, Overflow> {
    let mut totals: Tally<(usize, Money)> = Tally::default();
    let orders = paged
        .rows
        .iter()
        .map(|order| {
            let total = totals.entry(&order.currency_code);
            total.0 += 1;
            total.1 = total.1.checked_add(order.total_amount)?;
            Ok(Row {
                id: order.id,
                order_number: text::clean(&order.order_number, ORDER_NUMBER_MAX_CHARS),
                created_at: order.created_at.clone(),
                currency_code: order.currency_code.clone(),
                unit_count: order.unit_count(),
                total_amount: money(order.total_amount),
            })
        })
        .collect::<Result<Vec<Row>, Overflow>>()?;
    Ok(Output {
        count: orders.len(),
        orders,
        next_cursor: paged.next_cursor.clone(),
        stopped_early: paged.stopped_early(),
        totals_by_currency: totals.map(|(count, total)| CurrencyTotal {
            count,
            total_amount: money(total),
        }),
    })
}

fn render(output: &Output, filters: &[(&str, String)], paged: &Paged<Order>) -> String {
    let mut lines = Vec::with_capacity(output.orders.len() + 4);
    let noun = if output.count == 1 { "order" } else { "orders" };
    lines.push(format!(
        "{} {noun}{}.",
        output.count,
        text::describe_filters(filters)
    ));
    for row in &output.orders {
        lines.push(format!(
            "- order {} · orderId {} · created {} · {} unit(s) · {} {}",
            row.order_number,
            row.id,
            text::clean(&row.created_at, 40),
            row.unit_count,
            row.total_amount,
            text::clean(&row.currency_code, 5),
        ));
    }
    if !output.totals_by_currency.is_empty() {
        let totals: Vec<String> = output
            .totals_by_currency
            .iter()
            .map(|(currency, total)| {
                format!(
                    "{} {} in {} order(s)",
                    total.total_amount,
                    text::clean(currency, 5),
                    total.count
                )
            })
            .collect();
        lines.push(format!("Totals: {}.", totals.join("; ")));
    }
    lines.push(paged.footer("orders"));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use crate::connector::call_tool;
    use crate::testing::{ScriptedTransport, context, expect_result, json, structured};

    fn order(id: u64, currency: &str, total: &str) -> String {
        format!(
            r#"{{"id":{id},"orderNumber":"DM-2{id}","createdAt":"2026-03-01T10:00:00Z",
                "currencyCode":"{currency}","customer":{{"email":"a@example.com","firstName":"A","lastName":"B"}},
                "lineItems":[{{"id":1,"sku":"S","title":"T","quantity":2,"unitPrice":1.00}},
                             {{"id":2,"sku":"S2","title":"T2","quantity":1,"unitPrice":2.00}}],
                "totalAmount":{total}}}"#
        )
    }

    #[test]
    fn rows_and_totals_per_currency_are_exact() {
        let page = format!(
            "[{},{},{}]",
            order(10001, "SEK", "1299.90"),
            order(10002, "SEK", "0.10"),
            order(10003, "EUR", "49.00")
        );
        let transport = ScriptedTransport::new(vec![json(200, &page)]);
        let args = r#"{"createdFrom":"2026-03-01T00:00:00Z","createdTo":"2026-03-31T23:59:59Z"}"#;
        let result = expect_result(call_tool(&transport, "list_orders", args, &context()));
        assert_eq!(
            transport.urls(),
            [
                "https://ingrid.test/merchant/order?createdFrom=2026-03-01T00%3A00%3A00Z&createdTo=2026-03-31T23%3A59%3A59Z&limit=50"
            ]
        );
        let output = structured("list_orders", &result);
        assert_eq!(output["count"], 3);
        assert_eq!(output["orders"][0]["totalAmount"], "1299.90");
        assert_eq!(output["orders"][0]["unitCount"], 3);
        assert_eq!(output["totalsByCurrency"]["SEK"]["totalAmount"], "1300.00");
        assert_eq!(output["totalsByCurrency"]["SEK"]["count"], 2);
        assert_eq!(output["totalsByCurrency"]["EUR"]["totalAmount"], "49.00");
        assert!(
            result.text.contains(
                "- order DM-210001 · orderId 10001 · created 2026-03-01T10:00:00Z · 3 unit(s) · 1299.90 SEK"
            ),
            "{}",
            result.text
        );
        assert!(
            result
                .text
                .contains("Totals: 49.00 EUR in 1 order(s); 1300.00 SEK in 2 order(s)."),
            "{}",
            result.text
        );
        assert!(
            !result.text.contains("a@example.com"),
            "no personal data in lists"
        );
    }

    #[test]
    fn the_order_number_filter_and_cursor_are_sent() {
        let transport = ScriptedTransport::new(vec![json(200, "[]")]);
        let args = r#"{"orderNumber":"DM-200075","cursor":"orders.10000","limit":5}"#;
        let result = expect_result(call_tool(&transport, "list_orders", args, &context()));
        assert_eq!(
            transport.urls(),
            ["https://ingrid.test/merchant/order?orderNumber=DM-200075&afterId=10000&limit=5"]
        );
        assert!(
            result
                .text
                .starts_with("0 orders matching orderNumber=DM-200075."),
            "{}",
            result.text
        );
    }

    #[test]
    fn query_and_created_within_days_are_sent() {
        let transport = ScriptedTransport::new(vec![json(200, "[]")]);
        let args = r#"{"createdWithinDays":1,"query":"DM-2002"}"#;
        let result = expect_result(call_tool(&transport, "list_orders", args, &context()));
        assert!(!result.is_error, "{}", result.text);
        assert_eq!(
            transport.urls(),
            [
                "https://ingrid.test/merchant/order?createdFrom=2026-11-17T11%3A06%3A40Z&query=DM-2002&limit=50"
            ]
        );
        let transport = ScriptedTransport::new(vec![]);
        let args = r#"{"createdWithinDays":1,"createdFrom":"2026-11-01T00:00:00Z"}"#;
        let outcome = call_tool(&transport, "list_orders", args, &context());
        assert!(
            matches!(&outcome, Err(crate::api::CallError::InvalidArguments(m)) if m.contains("createdWithinDays")),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_503_after_retries_says_ingrid_is_unavailable() {
        let transport =
            ScriptedTransport::new(vec![json(503, "{}"), json(503, "{}"), json(503, "{}")]);
        let result = expect_result(call_tool(&transport, "list_orders", "{}", &context()));
        assert!(result.is_error);
        assert!(
            result.text.contains("unavailable right now (HTTP 503)"),
            "{}",
            result.text
        );
    }
}

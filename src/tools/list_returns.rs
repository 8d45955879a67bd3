//! `list_returns`: returns, one page or up to `maxItems`, with counts by status.

use crate::prelude::*;

use serde::Serialize;

use super::paging::{self, PageRequest, Paged};
use super::tally::Tally;
use super::{Tool, args, failure, success, text};
use crate::api::{CallContext, CallError, Effect, ToolOutcome};
use crate::ingrid::IngridClient;
use crate::ingrid::catalog::{self, Endpoint, query};
use crate::ingrid::error::Subject;
use crate::ingrid::json::Json;
use crate::ingrid::models::{Overflow, Return, money};

const CURSOR_KIND: &str = "returns";

pub const TOOL: Tool = Tool {
    name: "list_returns",
    title: "List returns",
    description: "Lists the merchant's Ingrid returns, ascending by return id, optionally filtered \
by lifecycle status (AWAITING_RETURN, IN_TRANSIT, AWAITING_REFUND, AWAITING_EXCHANGE, COMPLETED), \
by Ingrid order id, or by creation time. Each row gives the return id, order, status, resolution \
(REFUND or EXCHANGE), units returned and their value with currency; the result adds counts by \
status. One page by default; with maxItems (up to 1000) it pages for you and says if it stopped \
early. When nextCursor is not null, pass it as cursor to continue. Read-only: it never changes \
anything. Use get_return for a return's items and comments.",
    input_schema: schema!("list_returns.input.json"),
    output_schema: schema!("list_returns.output.json"),
    effect: Effect::Read,
    destructive: false,
    idempotent: true,
    open_world: true,
    run,
};

#[derive(Debug)]
struct Arguments {
    status: Option<String>,
    order_id: Option<u64>,
    created_from: Option<String>,
    created_to: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    max_items: Option<u32>,
}

impl Arguments {
    fn read(arguments: Json) -> Result<Self, CallError> {
        let mut arguments = args::Object::new(
            arguments,
            &[
                "status",
                "orderId",
                "createdFrom",
                "createdTo",
                "cursor",
                "limit",
                "maxItems",
            ],
        )?;
        Ok(Arguments {
            status: arguments.opt_string("status")?,
            order_id: arguments.opt_u64("orderId")?,
            created_from: arguments.opt_string("createdFrom")?,
            created_to: arguments.opt_string("createdTo")?,
            cursor: arguments.opt_string("cursor")?,
            limit: arguments.opt_u32("limit")?,
            max_items: arguments.opt_u32("maxItems")?,
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    returns: Vec<Row>,
    count: usize,
    next_cursor: Option<String>,
    stopped_early: Option<String>,
    counts_by_status: Tally<usize>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    id: u64,
    order_id: u64,
    order_number: Option<String>,
    status: String,
    resolution: Option<String>,
    created_at: String,
    currency_code: String,
    item_quantity: u32,
    items_value: String,
}

fn run(
    client: &IngridClient,
    _ctx: &CallContext,
    arguments: Json,
) -> Result<ToolOutcome, CallError> {
    let arguments = Arguments::read(arguments)?;
    let page_request = PageRequest::from_arguments(
        CURSOR_KIND,
        arguments.cursor.as_deref(),
        arguments.limit,
        arguments.max_items,
    )?;
    let mut filters: Vec<(&str, String)> = Vec::new();
    if let Some(status) = args::one_of("status", arguments.status, &catalog::RETURN_STATUSES)? {
        filters.push((query::STATUS, status));
    }
    if let Some(order_id) = args::optional_id("orderId", arguments.order_id)? {
        filters.push((query::ORDER_ID, order_id.to_string()));
    }
    args::push_created_range(&mut filters, arguments.created_from, arguments.created_to)?;

    let paged: Paged<Return> = match paging::fetch(
        client,
        Endpoint::ListReturns,
        Subject::Returns,
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

fn summarise(paged: &Paged<Return>) -> Result<Output, Overflow> {
    let mut counts_by_status = Tally::default();
    let returns = paged
        .rows
        .iter()
        .map(|ret| {
            *counts_by_status.entry(&ret.status) += 1;
            Ok(Row {
                id: ret.id,
                order_id: ret.order_id,
                order_number: ret.order_number.clone(),
                status: ret.status.clone(),
                resolution: ret.resolution.clone(),
                created_at: ret.created_at.clone(),
                currency_code: ret.currency_code.clone(),
                item_quantity: ret.item_quantity(),
                items_value: money(ret.items_value()?),
            })
        })
        .collect::<Result<Vec<Row>, Overflow>>()?;
    Ok(Output {
        count: returns.len(),
        returns,
        next_cursor: paged.next_cursor.clone(),
        stopped_early: paged.stopped_early(),
        counts_by_status,
    })
}

fn render(output: &Output, filters: &[(&str, String)], paged: &Paged<Return>) -> String {
    let mut lines = Vec::with_capacity(output.returns.len() + 4);
    let noun = if output.count == 1 {
        "return"
    } else {
        "returns"
    };
    lines.push(format!(
        "{} {noun}{}.",
        output.count,
        text::describe_filters(filters)
    ));
    for row in &output.returns {
        lines.push(format!(
            "- return {} · order {} (orderId {}) · {} · {} · {} unit(s) worth {} {} · created {}",
            row.id,
            text::clean(row.order_number.as_deref().unwrap_or("?"), 40),
            row.order_id,
            text::clean(&row.status, 30),
            text::clean(row.resolution.as_deref().unwrap_or("?"), 20),
            row.item_quantity,
            row.items_value,
            text::clean(&row.currency_code, 5),
            text::clean(&row.created_at, 40),
        ));
    }
    if !output.counts_by_status.is_empty() {
        lines.push(format!(
            "By status: {}.",
            text::describe_counts(&output.counts_by_status)
        ));
    }
    lines.push(paged.footer("returns"));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use crate::api::CallError;
    use crate::connector::call_tool;
    use crate::testing::{ScriptedTransport, context, expect_result, json, structured};
    use crate::transport::HttpError;

    const PAGE: &str = r#"[
      {"id":50001,"orderId":10001,"orderNumber":"DM-200001","status":"IN_TRANSIT","resolution":"REFUND",
       "createdAt":"2026-02-01T10:00:00Z","updatedAt":"2026-02-02T10:00:00Z","currencyCode":"SEK",
       "items":[{"id":70001,"quantity":2,"unitRefundAmount":499.00},{"id":70002,"quantity":1,"unitRefundAmount":0.10}],
       "trackingNumber":"TRK1","remark":null},
      {"id":50002,"orderId":10002,"orderNumber":"DM-200002","status":"COMPLETED","resolution":"EXCHANGE",
       "createdAt":"2026-02-03T10:00:00Z","currencyCode":"EUR","items":[{"id":70003,"quantity":1,"unitRefundAmount":49.95}]}
    ]"#;

    #[test]
    fn a_full_page_sends_filters_and_returns_rows_totals_and_a_cursor() {
        let transport = ScriptedTransport::new(vec![json(200, PAGE)]);
        let args = r#"{"status":"IN_TRANSIT","createdFrom":"2026-01-01T00:00:00Z","limit":2}"#;
        let result = expect_result(call_tool(&transport, "list_returns", args, &context()));
        assert!(!result.is_error, "{}", result.text);
        let sent = transport.sent.borrow();
        assert_eq!(
            sent[0].url,
            "https://ingrid.test/merchant/return?status=IN_TRANSIT&createdFrom=2026-01-01T00%3A00%3A00Z&limit=2"
        );
        assert_eq!(sent[0].credential.as_deref(), Some("ingrid-api-key"));
        assert!(sent[0].headers.iter().all(|(name, _)| name != "x-api-key"));
        let output = structured("list_returns", &result);
        assert_eq!(output["count"], 2);
        assert_eq!(output["returns"][0]["itemsValue"], "998.10");
        assert_eq!(output["returns"][0]["itemQuantity"], 3);
        assert_eq!(output["nextCursor"], "returns.50002");
        assert_eq!(output["countsByStatus"]["COMPLETED"], 1);
        assert!(result.text.contains("return 50001"), "{}", result.text);
        assert!(result.text.contains("998.10 SEK"), "{}", result.text);
        assert!(
            result.text.contains("cursor \"returns.50002\""),
            "{}",
            result.text
        );
    }

    #[test]
    fn the_cursor_becomes_after_id_and_a_short_page_is_the_last() {
        let transport = ScriptedTransport::new(vec![json(200, PAGE)]);
        let args = r#"{"cursor":"returns.50000"}"#;
        let result = expect_result(call_tool(&transport, "list_returns", args, &context()));
        assert_eq!(
            transport.sent.borrow()[0].url,
            "https://ingrid.test/merchant/return?afterId=50000&limit=50"
        );
        assert!(result.text.contains("last page"), "{}", result.text);
        assert!(
            result
                .structured
                .unwrap_or_default()
                .contains("\"nextCursor\":null")
        );
    }

    #[test]
    fn max_items_pages_across_pages_and_says_it_stopped_early() {
        let second_page = r#"[{"id":50003,"orderId":10003,"status":"AWAITING_RETURN",
            "createdAt":"2026-02-04T10:00:00Z","currencyCode":"GBP","items":[]}]"#;
        let transport = ScriptedTransport::new(vec![json(200, PAGE), json(200, second_page)]);
        let args = r#"{"maxItems":3,"limit":2}"#;
        let result = expect_result(call_tool(&transport, "list_returns", args, &context()));
        assert_eq!(
            transport.urls(),
            [
                "https://ingrid.test/merchant/return?limit=2",
                "https://ingrid.test/merchant/return?afterId=50002&limit=1",
            ]
        );
        let output = structured("list_returns", &result);
        assert_eq!(output["count"], 3);
        assert_eq!(output["returns"][2]["id"], 50003);
        assert_eq!(output["nextCursor"], "returns.50003");
        assert_eq!(
            output["stoppedEarly"],
            "reached maxItems 3; more may follow"
        );
        assert_eq!(output["countsByStatus"]["AWAITING_RETURN"], 1);
        assert!(
            result
                .text
                .contains("Stopped early at maxItems 3; there may be more returns: call again with cursor \"returns.50003\"."),
            "{}",
            result.text
        );
    }

    #[test]
    fn bad_arguments_name_the_argument_and_send_nothing() {
        for (args, needle) in [
            (r#"{"status":"LOST"}"#, "LOST"),
            (r#"{"limit":500}"#, "limit"),
            (r#"{"maxItems":1001}"#, "maxItems"),
            (r#"{"orderId":0}"#, "orderId"),
            (r#"{"createdTo":"tomorrow"}"#, "createdTo"),
            (r#"{"orderId":"abc"}"#, "invalid type"),
            (r#"{"confirm":true}"#, "confirm"),
            (r#"{"cursor":"orders.3"}"#, "cursor"),
            ("[1]", "object"),
            ("{", "not JSON"),
        ] {
            let transport = ScriptedTransport::new(vec![]);
            match call_tool(&transport, "list_returns", args, &context()) {
                Err(CallError::InvalidArguments(message)) => {
                    assert!(message.contains(needle), "{args}: {message}")
                }
                other => panic!("{args}: {other:?}"),
            }
            assert!(transport.sent.borrow().is_empty(), "{args}");
        }
    }

    #[test]
    fn reads_are_retried_within_the_deadline_then_explained() {
        let transport = ScriptedTransport::new(vec![
            json(503, r#"{"message":"maintenance"}"#),
            Err(HttpError::NotSent("connection refused".into())),
            json(503, r#"{"message":"maintenance"}"#),
        ]);
        let result = expect_result(call_tool(&transport, "list_returns", "{}", &context()));
        assert!(result.is_error);
        assert_eq!(transport.sent.borrow().len(), 3);
        // Backoff 200 ms then 400 ms, each half fixed and half jittered.
        let slept = transport.slept_ms.get();
        assert!((100 + 200..=200 + 400).contains(&slept), "{slept}");
        assert!(result.text.contains("unavailable"), "{}", result.text);
        assert!(result.text.contains("trace-42"), "{}", result.text);
    }

    #[test]
    fn a_rate_limit_longer_than_the_deadline_is_reported_at_once() {
        let mut limited = json(429, "{}");
        if let Ok(response) = &mut limited {
            response.headers.push(("Retry-After".into(), "30".into()));
        }
        let transport = ScriptedTransport::new(vec![limited]);
        let result = expect_result(call_tool(&transport, "list_returns", "{}", &context()));
        assert!(result.is_error);
        assert_eq!(transport.sent.borrow().len(), 1);
        assert_eq!(transport.slept_ms.get(), 0);
        assert!(result.text.contains("wait 30 s"), "{}", result.text);
    }

    #[test]
    fn a_refused_key_explains_which_key_to_use() {
        let transport = ScriptedTransport::new(vec![json(401, r#"{"message":"Unauthorized"}"#)]);
        let result = expect_result(call_tool(&transport, "list_returns", "{}", &context()));
        assert!(result.is_error);
        assert!(
            result.text.contains("Settings → API Keys"),
            "{}",
            result.text
        );
        assert_eq!(transport.sent.borrow().len(), 1, "a 401 is not retried");
    }
}

//! `list_returns`: returns, one page or up to `maxItems`, with counts by status.

use crate::prelude::*;

use serde::Serialize;

use super::filters::{self, Sort, SortValue};
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
by status (one or several of AWAITING_RETURN, IN_TRANSIT, AWAITING_REFUND, AWAITING_EXCHANGE, \
COMPLETED), Ingrid order id, query (order number or customer email), creation or last-update \
time (from/to, or within the last N days). Each row gives the return id, order, status, \
resolution (REFUND or EXCHANGE), units returned and their value with currency; the result adds \
counts by status. One page by default; with maxItems (up to 1000) it pages for you and says if \
it stopped early. sortBy sorts only the rows this call read; the text says when more exist. \
When nextCursor is not null, pass it as cursor to continue. Read-only. Use get_return for a \
return's items and comments, summarize_returns for totals.",
    input_schema: schema!("list_returns.input.json"),
    output_schema: schema!("list_returns.output.json"),
    effect: Effect::Read,
    destructive: false,
    idempotent: true,
    open_world: true,
    run,
};

const ARGUMENTS: &[&str] = &[
    "status",
    "orderId",
    "query",
    "createdFrom",
    "createdTo",
    "createdWithinDays",
    "updatedFrom",
    "updatedTo",
    "updatedWithinDays",
    "sortBy",
    "sortDirection",
    "cursor",
    "limit",
    "maxItems",
];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    returns: Vec<Row>,
    count: usize,
    next_cursor: Option<String>,
    stopped_early: Option<String>,
    counts_by_status: Tally<usize>,
    /// How the rows were sorted by this plugin, or null (ascending by id as read).
    sorted: Option<String>,
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
    updated_at: Option<String>,
    currency_code: String,
    item_quantity: u32,
    items_value: String,
}

fn run(
    client: &IngridClient,
    _ctx: &CallContext,
    arguments: Json,
) -> Result<ToolOutcome, CallError> {
    let mut arguments = args::Object::new(arguments, ARGUMENTS)?;
    let now = client.transport().wall_clock_unix_secs();
    let mut filters: Vec<(&str, String)> = Vec::new();
    filters::push_statuses(&mut arguments, &mut filters, &catalog::RETURN_STATUSES)?;
    if let Some(order_id) = args::optional_id("orderId", arguments.opt_u64("orderId")?)? {
        filters.push((query::ORDER_ID, order_id.to_string()));
    }
    filters::push_query(&mut arguments, &mut filters)?;
    filters::push_window(&mut arguments, &mut filters, &filters::CREATED, now)?;
    filters::push_window(&mut arguments, &mut filters, &filters::UPDATED, now)?;
    let sort = filters::sort(&mut arguments, &filters::SORT_KEYS)?;
    let page_request = PageRequest::read(CURSOR_KIND, &mut arguments)?;

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
    let Ok(output) = summarise(&paged, sort) else {
        return failure(Overflow::MESSAGE);
    };
    let text = render(&output, &filters, &paged);
    success(TOOL.name, text, &output)
}

fn summarise(paged: &Paged<Return>, sort: Option<Sort>) -> Result<Output, Overflow> {
    let mut counts_by_status = Tally::default();
    let mut keys = Vec::new();
    let rows = paged
        .rows
        .iter()
        .map(|ret| {
            *counts_by_status.entry(&ret.status) += 1;
            let value = ret.items_value()?;
            keys.push(match sort.map(|sort| sort.key) {
                Some("updatedAt") => SortValue::time(ret.updated_at.as_deref()),
                Some("itemsValue") => SortValue::Amount(value),
                Some("itemQuantity") => SortValue::Count(ret.item_quantity()),
                _ => SortValue::time(Some(&ret.created_at)),
            });
            Ok(Row {
                id: ret.id,
                order_id: ret.order_id,
                order_number: ret.order_number.clone(),
                status: ret.status.clone(),
                resolution: ret.resolution.clone(),
                created_at: ret.created_at.clone(),
                updated_at: ret.updated_at.clone(),
                currency_code: ret.currency_code.clone(),
                item_quantity: ret.item_quantity(),
                items_value: money(value),
            })
        })
        .collect::<Result<Vec<Row>, Overflow>>()?;
    let (returns, sorted) = match sort {
        Some(sort) => (
            filters::sort_rows(&keys, rows, sort),
            Some(filters::describe_sort(
                sort,
                paged.rows.len(),
                "returns",
                paged.next_cursor.is_some(),
            )),
        ),
        None => (rows, None),
    };
    Ok(Output {
        count: returns.len(),
        returns,
        next_cursor: paged.next_cursor.clone(),
        stopped_early: paged.stopped_early(),
        counts_by_status,
        sorted,
    })
}

fn render(output: &Output, filters: &[(&str, String)], paged: &Paged<Return>) -> String {
    let mut lines = Vec::with_capacity(output.returns.len() + 5);
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
    if let Some(sorted) = &output.sorted {
        lines.push(sorted.clone());
    }
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

    /// Returns with these (id, created day, updated day, quantity, unit amount) in id order.
    fn returns(rows: &[(u64, u32, u32, u32, &str)]) -> String {
        let rows: Vec<String> = rows
            .iter()
            .map(|(id, created, updated, quantity, amount)| {
                format!(
                    r#"{{"id":{id},"orderId":1,"status":"COMPLETED","createdAt":"2026-02-{created:02}T10:00:00Z",
                    "updatedAt":"2026-03-{updated:02}T10:00:00+01:00","currencyCode":"SEK",
                    "items":[{{"id":{id},"quantity":{quantity},"unitRefundAmount":{amount}}}]}}"#
                )
            })
            .collect();
        format!("[{}]", rows.join(","))
    }

    #[test]
    fn filters_go_to_ingrid_and_windows_count_back_from_the_host_clock() {
        let transport = ScriptedTransport::new(vec![json(200, "[]")]);
        // The fake clock is 2026-11-18T11:06:40Z.
        let args = r#"{"status":["AWAITING_REFUND","IN_TRANSIT","AWAITING_REFUND"],
            "query":"Anna@Example.com","createdWithinDays":30,"updatedTo":"2026-11-11T11:06:40Z",
            "orderId":10001}"#;
        let result = expect_result(call_tool(&transport, "list_returns", args, &context()));
        assert!(!result.is_error, "{}", result.text);
        assert_eq!(
            transport.urls(),
            [
                "https://ingrid.test/merchant/return?status=AWAITING_REFUND%2CIN_TRANSIT&orderId=10001\
              &query=Anna%40Example.com&createdFrom=2026-10-19T11%3A06%3A40Z\
              &updatedTo=2026-11-11T11%3A06%3A40Z&limit=50"
            ]
        );
        let transport = ScriptedTransport::new(vec![json(200, "[]")]);
        let args = r#"{"status":"COMPLETED","updatedWithinDays":7}"#;
        expect_result(call_tool(&transport, "list_returns", args, &context()));
        assert_eq!(
            transport.urls(),
            ["https://ingrid.test/merchant/return?status=COMPLETED\
              &updatedFrom=2026-11-11T11%3A06%3A40Z&limit=50"]
        );
    }

    #[test]
    fn sorting_is_stable_over_the_rows_read_and_says_more_exist() {
        let page = returns(&[
            (1, 5, 9, 1, "10.00"),
            (2, 3, 2, 2, "5.00"),
            (3, 4, 9, 1, "10.0"),
            (4, 1, 1, 3, "100.00"),
        ]);
        let ids = |args: &str, page: &str| {
            let transport = ScriptedTransport::new(vec![json(200, page)]);
            let result = expect_result(call_tool(&transport, "list_returns", args, &context()));
            let output = structured("list_returns", &result);
            let ids: Vec<u64> = output["returns"]
                .as_array()
                .map(|rows| rows.iter().filter_map(|row| row["id"].as_u64()).collect())
                .unwrap_or_default();
            (ids, result.text, output)
        };
        // Equal values (10.00, 2 × 5.00 and 10.0; updated the same day) keep ascending id
        // either way.
        assert_eq!(ids(r#"{"sortBy":"itemsValue"}"#, &page).0, [4, 1, 2, 3]);
        assert_eq!(
            ids(r#"{"sortBy":"itemsValue","sortDirection":"asc"}"#, &page).0,
            [1, 2, 3, 4]
        );
        assert_eq!(ids(r#"{"sortBy":"updatedAt"}"#, &page).0, [1, 3, 2, 4]);
        assert_eq!(
            ids(r#"{"sortBy":"createdAt","sortDirection":"asc"}"#, &page).0,
            [4, 2, 3, 1]
        );
        let (sorted, text, output) = ids(r#"{"sortBy":"itemQuantity","limit":4}"#, &page);
        assert_eq!(sorted, [4, 2, 1, 3]);
        assert!(
            text.contains("among the 4 returns read; more exist"),
            "{text}"
        );
        assert_eq!(output["nextCursor"], "returns.4");
        let (_, text, _) = ids(r#"{"sortBy":"itemQuantity"}"#, &page);
        assert!(text.contains("among all 4 returns that match"), "{text}");
        let (_, text, output) = ids("{}", &page);
        assert!(!text.contains("Sorted"), "{text}");
        assert_eq!(output["sorted"], serde_json::Value::Null);
    }

    #[test]
    fn bad_filter_arguments_name_the_argument_and_send_nothing() {
        for (args, needle) in [
            (
                r#"{"status":["COMPLETED","LOST"]}"#,
                "`status` must be one of",
            ),
            (r#"{"status":[]}"#, "`status` must name at least one"),
            (r#"{"status":[1]}"#, "invalid type"),
            (
                r#"{"createdWithinDays":-1}"#,
                "`createdWithinDays` must be a whole number",
            ),
            (r#"{"updatedWithinDays":0}"#, "`updatedWithinDays`"),
            (r#"{"updatedWithinDays":"7"}"#, "`updatedWithinDays`"),
            (
                r#"{"createdWithinDays":7,"createdFrom":"2026-01-01T00:00:00Z"}"#,
                "give `createdFrom` or `createdWithinDays`, not both",
            ),
            (
                r#"{"updatedFrom":"last week"}"#,
                "`updatedFrom` must be an RFC 3339",
            ),
            (r#"{"query":"  "}"#, "`query` must not be blank"),
            (r#"{"sortBy":"price"}"#, "`sortBy` must be one of"),
            (
                r#"{"sortDirection":"asc"}"#,
                "`sortDirection` needs `sortBy`",
            ),
            (
                r#"{"sortBy":"createdAt","sortDirection":"up"}"#,
                "`sortDirection`",
            ),
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

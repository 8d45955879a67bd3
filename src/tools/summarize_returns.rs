//! `summarize_returns`: what a merchant's analyst asks of a window of returns (counts by status,
//! resolution and reason, top SKUs, value per currency, refunds, approved against rejected,
//! time to completion), always with its coverage.

use crate::prelude::*;

use serde::Serialize;

use super::paging::{self, PageRequest, Paged, Stop};
use super::tally::Tally;
use super::{Tool, args, failure, filters, rfc3339, success, text};
use crate::api::{CallContext, CallError, Effect, ToolOutcome};
use crate::ingrid::IngridClient;
use crate::ingrid::catalog::{self, Endpoint, query};
use crate::ingrid::error::Subject;
use crate::ingrid::json::Json;
use crate::ingrid::models::{Money, Overflow, RefundTransaction, Return, money};

const CURSOR_KIND: &str = "summary";
/// The most returns (and refund transactions) one call reads.
pub const MAX_ROWS: u32 = 5000;
/// How many SKUs the result lists.
const TOP_SKUS: usize = 10;

pub const TOOL: Tool = Tool {
    name: "summarize_returns",
    title: "Summarize returns",
    description: "Answers analysis questions over a window of the merchant's Ingrid returns \
(created or last updated from/to, or within the last N days; optionally by status, one or \
several, and by query on order number or customer email): counts by status, resolution and \
reason (in units), the top SKUs by returned units, the returned value per currency, the refund \
transactions of these returns by status with totals per currency, approved against rejected \
units, and the median and 90th percentile of days from created to completed (nearest rank). \
Money is exact and never summed across currencies. It reads up to maxItems returns (default and \
most 5000) and states its coverage: if coverage.complete is false, call again with the same \
arguments and cursor set to coverage.nextCursor, then add the counts and per-currency sums of \
the calls (they cover disjoint returns); top SKUs, median and percentile are per call. \
Read-only: it never changes anything.",
    input_schema: schema!("summarize_returns.input.json"),
    output_schema: schema!("summarize_returns.output.json"),
    effect: Effect::Read,
    destructive: false,
    idempotent: true,
    open_world: true,
    run,
};

const ARGUMENTS: &[&str] = &[
    "status",
    "query",
    "createdFrom",
    "createdTo",
    "createdWithinDays",
    "updatedFrom",
    "updatedTo",
    "updatedWithinDays",
    "cursor",
    "maxItems",
];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    coverage: Coverage,
    returns: usize,
    counts_by_status: Tally<usize>,
    counts_by_resolution: Tally<usize>,
    units_by_reason: Tally<u64>,
    top_skus: Vec<SkuRow>,
    returned_value_by_currency: Tally<String>,
    item_units_by_status: Tally<u64>,
    refund_transactions: Refunds,
    days_to_complete: Option<DaysToComplete>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Coverage {
    returns_read: usize,
    complete: bool,
    next_cursor: Option<String>,
    stopped_early: Option<String>,
    refund_transactions_read: usize,
    refund_transactions_complete: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SkuRow {
    sku: String,
    units: u64,
    returns: u64,
}

#[derive(Debug, Default)]
struct SkuCount {
    units: u64,
    returns: u64,
    last_return: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Refunds {
    count: usize,
    counts_by_status: Tally<usize>,
    /// Status → currency → Σ amount.
    totals_by_status: Tally<Tally<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DaysToComplete {
    completed: usize,
    median_days: String,
    p90_days: String,
    median_seconds: u64,
    p90_seconds: u64,
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
    filters::push_query(&mut arguments, &mut filters)?;
    filters::push_window(&mut arguments, &mut filters, &filters::CREATED, now)?;
    filters::push_window(&mut arguments, &mut filters, &filters::UPDATED, now)?;
    let cursor = arguments.opt_string("cursor")?;
    let max_items = match arguments.opt_u32("maxItems")? {
        None => MAX_ROWS,
        Some(max @ 1..=MAX_ROWS) => max,
        Some(other) => {
            return Err(CallError::InvalidArguments(format!(
                "`maxItems` must be between 1 and {MAX_ROWS}, not {other}"
            )));
        }
    };
    let request = PageRequest::pages(CURSOR_KIND, cursor.as_deref(), max_items)?;

    let returns: Paged<Return> = match paging::fetch(
        client,
        Endpoint::ListReturns,
        Subject::Returns,
        &filters,
        &request,
    ) {
        Ok(paged) => paged,
        Err(error) => return failure(error.to_string()),
    };
    let refunds = match fetch_refunds(client, &returns.rows) {
        Ok(refunds) => refunds,
        Err(error) => return failure(error),
    };
    let Ok(output) = summarise(&returns, refunds) else {
        return failure(Overflow::MESSAGE);
    };
    let text = render(&output, &filters);
    success(TOOL.name, text, &output)
}

/// The refund transactions of `returns`: a refund is created after its return (M12), so the
/// list from the earliest return's creation holds them all.
fn fetch_refunds(
    client: &IngridClient,
    returns: &[Return],
) -> Result<Paged<RefundTransaction>, String> {
    let earliest = returns
        .iter()
        .filter_map(|ret| rfc3339::parse(&ret.created_at))
        .map(|at| at.unix_seconds())
        .min();
    let Some(earliest) = earliest else {
        return Ok(Paged {
            rows: Vec::new(),
            next_cursor: None,
            stop: Stop::EndOfList,
        });
    };
    let from = u64::try_from(earliest)
        .ok()
        .and_then(rfc3339::format_utc)
        .unwrap_or_default();
    let request =
        PageRequest::pages("refunds", None, MAX_ROWS).map_err(|error| error.to_string())?;
    let mut paged: Paged<RefundTransaction> = paging::fetch(
        client,
        Endpoint::ListRefundTransactions,
        Subject::RefundTransactions,
        &[(query::CREATED_FROM, from)],
        &request,
    )
    .map_err(|error| error.to_string())?;
    let mut ids: Vec<u64> = returns.iter().map(|ret| ret.id).collect();
    ids.sort_unstable();
    paged
        .rows
        .retain(|refund| ids.binary_search(&refund.return_id).is_ok());
    Ok(paged)
}

fn summarise(
    returns: &Paged<Return>,
    refunds: Paged<RefundTransaction>,
) -> Result<Output, Overflow> {
    let mut counts_by_status = Tally::default();
    let mut counts_by_resolution = Tally::default();
    let mut units_by_reason: Tally<u64> = Tally::default();
    let mut skus: Tally<SkuCount> = Tally::default();
    let mut value: Tally<Money> = Tally::default();
    let mut item_units_by_status: Tally<u64> = Tally::default();
    let mut durations: Vec<u64> = Vec::new();
    for ret in &returns.rows {
        *counts_by_status.entry(&ret.status) += 1;
        *counts_by_resolution.entry(ret.resolution.as_deref().unwrap_or("UNKNOWN")) += 1;
        let total = value.entry(&ret.currency_code);
        *total = total.checked_add(ret.items_value()?)?;
        for item in &ret.items {
            let units = u64::from(item.quantity);
            *units_by_reason.entry(item.reason.as_deref().unwrap_or("UNKNOWN")) += units;
            *item_units_by_status.entry(item.status.as_deref().unwrap_or("UNKNOWN")) += units;
            if let Some(sku) = &item.sku {
                let count = skus.entry(sku);
                count.units += units;
                if count.returns == 0 || count.last_return != ret.id {
                    count.returns += 1;
                    count.last_return = ret.id;
                }
            }
        }
        let created = rfc3339::parse(&ret.created_at);
        let completed = ret.completed_at.as_deref().and_then(rfc3339::parse);
        if let (Some(created), Some(completed)) = (created, completed)
            && let Ok(seconds) = u64::try_from(completed.unix_seconds() - created.unix_seconds())
        {
            durations.push(seconds);
        }
    }
    let mut top_skus: Vec<SkuRow> = skus
        .iter()
        .map(|(sku, count)| SkuRow {
            sku: sku.to_string(),
            units: count.units,
            returns: count.returns,
        })
        .collect();
    // Stable: equal units keep SKU order.
    top_skus.sort_by_key(|row| core::cmp::Reverse(row.units));
    top_skus.truncate(TOP_SKUS);

    let mut refund_counts = Tally::default();
    let mut refund_totals: Tally<Tally<Money>> = Tally::default();
    for refund in &refunds.rows {
        *refund_counts.entry(&refund.status) += 1;
        let total = refund_totals
            .entry(&refund.status)
            .entry(&refund.currency_code);
        *total = total.checked_add(refund.amount)?;
    }
    Ok(Output {
        coverage: Coverage {
            returns_read: returns.rows.len(),
            complete: returns.next_cursor.is_none(),
            next_cursor: returns.next_cursor.clone(),
            stopped_early: returns.stopped_early(),
            refund_transactions_read: refunds.rows.len(),
            refund_transactions_complete: refunds.next_cursor.is_none(),
        },
        returns: returns.rows.len(),
        counts_by_status,
        counts_by_resolution,
        units_by_reason,
        top_skus,
        returned_value_by_currency: value.map(money),
        item_units_by_status,
        refund_transactions: Refunds {
            count: refunds.rows.len(),
            counts_by_status: refund_counts,
            totals_by_status: refund_totals.map(|totals| totals.map(money)),
        },
        days_to_complete: days_to_complete(durations),
    })
}

/// Median and 90th percentile by nearest rank: the value at rank ⌈p × n / 100⌉ of the sorted
/// durations.
fn days_to_complete(mut durations: Vec<u64>) -> Option<DaysToComplete> {
    if durations.is_empty() {
        return None;
    }
    durations.sort_unstable();
    let count = durations.len();
    let rank = |percent: usize| durations[(percent * count).div_ceil(100).max(1) - 1];
    let (median, p90) = (rank(50), rank(90));
    Some(DaysToComplete {
        completed: count,
        median_days: days(median),
        p90_days: days(p90),
        median_seconds: median,
        p90_seconds: p90,
    })
}

/// Seconds as days with one decimal, rounded half up ("4.5").
fn days(seconds: u64) -> String {
    let tenths = (seconds.saturating_mul(10).saturating_add(43_200)) / 86_400;
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn counts<V: core::fmt::Display>(tally: &Tally<V>, limit: usize) -> String {
    let listed: Vec<String> = tally
        .iter()
        .take(limit)
        .map(|(key, value)| format!("{} {value}", text::clean(key, 40)))
        .collect();
    listed.join(", ")
}

fn amounts(totals: &Tally<String>) -> String {
    let listed: Vec<String> = totals
        .iter()
        .map(|(currency, total)| format!("{total} {}", text::clean(currency, 5)))
        .collect();
    listed.join(", ")
}

fn render(output: &Output, filters: &[(&str, String)]) -> String {
    let coverage = &output.coverage;
    let scope = if coverage.complete {
        "all that match".to_string()
    } else {
        format!(
            "NOT all that match ({}): call again with cursor \"{}\" and add up the counts and sums",
            coverage.stopped_early.as_deref().unwrap_or("stopped early"),
            coverage.next_cursor.as_deref().unwrap_or_default()
        )
    };
    let mut lines = vec![format!(
        "{} returns{} read, {scope}.",
        text::count(output.returns),
        text::describe_filters(filters)
    )];
    if output.returns == 0 {
        return lines.join("\n");
    }
    lines.push(format!(
        "By status: {}. By resolution: {}.",
        counts(&output.counts_by_status, usize::MAX),
        counts(&output.counts_by_resolution, usize::MAX)
    ));
    let mut reasons: Vec<(&str, &u64)> = output.units_by_reason.iter().collect();
    reasons.sort_by(|left, right| right.1.cmp(left.1));
    let reasons: Vec<String> = reasons
        .iter()
        .map(|(reason, units)| format!("{} {units}", text::clean(reason, 40)))
        .collect();
    lines.push(format!("Units by reason: {}.", reasons.join(", ")));
    let skus: Vec<String> = output
        .top_skus
        .iter()
        .take(5)
        .map(|row| {
            format!(
                "{} {} units in {} returns",
                text::clean(&row.sku, 40),
                row.units,
                row.returns
            )
        })
        .collect();
    lines.push(format!("Top SKUs: {}.", skus.join("; ")));
    lines.push(format!(
        "Returned value: {} (per currency, never summed across currencies).",
        amounts(&output.returned_value_by_currency)
    ));
    lines.push(format!(
        "Item units by inspection: {}.",
        counts(&output.item_units_by_status, usize::MAX)
    ));
    let refunds = &output.refund_transactions;
    let by_status: Vec<String> = refunds
        .totals_by_status
        .iter()
        .map(|(status, totals)| {
            let count = refunds
                .counts_by_status
                .iter()
                .find(|(key, _)| key == &status)
                .map_or(0, |(_, count)| *count);
            format!("{} {count} ({})", text::clean(status, 30), amounts(totals))
        })
        .collect();
    let refunds_scope = if coverage.refund_transactions_complete {
        ""
    } else {
        " (refund list cut short: these are partial)"
    };
    lines.push(format!(
        "Refund transactions of these returns: {}{}{refunds_scope}.",
        refunds.count,
        if by_status.is_empty() {
            String::new()
        } else {
            format!(": {}", by_status.join("; "))
        }
    ));
    if let Some(days) = &output.days_to_complete {
        lines.push(format!(
            "Created to completed: median {} days, 90th percentile {} days, over {} completed \
             returns (nearest rank).",
            days.median_days, days.p90_days, days.completed
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests;

//! `summarize_returns`: what a merchant's analyst asks of a window of returns (counts by status,
//! resolution and reason, top SKUs, value per currency, refunds, approved against rejected,
//! time to completion), always with its coverage.

use crate::prelude::*;

use core::fmt::Write as _;

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
    description: "Summarises the merchant's Ingrid returns over a window (created or updated \
from/to, or within the last N days; optionally by status, one or several, and by query on order \
number or customer email): counts by status, resolution and reason (units), top SKUs by units, \
returned value per currency, the refund transactions of these returns by status with totals per \
currency, approved against rejected units, and median and 90th percentile days from created to \
completed (nearest rank). Money is exact and never summed across currencies. It reads up to \
maxItems returns (default and most 5000); when coverage.complete is false, call again with the \
same arguments and cursor = coverage.nextCursor, and add up the counts and per-currency sums of \
the calls (they cover different returns); top SKUs and days are per call. Read-only.",
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
    units_by_reason: Tally<usize>,
    top_skus: Vec<SkuRow>,
    returned_value_by_currency: Tally<String>,
    item_units_by_status: Tally<usize>,
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
    units: usize,
    returns: usize,
}

#[derive(Debug, Default)]
struct SkuCount {
    units: usize,
    returns: usize,
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
    let max_items =
        args::max_items_up_to(arguments.opt_u32("maxItems")?, MAX_ROWS)?.unwrap_or(MAX_ROWS);
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
    let mut filters = Vec::new();
    if let Some(from) = u64::try_from(earliest).ok().and_then(rfc3339::format_utc) {
        filters.push((query::CREATED_FROM, from));
    }
    let request =
        PageRequest::pages("refunds", None, MAX_ROWS).map_err(|error| error.to_string())?;
    let mut paged: Paged<RefundTransaction> = paging::fetch(
        client,
        Endpoint::ListRefundTransactions,
        Subject::RefundTransactions,
        &filters,
        &request,
    )
    .map_err(|error| error.to_string())?;
    // The returns were read ascending by id (M2).
    paged.rows.retain(|refund| {
        returns
            .binary_search_by_key(&refund.return_id, |ret| ret.id)
            .is_ok()
    });
    Ok(paged)
}

fn summarise(
    returns: &Paged<Return>,
    refunds: Paged<RefundTransaction>,
) -> Result<Output, Overflow> {
    let mut counts_by_status = Tally::default();
    let mut counts_by_resolution = Tally::default();
    let mut units_by_reason: Tally<usize> = Tally::default();
    let mut skus: Tally<SkuCount> = Tally::default();
    let mut value: Tally<Money> = Tally::default();
    let mut item_units_by_status: Tally<usize> = Tally::default();
    let mut durations: Vec<u64> = Vec::new();
    for ret in &returns.rows {
        *counts_by_status.entry(&ret.status) += 1;
        *counts_by_resolution.entry(ret.resolution.as_deref().unwrap_or("UNKNOWN")) += 1;
        let total = value.entry(&ret.currency_code);
        *total = total.checked_add(ret.items_value()?)?;
        for item in &ret.items {
            let units = item.quantity as usize;
            let reason = units_by_reason.entry(item.reason.as_deref().unwrap_or("UNKNOWN"));
            *reason = reason.saturating_add(units);
            let status = item_units_by_status.entry(item.status.as_deref().unwrap_or("UNKNOWN"));
            *status = status.saturating_add(units);
            if let Some(sku) = &item.sku {
                let count = skus.entry(sku);
                count.units = count.units.saturating_add(units);
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
    let skus: Vec<(&str, &SkuCount)> = skus.iter().collect();
    // Stable: equal units keep SKU order.
    let most = filters::order(skus.len(), &|a, b| skus[b].1.units.cmp(&skus[a].1.units));
    let mut top_skus = Vec::with_capacity(TOP_SKUS);
    for &index in most.iter().take(TOP_SKUS) {
        let (sku, count) = skus[index];
        top_skus.push(SkuRow {
            sku: sku.to_string(),
            units: count.units,
            returns: count.returns,
        });
    }

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
fn days_to_complete(durations: Vec<u64>) -> Option<DaysToComplete> {
    if durations.is_empty() {
        return None;
    }
    let shortest = filters::order(durations.len(), &|a, b| durations[a].cmp(&durations[b]));
    let count = durations.len();
    let rank = |percent: usize| durations[shortest[(percent * count).div_ceil(100).max(1) - 1]];
    let (median, p90) = (rank(50), rank(90));
    Some(DaysToComplete {
        completed: count,
        median_days: days(median),
        p90_days: days(p90),
    })
}

/// Seconds as days with one decimal, rounded half up ("4.5").
fn days(seconds: u64) -> String {
    let tenths = (seconds.saturating_mul(10).saturating_add(43_200)) / 86_400;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// "49.95 EUR, 230.10 SEK" after `text`.
fn amounts(text: &mut String, totals: &Tally<String>) {
    for (index, (currency, total)) in totals.iter().enumerate() {
        let separator = if index == 0 { "" } else { ", " };
        let _ = write!(text, "{separator}{total} {}", text::clean(currency, 5));
    }
}

fn render(output: &Output, filters: &[(&str, String)]) -> String {
    let coverage = &output.coverage;
    let mut out = format!(
        "{} returns{} read, ",
        text::count(output.returns),
        text::describe_filters(filters)
    );
    match &coverage.next_cursor {
        None => out.push_str("all that match."),
        Some(cursor) => {
            let _ = write!(
                out,
                "NOT all that match ({}): call again with cursor \"{cursor}\" and add up the \
                 counts and sums.",
                coverage.stopped_early.as_deref().unwrap_or("stopped early"),
            );
        }
    }
    if output.returns == 0 {
        return out;
    }
    let _ = write!(
        out,
        "\nBy status: {}. By resolution: {}.\nUnits by reason:",
        text::describe_counts(&output.counts_by_status),
        text::describe_counts(&output.counts_by_resolution)
    );
    let reasons: Vec<(&str, &usize)> = output.units_by_reason.iter().collect();
    let most = filters::order(reasons.len(), &|a, b| reasons[b].1.cmp(reasons[a].1));
    for (position, &index) in most.iter().enumerate() {
        let separator = if position == 0 { " " } else { ", " };
        let (reason, units) = reasons[index];
        let _ = write!(out, "{separator}{} {units}", text::clean(reason, 40));
    }
    out.push_str(".\nTop SKUs:");
    for (position, row) in output.top_skus.iter().take(5).enumerate() {
        let separator = if position == 0 { " " } else { "; " };
        let _ = write!(
            out,
            "{separator}{} {} unit{} in {} return{}",
            text::clean(&row.sku, 40),
            row.units,
            if row.units == 1 { "" } else { "s" },
            row.returns,
            if row.returns == 1 { "" } else { "s" },
        );
    }
    out.push_str(".\nReturned value: ");
    amounts(&mut out, &output.returned_value_by_currency);
    let refunds = &output.refund_transactions;
    let _ = write!(
        out,
        " (per currency, never summed across currencies).\nItem units by inspection: {}.\n\
         Refund transactions of these returns: {}",
        text::describe_counts(&output.item_units_by_status),
        refunds.count
    );
    for (position, ((status, totals), (_, count))) in refunds
        .totals_by_status
        .iter()
        .zip(refunds.counts_by_status.iter())
        .enumerate()
    {
        let separator = if position == 0 { ": " } else { "; " };
        let _ = write!(out, "{separator}{} {count} (", text::clean(status, 30));
        amounts(&mut out, totals);
        out.push(')');
    }
    if !coverage.refund_transactions_complete {
        out.push_str(" (refund list cut short: these are partial)");
    }
    out.push('.');
    if let Some(days) = &output.days_to_complete {
        let _ = write!(
            out,
            "\nCreated to completed: median {} days, 90th percentile {} days, over {} completed \
             returns (nearest rank).",
            days.median_days, days.p90_days, days.completed
        );
    }
    out
}

#[cfg(test)]
mod tests;

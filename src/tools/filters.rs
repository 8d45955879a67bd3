//! The analysis filters shared by the list tools and `summarize_returns`: several statuses, a
//! free-text `query` and time windows, all sent to Ingrid (M15), windows in days counted back
//! from the host's clock; and sorting, which Ingrid's lists cannot do (M2: ascending by id),
//! so it is done here over the rows read.

use crate::prelude::*;

use core::cmp::Ordering;

use super::args::{self, Object};
use super::rfc3339;
use crate::api::CallError;
use crate::ingrid::catalog::{STATUS_SEPARATOR, query};
use crate::ingrid::models::Money;

/// The longest `query` sent.
pub const QUERY_MAX_CHARS: usize = 100;

fn invalid(message: String) -> CallError {
    CallError::InvalidArguments(message)
}

/// `status`: one value or several from `allowed`, sent comma-separated (M15).
pub fn push_statuses(
    object: &mut Object,
    filters: &mut Vec<(&'static str, String)>,
    allowed: &[&str],
) -> Result<(), CallError> {
    let Some(values) = object.opt_strings("status")? else {
        return Ok(());
    };
    let mut wanted: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        if let Some(value) = args::one_of("status", Some(value), allowed)?
            && !wanted.contains(&value)
        {
            wanted.push(value);
        }
    }
    filters.push((query::STATUS, wanted.join(STATUS_SEPARATOR)));
    Ok(())
}

/// `query`: free text matched by Ingrid against order numbers and customer emails (M15).
pub fn push_query(
    object: &mut Object,
    filters: &mut Vec<(&'static str, String)>,
) -> Result<(), CallError> {
    if let Some(text) = args::text("query", object.opt_string("query")?, QUERY_MAX_CHARS)? {
        filters.push((query::QUERY, text));
    }
    Ok(())
}

/// A time window's argument names and the parameters it is sent as.
pub struct Window {
    pub from: &'static str,
    pub to: &'static str,
    pub within_days: &'static str,
    pub from_param: &'static str,
    pub to_param: &'static str,
}

pub const CREATED: Window = Window {
    from: "createdFrom",
    to: "createdTo",
    within_days: "createdWithinDays",
    from_param: query::CREATED_FROM,
    to_param: query::CREATED_TO,
};

pub const UPDATED: Window = Window {
    from: "updatedFrom",
    to: "updatedTo",
    within_days: "updatedWithinDays",
    from_param: query::UPDATED_FROM,
    to_param: query::UPDATED_TO,
};

/// `<x>From`, `<x>To` (RFC 3339) or `<x>WithinDays` (the last N × 24 hours before
/// `now_unix_secs`, the host's clock), never both a `From` and a `WithinDays`.
pub fn push_window(
    object: &mut Object,
    filters: &mut Vec<(&'static str, String)>,
    window: &Window,
    now_unix_secs: u64,
) -> Result<(), CallError> {
    let from = object.opt_string(window.from)?;
    let to = args::timestamp(window.to, object.opt_string(window.to)?)?;
    let from = match (from, object.opt_days(window.within_days)?) {
        (Some(_), Some(_)) => {
            return Err(invalid(format!(
                "give `{}` or `{}`, not both",
                window.from, window.within_days
            )));
        }
        (None, Some(days)) => {
            let start = now_unix_secs.saturating_sub(u64::from(days) * 86_400);
            rfc3339::format_utc(start)
        }
        (from, None) => args::timestamp(window.from, from)?,
    };
    if let Some(from) = from {
        filters.push((window.from_param, from));
    }
    if let Some(to) = to {
        filters.push((window.to_param, to));
    }
    Ok(())
}

/// What a list may be sorted by; `keys` names those a tool offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: &'static str,
    pub descending: bool,
}

pub const SORT_KEYS: [&str; 4] = ["createdAt", "updatedAt", "itemsValue", "itemQuantity"];

/// `sortBy` (one of `keys`) and `sortDirection` (`asc` or `desc`, default `desc`).
pub fn sort(object: &mut Object, keys: &[&'static str]) -> Result<Option<Sort>, CallError> {
    let by = args::one_of("sortBy", object.opt_string("sortBy")?, keys)?;
    let direction = args::one_of(
        "sortDirection",
        object.opt_string("sortDirection")?,
        &["asc", "desc"],
    )?;
    match (by, direction) {
        (None, Some(_)) => Err(invalid(
            "`sortDirection` needs `sortBy`; leave it out or add `sortBy`".to_string(),
        )),
        (None, None) => Ok(None),
        (Some(by), direction) => Ok(Some(Sort {
            key: keys
                .iter()
                .find(|key| **key == by)
                .copied()
                .unwrap_or("createdAt"),
            descending: direction.as_deref() != Some("asc"),
        })),
    }
}

/// A row's value for the sort key.
#[derive(Debug, Clone, Copy)]
pub enum SortValue {
    /// Seconds since the epoch; unreadable or absent times sort before every time.
    Time(Option<i64>),
    Amount(Money),
    Count(u32),
}

impl SortValue {
    pub fn time(text: Option<&str>) -> SortValue {
        SortValue::Time(text.and_then(rfc3339::parse).map(|at| at.unix_seconds()))
    }

    fn compare(&self, other: &SortValue) -> Ordering {
        match (self, other) {
            (SortValue::Time(left), SortValue::Time(right)) => left.cmp(right),
            (SortValue::Amount(left), SortValue::Amount(right)) => left.compare(*right),
            (SortValue::Count(left), SortValue::Count(right)) => left.cmp(right),
            _ => Ordering::Equal,
        }
    }
}

/// Sorts rows by their keys, stably: ties keep the order read (ascending id).
pub fn sort_rows<T>(keys: &[SortValue], rows: Vec<T>, sort: Sort) -> Vec<T> {
    let order = order(keys.len(), &|left, right| {
        let order = keys[left].compare(&keys[right]);
        if sort.descending {
            order.reverse()
        } else {
            order
        }
    });
    pick(rows, &order)
}

/// The positions `0..len` in the order `compare` gives them, ties in position order: a
/// bottom-up merge sort, stable. Every sort in the plugin goes through this one routine: core's
/// sorts cost the component kilobytes per element type.
pub fn order(len: usize, compare: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut merged = order.clone();
    let mut width = 1;
    while width < len {
        let mut start = 0;
        while start < len {
            let middle = (start + width).min(len);
            let end = (start + 2 * width).min(len);
            let (mut left, mut right) = (start, middle);
            for slot in &mut merged[start..end] {
                let take_left = right >= end
                    || (left < middle && compare(order[left], order[right]) != Ordering::Greater);
                if take_left {
                    *slot = order[left];
                    left += 1;
                } else {
                    *slot = order[right];
                    right += 1;
                }
            }
            start = end;
        }
        core::mem::swap(&mut order, &mut merged);
        width *= 2;
    }
    order
}

/// `rows` in `order` (positions from [`order`]).
pub fn pick<T>(rows: Vec<T>, order: &[usize]) -> Vec<T> {
    let mut slots: Vec<Option<T>> = rows.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&index| slots.get_mut(index).and_then(Option::take))
        .collect()
}

/// The text's line on a sort done here: over which rows, and whether more exist.
pub fn describe_sort(sort: Sort, read: usize, noun: &str, more: bool) -> String {
    let direction = if sort.descending {
        "descending"
    } else {
        "ascending"
    };
    let scope = if more {
        format!(
            "among the {} {noun} read; more exist, so the order covers only these",
            super::text::count(read)
        )
    } else {
        format!("among all {} {noun} that match", super::text::count(read))
    };
    format!(
        "Sorted by {} {direction} by this plugin (Ingrid lists by id only), {scope}.",
        sort.key
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_a_stable_sort() {
        let values = [5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
        let sorted = order(values.len(), &|a, b| values[a].cmp(&values[b]));
        assert_eq!(sorted, [1, 3, 6, 9, 2, 0, 4, 8, 10, 7, 5]);
        let descending = order(values.len(), &|a, b| values[b].cmp(&values[a]));
        assert_eq!(descending, [5, 7, 0, 4, 8, 10, 2, 9, 6, 1, 3]);
        assert!(order(0, &|_, _| Ordering::Equal).is_empty());
        for len in 0..40_usize {
            let values: Vec<usize> = (0..len).map(|i| (i * 7919) % 13).collect();
            let sorted = order(len, &|a, b| values[a].cmp(&values[b]));
            let mut expected: Vec<usize> = (0..len).collect();
            expected.sort_by_key(|&i| values[i]);
            assert_eq!(sorted, expected, "{len}");
        }
        assert_eq!(pick(vec!['a', 'b', 'c'], &[2, 0, 1]), ['c', 'a', 'b']);
    }
}

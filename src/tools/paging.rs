//! Keyset paging shared by the list tools: one page by default, or with `maxItems` as many
//! pages as it takes (up to 100 rows per request), behind an opaque cursor per resource kind.

use crate::prelude::*;

use super::args;
use crate::api::CallError;
use crate::ingrid::IngridClient;
use crate::ingrid::catalog::{self, Endpoint, query};
use crate::ingrid::error::{IngridError, Subject};
use crate::ingrid::json::{List, Read};
use crate::ingrid::models::Keyed;

/// What to fetch, from a list tool's `cursor`, `limit` and `maxItems` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    cursor_kind: &'static str,
    after_id: Option<u64>,
    page_size: u32,
    max_items: Option<u32>,
}

impl PageRequest {
    pub fn from_arguments(
        cursor_kind: &'static str,
        cursor: Option<&str>,
        limit: Option<u32>,
        max_items: Option<u32>,
    ) -> Result<Self, CallError> {
        let max_items = args::max_items(max_items)?;
        // With maxItems the tool pages for the agent, so it asks for full pages unless the
        // agent chose a smaller page size.
        let page_size = match (limit, max_items) {
            (None, Some(_)) => catalog::LIST_LIMIT_MAX,
            _ => args::limit(limit)?,
        };
        Ok(PageRequest {
            cursor_kind,
            after_id: args::decode_cursor(cursor_kind, cursor)?,
            page_size,
            max_items,
        })
    }

    /// A list tool's `cursor`, `limit` and `maxItems`, taken from its arguments and checked.
    pub fn read(
        cursor_kind: &'static str,
        arguments: &mut args::Object<'_>,
    ) -> Result<Self, CallError> {
        PageRequest::from_arguments(
            cursor_kind,
            arguments.opt_string("cursor")?.as_deref(),
            arguments.opt_u32("limit")?,
            arguments.opt_u32("maxItems")?,
        )
    }
}

impl PageRequest {
    /// Full pages from `cursor` until the end of the list or `max_items` rows (checked by
    /// the caller).
    pub fn pages(
        cursor_kind: &'static str,
        cursor: Option<&str>,
        max_items: u32,
    ) -> Result<Self, CallError> {
        Ok(PageRequest {
            cursor_kind,
            after_id: args::decode_cursor(cursor_kind, cursor)?,
            page_size: catalog::LIST_LIMIT_MAX,
            max_items: Some(max_items),
        })
    }
}

/// Why the tool stopped fetching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The list has no more rows.
    EndOfList,
    /// One page was asked for (no `maxItems`); more may follow.
    OnePage,
    /// `maxItems` rows were collected; more may follow.
    MaxItems(u32),
    /// A later page failed; the rows before it are kept.
    Interrupted(String),
}

#[derive(Debug)]
pub struct Paged<T> {
    pub rows: Vec<T>,
    /// Where to continue; `None` at the end of the list.
    pub next_cursor: Option<String>,
    pub stop: Stop,
}

impl<T> Paged<T> {
    /// For the structured output: why the tool stopped before the end of the list although
    /// the agent asked for more (`maxItems`), or `None`.
    pub fn stopped_early(&self) -> Option<String> {
        match &self.stop {
            Stop::MaxItems(max) => Some(format!("reached maxItems {max}; more may follow")),
            Stop::Interrupted(reason) => Some(format!("a later page failed: {reason}")),
            Stop::EndOfList | Stop::OnePage => None,
        }
    }

    /// The last line of a list's text: how to go on, or that this is all.
    pub fn footer(&self, noun: &str) -> String {
        let cursor = self.next_cursor.as_deref().unwrap_or_default();
        match &self.stop {
            Stop::EndOfList => "This is the last page.".to_string(),
            Stop::OnePage => format!("More {noun}: call again with cursor \"{cursor}\"."),
            Stop::MaxItems(max) => format!(
                "Stopped early at maxItems {max}; there may be more {noun}: call again with \
                 cursor \"{cursor}\"."
            ),
            Stop::Interrupted(reason) => {
                // Error texts may or may not end their sentence.
                let reason = format!("{}.", reason.trim_end().trim_end_matches('.'));
                self.interrupted_text(&reason, noun)
            }
        }
    }

    fn interrupted_text(&self, reason: &str, noun: &str) -> String {
        match &self.next_cursor {
            Some(cursor) => format!(
                "Stopped early after {} {noun}: {reason} To continue, call again with \
                     cursor \"{cursor}\".",
                self.rows.len()
            ),
            None => format!(
                "Stopped early after {} {noun}: {reason} To retry, call again without a \
                     cursor.",
                self.rows.len()
            ),
        }
    }
}

/// Fetches rows of `endpoint` with `filters` (sent first, in order), then `afterId` and
/// `limit`. A failing first page is an error; a failing later page ends the list early.
pub fn fetch<T: Read + Keyed>(
    client: &IngridClient,
    endpoint: Endpoint,
    subject: Subject,
    filters: &[(&str, String)],
    request: &PageRequest,
) -> Result<Paged<T>, IngridError> {
    let mut rows: Vec<T> = Vec::new();
    let mut after_id = request.after_id;
    loop {
        let wanted = match request.max_items {
            Some(max) => request.page_size.min(max.saturating_sub(count(&rows))),
            None => request.page_size,
        };
        let mut page_query = filters.to_vec();
        if let Some(after_id) = after_id {
            page_query.push((query::AFTER_ID, after_id.to_string()));
        }
        page_query.push((query::LIMIT, wanted.to_string()));
        let page: Vec<T> = match client.get(endpoint, &page_query, subject.clone()) {
            Ok(List(page)) => page,
            Err(error) if rows.is_empty() => return Err(error),
            Err(error) => {
                return Ok(Paged {
                    rows,
                    next_cursor: cursor(request, after_id),
                    stop: Stop::Interrupted(error.to_string()),
                });
            }
        };
        // Modelled: a page shorter than `limit` is the last one.
        let is_last = page.len() < wanted as usize;
        rows.extend(page.into_iter().take(wanted as usize));
        after_id = rows.last().map(Keyed::key).or(after_id);
        let stop = match request.max_items {
            _ if is_last => Stop::EndOfList,
            None => Stop::OnePage,
            Some(max) if count(&rows) >= max => Stop::MaxItems(max),
            Some(_) => continue,
        };
        let next_cursor = match stop {
            Stop::EndOfList => None,
            _ => cursor(request, after_id),
        };
        return Ok(Paged {
            rows,
            next_cursor,
            stop,
        });
    }
}

fn count<T>(rows: &[T]) -> u32 {
    u32::try_from(rows.len()).unwrap_or(u32::MAX)
}

fn cursor(request: &PageRequest, after_id: Option<u64>) -> Option<String> {
    after_id.map(|id| args::encode_cursor(request.cursor_kind, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingrid::models::Return;
    use crate::testing::{ScriptedTransport, context, json};

    /// A page of returns with these ids.
    fn page(ids: std::ops::RangeInclusive<u64>) -> String {
        let rows: Vec<String> = ids
            .map(|id| {
                format!(
                    r#"{{"id":{id},"orderId":1,"status":"IN_TRANSIT","createdAt":"2026-01-01T00:00:00Z","currencyCode":"SEK"}}"#
                )
            })
            .collect();
        format!("[{}]", rows.join(","))
    }

    fn fetch_returns(
        transport: &ScriptedTransport,
        request: &PageRequest,
    ) -> Result<Paged<Return>, IngridError> {
        let client = IngridClient::new(transport, &context());
        let filters = [(query::STATUS, "IN_TRANSIT".to_string())];
        fetch(
            &client,
            Endpoint::ListReturns,
            Subject::Returns,
            &filters,
            request,
        )
    }

    fn request(cursor: Option<&str>, limit: Option<u32>, max_items: Option<u32>) -> PageRequest {
        PageRequest::from_arguments("returns", cursor, limit, max_items)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn max_items_pages_by_100_and_asks_only_for_what_is_left() {
        let transport = ScriptedTransport::new(vec![
            json(200, &page(1..=100)),
            json(200, &page(101..=200)),
            json(200, &page(201..=250)),
        ]);
        let paged = fetch_returns(&transport, &request(None, None, Some(250)))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            transport.urls(),
            [
                "https://ingrid.test/merchant/return?status=IN_TRANSIT&limit=100",
                "https://ingrid.test/merchant/return?status=IN_TRANSIT&afterId=100&limit=100",
                "https://ingrid.test/merchant/return?status=IN_TRANSIT&afterId=200&limit=50",
            ]
        );
        assert_eq!(paged.rows.len(), 250);
        assert_eq!(paged.stop, Stop::MaxItems(250));
        assert_eq!(paged.next_cursor.as_deref(), Some("returns.250"));
        assert!(
            paged.footer("returns").contains("maxItems 250"),
            "{}",
            paged.footer("returns")
        );
        assert!(paged.stopped_early().is_some());
    }

    #[test]
    fn max_items_stops_at_the_last_page_without_a_cursor() {
        let transport =
            ScriptedTransport::new(vec![json(200, &page(11..=20)), json(200, &page(21..=23))]);
        let paged = fetch_returns(&transport, &request(Some("returns.10"), Some(10), Some(50)))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            transport.urls()[0],
            "https://ingrid.test/merchant/return?status=IN_TRANSIT&afterId=10&limit=10"
        );
        assert_eq!(paged.rows.len(), 13);
        assert_eq!(paged.stop, Stop::EndOfList);
        assert_eq!(paged.next_cursor, None);
        assert_eq!(paged.stopped_early(), None);
        assert_eq!(paged.footer("returns"), "This is the last page.");
    }

    #[test]
    fn without_max_items_one_page_is_fetched() {
        let transport = ScriptedTransport::new(vec![json(200, &page(1..=2))]);
        let paged = fetch_returns(&transport, &request(None, Some(2), None))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(transport.sent.borrow().len(), 1);
        assert_eq!(paged.stop, Stop::OnePage);
        assert_eq!(paged.next_cursor.as_deref(), Some("returns.2"));
        assert_eq!(paged.stopped_early(), None);
    }

    #[test]
    fn a_failing_later_page_keeps_the_rows_and_the_cursor_to_resume() {
        let transport = ScriptedTransport::new(vec![
            json(200, &page(1..=100)),
            json(404, r#"{"message":"gone"}"#),
        ]);
        let paged = fetch_returns(&transport, &request(None, None, Some(300)))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(paged.rows.len(), 100);
        assert!(matches!(&paged.stop, Stop::Interrupted(reason) if reason.contains("HTTP 404")));
        assert_eq!(paged.next_cursor.as_deref(), Some("returns.100"));
        assert!(
            paged.footer("returns").contains("cursor \"returns.100\""),
            "{}",
            paged.footer("returns")
        );

        let first_fails = ScriptedTransport::new(vec![json(404, "{}")]);
        assert!(fetch_returns(&first_fails, &request(None, None, Some(300))).is_err());
    }

    #[test]
    fn paging_arguments_are_checked_before_anything_is_sent() {
        assert!(PageRequest::from_arguments("returns", None, None, Some(1001)).is_err());
        assert!(PageRequest::from_arguments("returns", None, Some(0), Some(10)).is_err());
        assert!(PageRequest::from_arguments("returns", Some("orders.1"), None, None).is_err());
        assert_eq!(
            request(None, None, None).page_size,
            catalog::LIST_LIMIT_DEFAULT
        );
    }
}

//! Argument helpers shared by tools: decoding with messages that name the argument, dates,
//! limits and opaque cursors.

use crate::prelude::*;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::rfc3339;
use crate::api::CallError;
use crate::ingrid::catalog;

/// The arguments are not an object.
pub const NOT_AN_OBJECT: &str = "arguments must be a JSON object";

/// Decodes a tool's arguments; serde's message names the offending field. `call_tool` let only
/// an object through: decoding its map (not the `Value`) spares the code for structs written as
/// arrays, one copy per tool.
pub fn decode<T: DeserializeOwned>(arguments: Value) -> Result<T, CallError> {
    let Value::Object(arguments) = arguments else {
        return Err(CallError::InvalidArguments(NOT_AN_OBJECT.to_string()));
    };
    T::deserialize(arguments).map_err(|error| CallError::InvalidArguments(error.to_string()))
}

/// Checks an RFC 3339 timestamp and passes it on unchanged.
pub fn timestamp(name: &str, value: Option<String>) -> Result<Option<String>, CallError> {
    match value {
        None => Ok(None),
        Some(value) => match rfc3339::parse(&value) {
            Some(_) => Ok(Some(value)),
            None => Err(CallError::InvalidArguments(format!(
                "`{name}` must be an RFC 3339 timestamp such as 2026-03-01T00:00:00Z, not {value:?}"
            ))),
        },
    }
}

/// Adds the `createdFrom` / `createdTo` filters shared by the list tools, each checked as
/// RFC 3339.
pub fn push_created_range(
    filters: &mut Vec<(&'static str, String)>,
    from: Option<String>,
    to: Option<String>,
) -> Result<(), CallError> {
    if let Some(from) = timestamp("createdFrom", from)? {
        filters.push((catalog::query::CREATED_FROM, from));
    }
    if let Some(to) = timestamp("createdTo", to)? {
        filters.push((catalog::query::CREATED_TO, to));
    }
    Ok(())
}

/// The page size: 1..=100, default 50.
pub fn limit(value: Option<u32>) -> Result<u32, CallError> {
    match value {
        None => Ok(catalog::LIST_LIMIT_DEFAULT),
        Some(limit @ 1..=catalog::LIST_LIMIT_MAX) => Ok(limit),
        Some(other) => Err(CallError::InvalidArguments(format!(
            "`limit` must be between 1 and {}, not {other}",
            catalog::LIST_LIMIT_MAX
        ))),
    }
}

/// The most rows `maxItems` may ask for in one call.
pub const MAX_ITEMS_CAP: u32 = 1000;

/// `maxItems`: 1..=1000 when given.
pub fn max_items(value: Option<u32>) -> Result<Option<u32>, CallError> {
    match value {
        None => Ok(None),
        Some(max @ 1..=MAX_ITEMS_CAP) => Ok(Some(max)),
        Some(other) => Err(CallError::InvalidArguments(format!(
            "`maxItems` must be between 1 and {MAX_ITEMS_CAP}, not {other}"
        ))),
    }
}

/// Ingrid ids start at 1.
pub fn id(name: &str, value: u64) -> Result<u64, CallError> {
    if value == 0 {
        return Err(CallError::InvalidArguments(format!(
            "`{name}` must be an id of 1 or more, not 0"
        )));
    }
    Ok(value)
}

pub fn optional_id(name: &str, value: Option<u64>) -> Result<Option<u64>, CallError> {
    value.map(|value| id(name, value)).transpose()
}

/// A value from a closed set (e.g. a status filter), named in the message when it is not.
pub fn one_of(
    name: &str,
    value: Option<String>,
    allowed: &[&str],
) -> Result<Option<String>, CallError> {
    match value {
        Some(value) if !allowed.contains(&value.as_str()) => {
            Err(CallError::InvalidArguments(format!(
                "`{name}` must be one of {}, not {value:?}",
                allowed.join(", ")
            )))
        }
        other => Ok(other),
    }
}

/// Free text that goes into a request: not blank, no control characters, at most `max_chars`.
pub fn text(
    name: &str,
    value: Option<String>,
    max_chars: usize,
) -> Result<Option<String>, CallError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.trim().is_empty() {
        return Err(CallError::InvalidArguments(format!(
            "`{name}` must not be blank; leave it out instead"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(CallError::InvalidArguments(format!(
            "`{name}` must not contain control characters such as line breaks"
        )));
    }
    let length = value.chars().count();
    if length > max_chars {
        return Err(CallError::InvalidArguments(format!(
            "`{name}` must be at most {max_chars} characters, not {length}"
        )));
    }
    Ok(Some(value))
}

/// Cursors are opaque to the agent: `<kind>.<afterId>`. Only ones this plugin returned decode.
pub fn encode_cursor(kind: &str, after_id: u64) -> String {
    format!("{kind}.{after_id}")
}

pub fn decode_cursor(kind: &str, cursor: Option<&str>) -> Result<Option<u64>, CallError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    cursor
        .strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|id| id.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            CallError::InvalidArguments(format!(
                "`cursor` {cursor:?} is not one this tool returned; pass the `nextCursor` of the previous page"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let cursor = encode_cursor("returns", 50049);
        assert_eq!(decode_cursor("returns", Some(&cursor)), Ok(Some(50049)));
        assert_eq!(decode_cursor("returns", None), Ok(None));
        assert!(decode_cursor("returns", Some("orders.5")).is_err());
        assert!(decode_cursor("returns", Some("returns.-1")).is_err());
    }

    #[test]
    fn limits_and_timestamps_are_checked() {
        assert_eq!(limit(None), Ok(50));
        assert_eq!(limit(Some(100)), Ok(100));
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(101)).is_err());
        assert!(timestamp("createdFrom", Some("2026-01-01T00:00:00+01:00".into())).is_ok());
        let error = timestamp("createdFrom", Some("yesterday".into()));
        assert!(matches!(error, Err(CallError::InvalidArguments(m)) if m.contains("createdFrom")));
    }

    #[test]
    fn max_items_ids_enums_and_text_are_checked() {
        assert_eq!(max_items(None), Ok(None));
        assert_eq!(max_items(Some(1000)), Ok(Some(1000)));
        assert!(max_items(Some(0)).is_err());
        assert!(
            matches!(max_items(Some(1001)), Err(CallError::InvalidArguments(m)) if m.contains("maxItems"))
        );
        assert!(
            matches!(id("returnId", 0), Err(CallError::InvalidArguments(m)) if m.contains("returnId"))
        );
        assert_eq!(optional_id("orderId", Some(7)), Ok(Some(7)));
        assert!(one_of("status", Some("LOST".into()), &["PENDING"]).is_err());
        assert_eq!(
            one_of("status", Some("PENDING".into()), &["PENDING"]),
            Ok(Some("PENDING".into()))
        );
        assert!(text("remark", Some("  ".into()), 10).is_err());
        assert!(text("remark", Some("a\nb".into()), 10).is_err());
        assert!(
            matches!(text("remark", Some("x".repeat(11)), 10), Err(CallError::InvalidArguments(m)) if m.contains("at most 10"))
        );
        assert_eq!(
            text("remark", Some("fine".into()), 10),
            Ok(Some("fine".into()))
        );
    }
}

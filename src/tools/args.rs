//! Argument helpers shared by tools: decoding with messages that name the argument, dates,
//! limits and opaque cursors.

use crate::prelude::*;

use alloc::borrow::Cow;

use super::rfc3339;
use crate::api::CallError;
use crate::ingrid::catalog;
use crate::ingrid::json::Json;

/// The most days a `...WithinDays` argument may count back (ten years).
pub const MAX_DAYS: u32 = 3650;

/// The arguments are not an object.
pub const NOT_AN_OBJECT: &str = "arguments must be a JSON object";

/// A tool's arguments object, read field by field by the tool (by hand: a serde derive per
/// tool cost the component a visitor each). Messages are serde's, as when they were derived,
/// except that a float is quoted as written ("1e3", where serde wrote "1000.0").
pub struct Object<'a> {
    /// As written; of a repeated field the last counts, as in serde_json's map.
    fields: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Object<'a> {
    /// `arguments` must be an object with no field outside `known`.
    pub fn new(arguments: Json<'a>, known: &[&str]) -> Result<Object<'a>, CallError> {
        let Json::Object(fields) = arguments else {
            return Err(CallError::InvalidArguments(NOT_AN_OBJECT.to_string()));
        };
        Object::of(fields, known)
    }

    fn of(fields: Vec<(Cow<'a, str>, Json<'a>)>, known: &[&str]) -> Result<Object<'a>, CallError> {
        // serde's map is sorted: the first unknown field in key order is the one named.
        if let Some(unknown) = fields
            .iter()
            .map(|(key, _)| key)
            .filter(|key| !known.contains(&key.as_ref()))
            .min()
        {
            return Err(invalid(unknown_field(unknown, known)));
        }
        Ok(Object { fields })
    }

    /// The value of `name`, taken out (null left behind).
    fn remove(&mut self, name: &str) -> Option<Json<'a>> {
        self.fields
            .iter_mut()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| core::mem::replace(value, Json::Null))
    }

    /// The value of `name`; `None` when absent or null.
    fn take(&mut self, name: &str) -> Option<Json<'a>> {
        self.remove(name).filter(|value| *value != Json::Null)
    }

    fn required(&mut self, name: &str, expected: &str) -> Result<Json<'a>, CallError> {
        match self.remove(name) {
            Some(value) => Ok(value),
            None => Err(invalid(format!("missing field `{name}`"))),
        }
        .and_then(|value| match value {
            Json::Null => Err(invalid_type(&value, expected)),
            value => Ok(value),
        })
    }

    pub fn opt_u64(&mut self, name: &str) -> Result<Option<u64>, CallError> {
        self.take(name)
            .map(|value| whole(&value, u64::MAX, "u64"))
            .transpose()
    }

    pub fn u64(&mut self, name: &str) -> Result<u64, CallError> {
        whole(&self.required(name, "u64")?, u64::MAX, "u64")
    }

    pub fn opt_u32(&mut self, name: &str) -> Result<Option<u32>, CallError> {
        self.take(name)
            .map(|value| whole(&value, u32::MAX.into(), "u32").map(|value| value as u32))
            .transpose()
    }

    pub fn u32(&mut self, name: &str) -> Result<u32, CallError> {
        // Within u32 by the bound.
        whole(&self.required(name, "u32")?, u32::MAX.into(), "u32").map(|value| value as u32)
    }

    pub fn opt_string(&mut self, name: &str) -> Result<Option<String>, CallError> {
        match self.take(name) {
            None => Ok(None),
            Some(Json::String(text)) => Ok(Some(text.into_owned())),
            Some(other) => Err(invalid_type(&other, "a string")),
        }
    }

    /// One string or an array of strings (at least one); `None` when absent or null.
    pub fn opt_strings(&mut self, name: &str) -> Result<Option<Vec<String>>, CallError> {
        let values = match self.take(name) {
            None => return Ok(None),
            Some(Json::String(text)) => vec![text.into_owned()],
            Some(Json::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Json::String(text) => Ok(text.into_owned()),
                    other => Err(invalid_type(&other, "a string")),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(invalid_type(&other, "a string or an array of strings")),
        };
        if values.is_empty() {
            return Err(invalid(format!("`{name}` must name at least one value")));
        }
        Ok(Some(values))
    }

    /// A number of days, 1 to [`MAX_DAYS`], named in the message when it is not.
    pub fn opt_days(&mut self, name: &str) -> Result<Option<u32>, CallError> {
        match self
            .take(name)
            .map(|value| whole(&value, MAX_DAYS.into(), ""))
        {
            None => Ok(None),
            Some(Ok(days @ 1..)) => Ok(Some(days as u32)),
            Some(_) => Err(invalid(format!(
                "`{name}` must be a whole number of days from 1 to {MAX_DAYS}"
            ))),
        }
    }

    pub fn bool(&mut self, name: &str) -> Result<bool, CallError> {
        match self.required(name, "a boolean")? {
            Json::Bool(flag) => Ok(flag),
            other => Err(invalid_type(&other, "a boolean")),
        }
    }

    /// An array of objects, each with no field outside `known`; `what` is serde's name for
    /// the item ("struct ItemArgument").
    pub fn objects(
        &mut self,
        name: &str,
        known: &[&str],
        what: &str,
    ) -> Result<Vec<Object<'a>>, CallError> {
        let items = match self.required(name, "a sequence")? {
            Json::Array(items) => items,
            other => return Err(invalid_type(&other, "a sequence")),
        };
        items
            .into_iter()
            .map(|item| match item {
                Json::Object(fields) => Object::of(fields, known),
                other => Err(invalid_type(&other, what)),
            })
            .collect()
    }
}

fn invalid(message: String) -> CallError {
    CallError::InvalidArguments(message)
}

/// serde's "unknown field `x`, expected one of `a`, `b`".
fn unknown_field(field: &str, known: &[&str]) -> String {
    let quoted: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
    let expected = match quoted.as_slice() {
        [] => return format!("unknown field `{field}`, there are no fields"),
        [one] => one.clone(),
        [first, second] => format!("{first} or {second}"),
        all => format!("one of {}", all.join(", ")),
    };
    format!("unknown field `{field}`, expected {expected}")
}

/// serde's words for a JSON value in a message ("string \"abc\"", "integer `5`").
fn unexpected(value: &Json) -> String {
    match value {
        Json::Null => "null".to_string(),
        Json::Bool(flag) => format!("boolean `{flag}`"),
        Json::Number(text) if is_integer(text) => format!("integer `{text}`"),
        // serde_json reads any other number as a float.
        Json::Number(text) => format!("floating point `{text}`"),
        Json::String(text) => format!("string {text:?}"),
        Json::Array(_) => "sequence".to_string(),
        Json::Object(_) => "map".to_string(),
    }
}

/// A number serde_json reads as an integer: no fraction or exponent, within u64 or i64.
fn is_integer(text: &str) -> bool {
    !text.contains(['.', 'e', 'E']) && (text.parse::<u64>().is_ok() || text.parse::<i64>().is_ok())
}

fn invalid_type(value: &Json, expected: &str) -> CallError {
    invalid(format!(
        "invalid type: {}, expected {expected}",
        unexpected(value)
    ))
}

/// A whole number from 0 to `max` (`expected` is serde's name for the type, "u64").
fn whole(value: &Json, max: u64, expected: &str) -> Result<u64, CallError> {
    match value {
        Json::Number(text) if is_integer(text) => match text.parse::<u64>() {
            Ok(whole) if whole <= max => Ok(whole),
            _ => Err(invalid(format!(
                "invalid value: {}, expected {expected}",
                unexpected(value)
            ))),
        },
        other => Err(invalid_type(other, expected)),
    }
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
    max_items_up_to(value, MAX_ITEMS_CAP)
}

/// `maxItems`: 1..=`cap` when given.
pub fn max_items_up_to(value: Option<u32>, cap: u32) -> Result<Option<u32>, CallError> {
    match value {
        Some(max) if max == 0 || max > cap => Err(CallError::InvalidArguments(format!(
            "`maxItems` must be between 1 and {cap}, not {max}"
        ))),
        other => Ok(other),
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
    use serde::Deserialize;

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

    /// The shape the tools' arguments take, derived as they were before.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Derived {
        order_id: Option<u64>,
        limit: Option<u32>,
        status: Option<String>,
        return_id: u64,
        items: Vec<DerivedItem>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct DerivedItem {
        quantity: u32,
        approved: bool,
    }

    /// serde_json without `arbitrary_precision` names the number in a type error.
    fn serde_json_as_in_the_component() -> bool {
        serde_json::from_value::<String>(serde_json::Value::from(5))
            .err()
            .is_some_and(|error| error.to_string().contains("integer `5`"))
    }

    fn by_hand(arguments: Json) -> Result<Derived, CallError> {
        let mut object = Object::new(
            arguments,
            &["orderId", "limit", "status", "returnId", "items"],
        )?;
        Ok(Derived {
            order_id: object.opt_u64("orderId")?,
            limit: object.opt_u32("limit")?,
            status: object.opt_string("status")?,
            return_id: object.u64("returnId")?,
            items: object
                .objects("items", &["quantity", "approved"], "struct DerivedItem")?
                .into_iter()
                .map(|mut item| {
                    Ok(DerivedItem {
                        quantity: item.u32("quantity")?,
                        approved: item.bool("approved")?,
                    })
                })
                .collect::<Result<_, CallError>>()?,
        })
    }

    #[test]
    fn arguments_read_by_hand_as_serde_derived_them() {
        let item = r#"{"quantity":1,"approved":true}"#;
        for json in [
            format!(r#"{{"returnId":5,"items":[{item}]}}"#),
            r#"{"orderId":7,"limit":100,"status":"PENDING","returnId":5,"items":[]}"#.to_string(),
            format!(
                r#"{{"orderId":null,"limit":null,"status":null,"returnId":5,"items":[{item}]}}"#
            ),
            r#"{"returnId":5}"#.to_string(),
            r#"{"items":[]}"#.to_string(),
            r#"{"returnId":null,"items":[]}"#.to_string(),
            r#"{"returnId":5,"items":null}"#.to_string(),
            r#"{"returnId":5,"items":{}}"#.to_string(),
            r#"{"returnId":5,"items":[5]}"#.to_string(),
            r#"{"returnId":5,"items":["x"]}"#.to_string(),
            r#"{"returnId":5,"items":[{"quantity":1}]}"#.to_string(),
            r#"{"returnId":5,"items":[{"quantity":1,"approved":"yes"}]}"#.to_string(),
            r#"{"returnId":5,"items":[{"quantity":-1,"approved":true}]}"#.to_string(),
            r#"{"returnId":5,"items":[{"quantity":1,"approved":true,"extra":1}]}"#.to_string(),
            r#"{"returnId":"5","items":[]}"#.to_string(),
            r#"{"returnId":"tab\t\"quote\" é","items":[]}"#.to_string(),
            r#"{"returnId":5.5,"items":[]}"#.to_string(),
            r#"{"returnId":-5,"items":[]}"#.to_string(),
            r#"{"returnId":true,"items":[]}"#.to_string(),
            r#"{"returnId":[],"items":[]}"#.to_string(),
            r#"{"returnId":{},"items":[]}"#.to_string(),
            r#"{"returnId":18446744073709551615,"items":[]}"#.to_string(),
            r#"{"returnId":5,"items":[],"limit":4294967296}"#.to_string(),
            r#"{"returnId":5,"items":[],"limit":2.0}"#.to_string(),
            r#"{"returnId":5,"items":[],"status":5}"#.to_string(),
            r#"{"returnId":5,"items":[],"zzz":5}"#.to_string(),
        ] {
            let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
            let serde_json::Value::Object(map) = value else {
                panic!("{json}");
            };
            let derived = Derived::deserialize(map)
                .map_err(|error| CallError::InvalidArguments(error.to_string()));
            let parsed = crate::ingrid::json::parse(&json).unwrap_or(Json::Null);
            // serde's own messages are the reference only as the component builds serde_json:
            // a workspace test build unifies in the host's `arbitrary_precision`, which words
            // number errors differently (`make test` also runs this crate's tests alone).
            if serde_json_as_in_the_component() {
                assert_eq!(by_hand(parsed), derived, "{json}");
            } else {
                assert_eq!(by_hand(parsed).is_ok(), derived.is_ok(), "{json}");
            }
        }
        // Floats are quoted as written; serde_json wrote them back from f64.
        let huge = crate::ingrid::json::parse(r#"{"returnId":18446744073709551616,"items":[]}"#);
        assert_eq!(
            huge.map_err(CallError::InvalidArguments).and_then(by_hand),
            Err(CallError::InvalidArguments(
                "invalid type: floating point `18446744073709551616`, expected u64".into()
            ))
        );
        let x = Json::Object(vec![("x".into(), Json::Null)]);
        let unknown = |known: &[&str]| match Object::new(x.clone(), known) {
            Err(CallError::InvalidArguments(message)) => message,
            _ => String::new(),
        };
        assert_eq!(unknown(&[]), "unknown field `x`, there are no fields");
        assert_eq!(unknown(&["a"]), "unknown field `x`, expected `a`");
        assert_eq!(
            unknown(&["a", "b"]),
            "unknown field `x`, expected `a` or `b`"
        );
    }
}

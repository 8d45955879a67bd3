//! The faults file of `dema-host sim --faults FILE`: a JSON list of faults.
//!
//! ```json
//! [
//!   { "route": "mark-refund", "call": 1, "fault": "reset-after-apply" },
//!   { "route": "list-returns", "call": "every", "fault": "latency", "ms": 300 },
//!   { "route": "get-refund", "call": { "from": 2 }, "fault": "server-error", "status": 503 },
//!   { "route": "report-items", "call": 1, "fault": "too-many-requests",
//!     "retry_after_secs": 5, "http_date": true },
//!   { "route": "get-refund", "call": 1, "fault": "set-field", "field": "status", "value": 7 }
//! ]
//! ```
//!
//! - `route`: `list-orders`, `get-order`, `list-returns`, `get-return`, `report-items`,
//!   `list-refunds`, `get-refund`, `mark-refund`.
//! - `call`: `n` (the n-th call to that route, from 1), `"every"`, or `{"from": n}`.
//! - `fault`, with its parameters:
//!   `latency` (`ms`); `too-many-requests` (`retry_after_secs`, optional: no header without it;
//!   `http_date`: true sends it as an HTTP date that far ahead); `server-error` (`status`,
//!   500-599); `reset-before-read`; `reset-after-apply`; `truncated-body`; `malformed-json`;
//!   `oversized-body` (`bytes`, default 6 MiB); `trickle` (`interval_ms`); `missing-field`
//!   (`field`); `set-field` (`field`, `value`: any JSON); `proxy-html`.
//!
//! Unknown keys are refused, so a misspelt parameter does not silently become a default. The
//! first entry that matches a call applies.

use std::path::Path;

use serde_json::{Map, Value};

use super::faults::{CallMatch, DEFAULT_OVERSIZED_BYTES, Fault, FaultKind, RetryAfter, Route};

const MAX_DELAY_MS: u64 = 600_000;
const MAX_OVERSIZED_BYTES: u64 = 256 * 1024 * 1024;
const MAX_RETRY_AFTER_SECS: u64 = 7 * 24 * 3600;
const FAULT_NAMES: &str = "latency, too-many-requests, server-error, reset-before-read, \
    reset-after-apply, truncated-body, malformed-json, oversized-body, trickle, missing-field, \
    set-field, proxy-html";

/// Reads and checks a faults file; the error names the file and the entry.
pub fn load(path: &Path) -> Result<Vec<Fault>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the faults file {}: {error}", path.display()))?;
    parse(&text).map_err(|error| format!("faults file {}: {error}", path.display()))
}

/// Parses a faults file's text; the error names the entry (from 1) and what is wrong.
pub fn parse(text: &str) -> Result<Vec<Fault>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?;
    let Value::Array(entries) = value else {
        return Err("expected a JSON list of faults".to_string());
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            entry_fault(entry).map_err(|error| format!("entry {}: {error}", index + 1))
        })
        .collect()
}

fn entry_fault(entry: &Value) -> Result<Fault, String> {
    let Value::Object(entry) = entry else {
        return Err("expected an object with route, call and fault".to_string());
    };
    let route_name = required_str(entry, "route")?;
    let route = Route::from_name(route_name).ok_or_else(|| {
        let names: Vec<&str> = Route::ALL.iter().map(|route| route.name()).collect();
        format!(
            "unknown route {route_name:?}; expected one of {}",
            names.join(", ")
        )
    })?;
    let on_call = call_match(entry.get("call").ok_or("missing \"call\"")?)?;
    let fault_name = required_str(entry, "fault")?;
    let params = params_of(fault_name)
        .ok_or_else(|| format!("unknown fault {fault_name:?}; expected one of {FAULT_NAMES}"))?;
    // Before the parameters are read, so a misspelt one is named as such.
    for key in entry.keys() {
        if !["route", "call", "fault"].contains(&key.as_str()) && !params.contains(&key.as_str()) {
            let expected = if params.is_empty() {
                "it takes no parameters".to_string()
            } else {
                format!("its parameters are {}", params.join(", "))
            };
            return Err(format!(
                "unknown key {key:?} for fault {fault_name:?}; {expected}"
            ));
        }
    }
    let kind = kind(entry, fault_name)?;
    Ok(Fault {
        route,
        on_call,
        kind,
    })
}

/// The parameters a fault takes; `None` for an unknown fault.
fn params_of(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "latency" => &["ms"],
        "too-many-requests" => &["retry_after_secs", "http_date"],
        "server-error" => &["status"],
        "oversized-body" => &["bytes"],
        "trickle" => &["interval_ms"],
        "missing-field" => &["field"],
        "set-field" => &["field", "value"],
        "reset-before-read" | "reset-after-apply" | "truncated-body" | "malformed-json"
        | "proxy-html" => &[],
        _ => return None,
    })
}

fn kind(entry: &Map<String, Value>, name: &str) -> Result<FaultKind, String> {
    Ok(match name {
        "latency" => FaultKind::Latency {
            ms: number(entry, "ms", 0, MAX_DELAY_MS)?.ok_or("latency needs \"ms\"")?,
        },
        "too-many-requests" => {
            let seconds = number(entry, "retry_after_secs", 0, MAX_RETRY_AFTER_SECS)?;
            let as_date = match entry.get("http_date") {
                None => false,
                Some(Value::Bool(flag)) => *flag,
                Some(_) => return Err("\"http_date\" must be true or false".to_string()),
            };
            // Bounded above, so the conversion cannot fail.
            let seconds = seconds.map(|s| u32::try_from(s).unwrap_or(u32::MAX));
            let retry_after = match (seconds, as_date) {
                (Some(seconds), false) => Some(RetryAfter::Seconds(seconds)),
                (Some(in_secs), true) => Some(RetryAfter::HttpDate { in_secs }),
                (None, false) => None,
                (None, true) => {
                    return Err("\"http_date\" needs \"retry_after_secs\"".to_string());
                }
            };
            FaultKind::TooManyRequests { retry_after }
        }
        "server-error" => {
            let status =
                number(entry, "status", 500, 599)?.ok_or("server-error needs \"status\"")?;
            let status = u16::try_from(status).unwrap_or(500);
            FaultKind::ServerError { status }
        }
        "reset-before-read" => FaultKind::ResetBeforeRead,
        "reset-after-apply" => FaultKind::ResetAfterApply,
        "truncated-body" => FaultKind::TruncatedBody,
        "malformed-json" => FaultKind::MalformedJson,
        "oversized-body" => {
            let bytes = number(entry, "bytes", 1, MAX_OVERSIZED_BYTES)?;
            let bytes = bytes.map_or(DEFAULT_OVERSIZED_BYTES, |b| {
                usize::try_from(b).unwrap_or(DEFAULT_OVERSIZED_BYTES)
            });
            FaultKind::OversizedBody { bytes }
        }
        "trickle" => FaultKind::Trickle {
            interval_ms: number(entry, "interval_ms", 1, MAX_DELAY_MS)?
                .ok_or("trickle needs \"interval_ms\"")?,
        },
        "missing-field" => FaultKind::MissingField {
            field: required_str(entry, "field")?.to_string(),
        },
        "set-field" => FaultKind::SetField {
            field: required_str(entry, "field")?.to_string(),
            value: entry
                .get("value")
                .cloned()
                .ok_or("set-field needs \"value\"")?,
        },
        "proxy-html" => FaultKind::ProxyHtml,
        other => {
            return Err(format!(
                "unknown fault {other:?}; expected one of {FAULT_NAMES}"
            ));
        }
    })
}

fn call_match(value: &Value) -> Result<CallMatch, String> {
    const EXPECTED: &str = "\"call\" must be a call number from 1, \"every\", or {\"from\": n}";
    match value {
        Value::String(word) if word == "every" => Ok(CallMatch::Every),
        Value::Object(object) if object.len() == 1 => {
            let from = object
                .get("from")
                .and_then(Value::as_u64)
                .filter(|n| *n >= 1);
            from.map(CallMatch::From)
                .ok_or_else(|| EXPECTED.to_string())
        }
        _ => value
            .as_u64()
            .filter(|n| *n >= 1)
            .map(CallMatch::Nth)
            .ok_or_else(|| EXPECTED.to_string()),
    }
}

fn required_str<'e>(entry: &'e Map<String, Value>, key: &str) -> Result<&'e str, String> {
    match entry.get(key) {
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(format!("{key:?} must be a string")),
        None => Err(format!("missing {key:?}")),
    }
}

/// An optional whole number within `min..=max`.
fn number(
    entry: &Map<String, Value>,
    key: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, String> {
    let Some(value) = entry.get(key) else {
        return Ok(None);
    };
    value
        .as_u64()
        .filter(|n| (min..=max).contains(n))
        .map(Some)
        .ok_or_else(|| format!("{key:?} must be a whole number from {min} to {max}"))
}

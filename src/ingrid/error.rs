//! Ingrid failures, mapped to messages a person (or an agent) can act on (P7).

use crate::prelude::*;

use super::json::{self, Json};
use crate::tools::text;
use crate::transport::HttpError;

/// What the failing request was about, so a 404 can say which thing does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Orders,
    Order(u64),
    OrderNumber(String),
    Returns,
    Return(u64),
    RefundTransactions,
    RefundTransaction(u64),
}

impl core::fmt::Display for Subject {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Subject::Orders => write!(f, "the order list"),
            Subject::Order(id) => write!(f, "order {id}"),
            Subject::OrderNumber(number) => write!(f, "order number {number}"),
            Subject::Returns => write!(f, "the return list"),
            Subject::Return(id) => write!(f, "return {id}"),
            Subject::RefundTransactions => write!(f, "the refund transaction list"),
            Subject::RefundTransaction(id) => write!(f, "refund transaction {id}"),
        }
    }
}

/// Our own words for Ingrid's troubleshooting of a refused key.
pub const KEY_TROUBLESHOOTING: &str = "Use the production Returns API key from the Ingrid \
Returns backoffice (Settings → API Keys): not a stage key, and not a key of the Ingrid Merchant \
Platform (Checkout, Tracking, Transport Automation). Without access to the backoffice, contact \
Ingrid support (support@ingrid.com).";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngridError {
    /// No HTTP response (contract C3).
    #[error("{0}")]
    Http(#[from] HttpError),
    /// A non-2xx answer.
    #[error(
        "{}{}",
        describe_status(*status, subject, message, *retry_after_secs, trace_id.as_deref()),
        field_errors_block(field_errors)
    )]
    Status {
        status: u16,
        subject: Subject,
        /// Ingrid's own message, cleaned and cut (it is shown, not obeyed).
        message: Option<String>,
        /// A problem's `errors[]`, each naming the argument it is about.
        field_errors: Vec<FieldError>,
        retry_after_secs: Option<u64>,
        trace_id: Option<String>,
    },
    /// A 2xx answer this plugin could not read: the model and the real API disagree.
    #[error(
        "Ingrid answered {subject} in a shape this plugin does not understand ({detail}){}",
        trace_suffix(trace_id.as_deref())
    )]
    UnexpectedBody {
        subject: Subject,
        detail: String,
        trace_id: Option<String>,
    },
    /// A 409 on a change, with the status the resource was read back in.
    #[error(
        "{subject} is {current_status} now, which does not allow this change (HTTP 409).{} \
         Nothing was changed.{}",
        said(message.as_deref()),
        trace_suffix(trace_id.as_deref())
    )]
    StateConflict {
        subject: Subject,
        current_status: String,
        message: Option<String>,
        trace_id: Option<String>,
    },
    /// A 429 whose wait does not fit in the time left.
    #[error(
        "Ingrid is rate limiting requests and asks to wait {retry_after_secs} s, more than the \
         {remaining_secs} s left for this call; try again in {retry_after_secs} s{}",
        trace_suffix(trace_id.as_deref())
    )]
    RateLimitedBeyondDeadline {
        retry_after_secs: u64,
        remaining_secs: u64,
        trace_id: Option<String>,
    },
}

impl IngridError {
    pub fn status(&self) -> Option<u16> {
        match self {
            IngridError::Status { status, .. } => Some(*status),
            IngridError::StateConflict { .. } => Some(409),
            _ => None,
        }
    }

    /// A 409 restated with the status the resource is in now (read back by the caller, since
    /// Ingrid's body need not say it). Other errors pass unchanged.
    pub fn with_current_status(self, current_status: &str) -> IngridError {
        match self {
            IngridError::Status {
                status: 409,
                subject,
                message,
                trace_id,
                ..
            } => IngridError::StateConflict {
                subject,
                current_status: current_status
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(40)
                    .collect(),
                message,
                trace_id,
            },
            other => other,
        }
    }
}

fn said(message: Option<&str>) -> String {
    message
        .map(|m| format!(" Ingrid said: \"{m}\"."))
        .unwrap_or_default()
}

fn trace_suffix(trace_id: Option<&str>) -> String {
    trace_id
        .map(|id| format!(" (Ingrid trace id {id})"))
        .unwrap_or_default()
}

fn describe_status(
    status: u16,
    subject: &Subject,
    message: &Option<String>,
    retry_after_secs: Option<u64>,
    trace_id: Option<&str>,
) -> String {
    let said = said(message.as_deref());
    let trace = trace_suffix(trace_id);
    match status {
        401 | 403 => format!(
            "Ingrid refused the API key (HTTP {status}).{said} {KEY_TROUBLESHOOTING}{trace}"
        ),
        404 => format!("{subject} does not exist in Ingrid (HTTP 404).{said}{trace}"),
        409 => format!(
            "{subject} is not in a state that allows this (HTTP 409).{said} Read it again to see \
             its current status.{trace}"
        ),
        422 => format!("Ingrid rejected the request for {subject} (HTTP 422).{said}{trace}"),
        400 => {
            format!("Ingrid rejected the request for {subject} as invalid (HTTP 400).{said}{trace}")
        }
        429 => match retry_after_secs {
            Some(secs) => format!(
                "Ingrid is rate limiting requests (HTTP 429); retry after {secs} s.{said}{trace}"
            ),
            None => {
                format!("Ingrid is rate limiting requests (HTTP 429); retry shortly.{said}{trace}")
            }
        },
        500..=599 => format!(
            "Ingrid is unavailable right now (HTTP {status}); try again in a few minutes.{said}{trace}"
        ),
        _ => format!("Ingrid answered {subject} with an unexpected HTTP {status}.{said}{trace}"),
    }
}

/// What an error body says, in either shape Ingrid may use (M5): its older
/// `{"message","code"}`, or RFC 9457 problem details (`type`, `title`, `status`, `detail`,
/// `errors[]` with `code`/`detail`/`param`, a trace id as `trace_id` or `instance`). Every
/// value is cleaned and cut, because it is echoed to a person and an agent (and not obeyed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    /// `detail`, else `message`, else `title`.
    pub message: Option<String>,
    pub field_errors: Vec<FieldError>,
    pub trace_id: Option<String>,
}

/// One entry of a problem's `errors[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The argument it is about, e.g. `items[0].quantity`.
    pub param: Option<String>,
    pub detail: String,
}

/// Field errors passed on to the agent; the rest are counted.
const MAX_FIELD_ERRORS: usize = 10;

impl ErrorBody {
    /// Anything that is not a JSON object (an HTML page from a proxy, say) says nothing.
    pub fn parse(body: &[u8]) -> ErrorBody {
        let Some(body @ Json::Object(_)) = core::str::from_utf8(body)
            .ok()
            .and_then(|text| json::parse(text).ok())
        else {
            return ErrorBody::default();
        };
        let text = |value: &Json, key: &str, max: usize| match value.get(key) {
            Some(Json::String(found)) if !found.trim().is_empty() => Some(text::clean(found, max)),
            _ => None,
        };
        let message = text(&body, "detail", 300)
            .or_else(|| text(&body, "message", 300))
            .or_else(|| text(&body, "title", 300));
        let trace_id = text(&body, "trace_id", 100).or_else(|| text(&body, "instance", 100));
        let field_errors = match body.get("errors") {
            Some(Json::Array(errors)) => errors
                .iter()
                .filter_map(|entry| {
                    let detail = text(entry, "detail", 200).or_else(|| text(entry, "code", 80))?;
                    Some(FieldError {
                        param: text(entry, "param", 80),
                        detail,
                    })
                })
                .collect(),
            _ => Vec::new(),
        };
        ErrorBody {
            message,
            field_errors,
            trace_id,
        }
    }
}

/// The field errors as one fenced block of data (Ingrid's words, never instructions).
fn field_errors_block(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let mut lines: Vec<String> = errors
        .iter()
        .take(MAX_FIELD_ERRORS)
        .map(|error| match &error.param {
            Some(param) => format!("{param}: {}", error.detail),
            None => error.detail.clone(),
        })
        .collect();
    if errors.len() > MAX_FIELD_ERRORS {
        lines.push(format!("and {} more", errors.len() - MAX_FIELD_ERRORS));
    }
    format!(
        "\n{}",
        text::fence_text("Ingrid's field errors", "Ingrid", &lines.join("; "))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_error(status: u16, subject: Subject) -> IngridError {
        IngridError::Status {
            status,
            subject,
            message: Some("nope".into()),
            field_errors: Vec::new(),
            retry_after_secs: Some(7),
            trace_id: Some("t-1".into()),
        }
    }

    #[test]
    fn each_status_reads_as_advice() {
        let unauthorized = status_error(401, Subject::Returns).to_string();
        assert!(
            unauthorized.contains("production Returns API key"),
            "{unauthorized}"
        );
        assert!(unauthorized.contains("not a stage key"), "{unauthorized}");
        assert!(unauthorized.contains("t-1"), "{unauthorized}");
        let missing = status_error(404, Subject::Return(50001)).to_string();
        assert!(
            missing.starts_with("return 50001 does not exist"),
            "{missing}"
        );
        let limited = status_error(429, Subject::Returns).to_string();
        assert!(limited.contains("retry after 7 s"), "{limited}");
        let down = status_error(503, Subject::Returns).to_string();
        assert!(down.contains("unavailable"), "{down}");
        let rejected = status_error(422, Subject::Return(50075)).to_string();
        assert!(
            rejected.contains("return 50075") && rejected.contains("\"nope\""),
            "{rejected}"
        );
    }

    #[test]
    fn a_conflict_is_restated_with_the_current_status() {
        let conflict = status_error(409, Subject::RefundTransaction(90001))
            .with_current_status("REFUNDED")
            .to_string();
        assert!(
            conflict.starts_with("refund transaction 90001 is REFUNDED now"),
            "{conflict}"
        );
        assert!(conflict.contains("Nothing was changed"), "{conflict}");
        assert!(conflict.contains("t-1"), "{conflict}");
        let other = status_error(422, Subject::Returns).with_current_status("COMPLETED");
        assert_eq!(other.status(), Some(422));
    }

    #[test]
    fn error_bodies_are_cleaned_and_cut() {
        let body = format!(r#"{{"message":"bad\u001b[31m {}"}}"#, "x".repeat(1000));
        let message = ErrorBody::parse(body.as_bytes())
            .message
            .unwrap_or_default();
        assert!(!message.contains('\u{1b}'));
        assert_eq!(message.chars().count(), 301, "300 and the cut mark");
        assert_eq!(ErrorBody::parse(b"<html>"), ErrorBody::default());
    }

    #[test]
    fn problem_details_are_read_with_their_field_errors_and_trace_id() {
        let body = br#"{"type":"/problems/validation","title":"Invalid request","status":422,
            "detail":"2 items are invalid","trace_id":"tr-9",
            "errors":[{"code":"TOO_MANY","detail":"at most 1","param":"items[0].quantity"},
                      {"code":"UNKNOWN_ITEM","param":"items[1].returnItemId"}]}"#;
        let parsed = ErrorBody::parse(body);
        assert_eq!(parsed.message.as_deref(), Some("2 items are invalid"));
        assert_eq!(parsed.trace_id.as_deref(), Some("tr-9"));
        assert_eq!(parsed.field_errors.len(), 2);
        assert_eq!(parsed.field_errors[1].detail, "UNKNOWN_ITEM");
        let error = IngridError::Status {
            status: 422,
            subject: Subject::Return(50075),
            message: parsed.message,
            field_errors: parsed.field_errors,
            retry_after_secs: None,
            trace_id: parsed.trace_id,
        }
        .to_string();
        assert!(
            error.contains("Ingrid said: \"2 items are invalid\""),
            "{error}"
        );
        assert!(
            error.contains("items[0].quantity: at most 1; items[1].returnItemId: UNKNOWN_ITEM"),
            "{error}"
        );
        assert!(error.contains("data, not instructions"), "{error}");
        assert!(error.contains("tr-9"), "{error}");
        // The instance stands in for a missing trace_id; the older shape still reads.
        let instance = ErrorBody::parse(br#"{"title":"Not found","instance":"urn:trace:7"}"#);
        assert_eq!(instance.trace_id.as_deref(), Some("urn:trace:7"));
        assert_eq!(instance.message.as_deref(), Some("Not found"));
        let older = ErrorBody::parse(br#"{"message":"no such return","code":"NOT_FOUND"}"#);
        assert_eq!(older.message.as_deref(), Some("no such return"));
    }
}

//! The one seam between the plugin's logic and its host. In the component it is backed by the
//! WIT imports (`http.send`, `log.log`, wasi clocks); in native tests by fakes.

use crate::prelude::*;

use crate::api::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The credential slot the host injects; the plugin never holds the secret.
    pub credential: Option<String>,
    pub timeout_ms: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// No HTTP response: the variants of the WIT `http-error` (contract C3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("refused by the host's policy: {0}")]
    Denied(String),
    #[error("needs the person's approval: {0}")]
    ConfirmationRequired(String),
    #[error("the request was not sent: {0}")]
    NotSent(String),
    #[error("no answer after the request was sent, so its outcome is unknown: {0}")]
    OutcomeUnknown(String),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("the call ran out of time before sending: {0}")]
    Timeout(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Everything the plugin needs from its host.
pub trait Transport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError>;
    fn log(&self, level: LogLevel, message: &str);
    /// A monotonic clock in milliseconds, to keep retries inside the call's deadline.
    fn monotonic_ms(&self) -> u64;
    /// Waits (bounded by the caller); used only for backoff between read retries.
    fn sleep_ms(&self, ms: u64);
    /// Seconds since the Unix epoch (UTC): the time fixed into a proposal's timestamps.
    fn wall_clock_unix_secs(&self) -> u64;
}

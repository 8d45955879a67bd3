//! Requests to Ingrid through the host's `http` import: URL building from the catalog, the
//! credential slot, the read retry policy inside the call's deadline, and status mapping.

use crate::prelude::*;

use super::catalog::{self, Endpoint};
use super::error::{ErrorBody, IngridError, Subject};
use super::http_date;
use super::json::FromBody;
use crate::api::{CallContext, PlannedWrite};
use crate::transport::{HttpError, HttpRequest, HttpResponse, LogLevel, Transport};

/// Attempts for a read, counting the first (writes are never retried, contract C3).
const MAX_READ_ATTEMPTS: u32 = 3;
/// First backoff between read attempts; doubles each time, up to [`MAX_BACKOFF_MS`], and is
/// jittered (half fixed, half random) so that many callers do not retry in step.
const FIRST_BACKOFF_MS: u64 = 200;
const MAX_BACKOFF_MS: u64 = 2_000;
/// Time kept back from the deadline so the tool can still answer after the last request.
const ANSWER_MARGIN_MS: u64 = 250;
/// Time a write leaves for reading the resource back when its outcome is unknown (C3).
const READ_BACK_RESERVE_MS: u64 = 2_000;

pub struct IngridClient<'a> {
    transport: &'a dyn Transport,
    base_url: String,
    started_ms: u64,
    budget_ms: u64,
}

impl<'a> IngridClient<'a> {
    pub fn new(transport: &'a dyn Transport, ctx: &CallContext) -> Self {
        let base_url = ctx
            .setting(catalog::BASE_URL_SETTING)
            .filter(|base| !base.trim().is_empty())
            .unwrap_or(catalog::DEFAULT_BASE_URL)
            .trim_end_matches('/')
            .to_string();
        IngridClient {
            transport,
            base_url,
            started_ms: transport.monotonic_ms(),
            budget_ms: ctx.deadline_ms,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn transport(&self) -> &dyn Transport {
        self.transport
    }

    /// Milliseconds left of the call's deadline.
    pub fn remaining_ms(&self) -> u64 {
        let elapsed = self
            .transport
            .monotonic_ms()
            .saturating_sub(self.started_ms);
        self.budget_ms.saturating_sub(elapsed)
    }

    pub fn url(&self, endpoint: Endpoint, query: &[(&str, String)]) -> String {
        endpoint.url(&self.base_url, query)
    }

    /// One request as it goes to the host: the key by slot name, never by value.
    pub fn request(
        &self,
        endpoint: Endpoint,
        query: &[(&str, String)],
        body: Vec<u8>,
    ) -> HttpRequest {
        HttpRequest {
            method: endpoint.method(),
            url: self.url(endpoint, query),
            headers: json_headers(!body.is_empty()),
            body,
            credential: Some(catalog::CREDENTIAL_SLOT.to_string()),
            // A request that outlives this stops short of the deadline, so the tool can still
            // say what happened.
            timeout_ms: u32::try_from(self.remaining_ms().saturating_sub(ANSWER_MARGIN_MS).max(1))
                .ok(),
        }
    }

    /// A write fixed for a proposal: the full URL string, the slot and the exact body bytes.
    pub fn planned_write(&self, endpoint: Endpoint, body: Vec<u8>) -> PlannedWrite {
        PlannedWrite {
            method: endpoint.method(),
            url: self.url(endpoint, &[]),
            credential: Some(catalog::CREDENTIAL_SLOT.to_string()),
            body,
        }
    }

    /// Sends an approved write exactly as planned, once: writes are never retried (contract
    /// C3), so every outcome goes back to the caller. The write may use the call's time but
    /// what a read-back needs, so an unknown outcome can still be cleared up.
    pub fn send_write(&self, write: &PlannedWrite) -> Result<HttpResponse, HttpError> {
        let remaining = self.remaining_ms();
        let for_the_write = remaining
            .saturating_sub(READ_BACK_RESERVE_MS.min(remaining / 3))
            .max(1);
        let request = HttpRequest {
            method: write.method,
            url: write.url.clone(),
            headers: json_headers(!write.body.is_empty()),
            body: write.body.clone(),
            credential: write.credential.clone(),
            timeout_ms: u32::try_from(for_the_write).ok(),
        };
        self.transport.send(&request)
    }

    /// A read, retried on 429 (when the wait fits), 500 and 502-504, and on a failure to
    /// connect or a lost answer, with capped, jittered backoff inside the call's deadline.
    pub fn get_response(
        &self,
        endpoint: Endpoint,
        query: &[(&str, String)],
        subject: &Subject,
    ) -> Result<HttpResponse, IngridError> {
        let mut attempt = 1;
        loop {
            let request = self.request(endpoint, query, Vec::new());
            let outcome = self.transport.send(&request);
            let retry_in_ms = match &outcome {
                Ok(response) if (200..300).contains(&response.status) => None,
                Ok(response) if response.status == 429 => {
                    let wait_secs = self.retry_after_secs(response).unwrap_or(1);
                    let remaining = self.remaining_ms();
                    // Retry-After comes from outside: no arithmetic on it may overflow.
                    let wait_ms = wait_secs.saturating_mul(1000);
                    if wait_ms.saturating_add(ANSWER_MARGIN_MS) > remaining {
                        return Err(IngridError::RateLimitedBeyondDeadline {
                            retry_after_secs: wait_secs,
                            remaining_secs: remaining / 1000,
                            trace_id: trace_id(response),
                        });
                    }
                    Some(wait_ms)
                }
                Ok(response) if matches!(response.status, 500 | 502..=504) => {
                    Some(self.backoff_ms(attempt))
                }
                Ok(_) => None,
                Err(HttpError::NotSent(_) | HttpError::OutcomeUnknown(_)) => {
                    Some(self.backoff_ms(attempt))
                }
                Err(_) => None,
            };
            match retry_in_ms {
                Some(wait_ms)
                    if attempt < MAX_READ_ATTEMPTS
                        && wait_ms + ANSWER_MARGIN_MS < self.remaining_ms() =>
                {
                    self.transport.log(
                        LogLevel::Info,
                        &format!(
                            "{} attempt {attempt} failed; retrying in {wait_ms} ms",
                            endpoint.template()
                        ),
                    );
                    self.transport.sleep_ms(wait_ms);
                    attempt += 1;
                }
                _ => return check_status(outcome?, subject),
            }
        }
    }

    /// The wait before attempt `attempt + 1`: exponential, capped, half of it random.
    fn backoff_ms(&self, attempt: u32) -> u64 {
        let ceiling = FIRST_BACKOFF_MS
            .saturating_mul(1 << attempt.saturating_sub(1).min(10))
            .min(MAX_BACKOFF_MS);
        let half = ceiling / 2;
        half + jitter(self.transport.monotonic_ms(), attempt) % (half + 1)
    }

    /// `Retry-After` as delay-seconds, or as an HTTP date counted from the host's clock.
    fn retry_after_secs(&self, response: &HttpResponse) -> Option<u64> {
        let value = response.header(catalog::RETRY_AFTER_HEADER)?.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(seconds);
        }
        let at = http_date::parse_imf_fixdate(value)?;
        Some(at.saturating_sub(self.transport.wall_clock_unix_secs()))
    }

    /// A read whose JSON body is decoded into `T`.
    pub fn get<T: FromBody>(
        &self,
        endpoint: Endpoint,
        query: &[(&str, String)],
        subject: Subject,
    ) -> Result<T, IngridError> {
        let response = self.get_response(endpoint, query, &subject)?;
        decode_body(&response, subject)
    }
}

fn json_headers(has_body: bool) -> Vec<(String, String)> {
    let mut headers = vec![("accept".to_string(), "application/json".to_string())];
    if has_body {
        headers.push(("content-type".to_string(), "application/json".to_string()));
    }
    headers
}

/// A response's JSON body read into `T` with the plugin's JSON tree (money from the digits);
/// a shape we cannot read says so, with the trace id.
pub fn decode_body<T: FromBody>(
    response: &HttpResponse,
    subject: Subject,
) -> Result<T, IngridError> {
    T::from_body(&response.body).map_err(|detail| IngridError::UnexpectedBody {
        subject,
        detail,
        trace_id: trace_id(response),
    })
}

/// Ingrid's trace id, when present.
pub fn trace_id(response: &HttpResponse) -> Option<String> {
    response
        .header(catalog::TRACE_ID_HEADER)
        .map(|id| id.chars().filter(|c| !c.is_control()).take(100).collect())
}

/// A well-mixed number from the clock's reading (splitmix64): the guest has no other source of
/// randomness it needs, and the clock differs from call to call and host to host.
fn jitter(clock_ms: u64, attempt: u32) -> u64 {
    let mut z = clock_ms
        .wrapping_add(u64::from(attempt))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 2xx response passes; anything else becomes an [`IngridError::Status`].
pub fn check_status(
    response: HttpResponse,
    subject: &Subject,
) -> Result<HttpResponse, IngridError> {
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    Err(status_error(&response, subject))
}

/// The error a non-2xx response stands for; the trace id from the header, else the body.
pub fn status_error(response: &HttpResponse, subject: &Subject) -> IngridError {
    let body = ErrorBody::parse(&response.body);
    IngridError::Status {
        status: response.status,
        subject: subject.clone(),
        message: body.message,
        field_errors: body.field_errors,
        retry_after_secs: response
            .header(catalog::RETRY_AFTER_HEADER)
            .and_then(|value| value.trim().parse().ok()),
        trace_id: trace_id(response).or(body.trace_id),
    }
}

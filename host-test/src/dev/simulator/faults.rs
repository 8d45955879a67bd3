//! Faults per route and per call number, and the counters that let a test see their effect.
//!
//! A [`Fault`] names a route, the calls to it that it hits ([`CallMatch`], counting every
//! request to that route from 1, whatever its answer) and what goes wrong ([`FaultKind`]). The
//! first fault injected that matches a call applies; the others wait for their calls. Faults
//! come from [`super::SimulatorHandle::inject`] or from a faults file (`fault_file.rs`).
//!
//! Some faults answer instead of the API (a status, a proxy page, a reset before the request is
//! read): nothing is applied. The others let the API answer first, so a write is applied, and
//! then change how the answer goes out (late, never, cut, slowly, broken or with a field
//! missing or changed).

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Sleep;
use tokio_util::io::ReaderStream;

use super::InjectedFailure;
use super::conn::ConnControl;
use super::routes::ApiError;

/// The host's default cap on a response body is 5 MiB; this is over it.
pub const DEFAULT_OVERSIZED_BYTES: usize = 6 * 1024 * 1024;

/// The simulator's routes, by what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// `GET /merchant/order`
    ListOrders,
    /// `GET /merchant/order/{id}`
    GetOrder,
    /// `GET /merchant/return`
    ListReturns,
    /// `GET /merchant/return/{id}`
    GetReturn,
    /// `POST /merchant/return/{id}/returned-items`
    ReportItems,
    /// `GET /merchant/refund-transaction`
    ListRefunds,
    /// `GET /merchant/refund-transaction/{id}`
    GetRefund,
    /// `POST /merchant/refund-transaction/{id}/externally-refunded`
    MarkRefund,
}

impl Route {
    pub const ALL: [Route; 8] = [
        Route::ListOrders,
        Route::GetOrder,
        Route::ListReturns,
        Route::GetReturn,
        Route::ReportItems,
        Route::ListRefunds,
        Route::GetRefund,
        Route::MarkRefund,
    ];

    /// The route's name in a faults file.
    pub fn name(self) -> &'static str {
        match self {
            Route::ListOrders => "list-orders",
            Route::GetOrder => "get-order",
            Route::ListReturns => "list-returns",
            Route::GetReturn => "get-return",
            Route::ReportItems => "report-items",
            Route::ListRefunds => "list-refunds",
            Route::GetRefund => "get-refund",
            Route::MarkRefund => "mark-refund",
        }
    }

    pub fn from_name(name: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|route| route.name() == name)
    }

    pub fn is_write(self) -> bool {
        matches!(self, Route::ReportItems | Route::MarkRefund)
    }

    /// The route a request is for, with the id in its path; `None` for anything else
    /// (the control endpoints, unknown paths, other methods).
    pub(crate) fn classify<'p>(method: &Method, path: &'p str) -> Option<(Route, Option<&'p str>)> {
        let rest = path.strip_prefix("/merchant/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        let get = method == Method::GET;
        let post = method == Method::POST;
        let (route, id) = match segments.as_slice() {
            ["order"] if get => (Route::ListOrders, None),
            ["order", id] if get => (Route::GetOrder, Some(*id)),
            ["return"] if get => (Route::ListReturns, None),
            ["return", id] if get => (Route::GetReturn, Some(*id)),
            ["return", id, "returned-items"] if post => (Route::ReportItems, Some(*id)),
            ["refund-transaction"] if get => (Route::ListRefunds, None),
            ["refund-transaction", id] if get => (Route::GetRefund, Some(*id)),
            ["refund-transaction", id, "externally-refunded"] if post => {
                (Route::MarkRefund, Some(*id))
            }
            _ => return None,
        };
        // axum does not route an empty segment either.
        if id.is_some_and(str::is_empty) {
            return None;
        }
        Some((route, id))
    }
}

/// Which calls to a route a fault hits, counting from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMatch {
    /// Only the n-th call (`Nth(0)` never matches).
    Nth(u64),
    /// Every call.
    Every,
    /// The n-th call and every one after it.
    From(u64),
}

impl CallMatch {
    fn matches(self, call: u64) -> bool {
        match self {
            CallMatch::Nth(n) => call == n,
            CallMatch::Every => true,
            CallMatch::From(n) => call >= n,
        }
    }
}

/// How a 429 says when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 7`
    Seconds(u32),
    /// `Retry-After: Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 IMF-fixdate), this many seconds
    /// after the answer.
    HttpDate { in_secs: u32 },
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// The API answers, `ms` later (a write is applied before the wait).
    Latency { ms: u64 },
    /// 429 instead of the API, with `Retry-After` if given.
    TooManyRequests { retry_after: Option<RetryAfter> },
    /// A 5xx instead of the API (500, 502, 503, ...), in the simulator's error shape.
    ServerError { status: u16 },
    /// The connection is reset before the request's body is read (the head has to be, to know
    /// the route): no answer, nothing applied.
    ResetBeforeRead,
    /// The API answers (a write is applied), then the connection is reset instead of sending
    /// the answer.
    ResetAfterApply,
    /// The API's answer with its full `Content-Length`, but only half of the body is sent
    /// before the connection is closed.
    TruncatedBody,
    /// 200 with the first half of the API's body: not JSON.
    MalformedJson,
    /// 200 with a JSON body of `bytes` bytes (see [`DEFAULT_OVERSIZED_BYTES`]).
    OversizedBody { bytes: usize },
    /// The API's answer: headers at once, then one byte of the body every `interval_ms`.
    Trickle { interval_ms: u64 },
    /// A successful answer without the top-level `field` (in each item of a list).
    MissingField { field: String },
    /// A successful answer with the top-level `field` (in each item of a list) set to `value`:
    /// an unexpected type (`status` a number) or an unexpected field.
    SetField { field: String, value: Value },
    /// 502 from a proxy in front of the API: a `text/html` page, no trace id.
    ProxyHtml,
}

impl FaultKind {
    /// Faults that answer in place of the API, so nothing is applied.
    fn answers_instead(&self) -> bool {
        matches!(
            self,
            FaultKind::TooManyRequests { .. }
                | FaultKind::ServerError { .. }
                | FaultKind::ResetBeforeRead
                | FaultKind::ProxyHtml
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub route: Route,
    pub on_call: CallMatch,
    pub kind: FaultKind,
}

/// What the simulator has seen and done since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests received per route, faults and refusals included.
    pub requests: BTreeMap<Route, u64>,
    /// Writes applied per (route, id in the path): a write counts when the API accepted it
    /// (2xx), whether or not its answer reached the client.
    pub writes: BTreeMap<(Route, u64), u32>,
}

impl Counters {
    pub fn requests_to(&self, route: Route) -> u64 {
        self.requests.get(&route).copied().unwrap_or(0)
    }

    pub fn writes_to(&self, route: Route, id: u64) -> u32 {
        self.writes.get(&(route, id)).copied().unwrap_or(0)
    }
}

/// The injected faults and the counters, kept in the simulator's state.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    faults: Vec<Fault>,
    pub counters: Counters,
}

impl FaultBook {
    pub fn inject(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    pub fn clear(&mut self) {
        self.faults.clear();
    }

    /// Counts a call to `route`; the fault for it, if any.
    pub fn arrive(&mut self, route: Route) -> Option<FaultKind> {
        let count = self.counters.requests.entry(route).or_insert(0);
        *count += 1;
        let call = *count;
        self.faults
            .iter()
            .find(|fault| fault.route == route && fault.on_call.matches(call))
            .map(|fault| fault.kind.clone())
    }

    pub fn applied(&mut self, route: Route, id: u64) {
        *self.counters.writes.entry((route, id)).or_insert(0) += 1;
    }
}

/// The answer given in place of the API, for faults that answer instead.
pub(crate) fn answer_instead(kind: &FaultKind) -> Option<Response> {
    if !kind.answers_instead() {
        return None;
    }
    Some(match kind {
        FaultKind::TooManyRequests { retry_after } => {
            let seconds = match retry_after {
                Some(RetryAfter::Seconds(seconds)) => Some(*seconds),
                _ => None,
            };
            let failure = InjectedFailure {
                status: 429,
                count: 1,
                retry_after_secs: seconds,
            };
            let mut response = status_response(&failure);
            match retry_after {
                Some(RetryAfter::HttpDate { in_secs }) => {
                    if let Ok(value) = HeaderValue::from_str(&http_date(*in_secs)) {
                        response.headers_mut().insert(header::RETRY_AFTER, value);
                    }
                }
                Some(RetryAfter::Seconds(_)) => {}
                // A fault without Retry-After tests a client that has to guess.
                None => {
                    response.headers_mut().remove(header::RETRY_AFTER);
                }
            }
            response
        }
        FaultKind::ServerError { status } => status_response(&InjectedFailure {
            status: *status,
            count: 1,
            retry_after_secs: None,
        }),
        FaultKind::ProxyHtml => proxy_page(),
        // ResetBeforeRead is handled before the body is read; this answer is never sent.
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    })
}

/// An error answer for an injected status (also the queued failures of `inject_failures`).
pub(crate) fn status_response(failure: &InjectedFailure) -> Response {
    // A 1xx cannot be a final response, so it is sent as 500 like an invalid status.
    let status = StatusCode::from_u16(failure.status)
        .ok()
        .filter(|status| status.as_u16() >= 200)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (code, message) = match status.as_u16() {
        429 => ("TOO_MANY_REQUESTS", "rate limit exceeded; retry later"),
        500 => ("INTERNAL_ERROR", "internal server error"),
        502 => ("BAD_GATEWAY", "bad gateway"),
        503 => ("SERVICE_UNAVAILABLE", "service unavailable"),
        504 => ("GATEWAY_TIMEOUT", "gateway timeout"),
        401 => (
            "UNAUTHORIZED",
            "missing or invalid API key in the x-api-key header",
        ),
        403 => ("FORBIDDEN", "forbidden"),
        _ => ("INJECTED_FAILURE", "injected failure"),
    };
    let mut response = ApiError::new(status, code, message).into_response();
    let retry_after = match (status.as_u16(), failure.retry_after_secs) {
        (_, Some(seconds)) => Some(seconds),
        // A 429 without Retry-After would leave clients guessing.
        (429, None) => Some(1),
        _ => None,
    };
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status.is_redirection() {
        // Lets tests check that clients do not follow redirects; stays on this host.
        response.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_static("/_sim/redirected"),
        );
    }
    response
}

/// `now + in_secs` as an RFC 9110 IMF-fixdate.
pub(crate) fn http_date(in_secs: u32) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let when = OffsetDateTime::now_utc() + time::Duration::seconds(i64::from(in_secs));
    // Formatting a UTC date with this description cannot fail; an empty value would only
    // drop the header.
    when.format(&format).unwrap_or_default()
}

fn proxy_page() -> Response {
    const PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
        <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n\
        </body>\r\n</html>\r\n";
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "text/html")],
        PAGE,
    )
        .into_response()
}

/// Resets the connection; the response returned is never sent. Without the simulator's
/// listener (a router served some other way) there is no connection to reset: a 500 says so.
pub(crate) fn reset(conn: Option<&ConnControl>) -> Response {
    match conn {
        Some(conn) => {
            conn.reset();
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        None => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INJECTED_FAILURE",
            "a reset fault needs the simulator's own listener",
        )
        .into_response(),
    }
}

/// The API's answer as it goes out under a fault that lets the API answer first; `false` when
/// nothing is sent.
pub(crate) async fn around(
    kind: Option<&FaultKind>,
    response: Response,
    conn: Option<&ConnControl>,
) -> (Response, bool) {
    let Some(kind) = kind.filter(|kind| !kind.answers_instead()) else {
        return (response, true);
    };
    let response = match kind {
        FaultKind::Latency { ms } => {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            response
        }
        FaultKind::ResetAfterApply => return (reset(conn), conn.is_none()),
        FaultKind::TruncatedBody => {
            let (mut parts, body) = split(response).await;
            let declared = body.len().max(1);
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
            let sent = body.slice(..body.len() / 2);
            let step = sent.len().max(1);
            let paced = Paced::new(sent, step, Duration::ZERO, true);
            Response::from_parts(parts, Body::from_stream(ReaderStream::new(paced)))
        }
        FaultKind::MalformedJson => {
            let (mut parts, body) = split(response).await;
            parts.status = StatusCode::OK;
            let broken = if body.len() < 2 {
                Bytes::from_static(b"{")
            } else {
                body.slice(..body.len() / 2)
            };
            json_parts(&mut parts);
            Response::from_parts(parts, Body::from(broken))
        }
        FaultKind::OversizedBody { bytes } => {
            let (mut parts, _) = split(response).await;
            parts.status = StatusCode::OK;
            json_parts(&mut parts);
            Response::from_parts(parts, Body::from(padding(*bytes)))
        }
        FaultKind::Trickle { interval_ms } => {
            let (mut parts, body) = split(response).await;
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            let interval = Duration::from_millis(*interval_ms);
            let paced = Paced::new(body, 1, interval, false);
            Response::from_parts(parts, Body::from_stream(ReaderStream::new(paced)))
        }
        FaultKind::MissingField { field } => {
            edit_fields(response, |object| {
                object.remove(field);
            })
            .await
        }
        FaultKind::SetField { field, value } => {
            edit_fields(response, |object| {
                object.insert(field.clone(), value.clone());
            })
            .await
        }
        // Answered instead; filtered out above.
        FaultKind::TooManyRequests { .. }
        | FaultKind::ServerError { .. }
        | FaultKind::ResetBeforeRead
        | FaultKind::ProxyHtml => response,
    };
    (response, true)
}

/// The answer's head and whole body (the API's own bodies are small).
async fn split(response: Response) -> (axum::http::response::Parts, Bytes) {
    let (mut parts, body) = response.into_parts();
    // The body is replaced; its old length must not survive (hyper trusts the header).
    parts.headers.remove(header::CONTENT_LENGTH);
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

fn json_parts(parts: &mut axum::http::response::Parts) {
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
}

/// `{"padding":"xxx..."}`, exactly `bytes` long (at least the frame).
fn padding(bytes: usize) -> Vec<u8> {
    const OPEN: &[u8] = b"{\"padding\":\"";
    const CLOSE: &[u8] = b"\"}";
    let fill = bytes.saturating_sub(OPEN.len() + CLOSE.len());
    let mut body = Vec::with_capacity(OPEN.len() + fill + CLOSE.len());
    body.extend_from_slice(OPEN);
    body.resize(OPEN.len() + fill, b'x');
    body.extend_from_slice(CLOSE);
    body
}

/// Applies `edit` to the top-level object of a successful JSON answer, or to each object of a
/// list; other answers go out as they are.
async fn edit_fields(
    response: Response,
    edit: impl Fn(&mut serde_json::Map<String, Value>),
) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let (parts, body) = split(response).await;
    let Ok(mut value) = serde_json::from_slice::<Value>(&body) else {
        return Response::from_parts(parts, Body::from(body));
    };
    match &mut value {
        Value::Object(object) => edit(object),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(&edit),
        _ => {}
    }
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// A body source that hands out `step` bytes at a time, `interval` apart (the first after one
/// interval), then ends, or fails after a pause when `fail_at_end` (so what was sent is flushed
/// before the connection is dropped).
struct Paced {
    data: Bytes,
    sent: usize,
    step: usize,
    interval: Duration,
    wait: Option<Pin<Box<Sleep>>>,
    fail_at_end: bool,
    paused: bool,
}

impl Paced {
    /// The pause before a truncated body's connection is dropped.
    const FLUSH_PAUSE: Duration = Duration::from_millis(50);

    fn new(data: Bytes, step: usize, interval: Duration, fail_at_end: bool) -> Self {
        let wait = (!interval.is_zero()).then(|| Box::pin(tokio::time::sleep(interval)));
        Self {
            data,
            sent: 0,
            step: step.max(1),
            interval,
            wait,
            fail_at_end,
            paused: false,
        }
    }
}

impl AsyncRead for Paced {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if let Some(wait) = this.wait.as_mut() {
                ready!(wait.as_mut().poll(cx));
                this.wait = None;
            }
            if this.sent < this.data.len() {
                let end = (this.sent + this.step)
                    .min(this.data.len())
                    .min(this.sent + buf.remaining());
                buf.put_slice(&this.data[this.sent..end]);
                this.sent = end;
                if !this.interval.is_zero() {
                    this.wait = Some(Box::pin(tokio::time::sleep(this.interval)));
                }
                return Poll::Ready(Ok(()));
            }
            if !this.fail_at_end {
                return Poll::Ready(Ok(()));
            }
            if this.paused {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "body truncated by an injected fault",
                )));
            }
            this.paused = true;
            this.wait = Some(Box::pin(tokio::time::sleep(Self::FLUSH_PAUSE)));
        }
    }
}

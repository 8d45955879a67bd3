//! The async HTTP/1.1 client behind the `http` import: one request per exchange, no redirects,
//! no proxy, every status returned, keep-alive connections pooled per [`super::OutboundConfig`].
//! Three clocks bound an exchange: connect (resolve, TCP, TLS), first byte (until the response
//! head) and total (the request's budget, which never passes the call's deadline). Every await
//! is cancel-safe: a dropped exchange drops its connection.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HOST, HeaderValue, USER_AGENT};
use tokio::time::{Instant, timeout_at};

use super::connect::{Conn, Connector, Origin};
use super::failure::{Failure, classify};
use super::{HttpLimits, Prepared};
use crate::bindings::http::{HttpError, Response};
use crate::bindings::types::Header;

const USER_AGENT_VALUE: &str = concat!("dema-host/", env!("CARGO_PKG_VERSION"));
/// Idle connections kept per origin, and for how long.
const MAX_IDLE_PER_ORIGIN: usize = 4;
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct Client {
    connector: Connector,
    connect_timeout: Duration,
    first_byte_timeout: Option<Duration>,
    idle: Mutex<HashMap<Origin, Vec<Conn>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(connector: Connector, limits: &HttpLimits) -> Self {
        Client {
            connector,
            connect_timeout: limits.connect_timeout,
            first_byte_timeout: limits.first_byte_timeout,
            idle: Mutex::new(HashMap::new()),
        }
    }

    /// One exchange, over by `prepared.until`, the body read up to `limit` bytes.
    pub async fn exchange(&self, prepared: Prepared, limit: u64) -> Result<Response, HttpError> {
        let host = prepared.url.host_str().unwrap_or_default().to_string();
        self.run(prepared, limit)
            .await
            .map_err(|failure| classify(failure, &host))
    }

    async fn run(&self, prepared: Prepared, limit: u64) -> Result<Response, Failure> {
        let started = Instant::now();
        let end = Instant::from_std(prepared.until);
        let origin = Origin::of(&prepared.url)?;
        let request = build(&prepared, &origin)?;
        let mut request = Some(request);
        loop {
            let (mut conn, pooled) = match self.checkout(&origin) {
                Some(conn) => (conn, true),
                None => (self.connect(&origin, started, end).await?, false),
            };
            let Some(message) = request.take() else {
                return Err(Failure::Invalid("the request was lost".to_string()));
            };
            // Still nothing written: waiting here is connecting, not sending.
            let ready = timeout_at(end, conn.sender.ready()).await;
            match ready {
                Err(_) => return Err(Failure::ConnectTimeout(started.elapsed())),
                Ok(Err(_)) if pooled => {
                    request = Some(message);
                    continue;
                }
                Ok(Err(error)) => return Err(Failure::Unsent(error)),
                Ok(Ok(())) => {}
            }
            let first_byte_end = self
                .first_byte_timeout
                .map_or(end, |first_byte| end.min(Instant::now() + first_byte));
            let sent = timeout_at(first_byte_end, conn.sender.try_send_request(message)).await;
            let response = match sent {
                Err(_) => return Err(Failure::NoAnswer(started.elapsed())),
                Ok(Ok(response)) => response,
                Ok(Err(mut error)) => match error.take_message() {
                    // The connection was found closed before the request was written: a
                    // pooled one may have been closed by the server while idle; try anew.
                    Some(message) if pooled => {
                        request = Some(message);
                        continue;
                    }
                    Some(_) => return Err(Failure::Unsent(error.into_error())),
                    None => return Err(Failure::Exchange(error.into_error())),
                },
            };
            let response = match timeout_at(end, read(response, limit)).await {
                Err(_) => return Err(Failure::BodyTimeout(started.elapsed())),
                Ok(result) => result?,
            };
            self.checkin(origin, conn);
            return Ok(response);
        }
    }

    async fn connect(
        &self,
        origin: &Origin,
        started: Instant,
        end: Instant,
    ) -> Result<Conn, Failure> {
        let connect_end = end.min(Instant::now() + self.connect_timeout);
        match timeout_at(connect_end, self.connector.connect(origin)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::ConnectTimeout(started.elapsed())),
        }
    }

    /// An idle connection to `origin` that is still open, if any.
    fn checkout(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let conns = idle.get_mut(origin)?;
        while let Some(conn) = conns.pop() {
            if !conn.sender.is_closed() && conn.idle_since.elapsed() < IDLE_TIMEOUT {
                return Some(conn);
            }
        }
        None
    }

    /// Back to the pool after a complete exchange; only then is a connection known reusable.
    fn checkin(&self, origin: Origin, mut conn: Conn) {
        if conn.sender.is_closed() {
            return;
        }
        conn.idle_since = std::time::Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let conns = idle.entry(origin).or_default();
        conns.retain(|conn| !conn.sender.is_closed());
        if conns.len() < MAX_IDLE_PER_ORIGIN {
            conns.push(conn);
        }
    }
}

/// The request as it goes on the wire: origin-form target, `Host`, the user agent unless the
/// guest set one, the guest's headers, and last the slot's key, added only here.
fn build(prepared: &Prepared, origin: &Origin) -> Result<hyper::Request<Full<Bytes>>, Failure> {
    let invalid = |error: &dyn std::fmt::Display| Failure::Invalid(error.to_string());
    let target = match prepared.url.query() {
        Some(query) => format!("{}?{query}", prepared.url.path()),
        None => prepared.url.path().to_string(),
    };
    let mut request = hyper::Request::builder()
        .method(prepared.method)
        .uri(target)
        .body(Full::new(prepared.body.clone()))
        .map_err(|e| invalid(&e))?;
    let headers = request.headers_mut();
    headers.insert(
        HOST,
        HeaderValue::from_str(&origin.authority()).map_err(|e| invalid(&e))?,
    );
    headers.extend(prepared.headers.clone());
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    }
    if let Some((name, secret)) = &prepared.secret_header {
        let name =
            hyper::header::HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(&e))?;
        // The message never names the value.
        let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| {
            Failure::Invalid(format!("the key for `{name}` is not a valid header value"))
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(request)
}

/// Status, headers, and the body read to its end or one byte past `limit`.
async fn read(
    response: hyper::Response<hyper::body::Incoming>,
    limit: u64,
) -> Result<Response, Failure> {
    let (parts, mut body) = response.into_parts();
    let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    let mut data = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Failure::Body)?;
        if let Ok(chunk) = frame.into_data() {
            let room = cap.saturating_sub(data.len());
            data.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if data.len() as u64 > limit {
                return Err(Failure::TooLarge(limit));
            }
        }
    }
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| Header {
            name: name.as_str().to_string(),
            value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        })
        .collect();
    Ok(Response {
        status: parts.status.as_u16(),
        headers,
        body: data,
    })
}

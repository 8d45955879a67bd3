//! The mechanism behind the `http` import, the single choke point through which a guest reaches
//! the outside (P1): each request is put to the request rules ([`crate::policy::request`]) and
//! the write gate ([`crate::policy::gate`]), counted against the call's budget, sent with the key
//! injected by slot, read under a size cap within the call's deadline, redacted, and its failure
//! classified as contract C3 says. HTTP status is data: every status comes back as a response,
//! and redirects are never followed. The client itself is in [`client`], connections (egress
//! check, TCP, TLS) in [`connect`], and the C3 mapping of failures in [`failure`].

mod client;
mod connect;
mod failure;
#[cfg(test)]
mod network_tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::bindings::http::{HttpError, Request, Response};
use crate::bindings::types::Header;
use crate::keys::{CallKeys, Secret};
use crate::policy::egress::{PolicyResolver, StubLookup};
use crate::policy::gate::{WriteGate, WriteKey, is_write, method_name};
use crate::policy::request::{MAX_URL_BYTES, RequestRules};

/// Caps of the `http` import.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub max_requests_per_call: u32,
    pub max_request_body_bytes: usize,
    pub max_response_body_bytes: u64,
    /// The longest one request may take, within the call's deadline.
    pub max_request_timeout: Duration,
    /// Resolve, TCP connect and TLS handshake together.
    pub connect_timeout: Duration,
    /// From sending to the response's head; `None`: the rest of the request's time.
    pub first_byte_timeout: Option<Duration>,
    /// Status line and headers of a response.
    pub max_response_header_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_requests_per_call: 32,
            max_request_body_bytes: 1 << 20,
            max_response_body_bytes: 5 << 20,
            max_request_timeout: Duration::from_secs(8),
            connect_timeout: Duration::from_secs(3),
            first_byte_timeout: None,
            max_response_header_bytes: 64 << 10,
        }
    }
}

/// Answers requests in this process instead of the network, for benchmarks and tests that
/// measure the host without sockets (`benches/host.rs`). It replaces only the exchange: every
/// rule, the gate, the request budget, the size cap and redaction still apply. No face sets
/// one.
pub trait Responder: Send + Sync {
    /// The answer to a request that passed every rule: method, full URL, body.
    fn answer(&self, method: &str, url: &Url, body: &[u8]) -> Result<Response, HttpError>;
}

/// What the `http` import of one loaded plugin works with, shared by all its calls: the rules
/// from its grant, the caps, and one HTTP client (connections reused across calls).
pub struct OutboundConfig {
    pub rules: RequestRules,
    pub limits: HttpLimits,
    client: client::Client,
    responder: Option<Arc<dyn Responder>>,
}

impl std::fmt::Debug for OutboundConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundConfig")
            .field("rules", &self.rules)
            .field("limits", &self.limits)
            .field("in_process", &self.responder.is_some())
            .finish_non_exhaustive()
    }
}

impl OutboundConfig {
    /// `stub_lookup` replaces DNS (tests, contract C10).
    pub fn new(rules: RequestRules, limits: HttpLimits, stub_lookup: Option<StubLookup>) -> Self {
        Self::with_trust(rules, limits, stub_lookup, connect::Trust::WebPki)
    }

    /// Trusting only `roots` instead of the web PKI: for TLS tests against a test server.
    #[cfg(test)]
    fn with_roots(
        rules: RequestRules,
        limits: HttpLimits,
        stub_lookup: Option<StubLookup>,
        roots: Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
    ) -> Self {
        Self::with_trust(rules, limits, stub_lookup, connect::Trust::Only(roots))
    }

    fn with_trust(
        rules: RequestRules,
        limits: HttpLimits,
        stub_lookup: Option<StubLookup>,
        trust: connect::Trust,
    ) -> Self {
        let connector = connect::Connector::new(
            rules.network,
            PolicyResolver::new(rules.network, stub_lookup),
            trust,
            limits.max_response_header_bytes,
        );
        let client = client::Client::new(connector, &limits);
        OutboundConfig {
            rules,
            limits,
            client,
            responder: None,
        }
    }

    /// Answers every request with `responder` instead of the network (see [`Responder`]).
    pub fn with_responder(mut self, responder: Arc<dyn Responder>) -> Self {
        self.responder = Some(responder);
        self
    }
}

/// Bounds of what a request record keeps of the URL.
const MAX_RECORDED_HOST: usize = 255;
const MAX_RECORDED_PATH: usize = 512;

fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The per-call side of the import: counts requests against the call's budget.
pub struct Outbound {
    config: Arc<OutboundConfig>,
    keys: CallKeys,
    gate: WriteGate,
    requests_sent: u32,
}

/// One request as recorded for the operator (no query values, no headers, no bodies).
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: &'static str,
    pub host: String,
    pub path: String,
    pub status: Option<u16>,
    pub request_bytes: usize,
    pub response_bytes: usize,
    pub duration: Duration,
    /// Ingrid's `X-Trace-Id`, when the response had one.
    pub trace_id: Option<String>,
    /// The `http-error` kind when there was no response (`denied`, `not-sent`, ...).
    pub error: Option<&'static str>,
}

/// The error kind of a request the call was stopped during (a deadline or a trap): it may
/// have reached the server.
pub const IN_FLIGHT: &str = "in-flight";

impl RequestRecord {
    /// The record of a request about to be checked and sent: in flight until it is finished.
    /// Kept at bounded size whatever the guest sent: an over-long URL is not even parsed.
    pub fn started(request: &Request) -> RequestRecord {
        let parsed = (request.url.len() <= MAX_URL_BYTES)
            .then(|| Url::parse(&request.url).ok())
            .flatten();
        let (host, path) = match parsed {
            Some(url) => (
                clip(url.host_str().unwrap_or_default(), MAX_RECORDED_HOST),
                clip(url.path(), MAX_RECORDED_PATH),
            ),
            None => (String::new(), String::new()),
        };
        RequestRecord {
            method: method_name(request.method),
            host,
            path,
            status: None,
            request_bytes: request.body.len(),
            response_bytes: 0,
            duration: Duration::ZERO,
            trace_id: None,
            error: Some(IN_FLIGHT),
        }
    }

    /// Whether this was a write (a method that changes state).
    pub fn is_write(&self) -> bool {
        !matches!(self.method, "GET" | "HEAD")
    }

    /// Whether the host refused the request (policy or the confirmation gate).
    pub fn refused_by_host(&self) -> bool {
        matches!(self.error, Some("denied" | "confirmation-required"))
    }
}

pub fn error_kind(error: &HttpError) -> &'static str {
    match error {
        HttpError::Denied(_) => "denied",
        HttpError::ConfirmationRequired(_) => "confirmation-required",
        HttpError::NotSent(_) => "not-sent",
        HttpError::OutcomeUnknown(_) => "outcome-unknown",
        HttpError::TooLarge(_) => "too-large",
        HttpError::Timeout(_) => "timeout",
    }
}

impl Outbound {
    pub fn new(config: Arc<OutboundConfig>, keys: CallKeys, gate: WriteGate) -> Self {
        Outbound {
            config,
            keys,
            gate,
            requests_sent: 0,
        }
    }

    pub fn gate(&self) -> &WriteGate {
        &self.gate
    }

    pub fn redact_text(&self, text: &str) -> String {
        self.keys.redact_text(text)
    }

    pub fn requests_sent(&self) -> u32 {
        self.requests_sent
    }

    /// Checks and sends one guest request. Errors are the WIT's `http-error`.
    pub async fn send(
        &mut self,
        request: Request,
        deadline: Instant,
    ) -> (Result<Response, HttpError>, RequestRecord) {
        let mut record = RequestRecord::started(&request);
        let prepared = match self.prepare(request, deadline) {
            Ok(prepared) => prepared,
            Err(error) => {
                record.error = Some(error_kind(&error));
                return (Err(error), record);
            }
        };
        self.requests_sent += 1;
        let limit = self.config.limits.max_response_body_bytes;
        let started = Instant::now();
        let outcome = match &self.config.responder {
            Some(responder) => answer_in_process(responder.as_ref(), &prepared, limit),
            // Dropping this future (the call's deadline) drops the connection with it.
            None => self.config.client.exchange(prepared, limit).await,
        };
        let outcome = outcome.map(|response| self.redact(response));
        record.status = outcome.as_ref().ok().map(|r| r.status);
        record.response_bytes = outcome.as_ref().map(|r| r.body.len()).unwrap_or(0);
        record.duration = started.elapsed();
        record.trace_id = outcome.as_ref().ok().and_then(|r| {
            r.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("x-trace-id"))
                .map(|h| {
                    h.value
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(100)
                        .collect()
                })
        });
        record.error = outcome.as_ref().err().map(error_kind);
        (outcome, record)
    }

    fn prepare(&mut self, request: Request, deadline: Instant) -> Result<Prepared, HttpError> {
        let config = &self.config;
        if matches!(self.gate, WriteGate::Offline) {
            return Err(HttpError::Denied(
                "listing tools may not make requests".to_string(),
            ));
        }
        if self.requests_sent >= config.limits.max_requests_per_call {
            return Err(HttpError::Denied(format!(
                "this call already sent its {} requests",
                config.limits.max_requests_per_call
            )));
        }
        let checked = config.rules.check(&request, &self.keys)?;
        let headers = header_map(&request.headers)?;
        let now = Instant::now();
        if deadline.saturating_duration_since(now) < Duration::from_millis(5) {
            return Err(HttpError::Timeout(
                "no time left in this call to send the request".to_string(),
            ));
        }
        // The call's deadline itself, not a duration measured from it, so a request never
        // outlives the call.
        let mut until = deadline.min(now + config.limits.max_request_timeout);
        if let Some(ms) = request.timeout_ms {
            until = until.min(now + Duration::from_millis(u64::from(ms)));
        }
        // Last, so a write is consumed only when it is really about to be sent.
        if is_write(request.method) {
            self.gate.admit(&WriteKey {
                method: method_name(request.method),
                url: request.url.clone(),
                credential: request.credential.clone(),
                body: request.body.clone(),
            })?;
        }
        Ok(Prepared {
            method: method_name(request.method),
            url: checked.url,
            headers,
            body: Bytes::from(request.body),
            secret_header: checked.credential,
            until,
        })
    }

    /// Removes the keys from everything the guest gets back.
    fn redact(&self, mut response: Response) -> Response {
        response.body = self.keys.redact_bytes(response.body);
        for header in &mut response.headers {
            header.value = self.keys.redact_text(&header.value);
        }
        response
    }
}

/// The in-process exchange, under the same response cap as the network's.
fn answer_in_process(
    responder: &dyn Responder,
    prepared: &Prepared,
    limit: u64,
) -> Result<Response, HttpError> {
    let response = responder.answer(prepared.method, &prepared.url, &prepared.body)?;
    if response.body.len() as u64 > limit {
        return Err(HttpError::TooLarge(format!(
            "the response is larger than {limit} bytes"
        )));
    }
    Ok(response)
}

/// A request that passed every rule, ready for the client.
struct Prepared {
    method: &'static str,
    url: Url,
    /// The guest's headers.
    headers: HeaderMap,
    body: Bytes,
    /// Added by the client as the request is written, never before.
    secret_header: Option<(String, Secret)>,
    /// When the request must be over (total timeout): never after the call's deadline.
    until: Instant,
}

/// The guest's headers as HTTP, refused before anything is counted if one cannot be written.
fn header_map(headers: &[Header]) -> Result<HeaderMap, HttpError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for header in headers {
        let name = HeaderName::from_bytes(header.name.as_bytes());
        let value = HeaderValue::from_str(&header.value);
        match (name, value) {
            (Ok(name), Ok(value)) => {
                map.append(name, value);
            }
            _ => {
                return Err(HttpError::Denied(format!(
                    "not a valid request: the header `{}` cannot be sent",
                    crate::policy::display::line(&header.name, 64)
                )));
            }
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{self, Method};
    use crate::keys::FixedKey;
    use crate::manifest::CredentialSlot;
    use crate::policy::egress::NetworkPolicy;
    use crate::policy::grant::Origin;

    const KEY: &str = "canary-key-0f9e8d7c";

    fn outbound() -> Outbound {
        outbound_with(WriteGate::Unapproved)
    }

    fn rules(host: &str, methods: &[&str], slots: &[(&str, &str)]) -> RequestRules {
        RequestRules {
            origin: Origin {
                scheme: "https".into(),
                host: host.into(),
                port: 443,
            },
            network: NetworkPolicy::Live,
            methods: methods.iter().map(|m| m.to_string()).collect(),
            slots: slots
                .iter()
                .map(|(name, header)| (name.to_string(), header.to_string()))
                .collect(),
            path_prefixes: Some(vec!["/merchant/".into()]),
            max_body_bytes: HttpLimits::default().max_request_body_bytes,
        }
    }

    fn keys(slot: &str) -> CallKeys {
        let slot = CredentialSlot {
            name: slot.into(),
            header: "x-api-key".into(),
            hosts: Vec::new(),
            description: String::new(),
        };
        CallKeys::resolve(&[slot], &FixedKey(Secret::new(KEY))).unwrap_or_default()
    }

    fn outbound_for(rules: RequestRules, keys: CallKeys, gate: WriteGate) -> Outbound {
        let config = OutboundConfig::new(rules, HttpLimits::default(), Some(Arc::default()));
        Outbound::new(Arc::new(config), keys, gate)
    }

    fn outbound_with(gate: WriteGate) -> Outbound {
        let rules = rules(
            "api.turnr.se",
            &["GET", "POST"],
            &[("ingrid-api-key", "x-api-key")],
        );
        outbound_for(rules, keys("ingrid-api-key"), gate)
    }

    fn get(url: &str) -> Request {
        Request {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            credential: Some("ingrid-api-key".into()),
            timeout_ms: None,
        }
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn only_the_granted_origin_is_reachable() {
        let mut outbound = outbound();
        assert!(
            outbound
                .prepare(get("https://api.turnr.se/merchant/return"), later())
                .is_ok()
        );
        for url in [
            "http://api.turnr.se/merchant/return",
            "https://api.turnr.se:8443/merchant/return",
            "https://api.turnr.se.evil.test/merchant/return",
            "https://169.254.169.254/latest/meta-data",
            "https://user:pw@api.turnr.se/merchant/return",
            "https://api.turnr.se/admin/users",
            "https://api.turnr.se/merchant/../admin",
            "https://api.turnr.se/merchant/%2e%2e/admin",
            "https://api.turnr.se/merchantx/return",
            "not a url",
        ] {
            assert!(
                matches!(
                    outbound.prepare(get(url), later()),
                    Err(HttpError::Denied(_))
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn the_guest_cannot_set_credentials_or_write_without_approval() {
        let mut outbound = outbound();
        for name in ["x-api-key", "X-Api-Key", "Authorization"] {
            let mut request = get("https://api.turnr.se/merchant/return");
            request.headers.push(Header {
                name: name.into(),
                value: "guessed".into(),
            });
            assert!(
                matches!(
                    outbound.prepare(request, later()),
                    Err(HttpError::Denied(_))
                ),
                "{name}"
            );
        }
        let mut post = get("https://api.turnr.se/merchant/return/1/returned-items");
        post.method = Method::Post;
        assert!(matches!(
            outbound.prepare(post, later()),
            Err(HttpError::ConfirmationRequired(_))
        ));
        let mut other_slot = get("https://api.turnr.se/merchant/return");
        other_slot.credential = Some("someone-elses-key".into());
        assert!(matches!(
            outbound.prepare(other_slot, later()),
            Err(HttpError::Denied(_))
        ));
    }

    #[test]
    fn an_approved_write_passes_once_and_only_byte_for_byte() {
        let url = "https://api.turnr.se/merchant/refund-transaction/9/externally-refunded";
        let approved = types::PlannedWrite {
            method: Method::Post,
            url: url.into(),
            credential: Some("ingrid-api-key".into()),
            body: br#"{"refundedAt":"2026-11-27T10:00:00Z"}"#.to_vec(),
        };
        let mut outbound = outbound_with(WriteGate::approved(std::slice::from_ref(&approved)));
        let post = |body: &[u8]| Request {
            method: Method::Post,
            url: url.into(),
            headers: Vec::new(),
            body: body.to_vec(),
            credential: Some("ingrid-api-key".into()),
            timeout_ms: None,
        };
        let altered = post(br#"{"refundedAt":"2026-11-27T10:00:01Z"}"#);
        assert!(matches!(
            outbound.prepare(altered, later()),
            Err(HttpError::Denied(_))
        ));
        assert!(outbound.prepare(post(&approved.body), later()).is_ok());
        assert!(
            matches!(
                outbound.prepare(post(&approved.body), later()),
                Err(HttpError::Denied(_))
            ),
            "single use"
        );
        assert_eq!(outbound.gate().sent(), 1);
        let read_only = outbound_with(WriteGate::ReadOnly).prepare(post(&approved.body), later());
        assert!(matches!(read_only, Err(HttpError::Denied(_))));
        let listing = outbound_with(WriteGate::Offline)
            .prepare(get("https://api.turnr.se/merchant/return"), later());
        assert!(
            matches!(listing, Err(HttpError::Denied(_))),
            "list-tools sends nothing"
        );
    }

    #[test]
    fn a_request_carrying_the_key_or_an_ungranted_method_is_refused() {
        let mut outbound = outbound();
        let mut in_body = get("https://api.turnr.se/merchant/return");
        in_body.method = Method::Post;
        in_body.body = format!("{{\"k\":\"{KEY}\"}}").into_bytes();
        let in_query = get(&format!("https://api.turnr.se/merchant/return?k={KEY}"));
        let mut in_header = get("https://api.turnr.se/merchant/return");
        in_header.headers.push(Header {
            name: "x-note".into(),
            value: KEY.into(),
        });
        for request in [in_body, in_query, in_header] {
            assert!(matches!(
                outbound.prepare(request, later()),
                Err(HttpError::Denied(m)) if m.contains("already carries")
            ));
        }
        let mut get_only = outbound_for(
            rules("api.turnr.se", &["GET"], &[]),
            CallKeys::default(),
            WriteGate::ReadOnly,
        );
        let mut delete = get("https://api.turnr.se/merchant/return/1");
        delete.method = Method::Delete;
        delete.credential = None;
        assert!(matches!(
            get_only.prepare(delete, later()),
            Err(HttpError::Denied(m)) if m.contains("DELETE")
        ));
    }

    #[test]
    fn live_requests_need_https_and_a_host_name() {
        let mut outbound = outbound();
        assert!(matches!(
            outbound.prepare(get("http://api.turnr.se/merchant/return"), later()),
            Err(HttpError::Denied(_))
        ));
        let mut literal = outbound_for(
            rules("10.0.0.1", &["GET"], &[]),
            CallKeys::default(),
            WriteGate::ReadOnly,
        );
        let mut request = get("https://10.0.0.1/merchant/return");
        request.credential = None;
        assert!(
            matches!(literal.prepare(request, later()), Err(HttpError::Denied(m)) if m.contains("IP"))
        );
    }

    #[test]
    fn the_key_is_added_by_the_host_and_the_deadline_bounds_the_timeout() {
        let mut outbound = outbound();
        let prepared = outbound
            .prepare(get("https://api.turnr.se/merchant/return"), later())
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            prepared
                .secret_header
                .as_ref()
                .map(|(h, s)| (h.as_str(), s.expose())),
            Some(("x-api-key", KEY))
        );
        assert!(prepared.until <= Instant::now() + Duration::from_secs(5));
        assert!(
            !format!("{:?}", prepared.secret_header).contains(KEY),
            "Debug never shows it"
        );
        let past = Instant::now();
        assert!(matches!(
            outbound.prepare(get("https://api.turnr.se/merchant/return"), past),
            Err(HttpError::Timeout(_))
        ));
        let mut huge = get("https://api.turnr.se/merchant/return");
        huge.method = Method::Post;
        huge.body = vec![b'x'; (1 << 20) + 1];
        assert!(matches!(
            outbound.prepare(huge, later()),
            Err(HttpError::TooLarge(_))
        ));
    }

    #[test]
    fn responses_are_redacted_before_the_guest_sees_them() {
        let outbound = outbound();
        let echoed = Response {
            status: 200,
            headers: vec![Header {
                name: "x-echo".into(),
                value: format!("key={KEY}"),
            }],
            body: format!("{{\"yourKey\":\"{KEY}\"}}").into_bytes(),
        };
        let redacted = outbound.redact(echoed);
        assert!(!String::from_utf8_lossy(&redacted.body).contains(KEY));
        assert!(!redacted.headers[0].value.contains(KEY));
        assert!(
            outbound
                .redact_text(&format!("trap: {KEY}"))
                .contains("[REDACTED]")
        );
    }
}

//! The request rules: what one guest request may be, checked before anything is injected or
//! sent (P1, P3). The granted origin only, no user info, https and a host name in live mode,
//! the manifest's methods, no header the host owns (credentials, framing), the key only through
//! a granted slot and never already in the request, and a capped body. Redirects are never
//! followed (the outbound client sends one request and returns its answer), so a 3xx is data
//! and cannot carry the key elsewhere. Resolved addresses are checked separately, at connect
//! time ([`super::egress`]).

use std::collections::BTreeSet;

use url::Url;

use crate::bindings::http::{HttpError, Request};
use crate::bindings::types::{self, Header, Method};
use crate::keys::{CallKeys, Secret};
use crate::policy::display;
use crate::policy::egress::NetworkPolicy;
use crate::policy::gate::{check_write_headers, is_write, method_name, repeated_json_key};
use crate::policy::grant::{Grant, Origin};

/// Headers only the host (or the HTTP stack) sets.
const HOST_OWNED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// Headers that change what a request means to a server or proxy beyond its method and URL
/// (a method override would turn an approved or read-only request into another one), or that
/// carry someone's session or a proxy's credentials.
const FORBIDDEN_HEADERS: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "cookie",
    "proxy-authorization",
    "forwarded",
    "via",
    "x-real-ip",
];
const FORBIDDEN_HEADER_PREFIXES: &[&str] = &["x-forwarded-", "proxy-"];

/// Caps checked before a request is parsed or recorded.
pub const MAX_URL_BYTES: usize = 8 << 10;
pub const MAX_HEADERS: usize = 32;
pub const MAX_HEADER_BYTES: usize = 8 << 10;

/// The rules of one loaded plugin, from its grant.
#[derive(Debug, Clone)]
pub struct RequestRules {
    pub origin: Origin,
    pub network: NetworkPolicy,
    /// Upper case.
    pub methods: BTreeSet<String>,
    /// Granted slots: (name, header in lower case).
    pub slots: Vec<(String, String)>,
    /// Path prefixes a request's (normalised) path must start with; `None`: any path.
    pub path_prefixes: Option<Vec<String>>,
    pub max_body_bytes: usize,
}

/// A request that passed the rules.
pub struct Checked {
    pub url: Url,
    /// The header and key the host adds, when the request names a granted slot.
    pub credential: Option<(String, Secret)>,
}

impl RequestRules {
    pub fn of(grant: &Grant, max_body_bytes: usize) -> RequestRules {
        RequestRules {
            origin: grant.origin.clone(),
            network: grant.network,
            methods: grant.methods.clone(),
            slots: grant
                .slots
                .iter()
                .map(|slot| (slot.name.clone(), slot.header.to_ascii_lowercase()))
                .collect(),
            path_prefixes: grant.path_prefixes.clone(),
            max_body_bytes,
        }
    }

    /// The length, origin, user info, scheme and IP-literal rules.
    pub fn check_url(&self, raw: &str) -> Result<Url, HttpError> {
        if raw.len() > MAX_URL_BYTES {
            return Err(HttpError::Denied(format!(
                "the URL has {} bytes; the limit is {MAX_URL_BYTES}",
                raw.len()
            )));
        }
        let url = Url::parse(raw)
            .map_err(|error| HttpError::Denied(format!("not a valid absolute URL: {error}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HttpError::Denied(
                "URLs with user info are not allowed".to_string(),
            ));
        }
        if Origin::of(&url).as_ref() != Some(&self.origin) {
            return Err(HttpError::Denied(format!(
                "{} is not an origin this plugin was granted",
                url.origin().ascii_serialization()
            )));
        }
        // The parser has already resolved dot segments (`..`, `%2e%2e`), so a prefix check on
        // the parsed path cannot be walked out of.
        if let Some(prefixes) = &self.path_prefixes
            && !prefixes
                .iter()
                .any(|prefix| url.path().starts_with(prefix.as_str()))
        {
            return Err(HttpError::Denied(format!(
                "the path {} is outside what this plugin was granted",
                crate::policy::display::line(url.path(), 100)
            )));
        }
        let ip_literal = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)));
        match self.network {
            NetworkPolicy::Live if url.scheme() != "https" => Err(HttpError::Denied(
                "live requests must use https".to_string(),
            )),
            NetworkPolicy::Live if ip_literal => Err(HttpError::Denied(
                "live requests must name a host, not an IP address".to_string(),
            )),
            _ => Ok(url),
        }
    }

    /// Every rule on one request, with this call's keys. Returns the credential to add.
    pub fn check(&self, request: &Request, keys: &CallKeys) -> Result<Checked, HttpError> {
        check_header_caps(&request.headers)?;
        let url = self.check_url(&request.url)?;
        let method = method_name(request.method);
        if !self.methods.contains(method) {
            return Err(HttpError::Denied(format!(
                "the plugin was not granted {method} requests"
            )));
        }
        if matches!(request.method, Method::Get | Method::Head) && !request.body.is_empty() {
            return Err(HttpError::Denied(format!(
                "a {method} request may not carry a body"
            )));
        }
        // Before anything is injected: a request that already carries a key (a guess, or a
        // copy the guest got hold of) is refused, so a key cannot be steered anywhere.
        let carried = keys.any_in(request.url.as_bytes())
            || request
                .headers
                .iter()
                .any(|h| keys.any_in(h.name.as_bytes()) || keys.any_in(h.value.as_bytes()))
            || keys.any_in(&request.body);
        if carried {
            return Err(HttpError::Denied(
                "the request already carries the credential; only the host adds it".into(),
            ));
        }
        for header in &request.headers {
            let name = header.name.to_ascii_lowercase();
            if self
                .slots
                .iter()
                .any(|(_, slot_header)| *slot_header == name)
                || name == "authorization"
            {
                return Err(HttpError::Denied(format!(
                    "the plugin may not set the `{}` header; the host adds credentials",
                    header.name
                )));
            }
            let forbidden = HOST_OWNED_HEADERS.contains(&name.as_str())
                || FORBIDDEN_HEADERS.contains(&name.as_str())
                || FORBIDDEN_HEADER_PREFIXES
                    .iter()
                    .any(|prefix| name.starts_with(prefix));
            if forbidden {
                return Err(HttpError::Denied(format!(
                    "the plugin may not set the `{}` header",
                    header.name
                )));
            }
        }
        // A write carries only allow-listed headers: approvals bind method, URL and body, so
        // no header may change what the approved write does (C1, P4).
        if is_write(request.method) {
            check_write_headers(&request.headers).map_err(HttpError::Denied)?;
        }
        if request.body.len() > self.max_body_bytes {
            return Err(HttpError::TooLarge(format!(
                "the request body has {} bytes; the limit is {}",
                request.body.len(),
                self.max_body_bytes
            )));
        }
        let credential = match &request.credential {
            None => None,
            Some(slot) => match (self.slot_header(slot), keys.get(slot)) {
                (Some(header), Some(secret)) => Some((header.to_string(), secret.clone())),
                _ => {
                    return Err(HttpError::Denied(format!(
                        "no credential is configured for slot `{slot}`"
                    )));
                }
            },
        };
        Ok(Checked { url, credential })
    }

    /// Checks a proposed write before the person is asked about it: a change this host would
    /// refuse to send is not worth a question.
    pub fn check_proposed(&self, write: &types::PlannedWrite) -> Result<(), String> {
        if !is_write(write.method) {
            return Err("a proposal may only contain writes".to_string());
        }
        self.check_url(&write.url).map_err(|e| format!("{e:?}"))?;
        let method = method_name(write.method);
        if !self.methods.contains(method) {
            return Err(format!("the plugin was not granted {method} requests"));
        }
        if write.body.len() > self.max_body_bytes {
            return Err("a proposed body is larger than the host's limit".to_string());
        }
        // The person would be shown one of the values and the server could take another (C1).
        if let Some(key) = repeated_json_key(&write.body) {
            return Err(format!(
                "its JSON body names the key \"{}\" twice in one object, so what the person \
                 would be shown and what the server stores could differ",
                display::line(&key, 64)
            ));
        }
        match &write.credential {
            Some(slot) if self.slot_header(slot).is_none() => {
                Err(format!("no credential slot `{slot}` is configured"))
            }
            _ => Ok(()),
        }
    }

    pub fn slot_header(&self, slot: &str) -> Option<&str> {
        self.slots
            .iter()
            .find(|(name, _)| name == slot)
            .map(|(_, header)| header.as_str())
    }
}

/// Header count and total size, checked before anything else looks at them.
fn check_header_caps(headers: &[Header]) -> Result<(), HttpError> {
    if headers.len() > MAX_HEADERS {
        return Err(HttpError::Denied(format!(
            "the request has {} headers; the limit is {MAX_HEADERS}",
            headers.len()
        )));
    }
    let bytes: usize = headers.iter().map(|h| h.name.len() + h.value.len()).sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(HttpError::Denied(format!(
            "the request's headers have {bytes} bytes; the limit is {MAX_HEADER_BYTES}"
        )));
    }
    Ok(())
}

//! Why an exchange gave no HTTP response, and the one mapping of that onto the WIT's
//! `http-error` (contract C3): refused by policy → `denied`; failed before a byte of the
//! request could leave (resolve, connect, TLS, a pooled connection found closed) → `not-sent`;
//! failed after the request may have left (write error, no answer in time, body broken off) →
//! `outcome-unknown`; a cap → `too-large`.

use std::time::Duration;

use tokio_rustls::rustls::{CertificateError, Error as TlsError};

use crate::bindings::http::HttpError;

/// What went wrong, in the phase it went wrong in.
#[derive(Debug)]
pub(super) enum Failure {
    /// The egress policy refused the destination; nothing was connected to.
    Refused(String),
    /// The request cannot be written as HTTP (a header value, say).
    Invalid(String),
    Resolve(String),
    Connect(std::io::Error),
    /// Resolve, connect and TLS did not finish within this time.
    ConnectTimeout(Duration),
    Tls(TlsError),
    TlsIo(std::io::Error),
    /// The connection failed before the request was written to it.
    Unsent(hyper::Error),
    /// The request went out (or may have) and no response head came within this time.
    NoAnswer(Duration),
    /// The exchange failed after the request may have left.
    Exchange(hyper::Error),
    /// The body broke off.
    Body(hyper::Error),
    /// The body did not arrive in full within this time.
    BodyTimeout(Duration),
    /// The body passed this many bytes.
    TooLarge(u64),
}

/// The one place a failure becomes an `http-error`. `host` names the server for a person.
pub(super) fn classify(failure: Failure, host: &str) -> HttpError {
    let not_sent = |what: String| HttpError::NotSent(format!("{what}; nothing was sent"));
    let unknown = |what: String| {
        HttpError::OutcomeUnknown(format!(
            "{what}; the request may have reached {host}, its outcome is unknown"
        ))
    };
    match failure {
        Failure::Refused(why) => HttpError::Denied(why),
        Failure::Invalid(why) => HttpError::Denied(format!("not a valid request: {why}")),
        Failure::Resolve(name) => not_sent(format!("the host name {name} did not resolve")),
        Failure::Connect(error) => not_sent(connect_message(&error, host)),
        Failure::ConnectTimeout(after) => not_sent(format!(
            "could not connect to {host} within {} ms",
            after.as_millis()
        )),
        Failure::Tls(error) => not_sent(tls_message(&error, host)),
        Failure::TlsIo(error) => not_sent(format!("TLS failed with {host}: {error}")),
        Failure::Unsent(error) => not_sent(format!("the connection to {host} failed: {error}")),
        Failure::NoAnswer(after) => unknown(format!(
            "no answer from {host} within {} ms",
            after.as_millis()
        )),
        Failure::Exchange(error) if error.is_parse_too_large() => {
            HttpError::TooLarge(format!("the response headers from {host} are too large"))
        }
        Failure::Exchange(error) if error.is_parse() => {
            unknown(format!("{host} did not answer with valid HTTP: {error}"))
        }
        Failure::Exchange(error) => unknown(format!("the exchange with {host} failed: {error}")),
        Failure::Body(error) => unknown(format!("the response body broke off: {error}")),
        Failure::BodyTimeout(after) => unknown(format!(
            "the response body did not arrive in full within {} ms",
            after.as_millis()
        )),
        Failure::TooLarge(limit) => HttpError::TooLarge(format!(
            "the response body exceeds the host's limit of {limit} bytes"
        )),
    }
}

fn connect_message(error: &std::io::Error, host: &str) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => format!("{host} refused the connection"),
        _ => format!("could not connect to {host}: {error}"),
    }
}

/// Certificate problems in words a person can act on.
fn tls_message(error: &TlsError, host: &str) -> String {
    let TlsError::InvalidCertificate(certificate) = error else {
        return format!("TLS failed with {host}: {error}");
    };
    let problem = match certificate {
        CertificateError::UnknownIssuer => "is not trusted (unknown issuer)".to_string(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "has expired".to_string()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "is not valid yet (check this machine's clock)".to_string()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("is for another name, not {host}")
        }
        CertificateError::Revoked => "has been revoked".to_string(),
        other => format!("was refused ({other})"),
    };
    format!("TLS failed: the certificate of {host} {problem}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_maps_to_its_c3_variant() {
        let host = "api.example";
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(
            classify(Failure::Refused("metadata".into()), host),
            HttpError::Denied(_)
        ));
        for failure in [
            Failure::Resolve(host.into()),
            Failure::Connect(refused),
            Failure::ConnectTimeout(Duration::from_secs(3)),
            Failure::Tls(TlsError::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        ] {
            assert!(
                matches!(classify(failure, host), HttpError::NotSent(m) if m.ends_with("nothing was sent"))
            );
        }
        for failure in [
            Failure::NoAnswer(Duration::from_secs(2)),
            Failure::BodyTimeout(Duration::from_secs(2)),
        ] {
            assert!(matches!(
                classify(failure, host),
                HttpError::OutcomeUnknown(m) if m.contains("outcome is unknown")
            ));
        }
        assert!(matches!(
            classify(Failure::TooLarge(5), host),
            HttpError::TooLarge(_)
        ));
    }

    #[test]
    fn certificate_errors_say_what_is_wrong() {
        let cases = [
            (
                CertificateError::UnknownIssuer,
                "not trusted (unknown issuer)",
            ),
            (CertificateError::Expired, "has expired"),
            (CertificateError::NotValidForName, "is for another name"),
        ];
        for (error, words) in cases {
            let message = tls_message(&TlsError::InvalidCertificate(error), "api.example");
            assert!(
                message.starts_with("TLS failed: the certificate of api.example ")
                    && message.contains(words),
                "{message}"
            );
        }
    }
}

//! The client against servers started here on 127.0.0.1 (contract C10): TLS with a root made
//! at test time, certificate errors, a body trickled past the deadline, keep-alive reuse and
//! the caps on what a server sends back.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ServerConfig, crypto::ring};

use super::*;
use crate::bindings::types::Method;
use crate::policy::egress::NetworkPolicy;
use crate::policy::gate::WriteGate;
use crate::policy::grant::Origin;

fn rules(scheme: &str, host: &str, port: u16) -> RequestRules {
    RequestRules {
        origin: Origin {
            scheme: scheme.into(),
            host: host.into(),
            port,
        },
        network: NetworkPolicy::LoopbackOnly,
        methods: ["GET".to_string()].into(),
        slots: Vec::new(),
        path_prefixes: None,
        max_body_bytes: 1024,
    }
}

/// `localhost` is looked up in a table, never in DNS.
fn stub() -> StubLookup {
    Arc::new(HashMap::from([(
        "localhost".to_string(),
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    )]))
}

fn get(url: &str) -> Request {
    Request {
        method: Method::Get,
        url: url.into(),
        headers: Vec::new(),
        body: Vec::new(),
        credential: None,
        timeout_ms: None,
    }
}

async fn send(
    config: &Arc<OutboundConfig>,
    url: &str,
    deadline: Instant,
) -> Result<Response, HttpError> {
    let mut outbound = Outbound::new(config.clone(), CallKeys::default(), WriteGate::ReadOnly);
    outbound.send(get(url), deadline).await.0
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

// ---------- TLS ----------

/// A test CA, and a leaf for `name` it signed (expired if asked): (root, leaf, leaf key).
fn certificates(
    name: &str,
    expired: bool,
) -> (
    CertificateDer<'static>,
    CertificateDer<'static>,
    PrivateKeyDer<'static>,
) {
    let made = || -> Result<_, rcgen::Error> {
        let mut ca = CertificateParams::new(Vec::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
        let mut leaf = CertificateParams::new(vec![name.to_string()])?;
        if expired {
            leaf.not_before = time::macros::datetime!(2020-01-01 0:00 UTC);
            leaf.not_after = time::macros::datetime!(2021-01-01 0:00 UTC);
        }
        let key = KeyPair::generate()?;
        let cert = leaf.signed_by(&key, &ca)?;
        Ok((ca.der().clone(), cert.der().clone(), key.serialize_der()))
    };
    let (root, leaf, key) = made().unwrap_or_else(|e| panic!("test certificates: {e}"));
    (
        root,
        leaf,
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    )
}

/// A TLS server on 127.0.0.1 answering every request `200 ok`. Returns its port.
async fn start_tls_server(leaf: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> u16 {
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(vec![leaf], key)
        })
        .unwrap_or_else(|e| panic!("server TLS config: {e}"));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    while read_head(&mut tls).await.is_some() {
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if tls.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_tls_server_is_reached_with_its_root_and_refused_as_untrusted_without_it() {
    let (root, leaf, key) = certificates("localhost", false);
    let port = start_tls_server(leaf, key).await;
    let url = format!("https://localhost:{port}/");
    let rules = rules("https", "localhost", port);
    let trusted = Arc::new(OutboundConfig::with_roots(
        rules.clone(),
        HttpLimits::default(),
        Some(stub()),
        vec![root.clone()],
    ));
    let answered = send(&trusted, &url, soon()).await;
    assert!(
        matches!(&answered, Ok(r) if r.status == 200 && r.body == b"ok"),
        "{answered:?}"
    );
    // The live policy refuses the loopback address before connecting, root or not.
    let live_rules = RequestRules {
        network: NetworkPolicy::Live,
        ..rules.clone()
    };
    let live = Arc::new(OutboundConfig::with_roots(
        live_rules,
        HttpLimits::default(),
        Some(stub()),
        vec![root],
    ));
    let refused = send(&live, &url, soon()).await;
    assert!(
        matches!(&refused, Err(HttpError::Denied(m)) if m.contains("loopback")),
        "{refused:?}"
    );
    // The production trust (the web PKI) does not know the test root.
    let production = Arc::new(OutboundConfig::new(
        rules,
        HttpLimits::default(),
        Some(stub()),
    ));
    let refused = send(&production, &url, soon()).await;
    assert!(
        matches!(&refused, Err(HttpError::NotSent(m)) if m
            == "TLS failed: the certificate of localhost is not trusted (unknown issuer); nothing was sent"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_expired_certificate_or_one_for_another_name_is_refused_before_sending() {
    for (name, expired, words) in [
        ("localhost", true, "has expired"),
        ("other.test", false, "is for another name"),
    ] {
        let (root, leaf, key) = certificates(name, expired);
        let port = start_tls_server(leaf, key).await;
        let config = Arc::new(OutboundConfig::with_roots(
            rules("https", "localhost", port),
            HttpLimits::default(),
            Some(stub()),
            vec![root],
        ));
        let refused = send(&config, &format!("https://localhost:{port}/"), soon()).await;
        assert!(
            matches!(&refused, Err(HttpError::NotSent(m)) if m.contains(words)),
            "{name}: {refused:?}"
        );
    }
}

// ---------- deadlines, reuse, caps ----------

/// Reads one request head (requests here have no body); `None` at the end of the stream.
async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// What the plain server does with the n-th connection.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Sends a head, then one body byte every 200 ms, forever.
    Trickle,
    /// Answers every request with these bytes, keeping the connection.
    Answer(&'static [u8]),
}

struct PlainServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    /// Set when a trickled connection was closed by the client.
    trickle_closed: Arc<AtomicBool>,
    /// The request heads received.
    heads: Arc<std::sync::Mutex<Vec<String>>>,
}

async fn start_plain_server(
    behaviour: impl Fn(usize) -> Behaviour + Send + 'static,
) -> PlainServer {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let connections = Arc::new(AtomicUsize::new(0));
    let trickle_closed = Arc::new(AtomicBool::new(false));
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (count, closed, seen) = (connections.clone(), trickle_closed.clone(), heads.clone());
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let behaviour = behaviour(count.fetch_add(1, Ordering::SeqCst));
            let (closed, seen) = (closed.clone(), seen.clone());
            tokio::spawn(async move {
                match behaviour {
                    Behaviour::Trickle => {
                        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n";
                        if read_head(&mut tcp).await.is_none() || tcp.write_all(head).await.is_err()
                        {
                            return;
                        }
                        loop {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            if tcp.write_all(b"x").await.is_err() {
                                closed.store(true, Ordering::SeqCst);
                                return;
                            }
                        }
                    }
                    Behaviour::Answer(answer) => {
                        while let Some(head) = read_head(&mut tcp).await {
                            seen.lock().unwrap_or_else(|p| p.into_inner()).push(head);
                            if tcp.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    PlainServer {
        port,
        connections,
        trickle_closed,
        heads,
    }
}

fn plain_config(port: u16, limits: HttpLimits) -> Arc<OutboundConfig> {
    Arc::new(OutboundConfig::new(
        rules("http", "127.0.0.1", port),
        limits,
        None,
    ))
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

#[tokio::test]
async fn a_trickled_body_is_cut_at_the_deadline_its_connection_dropped_and_the_next_request_works()
{
    let server = start_plain_server(|n| {
        if n == 0 {
            Behaviour::Trickle
        } else {
            Behaviour::Answer(OK)
        }
    })
    .await;
    let config = plain_config(server.port, HttpLimits::default());
    let url = format!("http://127.0.0.1:{}/", server.port);
    let started = Instant::now();
    let cut = send(&config, &url, started + Duration::from_secs(2)).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(&cut, Err(HttpError::OutcomeUnknown(m)) if m.contains("did not arrive in full")),
        "{cut:?}"
    );
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(2200),
        "{elapsed:?}"
    );
    eprintln!("trickled request cut after {elapsed:?}");
    // The trickling connection was closed, not left to run.
    let waited = Instant::now();
    while !server.trickle_closed.load(Ordering::SeqCst) && waited.elapsed() < Duration::from_secs(2)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.trickle_closed.load(Ordering::SeqCst));
    // The next requests work, on one new connection kept alive between them.
    for _ in 0..2 {
        let answered = send(&config, &url, soon()).await;
        assert!(
            matches!(&answered, Ok(r) if r.status == 200),
            "{answered:?}"
        );
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn no_answer_before_the_first_byte_timeout_is_outcome_unknown() {
    // Reads the request, never answers.
    let server = start_plain_server(|_| Behaviour::Answer(b"")).await;
    let limits = HttpLimits {
        first_byte_timeout: Some(Duration::from_millis(300)),
        ..HttpLimits::default()
    };
    let config = plain_config(server.port, limits);
    let started = Instant::now();
    let silent = send(
        &config,
        &format!("http://127.0.0.1:{}/", server.port),
        soon(),
    )
    .await;
    assert!(
        matches!(&silent, Err(HttpError::OutcomeUnknown(m)) if m.contains("no answer")),
        "{silent:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn redirects_are_data_and_oversized_answers_are_too_large() {
    let redirect: &[u8] =
        b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\n\r\n";
    let server = start_plain_server(move |_| Behaviour::Answer(redirect)).await;
    let config = plain_config(server.port, HttpLimits::default());
    let answered = send(
        &config,
        &format!("http://127.0.0.1:{}/", server.port),
        soon(),
    )
    .await;
    assert!(
        matches!(&answered, Ok(r) if r.status == 302
            && r.headers.iter().any(|h| h.name == "location")),
        "{answered:?}"
    );
    let heads = server
        .heads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let expected = [
        format!("host: 127.0.0.1:{}\r\n", server.port),
        concat!("user-agent: dema-host/", env!("CARGO_PKG_VERSION"), "\r\n").to_string(),
    ];
    assert!(
        heads.len() == 1 && expected.iter().all(|line| heads[0].contains(line.as_str())),
        "{heads:?}"
    );

    let big_body: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world";
    let big_head: &'static [u8] = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nx-filler: {}\r\ncontent-length: 0\r\n\r\n",
            "a".repeat(70 << 10)
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    for (answer, limits) in [
        (
            big_body,
            HttpLimits {
                max_response_body_bytes: 10,
                ..HttpLimits::default()
            },
        ),
        (big_head, HttpLimits::default()),
    ] {
        let server = start_plain_server(move |_| Behaviour::Answer(answer)).await;
        let config = plain_config(server.port, limits);
        let refused = send(
            &config,
            &format!("http://127.0.0.1:{}/", server.port),
            soon(),
        )
        .await;
        assert!(
            matches!(&refused, Err(HttpError::TooLarge(_))),
            "{refused:?}"
        );
    }
}

//! Opening a connection: resolve through the egress policy (every address checked before any
//! connect), TCP, TLS for https (rustls with ring, `webpki-roots` anchors), then an HTTP/1.1
//! handshake. The connection's task lives exactly as long as its [`Conn`]: dropping a `Conn`
//! (a request cancelled by the call's deadline) closes the socket.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::failure::Failure;
use crate::policy::egress::{NetworkPolicy, PolicyResolver, ResolveError};

/// Where a connection goes: scheme, host, port (the pool's key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Origin {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(url: &url::Url) -> Result<Origin, Failure> {
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(Failure::Refused(format!("the scheme {other} is not HTTP"))),
        };
        let host = url
            .host_str()
            .ok_or_else(|| Failure::Refused("the URL has no host".to_string()))?;
        Ok(Origin {
            https,
            host: host.to_string(),
            port: url
                .port_or_known_default()
                .unwrap_or(if https { 443 } else { 80 }),
        })
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    pub fn authority(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One open HTTP/1.1 connection.
pub(super) struct Conn {
    pub sender: SendRequest<Full<Bytes>>,
    pub idle_since: Instant,
    _task: AbortOnDrop,
}

/// Ends the connection's task (and so closes its socket) when the `Conn` goes.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Which certificates are trusted.
pub(super) enum Trust {
    /// The public web PKI, from `webpki-roots`.
    WebPki,
    /// Exactly these roots (tests: a root made at test time).
    #[cfg(test)]
    Only(Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>),
}

pub(super) struct Connector {
    network: NetworkPolicy,
    resolver: PolicyResolver,
    /// An error here is reported on the first https request, never a panic.
    tls: Result<TlsConnector, String>,
    max_header_bytes: usize,
}

impl Connector {
    pub fn new(
        network: NetworkPolicy,
        resolver: PolicyResolver,
        trust: Trust,
        max_header_bytes: usize,
    ) -> Self {
        let roots = match trust {
            Trust::WebPki => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            #[cfg(test)]
            Trust::Only(certificates) => {
                let mut roots = RootCertStore::empty();
                roots.add_parsable_certificates(certificates);
                roots
            }
        };
        Connector {
            network,
            resolver,
            tls: tls_config(roots).map(TlsConnector::from),
            max_header_bytes,
        }
    }

    /// Resolve, check, connect, TLS, handshake. Nothing of the request has been written yet,
    /// so every failure here is `not-sent` (or `denied` by policy).
    pub async fn connect(&self, origin: &Origin) -> Result<Conn, Failure> {
        if self.network == NetworkPolicy::Live && !origin.https {
            return Err(Failure::Refused("live requests must use https".to_string()));
        }
        let addrs = self
            .resolver
            .resolve(&origin.host, origin.port)
            .await
            .map_err(|error| match error {
                ResolveError::NotFound(name) => Failure::Resolve(name),
                ResolveError::Refused(why) => Failure::Refused(why),
            })?;
        let mut last_error = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(error) => last_error = Some(error),
            }
        }
        let tcp = match (tcp, last_error) {
            (Some(stream), _) => stream,
            (None, Some(error)) => return Err(Failure::Connect(error)),
            (None, None) => return Err(Failure::Resolve(origin.host.clone())),
        };
        // Requests are written whole; no reason to wait for more.
        let _ = tcp.set_nodelay(true);
        if !origin.https {
            return self.handshake(tcp).await;
        }
        let tls = self.tls.as_ref().map_err(|why| {
            Failure::TlsIo(std::io::Error::other(format!("TLS is not set up: {why}")))
        })?;
        let name = ServerName::try_from(origin.host.clone()).map_err(|_| {
            Failure::Refused(format!("{} is not a valid TLS server name", origin.host))
        })?;
        let stream = tls.connect(name, tcp).await.map_err(|error| {
            match error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<tokio_rustls::rustls::Error>())
            {
                Some(tls_error) => Failure::Tls(tls_error.clone()),
                None => Failure::TlsIo(error),
            }
        })?;
        self.handshake(stream).await
    }

    async fn handshake<T>(&self, io: T) -> Result<Conn, Failure>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, connection) = http1::Builder::new()
            .max_header_size(self.max_header_bytes)
            .handshake(TokioIo::new(io))
            .await
            .map_err(Failure::Unsent)?;
        let task = tokio::spawn(async move {
            // Its error, if any, reaches the request through the sender.
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            idle_since: Instant::now(),
            _task: AbortOnDrop(task.abort_handle()),
        })
    }
}

/// TLS 1.2 and 1.3 with the ring provider (no process-wide default is relied on), HTTP/1.1.
fn tls_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

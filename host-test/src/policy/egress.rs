//! Egress rules that depend on where a name points, checked on the resolved addresses (the
//! Spin approach): in live mode every address must be public (no private, loopback,
//! link-local/metadata, CGNAT or unique-local ranges), and under the development policy every
//! address must be loopback. A name that resolves to any refused address is refused whole, so a
//! mixed answer cannot smuggle a private address in. Tests inject a stub lookup (contract C10),
//! so a policy test never needs real DNS or a packet off the machine.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Which addresses requests may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkPolicy {
    /// Ingrid production: https, a host name (no IP literal), public addresses only.
    Live,
    /// Development: plain http allowed, loopback addresses only (the simulator).
    LoopbackOnly,
}

impl NetworkPolicy {
    pub fn admits(self, ip: IpAddr) -> bool {
        match self {
            NetworkPolicy::Live => is_public(ip),
            NetworkPolicy::LoopbackOnly => ip.is_loopback(),
        }
    }
}

/// Why a name gave no address to connect to.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0} did not resolve")]
    NotFound(String),
    /// The policy refused an address the name points at: nothing is connected to.
    #[error("{0}")]
    Refused(String),
}

/// At most this many addresses are tried.
const MAX_RESOLVED: usize = 16;

/// A fixed name → addresses table used instead of DNS in tests.
pub type StubLookup = Arc<HashMap<String, Vec<IpAddr>>>;

/// Resolves a host name and applies the policy to every address before anything connects.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: NetworkPolicy,
    stub: Option<StubLookup>,
}

impl PolicyResolver {
    pub fn new(policy: NetworkPolicy, stub: Option<StubLookup>) -> Self {
        PolicyResolver { policy, stub }
    }

    async fn lookup(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let not_found = || ResolveError::NotFound(host.to_string());
        match &self.stub {
            Some(table) => table
                .get(&host.to_ascii_lowercase())
                .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
                .ok_or_else(not_found),
            None => tokio::net::lookup_host((host, port))
                .await
                .map(Iterator::collect)
                .map_err(|_| not_found()),
        }
    }

    /// The addresses of `host` the policy admits; a name with any refused address is refused
    /// whole.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let mut addrs = self.lookup(host, port).await?;
        if addrs.is_empty() {
            return Err(ResolveError::NotFound(host.to_string()));
        }
        if let Some(refused) = addrs.iter().find(|addr| !self.policy.admits(addr.ip())) {
            let why = match self.policy {
                NetworkPolicy::Live => {
                    "a private, loopback, link-local or otherwise non-public address"
                }
                NetworkPolicy::LoopbackOnly => "an address that is not loopback",
            };
            return Err(ResolveError::Refused(format!(
                "{host} resolves to {why} ({})",
                refused.ip()
            )));
        }
        addrs.truncate(MAX_RESOLVED);
        Ok(addrs)
    }
}

/// Public unicast addresses only.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local() // 169.254.0.0/16, cloud metadata included
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = private.parse().unwrap_or_else(|e| panic!("{private}: {e}"));
            assert!(!is_public(ip), "{private}");
        }
        for public in ["8.8.8.8", "2a00:1450::1", "151.101.1.1"] {
            let ip: IpAddr = public.parse().unwrap_or_else(|e| panic!("{public}: {e}"));
            assert!(is_public(ip), "{public}");
        }
    }

    #[tokio::test]
    async fn a_name_pointing_at_a_private_address_is_refused_before_any_connect() {
        let table: StubLookup = Arc::new(HashMap::from([
            (
                "api.turnr.se".to_string(),
                vec!["10.1.2.3".parse().unwrap_or(IpAddr::from([10, 1, 2, 3]))],
            ),
            (
                "mixed.example".to_string(),
                vec![
                    IpAddr::from([151, 101, 1, 1]),
                    IpAddr::from([169, 254, 169, 254]),
                ],
            ),
            (
                "public.example".to_string(),
                vec![IpAddr::from([151, 101, 1, 1])],
            ),
        ]));
        let resolver = PolicyResolver::new(NetworkPolicy::Live, Some(table.clone()));
        for name in ["api.turnr.se", "mixed.example"] {
            assert!(
                matches!(
                    resolver.resolve(name, 443).await,
                    Err(ResolveError::Refused(_))
                ),
                "{name}"
            );
        }
        assert!(resolver.resolve("public.example", 443).await.is_ok());
        assert!(matches!(
            resolver.resolve("unknown.example", 443).await,
            Err(ResolveError::NotFound(_))
        ));
        let development = PolicyResolver::new(NetworkPolicy::LoopbackOnly, Some(table));
        assert!(matches!(
            development.resolve("public.example", 443).await,
            Err(ResolveError::Refused(_))
        ));
        assert!(NetworkPolicy::LoopbackOnly.admits(IpAddr::from([127, 0, 0, 2])));
        assert!(!NetworkPolicy::LoopbackOnly.admits(IpAddr::from([151, 101, 1, 1])));
    }
}

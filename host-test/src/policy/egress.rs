//! Egress rules that depend on where a name points, checked on the resolved addresses (the
//! Spin approach): in live mode every address must be public (no private, loopback,
//! link-local/metadata, CGNAT or unique-local ranges), and under the development policy every
//! address must be loopback. A name that resolves to any refused address is refused whole, so a
//! mixed answer cannot smuggle a private address in. Tests inject a stub lookup (contract C10),
//! so a policy test never needs real DNS or a packet off the machine.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

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

/// The refusal carried through ureq's error back to the `http` import.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EgressRefused(pub String);

/// ureq keeps at most this many addresses.
const MAX_RESOLVED: usize = 16;

/// A fixed name → addresses table used instead of DNS in tests.
pub type StubLookup = Arc<HashMap<String, Vec<IpAddr>>>;

#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: NetworkPolicy,
    stub: Option<StubLookup>,
}

impl PolicyResolver {
    pub fn new(policy: NetworkPolicy, stub: Option<StubLookup>) -> Self {
        PolicyResolver { policy, stub }
    }

    fn lookup(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ureq::Error> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        match &self.stub {
            Some(table) => table
                .get(&host.to_ascii_lowercase())
                .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
                .ok_or(ureq::Error::HostNotFound),
            None => (host, port)
                .to_socket_addrs()
                .map(Iterator::collect)
                .map_err(|_| ureq::Error::HostNotFound),
        }
    }
}

impl Resolver for PolicyResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("http") {
                80
            } else {
                443
            });
        let addrs = self.lookup(host, port)?;
        if addrs.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        if let Some(refused) = addrs.iter().find(|addr| !self.policy.admits(addr.ip())) {
            let why = match self.policy {
                NetworkPolicy::Live => {
                    "a private, loopback, link-local or otherwise non-public address"
                }
                NetworkPolicy::LoopbackOnly => "an address that is not loopback",
            };
            return Err(ureq::Error::Other(Box::new(EgressRefused(format!(
                "{host} resolves to {why} ({})",
                refused.ip()
            )))));
        }
        let mut resolved = self.empty();
        for addr in addrs.into_iter().take(MAX_RESOLVED) {
            resolved.push(addr);
        }
        Ok(resolved)
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

    #[test]
    fn a_name_pointing_at_a_private_address_is_refused_before_any_connect() {
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
        ]));
        let resolver = PolicyResolver::new(NetworkPolicy::Live, Some(table));
        for name in ["api.turnr.se", "mixed.example"] {
            match resolver.lookup(name, 443).map(|addrs| {
                addrs
                    .iter()
                    .all(|addr| NetworkPolicy::Live.admits(addr.ip()))
            }) {
                Ok(all_public) => assert!(!all_public, "{name}"),
                Err(error) => panic!("{name}: {error}"),
            }
        }
        assert!(NetworkPolicy::LoopbackOnly.admits(IpAddr::from([127, 0, 0, 2])));
        assert!(!NetworkPolicy::LoopbackOnly.admits(IpAddr::from([151, 101, 1, 1])));
    }
}

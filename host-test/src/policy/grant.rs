//! The grant: what one loaded plugin may reach, and with which credential slots, derived from its
//! manifest, the operator's install record and the target (contract C8). Nothing here knows a
//! particular plugin: the base URL is the world's `base-url` setting (default from the
//! manifest's `settings`), and the slots and their headers are the manifest's.

use std::collections::BTreeSet;
use std::net::IpAddr;

use url::Url;

use crate::manifest::{CredentialSlot, EgressRule, Manifest};
use crate::policy::egress::NetworkPolicy;
use crate::policy::install::InstallRecord;

/// The setting through which the host tells a plugin where its service is (the world's
/// convention, `wit/integration.wit`).
pub const BASE_URL_SETTING: &str = "base-url";

/// The one origin (scheme, host, port) a plugin's requests may go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(url: &Url) -> Option<Origin> {
        Some(Origin {
            scheme: url.scheme().to_string(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    fn matches(&self, rule: &EgressRule) -> bool {
        rule.scheme.eq_ignore_ascii_case(&self.scheme)
            && rule.host.eq_ignore_ascii_case(&self.host)
            && rule.port == self.port
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Where the plugin's requests go, as the operator chose it.
#[derive(Debug, Clone)]
pub enum Reach {
    /// The plugin's service over TLS: `base_url`, else the manifest's default `base-url`.
    Live { base_url: Option<String> },
    /// A development server on loopback standing in for every host the manifest declares.
    Development { base_url: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrantError {
    #[error(
        "a development target must be an http URL of a server on this machine (e.g. http://127.0.0.1:8080), not {0:?}"
    )]
    NotLoopback(String),
    #[error("the base URL {0:?} is not an absolute URL with a host")]
    BadBaseUrl(String),
    #[error("the plugin's manifest declares no `base-url` default; set the base URL")]
    NoBaseUrl,
    #[error("the plugin's manifest does not grant {0}")]
    NotGranted(String),
    #[error("the operator's install record does not grant {0}")]
    NotInstalled(String),
}

/// What one loaded plugin may reach.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The value of the `base-url` setting the plugin is given.
    pub base_url: String,
    pub origin: Origin,
    pub network: NetworkPolicy,
    /// Methods (upper case) the manifest grants at the origin.
    pub methods: BTreeSet<String>,
    /// Slots whose key may be injected at the origin.
    pub slots: Vec<CredentialSlot>,
    /// Path prefixes requests are scoped to; `None` when a granting rule has no scope.
    pub path_prefixes: Option<Vec<String>>,
}

impl Grant {
    /// Derives the grant. `installed` is the operator's record for this plugin, when there is
    /// one: live origins and slots must be in it as well as in the manifest.
    pub fn derive(
        manifest: &Manifest,
        installed: Option<&InstallRecord>,
        reach: &Reach,
    ) -> Result<Grant, GrantError> {
        match reach {
            Reach::Live { base_url } => Grant::live(manifest, installed, base_url.as_deref()),
            Reach::Development { base_url } => Grant::development(manifest, base_url),
        }
    }

    fn live(
        manifest: &Manifest,
        installed: Option<&InstallRecord>,
        base_url: Option<&str>,
    ) -> Result<Grant, GrantError> {
        let base_url = match base_url {
            Some(url) => url.to_string(),
            None => manifest
                .settings
                .iter()
                .find(|s| s.name == BASE_URL_SETTING)
                .and_then(|s| s.default.clone())
                .ok_or(GrantError::NoBaseUrl)?,
        };
        let base_url = base_url.trim_end_matches('/').to_string();
        let parsed = Url::parse(&base_url).map_err(|_| GrantError::BadBaseUrl(base_url.clone()))?;
        let origin = Origin::of(&parsed).ok_or_else(|| GrantError::BadBaseUrl(base_url.clone()))?;
        let rules: Vec<&EgressRule> = manifest
            .egress
            .iter()
            .filter(|rule| origin.matches(rule))
            .collect();
        if rules.is_empty() {
            return Err(GrantError::NotGranted(origin.to_string()));
        }
        if let Some(record) = installed
            && !record.hosts.contains(&origin.to_string())
        {
            return Err(GrantError::NotInstalled(origin.to_string()));
        }
        let slots = manifest
            .credential_slots
            .iter()
            .filter(|slot| {
                slot.hosts
                    .iter()
                    .any(|host| host.eq_ignore_ascii_case(&origin.host))
            })
            .filter(|slot| installed.is_none_or(|record| record.slots.contains(&slot.name)))
            .cloned()
            .collect();
        Ok(Grant {
            base_url,
            path_prefixes: path_prefixes_of(rules.iter().copied()),
            methods: methods_of(rules),
            origin,
            network: NetworkPolicy::Live,
            slots,
        })
    }

    /// Development: plain http, loopback only; the server stands in for the declared hosts,
    /// with their methods and slots.
    fn development(manifest: &Manifest, base_url: &str) -> Result<Grant, GrantError> {
        let bad = || GrantError::NotLoopback(base_url.to_string());
        let parsed = Url::parse(base_url).map_err(|_| bad())?;
        if parsed.scheme() != "http" || !parsed.path().trim_end_matches('/').is_empty() {
            return Err(bad());
        }
        let loopback = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        let origin = Origin::of(&parsed).filter(|_| loopback).ok_or_else(bad)?;
        Ok(Grant {
            base_url: base_url.trim_end_matches('/').to_string(),
            origin,
            network: NetworkPolicy::LoopbackOnly,
            methods: methods_of(manifest.egress.iter()),
            slots: manifest.credential_slots.clone(),
            path_prefixes: path_prefixes_of(manifest.egress.iter()),
        })
    }

    /// The settings every call's context carries.
    pub fn settings(&self) -> Vec<(String, String)> {
        vec![(BASE_URL_SETTING.to_string(), self.base_url.clone())]
    }
}

/// The union of the rules' path scopes; unscoped when any rule is.
fn path_prefixes_of<'a>(rules: impl IntoIterator<Item = &'a EgressRule>) -> Option<Vec<String>> {
    rules
        .into_iter()
        .map(|rule| rule.path_prefix.clone())
        .collect::<Option<Vec<String>>>()
}

fn methods_of<'a>(rules: impl IntoIterator<Item = &'a EgressRule>) -> BTreeSet<String> {
    rules
        .into_iter()
        .flat_map(|rule| rule.methods.iter().map(|m| m.to_ascii_uppercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Setting;

    /// A plugin that is not Ingrid: its own slot, header, hosts and default base.
    fn acme() -> Manifest {
        Manifest {
            manifest_version: 1,
            id: "acme-orders".into(),
            name: None,
            service: None,
            version: "1.0.0".into(),
            wit_version: "0.1.0".into(),
            credential_slots: vec![CredentialSlot {
                name: "acme-token".into(),
                header: "X-Acme-Token".into(),
                hosts: vec!["api.acme.test".into(), "eu.acme.test".into()],
                description: String::new(),
            }],
            egress: vec![
                EgressRule {
                    scheme: "https".into(),
                    host: "api.acme.test".into(),
                    port: 443,
                    methods: vec!["get".into()],
                    path_prefix: Some("/v1/".into()),
                },
                EgressRule {
                    scheme: "https".into(),
                    host: "eu.acme.test".into(),
                    port: 443,
                    methods: vec!["GET".into(), "POST".into()],
                    path_prefix: None,
                },
            ],
            settings: vec![Setting {
                name: BASE_URL_SETTING.into(),
                default: Some("https://api.acme.test/".into()),
            }],
            tools: Vec::new(),
        }
    }

    #[test]
    fn live_defaults_to_the_manifests_base_with_its_own_slot() {
        let grant = Grant::derive(&acme(), None, &Reach::Live { base_url: None });
        let Ok(grant) = grant else {
            panic!("{grant:?}")
        };
        assert_eq!(grant.base_url, "https://api.acme.test");
        assert_eq!(grant.origin.to_string(), "https://api.acme.test:443");
        assert_eq!(grant.network, NetworkPolicy::Live);
        assert_eq!(grant.methods, BTreeSet::from(["GET".to_string()]));
        assert_eq!(grant.slots.len(), 1);
        assert_eq!(grant.slots[0].header, "X-Acme-Token");
        assert_eq!(grant.path_prefixes, Some(vec!["/v1/".to_string()]));
    }

    #[test]
    fn an_operator_may_choose_another_granted_base_but_no_other() {
        let other = Reach::Live {
            base_url: Some("https://eu.acme.test".into()),
        };
        let grant = Grant::derive(&acme(), None, &other);
        assert!(
            grant.as_ref().is_ok_and(|g| g.methods.contains("POST")),
            "{grant:?}"
        );
        for url in [
            "https://evil.test",
            "http://api.acme.test",
            "https://api.acme.test:8443",
        ] {
            let reach = Reach::Live {
                base_url: Some(url.into()),
            };
            assert!(
                matches!(
                    Grant::derive(&acme(), None, &reach),
                    Err(GrantError::NotGranted(_))
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn the_install_record_bounds_live_origins_and_slots() {
        let manifest = acme();
        let mut record = InstallRecord::of(&manifest, "digest");
        record.hosts.remove("https://eu.acme.test:443");
        let eu = Reach::Live {
            base_url: Some("https://eu.acme.test".into()),
        };
        assert!(matches!(
            Grant::derive(&manifest, Some(&record), &eu),
            Err(GrantError::NotInstalled(_))
        ));
        record.slots.clear();
        let grant = Grant::derive(&manifest, Some(&record), &Reach::Live { base_url: None });
        assert!(grant.is_ok_and(|g| g.slots.is_empty()), "no slot, no key");
    }

    #[test]
    fn development_targets_are_loopback_http_only() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:9",
            "http://[::1]:80/",
        ] {
            let reach = Reach::Development {
                base_url: url.into(),
            };
            let grant = Grant::derive(&acme(), None, &reach);
            assert!(
                grant.is_ok_and(|g| g.network == NetworkPolicy::LoopbackOnly
                    && g.methods.len() == 2
                    && g.slots.len() == 1),
                "{url}"
            );
        }
        for url in [
            "https://127.0.0.1:8080",
            "http://10.0.0.1",
            "http://example.test",
            "http://127.0.0.1/api",
            "nonsense",
        ] {
            let reach = Reach::Development {
                base_url: url.into(),
            };
            assert!(
                matches!(
                    Grant::derive(&acme(), None, &reach),
                    Err(GrantError::NotLoopback(_))
                ),
                "{url}"
            );
        }
    }
}

//! The operator's install record (contract C8). What the host trusts is what the operator
//! installed: the plugin's digest, the hosts it may reach, its credential slots and each tool's
//! effect. A new plugin, or an update that widens any of those (a new host, a new slot, a new
//! write tool, a read tool turned write), needs the operator's consent; an update that widens
//! nothing is recorded without asking. The file is private (0600), written atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::manifest::{Effect, Manifest};
use crate::private_file::write_private_atomically;

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("the install record {path} is not valid: {reason}")]
    Invalid { path: String, reason: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// What the operator granted one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallRecord {
    pub digest: String,
    pub version: String,
    pub hosts: BTreeSet<String>,
    pub slots: BTreeSet<String>,
    pub effects: BTreeMap<String, Effect>,
    /// `METHOD origin path-scope` for each method an egress rule grants.
    #[serde(default)]
    pub methods: BTreeSet<String>,
    /// The header each slot's key is sent in.
    #[serde(default)]
    pub slot_headers: BTreeMap<String, String>,
}

impl InstallRecord {
    pub fn of(manifest: &Manifest, digest: &str) -> InstallRecord {
        let mut hosts: BTreeSet<String> = manifest
            .egress
            .iter()
            .map(|rule| format!("{}://{}:{}", rule.scheme, rule.host, rule.port))
            .collect();
        for slot in &manifest.credential_slots {
            hosts.extend(
                slot.hosts
                    .iter()
                    .map(|host| format!("slot {}: {host}", slot.name)),
            );
        }
        InstallRecord {
            digest: digest.to_string(),
            version: manifest.version.clone(),
            hosts,
            slots: manifest
                .credential_slots
                .iter()
                .map(|s| s.name.clone())
                .collect(),
            effects: manifest
                .tools
                .iter()
                .map(|tool| (tool.name.clone(), tool.effect))
                .collect(),
            methods: manifest
                .egress
                .iter()
                .flat_map(|rule| {
                    rule.methods.iter().map(move |method| {
                        format!(
                            "{} {}://{}:{}{}",
                            method.to_ascii_uppercase(),
                            rule.scheme,
                            rule.host,
                            rule.port,
                            rule.path_prefix.as_deref().unwrap_or("/")
                        )
                    })
                })
                .collect(),
            slot_headers: manifest
                .credential_slots
                .iter()
                .map(|slot| (slot.name.clone(), slot.header.to_ascii_lowercase()))
                .collect(),
        }
    }

    /// What `self` (the new plugin) has that `installed` did not grant.
    pub fn widening_over(&self, installed: &InstallRecord) -> Vec<String> {
        let mut widened = Vec::new();
        for host in self.hosts.difference(&installed.hosts) {
            widened.push(format!("reach {host}"));
        }
        for slot in self.slots.difference(&installed.slots) {
            widened.push(format!("use the credential slot `{slot}`"));
        }
        for (tool, effect) in &self.effects {
            if *effect == Effect::Write && installed.effects.get(tool) != Some(&Effect::Write) {
                widened.push(format!("change data with the tool `{tool}`"));
            }
        }
        for method in self.methods.difference(&installed.methods) {
            widened.push(format!("send {method}"));
        }
        for (slot, header) in &self.slot_headers {
            if installed.slot_headers.get(slot) != Some(header) {
                widened.push(format!("send the key of `{slot}` in the header `{header}`"));
            }
        }
        widened
    }
}

/// What loading a plugin means for its install record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallCheck {
    /// Installed with exactly this digest.
    Installed,
    /// Needs the operator's consent: a new plugin, or another build under an installed id
    /// (whoever built it: until packages are signed, an id proves nothing), with what it would
    /// be allowed beyond the installed one.
    NeedsConsent {
        new_plugin: bool,
        widened: Vec<String>,
    },
}

pub struct InstallStore {
    path: PathBuf,
}

impl InstallStore {
    /// `$XDG_CONFIG_HOME/dema-host/installs.json`, else `~/.config/dema-host/installs.json`.
    pub fn default_location() -> Option<InstallStore> {
        crate::keys::config_dir().map(|dir| InstallStore {
            path: dir.join("installs.json"),
        })
    }

    pub fn at(path: impl Into<PathBuf>) -> InstallStore {
        InstallStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_all(&self) -> Result<BTreeMap<String, InstallRecord>, InstallError> {
        let path = self.path.display().to_string();
        match fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| InstallError::Invalid {
                path,
                reason: e.to_string(),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(source) => Err(InstallError::Read { path, source }),
        }
    }

    pub fn check(
        &self,
        plugin_id: &str,
        candidate: &InstallRecord,
    ) -> Result<InstallCheck, InstallError> {
        let all = self.read_all()?;
        Ok(match all.get(plugin_id) {
            None => InstallCheck::NeedsConsent {
                new_plugin: true,
                widened: candidate.widening_over(&InstallRecord::default()),
            },
            Some(installed) if installed.digest == candidate.digest => InstallCheck::Installed,
            Some(installed) => {
                let mut widened = candidate.widening_over(installed);
                widened.insert(
                    0,
                    format!(
                        "replace the installed build (sha256 {}…)",
                        installed.digest.get(..12).unwrap_or(&installed.digest)
                    ),
                );
                InstallCheck::NeedsConsent {
                    new_plugin: false,
                    widened,
                }
            }
        })
    }

    /// Records `record` as what the operator installed for `plugin_id`.
    pub fn record(&self, plugin_id: &str, record: InstallRecord) -> Result<(), InstallError> {
        let mut all = self.read_all()?;
        all.insert(plugin_id.to_string(), record);
        let path = self.path.display().to_string();
        let text = serde_json::to_string_pretty(&all).map_err(|e| InstallError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_private_atomically(&self.path, text.as_bytes())
            .map_err(|source| InstallError::Write { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(digest: &str, hosts: &[&str], effects: &[(&str, Effect)]) -> InstallRecord {
        InstallRecord {
            digest: digest.into(),
            version: "0.1.0".into(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            slots: ["ingrid-api-key".to_string()].into(),
            effects: effects.iter().map(|(t, e)| (t.to_string(), *e)).collect(),
            methods: ["GET https://api.turnr.se:443".to_string()].into(),
            slot_headers: [("ingrid-api-key".to_string(), "x-api-key".to_string())].into(),
        }
    }

    #[test]
    fn new_plugins_and_widening_updates_need_consent_narrow_ones_do_not() {
        let dir = std::env::temp_dir().join(format!("dema-install-{}", std::process::id()));
        let store = InstallStore::at(dir.join("installs.json"));
        let v1 = record(
            "a",
            &["https://api.turnr.se:443"],
            &[("list_returns", Effect::Read)],
        );
        assert!(matches!(
            store.check("ingrid", &v1),
            Ok(InstallCheck::NeedsConsent {
                new_plugin: true,
                ..
            })
        ));
        assert!(store.record("ingrid", v1.clone()).is_ok());
        assert!(matches!(
            store.check("ingrid", &v1),
            Ok(InstallCheck::Installed)
        ));

        // Another build claiming the installed id is asked about, even if it asks for less.
        let narrower = record("b", &["https://api.turnr.se:443"], &[]);
        match store.check("ingrid", &narrower) {
            Ok(InstallCheck::NeedsConsent {
                new_plugin: false,
                widened,
            }) => assert_eq!(widened, ["replace the installed build (sha256 a…)"]),
            other => panic!("{other:?}"),
        }
        let mut moved_key = v1.clone();
        moved_key.digest = "e".into();
        moved_key
            .slot_headers
            .insert("ingrid-api-key".into(), "x-log-everything".into());
        moved_key
            .methods
            .insert("DELETE https://api.turnr.se:443".into());

        let new_host = record(
            "c",
            &["https://api.turnr.se:443", "https://evil.test:443"],
            &[("list_returns", Effect::Read)],
        );
        let turned_write = record(
            "d",
            &["https://api.turnr.se:443"],
            &[("list_returns", Effect::Write)],
        );
        for (wider, count) in [(new_host, 2), (turned_write, 2), (moved_key, 3)] {
            match store.check("ingrid", &wider) {
                Ok(InstallCheck::NeedsConsent {
                    new_plugin: false,
                    widened,
                }) => {
                    assert_eq!(widened.len(), count, "{widened:?}")
                }
                other => panic!("{other:?}"),
            }
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(store.path()).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        let _ = fs::remove_dir_all(dir);
    }
}

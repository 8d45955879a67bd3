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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallRecord {
    pub digest: String,
    pub version: String,
    pub hosts: BTreeSet<String>,
    pub slots: BTreeSet<String>,
    pub effects: BTreeMap<String, Effect>,
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
        widened
    }
}

/// What loading a plugin means for its install record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallCheck {
    /// Installed with exactly this digest.
    Installed,
    /// An update that widens nothing: recorded without asking.
    NarrowUpdate,
    /// Needs the operator's consent: a new plugin, or these widenings.
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
                widened: candidate.widening_over(&InstallRecord {
                    digest: String::new(),
                    version: String::new(),
                    hosts: BTreeSet::new(),
                    slots: BTreeSet::new(),
                    effects: BTreeMap::new(),
                }),
            },
            Some(installed) if installed.digest == candidate.digest => InstallCheck::Installed,
            Some(installed) => {
                let widened = candidate.widening_over(installed);
                if widened.is_empty() {
                    InstallCheck::NarrowUpdate
                } else {
                    InstallCheck::NeedsConsent {
                        new_plugin: false,
                        widened,
                    }
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

        let narrower = record("b", &["https://api.turnr.se:443"], &[]);
        assert!(matches!(
            store.check("ingrid", &narrower),
            Ok(InstallCheck::NarrowUpdate)
        ));

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
        for wider in [new_host, turned_write] {
            match store.check("ingrid", &wider) {
                Ok(InstallCheck::NeedsConsent {
                    new_plugin: false,
                    widened,
                }) => {
                    assert_eq!(widened.len(), 1, "{widened:?}")
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

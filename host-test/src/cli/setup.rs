//! Session set-up shared by every subcommand: the plugin's bytes, the operator's install
//! consent (C8), the audit log (C7), the compile cache and the limits.

use std::io::IsTerminal;

use sha2::{Digest, Sha256};

use super::{CliError, Options, prompt, verify};
use crate::EMBEDDED_PLUGIN;
use crate::cache::CompileCache;
use crate::keys::Secret;
use crate::manifest::Manifest;
use crate::policy::audit::AuditLog;
use crate::policy::display::{self, MESSAGE};
use crate::policy::grant::GrantError;
use crate::policy::install::{InstallCheck, InstallRecord, InstallStore};
use crate::runtime::Runtime;
use crate::session::{Session, SessionError};

/// A key to validate for one slot instead of its stored one (`connect --new-key`).
pub struct KeyToTry {
    pub slot: String,
    pub key: Secret,
}

/// The `--plugin` component's bytes, else the embedded plugin's. A `--plugin x.wasm` whose
/// package `x.json` sits beside it is verified first (`dema-host verify`'s checks); its
/// install record is then checked as for any component.
pub fn plugin_bytes(options: &Options) -> Result<Vec<u8>, CliError> {
    let Some(path) = &options.plugin else {
        return Ok(EMBEDDED_PLUGIN.to_vec());
    };
    let package = path.with_extension("json");
    if package.exists() {
        let key = options
            .publisher_key
            .as_deref()
            .ok_or_else(|| CliError::PackageNeedsKey {
                package: package.display().to_string(),
            })?;
        // The bytes loaded are the bytes verified: read once, checked, then used.
        let wasm = std::fs::read(path).map_err(|source| CliError::ReadPlugin {
            path: path.display().to_string(),
            source,
        })?;
        verify::verify_bytes(&wasm, &package, key).map_err(|error| CliError::InPlugin {
            path: path.display().to_string(),
            inner: Box::new(error),
        })?;
        return Ok(wasm);
    }
    std::fs::read(path).map_err(|source| CliError::ReadPlugin {
        path: path.display().to_string(),
        source,
    })
}

/// Checks the install record, then loads the plugin into a session on the chosen target.
pub async fn open_session(
    options: &Options,
    trying: Option<KeyToTry>,
) -> Result<Session, CliError> {
    let wasm = plugin_bytes(options)?;
    let in_plugin = |error: CliError| match &options.plugin {
        Some(path) => CliError::InPlugin {
            path: path.display().to_string(),
            inner: Box::new(error),
        },
        None => error,
    };
    let cache = if options.no_cache {
        None
    } else {
        CompileCache::default_location()
    };
    let audit_path = options
        .audit_log
        .clone()
        .or_else(AuditLog::default_path)
        .ok_or(CliError::NoAuditLogPath)?;
    let audit = AuditLog::open(&audit_path, false).map_err(|source| CliError::AuditLog {
        path: audit_path.display().to_string(),
        source,
    })?;
    let installed = check_install(options, &wasm).map_err(in_plugin)?;
    let runtime = Runtime::new(options.limits()).map_err(|e| CliError::Runtime(e.to_string()))?;
    let mut builder = Session::builder(&wasm)
        .target(options.target())
        .runtime(runtime)
        .cache(cache.as_ref())
        .installed(installed)
        .audit(audit);
    if let Some(trying) = trying {
        builder = builder.try_key(&trying.slot, trying.key);
    }
    builder.start().await.map_err(|error| match error {
        SessionError::Grant(GrantError::NotLoopback(url)) if options.sim.is_some() => {
            CliError::SimulatorUrl(url)
        }
        other => in_plugin(CliError::Session(other)),
    })
}

/// The operator's install record (C8): a `--plugin` component that is new, or an update that
/// widens its grant, needs consent. The embedded plugin is part of the binary the operator
/// installed, so its record is written without asking (and shown when it widens).
///
/// This runs on the manifest and digest alone, before any of the plugin's code runs. Returns
/// the record the session is then bound by.
fn check_install(options: &Options, wasm: &[u8]) -> Result<Option<InstallRecord>, CliError> {
    let Ok(manifest) = Manifest::from_component(wasm) else {
        return Ok(None); // Loading refuses it with the precise reason.
    };
    let digest = hex::encode(Sha256::digest(wasm));
    let store = InstallStore::default_location().ok_or(CliError::NoConfigDir)?;
    let candidate = InstallRecord::of(&manifest, &digest);
    match store.check(&manifest.id, &candidate)? {
        InstallCheck::Installed => {}
        InstallCheck::NeedsConsent {
            new_plugin,
            widened,
        } => {
            let what = if new_plugin { "Install" } else { "Update" };
            // The id, version and hosts are the plugin's words: made safe before they are shown.
            let question = display::block(
                &format!(
                    "{what} plugin {} {} (sha256 {}…)? It may {}.",
                    manifest.id,
                    manifest.version,
                    &digest[..12],
                    widened.join(", ")
                ),
                MESSAGE,
            );
            let consent = if options.plugin.is_none() || options.accept_plugin {
                true
            } else if std::io::stdin().is_terminal() {
                prompt::ask_yes_no(&question)
            } else {
                false
            };
            if !consent {
                return Err(CliError::NoConsent {
                    plugin: manifest.id,
                    widened: widened.join(", "),
                });
            }
            store.record(&manifest.id, candidate.clone())?;
        }
    }
    Ok(Some(candidate))
}

//! Where the live Ingrid key comes from (contract C9): `INGRID_API_KEY`, else the credentials
//! file in the user's config directory (which must be private, 0600). The environment wins.
//! The key goes to the outbound layer only; the guest never sees it.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::outbound::Secret;

pub const ENV_VAR: &str = "INGRID_API_KEY";
/// The key of the Returns API key in the credentials file (the plugin's slot name).
pub const SLOT: &str = "ingrid-api-key";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error(
        "no Ingrid API key: set INGRID_API_KEY or store one with `dema-host connect --live` \
         (use the production Returns API key from the Returns backoffice, Settings → API Keys)"
    )]
    Missing,
    #[error("the credentials file {0} is readable by other users; run `chmod 600` on it")]
    NotPrivate(String),
    #[error("the credentials file {0} is not valid: {1}")]
    Invalid(String, String),
}

/// `$XDG_CONFIG_HOME/dema-host`, else `~/.config/dema-host`.
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|home| home.join(".config")))
        .map(|dir| dir.join("dema-host"))
}

/// `<config dir>/credentials.json`.
pub fn credentials_file() -> Option<PathBuf> {
    config_dir().map(|dir| dir.join("credentials.json"))
}

/// Stores `key` as the Returns API key in the credentials file (0600, written atomically; other
/// entries kept). Returns the file's path.
pub fn store_api_key(key: &Secret) -> Result<PathBuf, String> {
    let path = credentials_file().ok_or("no config directory: set HOME")?;
    let mut entries: serde_json::Map<String, serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    entries.insert(
        SLOT.to_string(),
        serde_json::Value::String(key.expose().to_string()),
    );
    let text = serde_json::to_string_pretty(&entries).map_err(|e| e.to_string())?;
    crate::private_file::write_private_atomically(&path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The live key: environment first, then the credentials file.
pub fn live_api_key() -> Result<Secret, CredentialError> {
    if let Some(key) = std::env::var(ENV_VAR).ok().filter(|k| !k.trim().is_empty()) {
        return Ok(Secret::new(key.trim()));
    }
    let path = credentials_file().ok_or(CredentialError::Missing)?;
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(_) => return Err(CredentialError::Missing),
    };
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CredentialError::NotPrivate(shown));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CredentialError::Invalid(shown.clone(), e.to_string()))?;
    let parsed: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CredentialError::Invalid(shown.clone(), e.to_string()))?;
    match parsed.get(SLOT).and_then(|v| v.as_str()) {
        Some(key) if !key.trim().is_empty() => Ok(Secret::new(key.trim())),
        _ => Err(CredentialError::Invalid(
            shown,
            format!("it has no \"{SLOT}\" entry"),
        )),
    }
}

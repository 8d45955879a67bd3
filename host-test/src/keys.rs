//! Where a credential slot's key comes from (contract C9), for any plugin: the environment
//! variable named after the slot (`ingrid-api-key` → `INGRID_API_KEY`), else the slot's entry in
//! the credentials file in the user's config directory (private, 0600). The environment wins.
//!
//! Keys are looked up for every call, never cached by a session, so a key rotated while a server
//! runs is used by its next call. A key goes to the outbound layer only; the guest never sees it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memchr::memmem;

use crate::manifest::CredentialSlot;

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The slot's description (the plugin's words) says which key is meant.
    #[error(
        "no key for the plugin's credential slot `{slot}`: set {env_var} or store one with \
         `dema-host connect --new-key`{advice}"
    )]
    Missing {
        slot: String,
        env_var: String,
        advice: String,
    },
    #[error("the credentials file {0} is readable by other users; run `chmod 600` on it")]
    NotPrivate(String),
    #[error("the credentials file {0} is not valid: {1}")]
    Invalid(String, String),
    #[error("no config directory for the credentials file: set HOME")]
    NoConfigDir,
    #[error("cannot write the credentials file {0}: {1}")]
    Write(String, String),
}

/// Finds the key of one credential slot, at the moment a call needs it.
pub trait KeySource: Send + Sync {
    fn key(&self, slot: &CredentialSlot) -> Result<Secret, KeyError>;
}

/// `$XDG_CONFIG_HOME/dema-host`, else `~/.config/dema-host`.
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|home| home.join(".config")))
        .map(|dir| dir.join("dema-host"))
}

/// The environment variable that holds a slot's key: the slot name in upper case, every
/// character other than a letter or digit turned into `_`.
pub fn env_var_for(slot: &str) -> String {
    slot.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The operator's keys: the environment, then the credentials file (`credentials.json`, one
/// entry per slot name).
#[derive(Debug, Clone)]
pub struct OperatorKeys {
    file: Option<PathBuf>,
    use_environment: bool,
}

impl OperatorKeys {
    /// The environment, then `<config dir>/credentials.json`.
    pub fn default_location() -> OperatorKeys {
        OperatorKeys {
            file: config_dir().map(|dir| dir.join("credentials.json")),
            use_environment: true,
        }
    }

    /// Only the credentials file at `path` (tests; a host that must ignore the environment).
    pub fn file_only(path: impl Into<PathBuf>) -> OperatorKeys {
        OperatorKeys {
            file: Some(path.into()),
            use_environment: false,
        }
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Whether the environment sets this slot's key (and so wins over the file).
    pub fn environment_sets(&self, slot: &str) -> bool {
        self.use_environment && std::env::var_os(env_var_for(slot)).is_some()
    }

    /// Stores `key` as the slot's entry in the credentials file (0600, written atomically;
    /// other entries kept). Returns the file's path.
    pub fn store(&self, slot: &str, key: &Secret) -> Result<PathBuf, KeyError> {
        let path = self.file.clone().ok_or(KeyError::NoConfigDir)?;
        let shown = path.display().to_string();
        let mut entries: serde_json::Map<String, serde_json::Value> =
            match std::fs::read_to_string(&path) {
                Ok(text) => serde_json::from_str(&text)
                    .map_err(|e| KeyError::Invalid(shown.clone(), e.to_string()))?,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Default::default(),
                Err(error) => return Err(KeyError::Invalid(shown, error.to_string())),
            };
        entries.insert(
            slot.to_string(),
            serde_json::Value::String(key.expose().to_string()),
        );
        let text = serde_json::to_string_pretty(&entries)
            .map_err(|e| KeyError::Write(shown.clone(), e.to_string()))?;
        crate::private_file::write_private_atomically(&path, text.as_bytes())
            .map_err(|e| KeyError::Write(shown, e.to_string()))?;
        Ok(path)
    }
}

impl KeySource for OperatorKeys {
    fn key(&self, slot: &CredentialSlot) -> Result<Secret, KeyError> {
        let env_var = env_var_for(&slot.name);
        if self.use_environment
            && let Some(key) = std::env::var(&env_var)
                .ok()
                .filter(|k| !k.trim().is_empty())
        {
            return Ok(Secret::new(key.trim()));
        }
        let missing = || KeyError::Missing {
            slot: slot.name.clone(),
            env_var: env_var.clone(),
            advice: advice(slot),
        };
        let path = self.file.as_ref().ok_or_else(missing)?;
        let shown = path.display().to_string();
        let Ok(meta) = std::fs::metadata(path) else {
            return Err(missing());
        };
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(KeyError::NotPrivate(shown));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| KeyError::Invalid(shown.clone(), e.to_string()))?;
        let parsed: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| KeyError::Invalid(shown, e.to_string()))?;
        match parsed.get(&slot.name).and_then(|v| v.as_str()) {
            Some(key) if !key.trim().is_empty() => Ok(Secret::new(key.trim())),
            _ => Err(missing()),
        }
    }
}

/// The plugin's own description of the key, cut and cleaned (it is the plugin's text).
fn advice(slot: &CredentialSlot) -> String {
    let clean: String = slot
        .description
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if clean.trim().is_empty() {
        String::new()
    } else {
        format!(" (the plugin says: {})", clean.trim())
    }
}

/// One key for every slot: the development simulator's key, or a test's canary.
#[derive(Debug, Clone)]
pub struct FixedKey(pub Secret);

impl KeySource for FixedKey {
    fn key(&self, _slot: &CredentialSlot) -> Result<Secret, KeyError> {
        Ok(self.0.clone())
    }
}

/// A key being tried for one slot (`connect --new-key`), the usual source for the others.
pub struct TryKey {
    pub slot: String,
    pub key: Secret,
    pub others: Arc<dyn KeySource>,
}

impl KeySource for TryKey {
    fn key(&self, slot: &CredentialSlot) -> Result<Secret, KeyError> {
        if slot.name == self.slot {
            Ok(self.key.clone())
        } else {
            self.others.key(slot)
        }
    }
}

/// The keys of one call, looked up when the call starts: injected by slot, and redacted from
/// everything that flows back to the guest, to the agent, into logs, errors and the audit log,
/// in the forms a server or a plugin could echo them in (P3).
#[derive(Clone, Default)]
pub struct CallKeys {
    keys: Vec<(String, Secret)>,
    /// Every form of every key that is redacted, longest first, each with its searcher. Built
    /// when the keys change, shared by the calls that use the same keys.
    forms: Arc<Vec<Form>>,
}

#[derive(Clone)]
struct Form {
    finder: memmem::Finder<'static>,
    /// Whether the form is UTF-8, so it can occur in text.
    text: bool,
}

impl Form {
    fn new(bytes: &[u8]) -> Form {
        Form {
            finder: memmem::Finder::new(bytes).into_owned(),
            text: std::str::from_utf8(bytes).is_ok(),
        }
    }

    fn bytes(&self) -> &[u8] {
        self.finder.needle()
    }
}

impl CallKeys {
    /// Looks up the key of every slot in `slots`.
    pub fn resolve(slots: &[CredentialSlot], source: &dyn KeySource) -> Result<CallKeys, KeyError> {
        Ok(Self::of(lookup(slots, source)?))
    }

    /// Looks up the key of every slot in `slots` now (C9); when they are the keys of
    /// `previous`, its redaction forms are reused rather than derived again.
    pub fn resolve_reusing(
        slots: &[CredentialSlot],
        source: &dyn KeySource,
        previous: &CallKeys,
    ) -> Result<CallKeys, KeyError> {
        let keys = lookup(slots, source)?;
        if keys == previous.keys {
            return Ok(previous.clone());
        }
        Ok(Self::of(keys))
    }

    fn of(keys: Vec<(String, Secret)>) -> CallKeys {
        let forms: std::collections::BTreeSet<Vec<u8>> = keys
            .iter()
            .flat_map(|(_, key)| encoded_forms(key.expose().as_bytes()))
            .filter(|form| !form.is_empty())
            .collect();
        let mut forms: Vec<Form> = forms.iter().map(|form| Form::new(form)).collect();
        forms.sort_by_key(|form| std::cmp::Reverse(form.bytes().len()));
        CallKeys {
            keys,
            forms: Arc::new(forms),
        }
    }

    /// These keys and `other`'s (a key rotated during a call): one redaction pass covers both.
    pub fn with(mut self, other: &CallKeys) -> CallKeys {
        if Arc::ptr_eq(&self.forms, &other.forms) {
            return self;
        }
        let mut forms = (*self.forms).clone();
        for form in other.forms.iter() {
            if !forms.iter().any(|mine| mine.bytes() == form.bytes()) {
                forms.push(form.clone());
            }
        }
        forms.sort_by_key(|form| std::cmp::Reverse(form.bytes().len()));
        self.forms = Arc::new(forms);
        self
    }

    pub fn get(&self, slot: &str) -> Option<&Secret> {
        self.keys
            .iter()
            .find(|(name, _)| name == slot)
            .map(|(_, key)| key)
    }

    /// Whether any key, in any redacted form, occurs in `bytes`.
    pub fn any_in(&self, bytes: &[u8]) -> bool {
        self.forms
            .iter()
            .any(|form| form.finder.find(bytes).is_some())
    }

    pub fn redact_text(&self, text: &str) -> String {
        // One search per form; a copy only where a form occurs.
        self.forms.iter().fold(text.to_string(), |text, form| {
            if form.text && form.finder.find(text.as_bytes()).is_some() {
                // A UTF-8 needle matches on character boundaries: the result is UTF-8.
                let redacted = replace_all(text.as_bytes(), form);
                String::from_utf8(redacted).unwrap_or_else(|_| REDACTED.to_string())
            } else {
                text
            }
        })
    }

    /// The body itself when no form occurs in it (the usual case): no copy.
    pub fn redact_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        self.forms.iter().fold(bytes, |bytes, form| {
            if form.finder.find(&bytes).is_some() {
                replace_all(&bytes, form)
            } else {
                bytes
            }
        })
    }
}

const REDACTED: &str = "[REDACTED]";

/// Every non-overlapping occurrence of `form`, left to right, replaced by the mark.
fn replace_all(haystack: &[u8], form: &Form) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut last = 0;
    for at in form.finder.find_iter(haystack) {
        out.extend_from_slice(&haystack[last..at]);
        out.extend_from_slice(REDACTED.as_bytes());
        last = at + form.bytes().len();
    }
    out.extend_from_slice(&haystack[last..]);
    out
}

impl std::fmt::Debug for CallKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(slot, _)| slot))
            .finish()
    }
}

fn lookup(
    slots: &[CredentialSlot],
    source: &dyn KeySource,
) -> Result<Vec<(String, Secret)>, KeyError> {
    slots
        .iter()
        .map(|slot| Ok((slot.name.clone(), source.key(slot)?)))
        .collect()
}

/// Keys shorter than this are redacted only as they are: encoded forms of a very short key
/// would match ordinary text.
const MIN_KEY_FOR_ENCODINGS: usize = 8;

/// The forms of a key that are redacted: as it is; base64 (standard and URL-safe, at each of
/// the three alignments a key can have inside a longer encoded value, so only the part that
/// depends on the key alone); hex in either case; percent-encoded (reserved characters only,
/// and every byte, in either case); JSON `\u` escapes in either case.
pub fn encoded_forms(key: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let mut forms = vec![key.to_vec()];
    if key.is_empty() || key.len() < MIN_KEY_FOR_ENCODINGS {
        return forms.into_iter().filter(|f| !f.is_empty()).collect();
    }
    for engine in [&STANDARD, &URL_SAFE] {
        for offset in 0..3 {
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(key);
            let encoded = engine.encode(&padded);
            // Characters that also encode a prefix byte, or a byte after the key, vary.
            let start = (offset * 8).div_ceil(6);
            let end = (padded.len() / 3) * 4;
            if end > start {
                forms.push(encoded.as_bytes()[start..end].to_vec());
            }
        }
    }
    forms.push(hex::encode(key).into_bytes());
    forms.push(hex::encode_upper(key).into_bytes());
    let every_byte: String = key.iter().map(|b| format!("%{b:02X}")).collect();
    forms.push(every_byte.to_ascii_lowercase().into_bytes());
    forms.push(every_byte.into_bytes());
    let reserved_only: String = key
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    forms.push(reserved_only.into_bytes());
    if let Ok(text) = std::str::from_utf8(key) {
        let escaped: String = text
            .encode_utf16()
            .map(|unit| format!("\\u{unit:04x}"))
            .collect();
        forms.push(
            escaped
                .to_ascii_uppercase()
                .replace("\\U", "\\u")
                .into_bytes(),
        );
        forms.push(escaped.into_bytes());
    }
    forms
}

pub fn redact_bytes(haystack: &[u8], secret: &[u8]) -> Vec<u8> {
    if secret.is_empty() {
        return haystack.to_vec();
    }
    replace_all(haystack, &Form::new(secret))
}

pub fn redact_str(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(name: &str) -> CredentialSlot {
        CredentialSlot {
            name: name.into(),
            header: "x-key".into(),
            hosts: vec!["api.example.test".into()],
            description: "The production key.\u{1b}[2J".into(),
        }
    }

    #[test]
    fn redaction_replaces_every_occurrence_of_every_key() {
        assert_eq!(
            redact_bytes(b"kkey-key-", b"key"),
            b"k[REDACTED]-[REDACTED]-"
        );
        assert_eq!(redact_bytes(b"ke", b"key"), b"ke");
        assert_eq!(redact_str("a key b", "key"), "a [REDACTED] b");
        let keys = CallKeys::resolve(
            &[slot("one"), slot("two")],
            &TryKey {
                slot: "one".into(),
                key: Secret::new("k1"),
                others: Arc::new(FixedKey(Secret::new("k2"))),
            },
        );
        let Ok(keys) = keys else {
            panic!("fixed keys resolve")
        };
        assert_eq!(keys.redact_text("k1 k2 k3"), "[REDACTED] [REDACTED] k3");
        assert!(keys.any_in(b"xk2x") && !keys.any_in(b"k3"));
        assert!(!format!("{keys:?}").contains("k1"));
    }

    #[test]
    fn encoded_forms_of_a_key_are_found_inside_longer_values() {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let key = "canary-5e1d/7a93+key?";
        let keys = CallKeys::resolve(&[slot("s")], &FixedKey(Secret::new(key)));
        let Ok(keys) = keys else {
            panic!("fixed keys resolve")
        };
        let mut echoed = Vec::new();
        for prefix in ["", "a", "ab", "abc"] {
            echoed.push(STANDARD.encode(format!("{prefix}{key}:tail")));
            echoed.push(URL_SAFE_NO_PAD.encode(format!("{prefix}{key}")));
        }
        echoed.push(hex::encode(key));
        echoed.push(hex::encode_upper(key));
        echoed.push(format!(
            "k={}",
            key.replace('/', "%2F")
                .replace('+', "%2B")
                .replace('?', "%3F")
        ));
        echoed.push(key.bytes().map(|b| format!("%{b:02x}")).collect());
        echoed.push(
            key.chars()
                .map(|c| format!("\\u{:04X}", c as u32))
                .collect(),
        );
        echoed.push(
            key.chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect(),
        );
        for form in echoed {
            assert!(keys.any_in(form.as_bytes()), "{form}");
            let redacted = keys.redact_text(&form);
            assert!(redacted.contains("[REDACTED]"), "{form} -> {redacted}");
            assert!(!keys.any_in(redacted.as_bytes()), "{form} -> {redacted}");
        }
        assert!(!keys.any_in(b"an ordinary response body"));
        // A key rotated during a call: both are redacted in one pass.
        let rotated = CallKeys::resolve(&[slot("s")], &FixedKey(Secret::new("rotated-key-9f8e")));
        let Ok(rotated) = rotated else {
            panic!("fixed keys resolve")
        };
        let both = keys.with(&rotated);
        assert_eq!(
            both.redact_text(&format!("{key} rotated-key-9f8e")),
            "[REDACTED] [REDACTED]"
        );
    }

    #[test]
    fn the_variable_is_named_after_the_slot() {
        assert_eq!(env_var_for("ingrid-api-key"), "INGRID_API_KEY");
        assert_eq!(env_var_for("acme.token v2"), "ACME_TOKEN_V2");
    }

    #[test]
    fn the_file_is_read_per_slot_and_at_every_lookup() {
        let dir = std::env::temp_dir().join(format!("dema-keys-{}", std::process::id()));
        let keys = OperatorKeys::file_only(dir.join("credentials.json"));
        let missing = keys.key(&slot("acme-token"));
        assert!(
            matches!(&missing, Err(KeyError::Missing { env_var, advice, .. })
                if env_var == "ACME_TOKEN" && advice.contains("production key") && !advice.contains('\u{1b}')),
            "{missing:?}"
        );
        let stored = keys.store("acme-token", &Secret::new("first"));
        assert!(stored.is_ok(), "{stored:?}");
        assert_eq!(keys.key(&slot("acme-token")), Ok(Secret::new("first")));
        assert!(keys.store("acme-token", &Secret::new("second")).is_ok());
        assert_eq!(keys.key(&slot("acme-token")), Ok(Secret::new("second")));
        assert!(matches!(
            keys.key(&slot("other")),
            Err(KeyError::Missing { .. })
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}

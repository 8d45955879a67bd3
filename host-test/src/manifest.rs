//! The plugin manifest (contract C8): found in exactly one custom section of the component's
//! core module, parsed before anything of the plugin runs.

use serde::Deserialize;
use wasmtime::wasmparser::{Parser, Payload};

use crate::policy::world::{self, WorldError};

/// The custom section's name, as the WIT documents it.
pub const SECTION_NAME: &str = "dema:integration/manifest";
/// A manifest larger than this is refused before it is parsed or shown (the Ingrid plugin's is
/// about 1.6 KB).
pub const MAX_MANIFEST_BYTES: usize = 64 << 10;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub manifest_version: u32,
    pub id: String,
    /// The plugin's name in a marketplace ("Ingrid Returns").
    #[serde(default)]
    pub name: Option<String>,
    /// The service the plugin acts on, as the person is shown it ("changes in Ingrid").
    #[serde(default)]
    pub service: Option<String>,
    pub version: String,
    pub wit_version: String,
    #[serde(default)]
    pub credential_slots: Vec<CredentialSlot>,
    #[serde(default)]
    pub egress: Vec<EgressRule>,
    #[serde(default)]
    pub settings: Vec<Setting>,
    pub tools: Vec<ToolEffect>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialSlot {
    pub name: String,
    pub header: String,
    pub hosts: Vec<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EgressRule {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub methods: Vec<String>,
    /// Only paths starting with this prefix (e.g. `/merchant/`); every path when absent.
    #[serde(default)]
    pub path_prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Setting {
    pub name: String,
    #[serde(default)]
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolEffect {
    pub name: String,
    pub effect: Effect,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Read,
    Write,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("the file is not a WebAssembly component ({0})")]
    NotWasm(String),
    #[error("the plugin carries no `{SECTION_NAME}` manifest section")]
    Missing,
    #[error("the plugin's manifest is larger than {MAX_MANIFEST_BYTES} bytes")]
    TooLarge,
    #[error("the plugin carries {0} `{SECTION_NAME}` sections; exactly one is allowed")]
    Duplicate(usize),
    #[error("the plugin's manifest is not valid: {0}")]
    Invalid(String),
    #[error("the plugin's manifest names dema:integration version {0:?}, which is not a version")]
    BadWitVersion(String),
    #[error("{0}")]
    UnsupportedWitVersion(WorldError),
    #[error("the plugin's manifest names a tool {0:?}; tool names are 1-64 of a-z, 0-9 and _")]
    BadToolName(String),
    #[error("the plugin's manifest declares the tool `{0}` twice")]
    DuplicateTool(String),
    #[error("the plugin's manifest declares the credential slot `{0}` twice")]
    DuplicateSlot(String),
}

impl Manifest {
    /// Reads the manifest of a component's bytes.
    pub fn from_component(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        Manifest::from_json(&Manifest::section(bytes)?)
    }

    /// The manifest section's bytes: exactly one, in the component or its core module.
    pub fn section(bytes: &[u8]) -> Result<Vec<u8>, ManifestError> {
        if !bytes.starts_with(b"\0asm") {
            return Err(ManifestError::NotWasm(
                "it does not start with the wasm magic bytes".into(),
            ));
        }
        // Borrowed, not copied: a hostile component may carry many or large ones.
        let mut sections = Vec::new();
        for payload in Parser::new(0).parse_all(bytes) {
            match payload {
                Ok(Payload::CustomSection(section)) if section.name() == SECTION_NAME => {
                    sections.push(section.data())
                }
                Ok(_) => {}
                Err(error) => {
                    let first_line = error.message().lines().next().unwrap_or_default();
                    return Err(ManifestError::NotWasm(first_line.to_string()));
                }
            }
        }
        match sections.as_slice() {
            [] => Err(ManifestError::Missing),
            [data] if data.len() > MAX_MANIFEST_BYTES => Err(ManifestError::TooLarge),
            [data] => Ok(data.to_vec()),
            more => Err(ManifestError::Duplicate(more.len())),
        }
    }

    /// Parses and checks a manifest's JSON: a supported WIT version, then [`Manifest::parse`]'s
    /// checks.
    ///
    /// [`Manifest::parse`] checks well-formed and unique tool names (a duplicate would let the install record and the runtime disagree on a
    /// tool's effect), unique slot names.
    pub fn from_json(data: &[u8]) -> Result<Manifest, ManifestError> {
        let manifest = Manifest::parse(data)?;
        let shown: String = manifest.wit_version.chars().take(40).collect();
        let version = semver::Version::parse(&manifest.wit_version)
            .map_err(|_| ManifestError::BadWitVersion(shown))?;
        world::check_supported(&version).map_err(ManifestError::UnsupportedWitVersion)?;
        Ok(manifest)
    }

    /// The manifest's shape and names, whatever WIT version it names (`inspect` shows a
    /// component this host cannot run).
    pub fn parse(data: &[u8]) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            serde_json::from_slice(data).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        let mut tools = std::collections::BTreeSet::new();
        for tool in &manifest.tools {
            if !is_tool_name(&tool.name) {
                let shown: String = tool.name.chars().take(80).collect();
                return Err(ManifestError::BadToolName(shown));
            }
            if !tools.insert(tool.name.as_str()) {
                return Err(ManifestError::DuplicateTool(tool.name.clone()));
            }
        }
        let mut slots = std::collections::BTreeSet::new();
        for slot in &manifest.credential_slots {
            if !slots.insert(slot.name.as_str()) {
                let shown: String = slot.name.chars().take(80).collect();
                return Err(ManifestError::DuplicateSlot(shown));
            }
        }
        Ok(manifest)
    }

    /// The plugin's name as a marketplace lists it.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// The name a person is shown for where changes happen.
    pub fn service_name(&self) -> &str {
        self.service.as_deref().unwrap_or(&self.id)
    }

    pub fn tool(&self, name: &str) -> Option<&ToolEffect> {
        self.tools.iter().find(|tool| tool.name == name)
    }

    pub fn slot(&self, name: &str) -> Option<&CredentialSlot> {
        self.credential_slots.iter().find(|slot| slot.name == name)
    }
}

/// `[a-z0-9_]{1,64}` (C4).
pub fn is_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(tools: &[(&str, &str)]) -> Vec<u8> {
        let tools: Vec<serde_json::Value> = tools
            .iter()
            .map(|(name, effect)| {
                serde_json::json!({"name": name, "effect": effect, "destructive": false,
                    "idempotent": true, "openWorld": true})
            })
            .collect();
        serde_json::json!({"manifestVersion": 1, "id": "p", "version": "1", "witVersion": "0.1.0",
            "credentialSlots": [], "egress": [], "settings": [], "tools": tools})
        .to_string()
        .into_bytes()
    }

    /// A core module holding one custom section per entry of `manifests`.
    fn module_with(manifests: &[Vec<u8>]) -> Vec<u8> {
        let leb = |mut n: usize, out: &mut Vec<u8>| loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        };
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        for data in manifests {
            let mut body = Vec::new();
            leb(SECTION_NAME.len(), &mut body);
            body.extend_from_slice(SECTION_NAME.as_bytes());
            body.extend_from_slice(data);
            wasm.push(0);
            leb(body.len(), &mut wasm);
            wasm.extend_from_slice(&body);
        }
        wasm
    }

    #[test]
    fn one_bounded_manifest_section_is_read() {
        let small = manifest(&[("list_returns", "read")]);
        assert_eq!(
            Manifest::section(&module_with(std::slice::from_ref(&small))),
            Ok(small.clone())
        );
        let mut large = small.clone();
        large.resize(MAX_MANIFEST_BYTES + 1, b' ');
        assert_eq!(
            Manifest::section(&module_with(&[large])),
            Err(ManifestError::TooLarge)
        );
        assert_eq!(
            Manifest::section(&module_with(&[small.clone(), small])),
            Err(ManifestError::Duplicate(2))
        );
        assert_eq!(
            Manifest::section(&module_with(&[])),
            Err(ManifestError::Missing)
        );
    }

    #[test]
    fn duplicate_or_malformed_tool_names_are_refused() {
        assert!(Manifest::from_json(&manifest(&[("list_returns", "read")])).is_ok());
        assert_eq!(
            Manifest::from_json(&manifest(&[("get", "read"), ("get", "write")])),
            Err(ManifestError::DuplicateTool("get".into()))
        );
        for bad in [
            "",
            "List",
            "get-return",
            "a b",
            "ä",
            &"x".repeat(65),
            "get\u{1b}[2J",
        ] {
            assert!(
                matches!(
                    Manifest::from_json(&manifest(&[(bad, "read")])),
                    Err(ManifestError::BadToolName(_))
                ),
                "{bad:?}"
            );
        }
    }
}

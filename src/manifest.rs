//! The plugin's manifest (contract C8): identity, credential slots, egress hosts and tool
//! effects. The component carries it in a custom section of its core module, which the host
//! reads before instantiating and holds `list-tools` to.

/// The custom section's name, as the WIT documents it.
pub const SECTION_NAME: &str = "dema:integration/manifest";

/// The manifest's JSON bytes.
pub const MANIFEST_JSON: &[u8] = include_bytes!("manifest.json");

// `#[used]` keeps the section through LTO and linking; the host finds it in the core module.
#[cfg(target_family = "wasm")]
#[unsafe(link_section = "dema:integration/manifest")]
#[used]
static MANIFEST_SECTION: [u8; MANIFEST_JSON.len()] = *include_bytes!("manifest.json");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::TOOLS;
    use serde_json::Value;

    #[test]
    fn manifest_agrees_with_the_tool_registry() {
        let manifest: Value = serde_json::from_slice(MANIFEST_JSON).unwrap_or_default();
        let listed = manifest["tools"].as_array().cloned().unwrap_or_default();
        assert_eq!(listed.len(), TOOLS.len());
        for (entry, tool) in listed.iter().zip(TOOLS) {
            assert_eq!(entry["name"], tool.name);
            assert_eq!(
                entry["effect"],
                serde_json::to_value(tool.effect).unwrap_or_default()
            );
            assert_eq!(entry["destructive"], tool.destructive);
            assert_eq!(entry["idempotent"], tool.idempotent);
            assert_eq!(entry["openWorld"], tool.open_world);
        }
        assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            manifest["credentialSlots"][0]["name"],
            crate::ingrid::catalog::CREDENTIAL_SLOT
        );
    }
}

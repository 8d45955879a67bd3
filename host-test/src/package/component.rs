//! What a component's bytes say about it, read without running or compiling it: digest and
//! size, the embedded manifest, and its world (imports and exports by WIT name and version).

use serde_json::Value;
use sha2::{Digest, Sha256};
use wasmtime::wasmparser::{Validator, WasmFeatures};

use crate::manifest::Manifest;
use crate::policy::world::ComponentWorld;

/// The facts `inspect` prints and `package`/`verify` compare.
#[derive(Debug, Clone)]
pub struct ComponentFacts {
    pub sha256: String,
    pub size: u64,
    pub manifest: Manifest,
    /// The manifest section as JSON, for equality with a package's (member order aside).
    pub manifest_json: Value,
    pub world: ComponentWorld,
}

impl ComponentFacts {
    pub fn read(wasm: &[u8]) -> Result<ComponentFacts, String> {
        let world = ComponentWorld::read(wasm).map_err(|e| e.to_string())?;
        let section = Manifest::section(wasm).map_err(|e| e.to_string())?;
        let manifest = Manifest::parse(&section).map_err(|e| e.to_string())?;
        let manifest_json = serde_json::from_slice(&section)
            .map_err(|e| format!("the plugin's manifest is not valid: {e}"))?;
        Ok(ComponentFacts {
            sha256: hex::encode(Sha256::digest(wasm)),
            size: wasm.len() as u64,
            manifest,
            manifest_json,
            world,
        })
    }
}

/// Full validation of the component and its core modules, as a runtime would do on load.
pub fn validate(wasm: &[u8]) -> Result<(), String> {
    Validator::new_with_features(WasmFeatures::default())
        .validate_all(wasm)
        .map(|_| ())
        .map_err(|e| format!("the component is not valid WebAssembly: {}", e.message()))
}

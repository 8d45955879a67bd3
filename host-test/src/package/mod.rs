//! Marketplace packages: a component and the signed JSON beside it, saying what it is, who
//! published it and what it needs.
//!
//! A publisher builds with `make dist` (which calls `dema-host package`); an operator checks a
//! package with `dema-host verify`, and `--plugin x.wasm` runs the same checks when `x.json`
//! sits beside it. The JSON (format [`FORMAT`]) holds the plugin's id, name and version, the
//! WIT package and version, the digest and size of the wasm, the toolchain that built it, the
//! manifest the component embeds, and an ed25519 signature by the publisher's key over all of
//! it (see [`signed_bytes`]).
//!
//! - [`keys`]: the publisher's signing key and an operator's trusted public key (PEM files);
//! - [`component`]: what a component's bytes say about it (digest, manifest, world).

pub mod component;
pub mod keys;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::policy::world::{WORLD_PACKAGE, WorldError};
use component::ComponentFacts;
pub use keys::{KeyError, fingerprint};

/// The package format this host writes and reads.
pub const FORMAT: &str = "dema-package/1";
/// Prefixed to what is signed, so that a signature for anything else never verifies here.
const SIGNING_CONTEXT: &[u8] = b"dema-package/1 signature\n";
/// A package file larger than this is refused before it is parsed.
pub const MAX_PACKAGE_BYTES: usize = 256 << 10;

/// The package JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Package {
    pub format: String,
    pub id: String,
    pub name: String,
    pub version: String,
    pub wit: WitRef,
    pub component: ComponentFile,
    pub toolchain: Toolchain,
    /// Signed by a throwaway key: fine to try, not a publisher's release.
    pub development: bool,
    /// The manifest the component embeds (`dema:integration/manifest`), as JSON.
    pub manifest: Value,
    pub signature: PackageSignature,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitRef {
    pub package: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentFile {
    pub file: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toolchain {
    pub rustc: String,
    pub target: String,
    pub profile: String,
    /// The post-link optimiser, e.g. `wasm-opt version 132 -Oz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimiser: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageSignature {
    pub algorithm: String,
    /// The signer's public key, hex: information only; verification uses the operator's key.
    pub public_key: String,
    pub value: String,
}

/// Why a package is refused: each is the one line `verify` prints.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("the package file is larger than {MAX_PACKAGE_BYTES} bytes")]
    TooLarge,
    #[error("the package file is not a {FORMAT} package: {0}")]
    Malformed(String),
    #[error("the package is signed with {0}, not ed25519")]
    Algorithm(String),
    #[error("the package was signed by key {signer}, not by the publisher key {trusted}")]
    OtherSigner { signer: String, trusted: String },
    #[error(
        "the package's signature does not verify with the publisher key {0}: it was changed after signing"
    )]
    BadSignature(String),
    #[error(
        "the component's sha256 is {actual}, the package names {expected}: it is not the component that was signed"
    )]
    Digest { expected: String, actual: String },
    #[error("the component has {actual} bytes, the package names {expected}")]
    Size { expected: u64, actual: u64 },
    #[error("the manifest inside the component differs from the package's ({0})")]
    ManifestDiffers(String),
    #[error("{0}")]
    Component(String),
    #[error("{0}")]
    World(#[from] WorldError),
    #[error("{0}")]
    Key(#[from] KeyError),
}

/// What a verified package is, for the one-line summary.
#[derive(Debug, Clone)]
pub struct Verified {
    pub id: String,
    pub version: String,
    pub sha256: String,
    pub size: u64,
    pub world_version: String,
    pub signer: String,
    pub development: bool,
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "verified {} {}: sha256 {}, {} bytes, {WORLD_PACKAGE}@{}, signed by {}",
            clip(&self.id),
            clip(&self.version),
            self.sha256,
            self.size,
            clip(&self.world_version),
            self.signer
        )?;
        if self.development {
            f.write_str(" (a development build, signed by a throwaway key)")?;
        }
        Ok(())
    }
}

/// What `package` is told about the build.
pub struct BuildInfo {
    pub toolchain: Toolchain,
    /// The file name the wasm is written under, beside the JSON.
    pub file: String,
    pub development: bool,
}

/// The bytes the signature covers: a context line, then the package without its signature in
/// canonical JSON (keys sorted at every level, no whitespace, numbers as written).
pub fn signed_bytes(package: &Package) -> Result<Vec<u8>, PackageError> {
    let mut value =
        serde_json::to_value(package).map_err(|e| PackageError::Malformed(e.to_string()))?;
    if let Value::Object(map) = &mut value {
        map.remove("signature");
    }
    let canonical =
        serde_json::to_vec(&value).map_err(|e| PackageError::Malformed(e.to_string()))?;
    Ok([SIGNING_CONTEXT, &canonical].concat())
}

/// Describes and signs a component: the publisher's side.
pub fn build(wasm: &[u8], info: BuildInfo, key: &SigningKey) -> Result<Package, PackageError> {
    let facts = ComponentFacts::read(wasm).map_err(PackageError::Component)?;
    let world_version = facts.world.check()?;
    let manifest = &facts.manifest;
    if manifest.wit_version != world_version.to_string() {
        return Err(WorldError::ManifestDisagrees {
            manifest: clip(&manifest.wit_version),
            built: world_version.to_string(),
        }
        .into());
    }
    let mut package = Package {
        format: FORMAT.to_string(),
        id: manifest.id.clone(),
        name: manifest.display_name().to_string(),
        version: manifest.version.clone(),
        wit: WitRef {
            package: WORLD_PACKAGE.to_string(),
            version: world_version.to_string(),
        },
        component: ComponentFile {
            file: info.file,
            sha256: facts.sha256.clone(),
            size: facts.size,
        },
        toolchain: info.toolchain,
        development: info.development,
        manifest: facts.manifest_json.clone(),
        signature: PackageSignature {
            algorithm: "ed25519".to_string(),
            public_key: hex::encode(key.verifying_key().as_bytes()),
            value: String::new(),
        },
    };
    let signature = key.sign(&signed_bytes(&package)?);
    package.signature.value = hex::encode(signature.to_bytes());
    Ok(package)
}

/// Every check an operator's host makes before loading a packaged component: who signed it,
/// that it is these bytes, that its embedded manifest is the package's, and that this host can
/// run it (its `dema:integration` version and its imports).
pub fn verify(
    wasm: &[u8],
    package_json: &[u8],
    publisher: &VerifyingKey,
) -> Result<Verified, PackageError> {
    if package_json.len() > MAX_PACKAGE_BYTES {
        return Err(PackageError::TooLarge);
    }
    let package: Package = serde_json::from_slice(package_json)
        .map_err(|e| PackageError::Malformed(first_line(&e.to_string())))?;
    if package.format != FORMAT {
        return Err(PackageError::Malformed(format!(
            "its format is {:?}",
            clip(&package.format)
        )));
    }
    check_signature(&package, publisher)?;

    // The bytes must be the signed ones before any of them is parsed.
    let sha256 = hex::encode(Sha256::digest(wasm));
    if sha256 != package.component.sha256 {
        return Err(PackageError::Digest {
            expected: clip(&package.component.sha256),
            actual: sha256,
        });
    }
    if wasm.len() as u64 != package.component.size {
        return Err(PackageError::Size {
            expected: package.component.size,
            actual: wasm.len() as u64,
        });
    }
    let facts = ComponentFacts::read(wasm).map_err(PackageError::Component)?;
    if facts.manifest_json != package.manifest {
        return Err(PackageError::ManifestDiffers(
            "the package was made for another build".into(),
        ));
    }
    let manifest = &facts.manifest;
    let claims = [
        ("id", &package.id, &manifest.id),
        ("version", &package.version, &manifest.version),
        ("WIT version", &package.wit.version, &manifest.wit_version),
    ];
    if let Some((what, said, embedded)) = claims.iter().find(|(_, a, b)| a != b) {
        return Err(PackageError::ManifestDiffers(format!(
            "its {what} is {:?}, the manifest's {:?}",
            clip(said),
            clip(embedded)
        )));
    }
    if package.wit.package != WORLD_PACKAGE {
        return Err(PackageError::Malformed(format!(
            "it is for the WIT package {:?}, not {WORLD_PACKAGE}",
            clip(&package.wit.package)
        )));
    }
    let world_version = facts.world.check()?;
    if world_version.to_string() != package.wit.version {
        return Err(WorldError::ManifestDisagrees {
            manifest: clip(&package.wit.version),
            built: world_version.to_string(),
        }
        .into());
    }
    component::validate(wasm).map_err(PackageError::Component)?;
    Ok(Verified {
        id: package.id,
        version: package.version,
        sha256: facts.sha256,
        size: facts.size,
        world_version: world_version.to_string(),
        signer: fingerprint(publisher),
        development: package.development,
    })
}

fn check_signature(package: &Package, publisher: &VerifyingKey) -> Result<(), PackageError> {
    let signature = &package.signature;
    if signature.algorithm != "ed25519" {
        return Err(PackageError::Algorithm(clip(&signature.algorithm)));
    }
    let trusted = fingerprint(publisher);
    let named = hex::decode(&signature.public_key)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok());
    if let Some(signer) = named
        && signer != *publisher
    {
        return Err(PackageError::OtherSigner {
            signer: fingerprint(&signer),
            trusted,
        });
    }
    let value = hex::decode(&signature.value)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or_else(|| PackageError::BadSignature(trusted.clone()))?;
    publisher
        .verify_strict(&signed_bytes(package)?, &value)
        .map_err(|_| PackageError::BadSignature(trusted))
}

/// Package fields are the publisher's words: shown shortened, on one line.
fn clip(text: &str) -> String {
    crate::policy::display::line(text, 80)
}

fn first_line(text: &str) -> String {
    clip(text.lines().next().unwrap_or_default())
}

//! Which components this host can run (P6, C1): the `dema:integration` versions it implements,
//! and the imports it provides, judged by the WIT names of the component's top-level imports
//! and exports before anything is compiled.
//!
//! Versions follow the component model's semver rules: for `0.x`, each minor is its own
//! incompatible version (`0.1.3` runs here, `0.2.0` does not); from `1.0`, any later minor of
//! the same major works. WASI is accepted on its 0.2 track (any `0.2.x`), which wasmtime links
//! to the host's own 0.2 implementation.

use semver::Version;
use wasmtime::wasmparser::{ComponentExternalKind, ComponentTypeRef, Parser, Payload};

/// This project's own WIT package.
pub const WORLD_PACKAGE: &str = "dema:integration";
/// The `dema:integration` versions this host implements (the WIT in `wit/`).
pub const SUPPORTED_WORLD_VERSIONS: &[&str] = &["0.1.0"];
/// The interface a plugin must export.
pub const CONNECTOR: &str = "connector";

/// The interfaces of our own package a plugin may import.
const WORLD_IMPORTS: &[&str] = &["types", "http", "log"];
/// The WASI interfaces the host links (no filesystem, sockets or `wasi:http`).
const WASI_IMPORTS: &[(&str, &[&str])] = &[
    ("io", &["error", "poll", "streams"]),
    ("clocks", &["monotonic-clock", "wall-clock"]),
    ("random", &["random", "insecure", "insecure-seed"]),
    (
        "cli",
        &[
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        ],
    ),
];
/// The WASI track the host provides.
const WASI_TRACK: (u64, u64) = (0, 2);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorldError {
    #[error("the file is not a valid WebAssembly component: {0}")]
    NotAComponent(String),
    #[error(
        "the plugin was built against {WORLD_PACKAGE}@{found}; this host supports {WORLD_PACKAGE}@{supported}"
    )]
    UnsupportedVersion { found: String, supported: String },
    #[error("the plugin exports no `{WORLD_PACKAGE}/{CONNECTOR}` interface")]
    NoConnector,
    #[error(
        "the plugin mixes {WORLD_PACKAGE} versions ({0} and {1}); it must be built against one"
    )]
    MixedVersions(String, String),
    #[error("the plugin imports `{0}`, which this host does not provide")]
    ForbiddenImport(String),
    #[error(
        "the plugin's manifest says {WORLD_PACKAGE}@{manifest}, but it was built against @{built}"
    )]
    ManifestDisagrees { manifest: String, built: String },
}

/// One top-level import or export: its full name and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    /// `instance`, `func`, `type`, `component`, `module` or `value`.
    pub kind: &'static str,
}

/// A WIT interface name, `namespace:package/interface@version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceName {
    pub package: String,
    pub interface: String,
    pub version: Option<Version>,
}

impl InterfaceName {
    pub fn parse(name: &str) -> Option<InterfaceName> {
        let (path, version) = match name.split_once('@') {
            Some((path, version)) => (path, Some(Version::parse(version).ok()?)),
            None => (name, None),
        };
        let (package, interface) = path.split_once('/')?;
        package.split_once(':')?;
        Some(InterfaceName {
            package: package.to_string(),
            interface: interface.to_string(),
            version,
        })
    }
}

/// A component's top-level imports and exports, as its binary names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentWorld {
    pub imports: Vec<Item>,
    pub exports: Vec<Item>,
}

impl ComponentWorld {
    /// Reads the outer component's import and export sections (nested modules and components
    /// are skipped). Does not validate: loading and `verify` validate separately.
    pub fn read(bytes: &[u8]) -> Result<ComponentWorld, WorldError> {
        let mut world = ComponentWorld::default();
        let mut depth = 0usize;
        let mut is_component = false;
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(|e| {
                WorldError::NotAComponent(e.message().lines().next().unwrap_or("").to_string())
            })?;
            match payload {
                Payload::Version { encoding, .. } if depth == 0 => {
                    is_component = encoding == wasmtime::wasmparser::Encoding::Component;
                }
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ComponentImportSection(section) if depth == 0 => {
                    for import in section {
                        let import =
                            import.map_err(|e| WorldError::NotAComponent(e.to_string()))?;
                        world.imports.push(Item {
                            name: import.name.name.to_string(),
                            kind: type_ref_kind(&import.ty),
                        });
                    }
                }
                Payload::ComponentExportSection(section) if depth == 0 => {
                    for export in section {
                        let export =
                            export.map_err(|e| WorldError::NotAComponent(e.to_string()))?;
                        world.exports.push(Item {
                            name: export.name.name.to_string(),
                            kind: external_kind(export.kind),
                        });
                    }
                }
                _ => {}
            }
        }
        if !is_component {
            return Err(WorldError::NotAComponent(
                "it is a core module, not a component".into(),
            ));
        }
        Ok(world)
    }

    /// The `dema:integration` version the component was built against: that of its exported
    /// connector, which every import of our own package must share.
    pub fn world_version(&self) -> Result<Version, WorldError> {
        let connector = self
            .exports
            .iter()
            .filter_map(|item| InterfaceName::parse(&item.name))
            .find(|name| name.package == WORLD_PACKAGE && name.interface == CONNECTOR)
            .and_then(|name| name.version)
            .ok_or(WorldError::NoConnector)?;
        for item in self.imports.iter().chain(&self.exports) {
            if let Some(name) = InterfaceName::parse(&item.name)
                && name.package == WORLD_PACKAGE
                && name.version.as_ref() != Some(&connector)
            {
                let other = name.version.map(|v| v.to_string()).unwrap_or_default();
                return Err(WorldError::MixedVersions(connector.to_string(), other));
            }
        }
        Ok(connector)
    }

    /// Everything this host requires of a component's world: a supported `dema:integration`
    /// version, and imports only from the allowed set.
    pub fn check(&self) -> Result<Version, WorldError> {
        let version = self.world_version()?;
        check_supported(&version)?;
        if let Some(item) = self.imports.iter().find(|item| !import_allowed(item)) {
            return Err(WorldError::ForbiddenImport(item.name.clone()));
        }
        Ok(version)
    }
}

/// Refuses a version no supported one is compatible with, naming both.
pub fn check_supported(version: &Version) -> Result<(), WorldError> {
    let supported = SUPPORTED_WORLD_VERSIONS
        .iter()
        .filter_map(|v| Version::parse(v).ok())
        .collect::<Vec<_>>();
    if supported.iter().any(|host| compatible(host, version)) {
        return Ok(());
    }
    Err(WorldError::UnsupportedVersion {
        found: version.to_string(),
        supported: supported
            .iter()
            .map(track_name)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Whether a component built against `built` runs on a host implementing `host`.
pub fn compatible(host: &Version, built: &Version) -> bool {
    if host.major != built.major {
        return false;
    }
    if host.major == 0 {
        host.minor == built.minor
    } else {
        built.minor <= host.minor
    }
}

/// `0.1.x` for a 0.x version, `1.x` from 1.0: the range a version stands for.
fn track_name(version: &Version) -> String {
    if version.major == 0 {
        format!("0.{}.x", version.minor)
    } else {
        format!("{}.x", version.major)
    }
}

/// An import this host provides: an interface instance of our own package's (at a supported
/// version, checked with the world version) or of a linked WASI interface on the 0.2 track.
pub fn import_allowed(item: &Item) -> bool {
    if item.kind != "instance" {
        return false;
    }
    let Some(name) = InterfaceName::parse(&item.name) else {
        return false;
    };
    let Some(version) = &name.version else {
        return false;
    };
    if name.package == WORLD_PACKAGE {
        return WORLD_IMPORTS.contains(&name.interface.as_str())
            && SUPPORTED_WORLD_VERSIONS
                .iter()
                .filter_map(|v| Version::parse(v).ok())
                .any(|host| compatible(&host, version));
    }
    let Some(wasi_package) = name.package.strip_prefix("wasi:") else {
        return false;
    };
    (version.major, version.minor) == WASI_TRACK
        && version.pre.is_empty()
        && WASI_IMPORTS.iter().any(|(package, interfaces)| {
            *package == wasi_package && interfaces.contains(&name.interface.as_str())
        })
}

fn type_ref_kind(ty: &ComponentTypeRef) -> &'static str {
    match ty {
        ComponentTypeRef::Module(_) => "module",
        ComponentTypeRef::Func(_) => "func",
        ComponentTypeRef::Value(_) => "value",
        ComponentTypeRef::Type(_) => "type",
        ComponentTypeRef::Instance(_) => "instance",
        ComponentTypeRef::Component(_) => "component",
    }
}

fn external_kind(kind: ComponentExternalKind) -> &'static str {
    match kind {
        ComponentExternalKind::Module => "module",
        ComponentExternalKind::Func => "func",
        ComponentExternalKind::Value => "value",
        ComponentExternalKind::Type => "type",
        ComponentExternalKind::Instance => "instance",
        ComponentExternalKind::Component => "component",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|_| Version::new(99, 99, 99))
    }

    #[test]
    fn zero_minors_are_incompatible_and_one_point_minors_are_not() {
        assert!(compatible(&v("0.1.0"), &v("0.1.7")));
        assert!(!compatible(&v("0.1.0"), &v("0.2.0")));
        assert!(!compatible(&v("0.2.0"), &v("0.1.0")));
        assert!(compatible(&v("1.3.0"), &v("1.1.0")));
        assert!(
            !compatible(&v("1.1.0"), &v("1.3.0")),
            "a newer minor than the host"
        );
        assert!(!compatible(&v("1.0.0"), &v("2.0.0")));
    }

    #[test]
    fn unsupported_versions_name_both() {
        let error = check_supported(&v("0.2.0")).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "the plugin was built against dema:integration@0.2.0; this host supports dema:integration@0.1.x"
            )
        );
    }

    #[test]
    fn imports_are_allowed_by_package_interface_and_track() {
        let instance = |name: &str| Item {
            name: name.to_string(),
            kind: "instance",
        };
        for allowed in [
            "wasi:io/streams@0.2.0",
            "wasi:io/streams@0.2.12",
            "wasi:cli/terminal-stdout@0.2.3",
            "wasi:random/random@0.2.1",
            "dema:integration/http@0.1.0",
            "dema:integration/log@0.1.4",
        ] {
            assert!(import_allowed(&instance(allowed)), "{allowed}");
        }
        for refused in [
            "wasi:io/streams@0.3.0",
            "wasi:io/streams@0.2.0-rc-2023-11-10",
            "wasi:io/streams",
            "wasi:filesystem/types@0.2.0",
            "wasi:sockets/tcp@0.2.0",
            "wasi:http/outgoing-handler@0.2.0",
            "wasi:cli/terminal-evil@0.2.0",
            "dema:integration/http@0.2.0",
            "dema:integration/secrets@0.1.0",
            "evil:integration/http@0.1.0",
            "not-an-interface",
        ] {
            assert!(!import_allowed(&instance(refused)), "{refused}");
        }
        let func = Item {
            name: "wasi:io/streams@0.2.0".into(),
            kind: "func",
        };
        assert!(!import_allowed(&func), "only interface instances");
    }
}

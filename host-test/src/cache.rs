//! The compiled-component cache. A cached artifact is native code that wasmtime loads without
//! re-checking it, so: the key covers the wasm's sha256, the wasmtime version and the engine's
//! configuration; the directory is private (0700) and owned by us; files are written atomically
//! with mode 0600; and anything that does not meet those conditions is ignored and recompiled.

use std::fs;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// The component could not be compiled (it is not a valid component for this engine).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CompileError(String);

#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    /// `$DEMA_CACHE_DIR`, else `$XDG_CACHE_HOME/dema-host`, else `~/.cache/dema-host`.
    pub fn default_location() -> Option<CompileCache> {
        let dir = std::env::var_os("DEMA_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("dema-host"))
            })
            .or_else(|| std::env::home_dir().map(|home| home.join(".cache").join("dema-host")))?;
        Some(CompileCache { dir })
    }

    pub fn at(dir: impl Into<PathBuf>) -> CompileCache {
        CompileCache { dir: dir.into() }
    }

    /// Loads the compiled component from the cache, or compiles it and stores it. Cache
    /// problems never fail the load: they fall back to compiling.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        digest: &str,
    ) -> Result<Component, CompileError> {
        let path = self
            .dir
            .join(format!("{}.cwasm", cache_key(engine, digest)));
        if self.dir_is_private() && file_is_private(&path) {
            // SAFETY: the file is in our private directory, owned by us with mode 0600, and its
            // name binds the wasm digest, wasmtime version and engine configuration; wasmtime
            // also checks the artifact's own version and configuration header.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok(component);
            }
        }
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| CompileError(e.to_string()))?;
        if self.ensure_private_dir() {
            let _ = crate::private_file::write_private_atomically(&path, &compiled);
        }
        // SAFETY: these bytes were produced just now by this engine.
        unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| CompileError(e.to_string()))
    }

    fn ensure_private_dir(&self) -> bool {
        if !self.dir.exists() {
            let _ = fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir);
        }
        self.dir_is_private()
    }

    fn dir_is_private(&self) -> bool {
        fs::symlink_metadata(&self.dir).is_ok_and(|meta| {
            meta.is_dir() && meta.uid() == current_uid() && meta.permissions().mode() & 0o077 == 0
        })
    }
}

fn file_is_private(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|meta| {
        meta.is_file() && meta.uid() == current_uid() && meta.permissions().mode() & 0o077 == 0
    })
}

fn current_uid() -> u32 {
    // The owner of a directory we can always create: our own temporary file's metadata would
    // need a write; the process's uid is what we want.
    rustix::process::geteuid().as_raw()
}

fn cache_key(engine: &Engine, digest: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!(
        "{digest}-wasmtime{}-{:016x}",
        wasmtime_version(),
        hasher.finish()
    )
}

fn wasmtime_version() -> &'static str {
    "48.0.8"
}

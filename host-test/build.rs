//! Builds the Ingrid plugin for `wasm32-wasip2` and embeds it in `dema-host` as its default
//! plugin, so the binary needs no path or working directory to find it.
//!
//! The nested cargo uses its own target directory (a shared one deadlocks on the build lock)
//! and a clean environment of RUSTFLAGS-like variables meant for the host. Set
//! `DEMA_PLUGIN_WASM=path` to embed a prebuilt component instead.

#[path = "build/wasm_env.rs"]
mod wasm_env;

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host-test lives in the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let embedded = out_dir.join("ingrid_plugin.wasm");

    println!("cargo:rerun-if-env-changed=DEMA_PLUGIN_WASM");
    if let Ok(prebuilt) = env::var("DEMA_PLUGIN_WASM") {
        println!("cargo:rerun-if-changed={prebuilt}");
        std::fs::copy(&prebuilt, &embedded).expect("copy DEMA_PLUGIN_WASM");
        return;
    }
    println!("cargo:rerun-if-changed=build/wasm_env.rs");
    for path in ["src", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("plugin-build");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args(["build", "--locked", "--release", "-p", "ingrid-plugin"])
        .args(["--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    for var in wasm_env::HOST_ONLY_ENV {
        command.env_remove(var);
    }
    // Reproducible and free of machine paths: dependency sources and the workspace are named
    // by stable prefixes in panic locations.
    let cargo_home = env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env::var("HOME").unwrap_or_default()).join(".cargo"));
    let remap = format!(
        "--remap-path-prefix={}=/cargo --remap-path-prefix={}=/plugin",
        cargo_home.display(),
        root.display()
    );
    command.env("RUSTFLAGS", remap);
    let status = command.status().expect("run cargo to build the plugin");
    assert!(
        status.success(),
        "building the Ingrid plugin for wasm32-wasip2 failed"
    );
    let built = target_dir
        .join("wasm32-wasip2")
        .join("release")
        .join("ingrid_plugin.wasm");
    std::fs::copy(&built, &embedded).expect("copy the built plugin");
}

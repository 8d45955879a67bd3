//! Builds the Ingrid plugin for `wasm32-wasip2` and embeds it in `dema-host` as its default
//! plugin, so the binary needs no path or working directory to find it.
//!
//! The nested cargo uses its own target directory (a shared one deadlocks on the build lock)
//! and a clean environment of RUSTFLAGS-like variables meant for the host (only the path
//! remapping below is passed). Set `DEMA_PLUGIN_WASM=path` to embed a prebuilt component
//! instead. `make dist` packages exactly this build.

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
    let toolchain = out_dir.join("ingrid_plugin.rustc");

    println!("cargo:rerun-if-env-changed=DEMA_PLUGIN_WASM");
    if let Ok(prebuilt) = env::var("DEMA_PLUGIN_WASM") {
        println!("cargo:rerun-if-changed={prebuilt}");
        std::fs::copy(&prebuilt, &embedded).expect("copy DEMA_PLUGIN_WASM");
        std::fs::write(&toolchain, "unknown (DEMA_PLUGIN_WASM)").expect("write the toolchain");
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
    // Reproducible and free of machine paths and registry names: the workspace is `/plugin`,
    // the target directory `/target`, each registry's sources `/crates` (a later, more
    // specific prefix wins over an earlier one).
    let cargo_home = env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env::var("HOME").unwrap_or_default()).join(".cargo"));
    let mut remap = vec![
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
        format!("--remap-path-prefix={}=/plugin", root.display()),
        // Build scripts' generated sources (OUT_DIR), wherever the target directory is.
        format!("--remap-path-prefix={}=/target", target_dir.display()),
    ];
    if let Ok(registries) = std::fs::read_dir(cargo_home.join("registry").join("src")) {
        let mut registries: Vec<PathBuf> = registries.flatten().map(|e| e.path()).collect();
        registries.sort();
        for registry in registries {
            remap.push(format!(
                "--remap-path-prefix={}=/crates",
                registry.display()
            ));
        }
    }
    // The encoded form keeps a path with spaces one argument.
    command.env("CARGO_ENCODED_RUSTFLAGS", remap.join("\x1f"));
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
    // The toolchain that built it, for the package (`dema-host package`): the nested cargo
    // runs the same rustc as this build.
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    std::fs::write(&toolchain, version).expect("write the toolchain");
}

//! Builds the Ingrid plugin for `wasm32-wasip2` and embeds it in `dema-host` as its default
//! plugin, so the binary needs no path or working directory to find it.
//!
//! The nested cargo uses its own target directory (a shared one deadlocks on the build lock)
//! and a clean environment of RUSTFLAGS-like variables meant for the host (only the path
//! remapping below is passed). Set `DEMA_PLUGIN_WASM=path` to embed a prebuilt component
//! instead. `make dist` packages exactly this build.
//!
//! The linker writes the core module; `wasm-opt -Oz` (binaryen, installed by `make tools`)
//! shrinks it, and `wit-component` makes it the component, as `wasm-component-ld` would.

#[path = "build/wasm_env.rs"]
mod wasm_env;

use std::env;
use std::path::{Path, PathBuf};
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
        std::fs::write(out_dir.join("ingrid_plugin.optimiser"), "unknown")
            .expect("write the optimiser's version");
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
    // The linker writes the core module only: it is optimised before it becomes a component.
    remap.push("-Clink-arg=--skip-wit-component".to_string());
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
    let core = std::fs::read(&built).expect("read the built core module");
    let (core, optimiser) = optimise(&root, &target_dir, core);
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&core)
        .and_then(|mut encoder| encoder.encode())
        .expect("make the optimised core module a component");
    std::fs::write(&embedded, component).expect("write the plugin component");
    std::fs::write(out_dir.join("ingrid_plugin.optimiser"), optimiser)
        .expect("write the optimiser's version");
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

/// The binaryen release `make tools` installs; another version may give other bytes.
const WASM_OPT_VERSION: &str = "version 132";

/// `wasm-opt -Oz` over the core module (about a fifth smaller than LLVM's `opt-level = "z"`
/// alone). Found at `DEMA_WASM_OPT`, else where `make tools` installs it. Without it the
/// module is embedded as linked, with a warning, and the size test says what to run.
fn optimise(root: &Path, target_dir: &Path, core: Vec<u8>) -> (Vec<u8>, String) {
    println!("cargo:rerun-if-env-changed=DEMA_WASM_OPT");
    let wasm_opt = env::var_os("DEMA_WASM_OPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/tools/node_modules/.bin/wasm-opt"));
    let version = Command::new(&wasm_opt)
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string());
    let Some(version) = version else {
        println!(
            "cargo:warning=wasm-opt not found at {}: the plugin is embedded unoptimised (run `make tools`)",
            wasm_opt.display()
        );
        return (core, "none".to_string());
    };
    if !version.contains(WASM_OPT_VERSION) {
        println!(
            "cargo:warning={version} is not binaryen {WASM_OPT_VERSION}: the component may differ from a release build"
        );
    }
    let input = target_dir.join("ingrid_plugin.core.wasm");
    let output = target_dir.join("ingrid_plugin.opt.wasm");
    std::fs::write(&input, &core).expect("write the core module for wasm-opt");
    // The features rustc enables for wasm32-wasip2; wasm-opt refuses a module using others.
    let status = Command::new(&wasm_opt)
        .args(["-Oz", "--enable-bulk-memory", "--enable-sign-ext"])
        .args([
            "--enable-mutable-globals",
            "--enable-nontrapping-float-to-int",
        ])
        .args(["--enable-multivalue", "--enable-reference-types"])
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .status()
        .expect("run wasm-opt");
    assert!(
        status.success(),
        "wasm-opt failed on the plugin's core module"
    );
    let optimised = std::fs::read(&output).expect("read wasm-opt's output");
    (optimised, format!("{version} -Oz"))
}

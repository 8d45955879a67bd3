//! Distribution: the package a publisher signs, the checks an operator's host makes before
//! loading it, and the embedded component's size, validity and freedom from build-machine
//! facts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use host_test::EMBEDDED_PLUGIN;
use host_test::package::component::{ComponentFacts, validate};
use host_test::package::{self, BuildInfo, Package, PackageError, Toolchain, signed_bytes};
use host_test::policy::world::WorldError;
use host_test::session::{Session, Target};
use serde_json::Value;
use wasmtime::wasmparser::{Parser, Payload};

use crate::support::{fixtures, runtime};

/// The hard limit comparable plugin platforms set for one plugin binary.
const MAX_COMPONENT_BYTES: usize = 256 * 1024;

fn publisher() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn stranger() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn info() -> BuildInfo {
    BuildInfo {
        toolchain: Toolchain {
            rustc: "rustc 1.95.0".into(),
            target: "wasm32-wasip2".into(),
            profile: "release".into(),
            optimiser: None,
        },
        file: "plugin.wasm".into(),
        development: false,
    }
}

fn package_of(wasm: &[u8], key: &SigningKey) -> Package {
    package::build(wasm, info(), key).unwrap_or_else(|e| panic!("packaging: {e}"))
}

fn json(package: &Package) -> Vec<u8> {
    serde_json::to_vec_pretty(package).unwrap_or_default()
}

/// Signs a package as its publisher would, after changing it.
fn resign(mut package: Package, key: &SigningKey) -> Package {
    use ed25519_dalek::Signer;
    package.signature.public_key = hex::encode(key.verifying_key().as_bytes());
    let bytes = signed_bytes(&package).unwrap_or_default();
    package.signature.value = hex::encode(key.sign(&bytes).to_bytes());
    package
}

fn refusal(wasm: &[u8], package_json: &[u8]) -> PackageError {
    match package::verify(wasm, package_json, &publisher().verifying_key()) {
        Ok(verified) => panic!("accepted: {verified}"),
        Err(error) => error,
    }
}

#[test]
fn the_embedded_component_is_small_valid_and_free_of_build_machine_facts() {
    assert!(
        EMBEDDED_PLUGIN.len() <= MAX_COMPONENT_BYTES,
        "{} bytes, over the {MAX_COMPONENT_BYTES}-byte limit (optimiser: {}; `make tools` installs wasm-opt)",
        EMBEDDED_PLUGIN.len(),
        host_test::EMBEDDED_PLUGIN_OPTIMISER
    );
    validate(EMBEDDED_PLUGIN).unwrap_or_else(|e| panic!("{e}"));

    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let cargo_home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let text = String::from_utf8_lossy(EMBEDDED_PLUGIN);
    for needle in [
        workspace.as_str(),
        cargo_home.as_str(),
        env!("CARGO_TARGET_TMPDIR"),
        "/home/",
        "/root/",
        "registry/src",
        "crates.io",
        "github.com",
        today.as_str(),
    ] {
        assert!(
            !needle.is_empty() && !text.contains(needle),
            "{needle:?} is in the component"
        );
    }
}

#[test]
fn the_manifest_lives_in_the_core_module_and_equals_the_packages() {
    // Depth 1: inside the core module, where the host reads it; nowhere else.
    let mut depth = 0;
    let mut found = Vec::new();
    for payload in Parser::new(0).parse_all(EMBEDDED_PLUGIN).flatten() {
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::CustomSection(section) if section.name() == "dema:integration/manifest" => {
                found.push((depth, section.data().to_vec()))
            }
            _ => {}
        }
    }
    assert_eq!(found.len(), 1, "exactly one manifest section");
    assert_eq!(found[0].0, 1, "in the core module");

    let package = package_of(EMBEDDED_PLUGIN, &publisher());
    let written: Value = serde_json::from_slice(&json(&package)).unwrap_or_default();
    let embedded: Value = serde_json::from_slice(&found[0].1).unwrap_or_default();
    assert_eq!(written["manifest"], embedded);
    assert_eq!(written["id"], "ingrid-returns");
    assert_eq!(written["name"], "Ingrid Returns");
    assert_eq!(written["version"], embedded["version"]);
    assert_eq!(written["wit"]["package"], "dema:integration");
    assert_eq!(written["wit"]["version"], "0.1.0");
    assert_eq!(written["component"]["size"], EMBEDDED_PLUGIN.len());
    assert_eq!(written["signature"]["algorithm"], "ed25519");
    let tools = written["manifest"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(tools.len(), 9);

    let verified = package::verify(
        EMBEDDED_PLUGIN,
        &json(&package),
        &publisher().verifying_key(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let line = verified.to_string();
    assert!(
        line.starts_with("verified ingrid-returns 0.2.0: sha256 "),
        "{line}"
    );
    assert!(!line.contains('\n'));
}

#[test]
fn each_tampering_is_refused_with_its_reason() {
    let signed = package_of(EMBEDDED_PLUGIN, &publisher());

    // A tampered byte anywhere in the component, even one that leaves it unparsable: the
    // digest is checked before any byte is parsed.
    let len = EMBEDDED_PLUGIN.len();
    for at in [0, 9, len / 3, len / 2, len - 1] {
        let mut tampered = EMBEDDED_PLUGIN.to_vec();
        tampered[at] ^= 0x01;
        let error = refusal(&tampered, &json(&signed));
        assert!(
            matches!(error, PackageError::Digest { .. }),
            "byte {at}: {error}"
        );
        assert!(
            error
                .to_string()
                .contains("not the component that was signed")
        );
    }

    // Signed by someone else than the trusted publisher.
    let error = refusal(
        EMBEDDED_PLUGIN,
        &json(&package_of(EMBEDDED_PLUGIN, &stranger())),
    );
    assert!(matches!(error, PackageError::OtherSigner { .. }), "{error}");

    // The JSON changed after signing.
    let mut edited = signed.clone();
    edited.version = "9.9.9".into();
    let error = refusal(EMBEDDED_PLUGIN, &json(&edited));
    assert!(matches!(error, PackageError::BadSignature(_)), "{error}");
    let mut relabelled = signed.clone();
    relabelled.development = true;
    assert!(matches!(
        refusal(EMBEDDED_PLUGIN, &json(&relabelled)),
        PackageError::BadSignature(_)
    ));

    // Another component's package (same publisher) beside this component.
    let acme = package_of(&fixtures().acme, &publisher());
    let error = refusal(EMBEDDED_PLUGIN, &json(&acme));
    assert!(matches!(error, PackageError::Digest { .. }), "{error}");

    // A package whose manifest is not the embedded one, though properly signed.
    let mut widened = signed.clone();
    widened.manifest["egress"][0]["host"] = Value::from("evil.example");
    let error = refusal(EMBEDDED_PLUGIN, &json(&resign(widened, &publisher())));
    assert!(matches!(error, PackageError::ManifestDiffers(_)), "{error}");

    // Not a package at all, or too large to be one.
    assert!(matches!(
        refusal(EMBEDDED_PLUGIN, b"{}"),
        PackageError::Malformed(_)
    ));
    let huge = vec![b' '; package::MAX_PACKAGE_BYTES + 1];
    assert!(matches!(
        refusal(EMBEDDED_PLUGIN, &huge),
        PackageError::TooLarge
    ));
}

#[test]
fn a_package_of_an_unsupported_world_version_is_refused() {
    let future = &fixtures().future_world;
    // The publisher's tool refuses to package it for this host...
    let error = package::build(future, info(), &publisher()).err();
    assert!(matches!(
        error,
        Some(PackageError::World(WorldError::UnsupportedVersion { .. }))
    ));
    // ...and a package made elsewhere is refused by the operator's host, naming both versions.
    let facts = ComponentFacts::read(future).unwrap_or_else(|e| panic!("{e}"));
    let mut elsewhere = package_of(EMBEDDED_PLUGIN, &publisher());
    elsewhere.id = facts.manifest.id.clone();
    elsewhere.version = facts.manifest.version.clone();
    elsewhere.wit.version = "0.2.0".into();
    elsewhere.component.sha256 = facts.sha256.clone();
    elsewhere.component.size = facts.size;
    elsewhere.manifest = facts.manifest_json.clone();
    let error = refusal(future, &json(&resign(elsewhere, &publisher())));
    assert_eq!(
        error.to_string(),
        "the plugin was built against dema:integration@0.2.0; this host supports dema:integration@0.1.x"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_built_against_another_world_version_is_refused_at_load() {
    let loaded = Session::builder(&fixtures().future_world)
        .runtime(runtime())
        .target(Target::EmbeddedSimulator)
        .cache(Some(&fixtures().cache))
        .start()
        .await;
    let message = match loaded {
        Ok(_) => panic!("a dema:integration@0.2.0 component loaded"),
        Err(error) => error.to_string(),
    };
    assert!(message.contains("dema:integration@0.2.0"), "{message}");
    assert!(message.contains("dema:integration@0.1.x"), "{message}");
}

// The CLI: `package`, `inspect`, `verify`, and `--plugin` with a package beside it.

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dema-dist-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn dema_host<S: AsRef<std::ffi::OsStr>>(home: &Path, args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dema-host"))
        .args(args)
        .env_remove("DEMA_PUBLISHER_KEY_FILE")
        .env_remove("INGRID_API_KEY")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("DEMA_CACHE_DIR", home.join("cache"))
        .output()
        .unwrap_or_else(|e| panic!("running dema-host: {e}"))
}

fn one_error_line(output: &Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "should fail: {err}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

#[test]
fn a_publisher_packages_and_an_operator_verifies_inspects_and_loads() {
    let dir = scratch("cli");
    let out = dir.join("dist");
    let out_arg = out.display().to_string();
    let packaged = dema_host(&dir, &["package", "--out-dir", &out_arg]);
    assert!(
        packaged.status.success(),
        "{}",
        String::from_utf8_lossy(&packaged.stderr)
    );
    let stdout = String::from_utf8_lossy(&packaged.stdout);
    assert!(stdout.contains("development build"), "{stdout}");
    let wasm = out.join("ingrid-returns-0.2.0.wasm");
    let json_path = out.join("ingrid-returns-0.2.0.json");
    let dev_key = out.join("ingrid-returns-0.2.0.dev-key.pub.pem");
    assert_eq!(std::fs::read(&wasm).unwrap_or_default(), EMBEDDED_PLUGIN);
    let written: Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap_or_default()).unwrap_or_default();
    assert_eq!(written["development"], true);
    assert!(
        written["toolchain"]["rustc"]
            .as_str()
            .unwrap_or("")
            .starts_with("rustc ")
    );

    let [wasm_arg, json_arg, dev_key_arg] =
        [&wasm, &json_path, &dev_key].map(|p| p.display().to_string());
    let verified = dema_host(
        &dir,
        &[
            "verify",
            &wasm_arg,
            &json_arg,
            "--publisher-key",
            &dev_key_arg,
        ],
    );
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let line = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains("development build"), "{line}");

    let inspected = dema_host(&dir, &["inspect", &wasm_arg]);
    let shown = String::from_utf8_lossy(&inspected.stdout);
    for expected in [
        "sha256   ",
        "dema:integration/connector@0.1.0",
        "dema:integration/http@0.1.0",
        "wasi:io/poll@0.2.",
        "report_returned_items              write (asks first)",
        "\"credentialSlots\"",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }

    // `--plugin` with the package beside it: needs the publisher's key, then verifies.
    let plugin_args = |key: Option<&str>| -> Vec<String> {
        let mut args = vec![wasm_arg.clone(), "--accept-plugin".into()];
        args.insert(0, "--plugin".into());
        if let Some(key) = key {
            args.extend(["--publisher-key".into(), key.to_string()]);
        }
        args.push("tools".into());
        args
    };
    let no_key = dema_host(&dir, &plugin_args(None));
    assert!(one_error_line(&no_key).contains("--publisher-key"));
    let loaded = dema_host(&dir, &plugin_args(Some(&dev_key_arg)));
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("list_returns"));

    // A wrong key and a tampered byte are refused, by `verify` and at load.
    let stranger_pem = dir.join("stranger.pub.pem");
    let pem = stranger()
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap_or_default();
    let _ = std::fs::write(&stranger_pem, pem);
    let stranger_arg = stranger_pem.display().to_string();
    let wrong_key = dema_host(
        &dir,
        &[
            "verify",
            &wasm_arg,
            &json_arg,
            "--publisher-key",
            &stranger_arg,
        ],
    );
    assert!(one_error_line(&wrong_key).contains("not by the publisher key"));
    let mut bytes = EMBEDDED_PLUGIN.to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let _ = std::fs::write(&wasm, &bytes);
    let tampered = dema_host(
        &dir,
        &[
            "verify",
            &wasm_arg,
            &json_arg,
            "--publisher-key",
            &dev_key_arg,
        ],
    );
    assert!(one_error_line(&tampered).contains("not the component that was signed"));
    let refused = dema_host(&dir, &plugin_args(Some(&dev_key_arg)));
    assert!(one_error_line(&refused).contains("not the component that was signed"));
    let _ = std::fs::remove_dir_all(&dir);
}

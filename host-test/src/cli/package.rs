//! `dema-host package`: the publisher's side of distribution (`make dist`). Writes
//! `<id>-<version>.wasm` and `<id>-<version>.json` (see [`crate::package`]), signed by the key
//! in the file `DEMA_PUBLISHER_KEY_FILE` names; without one, by a throwaway key whose public
//! half is written beside them, and the package says it is a development build.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::package::{self, BuildInfo, Toolchain, keys};
use crate::{EMBEDDED_PLUGIN, EMBEDDED_PLUGIN_OPTIMISER, EMBEDDED_PLUGIN_RUSTC};

#[derive(Args)]
pub struct PackageArgs {
    /// The component to package (default: the plugin built into this binary, which is the
    /// workspace's release build).
    #[arg(long, value_name = "PATH")]
    pub wasm: Option<PathBuf>,
    /// Where to write the package.
    #[arg(long, value_name = "DIR", default_value = "dist")]
    pub out_dir: PathBuf,
    /// The `rustc --version` that built `--wasm` (known for the embedded plugin).
    #[arg(long, value_name = "TEXT")]
    pub rustc: Option<String>,
}

pub fn run(args: &PackageArgs) -> Result<ExitCode, CliError> {
    let wasm = match &args.wasm {
        Some(path) => std::fs::read(path).map_err(|source| CliError::ReadPlugin {
            path: path.display().to_string(),
            source,
        })?,
        None => EMBEDDED_PLUGIN.to_vec(),
    };
    let rustc = args.rustc.clone().unwrap_or_else(|| match &args.wasm {
        Some(_) => "unknown".to_string(),
        None => EMBEDDED_PLUGIN_RUSTC.to_string(),
    });
    let named = std::env::var_os(keys::PUBLISHER_KEY_ENV).filter(|path| !path.is_empty());
    let (key, development) = match named {
        Some(path) => (keys::signing_key_from_file(Path::new(&path))?, false),
        None => (keys::throwaway_key()?, true),
    };
    let facts = package::component::ComponentFacts::read(&wasm).map_err(CliError::Package)?;
    let stem = file_stem(&facts.manifest.id, &facts.manifest.version)?;
    let info = BuildInfo {
        toolchain: Toolchain {
            rustc,
            target: "wasm32-wasip2".to_string(),
            profile: "release".to_string(),
            optimiser: match &args.wasm {
                Some(_) => None,
                None => Some(EMBEDDED_PLUGIN_OPTIMISER.to_string()),
            },
        },
        file: format!("{stem}.wasm"),
        development,
    };
    let built = package::build(&wasm, info, &key).map_err(|e| CliError::Package(e.to_string()))?;
    let json = serde_json::to_vec_pretty(&built).map_err(|e| CliError::Package(e.to_string()))?;

    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, CliError> {
        let path = args.out_dir.join(name);
        std::fs::create_dir_all(&args.out_dir)
            .and_then(|()| std::fs::write(&path, bytes))
            .map_err(|source| CliError::Write {
                path: path.display().to_string(),
                source,
            })?;
        Ok(path)
    };
    let wasm_path = write(&built.component.file, &wasm)?;
    let json_path = write(&format!("{stem}.json"), &[json.as_slice(), b"\n"].concat())?;
    println!(
        "{} ({} bytes, sha256 {})",
        wasm_path.display(),
        built.component.size,
        built.component.sha256
    );
    println!("{}", json_path.display());
    let signer = package::fingerprint(&key.verifying_key());
    if development {
        let pem = keys::public_key_pem(&key.verifying_key())?;
        let pem_path = write(&format!("{stem}.dev-key.pub.pem"), pem.as_bytes())?;
        println!(
            "a development build, signed by the throwaway key {signer} (public key: {}); set {} to sign a release",
            pem_path.display(),
            keys::PUBLISHER_KEY_ENV
        );
    } else {
        println!("signed by {signer}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `<id>-<version>`, when both are safe in a file name (they are the plugin's words).
fn file_stem(id: &str, version: &str) -> Result<String, CliError> {
    let safe = |text: &str| {
        !text.is_empty()
            && text.len() <= 64
            && !text.starts_with('.')
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
    };
    if safe(id) && safe(version) {
        Ok(format!("{id}-{version}"))
    } else {
        Err(CliError::Package(
            "the manifest's id or version cannot name a file (use a-z, 0-9, -, _, ., +)".into(),
        ))
    }
}

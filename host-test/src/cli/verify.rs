//! `dema-host verify <wasm> <json> --publisher-key FILE`: the operator's check of a package
//! before installing it. Exit 0 with a one-line summary, or one `error:` line with the reason.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{CliError, Options};
use crate::package::{self, Verified, keys};

#[derive(Args)]
pub struct VerifyArgs {
    /// The component (`.wasm`).
    pub wasm: PathBuf,
    /// Its package file (`.json`).
    pub package: PathBuf,
}

pub fn run(options: &Options, args: &VerifyArgs) -> Result<ExitCode, CliError> {
    let key = options
        .publisher_key
        .as_deref()
        .ok_or(CliError::NoPublisherKey)?;
    let verified = verify_files(&args.wasm, &args.package, key)?;
    println!("{verified}");
    Ok(ExitCode::SUCCESS)
}

/// Reads the component and runs every check of [`package::verify`].
pub fn verify_files(wasm: &Path, json: &Path, key: &Path) -> Result<Verified, CliError> {
    let wasm = std::fs::read(wasm).map_err(|source| CliError::ReadPlugin {
        path: wasm.display().to_string(),
        source,
    })?;
    verify_bytes(&wasm, json, key)
}

/// Verifies a component's bytes against the package file at `json`, signed by `key`'s owner.
pub fn verify_bytes(wasm: &[u8], json: &Path, key: &Path) -> Result<Verified, CliError> {
    let publisher = keys::verifying_key_from_file(key)?;
    // A package file is read only up to its cap (it is the publisher's, not yet trusted).
    let length = std::fs::metadata(json).map(|m| m.len()).unwrap_or(0);
    if length > package::MAX_PACKAGE_BYTES as u64 {
        return Err(CliError::Package(
            package::PackageError::TooLarge.to_string(),
        ));
    }
    let json = std::fs::read(json).map_err(|source| CliError::ReadPlugin {
        path: json.display().to_string(),
        source,
    })?;
    package::verify(wasm, &json, &publisher).map_err(|e| CliError::Package(e.to_string()))
}

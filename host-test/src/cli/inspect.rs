//! `dema-host inspect <wasm>`: what a component is, from its bytes alone (nothing of it runs):
//! identity, digest and size, its world (imports and exports by WIT name and version, and
//! whether this host runs it), its tools and their effects, and the manifest it embeds.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::manifest::Effect;
use crate::package::component::ComponentFacts;
use crate::policy::display;
use crate::policy::world::{WORLD_PACKAGE, import_allowed};

#[derive(Args)]
pub struct InspectArgs {
    /// The component (`.wasm`).
    pub wasm: PathBuf,
}

/// Imports and exports listed by name; a component with more is not one this host runs.
const MAX_LISTED: usize = 100;

fn more(count: usize) {
    if count > MAX_LISTED {
        println!("  … and {} more", count - MAX_LISTED);
    }
}

pub fn run(args: &InspectArgs) -> Result<ExitCode, CliError> {
    let wasm = std::fs::read(&args.wasm).map_err(|source| CliError::ReadPlugin {
        path: args.wasm.display().to_string(),
        source,
    })?;
    let facts = ComponentFacts::read(&wasm).map_err(CliError::Package)?;
    // Every name below is the plugin's: each passes the output layer on its way out.
    let safe = |text: &str| display::line(text, 200);
    let manifest = &facts.manifest;
    println!(
        "{} {} ({})",
        safe(&manifest.id),
        safe(&manifest.version),
        safe(manifest.display_name())
    );
    println!("sha256   {}", facts.sha256);
    println!("size     {} bytes", facts.size);
    let runs = match facts.world.check() {
        Ok(version) => format!("{WORLD_PACKAGE}@{version}, runs on this host"),
        Err(error) => format!("does not run on this host: {}", safe(&error.to_string())),
    };
    println!("world    {runs}");
    println!("imports");
    for item in facts.world.imports.iter().take(MAX_LISTED) {
        let mark = if import_allowed(item) {
            ""
        } else {
            "  (not provided)"
        };
        println!("  {:<44} {}{mark}", safe(&item.name), item.kind);
    }
    more(facts.world.imports.len());
    println!("exports");
    for item in facts.world.exports.iter().take(MAX_LISTED) {
        println!("  {:<44} {}", safe(&item.name), item.kind);
    }
    more(facts.world.exports.len());
    println!("tools");
    for tool in &manifest.tools {
        let mut flags = vec![match tool.effect {
            Effect::Read => "read",
            Effect::Write => "write (asks first)",
        }];
        for (set, name) in [
            (tool.destructive, "destructive"),
            (tool.idempotent, "idempotent"),
            (tool.open_world, "open-world"),
        ] {
            if set {
                flags.push(name);
            }
        }
        println!("  {:<34} {}", safe(&tool.name), flags.join(", "));
    }
    println!("manifest");
    let pretty = serde_json::to_string_pretty(&facts.manifest_json).unwrap_or_default();
    for line in pretty.lines() {
        println!("  {}", safe(line));
    }
    Ok(ExitCode::SUCCESS)
}

//! `dema-host`, the command-line face: one file per subcommand, the shared flags in
//! [`options`], session set-up (install consent, audit log, cache) in [`setup`], and the
//! terminal's confirmer in [`prompt`]. The binary (`src/bin/dema-host.rs`) only dispatches.
//! A new subcommand is a file here, a variant of [`Command`] and one arm in [`run`].

pub mod call;
pub mod connect;
pub mod demo;
mod error;
pub mod inspect;
pub mod mcp;
pub mod options;
pub mod package;
pub mod probe;
pub mod prompt;
pub mod setup;
pub mod sim;
pub mod tools;
pub mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::CliError;

use crate::policy::display;
pub use options::Options;

/// Run the Dema integration plugin (Ingrid Returns) in a sandboxed wasmtime host.
#[derive(Parser)]
#[command(name = "dema-host", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub options: Options,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// List the plugin's tools.
    Tools,
    /// Call one tool with JSON arguments, e.g. `call list_returns '{"status":"IN_TRANSIT"}'`.
    Call(call::CallArgs),
    /// Check that the plugin can reach its service with the configured key; with `--new-key`,
    /// validate a new key and only then store it in place of the old one.
    Connect(connect::ConnectArgs),
    /// Check each of the plugin's read paths once (`limit=1`, then a get of the first id) and
    /// report whether it answers as the plugin models it; field names only, never data or the
    /// key. Use with `--live` to check production.
    Probe,
    /// Run the Ingrid simulator alone on 127.0.0.1 until interrupted.
    Sim(sim::SimArgs),
    /// A short scripted session against the embedded simulator.
    Demo,
    /// Serve the plugin's tools to an agent as an MCP server on stdin/stdout; changes are
    /// confirmed by the person through the client's elicitation form.
    Mcp(mcp::McpArgs),
    /// Show what a component is, from its bytes alone: manifest, digest and size, imports and
    /// exports with their WIT versions, tools and their effects.
    Inspect(inspect::InspectArgs),
    /// Check a package before installing it: signature, digest, embedded manifest, WIT version
    /// and imports. Needs --publisher-key.
    Verify(verify::VerifyArgs),
    /// As a publisher, write the signed package (`make dist`): `<id>-<version>.wasm` and
    /// `.json`, signed by the key file DEMA_PUBLISHER_KEY_FILE names (else a throwaway key).
    Package(package::PackageArgs),
}

/// Never a backtrace for a person: a defect is reported as one line.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_string());
        eprintln!("error: internal error in dema-host: {message}");
    }));
}

/// Runs one command to its exit status; every error is one `error:` line on stderr.
pub fn main(cli: Cli) -> ExitCode {
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::AsyncRuntime)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match outcome {
        Ok(code) => code,
        Err(error) => {
            // One line, whatever the message's source; plugin words in it are made safe.
            let message = error.to_string();
            let line: Vec<&str> = message.split_whitespace().collect();
            eprintln!("error: {}", display::line(&line.join(" "), 1_000));
            ExitCode::from(2)
        }
    }
}

pub async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let options = &cli.options;
    match &cli.command {
        Command::Tools => tools::run(options).await,
        Command::Call(args) => call::run(options, args).await,
        Command::Connect(args) => connect::run(options, args).await,
        Command::Probe => probe::run(options).await,
        Command::Sim(args) => sim::run(args).await,
        Command::Demo => demo::run(options).await,
        Command::Mcp(args) => mcp::run(options, args).await,
        Command::Inspect(args) => inspect::run(args),
        Command::Verify(args) => verify::run(options, args),
        Command::Package(args) => package::run(args),
    }
}

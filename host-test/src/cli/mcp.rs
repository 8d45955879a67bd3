//! `dema-host mcp`: the plugin served to agents as an MCP server on stdin and stdout, against
//! the embedded simulator by default (its state lives as long as the server), `--sim URL` or
//! `--live`. stdout carries protocol messages only; this command's own lines go to stderr.
//! There is no flag to approve changes: only the person, asked through the client's
//! elicitation form, can.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::{CliError, Options, setup};
use crate::mcp::{self, ServerOptions};
use crate::policy::display;

#[derive(Args)]
pub struct McpArgs {
    /// Seconds the person has to answer a confirmation in the client before the change is
    /// dropped (keep it below the client's own request timeout).
    #[arg(long, value_name = "SECS", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub confirm_timeout: u64,
}

pub async fn run(options: &Options, args: &McpArgs) -> Result<ExitCode, CliError> {
    let session = setup::open_session(options, None).await?;
    let manifest = session.plugin().manifest();
    let target = match session.simulator() {
        Some(_) => format!("the embedded simulator at {}", session.base_url()),
        None => session.base_url().to_string(),
    };
    eprintln!(
        "dema-host mcp: serving {} {} ({} tools) on stdio; requests go to {target}",
        display::line(&manifest.id, 64),
        display::line(&manifest.version, 32),
        session.plugin().tools().len(),
    );
    let served = mcp::serve_stdio(
        session,
        ServerOptions {
            confirm_timeout: Duration::from_secs(args.confirm_timeout),
            verbose: options.verbose,
        },
    )
    .await;
    match served {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => Err(CliError::Mcp(error)),
    }
}

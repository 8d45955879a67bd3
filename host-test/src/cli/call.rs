//! `dema-host call TOOL ARGS`: one tool call; a proposed change is asked about on the terminal,
//! approved in advance with `--yes`, and refused with neither.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;

use super::prompt::TerminalPrompt;
use super::{CliError, Options, setup};
use crate::policy::confirm::{Confirmer, NoHuman, PersonApprovedInAdvance};
use crate::policy::display::{self, MESSAGE, RESULT};
use crate::runtime::CallReport;
use crate::session::{Session, ToolCall};

#[derive(Args)]
pub struct CallArgs {
    /// The tool's name, as `tools` lists it.
    pub tool: String,
    /// The arguments as one JSON object.
    #[arg(default_value = "{}")]
    pub arguments: String,
    /// Print the structured JSON result instead of the text summary.
    #[arg(long)]
    pub json: bool,
    /// Approve the proposed change yourself, in advance, without a prompt (for scripts you
    /// run). Without it a change is applied only after you answer `y` on a terminal.
    #[arg(long)]
    pub yes: bool,
}

pub async fn run(options: &Options, args: &CallArgs) -> Result<ExitCode, CliError> {
    let session = setup::open_session(options, None).await?;
    let confirmer: &dyn Confirmer = if args.yes {
        &PersonApprovedInAdvance
    } else if std::io::stdin().is_terminal() {
        &TerminalPrompt
    } else {
        &NoHuman
    };
    let code = call(
        &session,
        &args.tool,
        &args.arguments,
        args.json,
        options.verbose,
        confirmer,
    )
    .await;
    session.shutdown().await;
    code
}

/// Calls one tool and prints its outcome: the result on stdout, anything else as one `error:`
/// line on stderr.
pub async fn call(
    session: &Session,
    tool: &str,
    arguments: &str,
    json: bool,
    verbose: bool,
    confirmer: &dyn Confirmer,
) -> Result<ExitCode, CliError> {
    let (outcome, report) = session
        .call(tool, arguments, confirmer)
        .await
        .map_err(|failure| CliError::Call {
            tool: tool.to_string(),
            failure,
        })?;
    if verbose {
        print_report(&report);
    }
    Ok(match outcome {
        ToolCall::Result(result) if !result.is_error => {
            // Plugin text reaches the terminal only through the one output layer (display).
            match (json, &result.structured) {
                (true, Some(structured)) => println!("{}", display::strip(structured)),
                _ => println!("{}", display::block(&result.text, RESULT)),
            }
            ExitCode::SUCCESS
        }
        ToolCall::Result(result) => {
            eprintln!("error: {}", display::block(&result.text, MESSAGE));
            ExitCode::from(1)
        }
        ToolCall::NotConfirmed { answer, .. } => {
            eprintln!("error: not applied: {}", answer.why_not_applied());
            ExitCode::from(1)
        }
        ToolCall::Refused(reason) => {
            let reason = display::block(&reason, MESSAGE);
            eprintln!("error: not applied: {reason}");
            ExitCode::from(1)
        }
        ToolCall::InvalidArguments(message) => {
            let message = display::block(&message, MESSAGE);
            eprintln!("error: invalid arguments for {tool}: {message}");
            ExitCode::from(2)
        }
        ToolCall::UnknownTool(name) => {
            let name = display::line(&name, 64);
            eprintln!("error: unknown tool `{name}`; `dema-host tools` lists them");
            ExitCode::from(2)
        }
        ToolCall::PluginError(message) => {
            let message = display::block(&message, MESSAGE);
            eprintln!("error: the plugin failed: {message}");
            ExitCode::from(1)
        }
    })
}

fn print_report(report: &CallReport) {
    for request in &report.requests {
        eprintln!(
            "  {} {}{} -> {} ({} bytes, {:.1} ms)",
            request.method,
            request.host,
            request.path,
            request
                .status
                .map_or("no response".to_string(), |s| s.to_string()),
            request.response_bytes,
            request.duration.as_secs_f64() * 1000.0
        );
    }
    for (level, line) in &report.logs {
        eprintln!("  plugin log [{level:?}]: {}", display::line(line, 400));
    }
    eprintln!(
        "  fuel used: {}, call time: {:.1} ms",
        report.fuel_used,
        report.duration.as_secs_f64() * 1000.0
    );
}

//! `dema-host`: loads the Ingrid plugin component the way Dema's plugin host does and lets a
//! person use it from a terminal, against the embedded simulator by default.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use host_test::cache::CompileCache;
use host_test::credentials;
use host_test::manifest::Manifest;
use host_test::outbound::Secret;
use host_test::policy::audit::AuditLog;
use host_test::policy::confirm::{
    ConfirmationRequest, Confirmer, NoHuman, PersonApprovedInAdvance,
};
use host_test::policy::install::{InstallCheck, InstallRecord, InstallStore};
use host_test::runtime::{CallReport, Limits, Runtime};
use host_test::session::{Session, Target, ToolCall};
use host_test::{EMBEDDED_PLUGIN, simulator};
use sha2::{Digest, Sha256};

/// Run the Dema integration plugin (Ingrid Returns) in a sandboxed wasmtime host.
#[derive(Parser)]
#[command(name = "dema-host", version, about, long_about = None)]
struct Cli {
    /// A plugin component to load instead of the embedded Ingrid plugin.
    #[arg(long, global = true, value_name = "PATH")]
    plugin: Option<PathBuf>,
    /// Send the plugin's requests to a simulator already running at this loopback URL.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "live")]
    sim: Option<String>,
    /// Use Ingrid production over TLS, with the key from INGRID_API_KEY or the credentials file.
    #[arg(long, global = true)]
    live: bool,
    /// Append the audit log here (default: ~/.local/state/dema-host/audit.jsonl, or
    /// $DEMA_AUDIT_LOG).
    #[arg(long, global = true, value_name = "PATH")]
    audit_log: Option<PathBuf>,
    /// As the operator, consent to installing the `--plugin` component, or to an update that
    /// widens what it may do (hosts, credential slots, write tools). Without it you are asked
    /// on a terminal, and refused without one.
    #[arg(long, global = true)]
    accept_plugin: bool,
    /// Wall-time limit of one plugin call, in seconds (time waiting on Ingrid included).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    deadline: u64,
    /// Limit of the plugin's total memory, in MiB.
    #[arg(long, global = true, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(8..=1024))]
    memory_mib: u64,
    /// HTTP requests one call may send.
    #[arg(long, global = true, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_requests: u32,
    /// Do not use or fill the compiled-component cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// Also print the requests the plugin made, fuel used and the plugin's log lines.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the plugin's tools.
    Tools,
    /// Call one tool with JSON arguments, e.g. `call list_returns '{"status":"IN_TRANSIT"}'`.
    Call {
        /// The tool's name, as `tools` lists it.
        tool: String,
        /// The arguments as one JSON object.
        #[arg(default_value = "{}")]
        arguments: String,
        /// Print the structured JSON result instead of the text summary.
        #[arg(long)]
        json: bool,
        /// Approve the proposed change yourself, in advance, without a prompt (for scripts you
        /// run). Without it a change is applied only after you answer `y` on a terminal.
        #[arg(long)]
        yes: bool,
    },
    /// Check that the plugin can reach Ingrid with the configured key; with `--new-key`,
    /// validate a new key and only then store it in place of the old one.
    Connect {
        /// Read a new key (no-echo prompt on a terminal, else one line of stdin; never from the
        /// command line), validate it, then store it in the credentials file.
        #[arg(long)]
        new_key: bool,
    },
    /// Check each Ingrid read path once (`limit=1`, then a get of the first id) and report
    /// whether it answers as this plugin models it; field names only, never data or the key.
    /// Use with `--live` to check Ingrid production.
    Probe,
    /// Run the Ingrid simulator alone on 127.0.0.1 until interrupted.
    Sim {
        /// The port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// A short scripted session against the embedded simulator.
    Demo,
}

fn main() -> ExitCode {
    // Never a backtrace for a person: a defect is reported as one line.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_string());
        eprintln!("error: internal error in dema-host: {message}");
    }));
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(message) => {
            // One line, whatever the message's source.
            let line: Vec<&str> = message.split_whitespace().collect();
            eprintln!("error: {}", line.join(" "));
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    match &cli.command {
        Command::Sim { port } => return run_simulator(*port).await,
        Command::Demo => return demo(&cli).await,
        Command::Connect { new_key: true } => return rotate_key(&cli).await,
        _ => {}
    }
    let session = start_session(&cli, None).await?;
    let code = match &cli.command {
        Command::Tools => {
            print_tools(&session);
            ExitCode::SUCCESS
        }
        Command::Call {
            tool,
            arguments,
            json,
            yes,
        } => {
            let confirmer: &dyn Confirmer = if *yes {
                &PersonApprovedInAdvance
            } else if std::io::stdin().is_terminal() {
                &TerminalPrompt
            } else {
                &NoHuman
            };
            call(&session, tool, arguments, *json, cli.verbose, confirmer).await?
        }
        Command::Connect { .. } => match session.connect().await.map_err(|e| e.to_string())? {
            Ok(info) => {
                println!("{}", info.message);
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {}", connect_error_text(&error));
                ExitCode::from(1)
            }
        },
        Command::Probe => probe(&session).await?,
        Command::Sim { .. } | Command::Demo => ExitCode::SUCCESS,
    };
    session.shutdown().await;
    Ok(code)
}

/// The operator's install record (C8): a `--plugin` component that is new, or an update that
/// widens its grant, needs consent. The embedded plugin is part of the binary the operator
/// installed, so its record is written without asking (and shown when it widens).
///
/// This runs on the manifest and digest alone, before any of the plugin's code runs.
fn check_install(cli: &Cli, wasm: &[u8]) -> Result<(), String> {
    let Ok(manifest) = Manifest::from_component(wasm) else {
        return Ok(()); // Loading refuses it with the precise reason.
    };
    let digest = hex::encode(Sha256::digest(wasm));
    let store = InstallStore::default_location().ok_or("no config directory: set HOME")?;
    let candidate = InstallRecord::of(&manifest, &digest);
    match store.check(&manifest.id, &candidate)? {
        InstallCheck::Installed => Ok(()),
        InstallCheck::NarrowUpdate => store.record(&manifest.id, candidate),
        InstallCheck::NeedsConsent {
            new_plugin,
            widened,
        } => {
            let what = if new_plugin { "Install" } else { "Update" };
            let question = format!(
                "{what} plugin {} {} (sha256 {}…)? It may {}.",
                manifest.id,
                manifest.version,
                &digest[..12],
                widened.join(", ")
            );
            let consent = if cli.plugin.is_none() || cli.accept_plugin {
                true
            } else if std::io::stdin().is_terminal() {
                ask_yes_no(&question)
            } else {
                false
            };
            if !consent {
                return Err(format!(
                    "the plugin {} needs the operator's consent to {}; answer on a terminal or pass --accept-plugin",
                    manifest.id,
                    widened.join(", ")
                ));
            }
            store.record(&manifest.id, candidate)
        }
    }
}

fn ask_yes_no(question: &str) -> bool {
    use std::io::Write;
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// The safe defaults, with what the operator set on the command line.
fn limits(cli: &Cli) -> Limits {
    let mut limits = Limits {
        deadline: std::time::Duration::from_secs(cli.deadline),
        memory_bytes: (cli.memory_mib as usize) << 20,
        ..Limits::default()
    };
    limits.http.max_requests_per_call = cli.max_requests;
    limits
}

async fn start_session(cli: &Cli, key: Option<Secret>) -> Result<Session, String> {
    let wasm = match &cli.plugin {
        Some(path) => std::fs::read(path)
            .map_err(|e| format!("cannot read the plugin file {}: {e}", path.display()))?,
        None => EMBEDDED_PLUGIN.to_vec(),
    };
    let target = if cli.live {
        Target::Live
    } else if let Some(url) = &cli.sim {
        Target::Simulator(url.clone())
    } else {
        Target::EmbeddedSimulator
    };
    let cache = if cli.no_cache {
        None
    } else {
        CompileCache::default_location()
    };
    let audit_path = cli
        .audit_log
        .clone()
        .or_else(AuditLog::default_path)
        .ok_or("no place for the audit log: set --audit-log or HOME")?;
    let audit = AuditLog::open(&audit_path, false)
        .map_err(|e| format!("cannot open the audit log {}: {e}", audit_path.display()))?;
    if let Err(problem) = check_install(cli, &wasm) {
        return Err(match &cli.plugin {
            Some(path) => format!("{}: {problem}", path.display()),
            None => problem,
        });
    }
    let runtime = Runtime::new(limits(cli)).map_err(|e| e.to_string())?;
    let loaded = Session::start_with_key(runtime, &wasm, target, cache.as_ref(), key).await;
    let session = loaded.map_err(|e| match &cli.plugin {
        Some(path) => format!("{}: {e}", path.display()),
        None => e.to_string(),
    })?;
    Ok(session.with_audit(audit))
}

fn print_tools(session: &Session) {
    for tool in session.plugin().tools() {
        let d = &tool.descriptor;
        let effect = match d.effect {
            host_test::bindings::types::Effect::Read => "read",
            host_test::bindings::types::Effect::Write => "write, asks first",
        };
        println!("{} ({effect}): {}", d.name, d.title);
        let mut summary: String = d.description.chars().take(140).collect();
        if d.description.chars().count() > 140 {
            summary.push('…');
        }
        println!("    {summary}");
    }
}

async fn call(
    session: &Session,
    tool: &str,
    arguments: &str,
    json: bool,
    verbose: bool,
    confirmer: &dyn Confirmer,
) -> Result<ExitCode, String> {
    let (outcome, report) = session
        .call(tool, arguments, confirmer)
        .await
        .map_err(|e| format!("{tool}: {e}"))?;
    if verbose {
        print_report(&report);
    }
    Ok(match outcome {
        ToolCall::Result(result) if !result.is_error => {
            match (json, &result.structured) {
                (true, Some(structured)) => println!("{structured}"),
                _ => println!("{}", result.text),
            }
            ExitCode::SUCCESS
        }
        ToolCall::Result(result) => {
            eprintln!("error: {}", result.text);
            ExitCode::from(1)
        }
        ToolCall::Declined(_) => {
            eprintln!("error: not applied: the change was not confirmed");
            ExitCode::from(1)
        }
        ToolCall::Refused(reason) => {
            eprintln!("error: not applied: {reason}");
            ExitCode::from(1)
        }
        ToolCall::InvalidArguments(message) => {
            eprintln!("error: invalid arguments for {tool}: {message}");
            ExitCode::from(2)
        }
        ToolCall::UnknownTool(name) => {
            eprintln!("error: unknown tool `{name}`; `dema-host tools` lists them");
            ExitCode::from(2)
        }
        ToolCall::PluginError(message) => {
            eprintln!("error: the plugin failed: {message}");
            ExitCode::from(1)
        }
    })
}

async fn probe(session: &Session) -> Result<ExitCode, String> {
    let checks = session.diagnostics().await.map_err(|e| e.to_string())?;
    println!("Probing Ingrid at {}:", session.base_url());
    let mut all_modelled = true;
    for check in &checks {
        all_modelled &= check.as_modelled;
        let status = check
            .status
            .map_or("no response".to_string(), |s| s.to_string());
        let verdict = if check.as_modelled {
            "as modelled"
        } else {
            "DIFFERS"
        };
        let missing = if check.missing_fields.is_empty() {
            String::new()
        } else {
            format!("; missing fields: {}", check.missing_fields.join(", "))
        };
        let note = if check.as_modelled && check.note == "as modelled" {
            String::new()
        } else {
            format!(" ({})", check.note)
        };
        println!(
            "  {:<40} {status:<12} {verdict}{missing}{note}",
            check.endpoint
        );
    }
    Ok(if all_modelled && !checks.is_empty() {
        println!("Every path answered as modelled.");
        ExitCode::SUCCESS
    } else {
        println!(
            "Some paths differ from the model: see the endpoint catalog (src/ingrid/catalog.rs)."
        );
        ExitCode::from(1)
    })
}

/// Asks the person on the terminal; anything but `y`/`yes` declines.
struct TerminalPrompt;

impl Confirmer for TerminalPrompt {
    fn confirm(&self, request: &ConfirmationRequest) -> bool {
        eprintln!("\n{request}");
        ask_yes_no("Apply this change?")
    }
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
        eprintln!("  plugin log [{level:?}]: {line}");
    }
    eprintln!(
        "  fuel used: {}, call time: {:.1} ms",
        report.fuel_used,
        report.duration.as_secs_f64() * 1000.0
    );
}

fn connect_error_text(error: &host_test::bindings::types::ConnectError) -> &str {
    use host_test::bindings::types::ConnectError;
    match error {
        ConnectError::Unauthorized(m)
        | ConnectError::Unreachable(m)
        | ConnectError::Unexpected(m)
        | ConnectError::Denied(m) => m,
    }
}

/// Key rotation (C9): the new key is validated with one cheap read before it replaces the old
/// one; a failing key leaves the stored key as it was.
async fn rotate_key(cli: &Cli) -> Result<ExitCode, String> {
    let typed = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("New Ingrid Returns API key (input hidden): ")
            .map_err(|e| format!("could not read the key: {e}"))?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("could not read the key from stdin: {e}"))?;
        line
    };
    let key = typed.trim().to_string();
    if key.is_empty() || key.chars().any(char::is_control) || key.len() > 512 {
        return Err("that is not an API key (empty, too long or with control characters)".into());
    }
    let session = start_session(cli, Some(Secret::new(key.clone()))).await?;
    let checked = session.connect().await.map_err(|e| e.to_string())?;
    session.shutdown().await;
    match checked {
        Ok(_) => {
            let path = credentials::store_api_key(&Secret::new(key))?;
            println!(
                "The new key works. It is stored in {} and replaces the old one.",
                path.display()
            );
            if std::env::var_os(credentials::ENV_VAR).is_some() {
                eprintln!(
                    "note: {} is set in this environment and wins over the stored key; unset it to use the new one",
                    credentials::ENV_VAR
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!(
                "error: the new key was not stored (the old one is unchanged): {}",
                connect_error_text(&error)
            );
            Ok(ExitCode::from(1))
        }
    }
}

async fn run_simulator(port: u16) -> Result<ExitCode, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let handle = simulator::start(addr)
        .await
        .map_err(|e| format!("could not start the simulator on {addr}: {e}"))?;
    println!("Ingrid simulator listening on {}", handle.base_url());
    println!(
        "Point commands at it with: dema-host --sim {} tools",
        handle.base_url()
    );
    println!("Press Ctrl-C to stop.");
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// What a person sees in a short session: connect, list the tools, page through returns, and
/// a mistake explained.
async fn demo(cli: &Cli) -> Result<ExitCode, String> {
    let session = start_session(cli, None).await?;
    println!(
        "== Ingrid Returns plugin in the Dema host, against {}",
        session.base_url()
    );
    println!(
        "   plugin {} {} (sha256 {}…)\n",
        session.plugin().manifest().id,
        session.plugin().manifest().version,
        &session.plugin().digest()[..12]
    );
    println!("$ dema-host connect");
    match session.connect().await.map_err(|e| e.to_string())? {
        Ok(info) => println!("{}\n", info.message),
        Err(error) => println!("error: {}\n", connect_error_text(&error)),
    }
    println!("$ dema-host tools");
    print_tools(&session);
    println!();
    // The story: a return arrives, the warehouse inspects it, the person approves what the
    // agent reports, the refund is paid outside Ingrid and marked so; every write is asked.
    show_call(
        &session,
        "list_returns",
        r#"{"status":"IN_TRANSIT","limit":3}"#,
        cli.verbose,
        &NoHuman,
    )
    .await?;
    let in_transit = structured(
        &session,
        "list_returns",
        r#"{"status":"IN_TRANSIT","limit":100}"#,
    )
    .await;
    let return_id = in_transit
        .as_ref()
        .and_then(|page| page["returns"].as_array())
        .and_then(|rows| rows.iter().find(|row| row["resolution"] == "REFUND"))
        .and_then(|row| row["id"].as_u64())
        .ok_or("the simulator has no IN_TRANSIT REFUND return")?;
    let get_return = format!(r#"{{"returnId":{return_id}}}"#);
    show_call(&session, "get_return", &get_return, cli.verbose, &NoHuman).await?;
    let items = structured(&session, "get_return", &get_return)
        .await
        .and_then(|r| r["items"].as_array().cloned())
        .unwrap_or_default();
    let report: Vec<serde_json::Value> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let quantity = item["quantity"].as_u64().unwrap_or(1);
            if i == 0 {
                serde_json::json!({"returnItemId": item["id"], "quantity": quantity, "approved": true, "remark": "Unworn, tags on"})
            } else {
                serde_json::json!({"returnItemId": item["id"], "quantity": quantity, "approved": false, "remark": "Worn"})
            }
        })
        .collect();
    let report = serde_json::json!({"returnId": return_id, "items": report}).to_string();
    show_call(
        &session,
        "report_returned_items",
        &report,
        cli.verbose,
        &DemoPerson,
    )
    .await?;
    let pending = format!(r#"{{"returnId":{return_id},"status":"PENDING"}}"#);
    show_call(
        &session,
        "list_refund_transactions",
        &pending,
        cli.verbose,
        &NoHuman,
    )
    .await?;
    let refund_id = structured(&session, "list_refund_transactions", &pending)
        .await
        .and_then(|page| page["refundTransactions"][0]["id"].as_u64());
    if let Some(refund_id) = refund_id {
        let mark =
            format!(r#"{{"refundTransactionId":{refund_id},"externalReference":"PSP-2026-1187"}}"#);
        show_call(
            &session,
            "mark_refund_externally_refunded",
            &mark,
            cli.verbose,
            &DemoPerson,
        )
        .await?;
    }
    show_call(&session, "get_return", &get_return, cli.verbose, &NoHuman).await?;
    println!("-- and a mistake, explained:");
    show_call(
        &session,
        "list_returns",
        r#"{"status":"SHIPPED"}"#,
        cli.verbose,
        &NoHuman,
    )
    .await?;
    session.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// The demo's person: shows what the host shows, and answers yes for you.
struct DemoPerson;

impl Confirmer for DemoPerson {
    fn confirm(&self, request: &ConfirmationRequest) -> bool {
        println!("{request}");
        println!("Apply this change? [y/N] y   (the demo answers for you)");
        true
    }
}

async fn structured(session: &Session, tool: &str, arguments: &str) -> Option<serde_json::Value> {
    let (outcome, _) = session.call(tool, arguments, &NoHuman).await.ok()?;
    let ToolCall::Result(result) = outcome else {
        return None;
    };
    serde_json::from_str(result.structured.as_deref()?).ok()
}

async fn show_call(
    session: &Session,
    tool: &str,
    arguments: &str,
    verbose: bool,
    confirmer: &dyn Confirmer,
) -> Result<(), String> {
    println!("$ dema-host call {tool} '{arguments}'");
    let code = call(session, tool, arguments, false, verbose, confirmer).await?;
    if code != ExitCode::SUCCESS {
        println!("(exit status non-zero)");
    }
    println!();
    Ok(())
}

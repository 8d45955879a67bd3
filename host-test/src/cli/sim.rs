//! `dema-host sim`: the Ingrid simulator alone, on loopback, until Ctrl-C.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::dev::simulator::{self, ErrorShape, fault_file};

#[derive(Args)]
pub struct SimArgs {
    /// The port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Inject the faults listed in this JSON file. It is a list of
    /// {"route": R, "call": C, "fault": F, ...parameters}. R: list-orders, get-order,
    /// list-returns, get-return, report-items, list-refunds, get-refund, mark-refund.
    /// C: n (the n-th call to R, from 1), "every" or {"from": n}. F and its parameters:
    /// latency (ms); too-many-requests (retry_after_secs, http_date: true for an HTTP date);
    /// server-error (status 500-599); reset-before-read; reset-after-apply; truncated-body;
    /// malformed-json; oversized-body (bytes, default 6 MiB); trickle (interval_ms);
    /// missing-field (field); set-field (field, value); proxy-html. The first entry matching a
    /// call applies. Example:
    /// [{"route":"mark-refund","call":1,"fault":"reset-after-apply"},
    /// {"route":"list-returns","call":"every","fault":"latency","ms":300}]
    #[arg(long, value_name = "FILE", verbatim_doc_comment)]
    pub faults: Option<PathBuf>,
    /// Answer errors as RFC 9457 problem details (application/problem+json) instead of
    /// {"message","code"}.
    #[arg(long)]
    pub problem_details: bool,
}

pub async fn run(args: &SimArgs) -> Result<ExitCode, CliError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let failed = |reason: String| CliError::Simulator {
        addr: addr.to_string(),
        reason,
    };
    // Read before listening, so a bad file never leaves a simulator half set up.
    let faults = match &args.faults {
        Some(path) => fault_file::load(path).map_err(failed)?,
        None => Vec::new(),
    };
    let handle = simulator::start(addr)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let fault_count = faults.len();
    for fault in faults {
        handle.inject(fault);
    }
    if args.problem_details {
        handle.set_error_shape(ErrorShape::ProblemDetails);
    }
    println!("Ingrid simulator listening on {}", handle.base_url());
    if fault_count > 0 {
        println!("{fault_count} fault(s) injected.");
    }
    println!(
        "Point commands at it with: dema-host --sim {} tools",
        handle.base_url()
    );
    println!("Press Ctrl-C to stop.");
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

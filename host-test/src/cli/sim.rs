//! `dema-host sim`: the Ingrid simulator alone, on loopback, until Ctrl-C.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::dev::simulator;

#[derive(Args)]
pub struct SimArgs {
    /// The port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

pub async fn run(args: &SimArgs) -> Result<ExitCode, CliError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let handle = simulator::start(addr)
        .await
        .map_err(|e| CliError::Simulator {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
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

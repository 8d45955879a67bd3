//! `dema-host demo`: the scripted session of [`crate::dev::demo`], on the embedded simulator.

use std::process::ExitCode;

use super::{CliError, Options, setup};

pub async fn run(options: &Options) -> Result<ExitCode, CliError> {
    let session = setup::open_session(options, None).await?;
    let outcome = crate::dev::demo::run(&session, options.verbose).await;
    session.shutdown().await;
    outcome
}

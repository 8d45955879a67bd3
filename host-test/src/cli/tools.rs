//! `dema-host tools`: the plugin's tools, with their effect from the checked manifest.

use std::process::ExitCode;

use super::{CliError, Options, setup};
use crate::bindings::types::Effect;
use crate::policy::display;
use crate::session::Session;

pub async fn run(options: &Options) -> Result<ExitCode, CliError> {
    let session = setup::open_session(options, None).await?;
    print(&session);
    session.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

pub fn print(session: &Session) {
    for tool in session.plugin().tools() {
        let d = &tool.descriptor;
        let effect = match d.effect {
            Effect::Read => "read",
            Effect::Write => "write, asks first",
        };
        let title = display::line(&d.title, 100);
        println!("{} ({effect}): {title}", display::line(&d.name, 64));
        let mut summary: String = display::line(&d.description, 1_000)
            .chars()
            .take(140)
            .collect();
        if d.description.chars().count() > 140 {
            summary.push('…');
        }
        println!("    {summary}");
    }
}

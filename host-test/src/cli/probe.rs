//! `dema-host probe`: the plugin's `diagnostics` export, each read path checked against the
//! plugin's model; field names only, never values or the key.

use std::process::ExitCode;

use super::{CliError, Options, setup};
use crate::policy::display;

pub async fn run(options: &Options) -> Result<ExitCode, CliError> {
    let session = setup::open_session(options, None).await?;
    let checks = session.diagnostics().await;
    let base_url = session.base_url().to_string();
    session.shutdown().await;
    let checks = checks?;
    println!("Probing {base_url}:");
    let mut all_modelled = true;
    for check in checks.iter().take(100) {
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
            let fields: Vec<String> = (check.missing_fields.iter().take(50))
                .map(|field| display::line(field, 64))
                .collect();
            format!("; missing fields: {}", fields.join(", "))
        };
        let note = if check.as_modelled && check.note == "as modelled" {
            String::new()
        } else {
            format!(" ({})", display::line(&check.note, 200))
        };
        let endpoint = display::line(&check.endpoint, 80);
        println!("  {endpoint:<40} {status:<12} {verdict}{missing}{note}");
    }
    Ok(if all_modelled && !checks.is_empty() {
        println!("Every path answered as modelled.");
        ExitCode::SUCCESS
    } else {
        println!("Some paths differ from the plugin's model: see its endpoint catalog.");
        ExitCode::from(1)
    })
}

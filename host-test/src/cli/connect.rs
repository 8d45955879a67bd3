//! `dema-host connect`: the plugin's own check that it can reach its service with the key.
//! With `--new-key`, key rotation (C9): the new key is validated with that check before it
//! replaces the stored one; a failing key leaves the stored key as it was.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;

use super::setup::{self, KeyToTry};
use super::{CliError, Options};
use crate::bindings::types::ConnectError;
use crate::keys::{OperatorKeys, Secret, env_var_for};
use crate::manifest::Manifest;
use crate::policy::display::{self, MESSAGE};

#[derive(Args)]
pub struct ConnectArgs {
    /// Read a new key (no-echo prompt on a terminal, else one line of stdin; never from the
    /// command line), validate it, then store it in the credentials file.
    #[arg(long)]
    pub new_key: bool,
    /// With --new-key: the credential slot the key is for, when the plugin has several.
    #[arg(long, value_name = "SLOT", requires = "new_key")]
    pub slot: Option<String>,
}

pub async fn run(options: &Options, args: &ConnectArgs) -> Result<ExitCode, CliError> {
    if args.new_key {
        return rotate_key(options, args.slot.as_deref()).await;
    }
    let session = setup::open_session(options, None).await?;
    let checked = session.connect().await;
    session.shutdown().await;
    Ok(match checked? {
        Ok(info) => {
            println!("{}", display::block(&info.message, MESSAGE));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}", error_text(&error));
            ExitCode::from(1)
        }
    })
}

/// The plugin's own words for a failed connect (the key-kind advice is the plugin's), made
/// safe for a terminal.
pub fn error_text(error: &ConnectError) -> String {
    match error {
        ConnectError::Unauthorized(m)
        | ConnectError::Unreachable(m)
        | ConnectError::Unexpected(m)
        | ConnectError::Denied(m) => display::block(m, MESSAGE),
    }
}

async fn rotate_key(options: &Options, slot: Option<&str>) -> Result<ExitCode, CliError> {
    let slot = choose_slot(&setup::plugin_bytes(options)?, slot)?;
    let typed = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("New key for `{slot}` (input hidden): "))
            .map_err(CliError::ReadKey)?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(CliError::ReadKey)?;
        line
    };
    let key = typed.trim().to_string();
    if key.is_empty() || key.chars().any(char::is_control) || key.len() > 512 {
        return Err(CliError::NotAKey);
    }
    let trying = KeyToTry {
        slot: slot.clone(),
        key: Secret::new(key.clone()),
    };
    let session = setup::open_session(options, Some(trying)).await?;
    let checked = session.connect().await;
    session.shutdown().await;
    match checked? {
        Ok(_) => {
            let keys = OperatorKeys::default_location();
            let path = keys.store(&slot, &Secret::new(key))?;
            println!(
                "The new key works. It is stored in {} and replaces the old one.",
                path.display()
            );
            if keys.environment_sets(&slot) {
                eprintln!(
                    "note: {} is set in this environment and wins over the stored key; unset it to use the new one",
                    env_var_for(&slot)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!(
                "error: the new key was not stored (the old one is unchanged): {}",
                error_text(&error)
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// The slot a new key is for: the one named, else the plugin's only slot.
fn choose_slot(wasm: &[u8], named: Option<&str>) -> Result<String, CliError> {
    let manifest = Manifest::from_component(wasm)
        .map_err(|e| CliError::Session(crate::runtime::LoadError::from(e).into()))?;
    let slots: Vec<&str> = manifest
        .credential_slots
        .iter()
        .map(|slot| slot.name.as_str())
        .collect();
    match (named, slots.as_slice()) {
        (Some(name), _) if slots.contains(&name) => Ok(name.to_string()),
        (Some(name), _) => Err(CliError::NoSuchSlot(name.to_string())),
        (None, [only]) => Ok(only.to_string()),
        (None, []) => Err(CliError::NoSuchSlot("(none)".to_string())),
        (None, several) => Err(CliError::WhichSlot(several.join(", "))),
    }
}

//! The flags every subcommand shares, and what they mean for a session.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::runtime::Limits;
use crate::session::Target;

#[derive(Args)]
pub struct Options {
    /// A plugin component to load instead of the embedded Ingrid plugin.
    #[arg(long, global = true, value_name = "PATH")]
    pub plugin: Option<PathBuf>,
    /// Send the plugin's requests to a simulator already running at this loopback URL.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "live")]
    pub sim: Option<String>,
    /// Use the plugin's production service over TLS, with the key from its environment variable
    /// (e.g. INGRID_API_KEY) or the credentials file.
    #[arg(long, global = true)]
    pub live: bool,
    /// With --live: the base URL to use instead of the plugin's default; the plugin's manifest
    /// must grant its origin.
    #[arg(long, global = true, value_name = "URL", requires = "live")]
    pub base_url: Option<String>,
    /// Append the audit log here (default: ~/.local/state/dema-host/audit.jsonl, or
    /// $DEMA_AUDIT_LOG).
    #[arg(long, global = true, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// As the operator, consent to installing the `--plugin` component, or to an update that
    /// widens what it may do (hosts, credential slots, write tools). Without it you are asked
    /// on a terminal, and refused without one.
    #[arg(long, global = true)]
    pub accept_plugin: bool,
    /// Wall-time limit of one plugin call, in seconds (time waiting on the service included).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub deadline: u64,
    /// Limit of the plugin's total memory, in MiB.
    #[arg(long, global = true, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(8..=1024))]
    pub memory_mib: u64,
    /// HTTP requests one call may send.
    #[arg(long, global = true, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_requests: u32,
    /// The publisher's ed25519 public key (PEM) that packages must be signed by: used by
    /// `verify`, and by `--plugin x.wasm` when its package `x.json` sits beside it.
    #[arg(long, global = true, value_name = "FILE")]
    pub publisher_key: Option<PathBuf>,
    /// Do not use or fill the compiled-component cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Also print the requests the plugin made, fuel used and the plugin's log lines.
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

impl Options {
    /// The safe defaults, with what the operator set on the command line.
    pub fn limits(&self) -> Limits {
        let mut limits = Limits {
            deadline: Duration::from_secs(self.deadline),
            memory_bytes: (self.memory_mib as usize) << 20,
            ..Limits::default()
        };
        limits.http.max_requests_per_call = self.max_requests;
        limits
    }

    pub fn target(&self) -> Target {
        if self.live {
            Target::Live {
                base_url: self.base_url.clone(),
            }
        } else if let Some(url) = &self.sim {
            Target::Development(url.clone())
        } else {
            Target::EmbeddedSimulator
        }
    }
}

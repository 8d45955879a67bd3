//! The errors a person can meet at the command line, each shown as one `error:` line.

use crate::keys::KeyError;
use crate::policy::install::InstallError;
use crate::runtime::CallFailure;
use crate::session::SessionError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("could not start the async runtime: {0}")]
    AsyncRuntime(std::io::Error),
    #[error("cannot read the plugin file {path}: {source}")]
    ReadPlugin {
        path: String,
        source: std::io::Error,
    },
    /// An error about the `--plugin` component, named by its path.
    #[error("{path}: {inner}")]
    InPlugin { path: String, inner: Box<CliError> },
    #[error("no place for the audit log: set --audit-log or HOME")]
    NoAuditLogPath,
    #[error("cannot open the audit log {path}: {source}")]
    AuditLog {
        path: String,
        source: std::io::Error,
    },
    #[error("no config directory: set HOME")]
    NoConfigDir,
    #[error("{0}")]
    Install(#[from] InstallError),
    #[error(
        "the plugin {plugin} needs the operator's consent to {widened}; answer on a terminal or pass --accept-plugin"
    )]
    NoConsent { plugin: String, widened: String },
    #[error("could not start the runtime: {0}")]
    Runtime(String),
    #[error(
        "--sim must be an http URL of a simulator on this machine (e.g. http://127.0.0.1:8080), not {0:?}"
    )]
    SimulatorUrl(String),
    #[error("{0}")]
    Session(SessionError),
    #[error("{tool}: {failure}")]
    Call { tool: String, failure: CallFailure },
    #[error("{0}")]
    Failure(#[from] CallFailure),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("could not read the key: {0}")]
    ReadKey(std::io::Error),
    #[error("that is not an API key (empty, too long or with control characters)")]
    NotAKey,
    #[error("the plugin has several credential slots ({0}); choose one with --slot")]
    WhichSlot(String),
    #[error("the plugin has no credential slot `{0}`")]
    NoSuchSlot(String),
    #[error("could not start the simulator on {addr}: {reason}")]
    Simulator { addr: String, reason: String },
    #[error("the demo could not go on: {0}")]
    Demo(String),
    #[error("the MCP server stopped: {0}")]
    Mcp(String),
    #[error("{0}")]
    Package(String),
    #[error("{0}")]
    PublisherKey(#[from] crate::package::KeyError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("give the publisher's public key with --publisher-key FILE (PEM)")]
    NoPublisherKey,
    #[error(
        "the package {package} sits beside the plugin: give the publisher's public key with --publisher-key FILE to verify it before loading"
    )]
    PackageNeedsKey { package: String },
}

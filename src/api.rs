//! Plain Rust mirrors of the `dema:integration` WIT types. The wasm glue converts between these
//! and the generated bindings; everything else in the crate uses only these.

use crate::prelude::*;

use serde::Serialize;

/// HTTP method of a request. Anything but `Get`/`Head` is a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    pub fn is_write(self) -> bool {
        !matches!(self, Method::Get | Method::Head)
    }
}

/// A write fixed byte for byte in a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedWrite {
    pub method: Method,
    pub url: String,
    pub credential: Option<String>,
    pub body: Vec<u8>,
}

/// A write tool's plan, returned when it runs without approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub summary: String,
    pub details: String,
    pub writes: Vec<PlannedWrite>,
}

/// The person's approval, minted by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub id: String,
    pub writes: Vec<PlannedWrite>,
    /// What the person was told, as the plugin wrote it.
    pub summary: String,
    pub details: String,
}

/// Per-call context from the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    pub call_id: String,
    pub settings: Vec<(String, String)>,
    pub deadline_ms: u64,
    pub approval: Option<Approval>,
}

impl CallContext {
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Read,
    Write,
}

/// A tool as offered to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDescriptor {
    pub name: String,
    pub title: String,
    pub description: String,
    pub input_schema: String,
    pub output_schema: String,
    pub effect: Effect,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// A tool's result for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    pub text: String,
    pub structured: Option<String>,
    pub is_error: bool,
}

impl ToolResult {
    pub fn error(text: impl Into<String>) -> Self {
        ToolResult {
            text: text.into(),
            structured: None,
            is_error: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolOutcome {
    Result(ToolResult),
    Proposal(Proposal),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("unknown tool: {0}")]
    UnknownTool(String),
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error("internal plugin error: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectInfo {
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Unexpected(String),
    #[error("{0}")]
    Denied(String),
}

/// One check of the live probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeCheck {
    pub endpoint: String,
    pub status: Option<u16>,
    pub as_modelled: bool,
    pub missing_fields: Vec<String>,
    pub note: String,
}

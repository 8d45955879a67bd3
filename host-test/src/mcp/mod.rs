//! The MCP face (contract C6): the same [`Session`] as the CLI, served to agents over the Model
//! Context Protocol on stdio with the official Rust SDK (`rmcp`).
//!
//! - [`tools`]: the plugin's tools as `tools/list` shows them, and a call's outcome as MCP
//!   answers it;
//! - [`elicitation`]: the person's confirmation of a change, through form-mode elicitation;
//! - [`progress`]: progress notifications after each request, and cancellation.
//!
//! The handler is written by hand: the tools come from the plugin, not from Rust functions.
//! The protocol is capped at 2025-11-25, the newest revision with server-to-client requests
//! (and so elicitation); a client offering a newer one negotiates down. The server claims the
//! `tools` capability only. stdout carries protocol messages only: the host's own lines go to
//! stderr, and nothing the guest writes reaches either (its stdio is discarded, its log lines
//! stay in the call report).
//!
//! The face translates and never decides: arguments, the gate, the approval and the audit are
//! the session's. No tool argument, flag or message from the model can approve a change; only
//! the person's `accept` of `{"approve": true}` in the elicitation form does.

pub mod elicitation;
pub mod progress;
pub mod tools;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler, ServiceExt};

use crate::policy::display;
use crate::session::Session;
use elicitation::ElicitationConfirmer;
use progress::CallProgress;

/// The newest protocol revision this server speaks (C6).
pub const MAX_PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion::V_2025_11_25;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How long the person has to answer a confirmation.
    pub confirm_timeout: Duration,
    /// Also write each call's requests, fuel and the plugin's log lines to stderr.
    pub verbose: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            confirm_timeout: elicitation::DEFAULT_CONFIRM_TIMEOUT,
            verbose: false,
        }
    }
}

/// The MCP server: one session, its tools listed once.
#[derive(Clone)]
pub struct McpServer {
    session: Arc<Session>,
    tools: Arc<Vec<Tool>>,
    options: ServerOptions,
}

impl McpServer {
    pub fn new(session: Arc<Session>, options: ServerOptions) -> McpServer {
        let manifest = session.plugin().manifest();
        let tools = session
            .plugin()
            .tools()
            .iter()
            .map(|tool| tools::listed(tool, manifest))
            .collect();
        McpServer {
            session,
            tools: Arc::new(tools),
            options,
        }
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResult, ErrorData> {
        let name = request.name.as_ref();
        let Some(tool) = self.session.plugin().tool(name) else {
            return Err(tools::unknown_tool(name));
        };
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let arguments = serde_json::to_string(&arguments)
            .map_err(|error| ErrorData::invalid_params(error.to_string(), None))?;
        let capabilities = context.client_capabilities();
        let confirmer = ElicitationConfirmer::new(
            context.peer.clone(),
            elicitation::can_elicit_form(capabilities.as_ref()),
            self.options.confirm_timeout,
            context.ct.clone(),
        );
        let (observer, notifier) = CallProgress::start(
            context.peer.clone(),
            context.meta.get_progress_token(),
            context.ct.clone(),
        );
        let called = self
            .session
            .call_observed(name, &arguments, &confirmer, Some(observer.clone()))
            .await;
        // Every progress notification goes out before the answer.
        notifier.finish(observer).await;
        if self.options.verbose
            && let Ok((_, report)) = &called
        {
            log_report(name, report);
        }
        match called {
            Ok((outcome, report)) => tools::answer(tool, outcome, &report, confirmer.not_applied()),
            Err(failure) => tools::failure(name, &failure),
        }
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let manifest = self.session.plugin().manifest();
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions(format!(
                "Tools of the plugin {} {} for {}. Reads answer at once. A write tool asks the \
                 person to confirm the exact change through an elicitation form before anything \
                 is applied; no argument can approve it. A result starting with \"not applied\" \
                 changed nothing.",
                display::line(&manifest.id, 64),
                display::line(&manifest.version, 32),
                display::line(manifest.service_name(), 64),
            ));
        info.protocol_version = MAX_PROTOCOL_VERSION;
        info.server_info = Implementation::new("dema-host", env!("CARGO_PKG_VERSION"));
        info
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&MAX_PROTOCOL_VERSION))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.call(request, context)
            .await
            .map(CallToolResponse::from)
    }
}

/// One call's requests, fuel and the plugin's log lines, on stderr (never stdout).
fn log_report(tool: &str, report: &crate::runtime::CallReport) {
    eprintln!(
        "dema-host mcp: {tool}: {} requests, fuel {}, {:.1} ms",
        report.requests.len(),
        report.fuel_used,
        report.duration.as_secs_f64() * 1000.0
    );
    for request in &report.requests {
        let status = request.status.map_or_else(
            || request.error.unwrap_or("no response").to_string(),
            |s| s.to_string(),
        );
        eprintln!(
            "  {} {}{} -> {status}",
            request.method,
            display::line(&request.host, 100),
            display::line(&request.path, 200)
        );
    }
    for (level, line) in &report.logs {
        eprintln!("  plugin log [{level:?}]: {}", display::line(line, 400));
    }
}

/// Serves `session` on stdin and stdout until the client closes the connection.
pub async fn serve_stdio(session: Session, options: ServerOptions) -> Result<(), String> {
    let session = Arc::new(session);
    let server = McpServer::new(session.clone(), options);
    let transport = rmcp::transport::stdio_pipes();
    let running = server
        .serve(transport)
        .await
        .map_err(|error| tools::one_line(&error.to_string()))?;
    let quit = running.waiting().await;
    if let Ok(session) = Arc::try_unwrap(session) {
        session.shutdown().await;
    }
    quit.map(|_| ())
        .map_err(|error| tools::one_line(&error.to_string()))
}

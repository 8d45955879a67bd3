//! Binding glue (wasm only): the wit-bindgen bindings, the WIT-backed [`Transport`], and the
//! conversions between generated types and [`crate::api`]. No logic lives here.

use crate::prelude::*;

wit_bindgen::generate!({
    world: "integration",
    path: "wit",
});

use dema::integration::http as wit_http;
use dema::integration::log as wit_log;
use dema::integration::types as wit;
use exports::dema::integration::connector::Guest;

use crate::api;
use crate::connector;
use crate::transport::{HttpError, HttpRequest, HttpResponse, LogLevel, Transport};

struct Component;

export!(Component);

impl Guest for Component {
    fn connect(ctx: wit::CallContext) -> Result<wit::ConnectInfo, wit::ConnectError> {
        connector::connect(&WitTransport, &context(ctx))
            .map(|info| wit::ConnectInfo {
                message: info.message,
            })
            .map_err(|error| match error {
                api::ConnectError::Unauthorized(m) => wit::ConnectError::Unauthorized(m),
                api::ConnectError::Unreachable(m) => wit::ConnectError::Unreachable(m),
                api::ConnectError::Unexpected(m) => wit::ConnectError::Unexpected(m),
                api::ConnectError::Denied(m) => wit::ConnectError::Denied(m),
            })
    }

    fn list_tools() -> Vec<wit::ToolDescriptor> {
        connector::list_tools()
            .into_iter()
            .map(|tool| wit::ToolDescriptor {
                name: tool.name,
                title: tool.title,
                description: tool.description,
                input_schema: tool.input_schema,
                output_schema: tool.output_schema,
                effect: match tool.effect {
                    api::Effect::Read => wit::Effect::Read,
                    api::Effect::Write => wit::Effect::Write,
                },
                destructive: tool.destructive,
                idempotent: tool.idempotent,
                open_world: tool.open_world,
            })
            .collect()
    }

    fn call_tool(
        name: String,
        arguments_json: String,
        ctx: wit::CallContext,
    ) -> Result<wit::ToolOutcome, wit::CallError> {
        match connector::call_tool(&WitTransport, &name, &arguments_json, &context(ctx)) {
            Ok(api::ToolOutcome::Result(result)) => Ok(wit::ToolOutcome::Result(wit::ToolResult {
                text: result.text,
                structured: result.structured,
                is_error: result.is_error,
            })),
            Ok(api::ToolOutcome::Proposal(proposal)) => {
                Ok(wit::ToolOutcome::Proposal(wit::Proposal {
                    summary: proposal.summary,
                    details: proposal.details,
                    writes: proposal.writes.into_iter().map(to_wit_write).collect(),
                }))
            }
            Err(api::CallError::UnknownTool(m)) => Err(wit::CallError::UnknownTool(m)),
            Err(api::CallError::InvalidArguments(m)) => Err(wit::CallError::InvalidArguments(m)),
            Err(api::CallError::Internal(m)) => Err(wit::CallError::Internal(m)),
        }
    }

    fn diagnostics(ctx: wit::CallContext) -> Vec<wit::ProbeCheck> {
        connector::diagnostics(&WitTransport, &context(ctx))
            .into_iter()
            .map(|check| wit::ProbeCheck {
                endpoint: check.endpoint,
                status: check.status,
                as_modelled: check.as_modelled,
                missing_fields: check.missing_fields,
                note: check.note,
            })
            .collect()
    }
}

/// The host's imports as a [`Transport`].
struct WitTransport;

impl Transport for WitTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let wit_request = wit_http::Request {
            method: to_wit_method(request.method),
            url: request.url.clone(),
            headers: request
                .headers
                .iter()
                .map(|(name, value)| wit::Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            body: request.body.clone(),
            credential: request.credential.clone(),
            timeout_ms: request.timeout_ms,
        };
        match wit_http::send(&wit_request) {
            Ok(response) => Ok(HttpResponse {
                status: response.status,
                headers: response
                    .headers
                    .into_iter()
                    .map(|header| (header.name, header.value))
                    .collect(),
                body: response.body,
            }),
            Err(error) => Err(match error {
                wit_http::HttpError::Denied(m) => HttpError::Denied(m),
                wit_http::HttpError::ConfirmationRequired(m) => HttpError::ConfirmationRequired(m),
                wit_http::HttpError::NotSent(m) => HttpError::NotSent(m),
                wit_http::HttpError::OutcomeUnknown(m) => HttpError::OutcomeUnknown(m),
                wit_http::HttpError::TooLarge(m) => HttpError::TooLarge(m),
                wit_http::HttpError::Timeout(m) => HttpError::Timeout(m),
            }),
        }
    }

    fn log(&self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Trace => wit_log::Level::Trace,
            LogLevel::Debug => wit_log::Level::Debug,
            LogLevel::Info => wit_log::Level::Info,
            LogLevel::Warn => wit_log::Level::Warn,
            LogLevel::Error => wit_log::Level::Error,
        };
        wit_log::log(level, message);
    }

    fn monotonic_ms(&self) -> u64 {
        wasi::clocks::monotonic_clock::now() / 1_000_000
    }

    fn sleep_ms(&self, ms: u64) {
        wasi::clocks::monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
    }

    fn wall_clock_unix_secs(&self) -> u64 {
        wasi::clocks::wall_clock::now().seconds
    }
}

fn context(ctx: wit::CallContext) -> api::CallContext {
    api::CallContext {
        call_id: ctx.call_id,
        settings: ctx.settings,
        deadline_ms: ctx.deadline_ms,
        approval: ctx.approval.map(|approval| api::Approval {
            id: approval.id,
            writes: approval.writes.into_iter().map(from_wit_write).collect(),
            summary: approval.summary,
            details: approval.details,
        }),
    }
}

fn to_wit_method(method: api::Method) -> wit::Method {
    match method {
        api::Method::Get => wit::Method::Get,
        api::Method::Head => wit::Method::Head,
        api::Method::Post => wit::Method::Post,
        api::Method::Put => wit::Method::Put,
        api::Method::Patch => wit::Method::Patch,
        api::Method::Delete => wit::Method::Delete,
    }
}

fn from_wit_method(method: wit::Method) -> api::Method {
    match method {
        wit::Method::Get => api::Method::Get,
        wit::Method::Head => api::Method::Head,
        wit::Method::Post => api::Method::Post,
        wit::Method::Put => api::Method::Put,
        wit::Method::Patch => api::Method::Patch,
        wit::Method::Delete => api::Method::Delete,
    }
}

fn to_wit_write(write: api::PlannedWrite) -> wit::PlannedWrite {
    wit::PlannedWrite {
        method: to_wit_method(write.method),
        url: write.url,
        credential: write.credential,
        body: write.body,
    }
}

fn from_wit_write(write: wit::PlannedWrite) -> api::PlannedWrite {
    api::PlannedWrite {
        method: from_wit_method(write.method),
        url: write.url,
        credential: write.credential,
        body: write.body,
    }
}

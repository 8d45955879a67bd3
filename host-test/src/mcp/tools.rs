//! The plugin's tools as MCP sees them, and a call's outcome as an MCP answer (contract C6).
//!
//! - `tools/list`: name, title, description, input and output schema from the checked tool
//!   list; the annotations from the manifest the host checked, never from the live guest.
//! - `tools/call`: the plugin's compact text always in the content (through the output layer,
//!   C11); `structuredContent` only on success and only when it matches the output schema.
//!   Tool-level failures (bad arguments, not found, conflict, unavailable, limits, a change not
//!   applied) are `isError: true`; an unknown tool is the JSON-RPC error -32602; a host or
//!   plugin defect is a JSON-RPC internal error of one line.

use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde_json::Value;

use crate::manifest::{Effect, Manifest};
use crate::policy::display::{self, Bounds, MESSAGE, RESULT};
use crate::runtime::{CallFailure, CallReport, HostTool};
use crate::session::ToolCall;

/// Bounds of a tool's description in the listing.
const DESCRIPTION: Bounds = Bounds {
    line_chars: 2_000,
    lines: 60,
};

/// One tool as `tools/list` shows it.
pub fn listed(tool: &HostTool, manifest: &Manifest) -> Tool {
    let descriptor = &tool.descriptor;
    let name = display::line(&descriptor.name, 64);
    let title = display::line(&descriptor.title, 200);
    let input = schema_object(&descriptor.input_schema).unwrap_or_else(|| {
        // Cannot happen: the host compiled this schema at load. An empty object schema
        // still lets the host's own validation speak for the tool.
        let mut object = JsonObject::new();
        object.insert("type".into(), Value::String("object".into()));
        object
    });
    let mut listed = Tool::new(
        name,
        display::block(&descriptor.description, DESCRIPTION),
        Arc::new(input),
    )
    .with_title(title.clone());
    if let Some(output) = output_schema(tool) {
        listed = listed.with_raw_output_schema(Arc::new(output));
    }
    listed.with_annotations(annotations(manifest, &descriptor.name, title))
}

/// The hints from the manifest the host checked. `readOnlyHint` is given explicitly on reads
/// (the spec's default is false); a tool missing from the manifest (never, after the load
/// check) gets the most cautious hints.
fn annotations(manifest: &Manifest, name: &str, title: String) -> ToolAnnotations {
    let annotations = ToolAnnotations::with_title(title);
    match manifest.tool(name) {
        Some(declared) => annotations
            .read_only(declared.effect == Effect::Read)
            .destructive(declared.destructive)
            .idempotent(declared.idempotent)
            .open_world(declared.open_world),
        None => annotations
            .read_only(false)
            .destructive(true)
            .idempotent(false)
            .open_world(true),
    }
}

/// The tool's output schema, when it declares one MCP can carry (`type: object`).
pub fn output_schema(tool: &HostTool) -> Option<JsonObject> {
    schema_object(&tool.descriptor.output_schema)
        .filter(|schema| schema.get("type").and_then(Value::as_str) == Some("object"))
}

/// A schema as a JSON object, with the characters the output layer never shows removed
/// (none is structural in JSON).
fn schema_object(schema: &str) -> Option<JsonObject> {
    match serde_json::from_str::<Value>(&display::strip(schema)) {
        Ok(Value::Object(object)) if !object.is_empty() => Some(object),
        _ => None,
    }
}

/// What a call that was answered (`Ok` from the session) tells the agent.
/// `not_applied` is the confirmer's precise reason when the person's answer applied nothing.
pub fn answer(
    tool: &HostTool,
    outcome: ToolCall,
    report: &CallReport,
    not_applied: Option<String>,
) -> Result<CallToolResult, ErrorData> {
    let name = display::line(&tool.descriptor.name, 64);
    Ok(match outcome {
        ToolCall::Result(result) if !result.is_error => {
            let text = display::block(&result.text, RESULT);
            match structured(tool, result.structured.as_deref()) {
                Some(structured) => {
                    let mut answer = CallToolResult::success(vec![ContentBlock::text(text)]);
                    answer.structured_content = Some(structured);
                    answer
                }
                // The spec requires structured content matching a declared output schema on
                // success: without it, the call is reported as failed, and what was sent said.
                None if output_schema(tool).is_some() => error(format!(
                    "{text}\nHost: this answer has no structured content matching the tool's \
                     output schema, so it is reported as an error. {}",
                    writes_sent(report)
                )),
                None => CallToolResult::success(vec![ContentBlock::text(text)]),
            }
        }
        ToolCall::Result(result) => error(display::block(&result.text, RESULT)),
        ToolCall::InvalidArguments(problem) => error(format!(
            "invalid arguments for {name}: {}",
            display::block(&problem, MESSAGE)
        )),
        ToolCall::UnknownTool(unknown) => return Err(unknown_tool(&unknown)),
        ToolCall::PluginError(message) => error(format!(
            "the plugin failed: {}",
            display::block(&message, MESSAGE)
        )),
        ToolCall::NotConfirmed { answer, .. } => {
            error(nothing_changed(not_applied.unwrap_or_else(|| {
                format!("not applied: {}", answer.why_not_applied())
            })))
        }
        ToolCall::Refused(reason) => error(nothing_changed(format!(
            "not applied: {}",
            display::block(&reason, MESSAGE)
        ))),
    })
}

/// A call the session could not answer: a limit is the tool's failure (`isError`), a crash of
/// the plugin or a fault of the host is a JSON-RPC internal error of one line.
pub fn failure(tool: &str, failure: &CallFailure) -> Result<CallToolResult, ErrorData> {
    let line = one_line(&failure.to_string());
    match failure {
        CallFailure::DeadlineExceeded(_)
        | CallFailure::Busy(_)
        | CallFailure::OutOfFuel(_)
        | CallFailure::MemoryLimit(_)
        | CallFailure::OutputTooLarge(_)
        | CallFailure::Key(_) => Ok(error(nothing_changed(line))),
        // A run is stopped only before a request, and never once an approval was minted:
        // nothing was changed. (The client cancelled the call; this answer is not sent.)
        CallFailure::Stopped(_) => Ok(error(nothing_changed(format!("not applied: {line}")))),
        CallFailure::Trap(_) | CallFailure::Audit(_) => Err(ErrorData::internal_error(
            format!("{}: {line}", display::line(tool, 64)),
            None,
        )),
    }
}

/// The JSON-RPC error for a tool that does not exist (-32602, invalid params).
pub fn unknown_tool(name: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!(
            "unknown tool `{}`; tools/list lists them",
            display::line(name, 64)
        ),
        None,
    )
}

/// `why` as a sentence, and that nothing was changed.
fn nothing_changed(why: String) -> String {
    let stop = if why.ends_with(['.', '!', '?']) {
        ""
    } else {
        "."
    };
    format!("{why}{stop} Nothing was changed.")
}

fn error(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// One line, made safe: no backtrace or second line reaches the client.
pub fn one_line(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    display::line(&words.join(" "), 1_000)
}

/// The structured output as the agent gets it: made safe by the output layer, and only while
/// it still matches the tool's output schema (the session checked the plugin's bytes).
fn structured(tool: &HostTool, structured: Option<&str>) -> Option<Value> {
    let original = structured?;
    let shown = display::strip(original);
    let value: Value = serde_json::from_str(&shown).ok()?;
    if !value.is_object() {
        return None;
    }
    if shown != original && !tool.schemas.output.is_valid(&value) {
        return None;
    }
    Some(value)
}

fn writes_sent(report: &CallReport) -> String {
    match report.writes_sent {
        0 => "No change was sent.".to_string(),
        1 => "1 approved change was sent.".to_string(),
        n => format!("{n} approved changes were sent."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_the_tools_failure_and_defects_are_one_line_internal_errors() {
        let limit = failure(
            "list_returns",
            &CallFailure::DeadlineExceeded(std::time::Duration::from_secs(10)),
        );
        let Ok(limit) = limit else {
            panic!("a limit is a tool result")
        };
        assert_eq!(limit.is_error, Some(true));
        let text = limit.content[0].as_text().map(|t| t.text.clone());
        assert_eq!(
            text.as_deref(),
            Some("the plugin did not finish within its 10s deadline. Nothing was changed.")
        );
        let crash = failure(
            "get\u{1b}[2J",
            &CallFailure::Trap("wasm trap:\nunreachable\n  at 0x1\u{202E}".into()),
        );
        let Err(crash) = crash else {
            panic!("a crash is a protocol error")
        };
        assert_eq!(crash.code, rmcp::model::ErrorCode::INTERNAL_ERROR);
        assert_eq!(
            crash.message,
            "get[2J: the plugin crashed: wasm trap: unreachable at 0x1"
        );
        let stopped = failure("list_returns", &CallFailure::Stopped("cancelled.".into()));
        assert!(stopped.is_ok_and(|r| r.is_error == Some(true)));
    }
}

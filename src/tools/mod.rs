//! The tool registry: every tool this plugin offers, with its hand-written schemas and effect.
//!
//! Adding a tool touches, in order:
//! 1. `src/tools/<name>.rs`: `pub const TOOL: Tool` (name per C4, title, a description written
//!    for an agent, effect and flags) and its `run`. A list tool pages with [`paging`]; a write
//!    tool plans one write and hands it to [`write::propose_or_apply`] with a
//!    [`write::WriteTarget`] (C1, C3).
//! 2. `src/tools/schemas/<name>.input.json` and `<name>.output.json`, pulled in (minified by
//!    `build.rs`) with `schema!`: the input a closed object (C4), the output what `success` serialises (C5).
//! 3. This file: `pub mod <name>;` and its place in [`TOOLS`] (the listing order).
//! 4. `src/ingrid/catalog.rs`, if it uses a new path: an `Endpoint` variant (`method`, `path`,
//!    `template`), any new parameter or status; new fields in `src/ingrid/models.rs`; the new
//!    modelled fact in docs/ARCHITECTURE.md (the next M id). A new readable resource also gets
//!    a pair in `connector::diagnostics`.
//! 5. `src/manifest.json`: an entry in `tools` at the same position as in [`TOOLS`], with the
//!    same `effect`, `destructive`, `idempotent`, `openWorld` (`manifest::tests` checks it), and
//!    any new method in `egress`. A new write tool widens what operators installed (C8): the
//!    update needs their consent again.
//! 6. `host-test/src/dev/simulator/routes.rs`: the route, enforcing what the model says.
//! 7. `README.md`: the row in the tools table.
//! 8. Tests: unit tests in the tool's file against `testing::ScriptedTransport` (or in
//!    `src/tools/<name>/tests.rs` when they grow), and the end-to-end path in
//!    `host-test/tests/end_to_end.rs`.

use crate::prelude::*;

/// A tool's schema, as `build.rs` minified it from `src/tools/schemas/`.
macro_rules! schema {
    ($file:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/schemas/", $file))
    };
}

pub mod args;
pub mod filters;
pub mod get_order;
pub mod get_refund_transaction;
pub mod get_return;
pub mod list_orders;
pub mod list_refund_transactions;
pub mod list_returns;
pub mod mark_refund_externally_refunded;
pub mod paging;
pub mod report_returned_items;
pub mod rfc3339;
pub mod summarize_returns;
pub mod tally;
pub mod text;
pub mod write;

use serde::Serialize;

use crate::api::{CallContext, CallError, Effect, ToolDescriptor, ToolOutcome, ToolResult};
use crate::ingrid::IngridClient;
use crate::ingrid::json::Json;

/// A tool's implementation: arguments already parsed as JSON, the client bound to this call.
pub type RunTool = fn(&IngridClient, &CallContext, Json) -> Result<ToolOutcome, CallError>;

pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub input_schema: &'static str,
    pub output_schema: &'static str,
    pub effect: Effect,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
    pub run: RunTool,
}

impl Tool {
    pub fn descriptor(&self) -> ToolDescriptor {
        ToolDescriptor {
            name: self.name.to_string(),
            title: self.title.to_string(),
            description: self.description.to_string(),
            input_schema: self.input_schema.to_string(),
            output_schema: self.output_schema.to_string(),
            effect: self.effect,
            destructive: self.destructive,
            idempotent: self.idempotent,
            open_world: self.open_world,
        }
    }
}

/// Every tool, in the order they are listed.
pub const TOOLS: &[Tool] = &[
    list_orders::TOOL,
    get_order::TOOL,
    list_returns::TOOL,
    get_return::TOOL,
    list_refund_transactions::TOOL,
    get_refund_transaction::TOOL,
    summarize_returns::TOOL,
    report_returned_items::TOOL,
    mark_refund_externally_refunded::TOOL,
];

pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|tool| tool.name == name)
}

/// A successful result: the summary text and the structured output (matching the tool's
/// output schema).
pub fn success<T: Serialize>(
    tool: &str,
    text: String,
    output: &T,
) -> Result<ToolOutcome, CallError> {
    let structured = serde_json::to_string(output)
        .map_err(|error| CallError::Internal(format!("serialising {tool} output: {error}")))?;
    Ok(ToolOutcome::Result(ToolResult {
        text,
        structured: Some(structured),
        is_error: false,
    }))
}

/// A tool-level failure the agent should read and act on.
pub fn failure(text: impl Into<String>) -> Result<ToolOutcome, CallError> {
    Ok(ToolOutcome::Result(ToolResult::error(text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn schema(text: &str, tool: &str) -> serde_json::Map<String, Value> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            other => panic!("{tool}: schema is not a JSON object: {other:?}"),
        }
    }

    #[test]
    fn every_input_schema_follows_contract_c4() {
        for tool in TOOLS {
            let input = schema(tool.input_schema, tool.name);
            assert_eq!(
                input.get("type"),
                Some(&Value::from("object")),
                "{}",
                tool.name
            );
            assert_eq!(
                input.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{}",
                tool.name
            );
            for combinator in ["oneOf", "anyOf", "allOf", "$ref"] {
                assert!(
                    !input.contains_key(combinator),
                    "{}: {combinator}",
                    tool.name
                );
            }
            let output = schema(tool.output_schema, tool.name);
            assert_eq!(
                output.get("type"),
                Some(&Value::from("object")),
                "{}",
                tool.name
            );
        }
    }

    #[test]
    fn minified_schemas_are_the_written_ones() {
        let written = [
            include_str!("schemas/list_orders.input.json"),
            include_str!("schemas/list_orders.output.json"),
            include_str!("schemas/get_order.input.json"),
            include_str!("schemas/get_order.output.json"),
            include_str!("schemas/list_returns.input.json"),
            include_str!("schemas/list_returns.output.json"),
            include_str!("schemas/get_return.input.json"),
            include_str!("schemas/get_return.output.json"),
            include_str!("schemas/list_refund_transactions.input.json"),
            include_str!("schemas/list_refund_transactions.output.json"),
            include_str!("schemas/get_refund_transaction.input.json"),
            include_str!("schemas/get_refund_transaction.output.json"),
            include_str!("schemas/summarize_returns.input.json"),
            include_str!("schemas/summarize_returns.output.json"),
            include_str!("schemas/report_returned_items.input.json"),
            include_str!("schemas/report_returned_items.output.json"),
            include_str!("schemas/mark_refund_externally_refunded.input.json"),
            include_str!("schemas/mark_refund_externally_refunded.output.json"),
        ];
        let carried = TOOLS
            .iter()
            .flat_map(|tool| [tool.input_schema, tool.output_schema]);
        for (written, carried) in written.into_iter().zip(carried) {
            assert!(carried.len() < written.len());
            let parse = |text| serde_json::from_str::<Value>(text).unwrap_or_default();
            assert_eq!(parse(carried), parse(written));
            assert!(!carried.contains('\n'), "{carried}");
        }
    }

    #[test]
    fn names_are_bare_unique_and_short() {
        let mut names: Vec<_> = TOOLS.iter().map(|tool| tool.name).collect();
        for name in &names {
            assert!(name.len() <= 64);
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TOOLS.len());
    }
}

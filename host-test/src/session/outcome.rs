//! The guest's final answer as a person or agent sees it (C5): structured output only on
//! success and only when it matches the tool's output schema, and a note when approved writes
//! were left unsent.

use super::ToolCall;
use crate::bindings::types;
use crate::runtime::{CallReport, HostTool};

/// Maps the guest's final answer, noting approved writes that were not sent.
/// Structured output is passed on only on success and only when it matches the tool's output
/// schema; otherwise it is dropped with a note, and the text (which may report an applied
/// change) is kept.
pub(super) fn finish(
    outcome: Result<types::ToolOutcome, types::CallError>,
    report: &CallReport,
    tool: &HostTool,
) -> ToolCall {
    match outcome {
        Ok(types::ToolOutcome::Result(mut result)) => {
            if result.is_error {
                result.structured = None;
            } else if let Some(structured) = &result.structured {
                use crate::policy::schema::{self, OutputCheck};
                // The runtime checks within the call's deadline (P6); check here only if it
                // did not.
                let check = match report.output_check {
                    OutputCheck::NotChecked => {
                        schema::check_output(&tool.schemas.output, structured)
                    }
                    checked => checked,
                };
                let problem = match check {
                    OutputCheck::Matches => None,
                    OutputCheck::OutOfTime => {
                        Some("could not be checked against its output schema in time")
                    }
                    _ => Some("did not match its output schema"),
                };
                if let Some(problem) = problem {
                    result.structured = None;
                    result.text = format!(
                        "{}\nHost: the plugin's structured output {problem} and was dropped.",
                        result.text
                    );
                }
            }
            if report.writes_unsent > 0 {
                let total = report.writes_sent + report.writes_unsent;
                let note = if report.writes_sent > 0 {
                    format!(
                        "Host: partly applied: {} of {total} approved changes were sent.",
                        report.writes_sent
                    )
                } else {
                    "Host: none of the approved changes was sent.".to_string()
                };
                result.text = format!("{}\n{note}", result.text);
            }
            ToolCall::Result(result)
        }
        Ok(types::ToolOutcome::Proposal(_)) => {
            ToolCall::PluginError("the plugin proposed a change where none was expected".into())
        }
        Err(types::CallError::InvalidArguments(m)) => ToolCall::InvalidArguments(m),
        Err(types::CallError::UnknownTool(m)) => ToolCall::UnknownTool(m),
        Err(types::CallError::Internal(m)) => ToolCall::PluginError(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool() -> HostTool {
        let output_json = serde_json::json!({
            "type": "object",
            "required": ["count"],
            "properties": {"count": {"type": "integer"}}
        });
        let input = jsonschema::validator_for(&serde_json::json!({"type": "object"}));
        let output_validator = jsonschema::validator_for(&output_json);
        match (input, output_validator) {
            (Ok(input), Ok(output)) => HostTool {
                descriptor: types::ToolDescriptor {
                    name: "t".into(),
                    title: "t".into(),
                    description: "t".into(),
                    input_schema: "{}".into(),
                    output_schema: output_json.to_string(),
                    effect: types::Effect::Read,
                    destructive: false,
                    idempotent: true,
                    open_world: true,
                },
                schemas: crate::policy::schema::ToolSchemas { input, output },
            },
            _ => panic!("test schemas compile"),
        }
    }

    fn result(structured: &str, is_error: bool) -> Result<types::ToolOutcome, types::CallError> {
        Ok(types::ToolOutcome::Result(types::ToolResult {
            text: "1 return".into(),
            structured: Some(structured.into()),
            is_error,
        }))
    }

    #[test]
    fn structured_output_passes_only_on_success_and_only_when_it_matches_its_schema() {
        let tool = tool();
        let report = CallReport::default();
        let ToolCall::Result(ok) = finish(result(r#"{"count":1}"#, false), &report, &tool) else {
            panic!("a result")
        };
        assert_eq!(ok.structured.as_deref(), Some(r#"{"count":1}"#));
        let ToolCall::Result(bad) = finish(result(r#"{"count":"one"}"#, false), &report, &tool)
        else {
            panic!("a result")
        };
        assert!(bad.structured.is_none());
        assert!(bad.text.starts_with("1 return") && bad.text.contains("did not match"));
        let ToolCall::Result(error) = finish(result(r#"{"count":1}"#, true), &report, &tool) else {
            panic!("a result")
        };
        assert!(error.structured.is_none(), "never on an error");
    }
}

//! The schema rules (C4): a tool's input schema is a closed object with no top-level
//! combinator, both schemas are bounded in size, and they compile without any resolver that
//! could fetch an external `$ref` (no network or file access is compiled in).

use crate::bindings::types;

/// The compiled validators of one tool.
pub struct ToolSchemas {
    /// Arguments are checked against it before every call.
    pub input: jsonschema::Validator,
    /// Structured output is checked against it before anyone sees it.
    pub output: jsonschema::Validator,
}

#[derive(Debug, thiserror::Error)]
#[error("the plugin's tool `{tool}` has an unusable schema: {reason}")]
pub struct SchemaError {
    pub tool: String,
    pub reason: String,
}

/// Checks and compiles the input and output schemas of one tool.
pub fn compile(
    descriptor: &types::ToolDescriptor,
    max_bytes: usize,
) -> Result<ToolSchemas, SchemaError> {
    let bad = |reason: String| SchemaError {
        tool: descriptor.name.clone(),
        reason,
    };
    for schema in [&descriptor.input_schema, &descriptor.output_schema] {
        if schema.len() > max_bytes {
            return Err(bad(format!("larger than {max_bytes} bytes")));
        }
    }
    let schema: serde_json::Value =
        serde_json::from_str(&descriptor.input_schema).map_err(|e| bad(e.to_string()))?;
    if schema.get("type") != Some(&serde_json::Value::from("object"))
        || schema.get("additionalProperties") != Some(&serde_json::Value::Bool(false))
    {
        return Err(bad(
            "input schemas must be `type: object` with `additionalProperties: false`".into(),
        ));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if schema.get(combinator).is_some() {
            return Err(bad(format!("a top-level `{combinator}` is not allowed")));
        }
    }
    let output: serde_json::Value =
        serde_json::from_str(&descriptor.output_schema).map_err(|e| bad(e.to_string()))?;
    let input = jsonschema::validator_for(&schema).map_err(|e| bad(e.to_string()))?;
    let output = jsonschema::validator_for(&output).map_err(|e| bad(format!("output: {e}")))?;
    Ok(ToolSchemas { input, output })
}

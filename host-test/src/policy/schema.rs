//! The schema rules (C4, C5). A plugin's JSON schemas are code the host runs: arguments are
//! checked against the input schema before the guest runs, structured output against the
//! output schema after it. So the host accepts only a bounded subset of JSON Schema, checked
//! at load; a schema outside it refuses the whole plugin (`LoadError::BadSchema`), naming the
//! rule it broke.
//!
//! # The subset
//!
//! JSON Schema draft 2020-12 (a `$schema`, if any, at the top and naming it), and per schema:
//!
//! - At most `Limits::max_schema_bytes` (64 KiB) of text; every number in it finite as an
//!   `f64` (the validator panics on `1e400`; instances are held to the same rule).
//! - Keywords from an allow-list; any other keyword is refused:
//!   - annotations, never evaluated: `title`, `description`, `$comment`, `default`,
//!     `examples`, `deprecated`, `readOnly`, `writeOnly`, and `format`. Formats are never
//!     validated (tools check them in code), so a costly format check, such as `regex`
//!     compiling the instance, cannot be triggered.
//!   - checks: `type`, `enum` and `const` (scalar values only), `multipleOf` (a positive
//!     integer: a fractional one runs big-fraction arithmetic per value), `minimum`,
//!     `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`,
//!     `pattern`, `minItems`, `maxItems`, `minContains`, `maxContains`, `minProperties`,
//!     `maxProperties`, `required`, `dependentRequired`;
//!   - applicators: `properties`, `patternProperties`, `additionalProperties`,
//!     `propertyNames`, `dependentSchemas`, `items`, `prefixItems`, `contains`, `allOf`,
//!     `anyOf`, `oneOf`, `not`, `if`, `then`, `else`;
//!   - `$ref`, only as `#/$defs/NAME` or `#/definitions/NAME` (NAME of `[A-Za-z0-9_.-]`),
//!     into a `$defs` or `definitions` at the top of the schema, and acyclic. No remote or
//!     other references, no `$id`, `$anchor`, `$dynamicRef`, `$recursiveRef`.
//!   - refused because their cost is not bounded: `uniqueItems` (quadratic on numbers that
//!     collide in its hash), `unevaluatedProperties` and `unevaluatedItems`, `content*`.
//! - Counted with every `$ref` expanded (the validator compiles a reference's target again
//!   at each use): subschemas nested at most [`MAX_DEPTH`] deep; at most [`MAX_SUBSCHEMAS`]
//!   subschemas; at most [`MAX_LOAD`] checks applied to any one value of an instance (a
//!   subschema, a keyword and each `required` name count one, each `enum` value two); at
//!   most [`MAX_PATTERNS`] patterns (`pattern`, `patternProperties` keys), each at most
//!   [`MAX_PATTERN_BYTES`] long. The walk that counts remembers each definition, so a schema
//!   that doubles at every level of references is refused in time linear in its text.
//! - Per plugin, over all its schemas: at most [`MAX_PLUGIN_SUBSCHEMAS`] subschemas and
//!   [`MAX_PLUGIN_PATTERNS`] patterns, counted the same way.
//!
//! # Why that bounds time (P6)
//!
//! Each expanded subschema is applied at most once to each value of an instance, so a check
//! costs at most (values in the instance) x [`MAX_LOAD`] steps, plus at most
//! [`MAX_PATTERNS`] scans of each string. Patterns run on the `regex` crate's engine, linear
//! in the text (a pattern with lookaround or backreferences is refused), compiled to at most
//! [`REGEX_SIZE_LIMIT`]. Instances are bounded: output by `Limits::max_output_bytes`,
//! arguments by `Limits::max_argument_bytes` (1 MiB each, so at most about 512 Ki values).
//! Measured on the development machine (release build), the worst cases this subset allows
//! check 1 MiB in 0.2 to 0.3 s, parsing included (a `^(a+)+$` pattern scans 1 MiB in about
//! 0.15 ms), so an input of up to 2 KiB is checked on the calling thread in under a
//! millisecond (`runtime::INLINE_CHECK_BYTES`). The runtime runs each larger check on a
//! blocking thread and waits for it only so long: output gets what is left of the call's deadline (its time counts in the call's
//! duration; unchecked, it is dropped with a note), arguments a tenth of the deadline (else
//! the call is refused before the guest runs), so a call ends within its deadline plus 10%.
//!
//! # Why that bounds memory
//!
//! A compiled subschema takes about 1 KiB: about 9 MiB per plugin at
//! [`MAX_PLUGIN_SUBSCHEMAS`]. Patterns at their size cap compile to about 250 KiB each, about
//! 16 MiB at [`MAX_PLUGIN_PATTERNS`], plus a lazy-DFA cache of at most
//! [`REGEX_DFA_SIZE_LIMIT`] each (16 MiB) per check running at the same time. The validator
//! library also checks every schema against the draft's meta-schema, whose compiled form
//! grows (2 to 3.5 MiB a step, kept for the life of the process) with each new path of
//! applicator keywords it meets: unbounded for nested schemas. So the host hands it every
//! schema flattened ([`Flat`]): each subschema that has subschemas of its own becomes a
//! top-level definition reached by `$ref`, the same validation at most two levels deep,
//! which bounds that growth to one step per applicator keyword, about 51 MiB once per
//! process. Checking a 1 MiB instance holds its parsed form, up to about 17 MiB, while it
//! runs.
//!
//! Schemas compile with no resolver that could fetch anything (no network or file access is
//! compiled in), and no `$ref` leaves the document.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::bindings::types;

/// Deepest nesting of subschemas, `$ref` targets included (the validator recurses this deep).
pub const MAX_DEPTH: usize = 32;
/// Most subschemas of one schema with every `$ref` expanded: what the validator builds.
pub const MAX_SUBSCHEMAS: usize = 512;
/// Most checks applied to one value of an instance: bounds the time per value.
pub const MAX_LOAD: usize = 64;
/// Most patterns in one schema with every `$ref` expanded.
pub const MAX_PATTERNS: usize = 16;
/// Longest pattern, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;
/// Most subschemas over all of one plugin's schemas: bounds the validators' memory.
pub const MAX_PLUGIN_SUBSCHEMAS: usize = 8 * 1024;
/// Most patterns over all of one plugin's schemas: bounds the regexes' memory.
pub const MAX_PLUGIN_PATTERNS: usize = 64;
/// Largest compiled pattern.
pub const REGEX_SIZE_LIMIT: usize = 64 << 10;
/// Largest lazy-DFA cache of one pattern, per thread using it.
pub const REGEX_DFA_SIZE_LIMIT: usize = 256 << 10;
/// Most validation errors an explanation of bad arguments may build: the validator builds
/// every error under a failing `anyOf` or `oneOf`, so only a small enough check is explained.
const MAX_EXPLAINED_ERRORS: usize = 64 * 1024;
/// Longest description of one problem with the arguments (it may quote the instance).
const MAX_PROBLEM_CHARS: usize = 300;

const NUMBER_OUT_OF_RANGE: &str = "a number is out of the range of a 64-bit float";
const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";
/// Relative depths of an instance below the value a subschema applies to.
const DEPTHS: usize = MAX_DEPTH + 1;

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

/// What a plugin's schemas have used so far of the per-plugin caps.
#[derive(Debug, Default)]
pub struct PluginBudget {
    subschemas: usize,
    patterns: usize,
}

/// The verdict on a result's structured output (C5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputCheck {
    /// Nothing was checked: no structured output, an error result, or a proposal.
    #[default]
    NotChecked,
    Matches,
    DoesNotMatch,
    /// The call's deadline had no time left to check it.
    OutOfTime,
}

/// Checks the input and output schemas of one tool against the subset and compiles them,
/// charging `budget` for what they add to the plugin.
pub fn compile(
    descriptor: &types::ToolDescriptor,
    max_bytes: usize,
    budget: &mut PluginBudget,
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
    let input: Value = serde_json::from_str(&descriptor.input_schema)
        .map_err(|e| bad(format!("input schema: {e}")))?;
    check_input_shape(&input).map_err(bad)?;
    let output: Value = serde_json::from_str(&descriptor.output_schema)
        .map_err(|e| bad(format!("output schema: {e}")))?;
    let input = Flat::of(&input).map_err(|e| bad(format!("input schema: {e}")))?;
    let output = Flat::of(&output).map_err(|e| bad(format!("output schema: {e}")))?;
    for flat in [&input, &output] {
        budget.subschemas = budget.subschemas.saturating_add(flat.expansion.subschemas);
        budget.patterns = budget.patterns.saturating_add(flat.expansion.patterns);
    }
    if budget.subschemas > MAX_PLUGIN_SUBSCHEMAS {
        return Err(bad(format!(
            "the plugin's schemas together hold more than {MAX_PLUGIN_SUBSCHEMAS} subschemas"
        )));
    }
    if budget.patterns > MAX_PLUGIN_PATTERNS {
        return Err(bad(format!(
            "the plugin's schemas together hold more than {MAX_PLUGIN_PATTERNS} patterns"
        )));
    }
    let input = build(&input.schema).map_err(|e| bad(format!("input schema: {e}")))?;
    let output = build(&output.schema).map_err(|e| bad(format!("output schema: {e}")))?;
    Ok(ToolSchemas { input, output })
}

/// C4: a closed object at the top, with no top-level combinator or reference.
fn check_input_shape(schema: &Value) -> Result<(), String> {
    if schema.get("type") != Some(&Value::from("object"))
        || schema.get("additionalProperties") != Some(&Value::Bool(false))
    {
        return Err(
            "input schemas must be `type: object` with `additionalProperties: false`".into(),
        );
    }
    for keyword in ["oneOf", "anyOf", "allOf", "$ref"] {
        if schema.get(keyword).is_some() {
            return Err(format!("a top-level `{keyword}` is not allowed"));
        }
    }
    Ok(())
}

/// Compiles a flattened schema of the subset: draft 2020-12, formats as annotations only,
/// patterns on the linear-time engine with bounded sizes.
fn build(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(false)
        .with_pattern_options(
            jsonschema::PatternOptions::regex()
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_SIZE_LIMIT),
        )
        .build(schema)
        .map_err(|error| match &error.kind {
            jsonschema::error::ValidationErrorKind::Format { format } if format == "regex" => {
                format!(
                    "pattern {} is refused: patterns run on a linear-time engine (no \
                     lookaround or backreferences) and compile to at most {} KiB",
                    error.instance,
                    REGEX_SIZE_LIMIT >> 10
                )
            }
            _ => error.to_string(),
        })
}

/// Whether the structured output `json` matches the tool's output schema. `is_valid` stops at
/// the first failure and builds no errors, so it stays within the subset's bounds.
pub fn check_output(validator: &jsonschema::Validator, json: &str) -> OutputCheck {
    match serde_json::from_str::<Value>(json) {
        Ok(value) if finite_numbers(&value) && validator.is_valid(&value) => OutputCheck::Matches,
        _ => OutputCheck::DoesNotMatch,
    }
}

/// Up to `max` problems of `instance` against `validator`, each naming where it is; empty
/// when it matches. `schema` is the schema's text, to bound the explanation: the validator
/// builds every error under a failing `anyOf`/`oneOf`, up to (values) x (checks per value),
/// so a check too large to explain gets one general problem instead.
pub fn problems(
    validator: &jsonschema::Validator,
    schema: &str,
    instance: &Value,
    max: usize,
) -> Vec<String> {
    if !finite_numbers(instance) {
        return vec![NUMBER_OUT_OF_RANGE.into()];
    }
    if validator.is_valid(instance) {
        return Vec::new();
    }
    let load = serde_json::from_str::<Value>(schema)
        .ok()
        .and_then(|schema| Flat::of(&schema).ok())
        .map_or(MAX_LOAD, |flat| flat.expansion.max_load());
    if count_values(instance).saturating_mul(load) > MAX_EXPLAINED_ERRORS {
        return vec!["the arguments do not match the tool's input schema".into()];
    }
    validator
        .iter_errors(instance)
        .take(max)
        .map(|error| {
            let error = telling(&error);
            let at = error.instance_path.to_string();
            let message = message(error);
            let problem = if at.is_empty() {
                message
            } else {
                format!("{at}: {message}")
            };
            shorten(problem)
        })
        .collect()
}

/// The error's message; an `enum` of up to [`LISTED_OPTIONS`] values names them all (the
/// library names two and counts the rest), so the agent can pick a valid one.
fn message(error: &jsonschema::ValidationError<'_>) -> String {
    if let jsonschema::error::ValidationErrorKind::Enum {
        options: Value::Array(options),
    } = &error.kind
        && options.len() <= LISTED_OPTIONS
    {
        let listed: Vec<String> = options.iter().map(Value::to_string).collect();
        return format!("{} is not one of {}", error.instance, listed.join(", "));
    }
    error.to_string()
}

/// Most `enum` values a problem lists (the message is shortened to its cap anyway).
const LISTED_OPTIONS: usize = 12;

/// The error that says what is wrong: for an `anyOf` or `oneOf` that failed, the error of the
/// one branch whose type the value has (`"SHIPPED" is not one of …`, not "is not valid under
/// any of the schemas"), when exactly one branch has it; else the error itself.
fn telling<'e, 'a>(
    error: &'e jsonschema::ValidationError<'a>,
) -> &'e jsonschema::ValidationError<'a> {
    use jsonschema::error::ValidationErrorKind as Kind;
    let (Kind::AnyOf { context } | Kind::OneOfNotValid { context }) = &error.kind else {
        return error;
    };
    let mut fitting = context.iter().filter(|errors| {
        !errors.iter().any(|inner| {
            matches!(inner.kind, Kind::Type { .. }) && inner.instance_path == error.instance_path
        })
    });
    match (fitting.next(), fitting.next()) {
        (Some(errors), None) => errors.first().map_or(error, |inner| telling(inner)),
        _ => error,
    }
}

/// Whether every number in `value` has a finite `f64` value. With `arbitrary_precision` a
/// number such as `1e400` parses, and the validator's numeric checks would panic on it.
fn finite_numbers(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Number(number) if number.as_f64().is_none() => return false,
            Value::Array(items) => stack.extend(items),
            Value::Object(members) => stack.extend(members.values()),
            _ => {}
        }
    }
    true
}

/// Values in an instance, keys included (`propertyNames` checks them as values).
fn count_values(value: &Value) -> usize {
    let mut count = 0usize;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        count += 1;
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(members) => {
                count += members.len();
                stack.extend(members.values());
            }
            _ => {}
        }
    }
    count
}

fn shorten(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(MAX_PROBLEM_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// A schema's cost with every `$ref` expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expansion {
    subschemas: usize,
    patterns: usize,
    /// Levels of subschemas, this one included.
    height: usize,
    /// `load[k]`: most checks applied to one value `k` levels below the one this applies to.
    load: [usize; DEPTHS],
}

impl Expansion {
    /// One subschema, itself one check.
    fn one() -> Expansion {
        let mut load = [0; DEPTHS];
        load[0] = 1;
        Expansion {
            subschemas: 1,
            patterns: 0,
            height: 1,
            load,
        }
    }

    /// Counts `child`'s subschemas, patterns and height (not its load: that depends on where
    /// it applies).
    fn contain(&mut self, child: &Expansion) {
        self.subschemas = self.subschemas.saturating_add(child.subschemas);
        self.patterns = self.patterns.saturating_add(child.patterns);
        self.height = self.height.max(child.height.saturating_add(1));
    }

    fn max_load(&self) -> usize {
        self.load.iter().copied().max().unwrap_or(0)
    }
}

fn add_load(into: &mut [usize; DEPTHS], load: &[usize; DEPTHS]) {
    for (into, load) in into.iter_mut().zip(load) {
        *into = into.saturating_add(*load);
    }
}

fn max_load(into: &mut [usize; DEPTHS], load: &[usize; DEPTHS]) {
    for (into, load) in into.iter_mut().zip(load) {
        *into = (*into).max(*load);
    }
}

/// The loads of a subschema's children, by where they apply.
struct ChildLoads {
    /// To the same value (`allOf`, `$ref`, `not`, ...): they add up.
    in_place: [usize; DEPTHS],
    /// To an array's items: one of `prefixItems` or `items`, plus `contains`.
    item: [usize; DEPTHS],
    contains: [usize; DEPTHS],
    /// To an object's members: one of `properties`, plus every `patternProperties` (several
    /// may match) and `additionalProperties`.
    property: [usize; DEPTHS],
    by_pattern: [usize; DEPTHS],
    /// To an object's keys.
    key: [usize; DEPTHS],
}

impl ChildLoads {
    fn new() -> ChildLoads {
        ChildLoads {
            in_place: [0; DEPTHS],
            item: [0; DEPTHS],
            contains: [0; DEPTHS],
            property: [0; DEPTHS],
            by_pattern: [0; DEPTHS],
            key: [0; DEPTHS],
        }
    }

    /// The load of the subschema whose own keywords cost `own` checks.
    fn total(&self, own: usize) -> [usize; DEPTHS] {
        let mut load = self.in_place;
        load[0] = load[0].saturating_add(own);
        // A value one level down is an item or a member (or a key), never two at once.
        for (below, at) in load.iter_mut().skip(1).enumerate() {
            let item = self.item[below].saturating_add(self.contains[below]);
            let member = self.property[below].saturating_add(self.by_pattern[below]);
            let child = item.max(member).max(self.key[below]);
            *at = at.saturating_add(child);
        }
        load
    }
}

/// A schema checked against the subset and rewritten for the validator: every subschema that
/// has subschemas of its own becomes a definition `#/$defs/sN`, reached by `$ref`, so the
/// validator's meta-schema check never goes more than two subschemas deep (see the module
/// documentation). Annotations are dropped; what is validated is unchanged.
struct Flat {
    schema: Value,
    expansion: Expansion,
}

impl Flat {
    fn of(schema: &Value) -> Result<Flat, String> {
        if !finite_numbers(schema) {
            return Err(NUMBER_OUT_OF_RANGE.into());
        }
        let empty = Map::new();
        let root = schema.as_object().unwrap_or(&empty);
        let mut walk = Walk {
            root,
            seen: HashMap::new(),
            definitions: Map::new(),
        };
        let (expansion, top) = walk.schema(schema, "#", 1)?;
        // Unused definitions are never compiled, but they must be inside the subset too.
        for container in ["$defs", "definitions"] {
            if let Some(Value::Object(definitions)) = root.get(container) {
                for name in definitions.keys() {
                    let reference = format!("#/{container}/{name}");
                    if local_definition(&reference).is_none() {
                        return Err(format!(
                            "definition name \"{name}\" must be 1 to 64 of `[A-Za-z0-9_.-]` \
                             (at #/{container})"
                        ));
                    }
                    walk.reference(&Value::from(reference), &format!("#/{container}"), 2)?;
                }
            }
        }
        // The top is a boolean, a schema with no subschemas of its own, or a `$ref` to where
        // it was moved; the definitions go beside it.
        let schema = match top {
            Value::Object(mut top) if !walk.definitions.is_empty() => {
                top.insert("$defs".into(), Value::Object(walk.definitions));
                Value::Object(top)
            }
            top => top,
        };
        Ok(Flat { schema, expansion })
    }
}

enum Visit {
    InProgress,
    /// Measured, and flattened into the definition this `$ref` names.
    Done(Box<Expansion>, String),
}

/// One walk over a schema document. Definitions are measured once and remembered, so the walk
/// is linear in the document even where references multiply what the validator builds.
struct Walk<'a> {
    root: &'a Map<String, Value>,
    seen: HashMap<String, Visit>,
    /// The flattened subschemas, named `s0`, `s1`, ...
    definitions: Map<String, Value>,
}

impl Walk<'_> {
    /// Checks and measures one subschema, `at` its JSON pointer (for messages) and `depth`
    /// its nesting (the top at 1); answers with what stands in its place: itself, flattened,
    /// or a `$ref` to where it was moved.
    fn schema(
        &mut self,
        schema: &Value,
        at: &str,
        depth: usize,
    ) -> Result<(Expansion, Value), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "subschemas nested more than {MAX_DEPTH} deep (at {at})"
            ));
        }
        let map = match schema {
            Value::Bool(_) => return Ok((Expansion::one(), schema.clone())),
            Value::Object(map) => map,
            _ => return Err(format!("a schema must be an object or a boolean (at {at})")),
        };
        let mut node = Node::new();
        for (keyword, value) in map {
            let here = format!("{at}/{}", escape(keyword));
            self.keyword(&mut node, keyword, value, &here, depth)?;
        }
        let (expansion, flat, has_subschemas) = node.finish(at)?;
        let stand_in = if has_subschemas {
            Value::from_iter([("$ref".to_string(), Value::String(self.define(flat)))])
        } else {
            flat
        };
        Ok((expansion, stand_in))
    }

    /// One keyword of a subschema: refused, or checked and counted into `node`.
    fn keyword(
        &mut self,
        node: &mut Node,
        keyword: &str,
        value: &Value,
        here: &str,
        depth: usize,
    ) -> Result<(), String> {
        match keyword {
            "$schema" => {
                let draft = value.as_str().map(|uri| uri.trim_end_matches('#'));
                if depth != 1 || draft != Some(DRAFT_2020_12) {
                    return Err(format!(
                        "only draft 2020-12 is accepted, declared at the top (at {here})"
                    ));
                }
            }
            "$defs" | "definitions" => {
                if depth != 1 || !value.is_object() {
                    return Err(format!(
                        "`{keyword}` must be an object at the top of the schema (at {here})"
                    ));
                }
            }
            "$ref" => {
                let (target, reference) = self.reference(value, here, depth + 1)?;
                node.expansion.contain(&target);
                add_load(&mut node.children.in_place, &target.load);
                node.flat
                    .insert(keyword.to_string(), Value::String(reference));
            }
            "title" | "description" | "$comment" | "default" | "examples" | "deprecated"
            | "readOnly" | "writeOnly" => {}
            "format" => {
                if !value.is_string() {
                    return Err(format!("`format` must be a string (at {here})"));
                }
            }
            "type" | "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum"
            | "minLength" | "maxLength" | "minItems" | "maxItems" | "minContains"
            | "maxContains" | "minProperties" | "maxProperties" | "multipleOf" | "const"
            | "enum" | "required" | "dependentRequired" | "pattern" => {
                node.own = node.own.saturating_add(check_cost(keyword, value, here)?);
                if keyword == "pattern" {
                    node.expansion.patterns += 1;
                }
                node.flat.insert(keyword.to_string(), value.clone());
            }
            "properties" | "patternProperties" | "dependentSchemas" => {
                self.members(node, keyword, value, here, depth)?;
            }
            "additionalProperties"
            | "propertyNames"
            | "items"
            | "contains"
            | "not"
            | "if"
            | "then"
            | "else" => {
                node.own += 1;
                node.has_subschemas = true;
                let (child, stand_in) = self.schema(value, here, depth + 1)?;
                node.expansion.contain(&child);
                let loads = match keyword {
                    "additionalProperties" => &mut node.children.by_pattern,
                    "propertyNames" => &mut node.children.key,
                    "items" => &mut node.children.item,
                    "contains" => &mut node.children.contains,
                    _ => &mut node.children.in_place,
                };
                if keyword == "items" {
                    max_load(loads, &child.load);
                } else {
                    add_load(loads, &child.load);
                }
                node.flat.insert(keyword.to_string(), stand_in);
            }
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                self.list(node, keyword, value, here, depth)?;
            }
            "$id" | "$anchor" | "$dynamicRef" | "$dynamicAnchor" | "$recursiveRef"
            | "$recursiveAnchor" | "$vocabulary" => {
                return Err(format!(
                    "`{keyword}` is not allowed: references stay in the document, as \
                     `#/$defs/NAME` (at {here})"
                ));
            }
            "uniqueItems"
            | "unevaluatedProperties"
            | "unevaluatedItems"
            | "contentEncoding"
            | "contentMediaType"
            | "contentSchema" => {
                return Err(format!(
                    "`{keyword}` is not allowed: its cost is not bounded (at {here})"
                ));
            }
            _ => {
                return Err(format!(
                    "unknown keyword `{keyword}` (at {here}); the host accepts a subset \
                     of JSON Schema 2020-12"
                ));
            }
        }
        Ok(())
    }

    /// `properties`, `patternProperties`, `dependentSchemas`: an object of subschemas.
    fn members(
        &mut self,
        node: &mut Node,
        keyword: &str,
        value: &Value,
        here: &str,
        depth: usize,
    ) -> Result<(), String> {
        let Some(members) = value.as_object() else {
            return Err(format!("`{keyword}` must be an object (at {here})"));
        };
        node.own += 1;
        node.has_subschemas = true;
        let mut flat_members = Map::new();
        for (name, subschema) in members {
            let path = format!("{here}/{}", escape(name));
            if keyword == "patternProperties" {
                check_pattern(Some(name), &path)?;
                node.expansion.patterns += 1;
            }
            let (child, stand_in) = self.schema(subschema, &path, depth + 1)?;
            node.expansion.contain(&child);
            match keyword {
                "properties" => max_load(&mut node.children.property, &child.load),
                "patternProperties" => add_load(&mut node.children.by_pattern, &child.load),
                _ => add_load(&mut node.children.in_place, &child.load),
            }
            flat_members.insert(name.clone(), stand_in);
        }
        node.flat
            .insert(keyword.to_string(), Value::Object(flat_members));
        Ok(())
    }

    /// `allOf`, `anyOf`, `oneOf`, `prefixItems`: a non-empty array of subschemas.
    fn list(
        &mut self,
        node: &mut Node,
        keyword: &str,
        value: &Value,
        here: &str,
        depth: usize,
    ) -> Result<(), String> {
        let Some(subschemas) = value.as_array().filter(|s| !s.is_empty()) else {
            return Err(format!("`{keyword}` must be a non-empty array (at {here})"));
        };
        node.own += 1;
        node.has_subschemas = true;
        let mut stand_ins = Vec::with_capacity(subschemas.len());
        for (index, subschema) in subschemas.iter().enumerate() {
            let path = format!("{here}/{index}");
            let (child, stand_in) = self.schema(subschema, &path, depth + 1)?;
            node.expansion.contain(&child);
            if keyword == "prefixItems" {
                max_load(&mut node.children.item, &child.load);
            } else {
                add_load(&mut node.children.in_place, &child.load);
            }
            stand_ins.push(stand_in);
        }
        node.flat
            .insert(keyword.to_string(), Value::Array(stand_ins));
        Ok(())
    }

    /// A `$ref` used at nesting `depth`: only local, into the top-level definitions, acyclic.
    /// Answers with the target's cost and the `$ref` to its flattened form.
    fn reference(
        &mut self,
        value: &Value,
        at: &str,
        depth: usize,
    ) -> Result<(Expansion, String), String> {
        let Some(reference) = value.as_str() else {
            return Err(format!("`$ref` must be a string (at {at})"));
        };
        let Some((container, name)) = local_definition(reference) else {
            return Err(format!(
                "`$ref` \"{reference}\" is not allowed: only local references `#/$defs/NAME` \
                 (at {at})"
            ));
        };
        let root = self.root;
        let Some(target) = root
            .get(container)
            .and_then(Value::as_object)
            .and_then(|definitions| definitions.get(name))
        else {
            return Err(format!(
                "`$ref` \"{reference}\" names no definition (at {at})"
            ));
        };
        match self.seen.get(reference) {
            Some(Visit::InProgress) => Err(format!("`$ref` cycle at {reference}")),
            Some(Visit::Done(expansion, flat)) => {
                if depth + expansion.height - 1 > MAX_DEPTH {
                    return Err(format!(
                        "subschemas nested more than {MAX_DEPTH} deep through {reference} \
                         (at {at})"
                    ));
                }
                Ok((**expansion, flat.clone()))
            }
            None => {
                self.seen.insert(reference.to_string(), Visit::InProgress);
                let (expansion, stand_in) = self.schema(target, reference, depth)?;
                let flat = match stand_in {
                    Value::Object(map) if map.len() == 1 && map.contains_key("$ref") => {
                        match map.get("$ref") {
                            Some(Value::String(flat)) => flat.clone(),
                            _ => self.define(Value::Object(map)),
                        }
                    }
                    other => self.define(other),
                };
                self.seen.insert(
                    reference.to_string(),
                    Visit::Done(Box::new(expansion), flat.clone()),
                );
                Ok((expansion, flat))
            }
        }
    }

    /// Moves a flattened subschema into the definitions; answers with the `$ref` to it.
    fn define(&mut self, schema: Value) -> String {
        let name = format!("s{}", self.definitions.len());
        self.definitions.insert(name.clone(), schema);
        format!("#/$defs/{name}")
    }
}

/// `#/$defs/NAME` or `#/definitions/NAME` as (container, NAME), NAME needing no escaping.
/// One subschema while it is walked: its cost so far, and its flattened form.
struct Node {
    expansion: Expansion,
    /// Checks this subschema itself applies to a value.
    own: usize,
    children: ChildLoads,
    has_subschemas: bool,
    flat: Map<String, Value>,
}

impl Node {
    fn new() -> Node {
        Node {
            expansion: Expansion::one(),
            own: 1,
            children: ChildLoads::new(),
            has_subschemas: false,
            flat: Map::new(),
        }
    }

    /// The subschema's cost, held to the per-schema caps, and its flattened form.
    fn finish(mut self, at: &str) -> Result<(Expansion, Value, bool), String> {
        self.expansion.load = self.children.total(self.own);
        let expansion = self.expansion;
        if expansion.subschemas > MAX_SUBSCHEMAS {
            return Err(format!(
                "more than {MAX_SUBSCHEMAS} subschemas, counting a `$ref` target at each use \
                 (at {at})"
            ));
        }
        if expansion.max_load() > MAX_LOAD {
            return Err(format!(
                "more than {MAX_LOAD} checks would apply to one value, counting a `$ref` \
                 target at each use (at {at})"
            ));
        }
        if expansion.patterns > MAX_PATTERNS {
            return Err(format!(
                "more than {MAX_PATTERNS} patterns, counting a `$ref` target at each use \
                 (at {at})"
            ));
        }
        Ok((expansion, Value::Object(self.flat), self.has_subschemas))
    }
}

/// The checks one assertion keyword applies to a value, after its own rules.
fn check_cost(keyword: &str, value: &Value, here: &str) -> Result<usize, String> {
    match keyword {
        // A fractional divisor runs big-fraction arithmetic on every value checked.
        "multipleOf" if value.as_u64().is_none_or(|divisor| divisor == 0) => Err(format!(
            "`multipleOf` must be a positive integer (at {here})"
        )),
        "const" | "enum" => {
            let values = match value {
                Value::Array(values) if keyword == "enum" => values.as_slice(),
                _ if keyword == "enum" => &[],
                _ => std::slice::from_ref(value),
            };
            if values.is_empty() || !values.iter().all(is_scalar) {
                return Err(format!(
                    "`{keyword}` must hold scalar values only (at {here})"
                ));
            }
            // Each value is compared in turn, and a comparison of numbers parses both: about
            // two checks' time.
            Ok(2 * values.len())
        }
        "required" => Ok(1 + names(value, here)?),
        "dependentRequired" => {
            let Some(dependents) = value.as_object() else {
                return Err(format!("`dependentRequired` must be an object (at {here})"));
            };
            dependents.values().try_fold(1usize, |sum, required| {
                Ok(sum.saturating_add(names(required, here)?))
            })
        }
        "pattern" => {
            check_pattern(value.as_str(), here)?;
            Ok(1)
        }
        _ => Ok(1),
    }
}

fn local_definition(reference: &str) -> Option<(&'static str, &str)> {
    let (container, name) = if let Some(name) = reference.strip_prefix("#/$defs/") {
        ("$defs", name)
    } else {
        ("definitions", reference.strip_prefix("#/definitions/")?)
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    (!name.is_empty() && name.len() <= 64 && name.chars().all(plain)).then_some((container, name))
}

fn check_pattern(pattern: Option<&str>, at: &str) -> Result<(), String> {
    match pattern {
        None => Err(format!("a pattern must be a string (at {at})")),
        Some(pattern) if pattern.len() > MAX_PATTERN_BYTES => Err(format!(
            "pattern longer than {MAX_PATTERN_BYTES} bytes (at {at})"
        )),
        Some(_) => Ok(()),
    }
}

/// The number of names in a `required`-like array of property names.
fn names(value: &Value, at: &str) -> Result<usize, String> {
    match value.as_array() {
        Some(names) if names.iter().all(Value::is_string) => Ok(names.len()),
        _ => Err(format!("expected an array of property names (at {at})")),
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// A JSON pointer segment (RFC 6901), for messages.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;

    use super::*;

    const CLOSED_INPUT: &str = r#"{"type":"object","properties":{},"additionalProperties":false}"#;

    fn descriptor(input: &str, output: &str) -> types::ToolDescriptor {
        types::ToolDescriptor {
            name: "hostile".into(),
            title: "hostile".into(),
            description: "a test tool".into(),
            input_schema: input.into(),
            output_schema: output.into(),
            effect: types::Effect::Read,
            destructive: false,
            idempotent: true,
            open_world: true,
        }
    }

    fn compiled(output: &Value) -> ToolSchemas {
        let descriptor = descriptor(CLOSED_INPUT, &output.to_string());
        compile(&descriptor, 64 << 10, &mut PluginBudget::default())
            .unwrap_or_else(|e| panic!("{output}: {e}"))
    }

    /// Why the output schema is refused.
    fn refusal(output: &Value) -> String {
        let descriptor = descriptor(CLOSED_INPUT, &output.to_string());
        match compile(&descriptor, 64 << 10, &mut PluginBudget::default()) {
            Err(SchemaError { reason, .. }) => reason,
            Ok(_) => panic!("accepted: {output}"),
        }
    }

    fn assert_refused(output: &Value, because: &str) {
        let reason = refusal(output);
        assert!(reason.contains(because), "{reason}");
    }

    /// Definitions `a0` .. `a{levels}` where each refers `fan_out` times to the next, through
    /// `keyword` (an `anyOf` applies them all to one value, `properties` to different ones).
    fn fanning_definitions(levels: usize, fan_out: usize, keyword: &str) -> Value {
        let mut definitions = Map::new();
        for level in 0..levels {
            let next = json!({"$ref": format!("#/$defs/a{}", level + 1)});
            let schema = if keyword == "properties" {
                let members: Map<String, Value> = (0..fan_out)
                    .map(|i| (format!("p{i}"), next.clone()))
                    .collect();
                json!({"properties": members})
            } else {
                json!({keyword: vec![next; fan_out]})
            };
            definitions.insert(format!("a{level}"), schema);
        }
        definitions.insert(format!("a{levels}"), json!({"type": "integer"}));
        json!({"$defs": definitions, "$ref": "#/$defs/a0"})
    }

    const INGRID_TOOLS: [(&str, &str, &str); 9] = [
        (
            "get_order",
            include_str!("../../../src/tools/schemas/get_order.input.json"),
            include_str!("../../../src/tools/schemas/get_order.output.json"),
        ),
        (
            "get_refund_transaction",
            include_str!("../../../src/tools/schemas/get_refund_transaction.input.json"),
            include_str!("../../../src/tools/schemas/get_refund_transaction.output.json"),
        ),
        (
            "get_return",
            include_str!("../../../src/tools/schemas/get_return.input.json"),
            include_str!("../../../src/tools/schemas/get_return.output.json"),
        ),
        (
            "list_orders",
            include_str!("../../../src/tools/schemas/list_orders.input.json"),
            include_str!("../../../src/tools/schemas/list_orders.output.json"),
        ),
        (
            "list_refund_transactions",
            include_str!("../../../src/tools/schemas/list_refund_transactions.input.json"),
            include_str!("../../../src/tools/schemas/list_refund_transactions.output.json"),
        ),
        (
            "list_returns",
            include_str!("../../../src/tools/schemas/list_returns.input.json"),
            include_str!("../../../src/tools/schemas/list_returns.output.json"),
        ),
        (
            "mark_refund_externally_refunded",
            include_str!("../../../src/tools/schemas/mark_refund_externally_refunded.input.json"),
            include_str!("../../../src/tools/schemas/mark_refund_externally_refunded.output.json"),
        ),
        (
            "report_returned_items",
            include_str!("../../../src/tools/schemas/report_returned_items.input.json"),
            include_str!("../../../src/tools/schemas/report_returned_items.output.json"),
        ),
        (
            "summarize_returns",
            include_str!("../../../src/tools/schemas/summarize_returns.input.json"),
            include_str!("../../../src/tools/schemas/summarize_returns.output.json"),
        ),
    ];

    #[test]
    fn the_embedded_plugins_schemas_are_inside_the_subset_with_room_to_spare() {
        let mut budget = PluginBudget::default();
        for (name, input, output) in INGRID_TOOLS {
            let mut tool = descriptor(input, output);
            tool.name = name.into();
            if let Err(error) = compile(&tool, 64 << 10, &mut budget) {
                panic!("{error}");
            }
            for schema in [input, output] {
                let schema: Value = serde_json::from_str(schema).unwrap_or_else(|e| panic!("{e}"));
                let flat = Flat::of(&schema).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(
                    flat.expansion.max_load() <= MAX_LOAD / 2,
                    "{name}: {:?}",
                    flat.expansion
                );
            }
        }
        assert!(budget.subschemas <= MAX_PLUGIN_SUBSCHEMAS / 8, "{budget:?}");
    }

    #[test]
    fn a_ref_cycle_is_refused_and_named() {
        let cycle = json!({
            "$defs": {"a": {"items": {"$ref": "#/$defs/b"}}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}},
            "properties": {"x": {"$ref": "#/$defs/a"}}
        });
        assert_refused(&cycle, "`$ref` cycle at #/$defs/a");
        let itself = json!({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"});
        assert_refused(&itself, "`$ref` cycle at #/$defs/a");
        // An unused definition is checked too.
        let unused = json!({"$defs": {"a": {"not": {"$ref": "#/$defs/a"}}}});
        assert_refused(&unused, "`$ref` cycle at #/$defs/a");
    }

    #[test]
    fn a_definition_used_twice_is_no_cycle() {
        let shared = json!({
            "$defs": {"id": {"type": "integer", "minimum": 1}},
            "properties": {"a": {"$ref": "#/$defs/id"}, "b": {"$ref": "#/$defs/id"}}
        });
        let schemas = compiled(&shared);
        assert_eq!(
            check_output(&schemas.output, r#"{"a":1,"b":2}"#),
            OutputCheck::Matches
        );
        let bad = check_output(&schemas.output, r#"{"a":1,"b":0}"#);
        assert_eq!(bad, OutputCheck::DoesNotMatch);
    }

    #[test]
    fn remote_and_other_non_local_refs_are_refused_without_fetching() {
        for reference in [
            "https://example.com/schema.json",
            "file:///etc/passwd",
            "other.json#/$defs/a",
            "#",
            "#/properties/a",
            "#/$defs/a/properties/b",
            "#a",
        ] {
            let schema = json!({"$defs": {"a": {}}, "properties": {"a": {"$ref": reference}}});
            let reason = refusal(&schema);
            assert!(reason.contains(reference), "{reason}");
            assert!(reason.contains("only local references"), "{reason}");
        }
        assert_refused(
            &json!({"properties": {"a": {"$ref": "#/$defs/missing"}}}),
            "names no definition",
        );
    }

    #[test]
    fn an_any_of_over_refs_that_doubles_at_each_level_is_refused_quickly() {
        let started = Instant::now();
        // 2^14 copies of the last definition on every value.
        let doubling = fanning_definitions(14, 2, "anyOf");
        assert_refused(&doubling, "more than 64 checks would apply to one value");
        // 2^14 subschemas, each on a different value: the count of subschemas stops it.
        let spread = fanning_definitions(14, 2, "properties");
        assert_refused(&spread, "more than 512 subschemas");
        // 100^6 if expanded naively; the walk remembers each definition.
        let wide = fanning_definitions(6, 100, "allOf");
        assert_refused(&wide, "counting a `$ref` target at each use");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_also_through_refs() {
        let mut deep = json!({"type": "integer"});
        for _ in 0..MAX_DEPTH {
            deep = json!({"items": deep});
        }
        assert_refused(&deep, "nested more than 32 deep");
        let mut shallow = json!({"type": "integer"});
        for _ in 0..MAX_DEPTH - 1 {
            shallow = json!({"items": shallow});
        }
        compiled(&shallow);
        // A chain of references, each shallow on its own.
        assert_refused(
            &fanning_definitions(20, 1, "allOf"),
            "nested more than 32 deep",
        );
    }

    #[test]
    fn too_many_or_too_long_patterns_are_refused() {
        let patterns: Vec<Value> = (0..=MAX_PATTERNS)
            .map(|i| json!({"pattern": format!("^x{i}$")}))
            .collect();
        assert_refused(&json!({"allOf": patterns}), "more than 16 patterns");
        let keys: Map<String, Value> = (0..=MAX_PATTERNS)
            .map(|i| (format!("^k{i}"), json!(true)))
            .collect();
        assert_refused(&json!({"patternProperties": keys}), "more than 16 patterns");
        // Counted at each use of a definition.
        let reused = json!({
            "$defs": {"p": {"pattern": "^a"}},
            "allOf": vec![json!({"$ref": "#/$defs/p"}); MAX_PATTERNS + 1]
        });
        assert_refused(&reused, "more than 16 patterns");
        let long = "a".repeat(MAX_PATTERN_BYTES + 1);
        assert_refused(&json!({"pattern": long}), "pattern longer than 256 bytes");
    }

    #[test]
    fn a_plugins_patterns_are_capped_across_its_tools() {
        let patterns: Vec<Value> = (0..MAX_PATTERNS)
            .map(|i| json!({"pattern": format!("^x{i}$")}))
            .collect();
        let output = json!({"allOf": patterns}).to_string();
        let mut budget = PluginBudget::default();
        for _ in 0..MAX_PLUGIN_PATTERNS / MAX_PATTERNS {
            if let Err(error) = compile(&descriptor(CLOSED_INPUT, &output), 64 << 10, &mut budget) {
                panic!("{error}");
            }
        }
        match compile(&descriptor(CLOSED_INPUT, &output), 64 << 10, &mut budget) {
            Err(error) => assert!(error.reason.contains("together hold more than 64 patterns")),
            Ok(_) => panic!("a plugin over its pattern budget loaded"),
        }
    }

    #[test]
    fn a_catastrophic_backtracking_pattern_runs_in_linear_time() {
        let schemas = compiled(&json!({"type": "string", "pattern": "^(a+)+$"}));
        let text = format!("\"{}b\"", "a".repeat(200_000));
        let started = Instant::now();
        assert_eq!(
            check_output(&schemas.output, &text),
            OutputCheck::DoesNotMatch
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            check_output(&schemas.output, "\"aaaa\""),
            OutputCheck::Matches
        );
    }

    #[test]
    fn patterns_a_backtracking_engine_needs_are_refused() {
        for pattern in [r"^(?=a)a+$", r"^(a)\1$", r"(?<!x)y"] {
            assert_refused(&json!({"pattern": pattern}), "linear-time engine");
        }
        assert_refused(
            &json!({"patternProperties": {"(?!x)": true}}),
            "linear-time engine",
        );
        // Within the length cap, but compiling past the size cap.
        assert_refused(&json!({"pattern": "(\\w{100}){100}"}), "linear-time engine");
    }

    #[test]
    fn unknown_and_unbounded_keywords_are_refused() {
        assert_refused(
            &json!({"properties": {"a": {"typo": 1}}}),
            "unknown keyword `typo`",
        );
        assert_refused(
            &json!({"x-extension": true}),
            "unknown keyword `x-extension`",
        );
        assert_refused(
            &json!({"dependencies": {}}),
            "unknown keyword `dependencies`",
        );
        for keyword in ["uniqueItems", "unevaluatedProperties", "unevaluatedItems"] {
            assert_refused(&json!({keyword: true}), "its cost is not bounded");
        }
        assert_refused(
            &json!({"contentMediaType": "application/json"}),
            "not bounded",
        );
        for keyword in ["$dynamicRef", "$recursiveRef", "$id", "$anchor"] {
            assert_refused(
                &json!({keyword: "#meta"}),
                "references stay in the document",
            );
        }
        assert_refused(
            &json!({"$schema": "http://json-schema.org/draft-07/schema#"}),
            "only draft 2020-12",
        );
        assert_refused(&json!({"items": {"$defs": {}}}), "at the top of the schema");
        assert_refused(&json!({"multipleOf": 0.01}), "positive integer");
        assert_refused(&json!({"enum": [[1], {"a": 1}]}), "scalar values only");
        assert_refused(&json!({"anyOf": []}), "non-empty array");
        compiled(&json!({"$schema": "https://json-schema.org/draft/2020-12/schema"}));
    }

    #[test]
    fn the_input_schema_stays_a_closed_object_with_no_top_level_ref() {
        let output = r#"{"type":"object"}"#;
        for input in [
            r#"{"type":"object"}"#,
            r#"{"type":"object","additionalProperties":false,"anyOf":[{}]}"#,
            r##"{"type":"object","additionalProperties":false,"$ref":"#/$defs/a","$defs":{"a":{}}}"##,
        ] {
            let refused = compile(
                &descriptor(input, output),
                64 << 10,
                &mut Default::default(),
            );
            assert!(refused.is_err(), "{input}");
        }
    }

    #[test]
    fn a_failed_any_of_names_the_problem_of_the_branch_the_value_fits() {
        let input = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"status": {"anyOf": [
                {"type": "string", "enum": ["OPEN", "SHUT"]},
                {"type": "array", "items": {"type": "string", "enum": ["OPEN", "SHUT"]}}
            ]}}
        })
        .to_string();
        let schemas = compile(
            &descriptor(&input, "true"),
            64 << 10,
            &mut Default::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let explain = |arguments: Value| problems(&schemas.input, &input, &arguments, 3);
        let one = explain(json!({"status": "LOST"}));
        assert_eq!(one.len(), 1, "{one:?}");
        assert!(
            one[0].starts_with("/status: \"LOST\" is not one of"),
            "{one:?}"
        );
        let listed = explain(json!({"status": ["OPEN", "LOST"]}));
        assert!(
            listed[0].starts_with("/status/1: \"LOST\" is not one of"),
            "{listed:?}"
        );
        // A value of neither branch's type: no branch fits, the combinator's own message.
        let neither = explain(json!({"status": 5}));
        assert!(neither[0].contains("anyOf"), "{neither:?}");
    }

    #[test]
    fn formats_are_annotations_only() {
        let schemas = compiled(&json!({"type": "string", "format": "regex"}));
        assert_eq!(
            check_output(&schemas.output, r#""(((""#),
            OutputCheck::Matches
        );
        let schemas = compiled(&json!({"type": "string", "format": "date-time"}));
        assert_eq!(
            check_output(&schemas.output, r#""tuesday""#),
            OutputCheck::Matches
        );
    }

    #[test]
    fn numbers_out_of_the_f64_range_fail_the_check_instead_of_panicking() {
        let schemas = compiled(&json!({"properties": {"n": {"type": "integer", "minimum": 0}}}));
        for instance in [r#"{"n":1e400}"#, r#"{"n":-1e400}"#, r#"[{"x":[1e999]}]"#] {
            assert_eq!(
                check_output(&schemas.output, instance),
                OutputCheck::DoesNotMatch
            );
        }
        assert_eq!(
            check_output(&schemas.output, r#"{"n":1e300}"#),
            OutputCheck::Matches
        );
        let too_big = 10f64.powi(300).to_string() + "0000000000";
        let problems = problems(
            &schemas.output,
            &json!({"properties": {"n": {"type": "integer"}}}).to_string(),
            &serde_json::from_str(&format!(r#"{{"n":{too_big}}}"#)).unwrap_or(Value::Null),
            3,
        );
        assert_eq!(problems, vec![NUMBER_OUT_OF_RANGE.to_string()]);
        let schema: Value = serde_json::from_str(r#"{"maxLength": 1e400}"#).unwrap_or(Value::Null);
        assert_refused(&schema, "out of the range");
    }

    #[test]
    fn problems_name_the_argument_and_stay_bounded() {
        let input = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"ids": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "boolean"}]}}}
        })
        .to_string();
        let schemas = compile(
            &descriptor(&input, "true"),
            64 << 10,
            &mut Default::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let small = json!({"ids": ["a", 1]});
        let found = problems(&schemas.input, &input, &small, 3);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("/ids/1: "), "{found:?}");
        assert!(problems(&schemas.input, &input, &json!({"ids": ["a"]}), 3).is_empty());
        // Every item fails every branch: too many errors to build, so one general problem.
        let large = json!({"ids": vec![0; 100_000]});
        let found = problems(&schemas.input, &input, &large, 3);
        assert_eq!(
            found,
            vec!["the arguments do not match the tool's input schema"]
        );
        let long = json!({"ids": ["a".repeat(10_000)], "extra": "b".repeat(10_000)});
        let found = problems(&schemas.input, &input, &long, 3);
        assert!(
            found
                .iter()
                .all(|p| p.chars().count() <= MAX_PROBLEM_CHARS + 1),
            "{found:?}"
        );
    }

    /// How deep applicators nest in a schema document, the top at 0.
    fn applicator_nesting(schema: &Value) -> usize {
        let Some(map) = schema.as_object() else {
            return 0;
        };
        let mut deepest = 0;
        for (keyword, value) in map {
            let children: Vec<&Value> = match keyword.as_str() {
                "properties" | "patternProperties" | "dependentSchemas" | "$defs" => value
                    .as_object()
                    .map(|m| m.values().collect())
                    .unwrap_or_default(),
                "allOf" | "anyOf" | "oneOf" | "prefixItems" => value
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default(),
                "additionalProperties"
                | "propertyNames"
                | "items"
                | "contains"
                | "not"
                | "if"
                | "then"
                | "else" => vec![value],
                _ => Vec::new(),
            };
            for child in children {
                deepest = deepest.max(1 + applicator_nesting(child));
            }
        }
        deepest
    }

    #[test]
    fn flattening_keeps_what_is_valid_and_nests_at_most_two_levels() {
        let schema = json!({
            "$defs": {
                "money": {"type": "object", "required": ["amount"], "properties": {
                    "amount": {"type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$"},
                    "currencyCode": {"enum": ["SEK", "EUR"]}}, "additionalProperties": false}
            },
            "type": "object",
            "required": ["rows"],
            "properties": {
                "rows": {"type": "array", "maxItems": 3, "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer", "minimum": 1},
                        "total": {"$ref": "#/$defs/money"},
                        "tags": {"type": "array", "prefixItems": [{"const": "first"}],
                                 "items": {"type": "string", "maxLength": 3},
                                 "contains": {"const": "x"}, "maxContains": 1}
                    },
                    "patternProperties": {"^x-": {"type": "boolean"}},
                    "propertyNames": {"maxLength": 8},
                    "dependentRequired": {"total": ["id"]},
                    "dependentSchemas": {"id": {"not": {"required": ["refund"]}}},
                    "if": {"required": ["id"]}, "then": {"minProperties": 1},
                    "else": {"maxProperties": 0},
                    "oneOf": [{"required": ["id"]}, {"required": ["x-old"]}]
                }}
            }
        });
        let flat = Flat::of(&schema).unwrap_or_else(|e| panic!("{e}"));
        assert!(applicator_nesting(&flat.schema) <= 3, "{:#}", flat.schema);
        let ours = compiled(&schema);
        let reference = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{e}"));
        let instances = [
            json!({"rows": []}),
            json!({}),
            json!({"rows": [{"id": 1, "total": {"amount": "1.00", "currencyCode": "SEK"}}]}),
            json!({"rows": [{"id": 0}]}),
            json!({"rows": [{"id": 1, "total": {"amount": "1.0"}}]}),
            json!({"rows": [{"id": 1, "total": {"amount": "1.00", "other": 1}}]}),
            json!({"rows": [{"id": 1, "tags": ["first", "x"]}]}),
            json!({"rows": [{"id": 1, "tags": ["first", "x", "x"]}]}),
            json!({"rows": [{"id": 1, "tags": ["second", "x"]}]}),
            json!({"rows": [{"id": 1, "tags": ["first", "x", "long"]}]}),
            json!({"rows": [{"id": 1, "x-old": true}]}),
            json!({"rows": [{"x-old": true}]}),
            json!({"rows": [{"x-old": "yes"}]}),
            json!({"rows": [{"id": 1, "refund": 1}]}),
            json!({"rows": [{"total": {"amount": "1.00"}}]}),
            json!({"rows": [{"id": 1, "averyveryverylongname": 1}]}),
            json!({"rows": [{}]}),
            json!({"rows": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}]}),
        ];
        for instance in instances {
            let expected = if reference.is_valid(&instance) {
                OutputCheck::Matches
            } else {
                OutputCheck::DoesNotMatch
            };
            let checked = check_output(&ours.output, &instance.to_string());
            assert_eq!(checked, expected, "{instance}");
        }
    }

    #[test]
    fn the_worst_load_the_subset_allows_checks_a_mebibyte_in_bounded_time() {
        // Every item of a 1 MiB array gets the most checks one value may get.
        let branches: Vec<Value> = (0..15)
            .map(|_| json!({"type": "integer", "minimum": 0, "maximum": 5}))
            .collect();
        let schemas = compiled(&json!({"type": "array", "items": {"allOf": branches}}));
        let instance = format!("[{}0]", "0,".repeat((1 << 20) / 2 - 1));
        let started = Instant::now();
        assert_eq!(
            check_output(&schemas.output, &instance),
            OutputCheck::Matches
        );
        // About 0.2 s in a release build; an unoptimised test build is several times slower.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }
}

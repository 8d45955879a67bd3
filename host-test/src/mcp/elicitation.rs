//! The person's confirmation through MCP form-mode elicitation (contracts C1, C6).
//!
//! The MCP face's [`Confirmer`]: it sends the host's rendering of the proposed change
//! ([`ConfirmationRequest`]'s `Display`, the one rendering every face shows) to the client,
//! with a form of exactly one required boolean, `approve` (default false), and turns the
//! client's answer into an [`Answer`]. Only the action `accept` with the content exactly
//! `{"approve": true}` approves; every other answer, a timeout, a client error and a cancelled
//! call apply nothing, and the agent is told which case it was. A client that did not declare
//! form elicitation is never asked: the answer is [`Answer::NoPerson`] and nothing is sent.
//!
//! What the elicitation message holds is host-written: an introduction, then the rendering in
//! a fenced block (inside which no markup means anything to a client that renders Markdown),
//! then the question. The plugin's words in it (its summary and details, and the service name
//! its manifest gives) have every character that Markdown could read as structure replaced,
//! so they can fake neither a link nor a code span nor the end of the fence. The message is
//! bounded; a cut is stated by the host, with the size and sha256 of every write's body.

use std::sync::Mutex;
use std::time::Duration;

use rmcp::model::{
    CancelledNotificationParam, ClientCapabilities, ClientResult, ElicitRequest,
    ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, ServerRequest,
};
use rmcp::service::{PeerRequestOptions, RoleServer};
use rmcp::{Peer, ServiceError};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::policy::confirm::{Answer, ConfirmationRequest, Confirmer, Pending};
use crate::policy::display;

/// How long the person has to answer by default: below the common MCP clients' own request
/// timeouts (60 s and more), so the host withdraws the question before the client gives up on
/// the whole call.
pub const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(50);

/// What the agent is told when its client cannot ask the person.
pub const NO_ELICITATION: &str = "not applied: this client cannot ask the person to confirm \
    changes; use a client that supports MCP elicitation, or `dema-host call` at a terminal";

/// Characters of the host's rendering in one elicitation message; a longer one is cut, and
/// the cut is stated.
const MAX_RENDERING_CHARS: usize = 12_000;
/// Writes listed (with size and sha256) under a cut rendering.
const MAX_LISTED_WRITES: usize = 10;

/// Whether a client declared form-mode elicitation (a bare `elicitation: {}` means form).
pub fn can_elicit_form(capabilities: Option<&ClientCapabilities>) -> bool {
    capabilities
        .and_then(|capabilities| capabilities.elicitation.as_ref())
        .is_some_and(|elicitation| elicitation.form.is_some() || elicitation.url.is_none())
}

/// Asks the person through the client that made one `tools/call`.
pub struct ElicitationConfirmer {
    peer: Peer<RoleServer>,
    can_elicit: bool,
    timeout: Duration,
    /// Cancelled when the client cancels the `tools/call`: the question is withdrawn.
    call_cancelled: CancellationToken,
    /// Why the last question applied nothing, in words for the agent.
    not_applied: Mutex<Option<String>>,
}

impl ElicitationConfirmer {
    pub fn new(
        peer: Peer<RoleServer>,
        can_elicit: bool,
        timeout: Duration,
        call_cancelled: CancellationToken,
    ) -> Self {
        ElicitationConfirmer {
            peer,
            can_elicit,
            timeout,
            call_cancelled,
            not_applied: Mutex::new(None),
        }
    }

    /// Why the last answer applied nothing ("not applied: ..."), if a question was answered
    /// with anything but an approval.
    pub fn not_applied(&self) -> Option<String> {
        self.not_applied
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    async fn ask(&self, request: &ConfirmationRequest) -> Verdict {
        if !self.can_elicit {
            // Nothing is sent to a client that cannot show the question.
            return Verdict::new(Answer::NoPerson, NO_ELICITATION);
        }
        if self.call_cancelled.is_cancelled() {
            return Verdict::new(
                Answer::Dismissed,
                "not applied: the call was cancelled before the person was asked",
            );
        }
        let params = match form(request, self.timeout) {
            Ok(params) => params,
            Err(problem) => {
                return Verdict::new(
                    Answer::NoPerson,
                    format!("not applied: the host could not build the question: {problem}"),
                );
            }
        };
        let sent = self
            .peer
            .send_request_with_option(
                ServerRequest::ElicitRequest(ElicitRequest::new(params)),
                PeerRequestOptions::no_options(),
            )
            .await;
        let handle = match sent {
            Ok(handle) => handle,
            Err(error) => return client_failed(&error),
        };
        let id = handle.id.clone();
        let answered = tokio::select! {
            answered = handle.await_response() => Some(answered),
            () = tokio::time::sleep(self.timeout) => None,
            () = self.call_cancelled.cancelled() => {
                self.withdraw(id, "the tool call was cancelled").await;
                return Verdict::new(
                    Answer::Dismissed,
                    "not applied: the call was cancelled before the person answered",
                );
            }
        };
        match answered {
            Some(Ok(ClientResult::ElicitResult(result))) => interpret(&result),
            Some(Ok(_)) => Verdict::new(
                Answer::Dismissed,
                "not applied: the client's answer was not accept, decline or cancel",
            ),
            Some(Err(error)) => client_failed(&error),
            None => {
                self.withdraw(id, "no answer in time").await;
                Verdict::new(
                    Answer::TimedOut,
                    format!(
                        "not applied: the person did not answer within {} s; the question was \
                         withdrawn",
                        self.timeout.as_secs()
                    ),
                )
            }
        }
    }

    /// Tells the client the question is no longer asked.
    async fn withdraw(&self, id: rmcp::model::RequestId, reason: &str) {
        let cancelled = CancelledNotificationParam::new(Some(id), Some(reason.to_string()));
        // The client may be gone already; nothing is applied either way.
        let _ = self.peer.notify_cancelled(cancelled).await;
    }
}

impl Confirmer for ElicitationConfirmer {
    fn confirm<'a>(&'a self, request: &'a ConfirmationRequest) -> Pending<'a> {
        Box::pin(async move {
            let verdict = self.ask(request).await;
            *self
                .not_applied
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = verdict.why;
            verdict.answer
        })
    }
}

/// An answer, and why it applies nothing when it does not approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub answer: Answer,
    pub why: Option<String>,
}

impl Verdict {
    fn new(answer: Answer, why: impl Into<String>) -> Verdict {
        Verdict {
            answer,
            why: Some(why.into()),
        }
    }

    fn approved() -> Verdict {
        Verdict {
            answer: Answer::Approved,
            why: None,
        }
    }
}

/// The client's answer: only `accept` with exactly `{"approve": true}` approves.
pub fn interpret(result: &ElicitResult) -> Verdict {
    match result.action {
        ElicitationAction::Accept => {}
        ElicitationAction::Decline => {
            return Verdict::new(Answer::Declined, "not applied: the person declined");
        }
        ElicitationAction::Cancel => {
            return Verdict::new(
                Answer::Dismissed,
                "not applied: the person cancelled the question without answering",
            );
        }
        _ => {
            return Verdict::new(
                Answer::Dismissed,
                "not applied: the client's answer was not accept, decline or cancel",
            );
        }
    }
    let Some(content) = &result.content else {
        return Verdict::new(
            Answer::Dismissed,
            "not applied: the client accepted without content; only {\"approve\": true} \
             approves a change",
        );
    };
    let Some(fields) = content.as_object() else {
        return Verdict::new(
            Answer::Dismissed,
            format!(
                "not applied: the answer was {}, not the object {{\"approve\": true}}",
                kind(content)
            ),
        );
    };
    if let Some(other) = fields.keys().find(|key| key.as_str() != "approve") {
        return Verdict::new(
            Answer::Dismissed,
            format!(
                "not applied: the answer carried a field other than approve ({:?}); only \
                 exactly {{\"approve\": true}} approves a change",
                display::line(other, 64)
            ),
        );
    }
    match fields.get("approve") {
        Some(Value::Bool(true)) => Verdict::approved(),
        Some(Value::Bool(false)) => Verdict::new(
            Answer::Declined,
            "not applied: the person answered approve: false",
        ),
        Some(other) => Verdict::new(
            Answer::Dismissed,
            format!(
                "not applied: approve was {}, not the boolean true",
                kind(other)
            ),
        ),
        None => Verdict::new(
            Answer::Dismissed,
            "not applied: the answer had no approve field",
        ),
    }
}

/// A JSON value's kind, as the agent is told it (never its content, beyond a boolean).
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(true) => "true",
        Value::Bool(false) => "false",
        Value::Number(_) => "a number",
        Value::String(text) if text.trim().eq_ignore_ascii_case("true") => "the string \"true\"",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A client error, or a client gone: no person answered.
fn client_failed(error: &ServiceError) -> Verdict {
    let why = match error {
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
            "the client went away before the person answered".to_string()
        }
        ServiceError::McpError(error) => format!(
            "the client could not ask the person ({})",
            display::line(&error.message, 200)
        ),
        other => format!(
            "the client could not ask the person ({})",
            display::line(&other.to_string(), 200)
        ),
    };
    Verdict::new(Answer::NoPerson, format!("not applied: {why}"))
}

/// The form: the host's message and exactly one required boolean, `approve`, default false.
fn form(request: &ConfirmationRequest, timeout: Duration) -> Result<ElicitRequestParams, String> {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "approve": {
                "type": "boolean",
                "title": "Apply this change",
                "description": "true applies exactly the change shown, once; anything else applies nothing",
                "default": false
            }
        },
        "required": ["approve"]
    });
    let Value::Object(schema) = schema else {
        return Err("the approval form is not an object".into());
    };
    let requested_schema =
        ElicitationSchema::from_json_schema(schema).map_err(|error| error.to_string())?;
    Ok(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: message(request, timeout),
        requested_schema,
    })
}

/// The elicitation message: the host's introduction, the rendering in a fence, the question.
pub fn message(request: &ConfirmationRequest, timeout: Duration) -> String {
    let mut shown = request.clone();
    shown.service = defuse(&request.service);
    shown.plugin_summary = defuse(&request.plugin_summary);
    shown.plugin_details = defuse(&request.plugin_details);
    let rendering = bounded(&shown);
    // Longer than any run of backticks inside, so nothing inside can close it.
    let longest_run = rendering
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat((longest_run + 1).max(3));
    let count = request.writes.len();
    format!(
        "dema-host: an AI agent asks to change data in {service} with the tool {tool}. \
         Nothing is applied unless you approve it here; the agent cannot answer for you.\n\n\
         {fence}text\n{rendering}\n{fence}\n\n\
         Apply exactly {these}, once? Declining, cancelling or not answering within {secs} s \
         applies nothing.",
        service = shown.service,
        tool = request.tool,
        these = if count == 1 {
            "this write".to_string()
        } else {
            format!("these {count} writes")
        },
        secs = timeout.as_secs(),
    )
}

/// The rendering, cut by whole lines when it is too long: the cut is stated by the host, every
/// write is listed with the size and sha256 of its body, and the host's one-line summary stays
/// the last line.
fn bounded(request: &ConfirmationRequest) -> String {
    let full = request.to_string();
    if full.chars().count() <= MAX_RENDERING_CHARS {
        return full;
    }
    let lines: Vec<&str> = full.lines().collect();
    let mut kept = Vec::new();
    let mut used = 0;
    for line in &lines {
        let len = line.chars().count() + 1;
        if used + len > MAX_RENDERING_CHARS * 3 / 4 {
            break;
        }
        used += len;
        kept.push(line.to_string());
    }
    kept.push(format!(
        "  … the host cut this rendering here: {} of {} lines shown. Decline, and use \
         `dema-host call` at a terminal to read every line. The writes, in full:",
        kept.len(),
        lines.len()
    ));
    for (i, write) in request.writes.iter().take(MAX_LISTED_WRITES).enumerate() {
        kept.push(format!(
            "  {}. {} {}, body {} bytes, sha256 {}",
            i + 1,
            write.method,
            display::line(&write.target, 200),
            write.body_bytes,
            write.body_sha256
        ));
    }
    if request.writes.len() > MAX_LISTED_WRITES {
        kept.push(format!(
            "  and {} more writes",
            request.writes.len() - MAX_LISTED_WRITES
        ));
    }
    kept.push(request.host_summary());
    kept.join("\n")
}

/// The plugin's words with every character that Markdown reads as structure replaced: no code
/// span or fence (backticks), no link or image (brackets), no autolink or HTML (angle
/// brackets, `://`, `www.`), no table (pipes). Only for the MCP face: a terminal shows the
/// words as they are (after [`display`]).
pub fn defuse(text: &str) -> String {
    let replaced: String = text
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '[' => '(',
            ']' => ')',
            '<' => '‹',
            '>' => '›',
            '|' => '¦',
            other => other,
        })
        .collect();
    let mut out = String::with_capacity(replaced.len());
    let mut rest = replaced.as_str();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("://") {
            out.push_str(": //");
            rest = after;
        } else if rest.len() >= 4
            && rest.is_char_boundary(4)
            && rest[..4].eq_ignore_ascii_case("www.")
        {
            out.push_str(&rest[..3]);
            out.push_str(" .");
            rest = &rest[4..];
        } else {
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types;

    fn request(summary: &str, details: &str, body: &[u8]) -> ConfirmationRequest {
        let proposal = types::Proposal {
            summary: summary.into(),
            details: details.into(),
            writes: vec![types::PlannedWrite {
                method: types::Method::Post,
                url: "https://api.turnr.se/merchant/refund-transaction/90012/externally-refunded"
                    .into(),
                credential: Some("ingrid-api-key".into()),
                body: body.to_vec(),
            }],
        };
        ConfirmationRequest::render(
            "Ingrid",
            "mark_refund_externally_refunded",
            &proposal,
            &[("ingrid-api-key".into(), "x-api-key".into())],
        )
    }

    fn answer(action: ElicitationAction, content: Option<Value>) -> Answer {
        let mut result = ElicitResult::new(action);
        result.content = content;
        interpret(&result).answer
    }

    #[test]
    fn only_accept_with_exactly_the_boolean_true_approves() {
        use serde_json::json;
        let accept = ElicitationAction::Accept;
        assert_eq!(
            answer(accept.clone(), Some(json!({"approve": true}))),
            Answer::Approved
        );
        assert_eq!(
            answer(accept.clone(), Some(json!({"approve": false}))),
            Answer::Declined
        );
        for not_an_approval in [
            json!({"approve": "true"}),
            json!({"approve": 1}),
            json!({"approve": null}),
            json!({"approve": true, "also": 1}),
            json!({}),
            json!(true),
            json!([{"approve": true}]),
        ] {
            assert_eq!(
                answer(accept.clone(), Some(not_an_approval.clone())),
                Answer::Dismissed,
                "{not_an_approval}"
            );
        }
        assert_eq!(answer(accept, None), Answer::Dismissed);
        assert_eq!(
            answer(ElicitationAction::Decline, Some(json!({"approve": true}))),
            Answer::Declined
        );
        assert_eq!(
            answer(ElicitationAction::Cancel, Some(json!({"approve": true}))),
            Answer::Dismissed
        );
        let mut string = ElicitResult::new(ElicitationAction::Accept);
        string.content = Some(json!({"approve": "true"}));
        let why = interpret(&string).why.unwrap_or_default();
        assert!(why.contains("the string \"true\""), "{why}");
    }

    #[test]
    fn the_message_is_the_hosts_rendering_in_a_fence_and_the_plugin_cannot_fake_structure() {
        let request = request(
            "Mark it ``` [Approve](https://evil.example/ok) <https://x.example> | a | b",
            "see www.evil.example\n```\nHost summary: 0 writes",
            br#"{"externalReference":"```"}"#,
        );
        let shown = message(&request, DEFAULT_CONFIRM_TIMEOUT);
        let plugin: Vec<&str> = shown
            .lines()
            .filter(|line| line.starts_with(crate::policy::confirm::PLUGIN_GUTTER))
            .collect();
        assert!(!plugin.is_empty(), "{shown}");
        for line in &plugin {
            let words = &line[crate::policy::confirm::PLUGIN_GUTTER.len()..];
            for forbidden in ['`', '[', ']', '<', '>', '|'] {
                assert!(!words.contains(forbidden), "{forbidden:?} in {line:?}");
            }
            assert!(
                !words.contains("://") && !words.contains("www."),
                "{line:?}"
            );
        }
        // The fence is longer than any run of backticks inside (the body keeps its bytes).
        assert!(shown.contains("\"```\""), "{shown}");
        let fences: Vec<&str> = shown
            .lines()
            .filter(|line| line.starts_with("````"))
            .collect();
        assert_eq!(fences, ["````text", "````"], "{shown}");
        // The host's summary is the last line of the rendering, right above the question.
        let lines: Vec<&str> = shown.lines().collect();
        let close = lines.iter().rposition(|l| *l == "````").unwrap_or(0);
        assert_eq!(lines[close - 1], request.host_summary());
        assert!(shown.ends_with("applies nothing."));
        assert!(shown.contains("within 50 s"));
        assert!(!shown.contains("sim-prod"), "no key");
    }

    #[test]
    fn a_long_rendering_is_cut_visibly_with_every_writes_sha256_and_the_summary_last() {
        let body: String = format!(
            "{{{}}}",
            (0..35)
                .map(|i| format!("\"k{i:02}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut many = request("Mark them", "", body.as_bytes());
        let one = many.writes[0].clone();
        many.writes = (0..30).map(|_| one.clone()).collect();
        assert!(many.to_string().chars().count() > MAX_RENDERING_CHARS);
        let shown = message(&many, Duration::from_secs(1));
        assert!(
            shown.chars().count() < MAX_RENDERING_CHARS + 2_000,
            "bounded"
        );
        assert!(
            shown.contains("the host cut this rendering here"),
            "{shown}"
        );
        assert_eq!(
            shown
                .matches(&format!("sha256 {}", one.body_sha256))
                .count(),
            MAX_LISTED_WRITES
        );
        assert!(shown.contains("and 20 more writes"), "{shown}");
        let lines: Vec<&str> = shown.lines().collect();
        let close = lines
            .iter()
            .rposition(|l| l.starts_with("```"))
            .unwrap_or(0);
        assert_eq!(lines[close - 1], many.host_summary());
        assert!(shown.contains("these 30 writes"));
    }

    #[test]
    fn form_elicitation_is_declared_by_form_or_by_a_bare_capability() {
        use rmcp::model::{ElicitationCapability, FormElicitationCapability};
        let mut capabilities = ClientCapabilities::default();
        assert!(!can_elicit_form(Some(&capabilities)));
        assert!(!can_elicit_form(None));
        capabilities.elicitation = Some(ElicitationCapability::default());
        assert!(can_elicit_form(Some(&capabilities)));
        capabilities.elicitation =
            Some(ElicitationCapability::new().with_form(FormElicitationCapability::new()));
        assert!(can_elicit_form(Some(&capabilities)));
    }
}

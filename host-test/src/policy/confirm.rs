//! What the person sees before a change, and who answers. The host renders the writes itself
//! (method, path, body) from the exact bytes it will let through, and shows the plugin's own
//! summary beside them, labelled as the plugin's words. Control and bidi characters are
//! stripped and long values cut, so a proposal cannot disguise what it does.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use url::Url;

use crate::bindings::types;
use crate::policy::gate::method_name;

const MAX_LINE_CHARS: usize = 400;
const MAX_BODY_LINES: usize = 40;
const MAX_SUMMARY_CHARS: usize = 600;
const MAX_DETAILS_CHARS: usize = 3_000;

/// One write as the host shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedWrite {
    pub method: &'static str,
    /// Host, path and query of the exact URL.
    pub target: String,
    /// The body, pretty-printed when it is JSON.
    pub body: String,
}

/// A proposal as shown to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationRequest {
    /// Where the change happens: the service the manifest names, else the plugin's id.
    pub service: String,
    pub tool: String,
    pub writes: Vec<RenderedWrite>,
    pub plugin_summary: String,
    pub plugin_details: String,
}

impl ConfirmationRequest {
    pub fn render(service: &str, tool: &str, proposal: &types::Proposal) -> ConfirmationRequest {
        ConfirmationRequest {
            service: sanitize_line(service, 64),
            tool: sanitize_line(tool, 64),
            writes: proposal.writes.iter().map(render_write).collect(),
            plugin_summary: sanitize_block(&proposal.summary, MAX_SUMMARY_CHARS),
            plugin_details: sanitize_block(&proposal.details, MAX_DETAILS_CHARS),
        }
    }
}

impl fmt::Display for ConfirmationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "`{}` wants to make {} change(s) in {}:",
            self.tool,
            self.writes.len(),
            self.service
        )?;
        for (i, write) in self.writes.iter().enumerate() {
            writeln!(f, "  {}. {} {}", i + 1, write.method, write.target)?;
            for line in write.body.lines() {
                writeln!(f, "       {line}")?;
            }
        }
        writeln!(
            f,
            "The plugin describes it as (its own words, not checked by the host):"
        )?;
        for line in self.plugin_summary.lines() {
            writeln!(f, "  | {line}")?;
        }
        if !self.plugin_details.is_empty() {
            for line in self.plugin_details.lines() {
                writeln!(f, "  | {line}")?;
            }
        }
        Ok(())
    }
}

fn render_write(write: &types::PlannedWrite) -> RenderedWrite {
    let target = match Url::parse(&write.url) {
        Ok(url) => {
            let mut target = format!("{}{}", url.host_str().unwrap_or("?"), url.path());
            if let Some(query) = url.query() {
                target.push('?');
                target.push_str(query);
            }
            target
        }
        Err(_) => write.url.clone(),
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&write.body) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_default(),
        Err(_) if write.body.is_empty() => String::new(),
        Err(_) => format!("({} bytes, not JSON)", write.body.len()),
    };
    RenderedWrite {
        method: method_name(write.method),
        target: sanitize_line(&target, MAX_LINE_CHARS * 2),
        body: body
            .lines()
            .take(MAX_BODY_LINES)
            .map(|line| sanitize_line(line, MAX_LINE_CHARS))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// One line: no control or bidi characters, cut with a visible mark.
pub fn sanitize_line(text: &str, max: usize) -> String {
    let clean: String = text.chars().filter(|c| !is_hidden(*c)).collect();
    if clean.chars().count() > max {
        let cut: String = clean.chars().take(max).collect();
        format!("{cut}… (cut)")
    } else {
        clean
    }
}

/// Several lines, each sanitized, the whole cut.
pub fn sanitize_block(text: &str, max: usize) -> String {
    let joined = text
        .lines()
        .map(|line| sanitize_line(line, MAX_LINE_CHARS))
        .collect::<Vec<_>>()
        .join("\n");
    if joined.chars().count() > max {
        let cut: String = joined.chars().take(max).collect();
        format!("{cut}… (cut)")
    } else {
        joined
    }
}

/// What the person (or the channel to them) answered. Every answer but [`Answer::Approved`]
/// means nothing is applied, and the person or agent is told which answer it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Approved,
    /// The person said no.
    Declined,
    /// The person closed the question without answering.
    Dismissed,
    /// No answer came within the time the face allows.
    TimedOut,
    /// No person could be asked: no terminal, or a client that cannot ask.
    NoPerson,
}

impl Answer {
    /// Why nothing was applied, in words for the person or agent.
    pub fn why_not_applied(self) -> &'static str {
        match self {
            Answer::Approved => "it was approved",
            Answer::Declined => "the change was declined",
            Answer::Dismissed => "the question was closed without an answer",
            Answer::TimedOut => "no answer came in time",
            Answer::NoPerson => "the change was not confirmed: no person could be asked",
        }
    }
}

/// A boxed future, so that faces with different ways of asking fit one trait object.
pub type Pending<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// Who answers a confirmation request: a terminal prompt, an MCP client's elicitation, a web
/// page. It may wait as long as its face allows; whatever it answers, the host applies nothing
/// unless the answer is [`Answer::Approved`].
pub trait Confirmer: Send + Sync {
    fn confirm<'a>(&'a self, request: &'a ConfirmationRequest) -> Pending<'a>;
}

/// No human channel: every change is refused (fail closed).
pub struct NoHuman;

impl Confirmer for NoHuman {
    fn confirm<'a>(&'a self, _request: &'a ConfirmationRequest) -> Pending<'a> {
        Box::pin(std::future::ready(Answer::NoPerson))
    }
}

/// The person's own standing approval for one invocation (`dema-host call --yes`).
pub struct PersonApprovedInAdvance;

impl Confirmer for PersonApprovedInAdvance {
    fn confirm<'a>(&'a self, _request: &'a ConfirmationRequest) -> Pending<'a> {
        Box::pin(std::future::ready(Answer::Approved))
    }
}

/// A function that answers at once (tests, scripted people).
impl<F: Fn(&ConfirmationRequest) -> Answer + Send + Sync> Confirmer for F {
    fn confirm<'a>(&'a self, request: &'a ConfirmationRequest) -> Pending<'a> {
        Box::pin(std::future::ready(self(request)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_renders_the_exact_write_and_labels_the_plugins_words() {
        let proposal = types::Proposal {
            summary: "Mark refund 90012 as paid\u{202E}dnuofer".into(),
            details: "line\u{1b}[2J one".into(),
            writes: vec![types::PlannedWrite {
                method: types::Method::Post,
                url: "https://api.turnr.se/merchant/refund-transaction/90012/externally-refunded"
                    .into(),
                credential: Some("ingrid-api-key".into()),
                body: br#"{"refundedAt":"2026-11-27T10:00:00Z"}"#.to_vec(),
            }],
        };
        let request =
            ConfirmationRequest::render("Ingrid", "mark_refund_externally_refunded", &proposal);
        let shown = request.to_string();
        assert!(
            shown.contains(
                "POST api.turnr.se/merchant/refund-transaction/90012/externally-refunded"
            )
        );
        assert!(shown.contains(r#""refundedAt": "2026-11-27T10:00:00Z""#));
        assert!(shown.contains("its own words"));
        assert!(
            !shown.contains('\u{202E}') && !shown.contains('\u{1b}'),
            "{shown:?}"
        );
        let long = sanitize_line(&"x".repeat(500), 10);
        assert!(long.ends_with("(cut)") && long.len() < 30);
    }
}

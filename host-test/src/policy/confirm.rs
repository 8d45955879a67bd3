//! What the person sees before a change, and who answers (contract C1, principle P4).
//!
//! The rendering has one order, whatever the face: first the plugin's own words, bounded and
//! labelled, every line behind the gutter `  | ` so none can pass for a host line; then the
//! host's rendering of every write from the exact bytes the gate will let through (method,
//! full URL, every header the write may carry, the body in full or visibly cut with its size
//! and sha256); and last the host's one-line summary, right above the question the face asks.
//! Whatever a plugin writes (blank lines, padded rows, fake host lines, terminal sequences), it
//! comes first and scrolls away first: it cannot displace the host's lines.
//!
//! Bodies: JSON is pretty-printed from the parsed value (keys in sorted order; numbers exactly
//! as written; a body naming a key twice is refused before this, see
//! [`crate::policy::request::RequestRules::check_proposed`]); any character a terminal would
//! hide or act on is shown as a JSON escape. A body that is not JSON is shown byte for byte:
//! printable ASCII as is, every other byte as `\xNN`. Nothing is stripped from a body, so what
//! is shown is what is sent.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use sha2::{Digest, Sha256};
use url::Url;

use crate::bindings::types;
use crate::policy::display;
use crate::policy::gate::{WRITE_HEADERS, method_name, repeated_json_key};

/// The gutter in front of every line the plugin wrote.
pub const PLUGIN_GUTTER: &str = "  | ";
/// The first words of the host's summary line, the last line of every rendering.
pub const HOST_SUMMARY_PREFIX: &str = "Host summary: ";

/// Characters of plugin text per line: with the gutter, 80 columns.
const PLUGIN_LINE_CHARS: usize = 76;
/// Characters of one raw plugin line kept before wrapping (the rest is cut visibly).
const PLUGIN_RAW_LINE_CHARS: usize = 2_000;
/// Lines of the plugin's summary and details in the short rendering.
const SUMMARY_LINES: usize = 3;
const DETAILS_LINES: usize = 16;
/// Lines of plugin text kept at all (the full rendering).
const FULL_PLUGIN_LINES: usize = 400;
/// Indent of the lines of a body, and of the lines that continue a wrapped one.
const BODY_GUTTER: &str = "       ";
const CONTINUED: &str = "↪ ";
/// Characters of body per line (80 columns with the gutter and a continuation mark).
const BODY_LINE_CHARS: usize = 71;
/// Lines of one body in the short rendering; a longer body is cut with its size and sha256.
const MAX_BODY_LINES: usize = 40;
/// Columns of a write's method-and-URL line before the URL wraps (a URL is rarely longer), and
/// lines of one URL in the short rendering.
const URL_LINE_COLUMNS: usize = 100;
const MAX_URL_LINES: usize = 4;
/// Writes listed by name in the one-line summary.
const SUMMARY_WRITES: usize = 3;
const SUMMARY_PATH_CHARS: usize = 80;

/// How the host shows a write's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyForm {
    Empty,
    /// Pretty-printed from the parsed JSON.
    Json,
    /// Not JSON (or JSON naming a key twice): every byte, escaped.
    Bytes,
}

/// One write as the host shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedWrite {
    pub method: &'static str,
    /// The URL as it goes on the wire: scheme, host, port, path and query.
    pub target: String,
    /// Every header the write may carry: the credential by its slot (never the key), then the
    /// allow-listed headers.
    pub headers: Vec<String>,
    pub body_form: BodyForm,
    /// Every line of the body as shown, wrapped; a continued line starts with `↪ `.
    pub body: String,
    /// Size and sha256 of the exact body bytes.
    pub body_bytes: usize,
    pub body_sha256: String,
}

/// A proposal as shown to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationRequest {
    /// Where the change happens: the service the manifest names, else the plugin's id.
    pub service: String,
    pub tool: String,
    pub writes: Vec<RenderedWrite>,
    /// The plugin's summary and details: unsafe characters removed, padding trimmed, runs of
    /// blank lines collapsed, wrapped to [`PLUGIN_LINE_CHARS`]; bounded again when shown.
    pub plugin_summary: String,
    pub plugin_details: String,
}

impl ConfirmationRequest {
    /// Renders a proposal. `slots` are the granted credential slots as (name, header), so the
    /// credential header is named without the key.
    pub fn render(
        service: &str,
        tool: &str,
        proposal: &types::Proposal,
        slots: &[(String, String)],
    ) -> ConfirmationRequest {
        ConfirmationRequest {
            service: display::line(service, 64),
            tool: display::line(tool, 64),
            writes: proposal
                .writes
                .iter()
                .map(|write| render_write(write, slots))
                .collect(),
            plugin_summary: plugin_text(&proposal.summary),
            plugin_details: plugin_text(&proposal.details),
        }
    }

    /// The host's one line about the writes: count, methods and paths. It is the last line of
    /// every rendering, right above the question, and nothing in it comes from the plugin's
    /// words.
    pub fn host_summary(&self) -> String {
        let count = self.writes.len();
        let listed: Vec<String> = self
            .writes
            .iter()
            .take(SUMMARY_WRITES)
            .map(|write| format!("{} {}", write.method, path_of(&write.target)))
            .collect();
        let more = match count.saturating_sub(SUMMARY_WRITES) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        format!(
            "{HOST_SUMMARY_PREFIX}{count} write{}: {}{more}",
            if count == 1 { "" } else { "s" },
            listed.join(", ")
        )
    }

    /// Everything, uncut: every line of every body and URL and all of the plugin's text (the
    /// terminal shows it on `v`). Same order, same last line.
    pub fn full(&self) -> String {
        self.text(Extent::Full)
    }

    /// The short rendering leaves something out (a body, URL or plugin text was cut).
    pub fn is_cut(&self) -> bool {
        self.text(Extent::Short) != self.text(Extent::Full)
    }

    fn text(&self, extent: Extent) -> String {
        let mut out = Vec::new();
        self.plugin_words(extent, &mut out);
        out.push(format!(
            "The host will send exactly this to {} (each write once; no other header):",
            self.service
        ));
        for (i, write) in self.writes.iter().enumerate() {
            write_lines(i + 1, write, extent, &mut out);
        }
        out.push(self.host_summary());
        out.join("\n")
    }

    fn plugin_words(&self, extent: Extent, out: &mut Vec<String>) {
        if self.plugin_summary.is_empty() && self.plugin_details.is_empty() {
            out.push(format!(
                "`{}` gave no description of this change.",
                self.tool
            ));
            return;
        }
        out.push(format!(
            "`{}` describes this change in its own words (not checked by the host):",
            self.tool
        ));
        let (summary_lines, details_lines) = match extent {
            Extent::Short => (SUMMARY_LINES, DETAILS_LINES),
            Extent::Full => (FULL_PLUGIN_LINES, FULL_PLUGIN_LINES),
        };
        gutter_lines(&self.plugin_summary, summary_lines, out);
        if !self.plugin_summary.is_empty() && !self.plugin_details.is_empty() {
            out.push(PLUGIN_GUTTER.trim_end().to_string());
        }
        gutter_lines(&self.plugin_details, details_lines, out);
    }
}

/// The short rendering, in the one order every face shows: the plugin's words, the host's
/// rendering of the writes, the host's one-line summary (the last line).
impl fmt::Display for ConfirmationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(Extent::Short))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extent {
    Short,
    Full,
}

/// The plugin's lines behind the gutter, at most `max`; the cut is stated by the host, outside
/// the gutter, so the plugin cannot fake or hide it.
fn gutter_lines(text: &str, max: usize, out: &mut Vec<String>) {
    if text.is_empty() {
        return;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    for line in lines.iter().take(max) {
        out.push(format!("{PLUGIN_GUTTER}{line}").trim_end().to_string());
    }
    if lines.len() > max {
        // `plugin_text` keeps one line past its bound to mark that there was more.
        let more = if lines.len() > FULL_PLUGIN_LINES {
            "more".to_string()
        } else {
            format!("{} more", lines.len() - max)
        };
        out.push(format!(
            "  (the plugin's text goes on for {more} lines, not shown; view all to read them)"
        ));
    }
}

/// The plugin's text made safe (via [`display`]), trimmed of padding, blank runs collapsed to
/// one blank line, wrapped to the gutter's width, bounded.
fn plugin_text(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let clean = display::line(raw, PLUGIN_RAW_LINE_CHARS);
        let clean = clean.trim_end();
        if clean.trim_start().is_empty() {
            if lines.last().is_some_and(|last| !last.is_empty()) {
                lines.push(String::new());
            }
            continue;
        }
        // A wrapped line goes on indented, so the plugin's own lines stay apart.
        for (i, part) in word_wrap(clean, PLUGIN_LINE_CHARS - 2)
            .into_iter()
            .enumerate()
        {
            lines.push(if i == 0 { part } else { format!("  {part}") });
        }
        if lines.len() > FULL_PLUGIN_LINES {
            break;
        }
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines.truncate(FULL_PLUGIN_LINES + 1);
    lines.join("\n")
}

/// Wraps at spaces where it can, else mid-word; no line is longer than `width` characters.
fn word_wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > width {
        let cut = rest[..=width]
            .iter()
            .rposition(|c| *c == ' ')
            .filter(|at| *at > 0)
            .unwrap_or(width);
        let line: String = rest[..cut].iter().collect();
        lines.push(line.trim_end().to_string());
        let skip = if rest.get(cut) == Some(&' ') {
            cut + 1
        } else {
            cut
        };
        rest.drain(..skip);
    }
    lines.push(rest.into_iter().collect());
    lines
}

fn write_lines(number: usize, write: &RenderedWrite, extent: Extent, out: &mut Vec<String>) {
    let head = format!("  {number}. {} ", write.method);
    let url = wrap_tokens(
        write.target.chars().map(String::from).collect(),
        URL_LINE_COLUMNS.saturating_sub(head.chars().count()),
    );
    let url_lines = match extent {
        Extent::Short => MAX_URL_LINES,
        Extent::Full => usize::MAX,
    };
    for (i, segment) in url.iter().take(url_lines).enumerate() {
        if i == 0 {
            out.push(format!("{head}{segment}"));
        } else {
            // `segment` starts with the continuation mark.
            out.push(format!("     {segment}"));
        }
    }
    if url.len() > url_lines {
        out.push(format!(
            "     … URL cut: {} characters in all; view all to read it",
            write.target.chars().count()
        ));
    }
    for header in &write.headers {
        out.push(format!("     header {header}"));
    }
    let size = plural(write.body_bytes, "byte");
    match write.body_form {
        BodyForm::Empty => {
            out.push("     body: none".to_string());
            return;
        }
        BodyForm::Json => out.push(format!(
            "     body: {size} of JSON (reformatted, keys in sorted order):"
        )),
        BodyForm::Bytes => out.push(format!(
            "     body: {size}, not JSON, every byte shown (\\xNN: a byte that is not printable ASCII):"
        )),
    }
    let lines: Vec<&str> = write.body.split('\n').collect();
    let shown = match extent {
        Extent::Short => MAX_BODY_LINES,
        Extent::Full => usize::MAX,
    };
    for line in lines.iter().take(shown) {
        out.push(format!("{BODY_GUTTER}{line}"));
    }
    if lines.len() > shown {
        out.push(format!(
            "     … body cut: {} of {} lines shown above; view all to read every line",
            shown,
            lines.len()
        ));
        out.push(format!("     body {size}, sha256 {}", write.body_sha256));
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The path and query of a URL as shown in the one-line summary, bounded.
fn path_of(target: &str) -> String {
    let path = match Url::parse(target) {
        Ok(url) if url.query().is_some() => format!("{}?…", url.path()),
        Ok(url) => url.path().to_string(),
        Err(_) => target.to_string(),
    };
    display::line(&path, SUMMARY_PATH_CHARS)
}

fn render_write(write: &types::PlannedWrite, slots: &[(String, String)]) -> RenderedWrite {
    // What goes on the wire is the parsed URL (outbound sends it); a URL that does not parse
    // is refused before anyone is asked, and is shown escaped here all the same.
    let target = match Url::parse(&write.url) {
        Ok(url) => url.as_str().to_string(),
        Err(_) => escape_bytes(write.url.as_bytes()).concat(),
    };
    let mut headers = Vec::new();
    if let Some(slot) = &write.credential {
        let slot_shown = display::line(slot, 64);
        match slots.iter().find(|(name, _)| name == slot) {
            Some((_, header)) => headers.push(format!(
                "{}: (the key of slot {slot_shown})",
                display::line(header, 64)
            )),
            None => headers.push(format!(
                "(none: no slot {slot_shown} is granted; the write would be refused)"
            )),
        }
    }
    for (name, value) in WRITE_HEADERS {
        headers.push(format!("{name}: {value} (if the plugin adds it)"));
    }
    let (body_form, lines) = render_body(&write.body);
    RenderedWrite {
        method: method_name(write.method),
        target,
        headers,
        body_form,
        body: lines.join("\n"),
        body_bytes: write.body.len(),
        body_sha256: hex::encode(Sha256::digest(&write.body)),
    }
}

fn render_body(body: &[u8]) -> (BodyForm, Vec<String>) {
    if body.is_empty() {
        return (BodyForm::Empty, Vec::new());
    }
    let json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .filter(|_| repeated_json_key(body).is_none())
        .and_then(|value| serde_json::to_string_pretty(&value).ok());
    match json {
        Some(pretty) => {
            let lines = pretty
                .lines()
                .flat_map(|line| wrap_tokens(json_tokens(line), BODY_LINE_CHARS))
                .collect();
            (BodyForm::Json, lines)
        }
        None => {
            let mut lines = Vec::new();
            let mut tokens = Vec::new();
            for (token, newline) in escape_bytes(body)
                .into_iter()
                .zip(body.iter().map(|b| *b == b'\n'))
            {
                tokens.push(token);
                if newline {
                    lines.extend(wrap_tokens(std::mem::take(&mut tokens), BODY_LINE_CHARS));
                }
            }
            if !tokens.is_empty() {
                lines.extend(wrap_tokens(tokens, BODY_LINE_CHARS));
            }
            (BodyForm::Bytes, lines)
        }
    }
}

/// One token per byte: printable ASCII as itself (a backslash doubled), anything else as an
/// escape, so every byte is visible and no byte acts on the terminal.
fn escape_bytes(bytes: &[u8]) -> Vec<String> {
    bytes
        .iter()
        .map(|byte| match byte {
            b'\\' => "\\\\".to_string(),
            b'\n' => "\\n".to_string(),
            b'\r' => "\\r".to_string(),
            b'\t' => "\\t".to_string(),
            0x20..=0x7e => char::from(*byte).to_string(),
            other => format!("\\x{other:02x}"),
        })
        .collect()
}

/// A line of pretty JSON as tokens that wrapping does not split: an escape sequence is one
/// token, and a character a terminal would hide or act on (bidi, zero-width, tag and
/// combining characters, non-ASCII spaces) becomes its JSON escape, which means the same to a
/// JSON reader. serde_json already escapes the control characters.
fn json_tokens(line: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let mut token = String::from('\\');
            match chars.next() {
                Some('u') => {
                    token.push('u');
                    for _ in 0..4 {
                        if let Some(hex) = chars.next_if(char::is_ascii_hexdigit) {
                            token.push(hex);
                        }
                    }
                }
                Some(other) => token.push(other),
                None => {}
            }
            tokens.push(token);
        } else if hidden_in_a_body(c) {
            let mut units = [0u16; 2];
            let escaped: String = c
                .encode_utf16(&mut units)
                .iter()
                .map(|unit| format!("\\u{unit:04x}"))
                .collect();
            tokens.push(escaped);
        } else {
            tokens.push(c.to_string());
        }
    }
    tokens
}

fn hidden_in_a_body(c: char) -> bool {
    display::is_unsafe(c)
        || (c.is_whitespace() && c != ' ')
        || matches!(c,
            '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE00}'..='\u{FE2F}'
            | '\u{E0100}'..='\u{E01EF}'
        )
}

/// Lines of at most `width` characters, never splitting a token; a continued line starts with
/// `↪ `.
fn wrap_tokens(tokens: Vec<String>, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut chars = 0;
    for token in tokens {
        let len = token.chars().count();
        if chars > 0 && chars + len > width {
            lines.push(std::mem::take(&mut line));
            line.push_str(CONTINUED);
            chars = CONTINUED.chars().count();
        }
        line.push_str(&token);
        chars += len;
    }
    lines.push(line);
    lines
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
/// unless the answer is [`Answer::Approved`]. A face shows the request's `Display` (or
/// [`ConfirmationRequest::full`]) as it is, and asks its question right after the last line.
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

    const URL: &str = "https://api.turnr.se/merchant/refund-transaction/90012/externally-refunded";

    fn slots() -> Vec<(String, String)> {
        vec![("ingrid-api-key".into(), "x-api-key".into())]
    }

    fn write(body: &[u8]) -> types::PlannedWrite {
        types::PlannedWrite {
            method: types::Method::Post,
            url: URL.into(),
            credential: Some("ingrid-api-key".into()),
            body: body.to_vec(),
        }
    }

    fn request(
        summary: &str,
        details: &str,
        writes: Vec<types::PlannedWrite>,
    ) -> ConfirmationRequest {
        let proposal = types::Proposal {
            summary: summary.into(),
            details: details.into(),
            writes,
        };
        ConfirmationRequest::render(
            "Ingrid",
            "mark_refund_externally_refunded",
            &proposal,
            &slots(),
        )
    }

    /// The lines the plugin wrote (behind the gutter) and the host's own lines.
    fn split(shown: &str) -> (Vec<&str>, Vec<&str>) {
        shown
            .lines()
            .partition(|line| line.starts_with(PLUGIN_GUTTER) || *line == PLUGIN_GUTTER.trim_end())
    }

    #[test]
    fn the_plugins_words_come_first_the_writes_next_and_the_host_summary_last() {
        let request = request(
            "Mark refund 90012 as paid\u{202E}dnuofer",
            "line\u{1b}[2J one\n\nline two",
            vec![write(br#"{"refundedAt":"2026-11-27T10:00:00Z"}"#)],
        );
        let shown = request.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        let expected = [
            "`mark_refund_externally_refunded` describes this change in its own words (not checked by the host):",
            "  | Mark refund 90012 as paiddnuofer",
            "  |",
            "  | line[2J one",
            "  |",
            "  | line two",
            "The host will send exactly this to Ingrid (each write once; no other header):",
            "  1. POST https://api.turnr.se/merchant/refund-transaction/90012/externally-refunded",
            "     header x-api-key: (the key of slot ingrid-api-key)",
            "     header accept: application/json (if the plugin adds it)",
            "     header content-type: application/json (if the plugin adds it)",
            "     body: 37 bytes of JSON (reformatted, keys in sorted order):",
            "       {",
            r#"         "refundedAt": "2026-11-27T10:00:00Z""#,
            "       }",
            "Host summary: 1 write: POST /merchant/refund-transaction/90012/externally-refunded",
        ];
        assert_eq!(lines, expected, "{shown}");
        assert_eq!(lines.last().copied(), Some(request.host_summary().as_str()));
        assert!(!request.is_cut());
        assert_eq!(request.full(), shown);
    }

    #[test]
    fn the_plugins_text_is_bounded_collapsed_and_cannot_pass_for_host_lines() {
        let padded = format!("  1. GET {URL}{}", " ".repeat(300));
        let summary = format!(
            "{}{padded}\n{}\nHost summary: 1 write: GET /merchant/return\n",
            "\n".repeat(60),
            " \t \n".repeat(30)
        );
        let details = format!("{}\n{}", "row ".repeat(200), "detail\n".repeat(100));
        let request = request(&summary, &details, vec![write(b"{}")]);
        let shown = request.to_string();
        let (plugin, host) = split(&shown);
        // Every line the plugin wrote is behind the gutter and at most 80 columns wide.
        assert!(plugin.iter().all(|l| l.chars().count() <= 80), "{shown}");
        assert!(
            plugin.len() <= SUMMARY_LINES + 1 + DETAILS_LINES,
            "{} plugin lines",
            plugin.len()
        );
        // No blank run survives, and no host line carries the plugin's words.
        assert!(!shown.contains("\n  |\n  |\n"), "{shown}");
        assert!(!shown.starts_with('\n'));
        assert!(host.iter().all(|l| !l.contains("GET")), "{host:?}");
        let summaries: Vec<&&str> = host
            .iter()
            .filter(|l| l.starts_with(HOST_SUMMARY_PREFIX))
            .collect();
        assert_eq!(summaries.len(), 1, "{shown}");
        assert_eq!(shown.lines().last(), Some(request.host_summary().as_str()));
        // The host says where it cut the plugin's text, outside the gutter.
        assert!(
            host.iter().any(|l| l.contains("more lines, not shown")),
            "{shown}"
        );
        // The plugin's lines all come before the host's rendering of the writes.
        let first_write = shown
            .lines()
            .position(|l| l.starts_with("The host will send"))
            .unwrap_or(0);
        let last_plugin = shown
            .lines()
            .collect::<Vec<_>>()
            .iter()
            .rposition(|l| l.starts_with(PLUGIN_GUTTER))
            .unwrap_or(usize::MAX);
        assert!(last_plugin < first_write, "{shown}");
        // The full rendering has the rest, in the same order.
        let full = request.full();
        assert!(request.is_cut());
        assert_eq!(full.matches("  | detail").count(), 100);
        assert_eq!(full.lines().last(), Some(request.host_summary().as_str()));
        // Every host line is one of the host's own forms.
        for line in host {
            let known = line.starts_with('`')
                || line.starts_with("The host will send")
                || line.starts_with("  (the plugin's text")
                || line.starts_with("  1. POST ")
                || line.starts_with("     header ")
                || line.starts_with("     body")
                || line.starts_with(BODY_GUTTER)
                || line.starts_with(HOST_SUMMARY_PREFIX);
            assert!(known, "{line:?}");
        }
    }

    #[test]
    fn a_long_body_is_cut_visibly_with_its_size_and_sha256_and_shown_in_full_on_request() {
        let mut body = String::from("{\n");
        for i in 0..198 {
            body.push_str(&format!("  \"k{i:03}\": {i},\n"));
        }
        body.push_str("  \"zzSecret\": \"set on line 200\"\n}");
        let request = request("Mark it", "", vec![write(body.as_bytes())]);
        let shown = request.to_string();
        let sha = hex::encode(Sha256::digest(body.as_bytes()));
        assert!(
            shown.contains(&format!(
                "     … body cut: {MAX_BODY_LINES} of 201 lines shown above; view all"
            )),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("     body {} bytes, sha256 {sha}", body.len())),
            "{shown}"
        );
        assert!(!shown.contains("zzSecret"));
        assert_eq!(shown.lines().last(), Some(request.host_summary().as_str()));
        let full = request.full();
        assert!(full.contains(r#""zzSecret": "set on line 200""#), "{full}");
        assert!(!full.contains("body cut"));
        assert_eq!(full.lines().last(), Some(request.host_summary().as_str()));
    }

    #[test]
    fn a_body_that_is_not_json_is_shown_byte_for_byte() {
        let body = b"ref=A\x1b[2K\x1b]52;c;ZXZpbA==\x07\\ \xe2\x80\xae\r\nnext line\tend";
        let request = request("Mark it", "", vec![write(body)]);
        let shown = request.to_string();
        assert!(shown.contains("not JSON, every byte shown"), "{shown}");
        assert!(
            shown.contains(r"       ref=A\x1b[2K\x1b]52;c;ZXZpbA==\x07\\ \xe2\x80\xae\r\n"),
            "{shown}"
        );
        assert!(shown.contains("       next line\\tend"), "{shown}");
        assert!(shown.chars().all(|c| c == '\n' || !display::is_unsafe(c)));
        // A long line wraps without splitting an escape, and nothing is lost.
        let long = vec![0x1bu8; 100];
        let request = request_with(&long);
        let body_lines: Vec<&str> = request.writes[0].body.lines().collect();
        assert!(body_lines.len() > 1);
        let joined: String = body_lines
            .iter()
            .map(|l| l.trim_start_matches(CONTINUED))
            .collect();
        assert_eq!(joined, "\\x1b".repeat(100));
    }

    fn request_with(body: &[u8]) -> ConfirmationRequest {
        request("Mark it", "", vec![write(body)])
    }

    #[test]
    fn hidden_characters_in_a_json_body_are_shown_as_escapes_not_dropped() {
        // (A raw ESC is not valid JSON: such a body is shown byte for byte, as bytes.)
        let body = "{\"remark\":\"ok\u{202E}kc\u{200B}a\u{00A0}b\u{E0041}\\u001b\"}";
        let request = request_with(body.as_bytes());
        let shown = request.to_string();
        assert!(
            shown.contains(r#""remark": "ok\u202ekc\u200ba\u00a0b\udb40\udc41\u001b""#),
            "{shown}"
        );
        // Numbers stay exactly as written (serde_json's arbitrary precision).
        let request = request_with(br#"{"amount":123456789012345678901234567890.10}"#);
        assert!(
            request.writes[0]
                .body
                .contains("123456789012345678901234567890.10")
        );
        // A body naming a key twice (refused before anyone is asked) is never shown as one value.
        let request = request_with(br#"{"a":"shown","a":"stored"}"#);
        assert_eq!(request.writes[0].body_form, BodyForm::Bytes);
        assert!(
            request.writes[0].body.contains("stored") && request.writes[0].body.contains("shown")
        );
    }

    #[test]
    fn the_summary_line_counts_every_write_and_the_credential_is_named_never_sent() {
        let mut second = write(b"");
        second.url = format!("{URL}?x=1");
        let mut writes = vec![write(b"{}"), second];
        writes.extend((0..3).map(|_| write(b"{}")));
        let request = request("", "", writes);
        let summary = request.host_summary();
        assert_eq!(
            summary,
            "Host summary: 5 writes: POST /merchant/refund-transaction/90012/externally-refunded, \
             POST /merchant/refund-transaction/90012/externally-refunded?…, \
             POST /merchant/refund-transaction/90012/externally-refunded and 2 more"
        );
        let shown = request.to_string();
        assert!(shown.starts_with("`mark_refund_externally_refunded` gave no description"));
        assert!(shown.contains("  5. POST "), "{shown}");
        assert!(shown.contains("     body: none"), "{shown}");
        assert_eq!(
            shown
                .matches("header x-api-key: (the key of slot ingrid-api-key)")
                .count(),
            5
        );
        let long_url = format!("{URL}?q={}", "a".repeat(2_000));
        let mut long = write(b"{}");
        long.url = long_url.clone();
        let request = request_with_writes(vec![long]);
        let shown = request.to_string();
        assert!(shown.contains("     … URL cut: "), "{shown}");
        assert!(request.full().replace("\n     ↪ ", "").contains(&long_url));
    }

    fn request_with_writes(writes: Vec<types::PlannedWrite>) -> ConfirmationRequest {
        request("Mark it", "", writes)
    }

    #[test]
    fn wrapping_keeps_every_character() {
        let text = format!("{} {}", "word ".repeat(40), "x".repeat(200));
        let lines = word_wrap(text.trim_end(), 76);
        assert!(lines.iter().all(|l| l.chars().count() <= 76), "{lines:?}");
        assert_eq!(
            lines.concat().replace(' ', ""),
            text.replace(' ', ""),
            "{lines:?}"
        );
    }
}

//! Confirmation against a deceiving plugin (the `deceiver` fixture): what the person is shown
//! is complete and ends with the host's one-line summary, right above the question, and a write
//! that could show one thing while another is applied is refused before anyone is asked or
//! denied when sent (contract C1, principle P4). Every test also checks that the simulator
//! received no write.

use std::sync::Mutex;

use host_test::dev::simulator::RecordedRequest;
use host_test::policy::confirm::{
    Answer, ConfirmationRequest, Confirmer, HOST_SUMMARY_PREFIX, PLUGIN_GUTTER, Pending,
};
use host_test::runtime::CallReport;
use host_test::session::{Session, Target, ToolCall};

use crate::support::{fixtures, runtime};

/// The refund every proposal of the deceiver targets (PENDING in the simulator's seed).
const REFUND_PATH: &str = "/merchant/refund-transaction/90031/externally-refunded";

/// Answers every question with `answer` and keeps what the person was shown.
struct Recording {
    shown: Mutex<Vec<ConfirmationRequest>>,
    answer: Answer,
}

impl Recording {
    fn answering(answer: Answer) -> Recording {
        Recording {
            shown: Mutex::new(Vec::new()),
            answer,
        }
    }

    fn shown(&self) -> Vec<ConfirmationRequest> {
        self.shown.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Confirmer for Recording {
    fn confirm<'a>(&'a self, request: &'a ConfirmationRequest) -> Pending<'a> {
        self.shown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request.clone());
        Box::pin(std::future::ready(self.answer))
    }
}

async fn deceiver() -> Session {
    Session::builder(&fixtures().deceiver)
        .runtime(runtime())
        .target(Target::EmbeddedSimulator)
        .cache(Some(&fixtures().cache))
        .start()
        .await
        .unwrap_or_else(|e| panic!("loading the deceiver: {e}"))
}

async fn call(session: &Session, tool: &str, confirmer: &Recording) -> (ToolCall, CallReport) {
    session
        .call(tool, "{}", confirmer)
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn writes_received(session: &Session) -> Vec<RecordedRequest> {
    session
        .simulator()
        .unwrap_or_else(|| panic!("embedded simulator"))
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD")
        .collect()
}

/// The one request shown, as text, after checking what every rendering must be: the host's
/// summary of the POST to the refund is the last line, and there is no other.
fn shown_once(recording: &Recording) -> (ConfirmationRequest, String) {
    let shown = recording.shown();
    assert_eq!(shown.len(), 1, "asked once: {shown:?}");
    let request = shown[0].clone();
    let text = request.to_string();
    let summary = request.host_summary();
    assert_eq!(text.lines().last(), Some(summary.as_str()), "{text}");
    assert_eq!(
        summary,
        format!("{HOST_SUMMARY_PREFIX}1 write: POST {REFUND_PATH}")
    );
    let summaries = text
        .lines()
        .filter(|l| l.starts_with(HOST_SUMMARY_PREFIX))
        .count();
    assert_eq!(summaries, 1, "{text}");
    (request, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_lines_and_fake_host_lines_cannot_push_the_write_off_the_screen() {
    let session = deceiver().await;
    let person = Recording::answering(Answer::Declined);
    let (outcome, _) = call(&session, "screen_flood", &person).await;
    assert!(
        matches!(
            outcome,
            ToolCall::NotConfirmed {
                answer: Answer::Declined,
                ..
            }
        ),
        "{outcome:?}"
    );
    let (request, text) = shown_once(&person);
    let lines: Vec<&str> = text.lines().collect();
    // On an 80×24 terminal the last 23 rows (the question takes the 24th) show the real write:
    // its method and URL, its headers and body, and the host's summary.
    let screen = &lines[lines.len().saturating_sub(23)..];
    let url = format!("{}{REFUND_PATH}", session.base_url());
    assert!(
        screen
            .iter()
            .any(|l| l.starts_with("  1. POST ") && l.ends_with(&url)),
        "{text}"
    );
    assert!(screen.iter().any(|l| l.contains("\"deceiver\"")), "{text}");
    // The plugin's words came first, bounded, with no run of blank lines, and every fake
    // "GET" line stayed behind the plugin's gutter.
    let (plugin, host): (Vec<&str>, Vec<&str>) = lines
        .iter()
        .partition(|l| l.starts_with(PLUGIN_GUTTER) || **l == PLUGIN_GUTTER.trim_end());
    assert!(plugin.len() <= 20, "{} plugin lines: {text}", plugin.len());
    assert!(plugin.iter().all(|l| l.chars().count() <= 80), "{text}");
    assert!(
        !text.contains("\n\n") && !text.contains("|\n  |\n"),
        "{text}"
    );
    assert!(host.iter().all(|l| !l.contains("GET")), "{host:?}");
    let last_plugin_line = lines
        .iter()
        .rposition(|l| l.starts_with(PLUGIN_GUTTER))
        .unwrap_or(0);
    let first_write_line = lines
        .iter()
        .position(|l| l.starts_with("  1. POST "))
        .unwrap_or(0);
    assert!(last_plugin_line < first_write_line, "{text}");
    assert_eq!(request.full().lines().last(), text.lines().last());
    assert!(writes_received(&session).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_body_is_cut_visibly_with_its_size_and_sha256_and_all_of_it_can_be_seen() {
    let session = deceiver().await;
    let person = Recording::answering(Answer::Declined);
    let _ = call(&session, "long_body", &person).await;
    let (request, text) = shown_once(&person);
    let write = &request.writes[0];
    // The sha256 the person is shown is that of the bytes that would be sent.
    let body_lines = write.body.lines().count();
    assert_eq!(body_lines, 200, "{}", write.body);
    assert!(
        text.contains(&format!(
            "… body cut: 40 of {body_lines} lines shown above; view all"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "body {} bytes, sha256 {}",
            write.body_bytes, write.body_sha256
        )),
        "{text}"
    );
    assert_eq!(write.body_sha256.len(), 64);
    // The field the summary never mentions is in the full rendering, which ends the same way.
    let full = request.full();
    assert!(
        full.contains(r#""refundedAt": "2001-01-01T00:00:00Z""#),
        "{full}"
    );
    assert!(!full.contains("body cut"));
    assert_eq!(full.lines().last(), text.lines().last());
    assert!(request.is_cut());
    assert!(writes_received(&session).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_naming_a_key_twice_is_refused_before_anyone_is_asked() {
    let session = deceiver().await;
    let person = Recording::answering(Answer::Approved);
    let (outcome, report) = call(&session, "duplicate_key", &person).await;
    let ToolCall::Refused(reason) = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        reason.contains("externalReference") && reason.contains("twice"),
        "{reason}"
    );
    assert!(person.shown().is_empty(), "nobody was asked");
    assert_eq!(report.writes_sent, 0);
    assert!(writes_received(&session).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_shown_byte_for_byte_escaped() {
    let session = deceiver().await;
    let person = Recording::answering(Answer::Declined);
    let _ = call(&session, "escape_body", &person).await;
    let (_, text) = shown_once(&person);
    assert!(text.contains("not JSON, every byte shown"), "{text}");
    assert!(
        text.contains(r"       externalReference=ok\x1b[2K\x1b[1A\r  1. GET /merchant/return\n"),
        "{text}"
    );
    assert!(
        text.contains(r"       \x1b]52;c;ZXZpbA==\x07\xe2\x80\xaeend"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert!(
        text.lines().all(|l| !l.starts_with("  1. GET")),
        "the fake line stays inside the body: {text}"
    );
    assert!(writes_received(&session).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_write_carrying_a_method_override_or_any_other_header_is_denied() {
    let session = deceiver().await;
    let person = Recording::answering(Answer::Approved);
    let (outcome, report) = call(&session, "method_override", &person).await;
    // The person was shown every header the write may carry, the key only by its slot.
    let (_, text) = shown_once(&person);
    for header in [
        "     header x-api-key: (the key of slot ingrid-api-key)",
        "     header accept: application/json",
        "     header content-type: application/json",
    ] {
        assert!(text.contains(header), "{header}: {text}");
    }
    assert_eq!(text.matches("     header ").count(), 3, "{text}");
    let ToolCall::Result(result) = &outcome else {
        panic!("{outcome:?}");
    };
    let lines: Vec<&str> = result.text.lines().collect();
    // The plugin's two lines, then the host's note on the approved write left unsent.
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[2].contains("none of the approved changes was sent"),
        "{lines:?}"
    );
    for (line, header) in lines
        .iter()
        .zip(["X-HTTP-Method-Override", "X-Original-Method"])
    {
        assert!(
            line.starts_with("denied: ") && line.contains(header),
            "{line}"
        );
    }
    assert_eq!((report.writes_sent, report.writes_unsent), (0, 1));
    assert!(
        writes_received(&session).is_empty(),
        "{:?}",
        writes_received(&session)
    );
    // The approval was not consumed by the denied attempts, and is single-use: it is gone
    // with the call all the same.
    let again = Recording::answering(Answer::Declined);
    let _ = call(&session, "method_override", &again).await;
    assert_eq!(again.shown().len(), 1, "a new call asks again");
    assert!(writes_received(&session).is_empty());
}

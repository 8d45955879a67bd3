//! The terminal as a confirmer: the person at this terminal answers `y` or not.

use std::io::Write;

use crate::policy::confirm::{Answer, ConfirmationRequest, Confirmer, Pending};

/// Asks on stderr and reads one line of stdin; only `y`/`yes` is yes.
pub fn ask_yes_no(question: &str) -> bool {
    matches!(read_answer(question), Some(answer) if answer)
}

/// `Some(true)` for yes, `Some(false)` for any other answer, `None` when stdin closed.
fn read_answer(question: &str) -> Option<bool> {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    match std::io::stdin().read_line(&mut answer) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        )),
    }
}

/// Shows the host's rendering of the change and asks; anything but `y`/`yes` declines, and a
/// closed stdin (Ctrl-D) dismisses.
pub struct TerminalPrompt;

impl Confirmer for TerminalPrompt {
    fn confirm<'a>(&'a self, request: &'a ConfirmationRequest) -> Pending<'a> {
        let shown = request.to_string();
        Box::pin(async move {
            let asked = tokio::task::spawn_blocking(move || {
                eprintln!("\n{shown}");
                read_answer("Apply this change?")
            })
            .await;
            match asked {
                Ok(Some(true)) => Answer::Approved,
                Ok(Some(false)) => Answer::Declined,
                Ok(None) | Err(_) => Answer::Dismissed,
            }
        })
    }
}

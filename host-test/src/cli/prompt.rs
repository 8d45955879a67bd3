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

/// What the person typed at the confirmation question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Yes,
    No,
    /// Show everything (every body line, the whole URL, all of the plugin's text) first.
    ViewAll,
}

fn choice(answer: &str) -> Choice {
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Choice::Yes,
        "v" | "view" => Choice::ViewAll,
        _ => Choice::No,
    }
}

/// The question, asked right below the host's one-line summary (the rendering's last line).
const QUESTION: &str = "Apply this change? [y = yes, v = view everything first, N = no]";

/// Shows the host's rendering of the change and asks; `v` shows the full rendering (which
/// ends with the same summary line) and asks again; anything but `y`/`yes` declines, and a
/// closed stdin (Ctrl-D) dismisses.
pub struct TerminalPrompt;

impl Confirmer for TerminalPrompt {
    fn confirm<'a>(&'a self, request: &'a ConfirmationRequest) -> Pending<'a> {
        let shown = request.to_string();
        let full = request.full();
        Box::pin(async move {
            let asked = tokio::task::spawn_blocking(move || {
                eprintln!("\n{shown}");
                loop {
                    eprint!("{QUESTION} ");
                    let _ = std::io::stderr().flush();
                    let mut answer = String::new();
                    match std::io::stdin().read_line(&mut answer) {
                        Ok(0) | Err(_) => return None,
                        Ok(_) => match choice(&answer) {
                            Choice::ViewAll => eprintln!("\n{full}"),
                            Choice::Yes => return Some(true),
                            Choice::No => return Some(false),
                        },
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_approves_and_v_asks_to_see_everything() {
        for (typed, expected) in [
            ("y\n", Choice::Yes),
            (" YES \n", Choice::Yes),
            ("v\n", Choice::ViewAll),
            ("View\n", Choice::ViewAll),
            ("\n", Choice::No),
            ("n\n", Choice::No),
            ("yes please\n", Choice::No),
        ] {
            assert_eq!(choice(typed), expected, "{typed:?}");
        }
    }
}

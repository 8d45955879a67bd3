//! The one output layer for people: every string a plugin wrote (tool text, errors, tool
//! listings, `connect` and probe messages, its summary of a change) passes through here before
//! it reaches a terminal or any other face. What a plugin writes cannot clear a screen, write
//! the clipboard (OSC 52), move the cursor, reorder text (bidi), hide text (tag characters,
//! zero-width marks, stacked combining marks) or fake a new line of host output, and its size
//! is bounded.

/// Bounds of one message from a plugin.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Characters per line; a longer line is cut with a visible mark.
    pub line_chars: usize,
    /// Lines; further lines are replaced by one marker line.
    pub lines: usize,
}

/// A one-line field: a tool's title, a name, an endpoint.
pub const LINE: Bounds = Bounds {
    line_chars: 200,
    lines: 1,
};
/// An error or a short message (`connect`, a refusal).
pub const MESSAGE: Bounds = Bounds {
    line_chars: 400,
    lines: 20,
};
/// A tool's result text: pages of rows are normal.
pub const RESULT: Bounds = Bounds {
    line_chars: 400,
    lines: 2_000,
};

/// Combining marks allowed on one base character (accents are one or two; a tower of
/// hundreds hides the lines around it).
const MAX_COMBINING: usize = 2;

/// Characters that are never shown: C0 and C1 controls (ESC starts every terminal sequence),
/// bidi overrides and isolates, zero-width characters, tag characters, interlinear
/// annotations, the line and paragraph separators, and the byte-order mark.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
            | '\u{180E}'
            | '\u{034F}'
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
        )
}

fn is_combining(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}'
    )
}

/// One line: unsafe characters removed (a tab becomes a space), combining marks bounded, cut
/// at `max` characters with a visible mark.
pub fn line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut shown = 0;
    let mut combining = 0;
    for c in text.chars() {
        let c = if c == '\t' { ' ' } else { c };
        if is_unsafe(c) {
            continue;
        }
        if is_combining(c) {
            combining += 1;
            if combining > MAX_COMBINING {
                continue;
            }
        } else {
            combining = 0;
        }
        if shown == max {
            out.push_str("… (cut)");
            return out;
        }
        out.push(c);
        shown += 1;
    }
    out
}

/// Unsafe characters removed, nothing else changed (JSON for machines printed on a terminal:
/// no unsafe character is structural in JSON, so the document stays valid).
pub fn strip(text: &str) -> String {
    text.chars().filter(|c| !is_unsafe(*c)).collect()
}

/// Several lines, each made safe by [`line`], at most `bounds.lines` of them.
pub fn block(text: &str, bounds: Bounds) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut total = 0;
    for raw in text.split('\n') {
        total += 1;
        if lines.len() < bounds.lines {
            lines.push(line(
                raw.strip_suffix('\r').unwrap_or(raw),
                bounds.line_chars,
            ));
        }
    }
    if total > bounds.lines {
        lines.push(format!("… ({} more lines cut)", total - bounds.lines));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences_and_hidden_characters_never_pass() {
        let hostile =
            "ok\u{1b}[2J\u{1b}]52;c;ZXZpbA==\u{7}\u{9b}31m\u{202E}txet\u{E0041}\u{200B}\u{2028}x\r";
        let shown = line(hostile, 100);
        assert_eq!(shown, "ok[2J]52;c;ZXZpbA==31mtxetx");
        assert!(shown.chars().all(|c| !is_unsafe(c)));
        let zalgo = format!("a{}b", "\u{0301}".repeat(500));
        assert_eq!(line(&zalgo, 100), "a\u{0301}\u{0301}b");
    }

    #[test]
    fn size_is_bounded_with_a_visible_mark() {
        assert_eq!(line("abcdef", 3), "abc… (cut)");
        let many = "row\n".repeat(10);
        let shown = block(
            &many,
            Bounds {
                line_chars: 10,
                lines: 3,
            },
        );
        assert_eq!(shown, "row\nrow\nrow\n… (8 more lines cut)");
    }
}

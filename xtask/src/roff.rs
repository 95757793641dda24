//! Plain text into man(7) roff: escapes, fonts, and the help texts' shape (paragraphs,
//! indented blocks kept as they are).

/// `text` escaped for a roff text line or a macro argument: backslashes, hyphen-minus
/// as `\-` (options stay searchable and copyable), quotes as the ASCII ones, every other
/// non-ASCII character by its glyph name, so the page is ASCII and groff warns of
/// nothing in any locale.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '\'' => out.push_str("\\(aq"),
            '`' => out.push_str("\\(ga"),
            '"' => out.push_str("\\(dq"),
            '\u{2026}' => out.push_str("..."),
            '\u{b5}' => out.push_str("\\(mc"),
            '\u{2014}' => out.push_str("\\(em"),
            '\u{2013}' => out.push_str("\\(en"),
            '\u{2265}' => out.push_str("\\(>="),
            '\u{2264}' => out.push_str("\\(<="),
            '\u{2260}' => out.push_str("\\(!="),
            '\u{2194}' => out.push_str("<\\->"),
            '\u{2192}' => out.push_str("\\->"),
            '\u{2190}' => out.push_str("<\\-"),
            '\u{d7}' => out.push_str("\\(mu"),
            '\u{2018}' => out.push_str("\\(oq"),
            '\u{2019}' => out.push_str("\\(cq"),
            '\u{201c}' => out.push_str("\\(lq"),
            '\u{201d}' => out.push_str("\\(rq"),
            '\u{b0}' => out.push_str("\\(de"),
            '\u{a0}' => out.push_str("\\ "),
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("\\[u{:04X}]", u32::from(c))),
        }
    }
    out
}

/// A text line: escaped, and kept from being read as a request (a leading `.`).
pub fn line(text: &str) -> String {
    let e = esc(text);
    if e.starts_with('.') {
        format!("\\&{e}")
    } else {
        e
    }
}

pub fn bold(text: &str) -> String {
    format!("\\fB{}\\fR", esc(text))
}

pub fn italic(text: &str) -> String {
    format!("\\fI{}\\fR", esc(text))
}

/// A usage line (`tool attach SOCKET [-t N]`): literal words bold, placeholders (words
/// without a lower-case letter) italic, brackets and bars plain.
pub fn usage(text: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let literal = word.starts_with('-') || word.chars().any(|c| c.is_ascii_lowercase());
        if literal {
            out.push_str(&bold(word));
        } else {
            out.push_str(&italic(word));
        }
        word.clear();
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let part_of_word = c.is_alphanumeric()
            || c == '_'
            || (c == '-' && (!word.is_empty() || chars.peek().is_some_and(|n| *n != ' ')))
            || (c == '.' && !word.is_empty() && chars.peek().is_some_and(|n| n.is_alphanumeric()));
        if part_of_word {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push_str(&esc(&c.to_string()));
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Help text as roff: paragraphs (blank lines) become `.PP`; within one, lines that
/// start with blanks are kept verbatim in an indented no-fill block, the others are
/// filled.
pub fn paragraphs(text: &str) -> String {
    let mut out = Vec::new();
    for (i, para) in split_paragraphs(text).iter().enumerate() {
        if i > 0 {
            out.push(".PP".to_owned());
        }
        out.push(block(para));
    }
    out.join("\n")
}

/// The paragraphs of `text` (separated by blank lines), trimmed of blank edges.
pub fn split_paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.trim_matches('\n').to_owned())
        .filter(|p| !p.trim().is_empty())
        .collect()
}

/// One paragraph: filled lines, and indented lines kept as they are.
pub fn block(para: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let lines: Vec<&str> = para.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let indented = |l: &str| l.starts_with(' ') || l.starts_with('\t');
        if indented(lines[i]) {
            let start = i;
            while i < lines.len() && indented(lines[i]) {
                i += 1;
            }
            let group = &lines[start..i];
            let strip = group
                .iter()
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            out.push(".RS 4\n.nf".to_owned());
            for l in group {
                out.push(line(&l[strip..]));
            }
            out.push(".fi\n.RE".to_owned());
        } else {
            out.push(line(lines[i].trim_end()));
            i += 1;
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(esc("--memory 1µs ≥ 2"), "\\-\\-memory 1\\(mcs \\(>= 2");
        assert_eq!(esc("a\\b 'q'"), "a\\eb \\(aqq\\(aq");
        assert_eq!(line(".hidden"), "\\&.hidden");
        assert_eq!(esc("名"), "\\[u540D]");
    }

    #[test]
    fn usage_fonts() {
        assert_eq!(
            usage("ptyhold attach SOCKET [-t N]"),
            "\\fBptyhold\\fR \\fBattach\\fR \\fISOCKET\\fR [\\fB\\-t\\fR \\fIN\\fR]"
        );
        assert_eq!(
            usage("chroot-rs [OPTION]... NEWROOT"),
            "\\fBchroot\\-rs\\fR [\\fIOPTION\\fR]... \\fINEWROOT\\fR"
        );
        assert_eq!(usage("--net[=FILE]"), "\\fB\\-\\-net\\fR[=\\fIFILE\\fR]");
    }

    #[test]
    fn indented_lines_are_kept() {
        let r = paragraphs("Words:\n  link add NAME\n  link del NAME\n\nLast.");
        assert_eq!(
            r,
            "Words:\n.RS 4\n.nf\nlink add NAME\nlink del NAME\n.fi\n.RE\n.PP\nLast."
        );
    }
}

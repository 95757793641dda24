//! Batch lines split into words as a shell would, without expansions: blanks (space,
//! tab, and also CR, so that CRLF files work, and the other ASCII whitespace) separate,
//! `'…'` is literal, `"…"` takes `\"`, `\\`, `\$` and `` \` `` (other backslashes stay,
//! as in sh), a backslash outside quotes escapes the next character, and `#` at the start
//! of a word begins a comment. A blank or comment line gives no words.

use std::fmt;

/// Why a line could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// A quote (`'` or `"`) opened and not closed.
    Unterminated(char),
    /// The line ends in a backslash with nothing to escape.
    TrailingBackslash,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unterminated(q) => write!(f, "unterminated {q} quote"),
            Self::TrailingBackslash => f.write_str("the line ends in a backslash"),
        }
    }
}

impl std::error::Error for SplitError {}

/// Split `line` into words (see the module documentation).
pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    // The word being built; `Some("")` after an empty quote, which is a word.
    let mut cur: Option<String> = None;
    let mut it = line.chars();
    while let Some(c) = it.next() {
        match c {
            c if c.is_ascii_whitespace() => words.extend(cur.take()),
            '#' if cur.is_none() => break,
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match it.next().ok_or(SplitError::Unterminated('\''))? {
                        '\'' => break,
                        ch => w.push(ch),
                    }
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match it.next().ok_or(SplitError::Unterminated('"'))? {
                        '"' => break,
                        '\\' => match it.next().ok_or(SplitError::Unterminated('"'))? {
                            ch @ ('"' | '\\' | '$' | '`') => w.push(ch),
                            ch => {
                                w.push('\\');
                                w.push(ch);
                            }
                        },
                        ch => w.push(ch),
                    }
                }
            }
            '\\' => {
                let ch = it.next().ok_or(SplitError::TrailingBackslash)?;
                cur.get_or_insert_with(String::new).push(ch);
            }
            ch => cur.get_or_insert_with(String::new).push(ch),
        }
    }
    words.extend(cur);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_separate_and_comments_end_the_line() {
        assert_eq!(
            split("connect c1 --type veth\t--link br0  --addr 10.0.3.2/24").unwrap(),
            [
                "connect",
                "c1",
                "--type",
                "veth",
                "--link",
                "br0",
                "--addr",
                "10.0.3.2/24"
            ]
        );
        assert!(split("   ").unwrap().is_empty());
        assert!(split("  # only a comment").unwrap().is_empty());
        assert_eq!(split("link show # trailing").unwrap(), ["link", "show"]);
        assert_eq!(split("a#b").unwrap(), ["a#b"]);
    }

    #[test]
    fn quotes_and_backslashes_as_in_sh() {
        assert_eq!(
            split(r#"set web cpu.max='50000 100000' "a \"b\"" c\ d # note"#).unwrap(),
            ["set", "web", "cpu.max=50000 100000", r#"a "b""#, "c d"]
        );
        assert_eq!(split(r#""a\nb" "\\ \$ \`""#).unwrap(), [r"a\nb", r"\ $ `"]);
        assert_eq!(split(r"'a\b'").unwrap(), [r"a\b"]);
        assert_eq!(split("'' x").unwrap(), ["", "x"]);
        assert_eq!(split("x\r").unwrap(), ["x"]);
    }

    #[test]
    fn unfinished_lines_are_errors() {
        assert_eq!(
            split("netns add 'open"),
            Err(SplitError::Unterminated('\''))
        );
        assert_eq!(split(r#"set "x"#), Err(SplitError::Unterminated('"')));
        assert_eq!(split(r#"set "x\"#), Err(SplitError::Unterminated('"')));
        assert_eq!(split("x \\"), Err(SplitError::TrailingBackslash));
        assert_eq!(
            SplitError::Unterminated('\'').to_string(),
            "unterminated ' quote"
        );
    }
}

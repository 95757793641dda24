//! JSON lines: with `--json`, a tool writes one object per line on standard output.
//!
//! Keys are snake_case and keep the order of the struct's fields (serde's derive), so the
//! output is stable between runs; consumers parse it rather than compare strings.

use std::io::{self, Write};

use serde::Serialize;

/// One value as a single line of JSON, without the newline.
pub fn to_line<T: Serialize + ?Sized>(value: &T) -> io::Result<String> {
    serde_json::to_string(value).map_err(io::Error::other)
}

/// Write `value` as one line of JSON followed by a newline.
pub fn write_line<W: Write + ?Sized, T: Serialize + ?Sized>(
    out: &mut W,
    value: &T,
) -> io::Result<()> {
    let mut line = to_line(value)?;
    line.push('\n');
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Ns {
        r#type: &'static str,
        inode: u64,
        path: String,
    }

    #[test]
    fn one_object_per_line_in_field_order() {
        let mut out = Vec::new();
        write_line(
            &mut out,
            &Ns {
                r#type: "net",
                inode: 4026531840,
                path: "/proc/1/ns/net".into(),
            },
        )
        .unwrap();
        write_line(
            &mut out,
            &Ns {
                r#type: "uts",
                inode: 4026531838,
                path: "/proc/1/ns/uts".into(),
            },
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            r#"{"type":"net","inode":4026531840,"path":"/proc/1/ns/net"}"#
        );
        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(v["type"], "uts");
    }
}

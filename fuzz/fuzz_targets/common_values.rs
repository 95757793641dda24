//! `common`: sizes and units, `--batch` word splitting, pidfiles, signal names, the
//! console escape key and its input filter, namespace arguments.
//!
//! The first byte picks the parser, the rest is its input:
//! `s` size (`common::units`), `w` batch line (`common::words::split`), `p` pidfile
//! text, `g` signal name, `e` escape key + typed input (`common::pty`), `n` netns
//! argument (`common::nsfs::netns_path`).
#![no_main]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::units::{self, Limit};
use libfuzzer_sys::fuzz_target;
use toolkit_fuzz::{mode, sh_quote, text, u64_le};

fuzz_target!(|data: &[u8]| {
    let Some((m, rest)) = mode(data) else { return };
    match m {
        b's' => sizes(rest),
        b'w' => words(rest),
        b'p' => pidfile(rest),
        b'g' => signal(rest),
        b'e' => escape(rest),
        b'n' => netns(rest),
        _ => {}
    }
});

fn sizes(rest: &[u8]) {
    let s = text(rest);
    let size = units::parse_size(&s);
    let limit = units::parse_limit(&s);
    if let Ok(n) = size {
        // What it prints reads back as the same number of bytes.
        assert_eq!(units::parse_size(&units::format_size(n)), Ok(n), "{s:?}");
        if !matches!(s.trim(), "max" | "-1") {
            assert_eq!(limit, Ok(Limit::Bytes(n)), "{s:?}");
        }
    }
    if let Ok(l) = &limit {
        // The text cgroup files take (bytes or max) reads back.
        assert_eq!(units::parse_limit(&l.to_string()).as_ref(), Ok(l), "{s:?}");
    }
    // Any byte count formats and reads back.
    let n = u64_le(rest);
    assert_eq!(units::parse_size(&units::format_size(n)), Ok(n));
}

fn words(rest: &[u8]) {
    // One line, as the batch readers hand it over.
    let t = text(rest);
    let line = t.split('\n').next().unwrap_or("");
    let Ok(words) = common::words::split(line) else {
        return;
    };
    // No word of a batch line holds what ends a line.
    for w in &words {
        assert!(!w.contains('\n'), "{line:?} gave {w:?}");
    }
    // Quoted as sh quotes, the words split back into themselves.
    let quoted: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
    let again = common::words::split(&quoted.join(" ")).expect("quoted words split");
    assert_eq!(again, words, "{line:?}");
}

fn pidfile(rest: &[u8]) {
    let t = text(rest);
    if let Some(pid) = common::pidfile::parse(&t) {
        assert!(pid.as_raw() > 0);
        assert_eq!(common::pidfile::parse(&format!("{pid}\n")), Some(pid));
    }
}

fn signal(rest: &[u8]) {
    let t = text(rest);
    if let Ok(sig) = common::supervise::parse_signal(&t) {
        // Its name and its number name it again.
        assert_eq!(common::supervise::parse_signal(sig.as_str()), Ok(sig));
        assert_eq!(
            common::supervise::parse_signal(&(sig as i32).to_string()),
            Ok(sig)
        );
    }
}

/// The escape key's parser, then the filter over input cut into chunks: the same
/// bytes pass as when typed in one piece, and the detach comes at the same place.
fn escape(rest: &[u8]) {
    let Some((&spec, input)) = rest.split_first() else {
        return;
    };
    let key_text = [spec];
    let key = match common::pty::parse_escape(&String::from_utf8_lossy(&key_text)) {
        Some(k) => {
            assert!((1..=26).contains(&k));
            k
        }
        None => 1,
    };
    // Reference: one pass over the whole input.
    let mut want = Vec::new();
    let mut want_detach = false;
    let mut armed = false;
    for &c in input {
        if armed {
            armed = false;
            if c == b'q' {
                want_detach = true;
                break;
            }
        } else if c == key {
            armed = true;
            continue;
        }
        want.push(c);
    }
    // Chunks whose lengths come from the input itself.
    let mut esc = common::pty::Escape::new(key);
    let mut got = Vec::new();
    let mut detach = false;
    let mut at = 0;
    let mut i = 0;
    while at < input.len() {
        let len = (usize::from(input[i % input.len()]) % 7 + 1).min(input.len() - at);
        i += 1;
        let chunk = &input[at..at + len];
        let mut out = vec![0u8; chunk.len()];
        let f = esc.feed(chunk, &mut out);
        assert!(f.len <= chunk.len());
        got.extend_from_slice(&out[..f.len]);
        at += len;
        if f.detach {
            detach = true;
            break;
        }
    }
    assert_eq!(detach, want_detach);
    assert_eq!(got, want);
    let hint = common::pty::hint(0, key);
    assert!(hint.starts_with("\nConnected to tty 0\n"));
}

fn netns(rest: &[u8]) {
    let Some((&flag, spec)) = rest.split_first() else {
        return;
    };
    let spec = OsStr::from_bytes(spec);
    let p = common::nsfs::netns_path(spec, flag & 1 == 1);
    let b = spec.as_bytes();
    if flag & 1 == 0 {
        if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
            assert_eq!(
                p,
                Path::new(&format!("/proc/{}/ns/net", spec.to_string_lossy()))
            );
        } else if b.contains(&b'/') || b.is_empty() || b == b"." || b == b".." {
            assert_eq!(p, Path::new(spec));
        } else {
            // A bare name is always a file directly in /run/netns.
            assert_eq!(p.parent(), Some(Path::new(common::nsfs::NETNS_DIR)));
        }
    }
}

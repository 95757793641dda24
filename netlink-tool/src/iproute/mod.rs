//! iproute2's word language: `link`, `addr`, `route` and `netns` commands as `ip` takes
//! them (`link add v0 type veth peer v1`), parsed by hand into checked [`Command`]s.
//! The clap layer ([`crate::cli`]) hands over the words after the object.

mod addr;
mod link;
mod netns;
mod route;

pub use addr::addr;
pub use link::link;
pub use netns::netns;
pub use route::route;

use crate::error::Error;

pub(crate) fn usage(m: impl Into<String>) -> Error {
    Error::Usage(m.into())
}

/// A cursor over iproute2-style words.
struct W<'a> {
    words: &'a [String],
    i: usize,
    cmd: String,
}

impl<'a> W<'a> {
    fn new(obj: &str, words: &'a [String]) -> (Option<&'a str>, W<'a>) {
        let first = words.first().map(String::as_str);
        let cmd = format!("{obj} {}", first.unwrap_or(""));
        (
            first,
            W {
                words,
                i: 1,
                cmd: cmd.trim_end().to_owned(),
            },
        )
    }

    fn next(&mut self) -> Option<&'a str> {
        let w = self.words.get(self.i).map(String::as_str);
        self.i += 1;
        w
    }

    fn value(&mut self, key: &str) -> Result<&'a str, Error> {
        self.next()
            .ok_or_else(|| usage(format!("{}: '{key}' needs a value", self.cmd)))
    }

    fn unknown(&self, w: &str) -> Error {
        usage(format!(
            "{}: unexpected word '{}'",
            crate::parse::shown(&self.cmd),
            crate::parse::shown(w)
        ))
    }
}

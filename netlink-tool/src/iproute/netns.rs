//! `netns add|del|list`.

use crate::command::Command;
use crate::error::Error;

use super::{W, usage};

/// Parse the words after `netns`.
pub fn netns(words: &[String]) -> Result<Command, Error> {
    let (cmd, mut w) = W::new("netns", words);
    let one = |w: &mut W<'_>, c: &str| -> Result<String, Error> {
        let n = w
            .next()
            .ok_or_else(|| usage(format!("netns {c}: missing NAME")))?
            .to_owned();
        if let Some(x) = w.next() {
            return Err(w.unknown(x));
        }
        crate::ns::check_netns_name(&n)?;
        Ok(n)
    };
    match cmd {
        Some("add") => Ok(Command::NetnsAdd(one(&mut w, "add")?)),
        Some("del" | "delete") => Ok(Command::NetnsDel(one(&mut w, "del")?)),
        Some("list" | "show" | "ls") | None => match w.next() {
            None => Ok(Command::NetnsList),
            Some(x) => Err(w.unknown(x)),
        },
        Some(c) => Err(usage(format!(
            "netns: unknown command '{}' (add, del, list)",
            crate::parse::shown(c)
        ))),
    }
}

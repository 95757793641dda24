//! `addr add|del|show`.

use crate::command::Command;
use crate::error::Error;
use crate::parse;

use super::{W, usage};

/// Parse the words after `addr`.
pub fn addr(words: &[String]) -> Result<Command, Error> {
    let (cmd, mut w) = W::new("addr", words);
    match cmd {
        Some(c @ ("add" | "del" | "delete")) => {
            let (mut cidr, mut dev, mut nodad) = (None, None, false);
            while let Some(x) = w.next() {
                match x {
                    "dev" => dev = Some(parse::ifname(w.value(x)?)?),
                    "nodad" => nodad = true,
                    "local" => cidr = Some(parse::cidr(w.value(x)?)?),
                    x if cidr.is_none() => cidr = Some(parse::cidr(x)?),
                    x => return Err(w.unknown(x)),
                }
            }
            let cidr = cidr.ok_or_else(|| usage(format!("addr {c}: missing CIDR")))?;
            let dev = dev.ok_or_else(|| usage(format!("addr {c}: missing 'dev NAME'")))?;
            if c == "add" {
                Ok(Command::AddrAdd { cidr, dev, nodad })
            } else if nodad {
                Err(usage("addr del: 'nodad' goes with add"))
            } else {
                Ok(Command::AddrDel { cidr, dev })
            }
        }
        Some("flush") => {
            let mut dev = None;
            while let Some(x) = w.next() {
                match x {
                    "dev" => dev = Some(parse::ifname(w.value(x)?)?),
                    x if dev.is_none() => dev = Some(parse::ifname(x)?),
                    x => return Err(w.unknown(x)),
                }
            }
            Ok(Command::AddrFlush(dev.ok_or_else(|| {
                usage("addr flush: needs 'dev NAME' (as ip)")
            })?))
        }
        Some("show" | "list" | "ls") | None => {
            let mut dev = None;
            while let Some(x) = w.next() {
                match x {
                    "dev" => dev = Some(parse::ifname(w.value(x)?)?),
                    x if dev.is_none() => dev = Some(parse::ifname(x)?),
                    x => return Err(w.unknown(x)),
                }
            }
            Ok(Command::AddrShow(dev))
        }
        Some(c) => Err(usage(format!(
            "addr: unknown command '{}' (add, del, show, flush)",
            crate::parse::shown(c)
        ))),
    }
}

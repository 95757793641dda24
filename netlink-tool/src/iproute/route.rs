//! `route add|del|show`.

use crate::command::{Command, RouteFilter, RouteSpec};
use crate::error::Error;
use crate::parse::{self, Dest};

use super::{W, usage};

/// Parse the words after `route`.
pub fn route(words: &[String]) -> Result<Command, Error> {
    let (cmd, mut w) = W::new("route", words);
    match cmd {
        Some(c @ ("add" | "del" | "delete")) => {
            let (mut dest, mut via, mut dev) = (None, None, None);
            while let Some(x) = w.next() {
                match x {
                    "via" => via = Some(parse::ip(w.value(x)?)?),
                    "dev" => dev = Some(parse::ifname(w.value(x)?)?),
                    "to" => dest = Some(parse::dest(w.value(x)?)?),
                    x if dest.is_none() => dest = Some(parse::dest(x)?),
                    x => return Err(w.unknown(x)),
                }
            }
            let dest = dest.ok_or_else(|| usage(format!("route {c}: missing DEST")))?;
            // `route del DEST` alone deletes the route to DEST, as with ip.
            if c == "add" && via.is_none() && dev.is_none() {
                return Err(usage(format!("route {c}: needs 'via GW' or 'dev NAME'")));
            }
            if let (Dest::Prefix(d), Some(g)) = (dest, via)
                && d.is_v6() != g.is_ipv6()
            {
                return Err(usage(format!(
                    "route {c}: {d} and gateway {g} are of different families"
                )));
            }
            let spec = RouteSpec { dest, via, dev };
            Ok(if c == "add" {
                Command::RouteAdd(spec)
            } else {
                Command::RouteDel(spec)
            })
        }
        None => Ok(Command::RouteShow(RouteFilter::default())),
        Some(c @ ("show" | "list" | "ls" | "flush")) => {
            let mut f = RouteFilter::default();
            while let Some(x) = w.next() {
                match x {
                    "dev" | "oif" => f.dev = Some(parse::ifname(w.value(x)?)?),
                    "to" => f.dest = Some(parse::dest(w.value(x)?)?),
                    x if f.dest.is_none() => f.dest = Some(parse::dest(x)?),
                    x => return Err(w.unknown(x)),
                }
            }
            if c == "flush" {
                if f.dest.is_none() && f.dev.is_none() {
                    return Err(usage("route flush: needs DEST or 'dev NAME' (as ip)"));
                }
                Ok(Command::RouteFlush(f))
            } else {
                Ok(Command::RouteShow(f))
            }
        }
        Some(c) => Err(usage(format!(
            "route: unknown command '{}' (add, del, show, flush)",
            crate::parse::shown(c)
        ))),
    }
}

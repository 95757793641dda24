//! cgctl: one cgroup tool for v1, v2 and hybrid hosts. Linux only.
//!
//! [`run`] takes a [`cli::Config`] and does one command; it writes data to the `out`
//! it is given (main passes stdout), notices to `note` (stderr), and never exits. The
//! modules, in the order a `set` goes through them: [`layout`] (which hierarchies, where),
//! [`group`] (NAME → a directory per hierarchy), [`keys`] (named limits and raw keys →
//! version-neutral knobs), [`target`] (which directory holds a knob), [`plan`] (knobs →
//! ordered writes with undo; one module per controller), [`convert`] (the v1 ↔ v2
//! formulas), [`value`] (file formats), [`files`] (the files of each version and their
//! readers); the life cycle: [`create`], [`delete`], [`staging`] (the names that keep an
//! unfinished group from passing for a finished one); [`devices`] and [`filter`] (the
//! device allow-list, v2's as an eBPF program); and beside them [`get`], [`stat`]
//! (accounting, list, top), [`control`] (freeze, kill, move, exec), [`check`], [`sys`]
//! (every kernel call, traced).

pub mod check;
pub mod cli;
pub mod control;
pub mod convert;
pub mod create;
pub mod delete;
pub mod devices;
pub mod error;
pub mod files;
pub mod filter;
pub mod get;
pub mod group;
pub mod keys;
pub mod layout;
pub mod plan;
pub mod staging;
pub mod stat;
pub mod sys;
pub mod target;
#[cfg(test)]
mod test_support;
pub mod value;

use std::io::Write;
use std::thread;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;

use cli::Command;
pub use cli::Config;
pub use error::Error;
use group::Group;
use keys::{Knob, Request};
use layout::{Layout, Version};
use target::Target;

/// Map a write to stdout: a closed pipe ends quietly.
struct Out<'a> {
    w: &'a mut dyn Write,
    closed: bool,
}

impl Out<'_> {
    fn line(&mut self, s: &str) -> Result<(), Error> {
        if self.closed {
            return Ok(());
        }
        match writeln!(self.w, "{s}") {
            Ok(()) => Ok(()),
            Err(e) if common::exit::is_broken_pipe(&e) => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(Error::Output(e)),
        }
    }

    fn json<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let s = common::json::to_line(v).map_err(Error::Output)?;
        self.line(&s)
    }

    fn flush(&mut self) -> Result<(), Error> {
        match self.w.flush() {
            Err(e) if common::exit::is_broken_pipe(&e) => {
                self.closed = true;
                Ok(())
            }
            r => r.map_err(Error::Output),
        }
    }
}

/// An ordered JSON object (serde_json's own map is sorted).
struct Ordered(Vec<(String, Json)>);

impl serde::Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Parse the (key, value) pairs of `create`/`set` into requests, after checking every
/// one: nothing is written before all of them parse, and no memory limit no process
/// could live in passes without `force`.
fn requests(
    pairs: &[(String, String)],
    target: &Target<'_>,
    force: bool,
) -> Result<Vec<Request>, Error> {
    let reqs = pairs
        .iter()
        .map(|(k, v)| keys::parse(k, k, v, &|f| target::native_exists(f, target)))
        .collect::<Result<Vec<_>, _>>()?;
    keys::check_livable(&reqs, force)?;
    Ok(reqs)
}

/// The controllers the requests need on the unified hierarchy (v2 only).
fn v2_controllers(layout: &Layout, reqs: &[Request]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in reqs {
        let c: &'static str = match &r.knob {
            Knob::Memory(..)
            | Knob::MemorySoft(_)
            | Knob::Swap(_)
            | Knob::MemSw(_)
            | Knob::MemoryHigh(_)
            | Knob::MemoryMin(_) => "memory",
            Knob::Cpus(_) | Knob::Mems(_) => "cpuset",
            Knob::CpuLimit(_)
            | Knob::CpuBandwidth(..)
            | Knob::CpuWeight(_)
            | Knob::CpuShares(_)
            | Knob::CpuBurst(_)
            | Knob::CpuIdle(_) => "cpu",
            Knob::Pids(_) => "pids",
            Knob::IoWeight(_) | Knob::BlkioWeight(_) | Knob::BfqWeight(_) | Knob::IoMax(_) => "io",
            Knob::Frozen(_)
            | Knob::Native(..)
            | Knob::Devices(_)
            | Knob::AllowDevice(_)
            | Knob::Owner(..) => continue,
        };
        if layout.home(c).is_some_and(|h| h.version == Version::V2) && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Parse requests whose syntax does not depend on the group (before it exists).
fn requests_syntax(pairs: &[(String, String)], force: bool) -> Result<Vec<Request>, Error> {
    let reqs = pairs
        .iter()
        .map(|(k, v)| keys::parse(k, k, v, &|_| false))
        .collect::<Result<Vec<_>, _>>()?;
    keys::check_livable(&reqs, force)?;
    Ok(reqs)
}

/// Parse and check every line of a `--batch` (`text`), each after the global options in
/// `defaults`, before any runs: the lines to run with their numbers. A blank or comment
/// line is skipped; `exec` and a nested `--batch` are refused.
pub fn parse_batch(
    text: &str,
    defaults: &[std::ffi::OsString],
) -> Result<Vec<(usize, cli::Parsed)>, Error> {
    let at = |line: usize| {
        move |source: Error| Error::Batch {
            line,
            source: Box::new(source),
        }
    };
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = at(i + 1);
        let words = common::words::split(line).map_err(|e| at(Error::Usage(e.to_string())))?;
        if words.is_empty() {
            continue;
        }
        let mut args = defaults.to_vec();
        args.extend(words.into_iter().map(std::ffi::OsString::from));
        let parsed = cli::parse(&args).map_err(at)?;
        match &parsed {
            cli::Parsed::Run(cfg) if matches!(cfg.command, Command::Exec { .. }) => {
                return Err(at(Error::Usage("exec cannot run in a batch".to_owned())));
            }
            cli::Parsed::Run(cfg) => precheck(cfg).map_err(at)?,
            cli::Parsed::Print(_) => {}
            cli::Parsed::Batch(..) => {
                return Err(at(Error::Usage("--batch within a batch".to_owned())));
            }
        }
        lines.push((i + 1, parsed));
    }
    Ok(lines)
}

/// Run a `--batch`: each line of `text` is a cgctl command line (after the global
/// options in `defaults`), run in order; the first failure stops the batch with its line
/// number. `exec` cannot be part of a batch (it would replace cgctl).
pub fn run_batch(
    text: &str,
    defaults: &[std::ffi::OsString],
    out: &mut dyn Write,
    note: &dyn Fn(&str),
) -> Result<i32, Error> {
    let at = |line: usize| {
        move |source: Error| Error::Batch {
            line,
            source: Box::new(source),
        }
    };
    // Between lines, SIGINT, SIGTERM and SIGHUP stop the batch (a line that changes
    // something rolls itself back).
    sys::catch_interrupts();
    // Every line is parsed and checked before the first one runs.
    let lines = parse_batch(text, defaults)?;
    for (n, parsed) in lines {
        let cfg = match parsed {
            cli::Parsed::Run(cfg) => cfg,
            cli::Parsed::Print(text) => {
                out.write_all(text.as_bytes()).map_err(Error::Output)?;
                continue;
            }
            cli::Parsed::Batch(..) => unreachable!("refused above"),
        };
        if let Some(sig) = sys::interrupted() {
            return Err(at(n)(Error::Interrupted(sig)));
        }
        let code = run(&cfg, out, note).map_err(at(n))?;
        if code != 0 {
            return Ok(code);
        }
    }
    Ok(0)
}

/// True for the commands that change something: SIGINT, SIGTERM and SIGHUP make them
/// roll back and exit 128+N instead of dying half-way.
fn changes(c: &Command) -> bool {
    matches!(
        c,
        Command::Create { .. }
            | Command::Set { .. }
            | Command::Delete { .. }
            | Command::Exec { .. }
            | Command::Move { .. }
            | Command::Freeze { .. }
            | Command::Kill { .. }
    )
}

/// Check what a command line can be checked for without the host: NAMEs, and the
/// values of `create` and `set` (keys that may name a group's own file are left for
/// later). A batch checks every line so before it runs the first.
pub fn precheck(cfg: &Config) -> Result<(), Error> {
    let name = match &cfg.command {
        Command::Create {
            name,
            limits,
            force,
        }
        | Command::Set {
            name,
            limits,
            force,
        } => {
            let reqs = limits
                .iter()
                .map(|(k, v)| keys::parse(k, k, v, &|_| true))
                .collect::<Result<Vec<_>, _>>()?;
            keys::check_livable(&reqs, *force)?;
            Some(name)
        }
        Command::Get { name, .. }
        | Command::Exec { name, .. }
        | Command::Move { name, .. }
        | Command::Stat { name }
        | Command::Freeze { name, .. }
        | Command::Kill { name, .. }
        | Command::Delete { name, .. } => Some(name),
        Command::List { name } | Command::Top { name, .. } => name.as_ref(),
        Command::Check => None,
    };
    if let Some(n) = name {
        group::components(n)?;
    }
    Ok(())
}

/// Do the command. Returns the exit status (0, or 1 for `check` with something missing).
/// A command that changes something catches SIGINT, SIGTERM and SIGHUP: it stops at its
/// next step, takes back what it made, and fails with [`Error::Interrupted`] (128+N).
pub fn run(cfg: &Config, out: &mut dyn Write, note: &dyn Fn(&str)) -> Result<i32, Error> {
    if changes(&cfg.command) {
        sys::catch_interrupts();
    }
    match (run_command(cfg, out, note), sys::interrupted()) {
        // A kernel call the signal cut short (EINTR) failed the command: the signal is
        // the cause.
        (Err(e), Some(sig)) if !matches!(e, Error::Interrupted(_)) => Err(Error::Interrupted(sig)),
        (r, _) => r,
    }
}

fn run_command(cfg: &Config, out: &mut dyn Write, note: &dyn Fn(&str)) -> Result<i32, Error> {
    // What the command line alone can tell is refused first, whatever the host says.
    precheck(cfg)?;
    let mut out = Out {
        w: out,
        closed: false,
    };
    if cfg.command == Command::Check {
        let layout = Layout::detect().ok().map(|mut l| {
            l.restrict(&cfg.hierarchies);
            l
        });
        let items = check::run(layout.as_ref());
        for i in &items {
            if cfg.json {
                out.json(i)?;
            } else {
                out.line(&check::line(i))?;
            }
        }
        return Ok(i32::from(items.iter().any(|i| !i.ok)));
    }
    let mut layout = Layout::detect()?;
    layout.restrict(&cfg.hierarchies);
    if layout.hierarchies.is_empty() {
        return Err(Error::Usage(format!(
            "--hierarchies {}: no such hierarchy is mounted",
            cfg.hierarchies.join(",")
        )));
    }
    let resolve = |name: &str| Group::resolve(&layout, &cfg.parent, name);
    match &cfg.command {
        Command::Create {
            name,
            limits,
            force,
        } => {
            let group = resolve(name)?;
            let target = Target {
                layout: &layout,
                group: &group,
                check_devices: true,
            };
            // Every value must parse, and fit what the parent allows, before anything is
            // made or enabled.
            let syntax = requests_syntax(limits, *force)?;
            plan::check(&syntax, &target)?;
            let creation =
                create::create(&layout, &group, &v2_controllers(&layout, &syntax), note)?;
            // The limits go to the group before it has its name (see `create`).
            let staged = Target {
                layout: &layout,
                group: creation.staged(),
                check_devices: true,
            };
            let reqs = requests(limits, &staged, *force)?;
            let actions = plan::plan(&reqs, &staged)?;
            plan::apply(&actions, &group.name)?;
            creation.publish()?;
        }
        Command::Set {
            name,
            limits,
            force,
        } => {
            let group = resolve(name)?;
            group.require(&layout)?;
            let target = Target {
                layout: &layout,
                group: &group,
                check_devices: true,
            };
            let reqs = requests(limits, &target, *force)?;
            // A value this group cannot take is refused before v2 controllers are
            // enabled for it (planning fails otherwise only on files not there yet).
            if let Err(e) = plan::plan(&reqs, &target)
                && e.exit_code() == common::exit::USAGE
            {
                return Err(e);
            }
            for (i, h) in layout.hierarchies.iter().enumerate() {
                if h.version == Version::V2
                    && let Some(d) = group.dir(i)
                {
                    create::enable_controllers(&h.mount, d, &v2_controllers(&layout, &reqs), note)?;
                }
            }
            let actions = plan::plan(&reqs, &target)?;
            plan::apply(&actions, &group.name)?;
        }
        Command::Get { name, keys: wanted } => {
            let group = resolve(name)?;
            if group.existing().is_empty() {
                return Err(Error::NoSuchGroup(group.name));
            }
            let target = Target {
                layout: &layout,
                group: &group,
                check_devices: false,
            };
            if wanted.is_empty() {
                let mut obj = Vec::new();
                for def in keys::NAMED {
                    match get::get_key(def.key, &target) {
                        Ok((lines, json)) => {
                            if !cfg.json {
                                for l in &lines {
                                    out.line(&format!("{}={l}", def.key))?;
                                }
                            }
                            obj.push((def.key.to_owned(), json));
                        }
                        Err(
                            Error::Unavailable { .. }
                            | Error::Read { .. }
                            | Error::Incomplete { .. },
                        ) => {
                            obj.push((def.key.to_owned(), Json::Null));
                        }
                        Err(e) => return Err(e),
                    }
                }
                if cfg.json {
                    out.json(&Ordered(obj))?;
                }
            } else {
                let mut obj = Vec::new();
                let mut text = Vec::new();
                for k in wanted {
                    let (lines, json) = get::get_key(k, &target)?;
                    text.push((k, lines));
                    obj.push((k.clone(), json));
                }
                if cfg.json {
                    out.json(&Ordered(obj))?;
                } else if text.len() == 1 {
                    for l in &text[0].1 {
                        out.line(l)?;
                    }
                } else {
                    for (k, lines) in &text {
                        for l in lines {
                            out.line(&format!("{k}={l}"))?;
                        }
                    }
                }
            }
        }
        Command::Exec {
            name,
            create,
            fork,
            argv,
        } => {
            let group = resolve(name)?;
            out.flush()?;
            return control::exec(&layout, &group, *create, *fork, argv, note);
        }
        Command::Move { name, pids } => {
            let group = resolve(name)?;
            control::move_pids(&layout, &group, pids)?;
        }
        Command::Stat { name } => {
            let group = resolve(name)?;
            group.require(&layout)?;
            let homes = stat::Homes::of(&layout, &group);
            let rows = stat::collect(&homes, &group.name, false);
            if let Some(s) = rows.first() {
                if cfg.json {
                    out.json(s)?;
                } else {
                    for l in stat::stat_lines(s) {
                        out.line(&l)?;
                    }
                }
            }
        }
        Command::List { name } => {
            let rows = tree(&layout, &cfg.parent, name.as_deref())?;
            if !cfg.json {
                out.line(stat::LIST_HEADER)?;
            }
            for s in &rows {
                if cfg.json {
                    out.json(s)?;
                } else {
                    out.line(&stat::list_row(s))?;
                }
            }
        }
        Command::Top {
            name,
            interval,
            count,
        } => {
            if !cfg.json {
                out.line(stat::TOP_HEADER)?;
            }
            let mut prev = tree(&layout, &cfg.parent, name.as_deref())?;
            let mut t0 = Instant::now();
            let mut n = 0u64;
            while count.is_none_or(|c| n < c) && !out.closed {
                thread::sleep(*interval);
                let rows = tree(&layout, &cfg.parent, name.as_deref())?;
                let dt = t0.elapsed().as_secs_f64();
                t0 = Instant::now();
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                let clock = clock(now);
                for s in &rows {
                    let before = prev.iter().find(|p| p.name == s.name).unwrap_or(s);
                    let r = stat::rate(now, dt, before, s);
                    if cfg.json {
                        out.json(&r)?;
                    } else {
                        out.line(&stat::top_row(&r, &clock))?;
                    }
                }
                out.flush()?;
                prev = rows;
                n += 1;
            }
        }
        Command::Freeze { name, on, timeout } => {
            let group = resolve(name)?;
            group.require(&layout)?;
            let target = Target {
                layout: &layout,
                group: &group,
                check_devices: false,
            };
            control::freeze(&target, *on, *timeout)?;
        }
        Command::Kill {
            name,
            signal,
            timeout,
        } => {
            let group = resolve(name)?;
            if group.existing().is_empty() {
                return Err(Error::NoSuchGroup(group.name));
            }
            let target = Target {
                layout: &layout,
                group: &group,
                check_devices: false,
            };
            control::kill(&target, *signal, *timeout)?;
        }
        Command::Delete {
            name,
            kill,
            timeout,
        } => {
            let group = resolve(name)?;
            delete::delete(&layout, &group, kill.then_some(*timeout), note)?;
        }
        Command::Check => unreachable!(),
    }
    out.flush()?;
    Ok(0)
}

/// The rows of `list`/`top`: NAME and its descendants, or every group below the parent.
fn tree(
    layout: &Layout,
    parent: &group::Parent,
    name: Option<&str>,
) -> Result<Vec<stat::Stat>, Error> {
    match name {
        Some(n) => {
            let group = Group::resolve(layout, parent, n)?;
            if group.existing().is_empty() {
                return Err(Error::NoSuchGroup(group.name));
            }
            Ok(stat::collect(
                &stat::Homes::of(layout, &group),
                &group.name,
                true,
            ))
        }
        None => {
            let dirs = group::parent_dirs(layout, parent);
            // A parent that is not there is an error, not an empty list.
            let missing: Vec<String> = dirs
                .iter()
                .zip(&layout.hierarchies)
                .filter(|(d, _)| d.as_ref().is_some_and(|d| !sys::exists(d)))
                .map(|(_, h)| h.label())
                .collect();
            if !missing.is_empty() {
                return Err(Error::NoParentGroup {
                    parent: match parent {
                        group::Parent::Root => "/".to_owned(),
                        group::Parent::Own => "self".to_owned(),
                        group::Parent::Path(p) => p.clone(),
                    },
                    missing,
                });
            }
            let top = Group {
                name: String::new(),
                parents: dirs.clone(),
                dirs,
            };
            Ok(stat::collect(&stat::Homes::of(layout, &top), "", true))
        }
    }
}

/// `HH:MM:SS` (UTC) of a time in seconds since the epoch.
fn clock(t: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = t as u64 % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

//! A tool's command line as its binary describes it (`TOOL --toolkit-describe-clap`,
//! `common::describe`): the model the man pages are rendered from, and the clap
//! `Command` rebuilt from it for clap_complete.
//!
//! xtask does not link the tools' libraries: it would build their dependencies (OpenPGP,
//! HTTP, libnftnl) before any chore could start, and the pages could then describe a
//! definition other than the binary's.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// One command or subcommand.
#[derive(Debug, Clone, Deserialize)]
pub struct Cmd {
    pub name: String,
    pub version: Option<String>,
    pub about: Option<String>,
    pub long_about: Option<String>,
    pub after_help: Option<String>,
    pub after_long_help: Option<String>,
    /// `override_usage`, when the tool sets one.
    pub usage: Option<String>,
    pub aliases: Vec<String>,
    pub hidden: bool,
    pub subcommand_required: bool,
    pub args_conflict_with_subcommands: bool,
    pub args: Vec<Arg>,
    pub subcommands: Vec<Cmd>,
}

/// One argument: an option, a flag or a positional.
#[derive(Debug, Clone, Deserialize)]
pub struct Arg {
    pub id: String,
    pub short: Option<String>,
    pub long: Option<String>,
    pub short_aliases: Vec<String>,
    pub aliases: Vec<String>,
    pub help: Option<String>,
    pub long_help: Option<String>,
    pub value_names: Vec<String>,
    pub num_args: Option<(usize, Option<usize>)>,
    pub action: String,
    pub takes_value: bool,
    pub possible_values: Vec<PossibleValue>,
    pub default_values: Vec<String>,
    pub env: Option<String>,
    pub hidden: bool,
    pub required: bool,
    pub positional: bool,
    pub index: Option<usize>,
    pub value_hint: String,
    pub global: bool,
    pub last: bool,
    pub trailing_var_arg: bool,
    pub allow_hyphen_values: bool,
    pub hide_possible_values: bool,
    pub hide_default_value: bool,
    pub value_delimiter: Option<String>,
    pub require_equals: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PossibleValue {
    pub name: String,
    pub help: Option<String>,
    pub hidden: bool,
}

/// The description printed by the binary at `path`, with the global options that clap
/// copies into every subcommand kept only where they are defined.
pub fn load(path: &Path) -> Result<Cmd> {
    let out = Command::new(path)
        .arg("--toolkit-describe-clap")
        .output()
        .with_context(|| format!("cannot run {}", path.display()))?;
    if !out.status.success() {
        bail!(
            "{} --toolkit-describe-clap failed ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut cmd: Cmd = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{} --toolkit-describe-clap printed no description (built before it had one?)",
            path.display()
        )
    })?;
    strip_propagated(&mut cmd, &[]);
    Ok(cmd)
}

fn strip_propagated(cmd: &mut Cmd, inherited: &[String]) {
    cmd.args
        .retain(|a| !(a.global && inherited.contains(&a.id)));
    let mut globals = inherited.to_vec();
    globals.extend(cmd.args.iter().filter(|a| a.global).map(|a| a.id.clone()));
    for sub in &mut cmd.subcommands {
        strip_propagated(sub, &globals);
    }
}

impl Cmd {
    /// The visible subcommands (clap's `help` subcommand included when the tool has it).
    pub fn visible_subcommands(&self) -> impl Iterator<Item = &Cmd> {
        self.subcommands.iter().filter(|c| !c.hidden)
    }

    /// The visible arguments.
    pub fn visible_args(&self) -> impl Iterator<Item = &Arg> {
        self.args.iter().filter(|a| !a.hidden)
    }

    /// The clap command again, for clap_complete. Help and version flags are given as the
    /// binary has them (clap's own are not added a second time).
    pub fn to_clap(&self) -> clap::Command {
        let mut c = clap::Command::new(leak(&self.name))
            .disable_help_flag(true)
            .disable_version_flag(true)
            .disable_help_subcommand(true)
            .hide(self.hidden)
            .subcommand_required(self.subcommand_required)
            .args_conflicts_with_subcommands(self.args_conflict_with_subcommands);
        if let Some(v) = &self.version {
            c = c.version(leak(v));
        }
        if let Some(a) = &self.about {
            c = c.about(leak(a));
        }
        for alias in &self.aliases {
            c = c.visible_alias(leak(alias));
        }
        for a in &self.args {
            c = c.arg(a.to_clap());
        }
        for s in &self.subcommands {
            c = c.subcommand(s.to_clap());
        }
        c
    }
}

impl Arg {
    fn to_clap(&self) -> clap::Arg {
        use clap::ArgAction;
        let mut a = clap::Arg::new(leak(&self.id))
            .action(match self.action.as_str() {
                "Set" => ArgAction::Set,
                "Append" => ArgAction::Append,
                "SetTrue" => ArgAction::SetTrue,
                "SetFalse" => ArgAction::SetFalse,
                "Count" => ArgAction::Count,
                "Help" => ArgAction::Help,
                "HelpShort" => ArgAction::HelpShort,
                "HelpLong" => ArgAction::HelpLong,
                "Version" => ArgAction::Version,
                _ if self.takes_value => ArgAction::Append,
                _ => ArgAction::SetTrue,
            })
            .hide(self.hidden)
            .required(self.required)
            .global(self.global)
            .last(self.last)
            .trailing_var_arg(self.trailing_var_arg)
            .allow_hyphen_values(self.allow_hyphen_values)
            .value_hint(hint(&self.value_hint));
        if let Some(s) = self.short.as_deref().and_then(|s| s.chars().next()) {
            a = a.short(s);
        }
        for s in self.short_aliases.iter().filter_map(|s| s.chars().next()) {
            a = a.visible_short_alias(s);
        }
        if let Some(l) = &self.long {
            a = a.long(leak(l));
        }
        for l in &self.aliases {
            a = a.visible_alias(leak(l));
        }
        if let Some(h) = &self.help {
            a = a.help(leak(h));
        }
        if self.takes_value {
            if !self.value_names.is_empty() {
                a = a.value_names(self.value_names.iter().map(|v| leak(v)));
            }
            if let Some((min, max)) = self.num_args {
                a = match max {
                    Some(max) => a.num_args(min..=max),
                    None => a.num_args(min..),
                };
            }
            if let Some(d) = self
                .value_delimiter
                .as_deref()
                .and_then(|d| d.chars().next())
            {
                a = a.value_delimiter(d);
            }
        }
        if self.positional
            && let Some(i) = self.index
        {
            a = a.index(i);
        }
        if !self.possible_values.is_empty() {
            let values: Vec<clap::builder::PossibleValue> = self
                .possible_values
                .iter()
                .map(|p| {
                    let mut v = clap::builder::PossibleValue::new(leak(&p.name)).hide(p.hidden);
                    if let Some(h) = &p.help {
                        v = v.help(leak(h));
                    }
                    v
                })
                .collect();
            a = a.value_parser(clap::builder::PossibleValuesParser::new(values));
        }
        a
    }
}

fn hint(h: &str) -> clap::ValueHint {
    use clap::ValueHint;
    match h {
        "AnyPath" => ValueHint::AnyPath,
        "FilePath" => ValueHint::FilePath,
        "DirPath" => ValueHint::DirPath,
        "ExecutablePath" => ValueHint::ExecutablePath,
        "CommandName" => ValueHint::CommandName,
        "CommandString" => ValueHint::CommandString,
        "CommandWithArguments" => ValueHint::CommandWithArguments,
        "Username" => ValueHint::Username,
        "Hostname" => ValueHint::Hostname,
        "Url" => ValueHint::Url,
        "EmailAddress" => ValueHint::EmailAddress,
        _ => ValueHint::Unknown,
    }
}

/// xtask is a short-lived process: the rebuilt commands' strings live until it ends.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

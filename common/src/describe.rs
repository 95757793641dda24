//! A tool's clap definition as JSON, for the man pages and shell completions that
//! `cargo xtask man`, `completions` and `deb` make from the built binaries.
//!
//! `TOOL --toolkit-describe-clap` (that one argument, nothing else) prints the command
//! tree as one JSON object and exits 0. Reading the definition from the binary means
//! xtask does not link the tools' libraries (nor build their dependencies: OpenPGP,
//! HTTP, libnftnl), and the pages describe the very binaries that are shipped.
//!
//! Every tool's `main` calls [`serve`] first; it costs one look at `argv` otherwise.

use std::ffi::OsStr;
use std::io::Write;

use clap::{ArgAction, Command, ValueHint};
use serde_json::{Map, Value, json};

/// The argument that asks for the description.
pub const FLAG: &str = "--toolkit-describe-clap";

/// When the command line is exactly `TOOL --toolkit-describe-clap`, print `command()`'s
/// description on stdout and exit; otherwise return at once.
pub fn serve(command: fn() -> Command) {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(FLAG)) || args.next().is_some() {
        return;
    }
    let text = serde_json::to_string(&describe(command())).expect("JSON of strings");
    let mut out = std::io::stdout().lock();
    let code = match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(_) => 1,
    };
    std::process::exit(code)
}

/// The description of `cmd` and its subcommands, after clap has built it (so the
/// `--help` and `--version` flags it adds are there).
pub fn describe(mut cmd: Command) -> Value {
    cmd.build();
    command(&cmd)
}

fn text(s: Option<&clap::builder::StyledStr>) -> Value {
    s.map_or(Value::Null, |s| Value::String(s.to_string()))
}

fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::String(s.to_owned()))
}

fn command(cmd: &Command) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), cmd.get_name().into());
    m.insert("version".into(), opt_str(cmd.get_version()));
    m.insert("long_version".into(), opt_str(cmd.get_long_version()));
    m.insert("about".into(), text(cmd.get_about()));
    m.insert("long_about".into(), text(cmd.get_long_about()));
    m.insert("before_help".into(), text(cmd.get_before_help()));
    m.insert("before_long_help".into(), text(cmd.get_before_long_help()));
    m.insert("after_help".into(), text(cmd.get_after_help()));
    m.insert("after_long_help".into(), text(cmd.get_after_long_help()));
    m.insert("usage".into(), text(cmd.get_overridden_usage()));
    m.insert(
        "aliases".into(),
        cmd.get_visible_aliases().collect::<Vec<_>>().into(),
    );
    m.insert("hidden".into(), cmd.is_hide_set().into());
    m.insert(
        "subcommand_required".into(),
        cmd.is_subcommand_required_set().into(),
    );
    m.insert(
        "args_conflict_with_subcommands".into(),
        cmd.is_args_conflicts_with_subcommands_set().into(),
    );
    m.insert(
        "subcommand_value_name".into(),
        opt_str(cmd.get_subcommand_value_name()),
    );
    m.insert(
        "args".into(),
        Value::Array(cmd.get_arguments().map(arg).collect()),
    );
    m.insert(
        "subcommands".into(),
        Value::Array(cmd.get_subcommands().map(command).collect()),
    );
    Value::Object(m)
}

fn action(a: &ArgAction) -> &'static str {
    match a {
        ArgAction::Set => "Set",
        ArgAction::Append => "Append",
        ArgAction::SetTrue => "SetTrue",
        ArgAction::SetFalse => "SetFalse",
        ArgAction::Count => "Count",
        ArgAction::Help => "Help",
        ArgAction::HelpShort => "HelpShort",
        ArgAction::HelpLong => "HelpLong",
        ArgAction::Version => "Version",
        _ => "Other",
    }
}

fn hint(h: ValueHint) -> &'static str {
    match h {
        ValueHint::AnyPath => "AnyPath",
        ValueHint::FilePath => "FilePath",
        ValueHint::DirPath => "DirPath",
        ValueHint::ExecutablePath => "ExecutablePath",
        ValueHint::CommandName => "CommandName",
        ValueHint::CommandString => "CommandString",
        ValueHint::CommandWithArguments => "CommandWithArguments",
        ValueHint::Username => "Username",
        ValueHint::Hostname => "Hostname",
        ValueHint::Url => "Url",
        ValueHint::EmailAddress => "EmailAddress",
        ValueHint::Other => "Other",
        _ => "Unknown",
    }
}

fn arg(a: &clap::Arg) -> Value {
    let num = a.get_num_args().map_or(Value::Null, |r| {
        let max = r.max_values();
        json!([
            r.min_values(),
            if max == usize::MAX {
                Value::Null
            } else {
                max.into()
            }
        ])
    });
    let possible: Vec<Value> = a
        .get_possible_values()
        .iter()
        .map(|p| json!({ "name": p.get_name(), "help": text(p.get_help()), "hidden": p.is_hide_set() }))
        .collect();
    json!({
        "id": a.get_id().as_str(),
        "short": a.get_short().map(String::from),
        "long": a.get_long(),
        "short_aliases": a.get_visible_short_aliases().unwrap_or_default().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "aliases": a.get_visible_aliases().unwrap_or_default(),
        "help": text(a.get_help()),
        "long_help": text(a.get_long_help()),
        "value_names": a.get_value_names().unwrap_or_default().iter().map(clap::builder::Str::as_str).collect::<Vec<_>>(),
        "num_args": num,
        "action": action(a.get_action()),
        "takes_value": a.get_action().takes_values(),
        "possible_values": possible,
        "default_values": a.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "env": a.get_env().map(|e| e.to_string_lossy().into_owned()),
        "hidden": a.is_hide_set(),
        "required": a.is_required_set(),
        "positional": a.is_positional(),
        "index": a.get_index(),
        "value_hint": hint(a.get_value_hint()),
        "global": a.is_global_set(),
        "heading": a.get_help_heading(),
        "last": a.is_last_set(),
        "trailing_var_arg": a.is_trailing_var_arg_set(),
        "allow_hyphen_values": a.is_allow_hyphen_values_set(),
        "hide_possible_values": a.is_hide_possible_values_set(),
        "hide_default_value": a.is_hide_default_value_set(),
        "value_delimiter": a.get_value_delimiter().map(String::from),
        "require_equals": a.is_require_equals_set(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    fn sample() -> Command {
        Command::new("t")
            .version("1.2.3 (x 1 compatible)")
            .about("A test")
            .after_help("Words:\n  a b c")
            .arg(
                Arg::new("verbose")
                    .short('v')
                    .long("verbose")
                    .action(ArgAction::Count)
                    .global(true)
                    .help("More"),
            )
            .subcommand(
                Command::new("create")
                    .visible_alias("mk")
                    .about("Make one")
                    .arg(Arg::new("name").required(true).value_name("NAME"))
                    .arg(
                        Arg::new("memory")
                            .long("memory")
                            .value_name("SIZE")
                            .env("T_MEMORY")
                            .help("Limit"),
                    )
                    .arg(
                        Arg::new("mode")
                            .long("mode")
                            .value_parser(["a", "b"])
                            .default_value("a"),
                    ),
            )
    }

    #[test]
    fn the_tree_with_what_clap_adds() {
        let d = describe(sample());
        assert_eq!(d["name"], "t");
        assert_eq!(d["version"], "1.2.3 (x 1 compatible)");
        assert_eq!(d["after_help"], "Words:\n  a b c");
        let longs: Vec<&str> = d["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["long"].as_str())
            .collect();
        // --help and --version are clap's own, there after build().
        assert_eq!(longs, ["verbose", "help", "version"]);
        let create = &d["subcommands"][0];
        assert_eq!(create["name"], "create");
        assert_eq!(create["aliases"], json!(["mk"]));
        let args = create["args"].as_array().unwrap();
        let name = args.iter().find(|a| a["id"] == "name").unwrap();
        assert_eq!(name["positional"], true);
        assert_eq!(name["required"], true);
        assert_eq!(name["value_names"], json!(["NAME"]));
        let memory = args.iter().find(|a| a["id"] == "memory").unwrap();
        assert_eq!(memory["env"], "T_MEMORY");
        assert_eq!(memory["takes_value"], true);
        let mode = args.iter().find(|a| a["id"] == "mode").unwrap();
        assert_eq!(mode["possible_values"][1]["name"], "b");
        assert_eq!(mode["default_values"], json!(["a"]));
        // The global -v is propagated to the subcommand.
        assert!(
            args.iter()
                .any(|a| a["id"] == "verbose" && a["global"] == true)
        );
    }
}

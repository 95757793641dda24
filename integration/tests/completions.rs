//! Shell completions, as `cargo xtask completions` makes them: the tools' from their clap
//! definitions (bash, zsh, fish), the manager's by hand (bash). The bash ones are driven
//! as bash drives them: the function `complete -p` names is called with COMP_WORDS,
//! COMP_CWORD and the command, current and previous words, and COMPREPLY is read back.

use std::path::{Path, PathBuf};
use std::process::Command;

use integration::{bin, cmd, run};

const TOOLS: &[&str] = &[
    "chroot-rs",
    "debootstrap-rs",
    "nsenter-rs",
    "unshare-rs",
    "cgctl",
    "netlink-tool",
    "ptyhold",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

thread_local! {
    /// The completions, made once per test (each runs on a thread of its own) into a
    /// temporary directory removed when the test's thread ends.
    static OUT: tempfile::TempDir = {
        let dir = integration::tempdir();
        let bins = bin("cgctl").parent().unwrap().to_path_buf();
        run(cmd(bin("xtask"))
            .args(["completions", "--bin-dir"])
            .arg(&bins)
            .arg("--out")
            .arg(dir.path()))
        .ok();
        dir
    };
}

fn out() -> PathBuf {
    OUT.with(|d| d.path().to_path_buf())
}

/// What bash offers for `words` (the last one being completed) once the completion file
/// of `words[0]` is sourced, with `env` set; sorted.
fn complete(words: &[&str], env: &[(&str, &Path)]) -> Vec<String> {
    let script = r#"
        source "$1/bash/$2" || exit 3
        spec=$(complete -p "$2") || exit 4
        fn=${spec##*-F }
        fn=${fn%% *}
        shift 2
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        prev=
        [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
        "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "$prev"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let mut c = Command::new("bash");
    c.args(["--norc", "--noprofile", "-c", script, "bash"])
        .arg(out())
        .arg(words[0])
        .args(words);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = run(&mut c);
    o.ok();
    let mut v: Vec<String> = o
        .stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[test]
fn bash_completes_subcommands_and_their_options() {
    // The two the issue names.
    assert_eq!(complete(&["cgctl", "cr"], &[]), ["create"]);
    assert_eq!(
        complete(&["netlink-tool", "connect", "--ty"], &[]),
        ["--type"]
    );
    // Options of a subcommand, not of another.
    let create = complete(&["cgctl", "create", "--mem"], &[]);
    assert_eq!(create, ["--memory", "--memory-soft", "--mems"]);
    assert_eq!(
        complete(&["cgctl", "get", "--mem"], &[]),
        Vec::<String>::new()
    );
    assert_eq!(complete(&["netlink-tool", "nat", "m"], &[]), ["masquerade"]);
    assert_eq!(
        complete(&["netlink-tool", "nat", "forward", "--pr"], &[]),
        ["--proto"]
    );
    assert_eq!(complete(&["ptyhold", "attach", "--fo"], &[]), ["--force"]);
    // The tools without subcommands.
    assert_eq!(complete(&["chroot-rs", "--piv"], &[]), ["--pivot"]);
    assert_eq!(complete(&["debootstrap-rs", "--vari"], &[]), ["--variant"]);
    assert_eq!(complete(&["nsenter-rs", "--contai"], &[]), ["--container"]);
    assert!(complete(&["unshare-rs", "--map-"], &[]).contains(&"--map-root-user".to_owned()));
    // Possible values clap knows.
    assert_eq!(
        complete(&["unshare-rs", "--propagation", "sh"], &[]),
        ["shared"]
    );
}

#[test]
fn every_tool_has_bash_zsh_and_fish_completions_with_its_subcommands() {
    for tool in TOOLS {
        let bash = std::fs::read_to_string(out().join("bash").join(tool)).unwrap();
        let zsh = std::fs::read_to_string(out().join("zsh").join(format!("_{tool}"))).unwrap();
        let fish =
            std::fs::read_to_string(out().join("fish").join(format!("{tool}.fish"))).unwrap();
        assert!(
            bash.contains(&format!("complete -F _{}", tool.replace('-', "__"))),
            "{tool}: {bash}"
        );
        assert!(
            zsh.starts_with(&format!("#compdef {tool}")),
            "{tool}: {zsh}"
        );
        assert!(
            fish.contains(&format!("complete -c {tool}")),
            "{tool}: {fish}"
        );
        // Every subcommand the binary knows is offered by each shell.
        let d: serde_json::Value =
            serde_json::from_str(&run(cmd(bin(tool)).arg("--toolkit-describe-clap")).stdout)
                .unwrap();
        for sub in d["subcommands"].as_array().unwrap() {
            let name = sub["name"].as_str().unwrap();
            assert!(bash.contains(name), "{tool} bash: {name}");
            assert!(
                zsh.contains(&format!("'{name}:")) || zsh.contains(&format!("({name})")),
                "{tool} zsh: {name}"
            );
            assert!(
                fish.contains(&format!("-a \"{name}\"")) || fish.contains(&format!("\"{name}\"")),
                "{tool} fish: {name}"
            );
        }
        // The shells, where they are installed, read them.
        for (shell, args, file) in [
            ("bash", vec!["-n"], out().join("bash").join(tool)),
            (
                "zsh",
                vec!["-n"],
                out().join("zsh").join(format!("_{tool}")),
            ),
            (
                "fish",
                vec!["--no-execute"],
                out().join("fish").join(format!("{tool}.fish")),
            ),
        ] {
            if Command::new(shell).arg("-c").arg("true").output().is_err() {
                eprintln!(
                    "{shell} is not installed: its syntax check of {tool}'s completion is skipped"
                );
                continue;
            }
            let o = run(Command::new(shell).args(&args).arg(&file));
            assert_eq!(o.code, 0, "{shell} refuses {}: {o}", file.display());
        }
    }
}

/// A $CTN_ROOT with two containers and a template.
fn ctn_root() -> tempfile::TempDir {
    let d = integration::tempdir();
    for c in ["web1", "web2", "db"] {
        std::fs::create_dir(d.path().join(c)).unwrap();
        std::fs::write(d.path().join(c).join("config"), "").unwrap();
    }
    // A directory without a config is not a container.
    std::fs::create_dir(d.path().join("stray")).unwrap();
    std::fs::create_dir(d.path().join("templates")).unwrap();
    std::fs::write(d.path().join("templates/mybase.tar.zst"), "").unwrap();
    d
}

#[test]
fn bash_completes_the_managers_commands_and_containers() {
    let d = ctn_root();
    let env = [("CTN_ROOT", d.path())];
    assert_eq!(complete(&["ctn", "st"], &env), ["start", "stat", "stop"]);
    assert_eq!(complete(&["ctn", "start", "w"], &env), ["web1", "web2"]);
    assert_eq!(
        complete(&["ctn", "-x", "stop", ""], &env),
        ["db", "web1", "web2"]
    );
    assert_eq!(
        complete(&["ctn", "destroy", "db", "--"], &env),
        ["--force", "--snapshots"]
    );
    assert!(complete(&["ctn", "create", "new", "-t", ""], &env).contains(&"mybase".to_owned()));
    assert_eq!(
        complete(&["ctn", "set", "db", "--cpu"], &env),
        ["--cpulimit", "--cpus", "--cpuunits"]
    );
    assert_eq!(
        complete(&["lxc-start", "-n", ""], &env),
        ["db", "web1", "web2"]
    );
    assert_eq!(
        complete(&["lxc-attach", "-n", "db", "--cl"], &env),
        ["--clear-env"]
    );
    assert_eq!(complete(&["lxc-stop", "--na"], &env), ["--name"]);
    assert_eq!(complete(&["vzctl", "ex"], &env), ["exec", "exec2"]);
    assert_eq!(complete(&["vzctl", "enter", "w"], &env), ["web1", "web2"]);
    assert_eq!(complete(&["vzctl", "set", "db", "--sa"], &env), ["--save"]);
    assert_eq!(complete(&["vzlist", "-"], &env), ["--all", "-a"]);
    // Every command of the package has its file (a link to ctn's), which registers it.
    for name in [
        "vzctl",
        "vzlist",
        "lxc-create",
        "lxc-start",
        "lxc-console",
        "lxc-info",
        "lxc-ls",
        "lxc-attach",
        "lxc-stop",
        "lxc-destroy",
        "lxc-cgroup",
        "lxc-freeze",
        "lxc-unfreeze",
        "lxc-snapshot",
        "lxc-copy",
        "lxc-autostart",
        "lxc-checkconfig",
    ] {
        let o = run(Command::new("bash").args([
            "--norc",
            "-c",
            &format!(
                "source {}/bash/{name} && complete -p {name}",
                out().display()
            ),
        ]));
        o.ok();
    }
}

#[test]
fn the_managers_completion_passes_shellcheck() {
    let o = run(Command::new("shellcheck")
        .args(["-s", "bash"])
        .arg(root().join("completions/ctn.bash")));
    assert_eq!(o.code, 0, "{o}");
}

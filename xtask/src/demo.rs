//! `cargo xtask demo` (`./lab demo`): the course, typed as it is written, with the
//! toolkit's manager — its LXC chapter (lxc-checkconfig, lxc-create -t debian, lxc-start,
//! lxc-console, lxc-info, lxc-ls, lxc-attach, lxc-cgroup, a veth network, lxc-stop,
//! lxc-destroy) then its OpenVZ chapter (vzctl create, set --save, start, enter, exec
//! apt-get install figlet, vzlist, stop, destroy), one line of narration per step.
//!
//! It leaves the machine as it found it: the containers' host is a network namespace of
//! the demo's own, "the internet" another (holding a proxy to the Debian mirror of the
//! host's apt sources, reached through the host namespace's NAT), the cgroups are below
//! the demo's own, the containers' state is in a temporary directory, and everything is
//! destroyed at the end, also when a step fails. Only the Debian base (built once by
//! debootstrap-rs) stays in the cache for the next run.
//!
//! On a terminal the console and `vzctl enter` are yours (Ctrl+a q, `exit`); otherwise
//! they are driven as a student would type.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use integration::ctn::{Console, Lab};
use integration::netns::Netns;
use integration::proxy::Proxy;

struct Demo {
    lab: Lab,
    interactive: bool,
}

impl Demo {
    /// One of the course's commands, echoed like a shell session; its output is the
    /// user's.
    fn run(&self, name: &str, args: &[&str]) -> Result<()> {
        eprintln!("\nroot@lab:~# {name} {}", shell_words(args));
        let status = self
            .lab
            .command(name)
            .args(args)
            .status()
            .with_context(|| format!("cannot run {name}"))?;
        if !status.success() {
            bail!("{name} {} failed ({status})", shell_words(args));
        }
        Ok(())
    }

    /// `systemctl is-system-running --wait` inside, asked again while systemd does not
    /// answer yet (just after the start its bus is not up).
    fn booted(&self, name: &str, front: &[&str]) -> Result<()> {
        let mut args: Vec<&str> = front.to_vec();
        args.extend(["systemctl", "is-system-running", "--wait"]);
        eprintln!("\nroot@lab:~# {name} {}", shell_words(&args));
        let start = std::time::Instant::now();
        loop {
            let out = self.lab.command(name).args(&args).output()?;
            let state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !state.is_empty() {
                eprintln!("{state}");
                anyhow::ensure!(state == "running", "the container's systemd is {state}");
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(120) {
                bail!("systemd did not answer within 120 s");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A console session: the user's on a terminal, else typed for them.
    fn session(&self, name: &str, args: &[&str], script: &[(&str, &str)]) -> Result<()> {
        eprintln!("\nroot@lab:~# {name} {}", shell_words(args));
        if self.interactive {
            let status = self.lab.command(name).args(args).status()?;
            if !status.success() {
                bail!("{name} failed ({status})");
            }
            return Ok(());
        }
        let mut c = Console::spawn({
            let mut cmd = self.lab.command(name);
            cmd.args(args);
            cmd
        });
        let limit = Duration::from_secs(60);
        for (i, (wait, send)) in script.iter().enumerate() {
            if i == 0 && wait.ends_with("login:") {
                c.wake(wait, limit);
            } else if !wait.is_empty() {
                c.expect(wait, limit);
            }
            c.send(send.as_bytes());
        }
        let (status, err) = c.finish(limit);
        eprint!("{err}");
        eprintln!("{}", c.seen.replace('\r', ""));
        if !status.success() {
            bail!("{name} failed ({status})");
        }
        Ok(())
    }
}

/// Arguments as a shell would need them typed.
fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$;|&<>()".contains(c))
            {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                (*a).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn say(text: &str) {
    eprintln!("\n== {text}");
}

fn ip(args: &[&str]) -> Result<()> {
    let status = Command::new("ip").args(args).status()?;
    anyhow::ensure!(status.success(), "ip {} failed", args.join(" "));
    Ok(())
}

pub fn run(root: &Path, _args: &[String]) -> Result<()> {
    say("building the tools");
    let bin = crate::dist::build(root, &[])?;
    // The lab's commands find the tools here (integration::bin).
    // SAFETY: set before any thread is started.
    unsafe { std::env::set_var("TOOLKIT_BIN_DIR", &bin) };
    let demo = Demo {
        lab: Lab::new(),
        interactive: std::io::stdin().is_terminal(),
    };
    say(&format!(
        "the containers' host is network namespace {} (the machine's own is left alone)",
        demo.lab.host.name
    ));

    say("LXC: is the kernel ready?");
    demo.run("lxc-checkconfig", &[])?;
    say("LXC: a Debian container (debootstrap-rs builds the base once, from the host's mirror)");
    demo.run("lxc-create", &["-n", "ctn01", "-t", "debian"])?;
    say("the course's template printed a root password; ours sets none: choose one");
    demo.run("ctn", &["set", "ctn01", "--userpasswd", "root:root"])?;
    say(
        "start it: its own init (systemd) as PID 1, unprivileged (root inside is not root outside)",
    );
    demo.run("lxc-start", &["-n", "ctn01", "-d"])?;
    demo.booted("lxc-attach", &["-n", "ctn01", "--"])?;
    say("its console (log in as root, password root; Ctrl+a q leaves)");
    demo.session(
        "lxc-console",
        &["-n", "ctn01"],
        &[
            ("ctn01 login:", "root\n"),
            ("Password:", "root\n"),
            ("root@ctn01", "hostname; id; echo LOGGED-IN-$((6*7))\n"),
            ("LOGGED-IN-42", "exit\n"),
            ("", "\x01q"),
        ],
    )?;
    say("what LXC tells about it");
    demo.run("lxc-info", &["-n", "ctn01"])?;
    demo.run("lxc-ls", &[])?;
    demo.run("lxc-ls", &["--fancy", "ctn01"])?;
    demo.run("lxc-attach", &["-n", "ctn01", "--", "ps", "aux"])?;
    say("limits while it runs (cgroups; the course's v1 names work on v2 hosts too)");
    for (key, value) in [
        ("cpuset.cpus", "0,1"),
        ("memory.soft_limit_in_bytes", "268435456"),
        ("memory.limit_in_bytes", "53687091"),
    ] {
        demo.run("lxc-cgroup", &["-n", "ctn01", key, value])?;
        demo.run("lxc-cgroup", &["-n", "ctn01", key])?;
    }
    demo.run("lxc-stop", &["-n", "ctn01"])?;
    say("a network: veth on a bridge (lxcbr0, made with NAT as lxc-net makes it)");
    let cfg = demo.lab.root().join("ctn01/config");
    let text = std::fs::read_to_string(&cfg)?
        .lines()
        .filter(|l| !l.starts_with("lxc.net."))
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let lines =
        "lxc.network.type = veth\nlxc.network.link = lxcbr0\nlxc.network.ipv4 = 10.0.3.50/24\n";
    eprintln!("\nroot@lab:~# cat >>{} <<EOF\n{lines}EOF", cfg.display());
    std::fs::write(&cfg, format!("{text}{lines}"))?;
    demo.run("lxc-start", &["-n", "ctn01", "-d"])?;
    demo.booted("lxc-attach", &["-n", "ctn01", "--"])?;
    demo.run(
        "lxc-attach",
        &["-n", "ctn01", "--", "ip", "-brief", "address", "show"],
    )?;
    demo.run(
        "lxc-attach",
        &["-n", "ctn01", "--", "ping", "-c", "2", "10.0.3.1"],
    )?;
    demo.run("lxc-stop", &["-n", "ctn01"])?;
    demo.run("lxc-destroy", &["-n", "ctn01"])?;

    say("OpenVZ: the same with vzctl (VEIDs are names here)");
    let wan = Netns::new("wan");
    ip(&[
        "-n",
        &demo.lab.host.name,
        "link",
        "add",
        "uplink",
        "type",
        "veth",
        "peer",
        "name",
        "isp",
        "netns",
        &wan.name,
    ])?;
    for (ns, dev, addr) in [
        (&demo.lab.host.name, "uplink", "198.51.100.1/24"),
        (&wan.name, "isp", "198.51.100.2/24"),
    ] {
        ip(&["-n", ns, "addr", "add", addr, "dev", dev])?;
        ip(&["-n", ns, "link", "set", dev, "up"])?;
    }
    let proxy_addr: SocketAddr = "198.51.100.2:3142".parse()?;
    let _proxy = Proxy::start(&format!("/run/netns/{}", wan.name), proxy_addr);
    demo.run(
        "vzctl",
        &["create", "105", "--ostemplate", "debian-12-minimal"],
    )?;
    demo.run(
        "vzctl",
        &[
            "set",
            "105",
            "--ram",
            "256M",
            "--swap",
            "128M",
            "--cpus",
            "1",
            "--cpulimit",
            "50",
            "--hostname",
            "ct105",
            "--ipadd",
            "10.0.5.105",
            "--nameserver",
            "10.0.5.1",
            "--userpasswd",
            "root:secret",
            "--save",
        ],
    )?;
    demo.run("vzctl", &["start", "105"])?;
    demo.booted("vzctl", &["exec", "105"])?;
    demo.run("vzlist", &[])?;
    say("a shell inside (exit to go on)");
    demo.session(
        "vzctl",
        &["enter", "105"],
        &[("", "hostname; cat /etc/resolv.conf; exit\n")],
    )?;
    say(&format!(
        "the lab reaches the internet through a proxy ({proxy_addr}); the host masquerades 10.0.5.105"
    ));
    demo.run(
        "vzctl",
        &[
            "exec",
            "105",
            &format!(
                "printf 'Acquire::http::Proxy \"http://{proxy_addr}\";\\n' >/etc/apt/apt.conf.d/90lab-proxy"
            ),
        ],
    )?;
    demo.run("vzctl", &["exec", "105", "apt-get", "-q", "update"])?;
    demo.run(
        "vzctl",
        &["exec", "105", "apt-get", "-q", "install", "-y", "figlet"],
    )?;
    demo.run("vzctl", &["exec", "105", "figlet", "ct105"])?;
    demo.run("vzctl", &["stop", "105"])?;
    demo.run("vzctl", &["destroy", "105"])?;
    say("nothing is left: the lab's namespaces and directory go now");
    Ok(())
}

//! The command line: debootstrap's options and meanings, plus outputs, extra suites and
//! parallel downloads. clap stays here; the library takes the plain [`Config`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, CommandFactory, Parser};

use crate::error::Error;
use crate::output::Format;
use crate::resolve::Variant;

/// `--version`: the workspace's version and what the tool claims to be compatible with.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (debootstrap 1.0.128 compatible)"
);

/// Build a Debian root filesystem from a signed mirror
#[derive(Debug, Parser)]
#[command(
    name = "debootstrap-rs",
    version = VERSION,
    override_usage = "debootstrap-rs [OPTION]... SUITE TARGET [MIRROR]\n       debootstrap-rs --second-stage [TARGET]",
    long_about = "Build a Debian root filesystem from a signed mirror, with debootstrap's \
command line. InRelease is verified with OpenPGP against the Debian archive keyring, every \
index and .deb by SHA-256; packages are fetched in parallel, unpacked once and confined to \
TARGET, then configured by the target's own dpkg in a private mount namespace.\n\n\
TARGET is a directory, a tarball (.tar, .tar.gz, .tar.xz, .tar.zst: bit-identical between \
runs when SOURCE_DATE_EPOCH is set) or an ext4 image (.img, .ext4). Without MIRROR, the \
mirror comes from the host's apt sources.\n\n\
Example: debootstrap-rs --variant=minbase bookworm /srv/rootfs"
)]
struct Args {
    /// Package set: minbase (required + apt), buildd, fakechroot, or - (required + important)
    #[arg(
        long,
        value_name = "X",
        default_value = "-",
        allow_hyphen_values = true
    )]
    variant: String,

    /// The target's architecture (default: the host's)
    #[arg(long, value_name = "A")]
    arch: Option<String>,

    /// Archive components to use (comma-separated)
    #[arg(
        long,
        value_name = "A,B,C",
        value_delimiter = ',',
        default_value = "main"
    )]
    components: Vec<String>,

    /// Add packages to the base set (comma-separated)
    #[arg(long, value_name = "A,B,C", value_delimiter = ',')]
    include: Vec<String>,

    /// Remove packages from the set (comma-separated; dependencies may bring them back, as in debootstrap)
    #[arg(long, value_name = "A,B,C", value_delimiter = ',')]
    exclude: Vec<String>,

    /// Also use packages from these suites, optionally SUITE=MIRROR (comma-separated)
    #[arg(long, value_name = "A,B=URL", value_delimiter = ',')]
    extra_suites: Vec<String>,

    /// Check InRelease against this keyring (default: the Debian archive keyring)
    #[arg(long, value_name = "K")]
    keyring: Option<PathBuf>,

    /// Do not check InRelease signatures (insecure: says so loudly)
    #[arg(long)]
    no_check_gpg: bool,

    /// Accepted for compatibility: signatures are always checked unless --no-check-gpg
    #[arg(long, hide = true)]
    force_check_gpg: bool,

    /// Accept Release files past their Valid-Until (snapshot mirrors)
    #[arg(long)]
    no_check_valid_until: bool,

    /// Unpack only: the second stage runs later (--second-stage), e.g. on the target's machine
    #[arg(long)]
    foreign: bool,

    /// Complete a --foreign TARGET (default TARGET: / when run inside it)
    #[arg(long)]
    second_stage: bool,

    /// With --second-stage: the TARGET to complete (debootstrap's spelling of TARGET)
    #[arg(long, value_name = "DIR", requires = "second_stage")]
    second_stage_target: Option<PathBuf>,

    /// Download the packages and write them, signed indexes included, to a tarball FILE
    #[arg(long, value_name = "FILE")]
    make_tarball: Option<PathBuf>,

    /// Take the packages from a tarball FILE made by --make-tarball (verified again)
    #[arg(long, value_name = "FILE")]
    unpack_tarball: Option<PathBuf>,

    /// Keep downloaded indexes and packages in DIR between runs
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Print the packages that would be installed, one per line, and exit
    #[arg(long, visible_alias = "print-packages")]
    print_debs: bool,

    /// Download the packages (to --cache-dir) and stop
    #[arg(long)]
    download_only: bool,

    /// Make /bin, /sbin, /lib symlinks into /usr (the default; the last of the two wins)
    #[arg(long, overrides_with = "no_merged_usr")]
    merged_usr: bool,

    /// Keep /bin, /sbin, /lib as directories (the last of the two wins, as in debootstrap)
    #[arg(long, overrides_with = "merged_usr")]
    no_merged_usr: bool,

    /// Output format (default: from TARGET's name)
    #[arg(long, value_name = "dir|tar|ext4")]
    format: Option<String>,

    /// Size of an ext4 image (e.g. 512M, 2G; default: the tree plus a quarter and 64M)
    #[arg(long, value_name = "SIZE")]
    image_size: Option<String>,

    /// Parallel downloads (1 to 64)
    #[arg(long, short = 'j', value_name = "N", default_value_t = 8)]
    jobs: usize,

    /// Build into a TARGET that exists and is not empty
    #[arg(long)]
    force: bool,

    /// Only errors on standard error, no progress
    #[arg(long, short = 'q')]
    quiet: bool,

    /// Trace requests, verifications and system calls (-vv: every file operation)
    #[arg(long, short = 'v', action = ArgAction::Count)]
    verbose: u8,

    /// SUITE TARGET [MIRROR]
    #[arg(value_name = "ARGS", num_args = 0..=3)]
    args: Vec<OsString>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Build TARGET completely.
    Full,
    /// First stage only (`--foreign`).
    Foreign,
    /// Complete a `--foreign` TARGET.
    SecondStage,
    /// `--print-debs`.
    PrintDebs,
    /// `--download-only`.
    DownloadOnly,
    /// `--make-tarball FILE`.
    MakeTarball(PathBuf),
}

/// The run, as the library takes it.
#[derive(Debug, Clone)]
pub struct Config {
    /// The suite (codename or name).
    pub suite: String,
    /// TARGET.
    pub target: PathBuf,
    /// MIRROR, if given.
    pub mirror: Option<String>,
    /// The variant.
    pub variant: Variant,
    /// `--arch`.
    pub arch: Option<String>,
    /// `--components`.
    pub components: Vec<String>,
    /// `--include`.
    pub include: Vec<String>,
    /// `--exclude`.
    pub exclude: Vec<String>,
    /// `--extra-suites`: (suite, mirror).
    pub extra_suites: Vec<(String, Option<String>)>,
    /// `--keyring`.
    pub keyring: Option<PathBuf>,
    /// False with `--no-check-gpg`.
    pub check_gpg: bool,
    /// False with `--no-check-valid-until`.
    pub check_valid_until: bool,
    /// What to do.
    pub mode: Mode,
    /// `--unpack-tarball`.
    pub unpack_tarball: Option<PathBuf>,
    /// `--cache-dir`.
    pub cache_dir: Option<PathBuf>,
    /// `--merged-usr` / `--no-merged-usr` (None: the suite's default).
    pub merged_usr: Option<bool>,
    /// The output format.
    pub format: Format,
    /// `--image-size`.
    pub image_size: Option<u64>,
    /// `--jobs`.
    pub jobs: usize,
    /// `--force`.
    pub force: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// Show a progress bar (stderr is a terminal and neither -v nor -q).
    pub progress_bar: bool,
    /// `-v` count.
    pub verbose: u8,
    /// SOURCE_DATE_EPOCH from the environment.
    pub source_date_epoch: Option<i64>,
    /// Where the host's apt sources are (`/etc/apt`).
    pub etc_apt: PathBuf,
}

/// What the command line asked for: run a [`Config`], or print help or version.
pub type Parsed = common::cli::Parsed<Box<Config>>;

/// The clap command, for man pages.
pub fn command() -> clap::Command {
    Args::command()
}

/// Parse the arguments (without argv[0]).
pub fn parse(argv: &[OsString]) -> Result<Parsed, Error> {
    let args = match Args::try_parse_from(
        std::iter::once(OsString::from("debootstrap-rs")).chain(argv.iter().cloned()),
    ) {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    Ok(Parsed::Print(e.to_string()))
                }
                _ => Err(Error::Usage(common::cli::clap_message(&e))),
            };
        }
    };
    convert(args).map(|c| Parsed::Run(Box::new(c)))
}

fn convert(a: Args) -> Result<Config, Error> {
    let usage = |s: &str| Error::Usage(s.to_owned());
    let variant = Variant::parse(&a.variant).ok_or_else(|| {
        Error::Usage(format!(
            "unsupported variant '{}' (use minbase, buildd, fakechroot or -)",
            a.variant
        ))
    })?;
    let exclusive = [
        a.foreign,
        a.second_stage,
        a.make_tarball.is_some(),
        a.print_debs,
        a.download_only,
    ];
    if exclusive.iter().filter(|x| **x).count() > 1 {
        return Err(usage(
            "--foreign, --second-stage, --make-tarball, --print-debs and --download-only exclude each other",
        ));
    }
    let mode = if a.foreign {
        Mode::Foreign
    } else if a.second_stage {
        Mode::SecondStage
    } else if let Some(f) = a.make_tarball.clone() {
        Mode::MakeTarball(f)
    } else if a.print_debs {
        Mode::PrintDebs
    } else if a.download_only {
        Mode::DownloadOnly
    } else {
        Mode::Full
    };
    let mut pos = a.args.into_iter();
    let (suite, target, mirror) = if mode == Mode::SecondStage {
        let target = match (a.second_stage_target, pos.next()) {
            (Some(_), Some(_)) => {
                return Err(usage(
                    "--second-stage-target and a TARGET argument exclude each other",
                ));
            }
            (Some(t), None) => t,
            (None, t) => t.map_or_else(|| PathBuf::from("/"), PathBuf::from),
        };
        if pos.next().is_some() {
            return Err(usage("--second-stage takes at most one argument, TARGET"));
        }
        (String::new(), target, None)
    } else {
        let suite = pos
            .next()
            .ok_or_else(|| usage("missing SUITE and TARGET"))?
            .to_string_lossy()
            .into_owned();
        let target = match pos.next() {
            Some(t) => PathBuf::from(t),
            None if matches!(
                mode,
                Mode::PrintDebs | Mode::MakeTarball(_) | Mode::DownloadOnly
            ) =>
            {
                PathBuf::new()
            }
            None => return Err(usage("missing TARGET")),
        };
        let mirror = pos
            .next()
            .map(|m| m.to_string_lossy().trim_end_matches('/').to_owned());
        (suite, target, mirror)
    };
    if let Some(m) = &mirror {
        check_url("MIRROR", m)?;
    }
    if mode != Mode::SecondStage {
        check_name("suite", &suite)?;
    }
    if let Some(a) = &a.arch {
        check_name("architecture", a)?;
    }
    for c in &a.components {
        check_name("component", c)?;
    }
    for p in a.include.iter().chain(&a.exclude) {
        check_package(p)?;
    }
    for s in &a.extra_suites {
        let (suite, url) = s
            .split_once('=')
            .map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
        check_name("suite", suite)?;
        if let Some(u) = url {
            check_url("the mirror of an extra suite", u.trim_end_matches('/'))?;
        }
    }
    let format = match &a.format {
        Some(f) => Format::parse(f, &target)
            .ok_or_else(|| Error::Usage(format!("unknown format '{f}' (use dir, tar or ext4)")))?,
        None => Format::from_name(&target),
    };
    let image_size = a.image_size.as_deref().map(parse_image_size).transpose()?;
    if image_size.is_some() && format != Format::Ext4 {
        return Err(usage(
            "--image-size applies to an ext4 image (TARGET.img or --format ext4)",
        ));
    }
    if !(1..=64).contains(&a.jobs) {
        return Err(usage("--jobs must be between 1 and 64"));
    }
    let extra_suites = a
        .extra_suites
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once('=') {
            Some((suite, url)) => (suite.to_owned(), Some(url.trim_end_matches('/').to_owned())),
            None => (s.clone(), None),
        })
        .collect();
    let merged_usr = if a.no_merged_usr {
        Some(false)
    } else if a.merged_usr {
        Some(true)
    } else {
        None
    };
    let source_date_epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                Error::Usage(format!(
                    "SOURCE_DATE_EPOCH '{v}' is not a number of seconds"
                ))
            })
        })
        .transpose()?;
    use std::io::IsTerminal;
    Ok(Config {
        suite,
        target,
        mirror,
        variant,
        arch: a.arch,
        components: a.components.into_iter().filter(|c| !c.is_empty()).collect(),
        include: a.include.into_iter().filter(|c| !c.is_empty()).collect(),
        exclude: a.exclude.into_iter().filter(|c| !c.is_empty()).collect(),
        extra_suites,
        keyring: a.keyring,
        check_gpg: !a.no_check_gpg,
        check_valid_until: !a.no_check_valid_until,
        mode,
        unpack_tarball: a.unpack_tarball,
        cache_dir: a.cache_dir,
        merged_usr,
        format,
        image_size,
        jobs: a.jobs,
        force: a.force,
        quiet: a.quiet,
        progress_bar: !a.quiet && a.verbose == 0 && std::io::stderr().is_terminal(),
        verbose: a.verbose,
        source_date_epoch,
        etc_apt: PathBuf::from("/etc/apt"),
    })
}

/// `--image-size`: a size with a unit (a bare number would be bytes, surely not what was
/// meant), at least [`crate::output::MIN_IMAGE_SIZE`].
fn parse_image_size(s: &str) -> Result<u64, Error> {
    let usage = |why: String| Error::Usage(format!("--image-size '{s}': {why}"));
    if !s.is_empty() && s.trim().bytes().all(|c| c.is_ascii_digit()) {
        return Err(usage(format!("no unit (e.g. {s}M or {s}G)")));
    }
    let n = common::units::parse_size(s).map_err(|e| Error::Usage(format!("--image-size: {e}")))?;
    if n > 1 << 60 {
        return Err(usage(
            "too large (an ext4 file system holds at most 1E)".into(),
        ));
    }
    if n < crate::output::MIN_IMAGE_SIZE {
        return Err(usage(format!(
            "too small for a root file system (at least {})",
            common::units::format_size(crate::output::MIN_IMAGE_SIZE)
        )));
    }
    Ok(n)
}

/// A suite, component or architecture name: what archives use (letters, digits, `.`,
/// `_`, `+`, `-`; not starting with `.` or `-`; at most 64 bytes). It becomes part of a
/// URL and of file names, so `..`, `/`, spaces and other bytes are refused here.
fn check_name(what: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && !name.contains("..")
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'+' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid {what} '{}' (letters, digits, '.', '_', '+' and '-', at most 64)",
            name.escape_debug()
        )))
    }
}

/// A package name as Debian policy allows it (lower-case letters, digits, `+`, `-`, `.`;
/// starting with a letter or digit), with an optional
/// `:arch` qualifier.
fn check_package(name: &str) -> Result<(), Error> {
    let base = name.split_once(':').map_or(name, |(n, _)| n);
    let ok = !base.is_empty()
        && base.len() <= 128
        && base.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && base.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.')
        })
        && name
            .split_once(':')
            .is_none_or(|(_, arch)| check_name("architecture", arch).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid package name '{}'",
            name.escape_debug()
        )))
    }
}

/// A mirror URL: http://HOST[:PORT][/PATH], https://…, or file:///ABSOLUTE/PATH, with no
/// spaces or control characters.
fn check_url(what: &str, url: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Err(Error::Usage(format!(
            "{what} '{}' {why}",
            url.escape_debug()
        )))
    };
    if url.len() > 4096 || url.bytes().any(|c| c <= b' ' || c == 0x7f) || !url.is_ascii() {
        return bad("is not a URL (spaces, control or non-ASCII characters)");
    }
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return bad("is not a file:// URL with an absolute path");
        }
        return Ok(());
    }
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return bad("is not an http://, https:// or file:// URL");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return bad("has user information (user@host is not supported)");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, p)) if h.parse::<std::net::Ipv6Addr>().is_ok() => (h, p),
            _ => return bad("has an invalid IPv6 address"),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, &authority[h.len()..][..p.len() + 1]),
            None => (authority, ""),
        }
    };
    if let Some(p) = port.strip_prefix(':')
        && p.parse::<u16>().map_or(true, |p| p == 0)
    {
        return bad("has an invalid port");
    }
    if !port.is_empty() && !port.starts_with(':') {
        return bad("is not a URL");
    }
    // A fully qualified name may end with a dot.
    let host = host.strip_suffix('.').unwrap_or(host);
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && (authority.starts_with('[')
            || host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && l.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            }));
    if !host_ok {
        return bad("has no valid host name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(args: &[&str]) -> Result<Config, Error> {
        let v: Vec<OsString> = args.iter().map(OsString::from).collect();
        match parse(&v)? {
            Parsed::Run(c) => Ok(*c),
            Parsed::Print(_) => panic!("printed"),
        }
    }

    #[test]
    fn debootstrap_spellings() {
        let c = cfg(&[
            "--variant=minbase",
            "--include=a,b",
            "--exclude",
            "c",
            "--components=main,contrib",
            "bookworm",
            "/t",
            "http://m/debian/",
        ])
        .unwrap();
        assert_eq!(c.variant, Variant::Minbase);
        assert_eq!(c.include, ["a", "b"]);
        assert_eq!(c.exclude, ["c"]);
        assert_eq!(c.components, ["main", "contrib"]);
        assert_eq!(c.mirror.as_deref(), Some("http://m/debian"));
        assert_eq!(c.mode, Mode::Full);
        assert_eq!(c.format, Format::Dir);
        let c = cfg(&["--variant", "-", "sid", "/t"]).unwrap();
        assert_eq!(c.variant, Variant::Default);
        let c = cfg(&["--second-stage"]).unwrap();
        assert_eq!(c.target, PathBuf::from("/"));
        let c = cfg(&["--second-stage", "--second-stage-target=/srv/arm64"]).unwrap();
        assert_eq!(
            (c.mode, c.target),
            (Mode::SecondStage, PathBuf::from("/srv/arm64"))
        );
        let c = cfg(&["--second-stage", "/srv/arm64"]).unwrap();
        assert_eq!(c.target, PathBuf::from("/srv/arm64"));
        let c = cfg(&["--print-debs", "bookworm"]).unwrap();
        assert_eq!(c.mode, Mode::PrintDebs);
        let c = cfg(&["--print-packages", "bookworm"]).unwrap();
        assert_eq!(c.mode, Mode::PrintDebs);
        let c = cfg(&[
            "--extra-suites=bookworm-updates,bookworm-security=http://s/x/",
            "bookworm",
            "/t.tar.zst",
        ])
        .unwrap();
        assert_eq!(
            c.extra_suites,
            [
                ("bookworm-updates".to_owned(), None),
                (
                    "bookworm-security".to_owned(),
                    Some("http://s/x".to_owned())
                )
            ]
        );
        assert_eq!(c.format, Format::Tar(crate::output::Compression::Zstd));
        let c = cfg(&["--image-size=1G", "bookworm", "/t.img"]).unwrap();
        assert_eq!(c.image_size, Some(1 << 30));
        // --merged-usr and --no-merged-usr: the last one wins, as in debootstrap.
        let c = cfg(&["--merged-usr", "--no-merged-usr", "bookworm", "/t"]).unwrap();
        assert_eq!(c.merged_usr, Some(false));
        let c = cfg(&["--no-merged-usr", "--merged-usr", "bookworm", "/t"]).unwrap();
        assert_eq!(c.merged_usr, Some(true));
    }

    #[test]
    fn usage_errors() {
        let e = cfg(&["--variant=huge", "bookworm", "/t"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported variant 'huge' (use minbase, buildd, fakechroot or -)"
        );
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            cfg(&["bookworm"]).unwrap_err().to_string(),
            "missing TARGET"
        );
        assert!(cfg(&["--foreign", "--print-debs", "b", "/t"]).is_err());
        assert_eq!(
            cfg(&["bookworm", "/t", "ftp://x"]).unwrap_err().to_string(),
            "MIRROR 'ftp://x' is not an http://, https:// or file:// URL"
        );
        for bad in [
            "http://",
            "http:///debian",
            "http://a b/",
            "http://h:99999/",
            "http://h:0/",
            "http://[::1/",
            "http://u@h/",
            "http://-h/",
            "http://h..x/",
            "file://relative",
        ] {
            let e = cfg(&["bookworm", "/t", bad]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}: {e}");
        }
        for good in [
            "http://127.0.0.1:8080/debian",
            "http://[::1]:80/d",
            "https://mirror.example/debian/",
            "file:///srv/mirror",
            "http://localhost",
            "http://mirror.example./debian",
        ] {
            assert!(cfg(&["bookworm", "/t", good]).is_ok(), "{good}");
        }
        for (args, msg) in [
            (&["..", "/t"][..], "invalid suite '..'"),
            (&["a/b", "/t"], "invalid suite 'a/b'"),
            (
                &["--components=main,../x", "b", "/t"],
                "invalid component '../x'",
            ),
            (&["--arch=amd64/../x", "b", "/t"], "invalid architecture"),
            (&["--include=Foo", "b", "/t"], "invalid package name 'Foo'"),
            (&["--exclude=a;b", "b", "/t"], "invalid package name 'a;b'"),
            (&["--extra-suites=x/y", "b", "/t"], "invalid suite 'x/y'"),
            (
                &["--image-size=600", "b", "/t.img"],
                "--image-size '600': no unit",
            ),
            (
                &["--image-size=-1", "b", "/t.img"],
                "--image-size: invalid size '-1'",
            ),
            (
                &["--image-size=1", "b", "/t.img"],
                "--image-size '1': no unit",
            ),
            (
                &["--image-size=1K", "b", "/t.img"],
                "--image-size '1K': too small",
            ),
            (
                &["--image-size=99999E", "b", "/t.img"],
                "--image-size: invalid size",
            ),
            (
                &["--image-size=9E", "b", "/t.img"],
                "--image-size '9E': too large",
            ),
            (&["--jobs=65", "b", "/t"], "--jobs must be between 1 and 64"),
        ] {
            let e = cfg(args).unwrap_err();
            assert!(e.to_string().starts_with(msg), "{args:?}: {e}");
            assert_eq!(e.exit_code(), 2);
        }
        let long = "a".repeat(65);
        assert!(cfg(&[&long, "/t"]).is_err());
        assert!(cfg(&["--image-size=1G", "bookworm", "/t"]).is_err());
        // As in debootstrap, --second-stage-target only goes with --second-stage.
        assert!(cfg(&["--second-stage-target=/t", "bookworm", "/t"]).is_err());
        assert_eq!(
            cfg(&["--second-stage", "--second-stage-target=/a", "/b"])
                .unwrap_err()
                .to_string(),
            "--second-stage-target and a TARGET argument exclude each other"
        );
    }
}

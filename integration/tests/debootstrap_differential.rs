//! Differential test: debootstrap-rs's OpenPGP policy for InRelease against gpgv's, over
//! the keys and signatures the test archive makes (`integration::debmirror`): a good
//! signature, one over SHA-1, one by an expired subkey, by a revoked subkey, by a subkey
//! whose binding lost its back-signature, by a key not in the keyring, and a modified
//! text. Both must agree on accept or refuse for every case.
//!
//! gpgv is run as apt runs it (`--weak-digest SHA1`: apt refuses SHA-1 signatures on
//! repositories, and so do we); a signature is accepted when gpgv reports GOODSIG, as
//! apt decides (EXPKEYSIG, REVKEYSIG, BADSIG, ERRSIG are refusals). gpgv's own default
//! (SHA-1 accepted) is printed beside it.

use std::path::Path;
use std::process::Command;

use integration::debmirror::{Archive, Key, Package};
use integration::{bin, cmd, require_root, run};

/// Our verdict: `--print-debs` verifies InRelease before anything else.
fn ours(keyring: &Path, archive: &Archive) -> (bool, String) {
    let o = run(cmd(bin("debootstrap-rs"))
        .args([
            "-q",
            "--print-debs",
            "--variant=minbase",
            "--arch=amd64",
            "--keyring",
        ])
        .arg(keyring)
        .arg("testsuite")
        .arg("target")
        .arg(format!("file://{}", archive.root.display())));
    let why = o
        .stderr
        .rsplit_once("): ")
        .or_else(|| o.stderr.rsplit_once(" ("))
        .map_or(o.stderr.trim(), |(_, w)| w.trim().trim_end_matches(')'))
        .to_owned();
    assert!(o.code == 0 || o.stderr.contains("InRelease from"), "{o}");
    (o.code == 0, if o.code == 0 { "good".into() } else { why })
}

/// gpgv's verdict: GOODSIG in its status output; and its status keywords.
fn gpgv(keyring: &Path, archive: &Archive, weak_sha1: bool) -> (bool, String) {
    let mut c = Command::new("gpgv");
    c.args(["--status-fd", "1", "--keyring"]).arg(keyring);
    if weak_sha1 {
        c.args(["--weak-digest", "SHA1"]);
    }
    let o = run(c.arg(archive.root.join("dists/testsuite/InRelease")));
    let words: Vec<&str> = o
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("[GNUPG:] "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| {
            matches!(
                *w,
                "GOODSIG"
                    | "BADSIG"
                    | "EXPKEYSIG"
                    | "REVKEYSIG"
                    | "EXPSIG"
                    | "ERRSIG"
                    | "NO_PUBKEY"
            )
        })
        .collect();
    (words.contains(&"GOODSIG"), words.join(" "))
}

#[test]
fn inrelease_policy_agrees_with_gpgv() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    if Command::new("gpgv").arg("--version").output().is_err() {
        panic!("gpgv is not installed (Debian package gpgv)");
    }
    let dir = integration::tempdir();
    let pkgs = [
        Package::plain("base", "required"),
        Package::plain("apt", "important"),
    ];
    let mut n = 0;
    let mut archive = |key: &Key| {
        n += 1;
        Archive::build(&dir.path().join(format!("a{n}")), &pkgs, key, "")
    };
    let good = Key::new();
    let stranger = Key::new();
    let expired = Key::expired();
    let revoked = Key::new();
    let no_back = Key::new();
    let a_good = archive(&good);
    let a_sha1 = archive(&good);
    let text = a_sha1.release_text();
    a_sha1.resign(&text, &good, "SHA1");
    let a_sha512 = archive(&good);
    a_sha512.resign(&text, &good, "SHA512");
    let a_expired = archive(&expired);
    let a_revoked = archive(&revoked);
    revoked.revoke_signing_subkey();
    let a_no_back = archive(&no_back);
    no_back.strip_back_signature();
    let a_modified = archive(&good);
    let p = a_modified.root.join("dists/testsuite/InRelease");
    let t = std::fs::read_to_string(&p)
        .unwrap()
        .replace("Label: Test", "Label: Evil");
    std::fs::write(&p, t).unwrap();
    let cases: [(&str, &Key, &Archive, bool); 8] = [
        ("good signature (SHA-256)", &good, &a_good, true),
        ("good signature (SHA-512)", &good, &a_sha512, true),
        ("SHA-1 signature", &good, &a_sha1, false),
        ("expired signing subkey", &expired, &a_expired, false),
        ("revoked signing subkey", &revoked, &a_revoked, false),
        ("subkey without back-signature", &no_back, &a_no_back, false),
        ("key not in the keyring", &stranger, &a_good, false),
        ("modified text", &good, &a_modified, false),
    ];
    let mut disagree = Vec::new();
    eprintln!("InRelease policy: debootstrap-rs vs gpgv --weak-digest SHA1 (apt's policy)");
    for (what, key, archive, expected) in cases {
        let (we, why) = ours(&key.keyring, archive);
        let (they, status) = gpgv(&key.keyring, archive, true);
        let (plain, _) = gpgv(&key.keyring, archive, false);
        eprintln!(
            "  {what:<32} ours: {:<7} gpgv: {:<7} (gpgv default: {:<7}) [{why}] [{status}]",
            verdict(we),
            verdict(they),
            verdict(plain)
        );
        if we != they || we != expected {
            disagree.push(format!(
                "{what}: ours {we}, gpgv {they}, expected {expected}"
            ));
        }
    }
    assert!(disagree.is_empty(), "{disagree:#?}");
}

fn verdict(ok: bool) -> &'static str {
    if ok { "accept" } else { "refuse" }
}

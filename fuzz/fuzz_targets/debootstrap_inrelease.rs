//! debootstrap-rs's InRelease: the clear-signed shape and the OpenPGP armour split
//! (`verify::verify_inrelease` against a keyring, `indexes::unsigned_text` for
//! `--no-check-gpg`), and keyrings (`verify::Keyring::from_bytes`).
//!
//! An input starting with `k` is a keyring (the rest; a sample InRelease signed by the
//! test key is checked against it), with `u` an InRelease read without a keyring;
//! anything else is an InRelease checked against the test key in fuzz/keys (an ed25519
//! primary key and signing subkey made for this, no expiry), at a fixed time.
#![no_main]

use std::sync::LazyLock;

use debootstrap_rs::indexes;
use debootstrap_rs::release::Release;
use debootstrap_rs::verify::{self, Keyring};
use libfuzzer_sys::fuzz_target;

/// 2033-05-18: after the test key was made, before nothing expires.
const NOW: i64 = 2_000_000_000;

static KEYRING: LazyLock<Keyring> = LazyLock::new(|| {
    Keyring::from_bytes(include_bytes!("../keys/fuzz-archive-key.gpg")).expect("the test key")
});

fuzz_target!(|data: &[u8]| {
    match data.first() {
        Some(b'k') => {
            if let Ok(k) = Keyring::from_bytes(&data[1..]) {
                assert!(!k.is_empty());
                // The sample, signed by the test key, against whatever keys these are.
                let sample = include_bytes!("../keys/sample-InRelease");
                if let Err(why) = verify::verify_inrelease(sample, &k, NOW) {
                    assert!(!why.contains('\n'), "{why:?}");
                }
            }
        }
        Some(b'u') => {
            let text = indexes::unsigned_text(&data[1..]);
            let _ = Release::parse(&text);
        }
        _ => {
            let unsigned = indexes::unsigned_text(data);
            match verify::verify_inrelease(data, &KEYRING, NOW) {
                Ok(v) => {
                    // What was verified is what `--no-check-gpg` would read, with LF lines.
                    assert_eq!(v.text, unsigned);
                    assert!(!v.text.contains("\r\n"));
                    assert!(!v.signer.is_empty());
                    let _ = Release::parse(&v.text);
                }
                Err(why) => {
                    // One line, as every error a user sees.
                    assert!(!why.contains('\n'), "{why:?}");
                }
            }
        }
    }
});

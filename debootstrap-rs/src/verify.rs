//! InRelease verification, in process, with the `pgp` crate.
//!
//! `pgp` checks the mathematics of one signature against one key; whether that key may
//! be trusted is ours to decide, as gpgv does: the key must be in the keyring, signing
//! capable (the archive signs with RSA **subkeys**, so subkeys are tried, each with a
//! valid binding signature and, being signing subkeys, a valid back-signature), not
//! expired now, not revoked, and its primary key not expired or revoked either. An
//! InRelease carries two or three signatures, some by keys a keyring may lack; one good
//! signature from a valid key is the rule.

use std::io::Cursor;
use std::path::Path;

use common::trace;
use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Tag, VerifyingKey};

/// The keys of a keyring file (binary or ASCII-armored, one or many).
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

/// A verified InRelease: its text and who signed it.
#[derive(Debug)]
pub struct Verified {
    /// The signed text (the Release file), with LF line ends.
    pub text: String,
    /// The fingerprint of the key (primary or subkey) that made the good signature.
    pub signer: String,
    /// The primary key's first user ID.
    pub signer_name: String,
}

impl Keyring {
    /// Read a keyring file.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(path)?;
        Self::from_bytes(&bytes)
    }

    /// Parse keyring data.
    pub fn from_bytes(bytes: &[u8]) -> std::io::Result<Self> {
        let bad = |e: pgp::errors::Error| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an OpenPGP keyring ({})", one_line(&e.to_string())),
            )
        };
        let (iter, _) = SignedPublicKey::from_reader_many(Cursor::new(bytes)).map_err(bad)?;
        let keys: Vec<SignedPublicKey> = iter.filter_map(Result::ok).collect();
        if keys.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no OpenPGP public key in it",
            ));
        }
        Ok(Self { keys })
    }

    /// How many primary keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when empty (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn keyid(k: &pgp::types::KeyId) -> String {
    crate::release::hex(k.as_ref()).to_uppercase()
}

fn secs(t: pgp::types::Timestamp) -> i64 {
    i64::from(t.as_secs())
}

/// The newest valid signature of `kind` among `sigs` made by `primary` over `check`.
fn newest(sigs: &[Signature], ok: impl Fn(&Signature) -> bool) -> Option<&Signature> {
    sigs.iter()
        .filter(|s| ok(s))
        .max_by_key(|s| s.created().map_or(0, secs))
}

/// Is `expiry` (seconds after `created`) past at `now`?
fn expired(created: i64, sig: &Signature, now: i64) -> bool {
    sig.key_expiration_time()
        .is_some_and(|d| d.as_secs() != 0 && created + i64::from(d.as_secs()) <= now)
}

/// Why a primary key cannot be used, or its newest self-signature.
fn primary_status(key: &SignedPublicKey, now: i64) -> Result<&Signature, String> {
    let pk = &key.primary_key;
    let revoked = key
        .details
        .revocation_signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::KeyRevocation) && s.verify_key(pk).is_ok());
    if revoked {
        return Err("revoked".into());
    }
    let mut best: Option<&Signature> = None;
    for user in &key.details.users {
        let sig = newest(&user.signatures, |s| {
            s.is_certification() && s.verify_certification(pk, Tag::UserId, &user.id).is_ok()
        });
        if let Some(s) = sig
            && best.is_none_or(|b| s.created().map_or(0, secs) > b.created().map_or(0, secs))
        {
            best = Some(s);
        }
    }
    let sig = best.ok_or_else(|| "no valid self-signature".to_owned())?;
    if expired(secs(pk.created_at()), sig, now) {
        return Err("expired".into());
    }
    Ok(sig)
}

fn first_user(key: &SignedPublicKey) -> String {
    key.details
        .users
        .first()
        .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
        .unwrap_or_default()
}

/// Verify an InRelease file against `keyring` at time `now` (seconds since the epoch).
pub fn verify_inrelease(data: &[u8], keyring: &Keyring, now: i64) -> Result<Verified, String> {
    let text = std::str::from_utf8(data).map_err(|_| "not UTF-8 text".to_owned())?;
    check_structure(text).map_err(|why| format!("not a clearsigned file ({why})"))?;
    let (msg, _) = CleartextSignedMessage::from_string(text)
        .map_err(|e| format!("not a clearsigned file ({})", one_line(&e.to_string())))?;
    let signed = msg.signed_text();
    let mut reasons: Vec<String> = Vec::new();
    for sig in msg.signatures() {
        let fps: Vec<String> = sig
            .issuer_fingerprint()
            .iter()
            .map(|f| format!("{f:X}"))
            .collect();
        let ids: Vec<String> = sig.issuer_key_id().iter().map(|k| keyid(k)).collect();
        let issuer = fps.first().or(ids.first()).cloned().unwrap_or_default();
        let matches = |fp: String, id: String| fps.contains(&fp) || ids.contains(&id);
        let mut found = false;
        for key in &keyring.keys {
            let pk = &key.primary_key;
            // The primary key itself.
            if matches(
                format!("{:X}", pk.fingerprint()),
                keyid(&pk.legacy_key_id()),
            ) {
                found = true;
                match primary_status(key, now).and_then(|self_sig| {
                    if !self_sig.key_flags().sign() && self_sig.key_flags().certify() {
                        // A certify-only primary may still sign data in old keys that carry
                        // no key flags at all; with flags, signing must be allowed.
                        return Err("not signing-capable".to_owned());
                    }
                    check_sig(sig, pk, &signed, now)
                }) {
                    Ok(()) => {
                        return Ok(done(
                            text_lf(&signed),
                            format!("{:X}", pk.fingerprint()),
                            key,
                        ));
                    }
                    Err(why) => reasons.push(format!("{issuer}: {why}")),
                }
            }
            for sub in &key.public_subkeys {
                if !matches(
                    format!("{:X}", sub.key.fingerprint()),
                    keyid(&sub.key.legacy_key_id()),
                ) {
                    continue;
                }
                found = true;
                let r = primary_status(key, now).and_then(|_| {
                    let revoked = sub.signatures.iter().any(|s| {
                        // A subkey revocation is made over the primary key and the
                        // subkey, like the binding (RFC 9580 5.2.4).
                        s.typ() == Some(SignatureType::SubkeyRevocation)
                            && s.verify_subkey_binding(pk, &sub.key).is_ok()
                    });
                    if revoked {
                        return Err("subkey revoked".into());
                    }
                    let binding = newest(&sub.signatures, |s| {
                        s.typ() == Some(SignatureType::SubkeyBinding)
                            && s.verify_subkey_binding(pk, &sub.key).is_ok()
                    })
                    .ok_or("no valid subkey binding")?;
                    if !binding.key_flags().sign() {
                        return Err("subkey not signing-capable".into());
                    }
                    let back = binding
                        .embedded_signature()
                        .ok_or("signing subkey without a back-signature")?;
                    back.verify_primary_key_binding(&sub.key, pk)
                        .map_err(|e| format!("bad back-signature ({e})"))?;
                    if expired(secs(sub.key.created_at()), binding, now) {
                        return Err("subkey expired".into());
                    }
                    check_sig(sig, &sub.key, &signed, now)
                });
                match r {
                    Ok(()) => {
                        return Ok(done(
                            text_lf(&signed),
                            format!("{:X}", sub.key.fingerprint()),
                            key,
                        ));
                    }
                    Err(why) => reasons.push(format!("{issuer}: {why}")),
                }
            }
        }
        if !found {
            reasons.push(format!("{issuer}: no such key in the keyring"));
        }
    }
    if msg.signatures().is_empty() {
        reasons.push("no signature".into());
    }
    Err(format!(
        "no good signature from a trusted key ({})",
        reasons.join("; ")
    ))
}

const BEGIN_SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";
const END_SIGNATURE: &str = "-----END PGP SIGNATURE-----";

/// The shape of a clearsigned file, checked before the OpenPGP parser sees it, so that
/// what is wrong is said in words: one signed message, nothing before its first line,
/// one signature block, nothing but blank lines after it.
fn check_structure(text: &str) -> Result<(), String> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let count = |marker: &str| lines.iter().filter(|l| l.trim_end() == marker).count();
    match lines.iter().position(|l| l.trim_end() == BEGIN_SIGNED) {
        None => return Err(format!("no '{BEGIN_SIGNED}' line")),
        Some(0) => {}
        Some(_) => return Err(format!("text before '{BEGIN_SIGNED}'")),
    }
    if count(BEGIN_SIGNED) > 1 || count(BEGIN_SIGNATURE) > 1 {
        return Err("more than one signed message in it".into());
    }
    let Some(end) = lines.iter().position(|l| l.trim_end() == END_SIGNATURE) else {
        return Err(format!("no '{END_SIGNATURE}' line"));
    };
    if lines[end + 1..].iter().any(|l| !l.trim().is_empty()) {
        return Err(format!("text after '{END_SIGNATURE}'"));
    }
    Ok(())
}

/// A parser's message as one short line: no debug dump of its input (byte arrays,
/// nested `Error { … }`), at most 120 characters.
fn one_line(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or("").trim();
    let cut = ["Error(", "Error {", "{", "["]
        .iter()
        .filter_map(|m| first.find(m))
        .min()
        .unwrap_or(first.len());
    let mut out = first[..cut].trim_end_matches([' ', ':', '(']).to_owned();
    if out.is_empty() {
        out = "malformed".into();
    }
    if out.len() > 120 {
        let mut n = 120;
        while !out.is_char_boundary(n) {
            n -= 1;
        }
        out.truncate(n);
    }
    out
}

fn done(text: String, signer: String, key: &SignedPublicKey) -> Verified {
    trace::line(
        1,
        format_args!("good signature by {signer} ({})", first_user(key)),
    );
    Verified {
        text,
        signer,
        signer_name: first_user(key),
    }
}

fn check_sig(
    sig: &Signature,
    key: &impl VerifyingKey,
    signed: &str,
    now: i64,
) -> Result<(), String> {
    // As apt (gpgv --weak-digest): MD5, SHA-1 and RIPEMD-160 signatures are refused, a
    // collision being within reach for the first two.
    match sig.hash_alg() {
        Some(
            HashAlgorithm::Sha224
            | HashAlgorithm::Sha256
            | HashAlgorithm::Sha384
            | HashAlgorithm::Sha512
            | HashAlgorithm::Sha3_256
            | HashAlgorithm::Sha3_512,
        ) => {}
        Some(weak) => return Err(format!("weak digest algorithm {weak}")),
        None => return Err("unknown digest algorithm".into()),
    }
    let created = sig.created().map_or(0, secs);
    if created > now + 86_400 {
        return Err("signature made in the future".into());
    }
    if sig
        .signature_expiration_time()
        .is_some_and(|d| d.as_secs() != 0 && created + i64::from(d.as_secs()) <= now)
    {
        return Err("signature expired".into());
    }
    sig.verify(key, signed.as_bytes())
        .map_err(|_| "BAD signature (the file was modified)".to_owned())
}

fn text_lf(signed: &str) -> String {
    signed.replace("\r\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clearsigned_file_has_one_message_and_nothing_around_it() {
        let good = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSuite: x\n\
                    -----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n";
        assert_eq!(check_structure(good), Ok(()));
        assert_eq!(check_structure(&format!("{good}\n\n")), Ok(()));
        for (bad, why) in [
            (
                format!("{good}Suite: evil\n"),
                "text after '-----END PGP SIGNATURE-----'",
            ),
            (
                format!("Suite: evil\n{good}"),
                "text before '-----BEGIN PGP SIGNED MESSAGE-----'",
            ),
            (
                format!("{good}{good}"),
                "more than one signed message in it",
            ),
            (
                "Suite: x\n".to_owned(),
                "no '-----BEGIN PGP SIGNED MESSAGE-----' line",
            ),
        ] {
            assert_eq!(check_structure(&bad), Err(why.to_owned()));
            let kr = Keyring { keys: Vec::new() };
            let e = verify_inrelease(bad.as_bytes(), &kr, 0).unwrap_err();
            assert_eq!(e, format!("not a clearsigned file ({why})"));
        }
        assert_eq!(
            one_line("failed reading: armor header Error(Error { input: [48, 48], code: CrLf })"),
            "failed reading: armor header"
        );
    }

    #[test]
    fn garbage_is_rejected_with_a_reason() {
        let kr = Keyring::from_bytes(b"not a key");
        assert!(kr.is_err());
    }

    #[test]
    fn the_debian_archive_keyring_parses() {
        // debian-archive-keyring is a build dependency (./lab installs it).
        let kr = Keyring::load(Path::new("/usr/share/keyrings/debian-archive-keyring.gpg"))
            .expect("debian-archive-keyring is installed");
        assert!(kr.len() >= 3);
    }
}

//! GitHub's token format (prefix, base62, CRC32 checksum), SHA-256 hashes, and TOTP codes for
//! the two-factor user.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{TOTP_SECRET, str_of};

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` in base62 (alphabet `0-9A-Za-z`), left-padded with `0` to 6 characters.
pub fn base62_6(mut n: u32) -> String {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("ASCII")
}

/// Asserts GitHub's token format: `prefix` + 30 base62 + base62 CRC32 of those 30 (6 chars).
#[track_caller]
pub fn assert_token_format(token: &str, prefix: &str) {
    assert_eq!(token.len(), 40, "token {token:?} is not 40 characters");
    assert!(
        token.starts_with(prefix),
        "token {token:?} does not start with {prefix}"
    );
    let rest = &token[4..];
    assert!(
        rest.bytes().all(|c| c.is_ascii_alphanumeric()),
        "token {token:?} is not base62 after its prefix"
    );
    let (random, checksum) = rest.split_at(30);
    assert_eq!(
        checksum,
        base62_6(crc32fast::hash(random.as_bytes())),
        "token {token:?}: bad checksum"
    );
}

/// The clear token of a create response, checked for format and prefix.
#[track_caller]
pub fn token_of(body: &Value, prefix: &str) -> String {
    let token = str_of(body, "token").to_owned();
    assert_token_format(&token, prefix);
    token
}

// ---------------------------------------------------------------------------------------------
// Two-factor authentication
// ---------------------------------------------------------------------------------------------

fn totp() -> totp_rs::TOTP {
    let secret = totp_rs::Secret::Encoded(TOTP_SECRET.to_owned())
        .to_bytes()
        .expect("base32 secret");
    // new_unchecked: the documented example secret is 80 bits, below totp-rs's 128-bit minimum.
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The code of `TOTP_SECRET` at `unix_seconds` (a server whose clock was moved).
pub fn otp_at(unix_seconds: u64) -> String {
    totp().generate(unix_seconds)
}

/// The current code of `TOTP_SECRET`.
pub fn current_otp() -> String {
    totp().generate(unix_now())
}

/// The code of `TOTP_SECRET` `seconds` from now (for a server clock moved that far ahead).
pub fn otp_in(seconds: u64) -> String {
    totp().generate(unix_now() + seconds)
}

/// A 6-digit code that is valid in none of the steps near now (two either way, a margin over the
/// one step of drift the server accepts).
pub fn wrong_otp() -> String {
    let t = totp();
    let now = unix_now();
    let valid: Vec<String> = (0..=4).map(|k| t.generate(now + k * 30 - 60)).collect();
    (0..10)
        .map(|d: u32| d.to_string().repeat(6))
        .find(|c| !valid.contains(c))
        .expect("some repeated digit is not a valid code")
}

//! Two-factor authentication with time-based one-time passwords (RFC 6238): SHA-1, six
//! digits, 30-second steps, as GitHub and every authenticator app use them.
//!
//! Also how a secret is sealed for storage ([`SeedCipher`]): the domain handles secrets in
//! clear, and the store seals each one as it writes it and opens it as it reads it, so a copy
//! of the database alone yields no secret, and nothing above the store sees the stored form.
//! The cipher lives here rather than in the store because it is pure (no I/O, no database):
//! what is bound to what is a rule about users and their secrets, tested beside them.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use super::UserId;

/// One step of clock drift is accepted either way, so a code typed just as it rolls over (or
/// from a phone whose clock is slightly off) still works.
const SKEW_STEPS: u8 = 1;
const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;

/// A user's shared TOTP secret, in base32 as authenticator apps show it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(String);

impl TotpSecret {
    /// Accepts base32 (RFC 4648, case-insensitive, padding optional) of at least 80 bits,
    /// the shortest secret GitHub-style apps hand out.
    pub fn parse(base32: &str) -> Option<Self> {
        let normalised: String = base32
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bytes = Secret::Encoded(normalised.clone()).to_bytes().ok()?;
        (bytes.len() >= 10).then_some(Self(normalised))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    fn totp(&self) -> Option<TOTP> {
        let bytes = Secret::Encoded(self.0.clone()).to_bytes().ok()?;
        // `new_unchecked` because `new` insists on 128-bit secrets, and the widely used
        // 80-bit ones (such as GitHub's docs' `JBSWY3DPEHPK3PXP`) must keep working.
        Some(TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            SKEW_STEPS,
            STEP_SECONDS,
            bytes,
        ))
    }

    /// A new random secret of 160 bits (RFC 4226's recommended length, and GitHub's);
    /// `None` only if the system's random source failed.
    pub fn generate() -> Option<Self> {
        let mut bytes = [0u8; 20];
        super::random::fill(&mut bytes).ok()?;
        Self::parse(&Secret::Raw(bytes.to_vec()).to_encoded().to_string())
    }

    /// The `otpauth://` URI authenticator apps read from a QR code, as GitHub's:
    /// `otpauth://totp/ISSUER:LOGIN?secret=…&issuer=ISSUER`.
    pub fn uri(&self, issuer: &str, login: &str) -> String {
        let escape = |s: &str| -> String {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        };
        format!(
            "otpauth://totp/{issuer}:{login}?secret={secret}&issuer={issuer}",
            issuer = escape(issuer),
            login = escape(login),
            secret = self.0,
        )
    }

    /// Whether `code` is valid at `unix_seconds`, give or take one step. Total over `u64`:
    /// the window is cut short at the ends of time rather than overflowing.
    pub fn verify(&self, code: &str, unix_seconds: u64) -> bool {
        self.matching_step(code, unix_seconds).is_some()
    }

    /// The time step (`unix_seconds / 30`, give or take one) whose code `code` is, if any: what
    /// the sign-in page records so that the same code is not taken twice.
    pub fn matching_step(&self, code: &str, unix_seconds: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp()?;
        // Not `TOTP::check`: it computes the window's first step as `step - skew` unchecked,
        // which overflows for a clock in the first step of 1970 (and `authenticate` passes 0
        // for any clock before it). Every step of the window is compared, in constant time,
        // so the answer's timing does not say which step matched.
        let step = unix_seconds / STEP_SECONDS;
        let skew = u64::from(SKEW_STEPS);
        // The latest matching step wins, so a replay check never accepts an older step's code
        // after a newer one.
        (step.saturating_sub(skew)..=step.saturating_add(skew))
            .filter_map(|s| Some((s, s.checked_mul(STEP_SECONDS)?)))
            .fold(None, |found, (s, at)| {
                let same: bool = totp.generate(at).as_bytes().ct_eq(code.as_bytes()).into();
                if same { Some(s) } else { found }
            })
    }

    /// The code for `unix_seconds`, for tests (it is never sent anywhere).
    pub fn code_at(&self, unix_seconds: u64) -> Option<String> {
        self.totp().map(|totp| totp.generate(unix_seconds))
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

/// The length of a secret key: 256 bits.
pub const SEED_KEY_LEN: usize = 32;
/// The stored form's version: `v1:` then base64 of the nonce and the ciphertext with its tag.
/// A later key (a rotation) or algorithm gets a new prefix, so stored values say how to open
/// them; base32 has no `:`, so a secret stored in clear (before sealing existed) never
/// looks sealed.
const SEALED_V1: &str = "v1:";
const NONCE_LEN: usize = 12;

/// Seals and opens TOTP secrets with ChaCha20-Poly1305 under a key kept apart from the
/// database. Each value gets a fresh random nonce, and the user's id is authenticated with
/// it (associated data): a sealed secret copied into another user's row does not open.
pub struct SeedCipher(ChaCha20Poly1305);

impl SeedCipher {
    pub fn new(key: &[u8; SEED_KEY_LEN]) -> Self {
        Self(ChaCha20Poly1305::new(Key::from_slice(key)))
    }

    fn associated_data(user: UserId) -> Vec<u8> {
        let mut data = b"grantd totp_secret v1 user ".to_vec();
        data.extend_from_slice(&user.0.to_be_bytes());
        data
    }

    /// The stored form of `user`'s `secret`; `None` only if the system's random source failed.
    pub fn seal(&self, secret: &TotpSecret, user: UserId) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        // The OS's, never `--rng-seed`'s: a nonce repeated under the same key would expose
        // both secrets it sealed.
        getrandom::fill(&mut nonce).ok()?;
        let aad = Self::associated_data(user);
        let payload = Payload {
            msg: secret.0.as_bytes(),
            aad: &aad,
        };
        // Fails only for messages of many gigabytes; a secret is a few dozen bytes.
        let sealed = self.0.encrypt(Nonce::from_slice(&nonce), payload).ok()?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Some(format!(
            "{SEALED_V1}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
        ))
    }

    /// The secret `stored` holds, if it was sealed by [`seal`](Self::seal) under this key for
    /// this `user`; `None` for anything else (another key, another user's row, tampering).
    pub fn open(&self, stored: &str, user: UserId) -> Option<TotpSecret> {
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(stored.strip_prefix(SEALED_V1)?)
            .ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let aad = Self::associated_data(user);
        let payload = Payload {
            msg: sealed,
            aad: &aad,
        };
        let clear = self.0.decrypt(Nonce::from_slice(nonce), payload).ok()?;
        TotpSecret::parse(std::str::from_utf8(&clear).ok()?)
    }

    /// Whether `stored` is in a sealed form (of any key), rather than a secret in clear.
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED_V1)
    }
}

impl std::fmt::Debug for SeedCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeedCipher(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_for_its_user() {
        let cipher = SeedCipher::new(&[7; SEED_KEY_LEN]);
        let secret = TotpSecret::parse(SECRET).unwrap();
        let sealed = cipher.seal(&secret, UserId(3)).unwrap();
        assert!(SeedCipher::is_sealed(&sealed));
        assert!(!sealed.contains(SECRET), "{sealed}");
        assert_eq!(cipher.open(&sealed, UserId(3)), Some(secret.clone()));
        // A fresh nonce each time: the same secret never seals the same way twice.
        assert_ne!(cipher.seal(&secret, UserId(3)).unwrap(), sealed);
        assert_eq!(
            cipher.open(&sealed, UserId(4)),
            None,
            "moved to another user"
        );
        let other = SeedCipher::new(&[8; SEED_KEY_LEN]);
        assert_eq!(other.open(&sealed, UserId(3)), None, "another key");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(cipher.open(&tampered, UserId(3)), None, "tampered");
        assert_eq!(cipher.open(SECRET, UserId(3)), None, "clear is not sealed");
        assert!(!SeedCipher::is_sealed(SECRET));
        assert_eq!(cipher.open("v1:", UserId(3)), None);
        assert_eq!(format!("{cipher:?}"), "SeedCipher(***)");
    }

    const SECRET: &str = "JBSWY3DPEHPK3PXP";

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", T = 59 s → 94287082 (8 digits);
        // the six-digit code is its last six digits.
        let secret = TotpSecret::parse("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(secret.code_at(59).unwrap(), "287082");
        assert!(secret.verify("287082", 59));
    }

    #[test]
    fn one_step_of_drift_is_accepted_and_two_are_not() {
        let secret = TotpSecret::parse(SECRET).unwrap();
        let now = 1_700_000_000;
        let code = secret.code_at(now).unwrap();
        assert!(secret.verify(&code, now));
        assert!(secret.verify(&code, now + 30));
        assert!(secret.verify(&code, now - 30));
        assert!(!secret.verify(&code, now + 60));
        assert!(!secret.verify(&code, now - 60));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = TotpSecret::parse(SECRET).unwrap();
        let now = 1_700_000_000;
        let code = secret.code_at(now).unwrap();
        assert!(!secret.verify("", now));
        assert!(!secret.verify(&code[..5], now));
        assert!(!secret.verify(&format!("{code}0"), now));
        assert!(!secret.verify("abcdef", now));
    }

    /// Found by fuzzing: totp-rs's `check` computes the first step of its window as `step - 1`
    /// unchecked, which overflowed (a panic in debug builds, a wrapped window in release)
    /// for a clock in the first 30 s of 1970, which `user::authenticate` also passes for any
    /// clock before 1970.
    #[test]
    fn a_clock_at_the_ends_of_time_neither_panics_nor_skips_the_check() {
        let secret = TotpSecret::parse(SECRET).unwrap();
        for now in [0, 1, 29, 30, u64::MAX - 1, u64::MAX] {
            let code = secret.code_at(now).unwrap();
            assert!(secret.verify(&code, now), "{now}");
            assert!(!secret.verify("12345", now), "{now}");
        }
        // At the epoch the window is this step and the next.
        assert!(secret.verify(&secret.code_at(30).unwrap(), 0));
    }

    #[test]
    fn secrets_are_normalised_and_validated() {
        assert_eq!(
            TotpSecret::parse("jbsw y3dp ehpk 3pxp").unwrap().expose(),
            SECRET
        );
        assert!(TotpSecret::parse("not base32!").is_none());
        assert!(
            TotpSecret::parse("JBSWY3DP").is_none(),
            "40 bits is too short"
        );
    }
}

/// Fuzzing (issue 18): whatever arrives in `X-GitHub-OTP`, checking it never panics, and only
/// the code of the current step (or of one step either side) verifies.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    /// Clocks from the epoch to the year 10,000, and now and then anything a `u64` holds.
    fn times() -> impl Strategy<Value = u64> {
        prop_oneof![4 => 0..253_402_300_800_u64, 1 => any::<u64>()]
    }

    /// What a client might put in the header: digits of any length, padded, or anything.
    fn header() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{6}",
            "[ \t]{0,2}[0-9]{5,7}[ \t]{0,2}",
            "[0-9a-zA-Z+\\-.]{0,12}",
            any::<String>(),
        ]
    }

    /// A secret of 10 to 40 random bytes, in base32 as apps show it.
    fn secret() -> impl Strategy<Value = TotpSecret> {
        prop::collection::vec(any::<u8>(), 10..40).prop_map(|bytes| {
            TotpSecret::parse(&Secret::Raw(bytes).to_encoded().to_string())
                .unwrap_or_else(|| TotpSecret::parse("JBSWY3DPEHPK3PXP").unwrap())
        })
    }

    proptest! {
        #[test]
        fn parsing_any_secret_never_panics(text in any::<String>(), base32 in "[A-Za-z2-7= ]{0,40}") {
            for candidate in [&text, &base32] {
                if let Some(secret) = TotpSecret::parse(candidate) {
                    prop_assert!(secret.code_at(1_700_000_000).is_some());
                }
            }
        }

        #[test]
        fn only_the_code_of_the_step_verifies(
            secret in secret(),
            sent in header(),
            now in times(),
        ) {
            // The steps before, of and after `now`, those that exist in a `u64`.
            let step = now / 30;
            let window: Vec<String> = [step.checked_sub(1), Some(step), step.checked_add(1)]
                .into_iter()
                .filter_map(|s| s?.checked_mul(30))
                .map(|t| secret.code_at(t).unwrap())
                .collect();
            let expected = window.iter().any(|code| code == sent.trim());
            prop_assert_eq!(secret.verify(&sent, now), expected, "{:?} at {}", sent, now);
        }

        #[test]
        fn the_right_code_verifies_and_its_neighbours_mostly_do_not(
            secret in secret(),
            now in 60..253_402_300_800_u64,
            delta in 1u32..1_000_000,
        ) {
            let code = secret.code_at(now).unwrap();
            prop_assert_eq!(code.len(), DIGITS);
            prop_assert!(secret.verify(&code, now));
            let padded = format!(" {code}\t");
            prop_assert!(secret.verify(&padded, now));
            // Another six-digit code verifies only if it is a neighbouring step's.
            let other = format!("{:06}", (code.parse::<u32>().unwrap() + delta) % 1_000_000);
            let neighbour = [now - 30, now + 30]
                .iter()
                .any(|&t| secret.code_at(t).unwrap() == other);
            prop_assert_eq!(secret.verify(&other, now), neighbour);
            // Codes two steps away are refused (unless they happen to repeat a code in the window).
            let far = secret.code_at(now + 60).unwrap();
            let repeated = [now - 30, now, now + 30]
                .iter()
                .any(|&t| secret.code_at(t).unwrap() == far);
            prop_assert_eq!(secret.verify(&far, now), repeated);
        }
    }
}

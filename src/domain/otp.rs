//! Two-factor authentication with time-based one-time passwords (RFC 6238): SHA-1, six
//! digits, 30-second steps, as GitHub and every authenticator app use them.

use totp_rs::{Algorithm, Secret, TOTP};

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

    /// Whether `code` is valid at `unix_seconds`, give or take one step.
    pub fn verify(&self, code: &str, unix_seconds: u64) -> bool {
        let code = code.trim();
        code.len() == DIGITS
            && code.bytes().all(|b| b.is_ascii_digit())
            && self
                .totp()
                .is_some_and(|totp| totp.check(code, unix_seconds))
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! Two-factor authentication a user turns on, off and manages from the settings pages:
//! enrolment (a new TOTP secret, confirmed with a code before it is stored), GitHub's 16
//! single-use recovery codes (`xxxxx-xxxxx`, hex), and turning it off with the password.
//! The secret is stored sealed by the same store path `grantd user add --totp-secret` uses;
//! recovery codes only as SHA-256 (they are random, so a plain digest suffices).

use super::audit::{Action, NewEvent, Source};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::limits::LoginThrottle;
use super::otp::TotpSecret;
use super::session::Session;
use super::{Error, user};
use crate::domain::secret::Password;
use crate::domain::store::Store;

/// How many recovery codes a user gets at a time (GitHub's number).
pub const RECOVERY_CODES: usize = 16;
/// A recovery code's length as shown: ten hex digits and a dash.
pub const RECOVERY_CODE_LEN: usize = 11;

/// A recovery code in clear: shown once, never stored.
pub struct RecoveryCode(String);

impl RecoveryCode {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What the store keeps of a recovery code as typed: the SHA-256 of its canonical form
/// (trimmed, lower-case), or `None` for anything that is not `xxxxx-xxxxx` in hex.
pub fn recovery_hash(typed: &str) -> Option<[u8; 32]> {
    let typed = typed.trim().to_ascii_lowercase();
    let well_formed = typed.len() == RECOVERY_CODE_LEN
        && typed.bytes().enumerate().all(|(i, b)| {
            if i == 5 {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    well_formed.then(|| Sha256::digest(typed.as_bytes()).into())
}

/// A fresh set of recovery codes; `None` only if the system's random source failed.
fn new_recovery_codes() -> Option<Vec<RecoveryCode>> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 5];
            super::random::fill(&mut bytes).ok()?;
            let digits = hex::encode(bytes);
            Some(RecoveryCode(format!("{}-{}", &digits[..5], &digits[5..])))
        })
        .collect()
}

fn hashes(codes: &[RecoveryCode]) -> Vec<[u8; 32]> {
    codes
        .iter()
        .filter_map(|code| recovery_hash(code.expose()))
        .collect()
}

fn unix(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp()).unwrap_or(0)
}

/// Turns two-factor authentication on for the signed-in user with `secret` (the one the
/// setup page showed) once `code` proves their app holds it. Returns the new recovery codes
/// (to show once), or `None` for a wrong code (nothing stored).
pub async fn enable(
    store: &dyn Store,
    session: &Session,
    secret: &TotpSecret,
    code: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Option<Vec<RecoveryCode>>, Error> {
    if !secret.verify(code, unix(now)) {
        return Ok(None);
    }
    let codes =
        new_recovery_codes().ok_or_else(|| Error::Internal("random source failed".to_owned()))?;
    if !store
        .set_two_factor(
            session.user.id,
            Some(secret),
            &hashes(&codes),
            now,
            &NewEvent::by(
                Action::TwoFactorAuthenticationEnabled,
                &session.user,
                source,
                now,
            ),
        )
        .await?
    {
        return Err(Error::NotFound);
    }
    Ok(Some(codes))
}

/// New recovery codes for a user with 2FA on; the old ones stop working.
pub async fn regenerate_recovery_codes(
    store: &dyn Store,
    session: &Session,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Vec<RecoveryCode>, Error> {
    if session.user.totp_secret.is_none() {
        return Err(Error::NotFound);
    }
    let codes =
        new_recovery_codes().ok_or_else(|| Error::Internal("random source failed".to_owned()))?;
    store
        .replace_recovery_codes(
            session.user.id,
            &hashes(&codes),
            &NewEvent::by(
                Action::TwoFactorAuthenticationRecoveryCodesRegenerated,
                &session.user,
                source,
                now,
            ),
        )
        .await?;
    Ok(codes)
}

/// Turns two-factor authentication off, given the password (a guess counts as a failed login,
/// as on the password form). False for a wrong password.
pub async fn disable(
    store: &dyn Store,
    session: &Session,
    password: Password,
    throttle: LoginThrottle,
    source: &Source,
    now: OffsetDateTime,
) -> Result<bool, Error> {
    match user::sign_in(
        store,
        session.user.login.as_str(),
        password,
        None,
        throttle,
        now,
    )
    .await
    {
        // Right password: with 2FA on, `sign_in` without a code says so.
        Ok(_) | Err(Error::OtpRequired) => {}
        Err(Error::BadCredentials) => return Ok(false),
        Err(other) => return Err(other),
    }
    if !store
        .set_two_factor(
            session.user.id,
            None,
            &[],
            now,
            &NewEvent::by(
                Action::TwoFactorAuthenticationDisabled,
                &session.user,
                source,
                now,
            ),
        )
        .await?
    {
        return Err(Error::NotFound);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_sixteen_distinct_hex_pairs_that_hash_as_typed() {
        let codes = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let hashed = hashes(&codes);
        assert_eq!(hashed.len(), RECOVERY_CODES, "every code is well formed");
        let mut distinct = hashed.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        let first = codes[0].expose();
        assert_eq!(
            recovery_hash(&format!(" {} ", first.to_ascii_uppercase())),
            Some(hashed[0])
        );
        for wrong in [
            "",
            "12345",
            "1234567890a",
            "12345-1234g",
            "123456-1234",
            "12345-12345-",
        ] {
            assert_eq!(recovery_hash(wrong), None, "{wrong}");
        }
    }
}

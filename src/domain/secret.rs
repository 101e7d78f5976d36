//! Passwords and client secrets, and the one-way forms in which they are stored.
//!
//! Passwords are chosen by people, so they get argon2id (a slow, memory-hard hash). Client
//! secrets are 160-bit random values: brute force is hopeless whatever the hash, so they get
//! SHA-256, and a check of an app's secret costs microseconds instead of ~30 ms.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A password in clear, as typed. `Debug` hides it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// An argon2id hash in PHC string form (`$argon2id$v=19$m=19456,t=2,p=1$…`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashString(pub String);

impl fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHashString(…)")
    }
}

/// A PHC string whose verification always fails, verified against when a login is unknown so
/// that "no such user" costs as long as "wrong password" and reveals nothing.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0CGT3nZC1gWZ5cRy0rS54Q5LLi2ZTo1LhnM5JQj0F5Y";

/// How much work hashing a password costs. Either way it is argon2id with a random salt, and
/// the PHC string records the parameters, so verification needs no setting: it recomputes
/// with the parameters the hash was made with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PasswordCost {
    /// The `argon2` crate's defaults (m = 19 MiB, t = 2, p = 1: OWASP's recommendation), for
    /// every database that outlives the process.
    #[default]
    Standard,
    /// argon2id's lowest parameters (m = 8 KiB, t = 1, p = 1), for `serve --ephemeral`'s
    /// throwaway database only: it lives in a private temporary directory and is removed at
    /// exit, so there is no stolen file to brute-force offline, and a test suite's server
    /// starts (and its Basic-auth requests run) without paying ~30 ms of CPU per password.
    /// Django's test settings make the same trade with a fast hasher.
    Throwaway,
}

impl PasswordCost {
    fn hasher(self) -> Result<Argon2<'static>, argon2::password_hash::Error> {
        match self {
            Self::Standard => Ok(Argon2::default()),
            Self::Throwaway => {
                let params = argon2::Params::new(
                    argon2::Params::MIN_M_COST,
                    argon2::Params::MIN_T_COST,
                    argon2::Params::MIN_P_COST,
                    None,
                )?;
                Ok(Argon2::new(
                    argon2::Algorithm::Argon2id,
                    argon2::Version::V0x13,
                    params,
                ))
            }
        }
    }
}

impl Password {
    /// argon2id at [`PasswordCost::Standard`]. CPU-heavy: call from a blocking thread.
    pub fn hash(&self) -> Result<PasswordHashString, argon2::password_hash::Error> {
        self.hash_at(PasswordCost::Standard)
    }

    /// argon2id at `cost`. CPU-heavy at [`PasswordCost::Standard`]: call from a blocking
    /// thread.
    pub fn hash_at(
        &self,
        cost: PasswordCost,
    ) -> Result<PasswordHashString, argon2::password_hash::Error> {
        // Always the OS's, even under `--rng-seed`: a salt only makes stored hashes differ,
        // which no test reads.
        let salt = SaltString::generate(&mut OsRng);
        let hash = cost.hasher()?.hash_password(self.0.as_bytes(), &salt)?;
        Ok(PasswordHashString(hash.to_string()))
    }

    /// Constant-time verification (the `argon2` crate compares digests with `subtle`).
    /// `None` runs a dummy verification of equal cost. CPU-heavy: call from a blocking thread.
    pub fn verify(&self, stored: Option<&PasswordHashString>) -> bool {
        let phc = stored.map_or(DUMMY_HASH, |h| h.0.as_str());
        let matches = PasswordHash::new(phc).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(self.0.as_bytes(), &parsed)
                .is_ok()
        });
        stored.is_some() && matches
    }
}

/// An app's client secret in clear: shown once when created or rotated. `Debug` hides it.
///
/// Its digest is computed once, when it is made: an app's sign-in compares it with each live
/// secret and notes which one was used ("last used"), and each would otherwise hash it again
/// (a SHA-256 per use, on every token check).
#[derive(Clone)]
pub struct ClientSecret {
    text: String,
    digest: SecretDigest,
}

impl ClientSecret {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let digest = SecretDigest(Sha256::digest(text.as_bytes()).into());
        Self { text, digest }
    }

    /// 40 lowercase hex characters (160 bits) from the OS's CSPRNG, as GitHub's.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 20];
        super::random::fill(&mut bytes)?;
        Ok(Self::new(hex::encode(bytes)))
    }

    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn digest(&self) -> SecretDigest {
        self.digest
    }

    /// The hint GitHub shows of a secret once it is no longer shown: its last eight characters.
    pub fn last_eight(&self) -> String {
        let start = self
            .text
            .char_indices()
            .rev()
            .nth(7)
            .map_or(0, |(at, _)| at);
        self.text[start..].to_owned()
    }
}

/// How many client secrets an app may have at a time, as on GitHub: two, so that an app can
/// rotate without downtime.
pub const MAX_LIVE_SECRETS: usize = 2;

/// The digests of an app's live client secrets, oldest first: what a sign-in compares with.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct SecretDigests([Option<SecretDigest>; MAX_LIVE_SECRETS]);

impl SecretDigests {
    /// The first [`MAX_LIVE_SECRETS`] of `digests` (the store never holds more).
    pub fn new(digests: impl IntoIterator<Item = SecretDigest>) -> Self {
        let mut slots = [None; MAX_LIVE_SECRETS];
        for (slot, digest) in slots.iter_mut().zip(digests) {
            *slot = Some(digest);
        }
        Self(slots)
    }

    /// Whether `candidate` is one of the secrets. Every slot is compared, in constant time,
    /// whether it holds a secret or not, so the timing says neither which secret matched nor
    /// how many the app has.
    pub fn matches(&self, candidate: &ClientSecret) -> bool {
        let sent = candidate.digest();
        let mut found = subtle::Choice::from(0);
        for slot in &self.0 {
            let (present, digest) = match slot {
                Some(digest) => (1, digest.0),
                None => (0, [0; 32]),
            };
            found |= subtle::Choice::from(present) & digest.ct_eq(&sent.0);
        }
        found.into()
    }

    /// Whether `digest` is one of them (fixtures: is the file's secret still live?).
    pub fn contains(&self, digest: &SecretDigest) -> bool {
        self.0.iter().flatten().any(|d| d == digest)
    }

    pub fn len(&self) -> usize {
        self.0.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for SecretDigests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretDigests({} live)", self.len())
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

/// The SHA-256 of a client secret, the only form stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretDigest(pub [u8; 32]);

impl SecretDigest {
    /// Constant time, so response timing says nothing about how much of a guess was right.
    pub fn matches(&self, candidate: &ClientSecret) -> bool {
        self.0.ct_eq(&candidate.digest().0).into()
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretDigest(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_verifies_only_the_right_password() {
        let hash = Password::new("correct horse").hash().unwrap();
        assert!(hash.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(Password::new("correct horse").verify(Some(&hash)));
        assert!(!Password::new("correct horsE").verify(Some(&hash)));
        assert!(!Password::new("correct horse").verify(None));
    }

    #[test]
    fn a_throwaway_hash_records_its_low_cost_and_verifies_like_any_other() {
        let hash = Password::new("correct horse")
            .hash_at(PasswordCost::Throwaway)
            .unwrap();
        assert!(
            hash.0.starts_with("$argon2id$v=19$m=8,t=1,p=1$"),
            "{}",
            hash.0
        );
        assert!(Password::new("correct horse").verify(Some(&hash)));
        assert!(!Password::new("correct horsE").verify(Some(&hash)));
        let standard = Password::new("x").hash_at(PasswordCost::Standard).unwrap();
        assert!(standard.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn dummy_hash_is_well_formed_so_unknown_logins_cost_a_full_verification() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn client_secrets_are_40_hex_and_match_their_digest_only() {
        let secret = ClientSecret::generate().unwrap();
        assert_eq!(secret.expose().len(), 40);
        assert!(secret.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        let digest = secret.digest();
        assert!(digest.matches(&secret));
        assert!(!digest.matches(&ClientSecret::new("0".repeat(40))));
    }

    #[test]
    fn either_live_secret_matches_and_nothing_else() {
        let (old, new) = (
            ClientSecret::generate().unwrap(),
            ClientSecret::generate().unwrap(),
        );
        let both = SecretDigests::new([old.digest(), new.digest()]);
        assert!(both.matches(&old) && both.matches(&new));
        assert!(!both.matches(&ClientSecret::new("0".repeat(40))));
        let one = SecretDigests::new([new.digest()]);
        assert!(!one.matches(&old) && one.matches(&new));
        assert_eq!((both.len(), one.len()), (2, 1));
        // An app without secrets signs in with none, not even the empty one.
        assert!(!SecretDigests::default().matches(&ClientSecret::new("")));
        assert_eq!(
            ClientSecret::new("3ef4ad510c59ad37bac6bb4f80047fb3aee3cc7f").last_eight(),
            "aee3cc7f"
        );
        assert_eq!(ClientSecret::new("abc").last_eight(), "abc");
    }

    #[test]
    fn debug_hides_secrets() {
        assert_eq!(format!("{:?}", Password::new("hunter2")), "Password(***)");
        assert_eq!(
            format!("{:?}", ClientSecret::new("abc")),
            "ClientSecret(***)"
        );
    }
}

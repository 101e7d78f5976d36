//! The secret key that seals users' TOTP secrets in the database (`domain::otp::SeedCipher`),
//! and where a store finds it. The key is kept apart from the database so that a copy of the
//! database (or of an export) alone yields no TOTP secret.
//!
//! - SQLite: `--secret-key-file`, else `<database>.key` beside the database file, created
//!   owner-only with a new random key on first start; an in-memory database gets a key that
//!   lives as long as it does.
//! - PostgreSQL: every node must seal and open with the same key, so it is never made up: it
//!   must be given (`--secret-key-file`) and exist, and a node given none refuses to start once
//!   the database holds a TOTP secret.
//!
//! At every start the store opens every stored secret with the key (a wrong or lost key stops
//! the start with a message, instead of locking 2FA users out one sign-in at a time) and seals
//! the ones stored in clear by an older grantd.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::files;
use super::{Error, Result};
use crate::domain::UserId;
use crate::domain::otp::{SEED_KEY_LEN, SeedCipher, TotpSecret};

/// Where a store's key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// This file; created with a new key if it does not exist and `create` allows it.
    File { path: PathBuf, create: bool },
    /// A new random key, never written anywhere (an in-memory database).
    Ephemeral,
    /// No key: no TOTP secret can be stored or read (PostgreSQL without `--secret-key-file`).
    None,
}

/// The key of one database, as the SQL code uses it.
#[derive(Debug)]
pub struct Seeds {
    cipher: Option<SeedCipher>,
    /// For messages: where the key is.
    origin: String,
}

fn failure(message: String) -> Error {
    Error::Backend(message.into())
}

const NO_KEY: &str = "no secret key for TOTP secrets: give every node the same \
                      --secret-key-file (GRANTD_SECRET_KEY_FILE); see docs/security.md";

impl Seeds {
    /// The key from `source`, for a database where `sealed_exist` tells whether any secret is
    /// sealed already (then a missing key file is lost, not new, and is not made up).
    pub fn load(source: &KeySource, sealed_exist: bool) -> Result<Self> {
        match source {
            KeySource::None => Ok(Self {
                cipher: None,
                origin: "no key".to_owned(),
            }),
            KeySource::Ephemeral => {
                let mut key = [0u8; SEED_KEY_LEN];
                getrandom::fill(&mut key).map_err(|e| failure(format!("no random key: {e}")))?;
                Ok(Self {
                    cipher: Some(SeedCipher::new(&key)),
                    origin: "an in-memory key".to_owned(),
                })
            }
            KeySource::File { path, create } => {
                let key = read_or_create(path, *create && !sealed_exist)?;
                Ok(Self {
                    cipher: Some(SeedCipher::new(&key)),
                    origin: path.display().to_string(),
                })
            }
        }
    }

    fn cipher(&self) -> Result<&SeedCipher> {
        self.cipher
            .as_ref()
            .ok_or_else(|| failure(NO_KEY.to_owned()))
    }

    /// The stored form of `user`'s secret.
    pub fn seal(&self, secret: &TotpSecret, user: UserId) -> Result<String> {
        self.cipher()?
            .seal(secret, user)
            .ok_or_else(|| failure("cannot seal a TOTP secret: no random nonce".to_owned()))
    }

    /// The secret `stored` in `user`'s row.
    pub fn open(&self, stored: &str, user: UserId) -> Result<TotpSecret> {
        self.cipher()?.open(stored, user).ok_or_else(|| {
            failure(format!(
                "the TOTP secret of user {user} does not open with the secret key ({}): \
                 not the key this database's secrets were sealed with, or the row was altered",
                self.origin
            ))
        })
    }

    /// A secret as a dump or an older grantd stored it: sealed (opened with this key, which
    /// must be the key it was sealed with) or in clear.
    pub fn open_any(&self, stored: &str, user: UserId) -> Result<TotpSecret> {
        if SeedCipher::is_sealed(stored) {
            self.open(stored, user)
        } else {
            TotpSecret::parse(stored).ok_or_else(|| {
                failure(format!(
                    "the TOTP secret of user {user} is not valid base32"
                ))
            })
        }
    }

    /// Whether a secret is stored in clear (by a grantd older than sealing).
    pub fn is_clear(stored: &str) -> bool {
        !SeedCipher::is_sealed(stored)
    }
}

/// Reads the key in `path` (64 hex digits), creating the file owner-only with a new random key
/// if it is missing and `create` allows it.
fn read_or_create(path: &Path, create: bool) -> Result<[u8; SEED_KEY_LEN]> {
    let shown = path.display();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            files::make_owner_only(path);
            let mut key = [0u8; SEED_KEY_LEN];
            hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
                failure(format!(
                    "{shown} is not a grantd secret key (64 hex digits, such as `openssl rand -hex 32` prints)"
                ))
            })?;
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
            let mut key = [0u8; SEED_KEY_LEN];
            getrandom::fill(&mut key).map_err(|e| failure(format!("no random key: {e}")))?;
            let mut file = match files::create_private(path) {
                Ok(file) => file,
                // Another process created it meanwhile: its key is the one.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    return read_or_create(path, false);
                }
                Err(error) => return Err(failure(format!("cannot create {shown}: {error}"))),
            };
            // Written and synced before any secret is sealed with it: a key lost in a crash
            // would lock every 2FA user out.
            writeln!(file, "{}", hex::encode(key))
                .and_then(|()| file.sync_all())
                .map_err(|e| failure(format!("cannot write {shown}: {e}")))?;
            tracing::info!(
                "created the secret key {shown} (it seals TOTP secrets: back it up apart from the database)"
            );
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(failure(format!(
            "the secret key file {shown} does not exist. If the database holds sealed TOTP \
             secrets, restore the key from its back-up; a PostgreSQL deployment needs the same \
             key file on every node, created once (`openssl rand -hex 32 > FILE; chmod 600 FILE`)"
        ))),
        Err(error) => Err(failure(format!("cannot read {shown}: {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_once_owner_only_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grantd.db.key");
        let source = KeySource::File {
            path: path.clone(),
            create: true,
        };
        let secret = TotpSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
        let sealed = Seeds::load(&source, false)
            .unwrap()
            .seal(&secret, UserId(1))
            .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let again = Seeds::load(&source, true).unwrap();
        assert_eq!(again.open(&sealed, UserId(1)).unwrap(), secret);
        assert_eq!(
            again.open_any("jbsw y3dp ehpk 3pxp", UserId(1)).unwrap(),
            secret
        );

        // A lost key is not replaced by a new one while sealed secrets exist.
        std::fs::remove_file(&path).unwrap();
        let lost = Seeds::load(&source, true).unwrap_err().to_string();
        assert!(lost.contains("does not exist"), "{lost}");
        assert!(!path.exists());
        // Nor made up on PostgreSQL.
        let given = KeySource::File {
            path: path.clone(),
            create: false,
        };
        assert!(Seeds::load(&given, false).is_err());
        std::fs::write(&path, "not hex\n").unwrap();
        let bad = Seeds::load(&given, false).unwrap_err().to_string();
        assert!(bad.contains("64 hex digits"), "{bad}");
        let none = Seeds::load(&KeySource::None, false).unwrap();
        assert!(none.seal(&secret, UserId(1)).is_err());
    }
}

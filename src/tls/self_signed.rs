//! `--tls-self-signed`: a local certificate authority, made once and kept beside the database,
//! and a server certificate it signs for the public URL's host, `localhost`, `127.0.0.1` and
//! `::1`. A client trusts the CA's file (`SSL_CERT_FILE`, `NODE_EXTRA_CA_CERTS`,
//! `REQUESTS_CA_BUNDLE`) once, and keeps trusting the server across restarts and across
//! server certificates: a new host, or a certificate near its end, gets a new server
//! certificate from the same CA.
//!
//! Every file is written owner-only (0600): the keys are what a client's trust rests on.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::Digest;
use time::OffsetDateTime;

use super::Error;
use crate::store::files::{create_private, make_owner_only, with_suffix};

/// The CA lasts long: every client that trusts it would have to be told of a new one.
const CA_LIFETIME: time::Duration = time::Duration::days(3_650);
/// Server certificates last 397 days, the most that Apple's and Chrome's clients accept.
const SERVER_LIFETIME: time::Duration = time::Duration::days(397);
/// A server certificate with less than this left is made anew at start.
const RENEW_BEFORE: time::Duration = time::Duration::days(30);
/// Certificates start a day back, so a client whose clock is a little behind accepts them.
const BACKDATE: time::Duration = time::Duration::days(1);

/// The four files, beside the database: `grantd.db.tls-ca.pem` (the one clients trust),
/// `….tls-ca-key.pem`, `….tls-cert.pem` and `….tls-key.pem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Files {
    /// The files kept beside the SQLite database file `database`.
    pub fn beside(database: &Path) -> Self {
        Self {
            ca_cert: with_suffix(database, ".tls-ca.pem"),
            ca_key: with_suffix(database, ".tls-ca-key.pem"),
            cert: with_suffix(database, ".tls-cert.pem"),
            key: with_suffix(database, ".tls-key.pem"),
        }
    }
}

/// What [`ensure`] did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The CA and the server certificate were there and fit.
    Reused,
    /// The CA was there; the server certificate was made anew, for this reason.
    NewServerCertificate(String),
    /// Nothing was there: a new CA and server certificate.
    NewCa,
}

/// The names the server certificate covers: the public URL's host (unless an unspecified
/// address such as `0.0.0.0`), then the loopback names.
pub fn names(public_host: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(4);
    let wanted = public_host.filter(|host| {
        host.parse::<std::net::IpAddr>()
            .map_or(true, |ip| !ip.is_unspecified())
    });
    for name in wanted.into_iter().chain(["localhost", "127.0.0.1", "::1"]) {
        let name = name.to_ascii_lowercase();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The host of an absolute `http(s)://` URL, without brackets around an IPv6 address,
/// lowercased; `None` if it has none.
pub fn host_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split_once(']')?.0
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Makes what is missing or no longer fits, and keeps the rest: a CA if there is none, and
/// a server certificate by it for `names` unless the one there is by this CA, covers every
/// name and lasts another 30 days. A CA file without its key (or the reverse), or a CA whose
/// key does not match, is an error: replacing the CA silently would break every client
/// that trusts it.
pub fn ensure(files: &Files, names: &[String], now: OffsetDateTime) -> Result<Outcome, Error> {
    let ca_cert_exists = files.ca_cert.exists();
    let ca_key_exists = files.ca_key.exists();
    let (ca_cert, ca_key, new_ca) = match (ca_cert_exists, ca_key_exists) {
        (true, true) => {
            for path in [&files.ca_cert, &files.ca_key, &files.cert, &files.key] {
                make_owner_only(path);
            }
            // Loaded as a chain and its key: the same checks, and the same errors, as a
            // server certificate gets.
            let loaded = super::load(&files.ca_cert, &files.ca_key)?;
            let ca_key = KeyPair::from_pem(&read_text(&files.ca_key)?)
                .map_err(|error| self_signed(&files.ca_key, &error))?;
            (loaded.cert[0].clone(), ca_key, false)
        }
        (false, false) => {
            let (ca_cert, ca_key) = make_ca(now)?;
            write_new(&files.ca_key, &ca_key.serialize_pem())?;
            write_new(&files.ca_cert, &ca_cert.pem())?;
            (ca_cert.der().clone(), ca_key, true)
        }
        (true, false) | (false, true) => {
            let (there, missing) = if ca_cert_exists {
                (&files.ca_cert, &files.ca_key)
            } else {
                (&files.ca_key, &files.ca_cert)
            };
            return Err(Error::SelfSigned(format!(
                "{} is there but {} is not: restore it, or remove both to have a new CA made \
                 (clients trusting the old one must then be given the new one)",
                there.display(),
                missing.display()
            )));
        }
    };
    let reason = if new_ca {
        None
    } else {
        server_certificate_unfit(files, &ca_cert, names, now)
    };
    if !new_ca && reason.is_none() {
        return Ok(Outcome::Reused);
    }
    let (cert, key) = make_server_certificate(&ca_key, names, now)?;
    // Written whole under a new name, then renamed over the old: a SIGHUP reload, or a
    // second server starting, never reads half a file.
    replace(&files.key, &key.serialize_pem())?;
    replace(&files.cert, &cert.pem())?;
    Ok(match reason {
        Some(reason) => Outcome::NewServerCertificate(reason),
        None => Outcome::NewCa,
    })
}

/// Why the server certificate in `files` cannot be kept, or `None` if it can.
fn server_certificate_unfit(
    files: &Files,
    ca_cert: &CertificateDer<'static>,
    names: &[String],
    now: OffsetDateTime,
) -> Option<String> {
    if !files.cert.exists() || !files.key.exists() {
        return Some("there was none".to_owned());
    }
    let loaded = match super::load(&files.cert, &files.key) {
        Ok(loaded) => loaded,
        Err(error) => return Some(error.to_string()),
    };
    let mut roots = rustls::RootCertStore::empty();
    if let Err(error) = roots.add(ca_cert.clone()) {
        return Some(format!("the CA certificate is not usable: {error}"));
    }
    let verifier = match rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        super::provider(),
    )
    .build()
    {
        Ok(verifier) => verifier,
        Err(error) => return Some(error.to_string()),
    };
    let at = now + RENEW_BEFORE;
    let at = UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(at.unix_timestamp()).unwrap_or(0),
    ));
    let (leaf, intermediates) = loaded.cert.split_first()?;
    for name in names {
        let Ok(server_name) = ServerName::try_from(name.as_str()) else {
            return Some(format!("{name} is not a host name or an IP address"));
        };
        if let Err(error) = verifier.verify_server_cert(leaf, intermediates, &server_name, &[], at)
        {
            return Some(format!("not valid for {name} 30 days from now: {error}"));
        }
    }
    None
}

/// A new CA: its certificate and its key.
fn make_ca(now: OffsetDateTime) -> Result<(rcgen::Certificate, KeyPair), Error> {
    let key = KeyPair::generate().map_err(|error| Error::SelfSigned(error.to_string()))?;
    let mut params = ca_params(&key);
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_LIFETIME;
    let cert = params
        .self_signed(&key)
        .map_err(|error| Error::SelfSigned(error.to_string()))?;
    Ok((cert, key))
}

/// What a certificate the CA issues names as its issuer. Rebuilt from the CA's key alone
/// (the name carries the key's fingerprint, so two grantd CAs a client trusts are told
/// apart), so signing needs no parsing of the stored CA certificate.
fn ca_params(key: &KeyPair) -> CertificateParams {
    let fingerprint = hex::encode(&sha2::Sha256::digest(key.public_key_raw())[..4]);
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "grantd");
    name.push(DnType::CommonName, format!("grantd local CA {fingerprint}"));
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    // It signs server certificates only, never another CA.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A new server certificate for `names`, signed by the CA whose key is `ca_key`.
fn make_server_certificate(
    ca_key: &KeyPair,
    names: &[String],
    now: OffsetDateTime,
) -> Result<(rcgen::Certificate, KeyPair), Error> {
    let failed = |error: rcgen::Error| Error::SelfSigned(error.to_string());
    let key = KeyPair::generate().map_err(failed)?;
    let mut params = CertificateParams::new(names.to_vec()).map_err(failed)?;
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    params.distinguished_name = name;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - BACKDATE;
    params.not_after = now + SERVER_LIFETIME;
    let issuer = Issuer::new(ca_params(ca_key), ca_key);
    let cert = params.signed_by(&key, &issuer).map_err(failed)?;
    Ok((cert, key))
}

fn self_signed(path: &Path, error: &rcgen::Error) -> Error {
    Error::SelfSigned(format!("{}: {error}", path.display()))
}

fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = super::read_pem(path)?;
    String::from_utf8(bytes).map_err(|_| Error::BadPem {
        path: path.to_owned(),
        reason: "not UTF-8 text".to_owned(),
    })
}

/// Writes a new owner-only file; fails if one is there.
fn write_new(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    let write = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = create_private(path).map_err(write)?;
    file.write_all(text.as_bytes()).map_err(write)?;
    file.sync_all().map_err(write)
}

/// Replaces `path` (or creates it) owner-only, atomically.
fn replace(path: &Path, text: &str) -> Result<(), Error> {
    let partial = with_suffix(path, &format!(".{}.new", std::process::id()));
    let _ = std::fs::remove_file(&partial);
    write_new(&partial, text)?;
    std::fs::rename(&partial, path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_for(host: &str) -> Vec<String> {
        names(Some(host))
    }

    #[test]
    fn the_host_of_a_public_url() {
        assert_eq!(
            host_of("https://GHE.example.com/api/v3"),
            Some("ghe.example.com".into())
        );
        assert_eq!(host_of("https://127.0.0.1:8443"), Some("127.0.0.1".into()));
        assert_eq!(host_of("https://[::1]:8443/x"), Some("::1".into()));
        assert_eq!(host_of("http://grantd.test"), Some("grantd.test".into()));
        assert_eq!(host_of("nothing"), None);
    }

    #[test]
    fn names_start_with_the_host_and_never_repeat() {
        assert_eq!(
            names_for("grantd.test"),
            ["grantd.test", "localhost", "127.0.0.1", "::1"]
        );
        assert_eq!(names_for("127.0.0.1"), ["127.0.0.1", "localhost", "::1"]);
        assert_eq!(names_for("0.0.0.0"), ["localhost", "127.0.0.1", "::1"]);
    }

    #[test]
    fn files_are_made_once_owner_only_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::beside(&dir.path().join("grantd.db"));
        let now = OffsetDateTime::now_utc();
        let names = names_for("grantd.test");
        assert_eq!(ensure(&files, &names, now).unwrap(), Outcome::NewCa);
        let first = std::fs::read(&files.cert).unwrap();
        #[cfg(unix)]
        for path in [&files.ca_cert, &files.ca_key, &files.cert, &files.key] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        assert_eq!(ensure(&files, &names, now).unwrap(), Outcome::Reused);
        assert_eq!(std::fs::read(&files.cert).unwrap(), first);
        super::super::load(&files.cert, &files.key).unwrap();
    }

    #[test]
    fn a_new_host_or_a_certificate_near_its_end_gets_a_new_server_certificate_by_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::beside(&dir.path().join("grantd.db"));
        let now = OffsetDateTime::now_utc();
        ensure(&files, &names_for("one.test"), now).unwrap();
        let ca = std::fs::read(&files.ca_cert).unwrap();
        let outcome = ensure(&files, &names_for("two.test"), now).unwrap();
        assert!(
            matches!(&outcome, Outcome::NewServerCertificate(why) if why.contains("two.test")),
            "{outcome:?}"
        );
        assert_eq!(std::fs::read(&files.ca_cert).unwrap(), ca, "the CA is kept");
        assert_eq!(
            ensure(&files, &names_for("two.test"), now).unwrap(),
            Outcome::Reused
        );
        // 380 days on, fewer than 30 are left.
        let later = now + time::Duration::days(380);
        assert!(matches!(
            ensure(&files, &names_for("two.test"), later).unwrap(),
            Outcome::NewServerCertificate(_)
        ));
        assert_eq!(std::fs::read(&files.ca_cert).unwrap(), ca);
    }

    #[test]
    fn a_ca_certificate_without_its_key_is_an_error_not_a_new_ca() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::beside(&dir.path().join("grantd.db"));
        let now = OffsetDateTime::now_utc();
        ensure(&files, &names_for("one.test"), now).unwrap();
        std::fs::remove_file(&files.ca_key).unwrap();
        let error = ensure(&files, &names_for("one.test"), now)
            .unwrap_err()
            .to_string();
        assert!(error.contains("tls-ca.pem is there but"), "{error}");
        assert!(files.ca_cert.exists());
    }
}

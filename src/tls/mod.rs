//! HTTPS: the certificate and key `serve` presents (`--tls-cert`/`--tls-key`, or the files
//! `--tls-self-signed` makes), re-read on SIGHUP, and the rustls configuration handshakes use.
//! The accept loop (`server.rs`) does the handshakes; nothing here knows HTTP or a route.
//!
//! TLS 1.2 and 1.3 only (rustls has nothing older), the `ring` provider, and ALPN `h2` then
//! `http/1.1`: HTTP/2 for clients that offer it (Go's, so `gh`; browsers), HTTP/1.1 otherwise.

pub mod self_signed;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, SupportedProtocolVersion};
use tokio_rustls::TlsAcceptor;

/// The versions served: TLS 1.0 and 1.1 are broken (RFC 8996), and rustls has neither.
pub static PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A PEM file larger than this is not a certificate chain or a key (a chain of ten 4096-bit
/// RSA certificates is ~20 KiB): read no further than this.
const MAX_PEM_FILE: u64 = 1024 * 1024;

/// Why a certificate or key cannot be used. Each names the file, for the operator to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is larger than 1 MiB: not a PEM certificate chain or key", path.display())]
    TooLarge { path: PathBuf },
    #[error("{} is not valid PEM: {reason}", path.display())]
    BadPem { path: PathBuf, reason: String },
    #[error("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display())]
    NoCertificate { path: PathBuf },
    #[error(
        "{} holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)",
        path.display()
    )]
    NoKey { path: PathBuf },
    #[error("the key in {} cannot be used: {reason}", path.display())]
    BadKey { path: PathBuf, reason: String },
    #[error(
        "the key in {} does not belong to the certificate in {} ({reason})",
        key.display(),
        cert.display()
    )]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("cannot make the self-signed certificate: {0}")]
    SelfSigned(String),
    #[error("cannot configure TLS: {0}")]
    Config(String),
}

/// What serves HTTPS: the current certificate, and the acceptors that present it. Cheap to
/// clone (one shared pointer).
#[derive(Clone)]
pub struct Tls(Arc<Inner>);

struct Inner {
    certificate: Arc<Certificate>,
    serving: TlsAcceptor,
    /// For connections over `--max-connections`, which are answered 503 in HTTP/1.1: it
    /// offers only `http/1.1`, so that a client offering `h2` does not read that answer as
    /// HTTP/2.
    refusing: TlsAcceptor,
}

impl Tls {
    /// Loads the PEM certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or
    /// SEC1), checking that they belong together.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, Error> {
        let certificate = Arc::new(Certificate {
            current: ArcSwap::from_pointee(load(cert, key)?),
            cert_file: cert.to_owned(),
            key_file: key.to_owned(),
        });
        let serving = server_config(&certificate, &[b"h2", b"http/1.1"])?;
        let refusing = server_config(&certificate, &[b"http/1.1"])?;
        Ok(Self(Arc::new(Inner {
            certificate,
            serving: TlsAcceptor::from(serving),
            refusing: TlsAcceptor::from(refusing),
        })))
    }

    /// Reads the certificate and key files again and presents them from the next handshake
    /// on; open connections keep theirs. On an error the certificate in use stays.
    pub fn reload(&self) -> Result<(), Error> {
        let certificate = &self.0.certificate;
        let loaded = load(&certificate.cert_file, &certificate.key_file)?;
        certificate.current.store(Arc::new(loaded));
        Ok(())
    }

    /// The certificate file, for the log.
    pub fn cert_file(&self) -> &Path {
        &self.0.certificate.cert_file
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.0.serving
    }

    pub(crate) fn refusing_acceptor(&self) -> &TlsAcceptor {
        &self.0.refusing
    }
}

/// rustls' configuration presenting `certificate`, offering the `alpn` protocols.
fn server_config(
    certificate: &Arc<Certificate>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        // Only if the provider had no cipher suite for these versions; ring has.
        .map_err(|error| Error::Config(error.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(certificate.clone());
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate handshakes present, swapped whole on reload: a handshake reads one
/// consistent chain and key, never half of each.
#[derive(Debug)]
struct Certificate {
    current: ArcSwap<CertifiedKey>,
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Reads a PEM file whole, bounded.
fn read_pem(path: &Path) -> Result<Vec<u8>, Error> {
    let read = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err(Error::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// The chain in `cert` and the key in `key`, checked to belong together.
pub(crate) fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, Error> {
    let chain = certificates(cert, &read_pem(cert)?)?;
    let private_key = private_key(key, &read_pem(key)?)?;
    let signing_key = provider()
        .key_provider
        .load_private_key(private_key)
        .map_err(|error| Error::BadKey {
            path: key.to_owned(),
            reason: error.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|error| Error::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        reason: error.to_string(),
    })?;
    Ok(certified)
}

fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| Error::BadPem {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
    if chain.is_empty() {
        return Err(Error::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn private_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(key) => Ok(key),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => Err(Error::NoKey {
            path: path.to_owned(),
        }),
        Err(error) => Err(Error::BadPem {
            path: path.to_owned(),
            reason: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tls_1_2_and_1_3_are_served() {
        let versions: Vec<_> = PROTOCOL_VERSIONS.iter().map(|v| v.version).collect();
        assert_eq!(
            versions,
            [
                rustls::ProtocolVersion::TLSv1_3,
                rustls::ProtocolVersion::TLSv1_2
            ]
        );
    }

    #[test]
    fn a_missing_or_empty_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let error = load(&missing, &empty).err().unwrap().to_string();
        assert!(error.starts_with("cannot read "), "{error}");
        assert!(error.contains("missing.pem"), "{error}");
        let error = load(&empty, &empty).err().unwrap().to_string();
        assert!(
            error.contains("empty.pem holds no PEM certificate"),
            "{error}"
        );
    }
}

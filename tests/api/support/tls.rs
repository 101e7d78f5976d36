//! HTTPS for the suite: certificates made by grantd's own `--tls-self-signed` code (a local CA
//! and a server certificate by it), clients that trust one CA and nothing else, and raw TLS
//! connections for tests that must hold one connection across a reload.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use grantd::tls::self_signed::{self, Files};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

/// A CA and a server certificate by it, made in `dir` (as `--tls-self-signed` makes them
/// beside `dir/grantd.db`), for `host`, localhost, 127.0.0.1 and ::1.
pub fn make_certificates(dir: &Path, host: &str) -> Files {
    make_certificates_for(dir, &self_signed::names(Some(host)))
}

/// The same, for exactly `names`.
pub fn make_certificates_for(dir: &Path, names: &[String]) -> Files {
    let files = Files::beside(&dir.join("grantd.db"));
    self_signed::ensure(&files, names, time::OffsetDateTime::now_utc())
        .expect("make a CA and a server certificate");
    files
}

/// A reqwest client that trusts the CA in `ca_pem` and no other (HTTP/2 offered by ALPN).
pub fn client_trusting(ca_pem: &[u8]) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem).expect("a PEM certificate"))
}

/// rustls' client configuration trusting the CA in `ca_pem` alone, offering `alpn`.
pub fn client_config(ca_pem: &[u8], alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.expect("a PEM certificate")).expect("a CA");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS 1.2 and 1.3")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection to `addr` for `server_name`, trusting the CA in `ca_pem` alone, offering
/// HTTP/1.1 only; the handshake's error if the server's certificate is not trusted.
pub async fn tls_connect(
    addr: SocketAddr,
    server_name: &str,
    ca_pem: &[u8],
) -> std::io::Result<TlsStream<TcpStream>> {
    let connector = TlsConnector::from(client_config(ca_pem, &[b"http/1.1"]));
    let tcp = TcpStream::connect(addr).await?;
    let name =
        rustls::pki_types::ServerName::try_from(server_name.to_owned()).expect("a server name");
    connector.connect(name, tcp).await
}

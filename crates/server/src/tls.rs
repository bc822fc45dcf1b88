//! HTTPS: a certificate chain and private key in PEM files, served with rustls.
//!
//! The handshake runs in the accept loop ([`crate::listener`]), inside the connection's own
//! task and under the header-read timeout, so a client that opens a connection and never
//! finishes its handshake holds one connection slot for that long and no more. Only HTTP/1.1
//! is offered through ALPN, as on plain connections. rustls runs on the `ring` provider, the
//! one the workspace's HTTP client already uses.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Where the certificate chain (leaf first) and its private key are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the TLS {what} {}", path.display()))
}

/// Loads the files and builds the acceptor; every problem is reported before the server
/// listens, naming the file.
pub fn acceptor(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let pem = read(&files.cert, "certificate")?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a PEM certificate chain", files.cert.display()))?;
    if certs.is_empty() {
        bail!("{}: no certificate in the file", files.cert.display());
    }
    // The key's bytes are never put into an error message or a log.
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key, "private key")?)
        .map_err(|_| anyhow::anyhow!("{}: no PEM private key in the file", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and private key do not go together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

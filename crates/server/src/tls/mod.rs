//! HTTPS for `countersign-server serve`: a certificate and key from PEM
//! files (`--tls-cert`, `--tls-key`), read again when the process gets
//! `SIGHUP` (a renewed certificate without a restart), or a development
//! certificate for the loopback names (`--tls-self-signed`,
//! [`self_signed`]). Handshakes run on tasks of their own, so a slow or
//! silent client never holds up the others' connections.

pub mod self_signed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

/// Longest a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the server to take them.
const ACCEPTED_QUEUE: usize = 1024;
/// Most handshakes under way at once: past it the listener stops
/// accepting, and the kernel's backlog holds the connections (a flood of
/// silent clients cannot use up the process's descriptors).
const MAX_HANDSHAKES: usize = 512;

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the key's contents).
        message: String,
    },
    /// The key does not fit the certificate, or rustls refuses them.
    #[error("{0}")]
    Invalid(String),
}

/// Where the certificate chain and its private key are, as PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads `files` into a key rustls can serve.
///
/// # Errors
/// [`TlsError`]: unreadable, not PEM, no certificate, or a key that does not
/// match the certificate.
pub fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let file_error = |path: &Path, message: String| TlsError::File { path: path.to_owned(), message };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| file_error(&files.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(&files.cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_error(&files.cert, "no CERTIFICATE in the file".into()));
    }
    // The error of a key file says what is wrong with its form only.
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| file_error(&files.key, format!("no usable private key: {e}")))?;
    let certified = CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| TlsError::Invalid(format!("{} and {}: {e}", files.cert.display(), files.key.display())))?;
    Ok(Arc::new(certified))
}

/// The certificate served, replaced in place by [`Certificates::reload`].
#[derive(Debug)]
pub struct Certificates {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificates {
    /// Reads `files` once.
    ///
    /// # Errors
    /// As [`load`].
    pub fn open(files: TlsFiles) -> Result<Arc<Certificates>, TlsError> {
        let current = RwLock::new(load(&files)?);
        Ok(Arc::new(Certificates { files, current }))
    }

    /// Reads the files again; on an error the certificate served stays.
    ///
    /// # Errors
    /// As [`load`].
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = load(&self.files)?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// The rustls configuration serving these certificates (HTTP/1.1).
    ///
    /// # Errors
    /// rustls refuses its protocol versions (it does not with its defaults).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Invalid(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
    }
}

/// A TCP listener whose connections are handed over once their TLS
/// handshake is done (`axum::serve` takes it as any listener).
pub struct TlsListener {
    local: SocketAddr,
    accepted: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Accepts on `listener` with `config`; the accepting task, and the
    /// socket with it, ends when the [`TlsListener`] is dropped (axum drops
    /// it when shutting down).
    ///
    /// # Errors
    /// The listener has no local address.
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, accepted) = tokio::sync::mpsc::channel(ACCEPTED_QUEUE);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let permit = tokio::select! {
                    permit = handshakes.clone().acquire_owned() => match permit {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    () = tx.closed() => break,
                };
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = tx.closed() => break,
                };
                let (tcp, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // As axum's own listener: out of descriptors and the
                        // like pass; wait a second.
                        tracing::warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, accepted })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(conn) => conn,
            // The accepting task never ends while this receiver lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Reloads `certificates` at every `SIGHUP` (Unix) until the process ends.
pub fn reload_on_sighup(certificates: Arc<Certificates>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("no certificate reload on SIGHUP: {e}");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            match certificates.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => tracing::error!("TLS certificate not reloaded, the previous one stays: {e}"),
            }
        }
    });
    #[cfg(not(unix))]
    drop(certificates);
}

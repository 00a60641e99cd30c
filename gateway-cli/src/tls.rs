//! HTTPS set-up, one for every server (the raw-TCP servers' TLS layer and hyper's
//! tokio-rustls alike): the certificate chain and key from PEM files, or a self-signed
//! pair for a first try; client certificates; reloading the certificate on SIGHUP
//! without dropping a connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use crate::args::{ClientAuth, TlsArgs};

/// Why HTTPS could not be set up; each names the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("{what} {path}: {reason}")]
    File {
        /// What the file was to hold ("certificate chain", "private key", ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the certificate, the key or the client CA.
    #[error("{0}")]
    Rustls(String),
}

fn file_error(what: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        what,
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// The certificate the server presents: swapped whole on reload, read by every new
/// handshake (a handshake in progress keeps the one it started with).
#[derive(Debug)]
struct Reloadable(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self
                .0
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        ))
    }
}

/// Where the certificate came from, to read it again.
#[derive(Debug, Clone)]
enum Source {
    Files { cert: PathBuf, key: PathBuf },
    SelfSigned,
}

/// HTTPS as the flags ask for it: the rustls server configuration every connection
/// shares, and how to reload its certificate.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    config: Arc<ServerConfig>,
    certificate: Arc<Reloadable>,
    source: Source,
}

impl TlsSetup {
    /// HTTPS as `args` ask, or `None` for plaintext (no certificate given).
    ///
    /// # Errors
    ///
    /// A certificate, key or CA file that cannot be read, or that rustls refuses (a key
    /// that does not match the certificate among them).
    pub fn from_args(args: &TlsArgs) -> Result<Option<Self>, TlsError> {
        let (certified, source) = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
            (Some(cert), Some(key), _) => (
                load(cert, key)?,
                Source::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                },
            ),
            (None, None, true) => (self_signed()?, Source::SelfSigned),
            (None, None, false) => return Ok(None),
            // clap's `requires` makes these unreachable from the command line.
            _ => {
                return Err(TlsError::Rustls(
                    "--tls-cert and --tls-key go together".to_owned(),
                ))
            }
        };
        let certificate = Arc::new(Reloadable(RwLock::new(certified)));
        let builder = ServerConfig::builder();
        let builder = match &args.tls_client_ca {
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certificates(path, "client CA")? {
                    roots
                        .add(cert)
                        .map_err(|error| file_error("client CA", path, error))?;
                }
                let verifier = WebPkiClientVerifier::builder(Arc::new(roots));
                let verifier = match args.tls_client_auth {
                    ClientAuth::Required => verifier,
                    ClientAuth::Optional => verifier.allow_unauthenticated(),
                };
                builder.with_client_cert_verifier(
                    verifier
                        .build()
                        .map_err(|error| file_error("client CA", path, error))?,
                )
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::clone(&certificate) as _);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Self {
            config: Arc::new(config),
            certificate,
            source,
        }))
    }

    /// The configuration every TLS connection of the process uses.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }

    /// Reads the certificate and key files again and presents them from the next
    /// handshake on (SIGHUP); connections already open keep theirs. A self-signed
    /// certificate is kept.
    ///
    /// # Errors
    ///
    /// As [`TlsSetup::from_args`]; the certificate in use then stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let Source::Files { cert, key } = &self.source else {
            return Ok(());
        };
        let certified = load(cert, key)?;
        *self
            .certificate
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = certified;
        Ok(())
    }
}

fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

fn read_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(what, path, error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(what, path, error))?;
    if certificates.is_empty() {
        return Err(file_error(what, path, "no CERTIFICATE in it"));
    }
    Ok(certificates)
}

/// The chain and key from their PEM files, checked to belong together.
fn load(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = read_certificates(cert, "certificate chain")?;
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|error| file_error("private key", key, error))?;
    certified(chain, key)
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let certified = CertifiedKey::from_der(chain, key, &provider())
        .map_err(|error| TlsError::Rustls(format!("the certificate and key: {error}")))?;
    Ok(Arc::new(certified))
}

/// A fresh self-signed certificate for `localhost` and `127.0.0.1`, for a first try
/// (`--tls-self-signed`): its PEM goes to a file next to the other temporary files and
/// its SHA-256 fingerprint to the log, so a client can trust exactly this one.
fn self_signed() -> Result<Arc<CertifiedKey>, TlsError> {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|error| TlsError::Rustls(format!("cannot generate a certificate: {error}")))?;
    let pem_path = std::env::temp_dir().join(format!("gateway-{}-cert.pem", std::process::id()));
    std::fs::write(&pem_path, generated.cert.pem())
        .map_err(|error| file_error("self-signed certificate", &pem_path, error))?;
    let der = generated.cert.der().clone();
    tracing::warn!(
        certificate = %pem_path.display(),
        sha256 = %fingerprint(&der),
        "SELF-SIGNED certificate for localhost (a demo, not for production): trust it with \
         curl --cacert {}",
        pem_path.display()
    );
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
        .map_err(|error| TlsError::Rustls(error.to_owned()))?;
    certified(vec![der], key)
}

/// The certificate's SHA-256 fingerprint as browsers and `openssl x509 -fingerprint`
/// print it: upper-case hex pairs joined by colons.
fn fingerprint(der: &CertificateDer<'_>) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref());
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert, key) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    fn args(cert: &Path, key: &Path) -> TlsArgs {
        TlsArgs {
            tls_cert: Some(cert.to_owned()),
            tls_key: Some(key.to_owned()),
            ..TlsArgs::default()
        }
    }

    fn presented(setup: &TlsSetup) -> CertificateDer<'static> {
        setup.certificate.0.read().unwrap().cert[0].clone()
    }

    #[test]
    fn no_certificate_is_plaintext() {
        assert!(TlsSetup::from_args(&TlsArgs::default()).unwrap().is_none());
    }

    #[test]
    fn a_reload_presents_the_new_certificate_and_a_bad_one_keeps_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "a");
        let setup = TlsSetup::from_args(&args(&cert, &key)).unwrap().unwrap();
        let first = presented(&setup);
        let (new_cert, new_key) = write_pair(dir.path(), "b");
        std::fs::rename(&new_cert, &cert).unwrap();
        std::fs::rename(&new_key, &key).unwrap();
        setup.reload().unwrap();
        let second = presented(&setup);
        assert_ne!(first, second, "the new certificate is presented");
        std::fs::write(&key, "not a key").unwrap();
        let error = setup.reload().unwrap_err();
        assert!(error.to_string().contains("private key"), "{error}");
        assert_eq!(
            presented(&setup),
            second,
            "a bad reload keeps the one in use"
        );
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = write_pair(dir.path(), "a");
        let (_, other_key) = write_pair(dir.path(), "b");
        let error = TlsSetup::from_args(&args(&cert, &other_key)).unwrap_err();
        assert!(error.to_string().contains("certificate and key"), "{error}");
        let missing =
            TlsSetup::from_args(&args(&dir.path().join("none.crt"), &other_key)).unwrap_err();
        assert!(missing.to_string().contains("none.crt"), "{missing}");
    }

    #[test]
    fn the_fingerprint_reads_as_openssl_prints_it() {
        let fingerprint = fingerprint(&CertificateDer::from(vec![0u8; 4]));
        assert_eq!(fingerprint.len(), 32 * 3 - 1);
        assert!(fingerprint.starts_with("DF:3F:61:98"), "{fingerprint}");
    }
}

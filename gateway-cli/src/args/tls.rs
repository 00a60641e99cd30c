//! The HTTPS flags: the certificate the server presents, and client certificates.

use std::path::PathBuf;

/// Whether a client must present a certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientAuth {
    /// Every client presents a certificate the client CA signed, or the handshake fails.
    #[default]
    Required,
    /// A client may present one (it is checked if it does) or none.
    Optional,
}

/// HTTPS: off (plain HTTP) unless a certificate is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "TLS")]
pub struct TlsArgs {
    /// Serve HTTPS with this certificate chain (PEM, leaf first; reloaded on SIGHUP
    /// without dropping a connection). None by default: plain HTTP.
    #[arg(
        long,
        env = "GATEWAY_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1; reloaded with it).
    /// None by default.
    #[arg(long, env = "GATEWAY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Ask clients for certificates signed by this CA (PEM) (mutual TLS); see
    /// --tls-client-auth. None by default: no client certificate is asked for.
    #[arg(long, env = "GATEWAY_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// With --tls-client-ca: whether every client must present a certificate.
    #[arg(long, env = "GATEWAY_TLS_CLIENT_AUTH", value_enum, default_value_t = ClientAuth::default(), requires = "tls_client_ca")]
    pub tls_client_auth: ClientAuth,
    /// Serve HTTPS with a fresh self-signed certificate for localhost (a demo, not for
    /// production): its PEM file and SHA-256 fingerprint are logged at start-up.
    #[arg(long, env = "GATEWAY_TLS_SELF_SIGNED")]
    pub tls_self_signed: bool,
}

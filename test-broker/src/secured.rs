//! A secured test broker: TLS by stunnel in front of tansu, SASL SCRAM by tansu itself,
//! with certificates and a password made at test time.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use kafka_sink::{SaslCredentials, SaslMechanism, Secret, Security, SecurityProtocol, TlsFiles};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// TLS in front of a secured test broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// None: plain TCP to tansu.
    Off,
    /// TLS, the broker's certificate checked by the client.
    ServerOnly,
    /// Mutual TLS: the terminator also requires a client certificate signed by the
    /// test CA.
    Mutual,
}

/// What a secured test broker asks of its clients.
///
/// What tansu 0.6.0 can and cannot do, found by trying it and reading its source:
///
/// - **TLS: no.** Its CLI puts `--cert` and `--key` in one clap group, which makes them
///   mutually exclusive, so both can never be given; and the broker builds a
///   `TlsAcceptor` it never uses (`let _acceptor = ...` in `broker.rs`), so a `tls://`
///   listener speaks plain Kafka. TLS is terminated by `stunnel` in front of it:
///   a real TLS server (OpenSSL), which also checks client certificates for mutual TLS.
///   tansu advertises stunnel's address, so every connection a client makes after the
///   bootstrap goes through TLS too.
/// - **SASL SCRAM-SHA-256 and SCRAM-SHA-512: yes**, with `--authentication`, for users
///   stored with `tansu user create`. That command talks to the broker unauthenticated,
///   which a broker with `--authentication` refuses ("early eof"), so no user exists
///   and a client's SCRAM fails (librdkafka retries it until a produce times out: the
///   first trial's symptom). So the users are created on a broker without
///   authentication over sqlite storage, and the broker is then restarted on the same
///   storage with authentication. A wrong password or an unknown user is refused
///   (`invalid-proof`, `unknown-user`).
/// - **SASL PLAIN: no.** tansu closes the connection at the PLAIN handshake. (Its PLAIN
///   check, were it reached, accepts any password.) PLAIN is covered by kafka-sink's
///   unit tests of the properties it sets, not against a broker.
/// - **Re-authentication: no.** tansu grants a 60 s session lifetime and refuses the
///   re-authentication librdkafka then starts (KIP-368), at about 54 s into each
///   connection: that connection fails once ("Unsupported SASL mechanism"), librdkafka
///   reconnects and authenticates afresh, and idempotent retries lose nothing (80 s of
///   one record a second: all delivered). A test whose connection lives that long sees
///   one such error in its logs, and the sink's `brokers_reachable` false until the
///   next metadata request; the suites run here are shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secured {
    /// TLS (stunnel in front of tansu).
    pub tls: Tls,
    /// SASL SCRAM (tansu's own authentication) with this mechanism, or none. PLAIN is
    /// refused: tansu does not offer it.
    pub scram: Option<SaslMechanism>,
}

impl Secured {
    /// Everything at once, what the end-to-end suites run against: mutual TLS, and
    /// SCRAM-SHA-512 inside it (`sasl_ssl`).
    pub const EVERYTHING: Self = Self {
        tls: Tls::Mutual,
        scram: Some(SaslMechanism::ScramSha512),
    };

    /// librdkafka's protocol for these settings.
    pub fn protocol(self) -> SecurityProtocol {
        match (self.tls, self.scram) {
            (Tls::Off, None) => SecurityProtocol::Plaintext,
            (Tls::Off, Some(_)) => SecurityProtocol::SaslPlaintext,
            (_, None) => SecurityProtocol::Ssl,
            (_, Some(_)) => SecurityProtocol::SaslSsl,
        }
    }
}

/// A client-side mistake a secured broker must refuse, for the tests of what start-up
/// then says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mistake {
    /// The right user with another password (needs SCRAM).
    WrongPassword,
    /// The client trusts another CA, which did not sign the broker's certificate
    /// (needs TLS).
    UntrustedBrokerCertificate,
    /// The client shows a certificate from another CA (needs mutual TLS).
    ForeignClientCertificate,
}

/// The files a secured broker's clients and terminator read, in a scratch directory:
/// a test CA, the broker's certificate for 127.0.0.1 and localhost, a client
/// certificate, and a second CA with a client certificate of its own for the mistakes.
/// Generated at test time; nothing secret is committed.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    pub(crate) ca: PathBuf,
    pub(crate) broker_cert: PathBuf,
    pub(crate) broker_key: PathBuf,
    pub(crate) client_cert: PathBuf,
    pub(crate) client_key: PathBuf,
    pub(crate) other_ca: PathBuf,
    pub(crate) foreign_client_cert: PathBuf,
    pub(crate) foreign_client_key: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA")
}

/// A leaf certificate and its key, PEM, signed by `issuer`.
fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, issuer).expect("leaf");
    (cert.pem(), key.serialize_pem())
}

impl Files {
    pub(crate) fn generate(dir: &Path) -> Self {
        let write = |name: &str, contents: &str| {
            let path = dir.join(name);
            std::fs::write(&path, contents).expect("write a test certificate");
            path
        };
        let test_ca = ca("test-broker CA");
        let other_ca = ca("another CA");
        let (broker_cert, broker_key) = leaf(
            &test_ca,
            "test broker",
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(
            &test_ca,
            "gateway",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let (foreign_cert, foreign_key) = leaf(
            &other_ca,
            "gateway",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        Self {
            ca: write("ca.pem", &test_ca.pem()),
            broker_cert: write("broker.pem", &broker_cert),
            broker_key: write("broker-key.pem", &broker_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client-key.pem", &client_key),
            other_ca: write("other-ca.pem", &other_ca.pem()),
            foreign_client_cert: write("foreign-client.pem", &foreign_cert),
            foreign_client_key: write("foreign-client-key.pem", &foreign_key),
        }
    }
}

/// How a client reaches a secured broker: what the harness's own clients use, and what
/// a gateway is told by flags.
#[derive(Debug, Clone)]
pub(crate) struct ClientSide {
    pub(crate) secured: Secured,
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) password_file: PathBuf,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) cert_file: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
}

impl ClientSide {
    /// The right settings for `secured`, with the password (also written to a file in
    /// `dir`) and the files of `files`.
    pub(crate) fn new(secured: Secured, files: &Files, dir: &Path) -> Self {
        let password = format!("pw-{:016x}", fastrand::u64(..));
        let password_file = dir.join("sasl-password");
        std::fs::write(&password_file, format!("{password}\n")).expect("password file");
        let tls = secured.tls != Tls::Off;
        let mutual = secured.tls == Tls::Mutual;
        Self {
            secured,
            username: "gateway".to_owned(),
            password,
            password_file,
            ca_file: tls.then(|| files.ca.clone()),
            cert_file: mutual.then(|| files.client_cert.clone()),
            key_file: mutual.then(|| files.client_key.clone()),
        }
    }

    /// The same client making `mistake`.
    ///
    /// # Panics
    ///
    /// If the broker does not check what the mistake gets wrong (a wrong password
    /// without SCRAM, ...).
    pub(crate) fn with(&self, mistake: Mistake, files: &Files, dir: &Path) -> Self {
        let mut wrong = self.clone();
        match mistake {
            Mistake::WrongPassword => {
                assert!(self.secured.scram.is_some(), "no SASL to refuse a password");
                wrong.password = format!("wrong-{:016x}", fastrand::u64(..));
                wrong.password_file = dir.join("wrong-sasl-password");
                std::fs::write(&wrong.password_file, &wrong.password).expect("password file");
            }
            Mistake::UntrustedBrokerCertificate => {
                assert!(self.secured.tls != Tls::Off, "no TLS to distrust");
                wrong.ca_file = Some(files.other_ca.clone());
            }
            Mistake::ForeignClientCertificate => {
                assert!(
                    self.secured.tls == Tls::Mutual,
                    "no client certificate checked"
                );
                wrong.cert_file = Some(files.foreign_client_cert.clone());
                wrong.key_file = Some(files.foreign_client_key.clone());
            }
        }
        wrong
    }

    /// kafka-sink's settings for this client.
    pub(crate) fn security(&self) -> Security {
        let mut security = Security::default();
        security.protocol = self.secured.protocol();
        security.sasl = self.secured.scram.map(|mechanism| {
            SaslCredentials::new(
                mechanism,
                &self.username,
                Secret::new(self.password.clone()),
            )
        });
        let mut tls = TlsFiles::default();
        tls.ca_file.clone_from(&self.ca_file);
        tls.cert_file.clone_from(&self.cert_file);
        tls.key_file.clone_from(&self.key_file);
        security.tls = tls;
        security
    }

    /// librdkafka's (and the gateway's) name of the protocol.
    fn protocol_name(&self) -> &'static str {
        match self.secured.protocol() {
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
            SecurityProtocol::Ssl => "ssl",
            _ => "plaintext",
        }
    }

    /// The gateway's flags for this client (after `--brokers`); the password by file.
    pub(crate) fn gateway_flags(&self) -> Vec<String> {
        let protocol = self.protocol_name();
        let mut flags = vec!["--kafka-security-protocol".to_owned(), protocol.to_owned()];
        if let Some(mechanism) = self.secured.scram {
            flags.extend([
                "--kafka-sasl-mechanism".to_owned(),
                mechanism.name().to_owned(),
                "--kafka-sasl-username".to_owned(),
                self.username.clone(),
                "--kafka-sasl-password-file".to_owned(),
                path(&self.password_file),
            ]);
        }
        for (flag, file) in [
            ("--kafka-ca-file", &self.ca_file),
            ("--kafka-cert-file", &self.cert_file),
            ("--kafka-key-file", &self.key_file),
        ] {
            if let Some(file) = file {
                flags.extend([flag.to_owned(), path(file)]);
            }
        }
        flags
    }

    /// The librdkafka properties of the harness's own consumer.
    pub(crate) fn consumer_properties(&self) -> Vec<(&'static str, String)> {
        let mut properties = vec![("security.protocol", self.protocol_name().to_owned())];
        if let Some(mechanism) = self.secured.scram {
            properties.extend([
                ("sasl.mechanism", mechanism.name().to_owned()),
                ("sasl.username", self.username.clone()),
                ("sasl.password", self.password.clone()),
            ]);
        }
        for (property, file) in [
            ("ssl.ca.location", &self.ca_file),
            ("ssl.certificate.location", &self.cert_file),
            ("ssl.key.location", &self.key_file),
        ] {
            if let Some(file) = file {
                properties.push((property, path(file)));
            }
        }
        properties
    }
}

fn path(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The stunnel binary, as Debian names it (`stunnel4`) or as upstream does.
pub(crate) fn stunnel_binary() -> Option<&'static str> {
    ["stunnel4", "stunnel"].into_iter().find(|binary| {
        Command::new(binary)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// Starts stunnel as a TLS server on `accept_port` forwarding to tansu on
/// `connect_port`, with its configuration and log in `dir`.
pub(crate) fn spawn_stunnel(
    binary: &str,
    dir: &Path,
    files: &Files,
    mutual: bool,
    accept_port: u16,
    connect_port: u16,
) -> Child {
    let client_check = if mutual {
        // Chain checked against the test CA; no certificate, or another CA's, is refused.
        format!(
            "CAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
            files.ca.display()
        )
    } else {
        String::new()
    };
    let config = format!(
        "foreground = yes\npid =\ndebug = 4\n\n[kafka]\naccept = 127.0.0.1:{accept_port}\n\
         connect = 127.0.0.1:{connect_port}\ncert = {}\nkey = {}\nsslVersionMin = TLSv1.2\n\
         {client_check}",
        files.broker_cert.display(),
        files.broker_key.display(),
    );
    let config_file = dir.join("stunnel.conf");
    std::fs::write(&config_file, config).expect("stunnel configuration");
    let log = std::fs::File::create(dir.join("stunnel.log")).expect("stunnel log");
    Command::new(binary)
        .arg(&config_file)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("cannot start stunnel")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_follows_what_is_secured() {
        let with = |tls, scram| Secured { tls, scram }.protocol();
        let scram = Some(SaslMechanism::ScramSha256);
        assert_eq!(with(Tls::Off, None), SecurityProtocol::Plaintext);
        assert_eq!(with(Tls::Off, scram), SecurityProtocol::SaslPlaintext);
        assert_eq!(with(Tls::ServerOnly, None), SecurityProtocol::Ssl);
        assert_eq!(with(Tls::Mutual, scram), SecurityProtocol::SaslSsl);
    }

    #[test]
    fn the_gateway_flags_carry_the_password_only_by_file() {
        let dir = crate::scratch_dir("flags");
        let files = Files::generate(&dir);
        let client = ClientSide::new(Secured::EVERYTHING, &files, &dir);
        let flags = client.gateway_flags().join(" ");
        assert!(!flags.contains(&client.password), "{flags}");
        assert!(
            flags.contains("--kafka-security-protocol sasl_ssl"),
            "{flags}"
        );
        assert!(
            flags.contains("--kafka-sasl-mechanism SCRAM-SHA-512"),
            "{flags}"
        );
        let written = std::fs::read_to_string(&client.password_file).unwrap();
        assert_eq!(written.trim_end(), client.password);
        let wrong = client.with(Mistake::WrongPassword, &files, &dir);
        assert_ne!(wrong.password, client.password);
        std::fs::remove_dir_all(dir).unwrap();
    }
}

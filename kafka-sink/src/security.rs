//! How the clients reach a secured cluster: TLS, SASL, and the one secret type.

use std::path::{Path, PathBuf};

use rdkafka::ClientConfig;

use crate::SinkError;

/// A secret (a password): kept out of every `Debug` form, log line and error message.
///
/// It has no `Display`, and its `Debug` prints `Secret(..)` whatever it holds, so a
/// [`SinkConfig`](crate::SinkConfig) can be logged with `{:?}` without leaking it. Only
/// the sink reads the value, to hand it to librdkafka.
///
/// ```
/// use kafka_sink::Secret;
///
/// let password = Secret::new("hunter2");
/// assert_eq!(format!("{password:?}"), "Secret(..)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Whether the secret is the empty string (an empty password file, most likely).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value, for librdkafka only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// librdkafka's `security.protocol`: whether the connection to a broker is TLS, and
/// whether the client authenticates with SASL inside it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// Neither TLS nor SASL (`plaintext`).
    #[default]
    Plaintext,
    /// TLS, no SASL (`ssl`); with a client certificate for mutual TLS.
    Ssl,
    /// SASL over plain TCP (`sasl_plaintext`): the SCRAM mechanisms never send the
    /// password, PLAIN sends it in the clear.
    SaslPlaintext,
    /// SASL inside TLS (`sasl_ssl`): what managed Kafka services ask for.
    SaslSsl,
}

impl SecurityProtocol {
    /// librdkafka's name for it.
    fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }

    /// Whether the connection is TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether the client authenticates with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// The SASL mechanisms librdkafka implements itself (GSSAPI needs Cyrus SASL, which the
/// sink is not built with; OAUTHBEARER needs a token source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// `PLAIN`: the password itself goes to the broker, so only inside TLS
    /// ([`SecurityProtocol::SaslSsl`]) is it protected.
    Plain,
    /// `SCRAM-SHA-256`: challenge and response; the password never leaves the client.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl SaslMechanism {
    /// The mechanism's name, as Kafka and librdkafka spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// Who the client is to the brokers, for [`SecurityProtocol::SaslPlaintext`] and
/// [`SecurityProtocol::SaslSsl`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaslCredentials {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// The user name (not a secret: it is logged by brokers and may be in errors).
    pub username: String,
    /// The password.
    pub password: Secret,
}

impl SaslCredentials {
    /// `username` with `password`, by `mechanism`.
    pub fn new(mechanism: SaslMechanism, username: impl Into<String>, password: Secret) -> Self {
        Self {
            mechanism,
            username: username.into(),
            password,
        }
    }
}

/// The files TLS to the brokers reads, all PEM. Every field is optional: with none, the
/// brokers' certificates are checked against the system's CA store and the client
/// shows no certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsFiles {
    /// The CA certificates that sign the brokers' certificates (`ssl.ca.location`);
    /// without it, the system's CA store.
    pub ca_file: Option<PathBuf>,
    /// The client certificate (chain) for mutual TLS (`ssl.certificate.location`).
    /// Needs [`key_file`](Self::key_file).
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (`ssl.key.location`). Needs
    /// [`cert_file`](Self::cert_file).
    pub key_file: Option<PathBuf>,
    /// The password of an encrypted [`key_file`](Self::key_file) (`ssl.key.password`).
    pub key_password: Option<Secret>,
}

/// How the producer and the admin client reach the brokers: the protocol, and what it
/// needs (SASL credentials, TLS files). The default is plaintext with nothing else.
///
/// ```
/// use kafka_sink::{SaslCredentials, SaslMechanism, Secret, SecurityProtocol, SinkConfig};
///
/// let mut config = SinkConfig::new("kafka-1.example.com:9093");
/// config.security.protocol = SecurityProtocol::SaslSsl;
/// config.security.sasl = Some(SaslCredentials::new(
///     SaslMechanism::ScramSha512,
///     "gateway",
///     Secret::new(std::env::var("KAFKA_PASSWORD").unwrap_or_default()),
/// ));
/// config.security.tls.ca_file = Some("/etc/kafka/ca.pem".into());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Security {
    /// TLS, SASL, both or neither.
    pub protocol: SecurityProtocol,
    /// The SASL credentials: required by the SASL protocols, refused by the others.
    pub sasl: Option<SaslCredentials>,
    /// The TLS files: only for the TLS protocols.
    pub tls: TlsFiles,
}

/// The librdkafka properties [`Security`] sets. `extra` may not set them: each has one
/// typed home, so a setting cannot be given twice with two values.
const SECURITY_PROPERTIES: &[(&str, &str)] = &[
    ("security.protocol", "the security protocol"),
    ("sasl.mechanism", "the SASL mechanism"),
    ("sasl.mechanisms", "the SASL mechanism"),
    ("sasl.username", "the SASL user name"),
    ("sasl.password", "the SASL password"),
    ("ssl.ca.location", "the CA file"),
    ("ssl.certificate.location", "the client certificate file"),
    ("ssl.key.location", "the client key file"),
    ("ssl.key.password", "the client key's password"),
];

/// librdkafka's other secret-bearing properties (those it marks sensitive and redacts
/// from its own dumps). [`SinkConfig::extra`](crate::SinkConfig::extra) is plain
/// strings that `Debug` prints and a command line shows, so no secret may travel there.
const SECRET_PROPERTIES: &[&str] = &[
    "ssl.key.pem",
    "ssl_key",
    "ssl.keystore.password",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem",
];

/// Why [`SinkConfig::extra`](crate::SinkConfig::extra) may not set `name` at all, if it
/// may not (guarded properties are another matter: they need an override).
pub(crate) fn extra_property_refusal(name: &str) -> Option<String> {
    if let Some((_, setting)) = SECURITY_PROPERTIES.iter().find(|(owned, _)| *owned == name) {
        return Some(format!(
            "producer property `{name}` is {setting}, a typed security setting: set it there, \
             not as an extra property"
        ));
    }
    SECRET_PROPERTIES.contains(&name).then(|| {
        format!(
            "producer property `{name}` carries a secret, and extra properties are not kept \
             secret (their values are printed and logged like any setting)"
        )
    })
}

impl Security {
    /// What librdkafka cannot check for us, or checks without naming the setting: a
    /// protocol without what it needs, settings the protocol would ignore, files that
    /// cannot be read.
    pub(crate) fn validate(&self) -> Result<(), SinkError> {
        let invalid = |reason: String| Err(SinkError::Config { reason });
        let protocol = self.protocol.name();
        match (&self.sasl, self.protocol.uses_sasl()) {
            (None, true) => {
                return invalid(format!(
                    "security protocol {protocol} needs SASL credentials (mechanism, user name, password)"
                ))
            }
            (Some(_), false) => {
                return invalid(format!(
                    "SASL credentials are given but security protocol {protocol} does not \
                     authenticate: use sasl_plaintext or sasl_ssl"
                ))
            }
            (Some(sasl), true) if sasl.username.is_empty() => {
                return invalid("the SASL user name is empty".into())
            }
            (Some(sasl), true) if sasl.password.is_empty() => {
                return invalid("the SASL password is empty".into())
            }
            _ => {}
        }
        let tls = &self.tls;
        let files = [
            ("CA file", &tls.ca_file),
            ("client certificate file", &tls.cert_file),
            ("client key file", &tls.key_file),
        ];
        if !self.protocol.uses_tls() {
            if let Some((what, _)) = files.iter().find(|(_, path)| path.is_some()) {
                return invalid(format!(
                    "a {what} is given but security protocol {protocol} does not use TLS: use \
                     ssl or sasl_ssl"
                ));
            }
        }
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            return invalid(
                "mutual TLS needs both the client certificate file and its key file".into(),
            );
        }
        if tls.key_password.is_some() && tls.key_file.is_none() {
            return invalid("a key password is given without a client key file".into());
        }
        for (what, path) in files {
            if let Some(path) = path {
                readable(what, path)?;
            }
        }
        Ok(())
    }

    /// Sets the librdkafka properties for these settings on `config`.
    pub(crate) fn apply(&self, config: &mut ClientConfig) {
        config.set("security.protocol", self.protocol.name());
        if let Some(sasl) = &self.sasl {
            config
                .set("sasl.mechanism", sasl.mechanism.name())
                .set("sasl.username", &sasl.username)
                .set("sasl.password", sasl.password.expose());
        }
        let tls = &self.tls;
        for (property, path) in [
            ("ssl.ca.location", &tls.ca_file),
            ("ssl.certificate.location", &tls.cert_file),
            ("ssl.key.location", &tls.key_file),
        ] {
            if let Some(path) = path {
                config.set(property, path.to_string_lossy());
            }
        }
        if let Some(password) = &tls.key_password {
            config.set("ssl.key.password", password.expose());
        }
    }
}

/// librdkafka reports an unreadable file without its path ("ssl.ca.location failed:
/// No such file or directory"): the check names it.
fn readable(what: &str, path: &Path) -> Result<(), SinkError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|error| SinkError::Config {
            reason: format!("cannot read the {what} `{}`: {error}", path.display()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sasl(mechanism: SaslMechanism) -> Option<SaslCredentials> {
        Some(SaslCredentials::new(
            mechanism,
            "gateway",
            Secret::new("pa55word"),
        ))
    }

    fn properties(security: &Security) -> Vec<(String, String)> {
        let mut config = ClientConfig::new();
        security.apply(&mut config);
        let mut properties: Vec<_> = config
            .config_map()
            .keys()
            // `config_map` hides secret values; `get` gives what librdkafka gets.
            .map(|key| (key.to_string(), config.get(key).unwrap().to_owned()))
            .collect();
        properties.sort();
        properties
    }

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn the_default_is_plaintext_and_sets_only_the_protocol() {
        let security = Security::default();
        assert_eq!(security.validate(), Ok(()));
        assert_eq!(
            properties(&security),
            pairs(&[("security.protocol", "plaintext")])
        );
    }

    #[test]
    fn each_setting_becomes_its_librdkafka_property() {
        let file = std::env::current_exe().unwrap();
        let path = file.to_string_lossy().into_owned();
        for (mechanism, name) in [
            (SaslMechanism::Plain, "PLAIN"),
            (SaslMechanism::ScramSha256, "SCRAM-SHA-256"),
            (SaslMechanism::ScramSha512, "SCRAM-SHA-512"),
        ] {
            let security = Security {
                protocol: SecurityProtocol::SaslSsl,
                sasl: sasl(mechanism),
                tls: TlsFiles {
                    ca_file: Some(file.clone()),
                    cert_file: Some(file.clone()),
                    key_file: Some(file.clone()),
                    key_password: Some(Secret::new("k3y")),
                },
            };
            assert_eq!(security.validate(), Ok(()), "{mechanism:?}");
            assert_eq!(
                properties(&security),
                pairs(&[
                    ("sasl.mechanism", name),
                    ("sasl.password", "pa55word"),
                    ("sasl.username", "gateway"),
                    ("security.protocol", "sasl_ssl"),
                    ("ssl.ca.location", &path),
                    ("ssl.certificate.location", &path),
                    ("ssl.key.location", &path),
                    ("ssl.key.password", "k3y"),
                ])
            );
        }
        for (protocol, name) in [
            (SecurityProtocol::Ssl, "ssl"),
            (SecurityProtocol::SaslPlaintext, "sasl_plaintext"),
        ] {
            let security = Security {
                protocol,
                sasl: protocol
                    .uses_sasl()
                    .then(|| sasl(SaslMechanism::Plain))
                    .flatten(),
                tls: TlsFiles::default(),
            };
            assert_eq!(security.validate(), Ok(()));
            assert!(properties(&security).contains(&pairs(&[("security.protocol", name)])[0]));
        }
    }

    #[test]
    fn inconsistent_settings_are_refused_and_no_secret_is_in_the_reason() {
        let file = Some(std::env::current_exe().unwrap());
        let no_such_file = Some(PathBuf::from("/no/such/ca.pem"));
        let cases = [
            (
                Security {
                    protocol: SecurityProtocol::SaslSsl,
                    ..Security::default()
                },
                "needs SASL credentials",
            ),
            (
                Security {
                    protocol: SecurityProtocol::Ssl,
                    sasl: sasl(SaslMechanism::ScramSha256),
                    ..Security::default()
                },
                "does not authenticate",
            ),
            (
                Security {
                    protocol: SecurityProtocol::SaslPlaintext,
                    sasl: Some(SaslCredentials::new(
                        SaslMechanism::ScramSha256,
                        "gateway",
                        Secret::new(""),
                    )),
                    ..Security::default()
                },
                "password is empty",
            ),
            (
                Security {
                    protocol: SecurityProtocol::SaslPlaintext,
                    sasl: Some(SaslCredentials::new(
                        SaslMechanism::ScramSha256,
                        "",
                        Secret::new("pa55word"),
                    )),
                    ..Security::default()
                },
                "user name is empty",
            ),
            (
                Security {
                    protocol: SecurityProtocol::SaslPlaintext,
                    sasl: sasl(SaslMechanism::ScramSha256),
                    tls: TlsFiles {
                        ca_file: file.clone(),
                        ..TlsFiles::default()
                    },
                },
                "does not use TLS",
            ),
            (
                Security {
                    protocol: SecurityProtocol::Ssl,
                    tls: TlsFiles {
                        cert_file: file.clone(),
                        ..TlsFiles::default()
                    },
                    ..Security::default()
                },
                "both the client certificate file and its key file",
            ),
            (
                Security {
                    protocol: SecurityProtocol::Ssl,
                    tls: TlsFiles {
                        key_password: Some(Secret::new("k3y")),
                        ..TlsFiles::default()
                    },
                    ..Security::default()
                },
                "without a client key file",
            ),
            (
                Security {
                    protocol: SecurityProtocol::Ssl,
                    tls: TlsFiles {
                        ca_file: no_such_file,
                        ..TlsFiles::default()
                    },
                    ..Security::default()
                },
                "cannot read the CA file `/no/such/ca.pem`",
            ),
        ];
        for (security, expected) in cases {
            let Err(SinkError::Config { reason }) = security.validate() else {
                panic!("accepted: {security:?}");
            };
            assert!(reason.contains(expected), "{reason}");
            assert!(!reason.contains("pa55word") && !reason.contains("k3y"));
        }
    }

    #[test]
    fn a_secret_is_never_in_debug() {
        let security = Security {
            protocol: SecurityProtocol::SaslSsl,
            sasl: sasl(SaslMechanism::ScramSha512),
            tls: TlsFiles {
                key_password: Some(Secret::new("k3y")),
                ..TlsFiles::default()
            },
        };
        let shown = format!("{security:?} {:#?}", security);
        assert!(
            !shown.contains("pa55word") && !shown.contains("k3y"),
            "{shown}"
        );
        assert!(
            shown.contains("gateway"),
            "the user name is no secret: {shown}"
        );
    }

    #[test]
    fn extra_may_set_no_security_property_and_no_secret() {
        for (name, _) in SECURITY_PROPERTIES {
            let reason = extra_property_refusal(name).unwrap();
            assert!(reason.contains("typed security setting"), "{reason}");
        }
        for name in SECRET_PROPERTIES {
            let reason = extra_property_refusal(name).unwrap();
            assert!(reason.contains("secret"), "{reason}");
        }
        for name in ["client.id", "ssl.endpoint.identification.algorithm", "acks"] {
            assert_eq!(extra_property_refusal(name), None, "{name}");
        }
    }
}

//! The HTTPS checks every server binary runs: requests served and produced over TLS,
//! bad handshakes closed and counted while others are served, client certificates,
//! the certificate reloaded on SIGHUP without dropping a connection, and the
//! self-signed demo. Each starts its own gateway with a test CA's certificate written to
//! a scratch directory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use test_broker::TestBroker;

use crate::{post, Client, GatewayProcess};

const SIGHUP: i32 = 1;

/// A test CA: what it signs, and the client configurations that trust it.
pub struct Pki {
    issuer: Issuer<'static, KeyPair>,
    ca: CertificateDer<'static>,
    ca_pem: String,
}

impl Pki {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let ca = params.self_signed(&key).expect("a CA");
        Self {
            ca: ca.der().clone(),
            ca_pem: ca.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `name` (DNS name, or the client's name) and its key, as PEM.
    pub fn issue_pem(&self, name: &str) -> (String, String) {
        let key = KeyPair::generate().expect("a key");
        let cert = CertificateParams::new(vec![name.to_owned()])
            .expect("params")
            .signed_by(&key, &self.issuer)
            .expect("a certificate");
        (cert.pem(), key.serialize_pem())
    }

    /// A client configuration trusting this CA (and presenting `identity`, if given).
    pub fn client_config(&self, identity: Option<(String, String)>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).expect("a root");
        let builder = ClientConfig::builder().with_root_certificates(roots);
        let mut config = match identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(certificates(&cert), private_key(&key))
                .expect("a client identity"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

fn certificates(pem: &str) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("PEM certificates")
}

fn private_key(pem: &str) -> PrivateKeyDer<'static> {
    use rustls::pki_types::pem::PemObject;
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("a PEM private key")
}

/// The server's certificate and key in a scratch directory, and the gateway flags that
/// serve them.
pub struct ServerFiles {
    dir: tempfile::TempDir,
}

impl ServerFiles {
    /// `pki`'s certificate for `localhost`, written out.
    pub fn new(pki: &Pki) -> Self {
        let files = Self {
            dir: tempfile::tempdir().expect("a scratch dir"),
        };
        files.write(pki);
        files
    }

    /// Replaces the files with a new certificate from `pki` (for a reload).
    pub fn write(&self, pki: &Pki) {
        let (cert, key) = pki.issue_pem("localhost");
        // Written aside and renamed, so a reload never reads half a file.
        for (name, text) in [("server.crt", cert), ("server.key", key)] {
            let aside = self.dir.path().join(format!("{name}.new"));
            std::fs::write(&aside, text).expect("write");
            std::fs::rename(&aside, self.path(name)).expect("rename");
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The certificate the files hold now (DER).
    pub fn certificate(&self) -> Vec<u8> {
        let pem = std::fs::read_to_string(self.path("server.crt")).expect("read");
        certificates(&pem)[0].to_vec()
    }

    /// `--tls-cert`, `--tls-key`.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.path("server.crt").display().to_string(),
            "--tls-key".into(),
            self.path("server.key").display().to_string(),
        ]
    }

    /// Writes `pki`'s CA certificate next to the server's: for `--tls-client-ca`.
    pub fn write_client_ca(&self, pki: &Pki) -> PathBuf {
        let path = self.path("clients-ca.crt");
        std::fs::write(&path, &pki.ca_pem).expect("write");
        path
    }
}

/// A broker, a topic, and a gateway serving HTTPS with `files`' certificate.
struct TlsSetup {
    broker: TestBroker,
    topic: String,
    gateway: GatewayProcess,
}

fn setup(binary: &str, files: &ServerFiles, trust: &Arc<ClientConfig>, extra: &[&str]) -> TlsSetup {
    let broker = TestBroker::start();
    let topic = TestBroker::unique_topic("e2e-tls");
    broker.create_topic(&topic, 3);
    let flags = files.flags();
    let mut args = vec!["--brokers", broker.brokers(), "--topic", &topic];
    args.extend(flags.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let gateway =
        GatewayProcess::start_tls(binary, &args, trust).unwrap_or_else(|log| panic!("{log}"));
    TlsSetup {
        broker,
        topic,
        gateway,
    }
}

/// The sum of `gateway_tls_handshake_failures_total` over its reasons, asked over TLS.
fn tls_failures(gateway: &GatewayProcess, trust: &Arc<ClientConfig>) -> u64 {
    let mut client = Client::connect_tls(gateway.address, Arc::clone(trust)).expect("connect");
    let metrics = client
        .request(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("metrics")
        .expect("answered")
        .text();
    metrics
        .lines()
        .filter(|line| line.starts_with("gateway_tls_handshake_failures_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Reads from a raw socket until the server closes it (EOF or reset); what it sent.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                return out
            }
            Err(error) => panic!("the server neither answered nor closed: {error}"),
        }
    }
}

/// Pipelined and sequential `POST /`s over one TLS connection are answered 200, and
/// every record is in Kafka.
pub fn https_requests_are_served_and_produced(binary: &str) {
    let pki = Pki::new("e2e CA");
    let files = ServerFiles::new(&pki);
    let trust = pki.client_config(None);
    let setup = setup(binary, &files, &trust, &[]);
    let mut client = Client::connect_tls(setup.gateway.address, Arc::clone(&trust)).unwrap();
    let mut pipelined = Vec::new();
    for n in 0..10 {
        pipelined.extend(post(format!(r#"{{"tls":{n}}}"#).as_bytes(), &[]));
    }
    client.send(&pipelined).unwrap();
    for _ in 0..10 {
        assert_eq!(
            client.read_response().unwrap().expect("answered").status,
            200
        );
    }
    for n in 10..20 {
        let response = client
            .request(&post(format!(r#"{{"tls":{n}}}"#).as_bytes(), &[]))
            .unwrap()
            .expect("answered");
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let records = setup
        .broker
        .consume_all(&setup.topic, 20, Duration::from_secs(10));
    assert_eq!(records.len(), 20);
}

/// A plaintext request, garbage, a truncated handshake and an oversized record on the
/// HTTPS port: each connection is closed with no 2xx (the raw-TCP servers answer the
/// plaintext request a plain 400), each is counted, and a TLS client is served all the
/// while.
pub fn broken_handshakes_are_closed_counted_and_others_served(binary: &str) {
    let pki = Pki::new("e2e CA");
    let files = ServerFiles::new(&pki);
    let trust = pki.client_config(None);
    let setup = setup(binary, &files, &trust, &[]);
    let address = setup.gateway.address;
    let before = tls_failures(&setup.gateway, &trust);
    let mut oversized = vec![0x16, 0x03, 0x03, 0xff, 0xff];
    oversized.extend(std::iter::repeat_n(0u8, 70_000));
    let inputs: [(&str, Vec<u8>); 4] = [
        (
            "plaintext",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
        ),
        ("garbage", vec![0x99; 64]),
        (
            "bad handshake",
            vec![0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00],
        ),
        ("oversized record", oversized),
    ];
    for (name, bytes) in &inputs {
        let mut stream = TcpStream::connect(address).unwrap();
        let _ = stream.write_all(bytes);
        let answer = read_until_closed(&mut stream);
        assert!(
            !answer.starts_with(b"HTTP/1.1 2"),
            "{name}: {}",
            String::from_utf8_lossy(&answer)
        );
        let mut normal = Client::connect_tls(address, Arc::clone(&trust)).unwrap();
        let ok = normal
            .request(&post(br#"{"still":"serving"}"#, &[]))
            .unwrap()
            .expect("answered");
        assert_eq!(ok.status, 200, "after {name}");
    }
    let counted = tls_failures(&setup.gateway, &trust) - before;
    assert_eq!(counted, inputs.len() as u64, "every broken session counted");
}

/// A client that starts a handshake and never finishes it is closed at the header
/// timeout (the handshake counts against it).
pub fn a_handshake_that_never_finishes_is_closed(binary: &str) {
    let pki = Pki::new("e2e CA");
    let files = ServerFiles::new(&pki);
    let trust = pki.client_config(None);
    let setup = setup(binary, &files, &trust, &["--header-timeout-ms", "500"]);
    let mut stream = TcpStream::connect(setup.gateway.address).unwrap();
    // The first bytes of a ClientHello, and then nothing.
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x01, 0x00, 0x01])
        .unwrap();
    let answer = read_until_closed(&mut stream);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "closed without an HTTP answer: {answer:?}"
    );
}

/// With `--tls-client-ca`, a client presenting a certificate that CA signed is served;
/// one presenting none, or one another CA signed, is refused (and counted).
pub fn client_certificates_are_required_and_checked(binary: &str) {
    let (server_ca, clients_ca, strangers) = (
        Pki::new("server CA"),
        Pki::new("clients CA"),
        Pki::new("strangers CA"),
    );
    let files = ServerFiles::new(&server_ca);
    let client_ca = files.write_client_ca(&clients_ca);
    let client_ca = client_ca.display().to_string();
    let member = server_ca.client_config(Some(clients_ca.issue_pem("member")));
    let setup = setup(binary, &files, &member, &["--tls-client-ca", &client_ca]);
    let address = setup.gateway.address;
    let served = Client::connect_tls(address, Arc::clone(&member))
        .and_then(|mut client| client.request(&post(b"{}", &[])))
        .expect("a member is served")
        .expect("answered");
    assert_eq!(served.status, 200);
    let before = tls_failures(&setup.gateway, &member);
    for (name, config) in [
        ("no certificate", server_ca.client_config(None)),
        (
            "another CA's",
            server_ca.client_config(Some(strangers.issue_pem("stranger"))),
        ),
    ] {
        // TLS 1.3: the server checks the client's certificate after the client thinks
        // the handshake is done, so the refusal shows at the first read at the latest.
        let outcome = Client::connect_tls(address, config)
            .and_then(|mut client| client.request(&post(b"{}", &[])));
        assert!(
            !matches!(outcome, Ok(Some(ref response)) if response.status < 300),
            "{name}: {outcome:?}"
        );
    }
    assert_eq!(
        tls_failures(&setup.gateway, &member) - before,
        2,
        "both refusals counted"
    );
}

/// SIGHUP reloads the certificate: new connections get the new one, a connection
/// opened before keeps being served.
pub fn sighup_reloads_the_certificate_and_keeps_open_connections(binary: &str) {
    let pki = Pki::new("e2e CA");
    let files = ServerFiles::new(&pki);
    let trust = pki.client_config(None);
    let setup = setup(binary, &files, &trust, &[]);
    let address = setup.gateway.address;
    let mut open = Client::connect_tls(address, Arc::clone(&trust)).unwrap();
    let old = files.certificate();
    assert_eq!(open.peer_certificates().unwrap()[0], old);
    files.write(&pki);
    let new = files.certificate();
    assert_ne!(new, old);
    setup.gateway.signal(SIGHUP);
    // The reload is asynchronous to this test: new connections until one sees it.
    let guard = Instant::now() + Duration::from_secs(30);
    loop {
        let fresh = Client::connect_tls(address, Arc::clone(&trust)).unwrap();
        if fresh.peer_certificates().unwrap()[0] == new {
            break;
        }
        assert!(
            Instant::now() < guard,
            "the new certificate was never presented"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let response = open
        .request(&post(b"{}", &[]))
        .unwrap()
        .expect("the connection opened before the reload is still served");
    assert_eq!(response.status, 200);
}

/// `--tls-self-signed` serves HTTPS with a certificate whose PEM file the log names.
pub fn the_self_signed_demo_serves_https(binary: &str) {
    let broker = TestBroker::start();
    let topic = TestBroker::unique_topic("e2e-self-signed");
    broker.create_topic(&topic, 1);
    let gateway = GatewayProcess::start_until_listening(
        binary,
        &[
            "--brokers",
            broker.brokers(),
            "--topic",
            &topic,
            "--tls-self-signed",
        ],
    )
    .unwrap_or_else(|log| panic!("{log}"));
    let log = gateway.log();
    let pem = log
        .split("curl --cacert ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the log names the certificate:\n{log}"));
    let certificate = certificates(&std::fs::read_to_string(Path::new(pem)).expect("the PEM file"));
    let mut roots = RootCertStore::empty();
    roots.add(certificate[0].clone()).unwrap();
    let config = Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let response = Client::connect_tls(gateway.address, config)
        .and_then(|mut client| client.request(&post(b"{}", &[])))
        .unwrap()
        .expect("answered");
    assert_eq!(response.status, 200);
}

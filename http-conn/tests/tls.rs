//! TLS as a layer of the driver: a real rustls client against the driver, in memory.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use common::responses;
use http_conn::{
    Action, Call, Config, Driver, Event, ResponseContext, ServerConnection, Service, TlsFailure,
};
use http_parse::{Connection, ResponseHead};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig};

/// Answers every request `200` with its path as the body, at once; remembers TLS
/// failures.
#[derive(Default)]
struct Echo {
    failures: Vec<TlsFailure>,
}

impl Service for Echo {
    type Call = ();
    type Response = (u16, String);

    fn call(&mut self, event: Event<'_>, _now: Instant) -> Call<(), (u16, String)> {
        Call::Ready(match event {
            Event::Request { request, .. } => (200, request.path().to_owned()),
            Event::Rejected { error, .. } => (error.status(), String::new()),
            Event::TimedOut { .. } => (408, String::new()),
            Event::Overloaded { .. } => (503, String::new()),
        })
    }

    fn poll_call(
        &mut self,
        _call: &mut (),
        _cx: &mut Context<'_>,
        _now: Instant,
    ) -> Poll<(u16, String)> {
        unreachable!("every call is ready at once")
    }

    fn encode(
        &mut self,
        (status, body): &(u16, String),
        context: ResponseContext,
        out: &mut Vec<u8>,
    ) {
        let mut head = ResponseHead::new(*status);
        if !context.keep_alive() {
            head = head.with_connection(Connection::Close);
        }
        head.encode(body.as_bytes(), out);
    }

    fn closes(&self, _response: &(u16, String)) -> bool {
        false
    }

    fn tls_failed(&mut self, failure: TlsFailure) {
        self.failures.push(failure);
    }
}

/// A test CA and what it signs.
struct Pki {
    issuer: Issuer<'static, KeyPair>,
    ca: CertificateDer<'static>,
}

impl Pki {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let ca = params.self_signed(&key).unwrap().der().clone();
        Self {
            issuer: Issuer::new(params, key),
            ca,
        }
    }

    /// A certificate for `name` and its key.
    fn issue(&self, name: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone()], key)
    }

    fn roots(&self) -> Arc<RootCertStore> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        Arc::new(roots)
    }
}

fn server_config(pki: &Pki, client_ca: Option<&Pki>) -> Arc<ServerConfig> {
    let (chain, key) = pki.issue("localhost");
    let builder = ServerConfig::builder();
    let mut config = match client_ca {
        Some(client_ca) => builder
            .with_client_cert_verifier(
                rustls::server::WebPkiClientVerifier::builder(client_ca.roots())
                    .build()
                    .unwrap(),
            )
            .with_single_cert(chain, key),
        None => builder.with_no_client_auth().with_single_cert(chain, key),
    }
    .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn client(
    pki: &Pki,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> ClientConnection {
    let builder = ClientConfig::builder().with_root_certificates(pki.roots());
    let mut config = match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap()
}

/// The driver and what the engine saw.
struct Engine {
    driver: Driver<Echo>,
    now: Instant,
    shut_down_write: bool,
    closed: bool,
}

impl Engine {
    fn new(config: Arc<ServerConfig>) -> Self {
        let now = Instant::now();
        let conn = ServerConnection::new(Config::default(), now);
        Self {
            driver: Driver::with_tls(conn, Echo::default(), config).unwrap(),
            now,
            shut_down_write: false,
            closed: false,
        }
    }

    /// The engine reads `bytes` from the socket (in read-buffer-sized pieces).
    fn read(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let Some(buf) = self.driver.read_buf() else {
                return;
            };
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.driver.commit_read(self.now, n);
            rest = &rest[n..];
        }
    }

    /// Everything the driver writes until it waits or closes.
    fn written(&mut self) -> Vec<u8> {
        let mut wire = Vec::new();
        loop {
            match self
                .driver
                .poll_action(&mut Context::from_waker(Waker::noop()), self.now)
            {
                Action::Transmit(transmit) => {
                    wire.extend_from_slice(transmit.bytes());
                    let n = transmit.len();
                    self.driver.transmitted(self.now, transmit, n);
                }
                Action::ShutdownWrite => self.shut_down_write = true,
                Action::Wait { .. } => return wire,
                Action::Close => {
                    self.closed = true;
                    return wire;
                }
            }
        }
    }

    /// Moves records both ways until neither side has anything to say.
    fn pump(&mut self, client: &mut ClientConnection) {
        loop {
            let mut to_server = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut to_server).unwrap();
            }
            self.read(&to_server);
            let to_client = self.written();
            if to_server.is_empty() && to_client.is_empty() {
                return;
            }
            let mut from = &to_client[..];
            while !from.is_empty() {
                if client.read_tls(&mut from).unwrap() == 0 {
                    break;
                }
                if client.process_new_packets().is_err() {
                    return;
                }
            }
        }
    }
}

fn plaintext_from(client: &mut ClientConnection) -> String {
    let mut text = String::new();
    let _ = client.reader().read_to_string(&mut text);
    text
}

#[test]
fn requests_and_responses_go_through_tls_and_the_handshake_counts_against_the_header_timeout() {
    let pki = Pki::new("ca");
    let mut engine = Engine::new(server_config(&pki, None));
    let mut client = client(&pki, None);
    // The ClientHello's first byte starts the header deadline.
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    engine.read(&hello[..1]);
    let _ = engine.written();
    assert_eq!(
        engine.driver.poll_timeout(),
        Some(engine.now + Config::default().timeouts.header)
    );
    engine.read(&hello[1..]);
    engine.pump(&mut client);
    assert!(!client.is_handshaking());
    assert_eq!(client.alpn_protocol(), Some(&b"http/1.1"[..]));
    client
        .writer()
        .write_all(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
        .unwrap();
    engine.pump(&mut client);
    assert_eq!(
        responses(&plaintext_from(&mut client)),
        ["200 body=/a", "200 body=/b"]
    );
    assert!(engine.driver.tls_failure().is_none());
}

#[test]
fn a_closing_response_is_followed_by_close_notify_then_the_write_shutdown() {
    let pki = Pki::new("ca");
    let mut engine = Engine::new(server_config(&pki, None));
    let mut client = client(&pki, None);
    engine.pump(&mut client);
    client
        .writer()
        .write_all(b"GET /last HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    engine.pump(&mut client);
    assert_eq!(
        responses(&plaintext_from(&mut client)),
        ["200 close body=/last"]
    );
    assert!(
        engine.shut_down_write,
        "the write side is shut after the records"
    );
    let mut buf = [0u8; 1];
    assert_eq!(
        client.reader().read(&mut buf).unwrap(),
        0,
        "the client saw a clean close_notify"
    );
}

#[test]
fn plaintext_http_on_the_tls_port_is_answered_400_in_plaintext_and_closed() {
    let pki = Pki::new("ca");
    let mut engine = Engine::new(server_config(&pki, None));
    engine.read(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let wire = String::from_utf8(engine.written()).unwrap();
    assert!(wire.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{wire}");
    assert!(wire.contains("HTTPS"), "{wire}");
    let (head, body) = wire.split_once("\r\n\r\n").expect("a head and a body");
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .expect("a content-length");
    assert_eq!(length.parse::<usize>().unwrap(), body.len(), "{wire}");
    assert!(engine.closed);
    assert_eq!(engine.driver.tls_failure(), Some(TlsFailure::PlainHttp));
    assert_eq!(engine.driver.service().failures, [TlsFailure::PlainHttp]);
}

#[test]
fn garbage_instead_of_a_client_hello_gets_an_alert_or_a_plain_close() {
    let pki = Pki::new("ca");
    for garbage in [
        &[0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00][..],
        &[0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00][..],
        &[0x99, 0x99, 0x99, 0x99, 0x99, 0x99][..],
    ] {
        let mut engine = Engine::new(server_config(&pki, None));
        engine.read(garbage);
        let wire = engine.written();
        assert!(
            wire.is_empty() || wire[0] == 0x15,
            "{garbage:?}: an alert record or nothing: {wire:?}"
        );
        assert!(engine.closed, "{garbage:?}");
        assert_eq!(
            engine.driver.tls_failure(),
            Some(TlsFailure::Malformed),
            "{garbage:?}"
        );
        assert_eq!(engine.driver.service().failures, [TlsFailure::Malformed]);
    }
}

#[test]
fn an_oversized_record_is_refused_without_buffering_it() {
    let pki = Pki::new("ca");
    let mut engine = Engine::new(server_config(&pki, None));
    let mut record = vec![0x16, 0x03, 0x03, 0xff, 0xff];
    record.extend(std::iter::repeat_n(0u8, 70_000));
    engine.driver.handle_read(engine.now, &record);
    let _ = engine.written();
    assert!(engine.closed);
    assert_eq!(engine.driver.tls_failure(), Some(TlsFailure::Malformed));
}

#[test]
fn a_handshake_that_never_finishes_is_cut_at_the_header_timeout() {
    let pki = Pki::new("ca");
    let mut engine = Engine::new(server_config(&pki, None));
    let mut client = client(&pki, None);
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    engine.read(&hello);
    let _ = engine.written();
    let deadline = engine
        .driver
        .poll_timeout()
        .expect("the header deadline runs");
    engine.driver.handle_timeout(deadline);
    let _ = engine.written();
    assert!(engine.closed);
}

#[test]
fn client_certificates_from_another_ca_are_refused() {
    let (server, clients, strangers) = (
        Pki::new("server"),
        Pki::new("clients"),
        Pki::new("strangers"),
    );
    let config = server_config(&server, Some(&clients));

    let mut trusted = Engine::new(Arc::clone(&config));
    let mut client_ok = client(&server, Some(clients.issue("client")));
    trusted.pump(&mut client_ok);
    assert!(!client_ok.is_handshaking());
    assert!(trusted
        .driver
        .peer_certificates()
        .is_some_and(|chain| !chain.is_empty()));

    let mut refused = Engine::new(config);
    let mut stranger = client(&server, Some(strangers.issue("client")));
    refused.pump(&mut stranger);
    assert!(refused.closed);
    assert_eq!(refused.driver.tls_failure(), Some(TlsFailure::Certificate));
}

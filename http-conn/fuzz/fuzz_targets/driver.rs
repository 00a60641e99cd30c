//! Arbitrary bytes from a client, in arbitrary reads, through the driver, in plaintext
//! and over TLS: never a panic, and the connection always ends up waiting or closed.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use http_conn::{Action, Call, Config, Driver, Event, ResponseContext, ServerConnection, Service};
use http_parse::ResponseHead;
use libfuzzer_sys::fuzz_target;

/// Answers every event at once.
struct Answer;

impl Service for Answer {
    type Call = ();
    type Response = u16;

    fn call(&mut self, event: Event<'_>, _now: Instant) -> Call<(), u16> {
        Call::Ready(match event {
            Event::Request { .. } => 200,
            Event::Rejected { error, .. } => error.status(),
            Event::TimedOut { .. } => 408,
            Event::Overloaded { .. } => 503,
        })
    }

    fn poll_call(&mut self, _call: &mut (), _cx: &mut Context<'_>, _now: Instant) -> Poll<u16> {
        Poll::Ready(500)
    }

    fn encode(&mut self, status: &u16, _context: ResponseContext, out: &mut Vec<u8>) {
        ResponseHead::new(*status).encode(b"", out);
    }

    fn closes(&self, _status: &u16) -> bool {
        false
    }
}

fn tls_config() -> Arc<rustls::ServerConfig> {
    static CONFIG: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(generated.signing_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![generated.cert.der().clone()], key)
            .unwrap();
        Arc::new(config)
    }))
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, wire)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let conn = ServerConnection::new(Config::default(), now);
    let mut driver = if control & 1 == 1 {
        Driver::with_tls(conn, Answer, tls_config()).unwrap()
    } else {
        Driver::new(conn, Answer)
    };
    let chunk = usize::from(control >> 1).max(1);
    let mut cx = Context::from_waker(Waker::noop());
    for (round, piece) in wire.chunks(chunk).enumerate() {
        if round % 2 == 0 {
            driver.handle_read(now, piece);
        } else if let Some(buf) = driver.read_buf() {
            let n = buf.len().min(piece.len());
            buf[..n].copy_from_slice(&piece[..n]);
            driver.commit_read(now, n);
        }
        let mut actions = 0;
        loop {
            actions += 1;
            assert!(actions < 10_000, "the driver never waits");
            match driver.poll_action(&mut cx, now) {
                Action::Transmit(transmit) => {
                    // Write half of it, to exercise the resend of a partial write.
                    let n = transmit.len().div_ceil(2);
                    driver.transmitted(now, transmit, n);
                }
                Action::ShutdownWrite => {}
                Action::Wait { .. } => break,
                Action::Close => return,
            }
        }
    }
    // The client goes away and every deadline passes: the connection must close.
    driver.handle_eof();
    let mut later = now;
    for _ in 0..10_000 {
        match driver.poll_action(&mut cx, later) {
            Action::Transmit(transmit) => {
                let n = transmit.len();
                driver.transmitted(later, transmit, n);
            }
            Action::ShutdownWrite => {}
            Action::Close => return,
            Action::Wait { .. } => {
                later += Duration::from_secs(3600);
                driver.handle_timeout(later);
            }
        }
    }
    panic!("the connection never closed after EOF and every deadline");
});

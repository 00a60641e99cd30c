//! The client timeouts every server enforces with the same meaning (see the flag help in
//! `gateway_cli::GatewayArgs`):
//!
//! - header (`--header-timeout-ms`): first byte of a head until the head is complete;
//!   on expiry the connection closes without a response;
//! - body (`--body-timeout-ms`): complete head until the body is complete; on expiry
//!   `408` with `Connection: close`, then the connection closes;
//! - idle (`--idle-timeout-ms`): accept, or the end of a response, until the first byte
//!   of the next request; on expiry the connection closes silently.
//!
//! Each check sets the timeout under test short and the others long, so only the one
//! under test can explain what the client sees. Waits and read timeouts are scenario
//! and hang guard; what decides is what the client receives (a status, bytes, EOF).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::suite::setup;
use crate::{post, Client};

/// The timeout under test, in ms.
const SHORT_MS: u64 = 300;
/// The timeouts not under test, in ms: longer than any check runs.
const LONG: &str = "600000";
/// How long a client blocks on a read before the check fails instead of hanging.
const HANG_GUARD: Duration = Duration::from_secs(30);

fn short() -> String {
    SHORT_MS.to_string()
}

/// Waits out three times the short timeout: long enough that a connection still open
/// afterwards was not closed by that timeout.
fn outwait_short_timeout() {
    std::thread::sleep(Duration::from_millis(3 * SHORT_MS));
}

/// A body that stalls after the head gets `408` with `Connection: close`, then EOF.
pub fn stalled_body_gets_408_and_close(binary: &str) {
    let short = short();
    let setup = setup(
        binary,
        &[
            "--body-timeout-ms",
            &short,
            "--header-timeout-ms",
            LONG,
            "--idle-timeout-ms",
            LONG,
        ],
    );
    let mut client = Client::connect(setup.gateway.address).unwrap();
    client.set_read_timeout(HANG_GUARD).unwrap();
    client
        .send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"a")
        .unwrap();
    let response = client
        .read_response()
        .expect("a response before the hang guard")
        .expect("a response, not a silent close");
    assert_eq!(response.status, 408, "{}", response.text());
    assert_eq!(response.header("connection"), Some("close"));
    let after = client.read_until_closed().expect("closed after the 408");
    assert!(after.is_empty(), "bytes after the 408: {after:?}");
}

/// A body that pauses longer than the header and idle timeouts, but within the body
/// timeout, is received whole: only the body timeout bounds a body.
pub fn slow_body_within_body_timeout_is_served(binary: &str) {
    let short = short();
    let setup = setup(
        binary,
        &[
            "--body-timeout-ms",
            LONG,
            "--header-timeout-ms",
            &short,
            "--idle-timeout-ms",
            &short,
        ],
    );
    let mut client = Client::connect(setup.gateway.address).unwrap();
    client.set_read_timeout(HANG_GUARD).unwrap();
    let payload = br#"{"paused":"mid-body"}"#;
    let request = post(payload, &[]);
    let (first, rest) = request.split_at(request.len() - payload.len() / 2);
    client.send(first).unwrap();
    outwait_short_timeout();
    let response = client
        .request(rest)
        .expect("a response before the hang guard")
        .expect("a response, not a close");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(setup.payloads_in_kafka(1).len(), 1);
}

/// A head that stops half-way, and a head trickled a byte at a time (each byte well
/// within the header timeout), are both closed without a response: the header timeout
/// runs from the first byte, not per read.
pub fn slow_head_is_closed_without_response(binary: &str) {
    let short = short();
    let setup = setup(
        binary,
        &[
            "--header-timeout-ms",
            &short,
            "--body-timeout-ms",
            LONG,
            "--idle-timeout-ms",
            LONG,
        ],
    );
    let mut stalled = Client::connect(setup.gateway.address).unwrap();
    stalled.set_read_timeout(HANG_GUARD).unwrap();
    stalled.send(b"POST / HTTP/1.1\r\nHost: t\r\n").unwrap();

    // One byte per 50 ms read wait, for up to the hang guard; a header size limit cannot
    // end this first, the head stays far below it.
    let mut trickle = TcpStream::connect(setup.gateway.address).unwrap();
    trickle
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let head = b"POST / HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    let started = Instant::now();
    let mut sent = 0;
    let received = loop {
        assert!(
            started.elapsed() < HANG_GUARD,
            "trickled head still open after {HANG_GUARD:?} ({sent} bytes sent)"
        );
        let byte = head.get(sent).copied().unwrap_or(b'a');
        if trickle.write_all(&[byte]).is_err() {
            break Vec::new(); // reset by the server: closed
        }
        sent += 1;
        let mut buf = [0u8; 256];
        match trickle.read(&mut buf) {
            Ok(0) => break Vec::new(),
            Ok(n) => break buf[..n].to_vec(),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break Vec::new(), // reset: closed
        }
    };
    assert!(
        received.is_empty(),
        "trickled head got a response: {:?}",
        String::from_utf8_lossy(&received)
    );

    let received = stalled.read_until_closed().expect("stalled head closed");
    assert!(
        received.is_empty(),
        "stalled head got a response: {:?}",
        String::from_utf8_lossy(&received)
    );
}

/// A keep-alive connection idle for longer than the header timeout (but within the idle
/// timeout) is still served, and so is a fresh connection that waits before its first
/// byte: the header timeout starts at the first byte of a head.
pub fn idle_connection_outlives_header_timeout(binary: &str) {
    let short = short();
    let setup = setup(
        binary,
        &[
            "--header-timeout-ms",
            &short,
            "--idle-timeout-ms",
            LONG,
            "--body-timeout-ms",
            LONG,
        ],
    );
    let mut kept_alive = Client::connect(setup.gateway.address).unwrap();
    kept_alive.set_read_timeout(HANG_GUARD).unwrap();
    let first = kept_alive.request(&post(br#"{"n":1}"#, &[])).unwrap();
    assert_eq!(first.map(|r| r.status), Some(200));
    let mut fresh = Client::connect(setup.gateway.address).unwrap();
    fresh.set_read_timeout(HANG_GUARD).unwrap();

    outwait_short_timeout();

    for (name, client, payload) in [
        ("kept-alive", &mut kept_alive, br#"{"n":2}"#),
        ("fresh", &mut fresh, br#"{"n":3}"#),
    ] {
        let response = client
            .request(&post(payload, &[]))
            .unwrap_or_else(|error| panic!("{name}: {error}"))
            .unwrap_or_else(|| panic!("{name}: closed while idle"));
        assert_eq!(response.status, 200, "{name}: {}", response.text());
    }
}

/// Past the idle timeout, a connection that never sent a byte and a keep-alive
/// connection after its response are closed without a byte.
pub fn idle_connection_is_closed_silently(binary: &str) {
    let short = short();
    let setup = setup(
        binary,
        &[
            "--idle-timeout-ms",
            &short,
            "--header-timeout-ms",
            LONG,
            "--body-timeout-ms",
            LONG,
        ],
    );
    let mut silent = Client::connect(setup.gateway.address).unwrap();
    silent.set_read_timeout(HANG_GUARD).unwrap();
    let mut kept_alive = Client::connect(setup.gateway.address).unwrap();
    kept_alive.set_read_timeout(HANG_GUARD).unwrap();
    let response = kept_alive
        .request(&post(br#"{"then":"idle"}"#, &[]))
        .unwrap();
    assert_eq!(response.map(|r| r.status), Some(200));

    for (name, client) in [("never sent", &mut silent), ("kept-alive", &mut kept_alive)] {
        let received = client
            .read_until_closed()
            .unwrap_or_else(|error| panic!("{name}: not closed: {error}"));
        assert!(
            received.is_empty(),
            "{name}: bytes before the close: {:?}",
            String::from_utf8_lossy(&received)
        );
    }
}

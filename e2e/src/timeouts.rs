//! The client timeouts every server enforces with the same meaning (see the flag help in
//! `gateway_cli::GatewayArgs`), as a client sees them:
//!
//! - header (`--header-timeout-ms`): first byte of a head until the head is complete;
//!   on expiry the connection closes without a response;
//! - body (`--body-timeout-ms`): complete head until the body is complete; on expiry
//!   `408` with `Connection: close`, then the connection closes;
//! - idle (`--idle-timeout-ms`): accept, or the end of a response, until the first byte
//!   of the next request; on expiry the connection closes silently.
//!
//! Which timeout applies when, and from which instant, is decided once, in `http-conn`'s
//! `ClientClock`, and tested there with a fake clock (`http-conn/tests/deadlines.rs`:
//! a trickled head is cut because reads do not restart the header timeout, a body is
//! bounded by the body timeout alone, a fresh connection waits under the idle timeout).
//! Here stays what must be seen from outside on every server: the 408 and the close,
//! the silent closes, and that a client past the short timeouts is still served.
//!
//! Each check sets the timeout under test short and the others long, so only the one
//! under test can explain what the client sees. What the client receives (a status,
//! bytes, EOF) decides; read timeouts are hang guards. Where a check shows that a short
//! timeout did *not* end a connection, no sleep stands for "long enough": the gateway's
//! own header timeout, seen closing stalled heads on reference connections
//! (`outwait_two_header_timeouts`), shows that it has passed.

use std::net::SocketAddr;
use std::time::Duration;

use crate::suite::setup;
use crate::{post, Client};

/// The timeout under test, in ms: short, since every check waits for it to pass.
const SHORT_MS: u64 = 300;
/// The timeouts not under test, in ms: longer than any check runs.
const LONG: &str = "600000";
/// How long a client blocks on a read before the check fails instead of hanging.
const HANG_GUARD: Duration = Duration::from_secs(30);

fn short() -> String {
    SHORT_MS.to_string()
}

/// A head that stops half-way, on a connection of its own, to be closed by the header
/// timeout.
const STALLED_HEAD: &[u8] = b"POST / HTTP/1.1\r\nHost: t\r\n";

/// Returns once the gateway has closed two stalled heads at its header timeout, the
/// second opened after the first was closed. Any timer of the header timeout's length
/// or shorter that the gateway started before this call has then expired, with a
/// whole timeout to spare: the first reference's deadline is no earlier than such a
/// timer's (its first byte was read after the call began), and the second's is one
/// timeout later.
///
/// Panics if a reference is answered instead of closed, or not closed within the hang
/// guard.
fn outwait_two_header_timeouts(address: SocketAddr) {
    for reference in ["first", "second"] {
        let mut stalled = Client::connect(address).unwrap();
        stalled.set_read_timeout(HANG_GUARD).unwrap();
        stalled.send(STALLED_HEAD).unwrap();
        let received = stalled
            .read_until_closed()
            .unwrap_or_else(|error| panic!("{reference} reference head not closed: {error}"));
        assert!(
            received.is_empty(),
            "{reference} reference head was answered: {:?}",
            String::from_utf8_lossy(&received)
        );
    }
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

/// A body that starts only after the (short) header and idle timeouts have passed,
/// within the (long) body timeout, is received whole and produced: once the head is
/// complete, only the body timeout bounds the body. `Expect: 100-continue` makes the
/// gateway say when it has the head; the pause is then measured with the gateway's own
/// header timeout on other connections.
pub fn body_after_the_header_and_idle_timeouts_is_served(binary: &str) {
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
    let payload = br#"{"paused":"after the head"}"#;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    client.send(head.as_bytes()).unwrap();
    let interim = client
        .read_response()
        .expect("100 Continue before the hang guard")
        .expect("100 Continue, not a close");
    assert_eq!(interim.status, 100, "{}", interim.text());

    outwait_two_header_timeouts(setup.gateway.address);

    let response = client
        .request(payload)
        .expect("a response before the hang guard")
        .expect("a response, not a close: the body timeout alone bounds a body");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(setup.payloads_in_kafka(1).len(), 1);
}

/// A head that stops half-way is closed at the header timeout without a response.
/// (That reads do not restart the header timeout, so a head trickled one byte at a time
/// is cut too, is `http-conn`'s fake-clock test
/// `header_timeout_silently_cuts_a_client_trickling_one_byte_at_a_time`, and every
/// server's `slowloris_connections_are_cut_while_others_are_served`.)
pub fn stalled_head_is_closed_without_response(binary: &str) {
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
    stalled.send(STALLED_HEAD).unwrap();
    let received = stalled.read_until_closed().expect("stalled head closed");
    assert!(
        received.is_empty(),
        "stalled head got a response: {:?}",
        String::from_utf8_lossy(&received)
    );
}

/// A keep-alive connection idle past the (short) header timeout, within the (long)
/// idle timeout, is still served, and so is a fresh connection that waits as long
/// before its first byte: the header timeout starts at the first byte of a head. The
/// wait is the gateway's own header timeout on other connections.
pub fn connection_idle_past_the_header_timeout_is_served(binary: &str) {
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

    outwait_two_header_timeouts(setup.gateway.address);

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

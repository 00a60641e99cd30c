//! Header, body and idle deadlines, driven by a fake clock: `Instant`s the test advances.

mod common;

use common::{get, ms, post, responses, secs, Harness, Seen};

#[test]
fn poll_timeout_gives_idle_header_body_none_while_pending_then_idle() {
    let mut h = Harness::new();
    let config = h.config();
    assert_ne!(config.timeouts.idle, config.timeouts.header);
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.start + config.timeouts.idle),
        "a new connection waits for its first byte under the idle timeout"
    );

    h.advance(secs(1));
    h.feed(b"POST / HTTP/1.1\r\n");
    assert!(h.events().is_empty());
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.at(secs(1)) + config.timeouts.header)
    );

    h.advance(secs(2));
    h.feed(b"Content-Length: 4\r\n\r\nab");
    assert!(h.events().is_empty());
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.at(secs(3)) + config.timeouts.body)
    );

    h.advance(secs(1));
    h.feed(b"cd");
    let events = h.events();
    assert_eq!(events.len(), 1);
    assert_eq!(h.conn.poll_timeout(), None, "the server is the slow one");

    h.advance(secs(30));
    h.answer(events[0].id(), "ok");
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.at(secs(34)) + config.timeouts.idle)
    );
}

#[test]
fn header_timeout_silently_cuts_a_client_trickling_one_byte_at_a_time() {
    let mut h = Harness::new();
    let header_timeout = h.config().timeouts.header;
    let head = format!("GET / HTTP/1.1\r\nX-Slow: {}", "x".repeat(100));
    let first_byte_at = h.now;
    let mut cut_after = None;
    for (i, byte) in head.bytes().enumerate() {
        h.conn.handle_timeout(h.now);
        if !h.conn.wants_read() {
            cut_after = Some(i);
            break;
        }
        h.feed(&[byte]);
        assert!(h.events().is_empty());
        assert_eq!(
            h.conn.poll_timeout(),
            Some(first_byte_at + header_timeout),
            "a read must not restart the header timeout"
        );
        h.advance(secs(1));
    }
    assert_eq!(cut_after, Some(header_timeout.as_secs() as usize));

    assert!(h.conn.is_closed());
    assert!(h.events().is_empty(), "an unfinished head is owed no 408");
    assert_eq!(h.conn.poll_transmit(), None, "closed without a response");
    assert!(h.conn.read_buf().is_none());
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn header_timeout_after_a_keep_alive_response_closes_silently() {
    let mut h = Harness::new();
    h.feed(get("/a").as_bytes());
    let id = h.events()[0].id();
    h.answer(id, "a");
    assert_eq!(responses(&h.transmit()), ["200 body=a"]);
    h.advance(secs(1));
    h.feed(b"GET /b HTTP/1.1\r\n");
    let deadline = h.now + h.config().timeouts.header;
    assert_eq!(h.conn.poll_timeout(), Some(deadline));
    h.conn.handle_timeout(deadline);
    assert!(h.conn.is_closed());
    assert!(h.events().is_empty());
    assert_eq!(h.conn.poll_transmit(), None);
}

#[test]
fn header_timeout_runs_from_the_first_byte_not_from_the_last_response() {
    let mut h = Harness::new();
    h.feed(get("/a").as_bytes());
    let id = h.events()[0].id();
    h.answer(id, "a");
    h.transmit();
    h.advance(secs(40));
    h.feed(b"GET /b HT");
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.at(secs(40)) + h.config().timeouts.header)
    );
}

#[test]
fn body_timeout_runs_from_the_complete_head_and_answers_408() {
    let mut h = Harness::new();
    let body_timeout = h.config().timeouts.body;
    h.advance(secs(1));
    h.feed(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n");
    assert!(h.events().is_empty());
    let head_complete_at = h.now;
    // Past the header timeout, within the body timeout: still reading.
    assert!(body_timeout > h.config().timeouts.header + secs(10));
    for _ in 0..body_timeout.as_secs() / 5 - 1 {
        h.advance(secs(5));
        h.feed(b"x");
        h.conn.handle_timeout(h.now);
        assert!(h.events().is_empty());
        assert_eq!(h.conn.poll_timeout(), Some(head_complete_at + body_timeout));
    }
    h.advance(head_complete_at + body_timeout - h.now - ms(1));
    h.conn.handle_timeout(h.now);
    assert!(h.events().is_empty());
    h.advance(ms(1));
    h.conn.handle_timeout(h.now);
    let events = h.events();
    let [Seen::TimedOut { id }] = events[..] else {
        panic!("{events:?}")
    };
    h.answer_with(id, 408, "");
    assert_eq!(responses(&h.transmit()), ["408 close body="]);
    h.assert_ends();
}

#[test]
fn idle_timeout_closes_silently_after_the_last_response() {
    let mut h = Harness::new();
    h.feed(get("/").as_bytes());
    let id = h.events()[0].id();
    h.advance(secs(3));
    h.answer(id, "ok");
    assert_eq!(responses(&h.transmit()), ["200 body=ok"]);

    let deadline = h.at(secs(3)) + h.config().timeouts.idle;
    assert_eq!(h.conn.poll_timeout(), Some(deadline));
    h.conn.handle_timeout(deadline - ms(1));
    assert!(!h.conn.is_closed());
    h.conn.handle_timeout(deadline);
    assert!(h.conn.is_closed());
    assert!(h.events().is_empty(), "nothing to answer");
    assert_eq!(h.conn.poll_transmit(), None, "closed silently");
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn idle_timeout_drops_output_a_client_does_not_read() {
    let mut h = Harness::new();
    h.feed(get("/").as_bytes());
    let id = h.events()[0].id();
    h.answer(id, "ok");
    // Never transmitted: the client reads nothing.
    h.conn.handle_timeout(h.now + h.config().timeouts.idle);
    assert!(h.conn.is_closed());
    assert_eq!(h.conn.poll_transmit(), None);
}

#[test]
fn no_client_timeout_applies_while_a_response_is_pending() {
    let mut h = Harness::new();
    let config = h.config();
    // A request, and the start of the next one pipelined behind it.
    h.feed(format!("{}GET /b HT", post("/a", "{}")).as_bytes());
    let id = h.events()[0].id();
    assert_eq!(h.conn.poll_timeout(), None);

    h.advance(secs(600));
    h.conn.handle_timeout(h.now);
    assert!(h.events().is_empty());
    assert!(!h.conn.is_closed());

    // The client gets the floor back, and a full header timeout, once answered.
    h.answer(id, "a");
    assert_eq!(h.conn.poll_timeout(), Some(h.now + config.timeouts.header));
    h.feed(b"TP/1.1\r\n\r\n");
    let events = h.events();
    assert_eq!(events[0].path(), "/b");
}

#[test]
fn timeouts_before_the_deadline_do_nothing() {
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\n");
    let deadline = h.conn.poll_timeout().unwrap();
    h.conn.handle_timeout(deadline - ms(1));
    assert!(h.events().is_empty());
    assert!(h.conn.wants_read());
    assert_eq!(h.conn.poll_timeout(), Some(deadline));
}

#[test]
fn new_connection_without_a_first_byte_closes_silently_at_the_idle_timeout() {
    let mut h = Harness::new();
    let config = h.config();
    assert!(config.timeouts.header < config.timeouts.idle);
    h.conn.handle_timeout(h.start + config.timeouts.header);
    assert!(
        !h.conn.is_closed(),
        "the header timeout starts with a first byte"
    );
    let deadline = h.start + config.timeouts.idle;
    h.conn.handle_timeout(deadline - ms(1));
    assert!(!h.conn.is_closed());
    h.conn.handle_timeout(deadline);
    assert!(h.conn.is_closed());
    assert!(h.events().is_empty(), "no request, so no 408");
    assert_eq!(h.conn.poll_transmit(), None);
}

#[test]
fn empty_lines_after_a_request_keep_the_idle_timeout() {
    let mut h = Harness::new();
    h.feed(format!("{}\r\n", common::post("/a", "{}")).as_bytes());
    let id = h.events()[0].id();
    h.answer(id, "a");
    h.transmit();
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.now + h.config().timeouts.idle)
    );
    h.advance(secs(1));
    h.feed(b"\r\n");
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.at(secs(0)) + h.config().timeouts.idle),
        "an empty line is not the start of a request"
    );
    h.conn.handle_eof();
    assert!(h.conn.is_closed());
}

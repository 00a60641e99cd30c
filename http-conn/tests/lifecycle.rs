//! Keep-alive and `Connection: close`, half-close (EOF) and graceful shutdown.

mod common;

use common::{get, post, responses, secs, Harness};

#[test]
fn http10_request_closes_after_its_response() {
    let mut h = Harness::new();
    h.feed(b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
    let events = h.events();
    assert_eq!(events.len(), 1, "nothing after a closing request is parsed");
    assert!(h.conn.read_buf().is_none());
    h.answer(events[0].id(), "a");
    assert!(!h.conn.is_closed(), "not before the response is written");
    assert_eq!(responses(&h.transmit()), ["200 close body=a"]);
    h.assert_ends();
}

#[test]
fn http10_keep_alive_request_keeps_the_connection_open() {
    let mut h = Harness::new();
    h.feed(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let events = h.events();
    h.answer(events[0].id(), "a");
    assert_eq!(responses(&h.transmit()), ["200 keep-alive body=a"]);
    assert!(!h.conn.is_closed());
    assert!(h.conn.wants_read());
}

#[test]
fn connection_close_request_closes_after_its_response_and_ignores_later_bytes() {
    let mut h = Harness::new();
    h.feed(format!("GET /a HTTP/1.1\r\nConnection: close\r\n\r\n{}", get("/b")).as_bytes());
    let events = h.events();
    assert_eq!(events.len(), 1);
    h.conn.handle_read(h.now, get("/c").as_bytes());
    assert!(h.events().is_empty());
    h.answer(events[0].id(), "a");
    assert_eq!(responses(&h.transmit()), ["200 close body=a"]);
    h.assert_ends();
}

#[test]
fn response_that_closes_drops_the_responses_after_it() {
    let mut h = Harness::new();
    h.feed(format!("{}{}", get("/a"), get("/b")).as_bytes());
    let events = h.events();
    h.conn
        .respond(h.now, events[0].id(), true, |context, out| {
            assert!(!context.keep_alive());
            out.extend_from_slice(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        })
        .unwrap();
    h.conn
        .respond(h.now, events[1].id(), false, |_, _| {
            panic!("a response after a closing one is never encoded")
        })
        .unwrap();
    assert_eq!(responses(&h.transmit()), ["503 close body="]);
    h.assert_ends();
}

#[test]
fn eof_after_complete_requests_answers_them_then_closes() {
    let mut h = Harness::new();
    h.feed(format!("{}{}", get("/a"), get("/b")).as_bytes());
    h.conn.handle_eof();
    let events = h.events();
    assert_eq!(events.len(), 2);
    assert!(!h.conn.is_closed(), "half-close: the client still reads");
    h.answer(events[1].id(), "b");
    h.answer(events[0].id(), "a");
    assert_eq!(responses(&h.transmit()), ["200 body=a", "200 close body=b"]);
    assert!(h.conn.is_closed());
}

#[test]
fn eof_inside_a_request_drops_it_and_closes_after_the_complete_ones() {
    let mut h = Harness::new();
    h.feed(
        format!(
            "{}POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
            get("/a")
        )
        .as_bytes(),
    );
    h.conn.handle_eof();
    let events = h.events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        h.conn.poll_timeout(),
        None,
        "nothing left to time out but the response"
    );
    h.answer(events[0].id(), "a");
    assert_eq!(responses(&h.transmit()), ["200 close body=a"]);
    assert!(h.conn.is_closed());
}

#[test]
fn eof_on_an_idle_connection_closes_at_once() {
    let mut h = Harness::new();
    h.feed(get("/a").as_bytes());
    let id = h.events()[0].id();
    h.answer(id, "a");
    h.transmit();
    h.conn.handle_eof();
    assert!(h.conn.is_closed());
}

#[test]
fn shutdown_with_requests_in_flight_answers_them_then_closes() {
    let mut h = Harness::new();
    h.feed(format!("{}{}", post("/a", "1"), post("/b", "2")).as_bytes());
    let events = h.events();
    h.conn.begin_shutdown();
    assert!(!h.conn.is_closed());
    assert!(!h.conn.wants_read());
    h.answer(events[1].id(), "b");
    h.answer(events[0].id(), "a");
    // Only the last response says close: one that said it earlier would promise the
    // client that nothing follows it.
    assert_eq!(responses(&h.transmit()), ["200 body=a", "200 close body=b"]);
    h.assert_ends();
}

#[test]
fn shutdown_of_an_idle_connection_closes_at_once() {
    let mut h = Harness::new();
    h.conn.begin_shutdown();
    assert!(h.conn.is_closed(), "a fresh connection");

    let mut h = Harness::new();
    h.feed(get("/a").as_bytes());
    let id = h.events()[0].id();
    h.answer(id, "a");
    h.transmit();
    h.conn.begin_shutdown();
    assert!(
        h.conn.is_closed(),
        "a keep-alive connection between requests"
    );
}

#[test]
fn shutdown_with_unsent_output_closes_once_it_is_written() {
    let mut h = Harness::new();
    h.feed(get("/a").as_bytes());
    let id = h.events()[0].id();
    h.answer(id, "a");
    h.conn.begin_shutdown();
    assert!(!h.conn.is_closed());
    assert_eq!(responses(&h.transmit()), ["200 body=a"]);
    h.assert_ends();
}

#[test]
fn shutdown_finishes_a_partially_received_request_as_the_last() {
    let mut h = Harness::new();
    h.feed(b"POST /a HTTP/1.1\r\nContent-Le");
    assert!(h.events().is_empty());
    h.conn.begin_shutdown();
    assert!(!h.conn.is_closed());
    assert!(h.conn.wants_read());
    h.feed(format!("ngth: 1\r\n\r\nx{}", get("/b")).as_bytes());
    let events = h.events();
    assert_eq!(events.len(), 1, "nothing after it is parsed: {events:?}");
    assert_eq!(events[0].path(), "/a");
    assert!(!h.conn.wants_read());
    h.answer(events[0].id(), "a");
    assert_eq!(responses(&h.transmit()), ["200 close body=a"]);
    h.assert_ends();
}

#[test]
fn transmitted_in_pieces_ends_only_after_the_last_byte() {
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    let id = h.events()[0].id();
    h.answer(id, "ok");
    let transmit = h.conn.poll_transmit().unwrap();
    let total = transmit.len();
    h.conn.transmitted(h.now, transmit, total - 1);
    assert!(!h.conn.is_closed() && !h.conn.is_lingering());
    let rest = h.conn.poll_transmit().unwrap();
    assert_eq!(rest.len(), 1);
    h.conn.transmitted(h.now, rest, 1);
    assert!(h.conn.is_lingering());
}

#[test]
fn shutdown_silently_cuts_a_stalled_partial_request_at_its_header_timeout() {
    let mut h = Harness::new();
    h.feed(b"POST /a HTTP/1.1\r\n");
    assert!(h.events().is_empty());
    h.advance(secs(1));
    h.conn.begin_shutdown();
    let deadline = h.start + h.config().timeouts.header;
    assert_eq!(h.conn.poll_timeout(), Some(deadline));
    h.conn.handle_timeout(deadline);
    assert!(h.conn.is_closed());
    assert!(h.events().is_empty(), "an unfinished head is owed no 408");
    assert_eq!(h.conn.poll_transmit(), None);
}

#[test]
fn a_closing_connection_lingers_discarding_what_the_client_still_sends() {
    let mut h = Harness::new();
    // Rejected at the head: the rest of the (large) body is still on its way.
    h.feed(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx");
    let events = h.events();
    let [common::Seen::Rejected { id, status: 400 }] = events[..] else {
        panic!("{events:?}")
    };
    h.answer_with(id, 400, "");
    assert!(
        !h.conn.wants_read(),
        "nothing is read while the response waits"
    );
    assert_eq!(responses(&h.transmit()), ["400 close body="]);
    assert!(h.conn.is_lingering());
    assert!(
        h.conn.poll_shutdown_write(),
        "the engine shuts its write side down"
    );
    assert!(
        h.conn.wants_read(),
        "and keeps reading, so close sends no reset"
    );
    for _ in 0..100 {
        h.feed(&[b'y'; 1000]);
        assert!(h.events().is_empty());
    }
    assert_eq!(h.transmit(), "", "discarded bytes are never answered");
    assert_eq!(h.conn.poll_timeout(), Some(h.now + h.config().linger));
    h.conn.handle_eof();
    assert!(h.conn.is_closed());
}

#[test]
fn a_lingering_connection_closes_at_the_end_of_the_linger() {
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    let id = h.events()[0].id();
    h.answer(id, "ok");
    h.transmit();
    let until = h.now + h.config().linger;
    assert_eq!(h.conn.poll_timeout(), Some(until));
    h.conn.handle_timeout(until - common::ms(1));
    assert!(h.conn.is_lingering());
    h.conn.handle_timeout(until);
    assert!(h.conn.is_closed());
}

#[test]
fn a_client_that_already_closed_its_side_is_not_lingered_for() {
    let mut h = Harness::new();
    h.feed(get("/a").as_bytes());
    h.conn.handle_eof();
    let id = h.events()[0].id();
    h.answer(id, "a");
    assert_eq!(responses(&h.transmit()), ["200 close body=a"]);
    assert!(h.conn.is_closed());
    assert!(!h.conn.poll_shutdown_write());
}

#[test]
fn silent_closes_do_not_linger() {
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\n");
    h.conn.handle_timeout(h.now + h.config().timeouts.header);
    assert!(h.conn.is_closed() && !h.conn.is_lingering());
}

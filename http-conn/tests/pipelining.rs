//! Pipelining, response order, `100 Continue`, protocol errors and bodies split across
//! reads.

mod common;

use common::{get, post, responses, Harness, Seen};
use http_conn::{Config, RespondError, ServerConnection};
use http_parse::CONTINUE;

#[test]
fn three_pipelined_requests_in_one_read_come_out_in_order() {
    let mut h = Harness::new();
    h.feed(format!("{}{}{}", post("/a", "1"), get("/b"), post("/c", "333")).as_bytes());
    let events = h.events();
    let summary: Vec<_> = events
        .iter()
        .map(|event| match event {
            Seen::Request {
                id,
                method,
                path,
                body,
            } => (
                id.sequence(),
                method.as_str(),
                path.as_str(),
                body.as_slice(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, "POST", "/a", &b"1"[..]),
            (1, "GET", "/b", &b""[..]),
            (2, "POST", "/c", &b"333"[..]),
        ]
    );
}

#[test]
fn responses_supplied_out_of_order_are_transmitted_in_order() {
    let mut h = Harness::new();
    h.feed(format!("{}{}{}", get("/0"), get("/1"), get("/2")).as_bytes());
    let ids: Vec<_> = h.events().iter().map(Seen::id).collect();

    h.answer(ids[2], "2");
    assert_eq!(h.conn.poll_transmit(), None, "response 2 waits for 0 and 1");
    h.answer(ids[1], "1");
    assert_eq!(h.conn.poll_transmit(), None);
    h.answer(ids[0], "0");
    assert_eq!(
        responses(&h.transmit()),
        ["200 body=0", "200 body=1", "200 body=2"]
    );
    assert!(!h.conn.is_closed());
}

#[test]
fn pipelining_bound_holds_requests_back_until_one_is_answered() {
    let mut config = Config::default();
    config.max_pipelined_requests = 2;
    let mut h = Harness::with(config);
    h.feed(format!("{}{}{}", get("/0"), get("/1"), get("/2")).as_bytes());
    let events = h.events();
    assert_eq!(events.len(), 2);
    assert!(h.conn.read_buf().is_none(), "no reading past the bound");

    h.answer(events[0].id(), "0");
    let events = h.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].path(), "/2");
}

#[test]
fn continue_is_emitted_once_while_the_body_is_awaited() {
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    assert!(h.events().is_empty());
    assert_eq!(h.transmit().as_bytes(), CONTINUE);

    h.feed(b"ab");
    assert!(h.events().is_empty());
    assert_eq!(h.transmit(), "", "100 Continue only once");
    h.feed(b"cd");
    let events = h.events();
    h.answer(events[0].id(), "ok");
    assert_eq!(responses(&h.transmit()), ["200 body=ok"]);
}

#[test]
fn continue_is_not_emitted_when_the_body_arrived_with_the_head() {
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}");
    let events = h.events();
    assert_eq!(h.transmit(), "");
    h.answer(events[0].id(), "ok");
    assert_eq!(responses(&h.transmit()), ["200 body=ok"]);
}

#[test]
fn continue_waits_for_the_responses_before_it() {
    let mut h = Harness::new();
    h.feed(
        format!(
            "{}POST /b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
            get("/a")
        )
        .as_bytes(),
    );
    let events = h.events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        h.transmit(),
        "",
        "100 for /b may not precede the response to /a"
    );
    h.answer(events[0].id(), "a");
    assert_eq!(responses(&h.transmit()), ["200 body=a", "100"]);
}

#[test]
fn continue_is_dropped_when_the_body_arrives_before_its_turn() {
    let mut h = Harness::new();
    h.feed(
        format!(
            "{}POST /b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
            get("/a")
        )
        .as_bytes(),
    );
    let a = h.events()[0].id();
    h.feed(b"{}");
    let b = h.events()[0].id();
    h.answer(a, "a");
    h.answer(b, "b");
    assert_eq!(responses(&h.transmit()), ["200 body=a", "200 body=b"]);
}

#[test]
fn protocol_error_mid_pipeline_answers_earlier_requests_then_the_error_then_closes() {
    let mut h = Harness::new();
    let bad = "POST /bad HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx";
    h.feed(format!("{}{}{bad}{}", get("/a"), get("/b"), get("/c")).as_bytes());
    let events = h.events();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0].path(), "/a");
    assert_eq!(events[1].path(), "/b");
    let Seen::Rejected { id, status } = events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(status, 400);
    assert!(
        h.conn.read_buf().is_none(),
        "nothing after the error is read"
    );
    h.conn.handle_read(h.now, get("/d").as_bytes());
    assert!(h.events().is_empty(), "nothing after the error is parsed");

    h.answer_with(id, status, "bad");
    h.answer(events[1].id(), "b");
    assert_eq!(h.transmit(), "");
    h.answer(events[0].id(), "a");
    assert_eq!(
        responses(&h.transmit()),
        ["200 body=a", "200 body=b", "400 close body=bad"]
    );
    h.assert_ends();
}

#[test]
fn protocol_error_waits_while_a_response_is_pending_and_is_answered_last() {
    let mut h = Harness::new();
    h.feed(format!("{}GET / HTTP/2.0\r\n\r\n", get("/a")).as_bytes());
    let events = h.events();
    let Seen::Rejected { id, status } = events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(status, 505);
    h.answer_with(id, status, "");
    assert!(!h.conn.is_closed());
    h.answer(events[0].id(), "a");
    assert_eq!(responses(&h.transmit()), ["200 body=a", "505 close body="]);
    h.assert_ends();
}

#[test]
fn body_split_across_many_reads_arrives_whole() {
    let mut h = Harness::new();
    let body: String = (0..1000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let wire = post("/big", &body);
    for piece in wire.as_bytes().chunks(7) {
        assert!(h.events().is_empty());
        h.advance(common::ms(10));
        h.feed(piece);
    }
    let events = h.events();
    let [Seen::Request { body: received, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(received, body.as_bytes());
}

#[test]
fn chunked_body_split_byte_by_byte_arrives_whole() {
    let mut h = Harness::new();
    let wire =
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for byte in wire {
        assert!(h.events().is_empty());
        h.feed(&[*byte]);
    }
    let events = h.events();
    let [Seen::Request { body, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(body, b"abcde");
}

#[test]
fn handle_read_copies_bytes_from_engine_owned_buffers() {
    let mut h = Harness::new();
    let wire = format!("{}{}", post("/a", "xyz"), get("/b"));
    for piece in wire.as_bytes().chunks(5) {
        h.conn.handle_read(h.now, piece);
    }
    let events = h.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].path(), "/b");
}

#[test]
fn respond_refuses_unknown_and_repeated_ids() {
    let mut h = Harness::new();
    h.feed(get("/a").as_bytes());
    let id = h.events()[0].id();
    h.answer(id, "a");
    let repeat = h.conn.respond(h.now, id, false, |_, _| unreachable!());
    assert_eq!(repeat, Err(RespondError::AlreadyAnswered { id }));

    let mut other = ServerConnection::new(Config::default(), h.now);
    other.handle_read(h.now, format!("{}{}", get("/x"), get("/y")).as_bytes());
    let mut foreign = None;
    while let Some(event) = other.poll_event() {
        if let http_conn::Event::Request { id, .. } = event {
            foreign = Some(id);
        }
    }
    let foreign = foreign.unwrap();
    let unknown = h.conn.respond(h.now, foreign, false, |_, _| unreachable!());
    assert_eq!(unknown, Err(RespondError::UnknownRequest { id: foreign }));
}

#[test]
fn chunk_framing_that_outgrows_the_buffer_is_rejected_with_413() {
    let mut config = Config::default();
    config.limits = config
        .limits
        .with_max_head_bytes(100)
        .with_max_body_bytes(100);
    let mut h = Harness::with(config);
    h.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert!(h.events().is_empty());
    // Ten decoded bytes, each wrapped in a kilobyte of chunk extension.
    let chunk = format!("1;ext={}\r\nx\r\n", "e".repeat(1000));
    for _ in 0..10 {
        h.conn.handle_read(h.now, chunk.as_bytes());
    }
    let events = h.events();
    let [Seen::Rejected { id, status }] = events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(status, 413);
    h.answer_with(id, status, "");
    assert_eq!(responses(&h.transmit()), ["413 close body="]);
    h.assert_ends();
}

#[test]
fn output_held_for_a_client_that_does_not_read_stops_further_requests() {
    let mut config = Config::default();
    config.max_pending_output_bytes = 1000;
    let mut h = Harness::with(config);
    let wire: String = (0..10).map(|i| get(&format!("/{i}"))).collect();
    h.feed(wire.as_bytes());
    let events = h.events();
    assert_eq!(
        events.len(),
        10,
        "all ten are handed out before any is answered"
    );
    // Answered last first: the early answers wait behind the first and count too.
    let big = "x".repeat(600);
    h.answer(events[9].id(), &big);
    h.answer(events[8].id(), &big);
    assert!(
        !h.conn.wants_read(),
        "1,200 bytes held: nothing more is read"
    );
    h.conn.handle_read(h.now, get("/next").as_bytes());
    assert!(h.events().is_empty(), "nor handed out");
    for event in events[..8].iter().rev() {
        h.answer(event.id(), "a");
    }
    assert!(h.events().is_empty(), "still held until the client reads");
    h.transmit();
    assert_eq!(
        h.events().len(),
        1,
        "the client read: the next request comes out"
    );
}

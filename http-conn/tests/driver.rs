//! The driver: a connection and its service reduced to the engine's next action.

mod common;

use std::collections::HashMap;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use common::{get, post, responses};
use http_conn::{
    Action, Call, Config, Driver, Event, MemoryBudget, ResponseContext, ServerConnection, Service,
};
use http_parse::{Connection, ResponseHead};

/// Answers `GET /now` at once; anything else waits until the test completes it by path.
#[derive(Default)]
struct Deferred {
    /// Paths called, in order.
    called: Vec<String>,
    /// Completed paths and their bodies.
    done: HashMap<String, String>,
    /// Most calls pending at once (the per-connection bound), 0 for none.
    max_pending: usize,
    pending: usize,
}

impl Service for Deferred {
    type Call = String;
    type Response = (u16, String);

    fn poll_ready(&self) -> bool {
        self.max_pending == 0 || self.pending < self.max_pending
    }

    fn call(&mut self, event: Event<'_>, _now: Instant) -> Call<String, (u16, String)> {
        match event {
            Event::Request { request, .. } => {
                let path = request.path().to_owned();
                self.called.push(path.clone());
                if path == "/now" {
                    Call::Ready((200, "now".into()))
                } else {
                    self.pending += 1;
                    Call::Pending(path)
                }
            }
            Event::Overloaded { .. } => Call::Ready((503, String::new())),
            Event::Rejected { error, .. } => Call::Ready((error.status(), String::new())),
            Event::TimedOut { .. } => Call::Ready((408, String::new())),
        }
    }

    fn poll_call(
        &mut self,
        path: &mut String,
        _cx: &mut Context<'_>,
        _now: Instant,
    ) -> Poll<(u16, String)> {
        match self.done.remove(path.as_str()) {
            Some(body) => {
                self.pending -= 1;
                Poll::Ready((200, body))
            }
            None => Poll::Pending,
        }
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

    fn closes(&self, (status, _): &(u16, String)) -> bool {
        *status >= 500
    }
}

struct Engine {
    driver: Driver<Deferred>,
    now: Instant,
}

impl Engine {
    fn new(config: Config, service: Deferred) -> Self {
        let now = Instant::now();
        Self {
            driver: Driver::new(ServerConnection::new(config, now), service),
            now,
        }
    }

    fn action(&mut self) -> Action {
        self.driver
            .poll_action(&mut Context::from_waker(Waker::noop()), self.now)
    }

    fn read(&mut self, bytes: &[u8]) {
        let buf = self.driver.read_buf().expect("wants bytes");
        buf[..bytes.len()].copy_from_slice(bytes);
        self.driver.commit_read(self.now, bytes.len());
    }

    /// Writes every transmit whole; returns what was written and the next action.
    fn write_then(&mut self) -> (String, Action) {
        let mut wire = String::new();
        loop {
            match self.action() {
                Action::Transmit(transmit) => {
                    wire.push_str(std::str::from_utf8(transmit.bytes()).unwrap());
                    let n = transmit.len();
                    self.driver.transmitted(self.now, transmit, n);
                }
                other => return (wire, other),
            }
        }
    }

    fn write_all(&mut self) -> String {
        self.write_then().0
    }

    fn complete(&mut self, path: &str, body: &str) {
        self.driver
            .service_mut()
            .done
            .insert(path.to_owned(), body.to_owned());
    }
}

#[test]
fn pipelined_requests_all_reach_the_service_before_any_response_and_go_out_in_order() {
    let mut e = Engine::new(Config::default(), Deferred::default());
    e.read(format!("{}{}{}", get("/a"), get("/now"), get("/b")).as_bytes());
    assert!(matches!(e.action(), Action::Wait { .. }), "/a is awaited");
    assert_eq!(e.driver.service().called, ["/a", "/now", "/b"]);
    assert!(e.driver.is_waiting());
    e.complete("/b", "b");
    assert!(
        matches!(e.action(), Action::Wait { .. }),
        "/b waits behind /a"
    );
    e.complete("/a", "a");
    assert_eq!(
        responses(&e.write_all()),
        ["200 body=a", "200 body=now", "200 body=b"],
        "one transmit, in request order"
    );
    assert!(!e.driver.is_waiting());
}

#[test]
fn a_service_at_its_bound_stops_the_connection_reading() {
    let service = Deferred {
        max_pending: 1,
        ..Deferred::default()
    };
    let mut e = Engine::new(Config::default(), service);
    e.read(format!("{}{}", get("/a"), get("/b")).as_bytes());
    let Action::Wait { read, .. } = e.action() else {
        panic!()
    };
    assert!(!read, "the service takes no more: nothing is read");
    assert!(e.driver.read_buf().is_none());
    assert_eq!(e.driver.service().called, ["/a"], "/b waits in the buffer");
    e.complete("/a", "a");
    assert_eq!(responses(&e.write_all()), ["200 body=a"]);
    assert_eq!(e.driver.service().called, ["/a", "/b"]);
}

#[test]
fn one_transmit_is_out_at_a_time_and_a_partial_write_goes_out_first() {
    let mut e = Engine::new(Config::default(), Deferred::default());
    e.read(get("/now").as_bytes());
    let Action::Transmit(first) = e.action() else {
        panic!()
    };
    // While the engine holds it (an io_uring send in flight), more responses arrive.
    e.read(get("/now").as_bytes());
    assert!(
        matches!(e.action(), Action::Wait { .. }),
        "no second transmit while one is out"
    );
    let total = first.len();
    e.driver.transmitted(e.now, first, total - 3);
    let Action::Transmit(rest) = e.action() else {
        panic!()
    };
    assert_eq!(rest.len(), 3, "the unwritten tail of the same buffer first");
    e.driver.transmitted(e.now, rest, 3);
    assert_eq!(responses(&e.write_all()), ["200 body=now"]);
}

#[test]
fn a_closing_response_is_followed_by_a_write_shutdown_a_linger_and_close() {
    let mut e = Engine::new(Config::default(), Deferred::default());
    e.read(b"GET /now HTTP/1.1\r\nConnection: close\r\n\r\n");
    let (wire, next) = e.write_then();
    assert_eq!(responses(&wire), ["200 close body=now"]);
    assert!(matches!(next, Action::ShutdownWrite));
    let Action::Wait { read, deadline } = e.action() else {
        panic!()
    };
    assert!(read, "lingering: the client's bytes are read and discarded");
    assert_eq!(deadline, Some(e.now + Config::default().linger));
    e.read(post("/", "more").as_bytes());
    assert!(
        e.driver.service().called.len() == 1,
        "discarded, never called"
    );
    e.driver.handle_eof();
    assert!(matches!(e.action(), Action::Close));
}

#[test]
fn a_request_the_memory_budget_refuses_reaches_the_service_as_overloaded() {
    let now = Instant::now();
    let conn = ServerConnection::with_budget(Config::default(), now, MemoryBudget::new(8 * 1024));
    let mut driver = Driver::new(conn, Deferred::default());
    let mut cx = Context::from_waker(Waker::noop());
    driver.handle_read(now, b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
    driver.handle_read(now, &[b'x'; 50_000]);
    let Action::Transmit(transmit) = driver.poll_action(&mut cx, now) else {
        panic!()
    };
    assert_eq!(
        responses(std::str::from_utf8(transmit.bytes()).unwrap()),
        ["503 close body="]
    );
}

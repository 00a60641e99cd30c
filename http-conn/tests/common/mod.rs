//! A fake-clock harness: drives a `ServerConnection` the way an I/O loop would, with
//! byte strings for a socket and `Instant`s the test advances.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use http_conn::{Config, Event, RequestId, ServerConnection};
use http_parse::{Connection, ResponseHead, Version};

/// An event, copied out of the connection's buffer so tests can hold several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Request {
        id: RequestId,
        method: String,
        path: String,
        body: Vec<u8>,
    },
    Rejected {
        id: RequestId,
        status: u16,
    },
    TimedOut {
        id: RequestId,
    },
    Overloaded {
        id: RequestId,
    },
}

impl Seen {
    pub fn id(&self) -> RequestId {
        match self {
            Self::Request { id, .. }
            | Self::Rejected { id, .. }
            | Self::TimedOut { id }
            | Self::Overloaded { id } => *id,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            Self::Request { path, .. } => path,
            other => panic!("not a request: {other:?}"),
        }
    }
}

pub struct Harness {
    pub conn: ServerConnection,
    pub now: Instant,
    pub start: Instant,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(Config::default())
    }

    pub fn with(config: Config) -> Self {
        let start = Instant::now();
        Self {
            conn: ServerConnection::new(config, start),
            now: start,
            start,
        }
    }

    pub fn config(&self) -> Config {
        *self.conn.config()
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    pub fn at(&self, offset: Duration) -> Instant {
        self.start + offset
    }

    /// Reads `bytes` at the current time the zero-copy way (as many reads as the lent
    /// slices need). Panics if the connection refuses to read.
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let buf = self.conn.read_buf().expect("the connection wants bytes");
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.conn.commit_read(self.now, n);
            rest = &rest[n..];
        }
    }

    /// Drains `poll_event`.
    pub fn events(&mut self) -> Vec<Seen> {
        let mut seen = Vec::new();
        while let Some(event) = self.conn.poll_event() {
            seen.push(match event {
                Event::Request { id, request } => {
                    let mut body = Vec::new();
                    request.body().copy_into(&mut body);
                    Seen::Request {
                        id,
                        method: request.method().to_owned(),
                        path: request.path().to_owned(),
                        body,
                    }
                }
                Event::Rejected { id, error } => Seen::Rejected {
                    id,
                    status: error.status(),
                },
                Event::TimedOut { id, .. } => Seen::TimedOut { id },
                Event::Overloaded { id } => Seen::Overloaded { id },
            });
        }
        seen
    }

    /// Answers `id` at the current time with `200` and `body`, writing the `Connection`
    /// header the way the gateway does.
    pub fn answer(&mut self, id: RequestId, body: &str) {
        self.answer_with(id, 200, body);
    }

    pub fn answer_with(&mut self, id: RequestId, status: u16, body: &str) {
        self.conn
            .respond(self.now, id, false, |context, out| {
                let head = ResponseHead::new(status);
                let head = match (context.keep_alive(), context.version()) {
                    (false, _) => head.with_connection(Connection::Close),
                    (true, Version::Http10) => head.with_connection(Connection::KeepAlive),
                    (true, Version::Http11) => head,
                };
                head.encode(body.as_bytes(), out);
            })
            .expect("the id is awaited");
    }

    /// Writes everything the connection has to send, as socket writes that each take
    /// all they are given.
    pub fn transmit(&mut self) -> String {
        let mut text = String::new();
        while let Some(transmit) = self.conn.poll_transmit() {
            text.push_str(std::str::from_utf8(transmit.bytes()).unwrap());
            let written = transmit.len();
            self.conn.transmitted(self.now, transmit, written);
        }
        text
    }

    /// Writes at most `n` bytes of what the connection has to send, as one write.
    pub fn transmit_at_most(&mut self, n: usize) -> String {
        let Some(transmit) = self.conn.poll_transmit() else {
            return String::new();
        };
        let written = transmit.len().min(n);
        let text = String::from_utf8(transmit.bytes()[..written].to_vec()).unwrap();
        self.conn.transmitted(self.now, transmit, written);
        text
    }

    /// The last response is out: the connection has the engine shut its write side
    /// down (once), lingers, and closes when the client closes its side.
    pub fn assert_ends(&mut self) {
        assert!(
            self.conn.is_lingering(),
            "lingering after the last response"
        );
        assert!(self.conn.poll_shutdown_write());
        assert!(!self.conn.poll_shutdown_write(), "told once");
        assert!(!self.conn.is_closed());
        self.conn.handle_eof();
        assert!(self.conn.is_closed());
    }
}

/// The status lines and `connection` headers of a transmitted byte stream, one entry per
/// response: e.g. `"200 body=a"` or `"200 close body=b"`.
pub fn responses(wire: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() {
        let (head, after) = rest.split_once("\r\n\r\n").expect("a complete head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line.split(' ').nth(1).unwrap();
        let mut length = 0;
        let mut connection = None;
        for line in lines {
            let (name, value) = line.split_once(": ").unwrap();
            match name {
                "content-length" => length = value.parse().unwrap(),
                "connection" => connection = Some(value),
                _ => {}
            }
        }
        let body = &after[..length];
        out.push(match connection {
            Some(value) => format!("{status} {value} body={body}"),
            None if status == "100" => "100".to_owned(),
            None => format!("{status} body={body}"),
        });
        rest = &after[length..];
    }
    out
}

pub fn post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

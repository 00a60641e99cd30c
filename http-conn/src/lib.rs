//! A sans-IO HTTP/1.1 server connection: bytes and instants in; requests, bytes to write,
//! the next deadline and a close decision out.
//!
//! [`ServerConnection`] makes every per-connection decision a raw-TCP server has to make:
//! framing (with [`http_parse`]), pipelining with responses in request order, `100
//! Continue`, keep-alive and `Connection: close`, header, body and idle timeouts
//! ([`ClientClock`]), bounds on what one client can make it hold (and a process-wide
//! [`MemoryBudget`]), protocol errors, half-close, lingering close and graceful
//! shutdown. It never reads a clock or touches a socket, so a tokio loop, an io_uring
//! loop and a unit test with a fake clock drive the same code (the shape of
//! quinn-proto's `Connection`).
//!
//! [`Driver`] adds the application ([`Service`]: what a request becomes and what the
//! response says) and reduces what an engine does to a `match` over the next
//! [`Action`]: transmit these bytes (an owned [`Transmit`], so nothing is copied to be
//! sent), shut the write side down, wait (to read, for a response, or until a
//! deadline), or close, in the style of rustls's unbuffered API.
//!
//! One full cycle on the connection itself, with a fake clock:
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! use http_conn::{Config, Event, ServerConnection};
//! use http_parse::{Connection, ResponseHead};
//!
//! let start = Instant::now(); // the only real clock reading: a base for fake times
//! let config = Config::default();
//! let mut conn = ServerConnection::new(config, start);
//!
//! // The I/O layer reads straight into the connection's buffer.
//! let wire = b"POST /events HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
//! let buf = conn.read_buf().expect("a fresh connection reads");
//! buf[..wire.len()].copy_from_slice(wire);
//! conn.commit_read(start, wire.len());
//!
//! // Requests come out as borrowed views, each with the id its response answers.
//! let Some(Event::Request { id, request }) = conn.poll_event() else { panic!() };
//! assert_eq!((request.method(), request.path()), ("POST", "/events"));
//! assert_eq!(request.body().as_contiguous(), Some(&b"{}"[..]));
//! assert!(conn.poll_event().is_none());
//! // While the response is awaited (say, from Kafka), no client deadline runs.
//! assert_eq!(conn.poll_timeout(), None);
//!
//! // The caller encodes the response; the connection says whether it keeps the socket.
//! let answered = start + Duration::from_millis(5);
//! conn.respond(answered, id, false, |context, out| {
//!     let mut head = ResponseHead::new(200);
//!     if !context.keep_alive() {
//!         head = head.with_connection(Connection::Close);
//!     }
//!     head.encode(b"ok", out);
//! })
//! .unwrap();
//! // The bytes to write are handed over, and given back with the count written.
//! let transmit = conn.poll_transmit().unwrap();
//! assert!(transmit.bytes().starts_with(b"HTTP/1.1 200 OK\r\n"));
//! let written = transmit.len();
//! conn.transmitted(answered, transmit, written);
//! assert!(conn.poll_transmit().is_none());
//!
//! // Keep-alive: the idle timeout runs from the response; past it the connection closes.
//! let idle_deadline = answered + config.timeouts.idle;
//! assert_eq!(conn.poll_timeout(), Some(idle_deadline));
//! conn.handle_timeout(idle_deadline - Duration::from_millis(1));
//! assert!(!conn.is_closed());
//! conn.handle_timeout(idle_deadline);
//! assert!(conn.is_closed());
//! ```
#![forbid(unsafe_code)]

mod budget;
mod clock;
mod config;
mod conn;
mod driver;
mod error;
mod read;
mod responses;
mod tls;
mod transmit;

pub use budget::MemoryBudget;
pub use clock::{ClientClock, ClientTimer};
pub use config::{Config, Timeouts};
pub use conn::{Event, ServerConnection};
pub use driver::{Action, Call, Driver, Service};
pub use error::RespondError;
pub use responses::{RequestId, ResponseContext};
pub use tls::TlsFailure;
pub use transmit::Transmit;

//! Sans-IO, zero-copy HTTP/1.1 request framing on top of [`httparse`].
//!
//! Feed the bytes of a connection to a [`Decoder`] as they arrive; it answers
//! [`Status::Partial`] (with how many more bytes are needed when known),
//! [`Status::Continue`] (the client waits for `100 Continue`) or [`Status::Complete`]
//! with a [`Request`] whose method, target (split once into path and query), headers
//! and body borrow the caller's buffer. Bodies framed by `Content-Length` or `Transfer-Encoding: chunked` (with
//! trailers) are supported; pipelined requests come out one by one, in order.
//!
//! Anything ambiguous is rejected rather than guessed at, with a [`FrameError`] that
//! names what is wrong and the HTTP status to answer: both `Content-Length` and `Transfer-Encoding`,
//! duplicate or non-decimal lengths, overflowing chunk sizes, chunk extensions outside
//! the RFC 9112 grammar, obsolete line folding, bare LF line ends, whitespace before a
//! header colon, spaces or raw non-ASCII bytes in the request target. The answer is the
//! same however the bytes were split into reads, and the work stays linear in them: a
//! head trickled in one byte per read is not parsed again on every read.
//!
//! The crate never touches a socket or a runtime. [`ResponseHead`] encodes the few
//! responses a gateway sends into a reused buffer. Status codes are plain `u16`s, so
//! the crate's API has no types from other crates.
//!
//! ```
//! use http_parse::{Decoder, Limits, Status};
//!
//! let mut decoder = Decoder::new(Limits::default().with_max_body_bytes(64 * 1024));
//! let mut buf = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n".to_vec();
//! assert!(matches!(decoder.decode(&buf), Ok(Status::Partial { needed: Some(2) })));
//!
//! buf.extend_from_slice(b"{}GET /healthz?verbose HTTP/1.1\r\n\r\n");
//! let Ok(Status::Complete(request)) = decoder.decode(&buf) else { panic!() };
//! assert_eq!(request.method(), "POST");
//! assert_eq!(request.body().as_contiguous(), Some(&b"{}"[..]));
//! let consumed = request.len();
//! buf.drain(..consumed);
//!
//! let Ok(Status::Complete(next)) = decoder.decode(&buf) else { panic!() };
//! assert_eq!((next.path(), next.query()), ("/healthz", Some("verbose")));
//! ```
//!
//! # Modules, for readers of the source
//!
//! `decoder` is the state machine; `scan` follows a head or trailer section that
//! arrives in pieces, so that httparse parses it again only when the answer can have
//! changed; `framing` holds the framing rules ([`FramingHeaders`]); `diagnose` names
//! what is wrong with a refused head or trailer section; `body` frames and iterates
//! bodies; `request` holds the views a decoder hands out; `response` encodes
//! responses; `syntax` the grammar they share.
#![forbid(unsafe_code)]

mod body;
mod decoder;
mod diagnose;
mod error;
mod framing;
mod limits;
mod request;
mod response;
mod scan;
mod syntax;

pub use body::{Body, ChunkedBody, Chunks};
pub use decoder::{Decoder, Status};
pub use error::FrameError;
pub use framing::{Framing, FramingHeaders};
pub use limits::Limits;
pub use request::{Headers, Request, Version};
pub use response::{Connection, ResponseHead, CONTINUE};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

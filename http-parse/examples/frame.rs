//! Frames a byte stream into requests and prints each one.
//!
//! ```text
//! cargo run -p http-parse --example frame              # a built-in pipelined stream
//! cargo run -p http-parse --example frame -- - < raw   # the bytes on standard input
//! ```
//!
//! The bytes are fed to the decoder a few at a time, as a socket would deliver them,
//! into one buffer that is appended to and drained: the contract of `Decoder::decode`.

use std::io::Read;
use std::process::ExitCode;

use http_parse::{Decoder, Limits, Status, CONTINUE};

/// Three pipelined requests: a JSON POST, a chunked POST with a trailer, a GET.
const STREAM: &[u8] = b"POST /events HTTP/1.1\r\nHost: example\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"id\": 42}\
POST /events HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n6;note=x\r\n world\r\n0\r\nChecksum: 1\r\n\r\n\
GET /healthz HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n";

/// How many bytes arrive per read; small, to show that the answer does not depend on it.
const READ_BYTES: usize = 16;

fn main() -> ExitCode {
    let input = if std::env::args().nth(1).as_deref() == Some("-") {
        let mut input = Vec::new();
        if let Err(error) = std::io::stdin().read_to_end(&mut input) {
            eprintln!("frame: cannot read standard input: {error}");
            return ExitCode::FAILURE;
        }
        input
    } else {
        STREAM.to_vec()
    };

    let mut decoder = Decoder::new(Limits::default());
    let mut buf = Vec::new();
    let mut reads = input.chunks(READ_BYTES);
    loop {
        match decoder.decode(&buf) {
            Ok(Status::Complete(request)) => {
                println!(
                    "{} {} {:?}, {} header(s), {:?}, keep-alive: {}",
                    request.method(),
                    request.target(),
                    request.version(),
                    request.headers().len(),
                    request.framing(),
                    request.keep_alive(),
                );
                let mut body = Vec::new();
                request.body().copy_into(&mut body);
                println!("  body: {:?}", String::from_utf8_lossy(&body));
                let consumed = request.len();
                buf.drain(..consumed);
            }
            Ok(Status::Continue) => {
                // The head of the next request is complete and asks for it: a server
                // writes this interim response now, before the body arrives.
                println!("(send {:?})", String::from_utf8_lossy(CONTINUE));
            }
            Ok(Status::Partial { .. }) => match reads.next() {
                Some(read) => buf.extend_from_slice(read),
                None if buf.is_empty() => return ExitCode::SUCCESS,
                None => {
                    eprintln!("frame: stream ends inside a request ({} bytes)", buf.len());
                    return ExitCode::FAILURE;
                }
            },
            Err(error) => {
                eprintln!(
                    "frame: {error}; a server answers {} and closes",
                    error.status()
                );
                return ExitCode::FAILURE;
            }
        }
    }
}

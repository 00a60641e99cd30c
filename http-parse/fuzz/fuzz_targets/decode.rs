//! Feeds arbitrary bytes to the decoder twice: whole, and as a first read (as long as
//! the input's first byte says) followed by one byte per read, as a slow client sends.
//! Both must frame the same requests and end the same way, and every request's path
//! and query must put its target back together. In the trickled run, the decoder's
//! debug assertion that its scan agrees with httparse sees every byte.
#![no_main]

use http_parse::{Decoder, FrameError, Limits, Status};
use libfuzzer_sys::fuzz_target;

/// The requests framed (their bytes) and the error the stream ended with, if any.
fn frame(stream: &[u8], first_read: usize, limits: Limits) -> (Vec<Vec<u8>>, Option<FrameError>) {
    let mut decoder = Decoder::new(limits);
    let mut buf = stream[..first_read].to_vec();
    let mut rest = stream[first_read..].iter();
    let mut requests = Vec::new();
    loop {
        match decoder.decode(&buf) {
            Ok(Status::Complete(request)) => {
                let len = request.len();
                assert!(len > 0 && len <= buf.len());
                assert!(request.body().len() <= len);
                let mut body = Vec::new();
                request.body().copy_into(&mut body);
                assert_eq!(body.len(), request.body().len());
                match request.query() {
                    Some(query) => {
                        assert_eq!(request.target(), format!("{}?{query}", request.path()))
                    }
                    None => assert_eq!(request.target(), request.path()),
                }
                requests.push(request.as_bytes().to_vec());
                buf.drain(..len);
            }
            Ok(Status::Continue) => {}
            Ok(Status::Partial { .. }) => match rest.next() {
                Some(&byte) => buf.push(byte),
                None => return (requests, None),
            },
            Err(error) => {
                // The caller keeps the contract here: never the 500 of a broken one.
                assert_ne!(error.status(), 500, "{error:?}");
                return (requests, Some(error));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first_read, stream)) = data.split_first() else {
        return;
    };
    let first_read = usize::from(first_read).min(stream.len());
    let limits = Limits::default()
        .with_max_head_bytes(4096)
        .with_max_body_bytes(64 * 1024);
    let whole = frame(stream, stream.len(), limits);
    let trickled = frame(stream, first_read, limits);
    assert_eq!(whole, trickled);
});

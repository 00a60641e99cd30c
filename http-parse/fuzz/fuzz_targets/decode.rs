//! Feeds arbitrary bytes to the decoder, split in two at a point chosen by the
//! input's first byte, and decodes every pipelined request it finds.
#![no_main]

use http_parse::{Decoder, Limits, Status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else { return };
    let split = usize::from(split).min(stream.len());
    let limits = Limits::default().with_max_head_bytes(4096).with_max_body_bytes(64 * 1024);
    let mut decoder = Decoder::new(limits);
    let mut buf = stream[..split].to_vec();
    let mut rest = &stream[split..];
    loop {
        match decoder.decode(&buf) {
            Ok(Status::Complete(request)) => {
                let len = request.len();
                assert!(len > 0 && len <= buf.len());
                assert!(request.body().len() <= len);
                let mut body = Vec::new();
                request.body().copy_into(&mut body);
                assert_eq!(body.len(), request.body().len());
                buf.drain(..len);
            }
            Ok(Status::Continue) => {}
            Ok(Status::Partial { .. }) if !rest.is_empty() => {
                buf.extend_from_slice(rest);
                rest = &[];
            }
            Ok(Status::Partial { .. }) | Err(_) => break,
        }
    }
});

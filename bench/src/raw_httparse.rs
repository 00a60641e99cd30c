//! The baseline for the parse bench: the least framing one can do with httparse alone.
//!
//! Heads through `httparse::Request::parse`, the body length from the first
//! `Content-Length`, chunks through `httparse::parse_chunk_size`, header slots left
//! uninitialised as `http-parse` does (the fastest use of httparse). None of the
//! smuggling checks, limits or connection semantics of `http-parse`: the gap between
//! the two is the price of those checks.

use std::mem::MaybeUninit;

/// Frames every request in `stream`, returning how many were found and the total body
/// bytes, or `None` if the stream is not a sequence of complete requests.
pub fn frame_all(stream: &[u8]) -> Option<(usize, usize)> {
    let mut rest = stream;
    let (mut requests, mut body_bytes) = (0, 0);
    while !rest.is_empty() {
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 64];
        let mut request = httparse::Request::new(&mut []);
        let httparse::Status::Complete(head_len) =
            request.parse_with_uninit_headers(rest, &mut headers).ok()?
        else {
            return None;
        };
        let mut length = None;
        let mut chunked = false;
        for header in request.headers.iter() {
            if header.name.eq_ignore_ascii_case("content-length") {
                length = std::str::from_utf8(header.value)
                    .ok()?
                    .parse::<usize>()
                    .ok();
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = true;
            }
        }
        rest = &rest[head_len..];
        if chunked {
            loop {
                let httparse::Status::Complete((start, size)) =
                    httparse::parse_chunk_size(rest).ok()?
                else {
                    return None;
                };
                let size = usize::try_from(size).ok()?;
                rest = &rest[start..];
                if size == 0 {
                    rest = rest.get(2..)?;
                    break;
                }
                body_bytes += size;
                rest = rest.get(size + 2..)?;
            }
        } else {
            let length = length.unwrap_or(0);
            body_bytes += length;
            rest = rest.get(length..)?;
        }
        requests += 1;
    }
    Some((requests, body_bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn frames_every_corpus_case() {
        for case in crate::corpus::all() {
            let (requests, _) = super::frame_all(&case.bytes).expect(case.name);
            assert_eq!(requests, case.requests, "{}", case.name);
        }
    }
}

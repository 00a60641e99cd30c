//! One test per framing rule of the crate, through the public API.

use http_parse::{Decoder, FrameError, Framing, Limits, Status, Version};

fn decode_one(input: &[u8]) -> Result<Summary, FrameError> {
    decode_with(Limits::default(), input)
}

fn decode_with(limits: Limits, input: &[u8]) -> Result<Summary, FrameError> {
    let mut decoder = Decoder::new(limits);
    match decoder.decode(input)? {
        Status::Complete(request) => Ok(Summary {
            method: request.method().to_owned(),
            target: request.target().to_owned(),
            path: request.path().to_owned(),
            query: request.query().map(str::to_owned),
            version: request.version(),
            framing: request.framing(),
            keep_alive: request.keep_alive(),
            expects_continue: request.expects_continue(),
            body: {
                let mut body = Vec::new();
                request.body().copy_into(&mut body);
                body
            },
            len: request.len(),
        }),
        other => panic!("expected a complete request, got {other:?}"),
    }
}

#[derive(Debug)]
#[allow(dead_code)] // fields are read through Debug and assertions
struct Summary {
    method: String,
    target: String,
    path: String,
    query: Option<String>,
    version: Version,
    framing: Framing,
    keep_alive: bool,
    expects_continue: bool,
    body: Vec<u8>,
    len: usize,
}

fn rejected(input: &[u8]) -> FrameError {
    decode_one(input).expect_err("request must be rejected")
}

#[test]
fn get_without_body_is_complete() {
    let input = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let request = decode_one(input).unwrap();
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/healthz");
    assert_eq!(request.path, "/healthz");
    assert_eq!(request.query, None);
    assert_eq!(request.framing, Framing::None);
    assert_eq!(request.len, input.len());
    assert!(request.body.is_empty());
}

#[test]
fn http11_keeps_alive_unless_close() {
    assert!(decode_one(b"GET / HTTP/1.1\r\n\r\n").unwrap().keep_alive);
    assert!(
        !decode_one(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap()
            .keep_alive
    );
    assert!(
        !decode_one(b"GET / HTTP/1.1\r\nConnection: upgrade, Close\r\n\r\n")
            .unwrap()
            .keep_alive
    );
}

#[test]
fn http10_closes_unless_keep_alive() {
    let plain = decode_one(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(plain.version, Version::Http10);
    assert!(!plain.keep_alive);
    assert!(
        decode_one(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .keep_alive
    );
}

#[test]
fn content_length_body_reports_bytes_needed() {
    let mut decoder = Decoder::new(Limits::default());
    let head = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123";
    assert!(matches!(
        decoder.decode(head),
        Ok(Status::Partial { needed: Some(6) })
    ));
    let mut whole = head.to_vec();
    whole.extend_from_slice(b"456789");
    let Ok(Status::Complete(request)) = decoder.decode(&whole) else {
        panic!()
    };
    assert_eq!(request.body().as_contiguous(), Some(&b"0123456789"[..]));
}

#[test]
fn body_is_a_view_of_the_input_not_a_copy() {
    let input = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    let mut decoder = Decoder::new(Limits::default());
    let Ok(Status::Complete(request)) = decoder.decode(input) else {
        panic!()
    };
    let body = request.body().as_contiguous().unwrap();
    assert_eq!(body.as_ptr(), input[input.len() - 2..].as_ptr());
}

#[test]
fn chunked_body_with_extensions_and_trailers() {
    let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
        4;name=value\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Checksum: abc\r\n\r\n";
    let mut decoder = Decoder::new(Limits::default());
    let Ok(Status::Complete(request)) = decoder.decode(input) else {
        panic!()
    };
    assert_eq!(request.framing(), Framing::Chunked);
    assert_eq!(request.body().len(), 9);
    assert_eq!(
        request.body().as_contiguous(),
        None,
        "two chunks are not contiguous"
    );
    assert_eq!(
        request.body().chunks().collect::<Vec<_>>(),
        vec![&b"Wiki"[..], b"pedia"]
    );
    let http_parse::Body::Chunked(chunked) = request.body() else {
        panic!()
    };
    assert_eq!(chunked.trailers(), b"X-Checksum: abc\r\n\r\n");
    assert_eq!(request.len(), input.len());
}

#[test]
fn single_chunk_body_is_contiguous() {
    let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    let mut decoder = Decoder::new(Limits::default());
    let Ok(Status::Complete(request)) = decoder.decode(input) else {
        panic!()
    };
    assert_eq!(request.body().as_contiguous(), Some(&b"{}"[..]));
}

#[test]
fn pipelined_requests_come_out_in_order() {
    let mut buf = b"POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /b HTTP/1.1\r\n\r\n\
        POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\ny\r\n0\r\n\r\n"
        .to_vec();
    let mut decoder = Decoder::new(Limits::default());
    let mut paths = Vec::new();
    while !buf.is_empty() {
        let Ok(Status::Complete(request)) = decoder.decode(&buf) else {
            panic!()
        };
        paths.push(request.path().to_owned());
        let len = request.len();
        buf.drain(..len);
    }
    assert_eq!(paths, ["/a", "/b", "/c"]);
}

#[test]
fn expect_continue_is_reported_once_before_the_body() {
    let mut decoder = Decoder::new(Limits::default());
    let head = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    assert!(matches!(decoder.decode(head), Ok(Status::Continue)));
    assert!(matches!(
        decoder.decode(head),
        Ok(Status::Partial { needed: Some(2) })
    ));
    let mut whole = head.to_vec();
    whole.extend_from_slice(b"{}");
    let Ok(Status::Complete(request)) = decoder.decode(&whole) else {
        panic!()
    };
    assert!(request.expects_continue());
}

#[test]
fn expect_continue_is_not_reported_when_the_body_is_there() {
    let request =
        decode_one(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}")
            .unwrap();
    assert!(request.expects_continue);
}

#[test]
fn expect_continue_is_ignored_for_http10() {
    let mut decoder = Decoder::new(Limits::default());
    let head = b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    assert!(matches!(decoder.decode(head), Ok(Status::Partial { .. })));
}

#[test]
fn too_many_headers_is_431() {
    let limits = Limits::default().with_max_headers(2);
    let error = decode_with(limits, b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n").unwrap_err();
    assert_eq!(error, FrameError::TooManyHeaders { limit: 2 });
    assert_eq!(error.status(), 431);
}

#[test]
fn oversized_head_is_431_even_before_it_completes() {
    let limits = Limits::default().with_max_head_bytes(64);
    let mut decoder = Decoder::new(limits);
    let partial = format!("GET / HTTP/1.1\r\nX-Long: {}", "a".repeat(100));
    let error = decoder.decode(partial.as_bytes()).unwrap_err();
    assert_eq!(error, FrameError::HeadTooLarge { limit: 64 });
    assert_eq!(error.status(), 431);
}

#[test]
fn declared_body_over_the_limit_is_413_before_the_body_arrives() {
    let limits = Limits::default().with_max_body_bytes(10);
    let mut decoder = Decoder::new(limits);
    let error = decoder
        .decode(b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n")
        .unwrap_err();
    assert_eq!(error, FrameError::BodyTooLarge { limit: 10 });
    assert_eq!(error.status(), 413);
}

#[test]
fn chunked_body_over_the_limit_is_413() {
    let limits = Limits::default().with_max_body_bytes(10);
    let error = decode_with(
        limits,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\naaaaaa\r\n6\r\n",
    )
    .unwrap_err();
    assert_eq!(error, FrameError::BodyTooLarge { limit: 10 });
}

#[test]
fn content_length_with_transfer_encoding_is_rejected() {
    let error = rejected(
        b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(error, FrameError::ConflictingFraming);
    assert_eq!(error.status(), 400);
    assert!(error.closes_connection());
}

#[test]
fn duplicate_content_length_is_rejected_even_when_equal() {
    for second in ["5", "6"] {
        let input = format!(
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: {second}\r\n\r\nhello"
        );
        assert_eq!(
            rejected(input.as_bytes()),
            FrameError::DuplicateContentLength
        );
    }
}

#[test]
fn non_decimal_content_length_is_rejected() {
    for value in [
        "+5",
        "-5",
        "0x5",
        "5,5",
        "5 5",
        "five",
        "99999999999999999999",
    ] {
        let input = format!("POST / HTTP/1.1\r\nContent-Length: {value}\r\n\r\nhello");
        assert_eq!(
            rejected(input.as_bytes()),
            FrameError::InvalidContentLength,
            "{value}"
        );
    }
}

#[test]
fn unknown_transfer_coding_is_501() {
    let error = rejected(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
    assert_eq!(error, FrameError::UnsupportedTransferCoding);
    assert_eq!(error.status(), 501);
    assert_eq!(
        rejected(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        FrameError::UnsupportedTransferCoding
    );
}

#[test]
fn chunked_not_last_or_repeated_is_rejected() {
    for value in [
        "chunked, gzip",
        "chunked, chunked",
        "chunked\r\nTransfer-Encoding: chunked",
        "",
    ] {
        let input = format!("POST / HTTP/1.1\r\nTransfer-Encoding: {value}\r\n\r\n0\r\n\r\n");
        assert_eq!(
            rejected(input.as_bytes()),
            FrameError::InvalidTransferEncoding,
            "{value:?}"
        );
    }
}

#[test]
fn transfer_encoding_from_http10_is_rejected() {
    assert_eq!(
        rejected(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        FrameError::InvalidTransferEncoding
    );
}

#[test]
fn bad_chunk_sizes_are_rejected() {
    for (line, expected) in [
        ("fffffffffffffffff", FrameError::ChunkSizeOverflow),
        ("-1", FrameError::InvalidChunkSize),
        ("0x1", FrameError::InvalidChunkSize),
        (" 1", FrameError::InvalidChunkSize),
        ("z", FrameError::InvalidChunkSize),
    ] {
        let input = format!(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{line}\r\nx\r\n0\r\n\r\n"
        );
        assert_eq!(rejected(input.as_bytes()), expected, "{line}");
    }
}

#[test]
fn chunk_data_must_end_in_crlf() {
    assert_eq!(
        rejected(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n"),
        FrameError::InvalidChunkTerminator
    );
}

#[test]
fn overlong_chunk_size_line_is_rejected() {
    let input = format!(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;{}",
        "e".repeat(2000)
    );
    assert_eq!(rejected(input.as_bytes()), FrameError::InvalidChunkSize);
}

#[test]
fn obsolete_line_folding_is_rejected() {
    assert_eq!(
        rejected(b"GET / HTTP/1.1\r\nX-A: one\r\n  two\r\n\r\n"),
        FrameError::ObsoleteLineFolding
    );
}

#[test]
fn whitespace_before_colon_is_rejected() {
    assert_eq!(
        rejected(b"POST / HTTP/1.1\r\nContent-Length : 0\r\n\r\n"),
        FrameError::WhitespaceBeforeColon
    );
}

#[test]
fn bare_lf_is_rejected_in_head_chunk_lines_and_trailers() {
    assert_eq!(
        rejected(b"GET / HTTP/1.1\nHost: x\r\n\r\n"),
        FrameError::BareLineFeed
    );
    assert_eq!(
        rejected(b"GET / HTTP/1.1\r\nHost: x\n\r\n"),
        FrameError::BareLineFeed
    );
    assert_eq!(
        rejected(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n"),
        FrameError::BareLineFeed
    );
    assert_eq!(
        rejected(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\n\r\n"),
        FrameError::BareLineFeed
    );
}

#[test]
fn other_http_versions_are_505_and_garbage_is_400() {
    for version in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9"] {
        let input = format!("GET / {version}\r\n\r\n");
        let error = rejected(input.as_bytes());
        assert_eq!(error, FrameError::UnsupportedVersion, "{version}");
        assert_eq!(error.status(), 505);
    }
    assert_eq!(rejected(b"GET / FOO/1.1\r\n\r\n").status(), 400);
}

#[test]
fn malformed_request_lines_are_400() {
    for input in [
        &b"G@T / HTTP/1.1\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad\x01Name: x\r\n\r\n",
    ] {
        let error = rejected(input);
        assert_eq!(error.status(), 400, "{error:?}");
    }
}

#[test]
fn header_lookup_is_case_insensitive_and_keeps_order() {
    let input =
        b"POST / HTTP/1.1\r\nX-Kafka-Key: k1\r\nx-kafka-header-a: 1\r\nContent-Length: 0\r\n\r\n";
    let mut decoder = Decoder::new(Limits::default());
    let Ok(Status::Complete(request)) = decoder.decode(input) else {
        panic!()
    };
    assert_eq!(request.header("x-kafka-key"), Some(&b"k1"[..]));
    let names: Vec<_> = request.headers().map(|(name, _)| name).collect();
    assert_eq!(names, ["X-Kafka-Key", "x-kafka-header-a", "Content-Length"]);
    assert_eq!(request.as_bytes(), input);
}

#[test]
fn header_names_and_values_survive_a_value_that_is_not_utf8() {
    // obs-text (RFC 9110 §5.5): a value may carry bytes that are not UTF-8; the names
    // around it are still given, and the value as sent.
    let input = b"POST / HTTP/1.1\r\nX-A: caf\xe9\r\nX-B: \xff\xfe\r\nContent-Length: 0\r\n\r\n";
    let mut decoder = Decoder::new(Limits::default());
    let Ok(Status::Complete(request)) = decoder.decode(input) else {
        panic!()
    };
    let headers: Vec<_> = request.headers().collect();
    assert_eq!(
        headers,
        [
            ("X-A", &b"caf\xe9"[..]),
            ("X-B", &b"\xff\xfe"[..]),
            ("Content-Length", &b"0"[..])
        ]
    );
}

#[test]
fn decoder_resets_after_an_error() {
    let mut decoder = Decoder::new(Limits::default());
    assert!(decoder
        .decode(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n")
        .is_err());
    assert!(decoder.is_idle());
    assert!(matches!(
        decoder.decode(b"GET / HTTP/1.1\r\n\r\n"),
        Ok(Status::Complete(_))
    ));
}

/// Feeds `input` one byte at a time to a fresh decoder, as a slow client would,
/// and returns the error it ends with.
fn rejected_trickled(limits: Limits, input: &[u8]) -> FrameError {
    let mut decoder = Decoder::new(limits);
    for end in 1..=input.len() {
        match decoder.decode(&input[..end]) {
            Ok(Status::Partial { .. } | Status::Continue) => {}
            Ok(Status::Complete(request)) => panic!("expected an error, got {request:?}"),
            Err(error) => return error,
        }
    }
    panic!("no error after {} bytes", input.len())
}

/// The same bytes, whole and trickled, must get the same answer.
fn rejected_both_ways(limits: Limits, input: &[u8]) -> FrameError {
    let whole = decode_with(limits, input).expect_err("request must be rejected");
    let trickled = rejected_trickled(limits, input);
    assert_eq!(
        whole,
        trickled,
        "whole and trickled disagree on {:?}",
        String::from_utf8_lossy(input)
    );
    whole
}

#[test]
fn unsupported_version_is_505_also_when_trickled() {
    for input in [
        &b"GET / HTTP/2.0\r\n\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
    ] {
        assert_eq!(
            rejected_both_ways(Limits::default(), input),
            FrameError::UnsupportedVersion
        );
    }
}

#[test]
fn version_after_leading_empty_lines_is_diagnosed_on_the_request_line() {
    assert_eq!(
        rejected_both_ways(Limits::default(), b"\r\n\r\nGET / HTTP/2.0\r\n\r\n"),
        FrameError::UnsupportedVersion
    );
}

#[test]
fn header_name_error_is_diagnosed_from_its_own_line_only() {
    // The failing line has no whitespace before its colon; a later line does.
    assert_eq!(
        rejected_both_ways(
            Limits::default(),
            b"GET / HTTP/1.1\r\nBad\x01Name: x\r\nX-A : y\r\n\r\n"
        ),
        FrameError::InvalidHeaderName
    );
    // Body-like bytes after a bad name say nothing about it either.
    assert_eq!(
        rejected_both_ways(Limits::default(), b"GET / HTTP/1.1\r\nA\x01: x\r\n\r\n :"),
        FrameError::InvalidHeaderName
    );
    assert_eq!(
        rejected_both_ways(Limits::default(), b"GET / HTTP/1.1\r\nX-A \t : y\r\n\r\n"),
        FrameError::WhitespaceBeforeColon
    );
    assert_eq!(
        rejected_both_ways(
            Limits::default(),
            b"GET / HTTP/1.1\r\nX-A: y\r\n folded\r\n\r\n"
        ),
        FrameError::ObsoleteLineFolding
    );
}

#[test]
fn error_past_the_head_limit_is_431_whole_or_trickled() {
    let limits = Limits::default().with_max_head_bytes(64);
    let input = format!(
        "GET / HTTP/1.1\r\nX-Long: {}\r\nBad\x01Name: x\r\n\r\n",
        "a".repeat(60)
    );
    assert_eq!(
        rejected_both_ways(limits, input.as_bytes()),
        FrameError::HeadTooLarge { limit: 64 }
    );
}

#[test]
fn trailer_error_past_the_head_limit_is_431_whole_or_trickled() {
    let limits = Limits::default().with_max_head_bytes(64);
    let input = format!(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Long: {}\r\nBad\x01: x\r\n\r\n",
        "a".repeat(60)
    );
    assert_eq!(
        rejected_both_ways(limits, input.as_bytes()),
        FrameError::HeadTooLarge { limit: 64 }
    );
}

#[test]
fn space_in_request_target_is_400_not_505() {
    for input in [
        &b"GET /a b HTTP/1.1\r\n\r\n"[..],
        b"GET /a b c HTTP/1.0\r\nHost: x\r\n\r\n",
    ] {
        let error = rejected_both_ways(Limits::default(), input);
        assert_eq!(error, FrameError::SpaceInTarget);
        assert_eq!(error.status(), 400);
    }
}

#[test]
fn raw_non_ascii_in_request_target_is_400() {
    // Valid UTF-8 or not, the raw byte is what is wrong.
    for input in [
        "GET /caf\u{e9} HTTP/1.1\r\n\r\n".as_bytes(),
        "POST /\u{1f600}?q=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n".as_bytes(),
        b"GET /\xff HTTP/1.1\r\n\r\n",
    ] {
        let error = rejected_both_ways(Limits::default(), input);
        assert_eq!(error, FrameError::NonAsciiTarget);
        assert_eq!(error.status(), 400);
    }
    // Percent-encoded, the same target is fine.
    assert_eq!(
        decode_one(b"GET /caf%C3%A9 HTTP/1.1\r\n\r\n").unwrap().path,
        "/caf%C3%A9"
    );
}

#[test]
fn version_and_header_name_errors_wait_for_the_bytes_that_decide_them() {
    // `HTTP/2.0x` would be a malformed version, `HTTP/2.0` an unsupported one:
    // until the line ends, the decoder cannot tell, so it waits.
    let mut decoder = Decoder::new(Limits::default());
    assert!(matches!(
        decoder.decode(b"GET / HTTP/2.0"),
        Ok(Status::Partial { .. })
    ));
    assert_eq!(
        decoder.decode(b"GET / HTTP/2.0\r\n").unwrap_err(),
        FrameError::UnsupportedVersion
    );
    // A name then whitespace: a colon next means whitespace before the colon.
    let mut decoder = Decoder::new(Limits::default());
    assert!(matches!(
        decoder.decode(b"GET / HTTP/1.1\r\nX-A \t"),
        Ok(Status::Partial { .. })
    ));
    // Past the head limit the line can never be judged: 431.
    let limits = Limits::default().with_max_head_bytes(32);
    let input = format!("GET / HTTP/1.1\r\nX-A{}: y\r\n\r\n", " ".repeat(40));
    assert_eq!(
        rejected_both_ways(limits, input.as_bytes()),
        FrameError::HeadTooLarge { limit: 32 }
    );
}

#[test]
fn request_line_errors_name_what_is_wrong() {
    for (input, expected) in [
        (&b"G@T / HTTP/1.1\r\n\r\n"[..], FrameError::InvalidMethod),
        (b" / HTTP/1.1\r\n\r\n", FrameError::InvalidMethod),
        (b"GET\r\n\r\n", FrameError::InvalidTarget),
        (b"GET  / HTTP/1.1\r\n\r\n", FrameError::InvalidTarget),
        (b"GET /a\x01b HTTP/1.1\r\n\r\n", FrameError::InvalidTarget),
        (b"GET /a\tb HTTP/1.1\r\n\r\n", FrameError::InvalidTarget),
        (b"GET /\r\n\r\n", FrameError::InvalidVersion),
        (b"GET / FOO/1.1\r\n\r\n", FrameError::InvalidVersion),
        (b"GET / HTTP/1.1 x\r\n\r\n", FrameError::InvalidLineEnding),
        (b"\rGET / HTTP/1.1\r\n\r\n", FrameError::InvalidLineEnding),
    ] {
        let error = rejected_both_ways(Limits::default(), input);
        assert_eq!(error, expected, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(error.status(), 400);
    }
}

#[test]
fn header_value_errors_name_what_is_wrong() {
    for input in [
        &b"GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n",
    ] {
        assert_eq!(
            rejected_both_ways(Limits::default(), input),
            FrameError::InvalidHeaderValue,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn trailer_errors_are_named_as_header_errors_are() {
    for (trailer, expected) in [
        ("Bad\x01: x", FrameError::InvalidHeaderName),
        (" folded", FrameError::ObsoleteLineFolding),
        ("X-V : 1", FrameError::WhitespaceBeforeColon),
        ("X-V: a\x01", FrameError::InvalidHeaderValue),
        ("X-V: a\rb", FrameError::InvalidHeaderValue),
    ] {
        let input = format!(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n{trailer}\r\n\r\n"
        );
        assert_eq!(
            rejected_both_ways(Limits::default(), input.as_bytes()),
            expected,
            "{trailer:?}"
        );
    }
}

#[test]
fn target_is_split_into_path_and_query_at_the_first_question_mark() {
    for (target, path, query) in [
        (
            "/topics/t?format=json&x",
            "/topics/t",
            Some("format=json&x"),
        ),
        ("/a?b?c", "/a", Some("b?c")),
        ("/a?", "/a", Some("")),
        ("/?x=1", "/", Some("x=1")),
        ("/a/b", "/a/b", None),
        ("*", "*", None),
        ("http://example.com/p?q", "http://example.com/p", Some("q")),
    ] {
        let input = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        let request = decode_one(input.as_bytes()).unwrap();
        assert_eq!(request.target, target);
        assert_eq!(
            (request.path.as_str(), request.query.as_deref()),
            (path, query),
            "{target}"
        );
    }
}

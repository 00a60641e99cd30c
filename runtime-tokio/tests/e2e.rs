//! The shared end-to-end suite ([`e2e::suite`]) against this crate's binary.

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-tokio");

e2e::suite_tests!(BINARY);

/// Shapes hyper tolerates or answers with a plain 400, which this server (framing by
/// `http-parse`, as `runtime-uring`) answers with the status the RFCs name: bare LF,
/// equal duplicate lengths and a control byte in a chunk extension are refused,
/// unknown transfer codings get 501, other versions 505.
#[test]
fn stricter_than_hyper_where_the_rfcs_allow() {
    let setup = e2e::suite::setup(BINARY, &[]);
    for (request, status) in [
        (
            &b"POST / HTTP/1.1\nHost: t\nContent-Length: 2\n\n{}"[..],
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (
            b"POST / HTTP/2.0\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}",
            505,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2;\x01\r\n{}\r\n0\r\n\r\n",
            400,
        ),
    ] {
        let mut client = e2e::Client::connect(setup.gateway.address).unwrap();
        let response = client.request(request).unwrap().expect("response");
        assert_eq!(
            response.status,
            status,
            "{}",
            String::from_utf8_lossy(request)
        );
        assert!(client.is_closed());
    }
    assert!(setup.payloads_in_kafka(1).is_empty(), "nothing produced");
}

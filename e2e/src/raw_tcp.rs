//! The checks of the servers that run `http-conn`'s connection driver (every server
//! but hyper), on what its bounds look like from outside: an error answer survives
//! request bytes still on their way (lingering close), the process-wide budget of
//! buffered request bytes answers 503 and spares everyone else, one connection cannot
//! hold more than its share of the records in flight, and clients that never read or
//! sit idle do not stop others from being served.
//!
//! As everywhere in the suites, what the clients receive decides (a status, bytes, EOF
//! or a reset); waits are hang guards. Memory figures belong to the bench's probes, not
//! here.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::suite::setup;
use crate::{post, Client, GatewayProcess, Response};

/// How long a client blocks on a read or a write before the check fails instead of
/// hanging.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// Cheap requests pipelined ahead of the one under test, by a client whose receive
/// window (4 KiB) their answers overflow: about 7 KB of answers then wait in the
/// server's socket, unsent, when it answers the request under test. A server that
/// closes while the client still sends makes the kernel reset the connection, and a
/// reset discards what was not sent yet: the client, reading only once it has written,
/// would miss the last answers and the error. (With nothing waiting unsent, a loopback
/// client reads even a reset connection's answer, which proves nothing.)
const WINDOW_FILLERS: usize = 64;

/// A client with a 4 KiB receive window that has sent [`WINDOW_FILLERS`] `GET /healthz`
/// and then `request`, without reading.
fn client_behind_its_own_answers(address: SocketAddr, request: &[u8]) -> Client {
    let mut client = Client::connect_with_receive_buffer(address, 4096).unwrap();
    client.set_read_timeout(HANG_GUARD).unwrap();
    client.set_write_timeout(HANG_GUARD).unwrap();
    let mut pipelined = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n".repeat(WINDOW_FILLERS);
    pipelined.extend_from_slice(request);
    client.send(&pipelined).unwrap();
    client
}

/// Writes `total` bytes of body filler to `client` as fast as the socket takes them,
/// stopping at the first failed write (a server that reset the connection); the bytes
/// written and the error, if any.
fn write_filler(client: &mut Client, total: usize) -> (usize, Option<std::io::Error>) {
    let chunk = vec![b'x'; 64 * 1024];
    let mut written = 0;
    while written < total {
        let n = chunk.len().min(total - written);
        if let Err(error) = client.send(&chunk[..n]) {
            return (written, Some(error));
        }
        written += n;
    }
    (written, None)
}

/// Reads the [`WINDOW_FILLERS`]' answers, the answer `status` that must follow them,
/// and then a clean end (a FIN), and checks that the server took every byte the client
/// wrote (`written`, no `write_error`). Panics with what the client saw instead.
fn expect_every_answer_then_eof(
    client: &mut Client,
    status: u16,
    what: &str,
    written: usize,
    write_error: Option<&std::io::Error>,
) {
    let sent = match write_error {
        Some(error) => format!("{written} bytes written, then the write failed: {error}"),
        None => format!("all {written} bytes written"),
    };
    for n in 0..WINDOW_FILLERS {
        match client.read_response() {
            Ok(Some(response)) => assert_eq!(response.status, 200, "{what}: filler {n}"),
            Ok(None) => panic!("{what}: closed after {n} of {WINDOW_FILLERS} answers, before the {status} ({sent})"),
            Err(error) => panic!("{what}: {n} of {WINDOW_FILLERS} answers, then {error} ({sent})"),
        }
    }
    let response = match client.read_response() {
        Ok(Some(response)) => response,
        Ok(None) => panic!("{what}: closed without the {status} ({sent})"),
        Err(error) => panic!("{what}: no {status}, the read failed: {error} ({sent})"),
    };
    assert_eq!(response.status, status, "{what}: {}", response.text());
    assert_eq!(response.header("connection"), Some("close"), "{what}");
    match client.read_to_eof() {
        Ok(after) => assert!(
            after.is_empty(),
            "{what}: bytes after the {status}: {after:?}"
        ),
        Err(error) => panic!("{what}: after the {status}, not a clean close: {error} ({sent})"),
    }
    assert!(
        write_error.is_none(),
        "{what}: the server did not take the rest ({sent})"
    );
}

/// A `POST /` whose `Content-Length` is far over `--max-body-bytes`, followed by 8 MiB
/// of its body written as fast as the socket takes them, is answered `413`; the client,
/// reading only once it has written, receives every answer (those it pipelined before,
/// held back by its own full receive window, and the 413) and then EOF, not a reset:
/// the server shut its write side and discarded the body still arriving instead of
/// closing on it.
///
/// 8 MiB is more than the kernels' socket buffers absorb (a server that stops reading
/// without closing fails the write at the hang guard), and little enough to be written
/// well within the 2 s the server lingers (tens to a few hundred ms here).
pub fn an_error_answer_survives_a_body_still_arriving(binary: &str) {
    let setup = setup(binary, &["--max-body-bytes", "1024"]);
    let body_bytes = 64 * 1024 * 1024;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {body_bytes}\r\n\r\n"
    );
    let mut client = client_behind_its_own_answers(setup.gateway.address, head.as_bytes());
    let (written, write_error) = write_filler(&mut client, 8 * 1024 * 1024);
    expect_every_answer_then_eof(
        &mut client,
        413,
        "a body over the limit, still arriving",
        written,
        write_error.as_ref(),
    );
    let mut next = Client::connect(setup.gateway.address).unwrap();
    let ok = next
        .request(&post(br#"{"after":"413"}"#, &[]))
        .unwrap()
        .expect("served after the 413");
    assert_eq!(ok.status, 200, "{}", ok.text());
}

/// A body that stalls gets `408`; bytes the client sends after the gateway answered do
/// not destroy the answer: the client then reads every answer (its pipelined ones held
/// back by its full receive window, and the 408) and EOF, not a reset. That the 408 was
/// decided before the client sends more is seen on two reference connections, one
/// after the other, whose stalled bodies get their 408s.
pub fn a_408_survives_bytes_sent_after_it(binary: &str) {
    let setup = setup(
        binary,
        &[
            "--body-timeout-ms",
            "300",
            "--header-timeout-ms",
            "600000",
            "--idle-timeout-ms",
            "600000",
        ],
    );
    let stalled = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"late\":\"";
    let mut client = client_behind_its_own_answers(setup.gateway.address, stalled);
    for reference in ["first", "second"] {
        let mut other = Client::connect(setup.gateway.address).unwrap();
        other.set_read_timeout(HANG_GUARD).unwrap();
        let response = other
            .request(stalled)
            .unwrap()
            .unwrap_or_else(|| panic!("{reference} reference closed without its 408"));
        assert_eq!(
            response.status,
            408,
            "{reference} reference: {}",
            response.text()
        );
    }
    let (written, write_error) = write_filler(&mut client, 256 * 1024);
    expect_every_answer_then_eof(
        &mut client,
        408,
        "a stalled body, then more of it",
        written,
        write_error.as_ref(),
    );
}

/// The payload of one of [`a_request_over_the_buffer_budget_gets_503_and_others_are_served`]'s
/// large requests: valid JSON of `bytes` bytes, named by `id`.
fn padded_payload(id: &str, bytes: usize) -> String {
    let head = format!(r#"{{"id":"{id}","pad":""#);
    let pad = bytes - head.len() - 2;
    format!("{head}{}\"}}", "x".repeat(pad))
}

/// With `--max-buffered-request-bytes` at 96 KiB, two clients each send a 60 KiB body
/// but its last two bytes, and wait: the gateway cannot buffer both (each holds at
/// least 56 KiB beyond its initial read buffer), so one of them is answered `503` with
/// `Retry-After` and `Connection: close` at once, not at a timeout, and closed.
/// Meanwhile a small request from a third client is served (it needs nothing from the
/// budget), and the other large one, which fits alone, is served once complete. What
/// was refused is not in Kafka.
pub fn a_request_over_the_buffer_budget_gets_503_and_others_are_served(binary: &str) {
    // A long body timeout: only the budget can explain an answer to a stalled body.
    let setup = setup(
        binary,
        &[
            "--max-buffered-request-bytes",
            "98304",
            "--body-timeout-ms",
            "600000",
        ],
    );
    let address = setup.gateway.address;
    let payloads = [
        padded_payload("first", 60 * 1024),
        padded_payload("second", 60 * 1024),
    ];
    let mut clients: Vec<Client> = payloads
        .iter()
        .map(|payload| {
            let mut client = Client::connect(address).unwrap();
            client.set_read_timeout(Duration::from_millis(20)).unwrap();
            let request = post(payload.as_bytes(), &[]);
            client.send(&request[..request.len() - 2]).unwrap();
            client
        })
        .collect();

    // Whichever the budget refuses hears so at once; the other hears nothing until it
    // completes its body. Poll both until one answers.
    let guard = Instant::now() + HANG_GUARD;
    let refused = 'answered: loop {
        for (index, client) in clients.iter_mut().enumerate() {
            match client.read_response() {
                Ok(Some(response)) => break 'answered (index, response),
                Ok(None) => panic!("client {index} closed without an answer"),
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(error) => panic!("client {index}: {error}"),
            }
        }
        assert!(
            Instant::now() < guard,
            "neither large request was answered: the budget held both, or a refusal was \
             never answered"
        );
    };
    let (refused_index, response) = refused;
    assert_eq!(response.status, 503, "{}", response.text());
    assert_eq!(response.header("retry-after"), Some("1"));
    assert_eq!(response.header("connection"), Some("close"));
    let refused_client = &mut clients[refused_index];
    refused_client.set_read_timeout(HANG_GUARD).unwrap();
    let after = refused_client
        .read_until_closed()
        .expect("the refused connection is closed");
    assert!(after.is_empty(), "bytes after the 503: {after:?}");

    let mut other = Client::connect(address).unwrap();
    let small = r#"{"small":"while a large one waits"}"#;
    let ok = other
        .request(&post(small.as_bytes(), &[]))
        .unwrap()
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());

    // The other large request fits alone: its last bytes complete it. (Where the
    // engine sees both grow at once, both may be refused before the first refusal's
    // bytes are given back; then it is sent again, alone, and must fit.)
    let waiting_index = 1 - refused_index;
    let waiting = &mut clients[waiting_index];
    waiting.set_read_timeout(HANG_GUARD).unwrap();
    let mut completed = waiting
        .request(b"\"}")
        .unwrap()
        .expect("the other large request is answered");
    if completed.status == 503 {
        eprintln!("both large requests were refused; the second is sent again alone");
        completed = request_once(address, &post(payloads[waiting_index].as_bytes(), &[]));
    }
    assert_eq!(completed.status, 200, "{}", completed.text());

    let acknowledged = HashSet::from([small.to_owned(), payloads[waiting_index].clone()]);
    setup.assert_exactly_once(
        &acknowledged,
        &HashSet::from([payloads[refused_index].clone()]),
    );
}

/// With `--max-in-flight-records-per-connection 1` under a process-wide
/// `--max-in-flight-records 2`, and deliveries held back by the producer's linger, one
/// connection pipelines six requests in one write: it cannot take a second record in
/// flight, so none of its requests meets the process-wide bound (every one is answered
/// 200, one after the other), and another client's request, sent meanwhile, finds room
/// and is served 200. Without the per-connection bound the first connection's requests
/// would fill the process-wide bound at once: some of them, and the other client's,
/// would be 503.
pub fn a_connection_cannot_hold_more_than_its_share_of_records_in_flight(binary: &str) {
    let setup = setup(
        binary,
        &[
            "--max-in-flight-records-per-connection",
            "1",
            "--max-in-flight-records",
            "2",
            "--linger-ms",
            "200",
        ],
    );
    let address = setup.gateway.address;
    let mut pipelining = Client::connect(address).unwrap();
    pipelining.set_read_timeout(HANG_GUARD).unwrap();
    let pipelined: Vec<String> = (0..6).map(|i| format!(r#"{{"pipelined":{i}}}"#)).collect();
    let batch: Vec<u8> = pipelined
        .iter()
        .flat_map(|payload| post(payload.as_bytes(), &[]))
        .collect();
    pipelining.send(&batch).unwrap();

    let mut other = Client::connect(address).unwrap();
    other.set_read_timeout(HANG_GUARD).unwrap();
    let meanwhile = r#"{"other":"client"}"#;
    let response = other
        .request(&post(meanwhile.as_bytes(), &[]))
        .unwrap()
        .expect("answered");
    assert_eq!(
        response.status,
        200,
        "another client while a connection pipelines: {}",
        response.text()
    );

    for payload in &pipelined {
        let response = pipelining
            .read_response()
            .unwrap()
            .unwrap_or_else(|| panic!("{payload}: closed"));
        assert_eq!(response.status, 200, "{payload}: {}", response.text());
    }
    let mut acknowledged: HashSet<String> = pipelined.into_iter().collect();
    acknowledged.insert(meanwhile.to_owned());
    setup.assert_exactly_once(&acknowledged, &HashSet::new());
}

/// A gateway with the null sink (the HTTP stack alone: these checks produce hundreds
/// of thousands of records, which say nothing about Kafka) and `extra` flags.
fn null_sink_gateway(binary: &str, extra: &[&str]) -> GatewayProcess {
    let mut args = vec!["--sink", "null", "--topic", "e2e-null"];
    args.extend_from_slice(extra);
    GatewayProcess::start(binary, &args).unwrap_or_else(|log| panic!("{log}"))
}

/// Sends `request` on a connection of its own and reads the answer.
fn request_once(address: SocketAddr, request: &[u8]) -> Response {
    Client::connect(address)
        .unwrap()
        .request(request)
        .unwrap()
        .expect("answered")
}

/// A REST Proxy v3 request producing `records` empty records (`{}`) to `topic`.
fn v3_request(cluster_id: &str, topic: &str, records: usize) -> Vec<u8> {
    let body = "{}".repeat(records);
    format!(
        "POST /v3/clusters/{cluster_id}/topics/{topic}/records HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The review's slow readers: 20 connections with 4 KiB receive buffers each pipeline
/// 16 REST v3 requests of 1,000 records and do not read. Their answers (about 146 KB
/// each, 2.3 MB per connection) are more than the kernel's socket buffers take (about
/// 1.3 MB per connection here), so the driver's bound on unsent output holds back the
/// rest. Meanwhile a normal client is served, on `POST /` and on the REST Proxy API.
/// When the slow readers finally read, each gets all 16 answers, 200 with 1,000
/// reports each: holding their output back lost nothing.
pub fn clients_that_never_read_do_not_stop_others_and_get_every_answer(binary: &str) {
    const SLOW_READERS: usize = 20;
    const REQUESTS: usize = 16;
    const RECORDS: usize = 1000;
    let gateway = null_sink_gateway(binary, &[]);
    let address = gateway.address;
    let clusters = request_once(address, b"GET /v3/clusters HTTP/1.1\r\nHost: t\r\n\r\n");
    let clusters: Value = serde_json::from_slice(&clusters.body).expect("clusters");
    let cluster_id = clusters["data"][0]["cluster_id"]
        .as_str()
        .expect("cluster id")
        .to_owned();
    let request = v3_request(&cluster_id, "e2e-null", RECORDS);

    let mut slow: Vec<Client> = (0..SLOW_READERS)
        .map(|_| {
            let mut client = Client::connect_with_receive_buffer(address, 4096).unwrap();
            client.set_write_timeout(HANG_GUARD).unwrap();
            client.set_read_timeout(HANG_GUARD).unwrap();
            client.send(&request.repeat(REQUESTS)).unwrap();
            client
        })
        .collect();

    // Served once the worker has done what the slow readers already asked for: the
    // answers their kernels' socket buffers take (about 1.3 MB each) and the driver's
    // bounded output beyond. That takes seconds in a debug build: the read timeout is
    // the hang guard, not the default.
    let mut normal = Client::connect(address).unwrap();
    normal.set_read_timeout(HANG_GUARD).unwrap();
    let mut served_requests = Vec::new();
    for i in 0..10 {
        let response = normal
            .request(&post(format!(r#"{{"normal":{i}}}"#).as_bytes(), &[]))
            .unwrap()
            .expect("answered");
        served_requests.push(response.status);
        let response = normal
            .request(&v3_request(&cluster_id, "e2e-null", 1))
            .unwrap()
            .expect("answered");
        served_requests.push(response.status);
    }
    assert!(
        served_requests.iter().all(|&status| status == 200),
        "a normal client beside {SLOW_READERS} that do not read: {served_requests:?}"
    );

    for (index, client) in slow.iter_mut().enumerate() {
        for n in 0..REQUESTS {
            let response = client
                .read_response()
                .unwrap_or_else(|error| panic!("slow reader {index}, answer {n}: {error}"))
                .unwrap_or_else(|| panic!("slow reader {index}: closed after {n} answers"));
            assert_eq!(response.status, 200, "slow reader {index}, answer {n}");
            // One report per record; counted without parsing (std's search is fast in
            // a debug build, a JSON parse of 300,000 reports is not).
            let delivered = response.text().matches("\"error_code\":200,").count();
            assert_eq!(delivered, RECORDS, "slow reader {index}, answer {n}");
        }
    }
}

/// 20 keep-alive connections each send a 900 kB body and then sit idle: a normal client
/// is served meanwhile, and each idle connection serves another 900 kB body afterwards
/// (buffers freed while idle grow again when needed).
pub fn idle_connections_after_large_bodies_keep_serving(binary: &str) {
    const IDLE: usize = 20;
    let gateway = null_sink_gateway(binary, &[]);
    let address = gateway.address;
    let large = |n: usize| padded_payload(&format!("large-{n}"), 900_000);
    let mut idle: Vec<Client> = (0..IDLE)
        .map(|n| {
            let mut client = Client::connect(address).unwrap();
            client.set_read_timeout(HANG_GUARD).unwrap();
            let response = client
                .request(&post(large(n).as_bytes(), &[]))
                .unwrap()
                .expect("answered");
            assert_eq!(response.status, 200, "{}", response.text());
            client
        })
        .collect();

    let ok = request_once(address, &post(br#"{"normal":"client"}"#, &[]));
    assert_eq!(ok.status, 200, "{}", ok.text());

    for (n, client) in idle.iter_mut().enumerate() {
        let response = client
            .request(&post(large(IDLE + n).as_bytes(), &[]))
            .unwrap()
            .unwrap_or_else(|| panic!("idle connection {n} closed"));
        assert_eq!(
            response.status,
            200,
            "idle connection {n}: {}",
            response.text()
        );
    }
}

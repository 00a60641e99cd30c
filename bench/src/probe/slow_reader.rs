//! The slow reader: sockets with a small receive buffer, each sending many pipelined
//! REST Proxy v3 requests (streaming mode, many records each) and never reading a
//! byte. Without a budget for queued response bytes, the gateway keeps taking
//! requests and encoding their answers, and holds them all.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};

use socket2::{Domain, Socket, Type};

use super::{cluster_id, rss_kib, rss_row, rss_until_settled, Settings, Target};
use crate::Error;

/// The topic the null sink is told about (and the REST Proxy's allowlist then holds).
const TOPIC: &str = "probe";

/// A v3 produce request in streaming mode: `records` empty JSON objects concatenated,
/// each a record with no key and an empty value.
pub(super) fn request(cluster_id: &str, topic: &str, records: usize) -> Vec<u8> {
    let body = "{}".repeat(records);
    format!(
        "POST /v3/clusters/{cluster_id}/topics/{topic}/records HTTP/1.1\r\nHost: probe\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A socket that sends its requests and never reads.
struct SlowSocket {
    stream: TcpStream,
    /// Bytes of the upload sent so far.
    sent: usize,
    /// Whether the gateway closed (or reset) the connection.
    closed: bool,
}

impl SlowSocket {
    /// Connects with `receive_buffer_bytes` set before the connection exists, so that
    /// the window the gateway sees is the small one. Returns the socket and the
    /// buffer the kernel granted (Linux doubles the request, and has a floor).
    fn connect(address: SocketAddr, receive_buffer_bytes: usize) -> Result<(Self, usize), Error> {
        let error = Error::connection("connect to", address);
        let socket = Socket::new(Domain::for_address(address), Type::STREAM, None);
        let connected = socket.and_then(|socket| {
            socket.set_recv_buffer_size(receive_buffer_bytes)?;
            socket.connect(&address.into())?;
            // Written to by one loop for every socket: a full socket must not block it.
            socket.set_nonblocking(true)?;
            let granted = socket.recv_buffer_size()?;
            Ok((socket, granted))
        });
        let (socket, granted) = connected.map_err(error)?;
        let slow = Self {
            stream: socket.into(),
            sent: 0,
            closed: false,
        };
        Ok((slow, granted))
    }

    /// Sends as much of `upload` as the connection takes now; whether any was sent.
    fn push(&mut self, upload: &[u8]) -> bool {
        let before = self.sent;
        while !self.closed && self.sent < upload.len() {
            match self.stream.write(&upload[self.sent..]) {
                Ok(0) => self.closed = true,
                Ok(n) => self.sent += n,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(_) => self.closed = true,
            }
        }
        self.sent > before
    }
}

/// Runs the probe: RSS before, then once it stops growing (and no socket can send
/// more) with every socket still open.
pub(super) fn run(target: &Target, settings: &Settings) -> Result<(String, String), Error> {
    let gateway = target.start(&["--sink", "null", "--topic", TOPIC])?;
    let cluster = cluster_id(&gateway)?;
    let before = rss_kib(&gateway)?;
    let one = request(&cluster, TOPIC, settings.slow_records);
    let upload = one.repeat(settings.slow_requests);
    let mut sockets = Vec::with_capacity(settings.slow_sockets);
    let mut granted = 0;
    for _ in 0..settings.slow_sockets {
        let (socket, buffer) =
            SlowSocket::connect(gateway.address, settings.slow_receive_buffer_bytes)?;
        granted = buffer;
        sockets.push(socket);
    }
    let after = rss_until_settled(&gateway, settings, || {
        sockets
            .iter_mut()
            .fold(false, |progress, socket| socket.push(&upload) | progress)
    })?;
    let sent: usize = sockets.iter().map(|socket| socket.sent).sum();
    let closed = sockets.iter().filter(|socket| socket.closed).count();
    let what = format!(
        "{} sockets with SO_RCVBUF {} B (the kernel made it {granted} B), each sending {} \
         pipelined v3 requests of {} records ({:.1} KB) and never reading; {sent} of {} \
         bytes sent, {closed} sockets closed by the gateway",
        settings.slow_sockets,
        settings.slow_receive_buffer_bytes,
        settings.slow_requests,
        settings.slow_records,
        upload.len() as f64 / 1000.0,
        upload.len() * settings.slow_sockets,
    );
    Ok(rss_row(before, after, settings.slow_sockets, &what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_one_the_gateway_takes_as_a_thousand_records() {
        let request = request(ingest::NULL_CLUSTER_ID, TOPIC, 1000);
        let (status, body) = crate::probe::null_sink_answer(TOPIC, &request);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let reports = serde_json::Deserializer::from_slice(&body)
            .into_iter::<serde_json::Value>()
            .map(|report| report.expect("a JSON report"))
            .collect::<Vec<_>>();
        assert_eq!(reports.len(), 1000);
        assert!(reports.iter().all(|report| report["error_code"] == 200));
        // 32 of them are the 68.5 KB per socket the review uploaded.
        let upload_kb = (32 * request.len()) as f64 / 1000.0;
        assert!((68.0..69.0).contains(&upload_kb), "{upload_kb} KB");
    }
}

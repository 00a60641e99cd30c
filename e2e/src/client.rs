//! A blocking raw HTTP/1.1 client that sends exactly the bytes a test writes, over TCP
//! or over TLS.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// How long a read may block by default before it fails (see [`Client::connect`]).
const HANG_GUARD: Duration = Duration::from_secs(30);

/// A response as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body (by `Content-Length`).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One connection.
#[derive(Debug)]
pub struct Client {
    stream: Transport,
    buf: Vec<u8>,
}

/// The bytes a client writes go over TCP as they are, or inside TLS records.
#[derive(Debug)]
enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(stream) => stream,
            Self::Tls(stream) => &stream.sock,
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.read(buf),
            Self::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.write(buf),
            Self::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(stream) => stream.flush(),
            Self::Tls(stream) => stream.flush(),
        }
    }
}

/// `POST /` with a JSON body and the given extra header lines.
pub fn post(body: &[u8], headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!(
        "POST / HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

impl Client {
    /// Connects, with a 30 s read timeout so a hung server fails the test instead of
    /// hanging it: a hang guard, generous because many gateways and one broker share
    /// a loaded machine while a test binary runs.
    pub fn connect(address: SocketAddr) -> std::io::Result<Self> {
        Self::connect_socket(Self::socket_for(address)?, address)
    }

    /// Connects over TLS to `localhost` at `address`, as `config` says (trusted
    /// roots, a client certificate), and completes the handshake: an error if the
    /// server refuses it.
    pub fn connect_tls(address: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<Self> {
        let tcp = TcpStream::connect(address)?;
        tcp.set_read_timeout(Some(HANG_GUARD))?;
        tcp.set_nodelay(true)?;
        let tls = ClientConnection::new(config, "localhost".try_into().expect("a valid name"))
            .map_err(std::io::Error::other)?;
        let mut stream = StreamOwned::new(tls, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(Self {
            stream: Transport::Tls(Box::new(stream)),
            buf: Vec::new(),
        })
    }

    /// The server's certificate chain, over TLS.
    pub fn peer_certificates(&self) -> Option<Vec<Vec<u8>>> {
        match &self.stream {
            Transport::Plain(_) => None,
            Transport::Tls(stream) => stream
                .conn
                .peer_certificates()
                .map(|chain| chain.iter().map(|cert| cert.to_vec()).collect()),
        }
    }

    /// Connects with a receive buffer of about `bytes` (set before the handshake, so
    /// the window the client advertises stays that small): a client that reads slowly,
    /// or not at all, with as little kernel memory as possible between it and the
    /// server.
    pub fn connect_with_receive_buffer(address: SocketAddr, bytes: usize) -> std::io::Result<Self> {
        let socket = Self::socket_for(address)?;
        socket.set_recv_buffer_size(bytes)?;
        Self::connect_socket(socket, address)
    }

    /// Connects from the local address `source` (any port): on loopback, every
    /// `127.0.0.0/8` address is this host's, so one test can be several clients.
    pub fn connect_from(source: IpAddr, address: SocketAddr) -> std::io::Result<Self> {
        let socket = Self::socket_for(address)?;
        socket.bind(&SocketAddr::new(source, 0).into())?;
        Self::connect_socket(socket, address)
    }

    /// A TCP socket of `address`'s family, to prepare before it connects.
    fn socket_for(address: SocketAddr) -> std::io::Result<socket2::Socket> {
        socket2::Socket::new(
            socket2::Domain::for_address(address),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
    }

    /// Connects a prepared `socket` to `address`, as [`Client::connect`] does.
    fn connect_socket(socket: socket2::Socket, address: SocketAddr) -> std::io::Result<Self> {
        socket.connect(&address.into())?;
        let stream = TcpStream::from(socket);
        stream.set_read_timeout(Some(HANG_GUARD))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: Transport::Plain(stream),
            buf: Vec::new(),
        })
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one response (interim ones included); `None` if the server closed first.
    pub fn read_response(&mut self) -> std::io::Result<Option<Response>> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let Ok(httparse::Status::Complete(head_len)) = response.parse(&self.buf) {
                let status = response.code.unwrap_or(0);
                let headers: Vec<(String, String)> = response
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                if self.buf.len() >= head_len + length {
                    let body = self.buf[head_len..head_len + length].to_vec();
                    self.buf.drain(..head_len + length);
                    return Ok(Some(Response {
                        status,
                        headers,
                        body,
                    }));
                }
            }
            let mut chunk = [0u8; 8192];
            let n = match self.stream.read(&mut chunk) {
                // A signal to the test process (children being spawned and killed by
                // other tests) is not the server's doing: read again.
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                read => read?,
            };
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a request and reads its final response (skipping `100 Continue`).
    pub fn request(&mut self, bytes: &[u8]) -> std::io::Result<Option<Response>> {
        self.send(bytes)?;
        loop {
            match self.read_response()? {
                Some(response) if response.status == 100 => continue,
                other => return Ok(other),
            }
        }
    }

    /// Sets how long a read may block before it fails: a hang guard, never an assertion.
    pub fn set_read_timeout(&self, timeout: Duration) -> std::io::Result<()> {
        self.stream.tcp().set_read_timeout(Some(timeout))
    }

    /// Sets how long a write may block before it fails: a hang guard for a server that
    /// stops reading without closing.
    pub fn set_write_timeout(&self, timeout: Duration) -> std::io::Result<()> {
        self.stream.tcp().set_write_timeout(Some(timeout))
    }

    /// Reads until the server closes (EOF or reset) and returns every byte not yet
    /// consumed by [`Client::read_response`]; an error if the read timeout passes first.
    pub fn read_until_closed(&mut self) -> std::io::Result<Vec<u8>> {
        match read_to_end_of_stream(&mut self.stream, &mut self.buf) {
            Ok(End::Eof) | Ok(End::Reset) => Ok(std::mem::take(&mut self.buf)),
            Err(error) => Err(error),
        }
    }

    /// Reads until the server closes with a FIN and returns every byte not yet consumed
    /// by [`Client::read_response`]; a `ConnectionReset` error if it reset the
    /// connection instead (a reset can destroy a response the client has not read yet),
    /// any other error if the read timeout passes first.
    pub fn read_to_eof(&mut self) -> std::io::Result<Vec<u8>> {
        match read_to_end_of_stream(&mut self.stream, &mut self.buf)? {
            End::Eof => Ok(std::mem::take(&mut self.buf)),
            End::Reset => Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                format!("reset by the server after {} unread bytes", self.buf.len()),
            )),
        }
    }

    /// Whether the server closed the connection (EOF or reset) within the read timeout.
    pub fn is_closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut byte = [0u8; 1];
        loop {
            return match self.stream.read(&mut byte) {
                Ok(0) => true,
                Ok(_) => false,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => !matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            };
        }
    }
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// A FIN: every byte the server sent was received.
    Eof,
    /// A reset (or an abort).
    Reset,
}

/// Appends everything `stream` yields to `buf` until it ends. A read interrupted by a
/// signal (the test process spawns and kills gateways from other threads) is retried:
/// it says nothing about the server.
fn read_to_end_of_stream(stream: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<End> {
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(End::Eof),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                return Ok(End::Reset)
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::*;

    /// Reads from a script: each step is bytes or an error.
    struct Scripted(std::collections::VecDeque<std::io::Result<&'static [u8]>>);

    impl Read for Scripted {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            match self.0.pop_front() {
                None => Ok(0),
                Some(Err(error)) => Err(error),
                Some(Ok(bytes)) => {
                    out[..bytes.len()].copy_from_slice(bytes);
                    Ok(bytes.len())
                }
            }
        }
    }

    #[test]
    fn a_read_interrupted_by_a_signal_is_retried_not_reported() {
        let mut stream = Scripted(
            [
                Ok(&b"HTTP/1.1 "[..]),
                Err(Error::from(ErrorKind::Interrupted)),
                Ok(&b"408"[..]),
            ]
            .into(),
        );
        let mut buf = Vec::new();
        let end = read_to_end_of_stream(&mut stream, &mut buf).expect("not an error");
        assert_eq!((end, &buf[..]), (End::Eof, &b"HTTP/1.1 408"[..]));
    }

    #[test]
    fn a_reset_is_told_apart_from_a_fin() {
        let mut stream = Scripted(
            [
                Ok(&b"HTTP/1.1 413"[..]),
                Err(Error::from(ErrorKind::ConnectionReset)),
            ]
            .into(),
        );
        let mut buf = Vec::new();
        let end = read_to_end_of_stream(&mut stream, &mut buf).unwrap();
        assert_eq!((end, &buf[..]), (End::Reset, &b"HTTP/1.1 413"[..]));
    }

    #[test]
    fn a_read_timeout_is_an_error() {
        let mut stream = Scripted([Err(Error::from(ErrorKind::WouldBlock))].into());
        let error = read_to_end_of_stream(&mut stream, &mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WouldBlock);
    }
}

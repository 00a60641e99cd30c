//! The load generator: raw HTTP/1.1 over TCP or TLS on a single-threaded tokio runtime
//! (so it can be pinned to one core), latencies in an HDR histogram.
//!
//! Two pacings. Closed loop: each connection sends its next request when the previous
//! answer arrived (finds saturation throughput). Open loop: requests are due on a fixed
//! schedule (connection `k` owns slots `k, k+N, k+2N, ...`) and latency is measured from
//! the *scheduled* send time, so a stalled server cannot hide its stall by slowing the
//! client down (coordinated omission, as in wrk2).
//!
//! Two ways of using connections ([`Reuse`]): keep-alive, or a new connection per
//! request (connect, handshake, one request, close) to measure what accepting and, with
//! [`Tls`], handshaking costs the server. Over TLS the generator counts full and
//! resumed handshakes ([`Handshakes`]); resumption is on (one session store shared by
//! every connection of a [`Tls`]) or off ([`Resumption`]).

use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rustls::client::Resumption as SessionStore;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, HandshakeKind, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Error;

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// As fast as answers come back.
    ClosedLoop,
    /// A fixed total rate, in requests per second.
    OpenLoop {
        /// Requests per second across all connections.
        rate: f64,
    },
}

/// How the generator uses its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Each connection stays open for every request it sends (HTTP/1.1 keep-alive).
    KeepAlive,
    /// Connect (and handshake), send one request, read its answer, close; the next
    /// request of the same slot opens a new connection. The client closes with
    /// `SO_LINGER` 0 (a reset): neither side keeps the connection in `TIME_WAIT`, so a
    /// long run cannot exhaust the loopback's ephemeral ports, and the server's work per
    /// connection is the same for every server.
    NewConnectionPerRequest,
}

/// Whether TLS connections of one [`Tls`] client resume earlier sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resumption {
    /// One in-memory session store shared by every connection of the client: a new
    /// connection resumes with a ticket an earlier one received.
    On,
    /// No session store (`Resumption::disabled()`): every handshake is full.
    Off,
}

impl Resumption {
    /// Both, in the order the handshake phase runs them first.
    pub const ALL: [Resumption; 2] = [Resumption::On, Resumption::Off];

    /// "resumption on" or "resumption off".
    pub fn name(self) -> &'static str {
        match self {
            Self::On => "resumption on",
            Self::Off => "resumption off",
        }
    }

    /// A fresh session store (on: in memory, the size rustls defaults to), or none.
    fn store(self) -> SessionStore {
        match self {
            Self::On => SessionStore::in_memory_sessions(256),
            Self::Off => SessionStore::disabled(),
        }
    }
}

/// HTTPS for the load generator: a rustls client (ALPN `http/1.1`) and the name it
/// expects the server's certificate to carry. Clones share the session store.
#[derive(Debug, Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl Tls {
    /// A client as `config` says (its trusted roots; ALPN is set to `http/1.1` here),
    /// with a fresh session store of its own when `resumption` is on.
    ///
    /// # Errors
    ///
    /// [`Error::ServerName`] when `server_name` is neither a DNS name nor an IP address.
    pub fn new(
        config: &ClientConfig,
        server_name: &str,
        resumption: Resumption,
    ) -> Result<Self, Error> {
        let server_name =
            ServerName::try_from(server_name.to_owned()).map_err(|_| Error::ServerName {
                name: server_name.to_owned(),
            })?;
        let mut config = config.clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.resumption = resumption.store();
        Ok(Self {
            config: Arc::new(config),
            server_name,
        })
    }

    /// The same client with `resumption`, and a fresh session store if on.
    pub fn with_resumption(&self, resumption: Resumption) -> Self {
        let mut config = ClientConfig::clone(&self.config);
        config.resumption = resumption.store();
        Self {
            config: Arc::new(config),
            server_name: self.server_name.clone(),
        }
    }

    /// A client trusting the certificates of a PEM file: a CA, or a server's
    /// self-signed certificate (`--tls-self-signed` logs where it wrote it).
    ///
    /// # Errors
    ///
    /// [`Error::File`] if the file cannot be read, [`Error::TrustAnchor`] if it holds
    /// no certificate rustls takes, and as [`Tls::new`].
    pub fn trusting_pem_file(
        path: &Path,
        server_name: &str,
        resumption: Resumption,
    ) -> Result<Self, Error> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;
        let pem = std::fs::read(path).map_err(Error::file("read", path))?;
        let refused = |reason: String| Error::TrustAnchor {
            path: path.to_owned(),
            reason,
        };
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            let certificate = certificate.map_err(|error| refused(error.to_string()))?;
            roots
                .add(certificate)
                .map_err(|error| refused(error.to_string()))?;
        }
        if roots.is_empty() {
            return Err(refused("no CERTIFICATE in it".to_owned()));
        }
        let config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self::new(&config, server_name, resumption)
    }

    /// Connects over TLS on `tcp` and completes the handshake.
    async fn connect(
        &self,
        tcp: TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        tokio_rustls::TlsConnector::from(Arc::clone(&self.config))
            .connect(self.server_name.clone(), tcp)
            .await
    }
}

/// Handshakes a load run did, by kind (TLS only; a keep-alive connection does one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handshakes {
    /// Full handshakes (a `HelloRetryRequest` round trip included, if any).
    pub full: u64,
    /// Resumed handshakes (a TLS 1.3 ticket, or a TLS 1.2 session).
    pub resumed: u64,
}

impl Handshakes {
    /// Full and resumed together.
    pub fn total(&self) -> u64 {
        self.full + self.resumed
    }

    fn add(&mut self, other: Handshakes) {
        self.full += other.full;
        self.resumed += other.resumed;
    }
}

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Server address.
    pub address: SocketAddr,
    /// Concurrent connections.
    pub connections: usize,
    /// The request every connection sends (a complete HTTP/1.1 request).
    pub request: Vec<u8>,
    /// Pacing.
    pub pacing: Pacing,
    /// Measured duration (after warm-up).
    pub duration: Duration,
    /// Unmeasured warm-up.
    pub warmup: Duration,
    /// HTTPS with this client; `None` for plaintext.
    pub tls: Option<Tls>,
    /// Keep-alive, or a new connection per request.
    pub reuse: Reuse,
}

impl LoadSpec {
    /// Plaintext keep-alive load of `request` on `address`: the generator's default.
    pub fn keep_alive(
        address: SocketAddr,
        connections: usize,
        request: Vec<u8>,
        pacing: Pacing,
        duration: Duration,
    ) -> Self {
        Self {
            address,
            connections,
            request,
            pacing,
            duration,
            warmup: Duration::ZERO,
            tls: None,
            reuse: Reuse::KeepAlive,
        }
    }
}

/// What a load run saw.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Answered requests in the measured window.
    pub requests: u64,
    /// Answers with a status other than 2xx.
    pub non_2xx: u64,
    /// Connection errors (each ends its connection; with a new connection per request,
    /// the slot goes on with the next one).
    pub errors: u64,
    /// Handshakes begun in the measured window, by kind.
    pub handshakes: Handshakes,
    /// What the first TLS handshake negotiated: version, cipher suite, key exchange.
    pub negotiated: Option<String>,
    /// From the start of the measured window until the last answer to a request due
    /// in it (at least the planned duration).
    pub elapsed: Duration,
    /// Latency in microseconds (with a new connection per request, from the scheduled
    /// send time to the answer, connecting and handshaking included).
    pub latency_us: Histogram<u64>,
}

impl LoadResult {
    /// Answered requests per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Handshakes per second of the measured window.
    pub fn handshakes_per_second(&self) -> f64 {
        self.handshakes.total() as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency percentile in milliseconds.
    pub fn percentile_ms(&self, percentile: f64) -> f64 {
        self.latency_us.value_at_percentile(percentile) as f64 / 1000.0
    }

    /// The latency percentiles the report and the examples show.
    pub fn latency(&self) -> Latency {
        Latency {
            p50_ms: self.percentile_ms(50.0),
            p90_ms: self.percentile_ms(90.0),
            p99_ms: self.percentile_ms(99.0),
            p999_ms: self.percentile_ms(99.9),
            max_ms: self.latency_us.max() as f64 / 1000.0,
        }
    }
}

/// Latency percentiles of one load run, in milliseconds (from the scheduled send time
/// in open loop).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

struct Window {
    start: Instant,
    end: Instant,
}

#[derive(Default)]
struct ConnectionResult {
    requests: u64,
    non_2xx: u64,
    errors: u64,
    handshakes: Handshakes,
    negotiated: Option<String>,
    latency_us: Option<Histogram<u64>>,
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// Runs the load on the calling thread (build a fresh single-threaded runtime).
pub fn run(spec: &LoadSpec) -> LoadResult {
    run_with(spec, || {})
}

/// [`run`], calling `at_window_start` once when the measured window begins, after the
/// warm-up: to read what the server used so far, so that a measurement leaves out the
/// warm-up and the connections it opened (keep-alive connections, and their TLS
/// handshakes, are all made in the warm-up).
pub fn run_with(spec: &LoadSpec, at_window_start: impl FnOnce()) -> LoadResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("load generator runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let begin = Instant::now();
        let window = Rc::new(Window {
            start: begin + spec.warmup,
            end: begin + spec.warmup + spec.duration,
        });
        let request: Rc<[u8]> = spec.request.clone().into();
        let tasks: Vec<_> = (0..spec.connections)
            .map(|index| {
                let window = Rc::clone(&window);
                let request = Rc::clone(&request);
                let spec = spec.clone();
                tokio::task::spawn_local(async move {
                    slot(index, &spec, &request, begin, &window).await
                })
            })
            .collect();
        let observe = async {
            tokio::time::sleep_until(window.start.into()).await;
            at_window_start();
        };
        let collect = async {
            let mut total = LoadResult {
                requests: 0,
                non_2xx: 0,
                errors: 0,
                handshakes: Handshakes::default(),
                negotiated: None,
                elapsed: spec.duration,
                latency_us: new_histogram(),
            };
            for task in tasks {
                let result = task.await.expect("connection task");
                total.requests += result.requests;
                total.non_2xx += result.non_2xx;
                total.errors += result.errors;
                total.handshakes.add(result.handshakes);
                total.negotiated = total.negotiated.or(result.negotiated);
                if let Some(histogram) = result.latency_us {
                    total.latency_us.add(histogram).expect("same bounds");
                }
            }
            total
        };
        let ((), mut total) = tokio::join!(observe, collect);
        // A server that cannot keep up answers the requests due in the window later:
        // the window is then as long as it took, so throughput shows the shortfall.
        total.elapsed = window.start.elapsed().max(spec.duration);
        total
    })
}

/// A connection of either kind.
trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// Opens one connection as `spec` says: TCP (`SO_LINGER` 0 when it carries a single
/// request), then the TLS handshake, counted in `result` when it began in the window.
async fn open(
    spec: &LoadSpec,
    window: &Window,
    result: &mut ConnectionResult,
) -> std::io::Result<Box<dyn Io>> {
    let counted = Instant::now() >= window.start;
    let tcp = TcpStream::connect(spec.address).await?;
    tcp.set_nodelay(true)?;
    if spec.reuse == Reuse::NewConnectionPerRequest {
        socket2::SockRef::from(&tcp).set_linger(Some(Duration::ZERO))?;
    }
    let Some(tls) = &spec.tls else {
        return Ok(Box::new(tcp));
    };
    let stream = tls.connect(tcp).await?;
    let (_, connection) = stream.get_ref();
    if counted {
        match connection.handshake_kind() {
            Some(HandshakeKind::Resumed) => result.handshakes.resumed += 1,
            _ => result.handshakes.full += 1,
        }
    }
    if result.negotiated.is_none() {
        let shown = |value: Option<String>| value.unwrap_or_else(|| "?".to_owned());
        result.negotiated = Some(format!(
            "{}, {}, {}",
            shown(connection.protocol_version().map(|v| format!("{v:?}"))),
            shown(
                connection
                    .negotiated_cipher_suite()
                    .map(|s| format!("{:?}", s.suite()))
            ),
            shown(
                connection
                    .negotiated_key_exchange_group()
                    .map(|g| format!("{:?}", g.name()))
            ),
        ));
    }
    Ok(Box::new(stream))
}

/// One slot of the load: a keep-alive connection, or a connection per request.
async fn slot(
    index: usize,
    spec: &LoadSpec,
    request: &[u8],
    begin: Instant,
    window: &Window,
) -> ConnectionResult {
    let mut result = ConnectionResult::default();
    let mut histogram = new_histogram();
    let mut stream: Option<Box<dyn Io>> = None;
    // Reused for every answer of the slot: no allocation per request once it is large
    // enough for the largest answer.
    let mut buf = vec![0u8; 4096];
    let mut filled = 0;
    let interval = match spec.pacing {
        Pacing::OpenLoop { rate } => Some(Duration::from_secs_f64(spec.connections as f64 / rate)),
        Pacing::ClosedLoop => None,
    };
    let offset = interval.map(|interval| interval.mul_f64(index as f64 / spec.connections as f64));
    let mut sent = 0u32;
    loop {
        let scheduled = match (interval, offset) {
            (Some(interval), Some(offset)) => {
                let due = begin + offset + interval * sent;
                tokio::time::sleep_until(due.into()).await;
                due
            }
            _ => Instant::now(),
        };
        if scheduled >= window.end {
            break;
        }
        sent += 1;
        let mut connection = match stream.take() {
            Some(connection) => connection,
            None => match open(spec, window, &mut result).await {
                Ok(opened) => opened,
                Err(_) => {
                    result.errors += 1;
                    match spec.reuse {
                        Reuse::KeepAlive => break,
                        Reuse::NewConnectionPerRequest => continue,
                    }
                }
            },
        };
        let status = match connection.write_all(request).await {
            Ok(()) => read_answer(connection.as_mut(), &mut buf, &mut filled).await,
            Err(_) => None,
        };
        let Some(status) = status else {
            result.errors += 1;
            match spec.reuse {
                Reuse::KeepAlive => break,
                Reuse::NewConnectionPerRequest => {
                    filled = 0;
                    continue;
                }
            }
        };
        match spec.reuse {
            Reuse::KeepAlive => stream = Some(connection),
            Reuse::NewConnectionPerRequest => {
                // With SO_LINGER 0: closed with a reset, nothing left in TIME_WAIT.
                drop(connection);
                filled = 0;
            }
        }
        let done = Instant::now();
        if scheduled >= window.start {
            result.requests += 1;
            if !(200..300).contains(&status) {
                result.non_2xx += 1;
            }
            let latency = done.duration_since(scheduled).as_micros() as u64;
            histogram.saturating_record(latency.max(1));
        }
    }
    result.latency_us = Some(histogram);
    result
}

/// Reads one response (status line, headers, Content-Length body) into `buf`, keeping
/// whatever follows it; its status, or `None` if the connection ended first.
async fn read_answer(stream: &mut dyn Io, buf: &mut Vec<u8>, filled: &mut usize) -> Option<u16> {
    loop {
        if let Some((status, length)) = parse_head(&buf[..*filled]) {
            if *filled >= length {
                buf.copy_within(length..*filled, 0);
                *filled -= length;
                return Some(status);
            }
        }
        if *filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match stream.read(&mut buf[*filled..]).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => *filled += n,
        }
    }
}

/// Returns the status and the total response length once the head is complete.
fn parse_head(buf: &[u8]) -> Option<(u16, usize)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let status = head.get(9..12)?.parse().ok()?;
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    Some((status, head_end + length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_length() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 16\r\n\r\nPayload received";
        assert_eq!(parse_head(response), Some((200, response.len())));
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-len"), None);
    }

    #[test]
    fn latency_names_each_percentile() {
        let mut latency_us = new_histogram();
        // 1..=1000 ms: percentile p is p * 10 ms, within the histogram's 3 digits.
        for ms in 1..=1000u64 {
            latency_us.record(ms * 1000).unwrap();
        }
        let result = LoadResult {
            requests: 1000,
            non_2xx: 0,
            errors: 0,
            handshakes: Handshakes::default(),
            negotiated: None,
            elapsed: Duration::from_secs(1),
            latency_us,
        };
        let latency = result.latency();
        let close = |value: f64, expected: f64| (value - expected).abs() <= expected * 0.002;
        assert!(close(latency.p50_ms, 500.0), "{latency:?}");
        assert!(close(latency.p90_ms, 900.0), "{latency:?}");
        assert!(close(latency.p99_ms, 990.0), "{latency:?}");
        assert!(close(latency.p999_ms, 999.0), "{latency:?}");
        assert!(close(latency.max_ms, 1000.0), "{latency:?}");
    }
}

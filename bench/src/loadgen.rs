//! The load generator: raw HTTP/1.1 over keep-alive connections on a single-threaded
//! tokio runtime (so it can be pinned to one core), latencies in an HDR histogram.
//!
//! Two modes. Closed loop: each connection sends its next request when the previous
//! answer arrived (finds saturation throughput). Open loop: requests are due on a fixed
//! schedule (connection `k` owns slots `k, k+N, k+2N, ...`) and latency is measured from
//! the *scheduled* send time, so a stalled server cannot hide its stall by slowing the
//! client down (coordinated omission, as in wrk2).

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Server address.
    pub address: SocketAddr,
    /// Keep-alive connections.
    pub connections: usize,
    /// The request every connection sends (a complete HTTP/1.1 request).
    pub request: Vec<u8>,
    /// Pacing.
    pub pacing: Pacing,
    /// Measured duration (after warm-up).
    pub duration: Duration,
    /// Unmeasured warm-up.
    pub warmup: Duration,
}

/// What a load run saw.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Answered requests in the measured window.
    pub requests: u64,
    /// Answers with a status other than 2xx.
    pub non_2xx: u64,
    /// Connection errors (each ends its connection).
    pub errors: u64,
    /// From the start of the measured window until the last answer to a request due
    /// in it (at least the planned duration).
    pub elapsed: Duration,
    /// Latency in microseconds.
    pub latency_us: Histogram<u64>,
}

impl LoadResult {
    /// Answered requests per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
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
    latency_us: Option<Histogram<u64>>,
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// Runs the load on the calling thread (build a fresh single-threaded runtime).
pub fn run(spec: &LoadSpec) -> LoadResult {
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
                    connection(index, &spec, &request, begin, &window).await
                })
            })
            .collect();
        let mut total = LoadResult {
            requests: 0,
            non_2xx: 0,
            errors: 0,
            elapsed: spec.duration,
            latency_us: new_histogram(),
        };
        for task in tasks {
            let result = task.await.expect("connection task");
            total.requests += result.requests;
            total.non_2xx += result.non_2xx;
            total.errors += result.errors;
            if let Some(histogram) = result.latency_us {
                total.latency_us.add(histogram).expect("same bounds");
            }
        }
        // A server that cannot keep up answers the requests due in the window later:
        // the window is then as long as it took, so throughput shows the shortfall.
        total.elapsed = window.start.elapsed().max(spec.duration);
        total
    })
}

async fn connection(
    index: usize,
    spec: &LoadSpec,
    request: &[u8],
    begin: Instant,
    window: &Window,
) -> ConnectionResult {
    let mut result = ConnectionResult {
        latency_us: Some(new_histogram()),
        ..ConnectionResult::default()
    };
    let histogram = result.latency_us.as_mut().expect("set above");
    let Ok(mut stream) = TcpStream::connect(spec.address).await else {
        result.errors += 1;
        return result;
    };
    let _ = stream.set_nodelay(true);
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
        if stream.write_all(request).await.is_err() {
            result.errors += 1;
            break;
        }
        // Read one response: status line, headers, Content-Length body.
        let status = loop {
            if let Some((status, length)) = parse_head(&buf[..filled]) {
                if filled >= length {
                    buf.copy_within(length..filled, 0);
                    filled -= length;
                    break Some(status);
                }
            }
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            match stream.read(&mut buf[filled..]).await {
                Ok(0) | Err(_) => break None,
                Ok(n) => filled += n,
            }
        };
        let Some(status) = status else {
            result.errors += 1;
            break;
        };
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
    result
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

//! Probes of a gateway binary given by path, for figures a pass/fail test must not
//! decide: memory under slow readers, memory held by idle connections, and the time
//! `/readyz` takes to come back after a paused broker (issue 16). Each probe starts a
//! fresh gateway, measures it, and stops it, so binaries of two commits can be probed
//! one after the other. `examples/probe.rs` is the command line.
//!
//! RSS is `VmRSS` from `/proc/PID/status`, read until it stops growing (the `rss_*`
//! fields of [`Settings`]); figures are in MiB.

mod idle_buffers;
mod readiness;
mod settle;
mod slow_reader;

use std::path::Path;
use std::time::{Duration, Instant};

use e2e::{Client, GatewayProcess};

use crate::Error;
use settle::Settle;

/// A gateway binary and the arguments it always gets (e.g. `--engine epoll`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The binary.
    pub binary: String,
    /// Arguments before the probe's own.
    pub args: Vec<String>,
}

impl Target {
    /// `PATH [ARG...]`, split at whitespace: `target/release/runtime-loop --engine epoll`.
    pub fn parse(spec: &str) -> Option<Self> {
        let mut words = spec.split_whitespace().map(str::to_owned);
        Some(Self {
            binary: words.next()?,
            args: words.collect(),
        })
    }

    /// Every server binary in `dir` (a `target/release` directory), each engine of
    /// `runtime-loop` as its own target.
    pub fn every_server_in(dir: &Path) -> Vec<Self> {
        let at = |name: &str, args: &[&str]| Self {
            binary: dir.join(name).to_string_lossy().into_owned(),
            args: args.iter().map(|&arg| arg.to_owned()).collect(),
        };
        vec![
            at("runtime-hyper", &[]),
            at("runtime-tokio", &[]),
            at("runtime-uring", &[]),
            at("runtime-loop", &[]),
            at("runtime-loop", &["--engine", "epoll"]),
        ]
    }

    /// How the table names it: the binary as given, then its arguments.
    pub fn label(&self) -> String {
        std::iter::once(self.binary.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Starts the binary with its own arguments and `extra`, on a free loopback port,
    /// and waits until `/healthz` answers.
    fn start(&self, extra: &[&str]) -> Result<GatewayProcess, Error> {
        let args: Vec<&str> = self
            .args
            .iter()
            .map(String::as_str)
            .chain(extra.iter().copied())
            .collect();
        GatewayProcess::start(&self.binary, &args).map_err(|log| Error::GatewayStart {
            server: self.label(),
            log,
        })
    }
}

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Probe {
    /// Pipelined REST v3 requests on sockets that never read (`--sink null`).
    SlowReader,
    /// Keep-alive connections idle after one large `POST /` each (`--sink null`).
    IdleBuffers,
    /// `/readyz` after a broker paused until it said 503, then resumed.
    Readiness,
}

impl Probe {
    /// Every probe, in the order they run.
    pub const ALL: [Probe; 3] = [Probe::SlowReader, Probe::IdleBuffers, Probe::Readiness];

    /// As the table names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::SlowReader => "slow reader",
            Self::IdleBuffers => "idle buffers",
            Self::Readiness => "readiness after a paused broker",
        }
    }
}

/// The probes' parameters; [`Default`] is what issue 16 measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Slow reader: sockets that never read.
    pub slow_sockets: usize,
    /// Slow reader: `SO_RCVBUF` of each, set before connecting.
    pub slow_receive_buffer_bytes: usize,
    /// Slow reader: pipelined requests each socket sends.
    pub slow_requests: usize,
    /// Slow reader: `{}` records in each request's body (streaming mode).
    pub slow_records: usize,
    /// Idle buffers: keep-alive connections.
    pub idle_connections: usize,
    /// Idle buffers: bytes of the JSON body each sends once.
    pub idle_body_bytes: usize,
    /// Readiness: `--topic-refresh-ms` of the gateway; only shortens the wait for the
    /// pause to be noticed.
    pub topic_refresh_ms: u64,
    /// Readiness: longest wait for `/readyz` to say 503 once the broker is paused.
    pub unready_cap: Duration,
    /// Readiness: longest wait for `/readyz` to say 200 again after the resume; past
    /// it, the recovery is reported as never.
    pub recovery_cap: Duration,
    /// RSS: how often it is read.
    pub rss_interval: Duration,
    /// RSS: reads without growth (above [`Settings::rss_noise_kib`]) and without the
    /// client's progress after which it has stopped growing.
    pub rss_window: usize,
    /// RSS: growth up to this is noise, KiB.
    pub rss_noise_kib: u64,
    /// RSS: longest wait for it to stop growing.
    pub rss_cap: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            slow_sockets: 20,
            slow_receive_buffer_bytes: 4096,
            slow_requests: 32,
            slow_records: 1000,
            idle_connections: 40,
            idle_body_bytes: 900_000,
            topic_refresh_ms: 2000,
            unready_cap: Duration::from_secs(120),
            recovery_cap: Duration::from_secs(60),
            rss_interval: Duration::from_millis(250),
            rss_window: 8,
            rss_noise_kib: 256,
            rss_cap: Duration::from_secs(60),
        }
    }
}

/// One row of the probe table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Which probe.
    pub probe: Probe,
    /// Which binary ([`Target::label`]).
    pub binary: String,
    /// The figure: MiB per connection, or seconds to ready.
    pub result: String,
    /// What it came from.
    pub details: String,
}

impl Row {
    /// The table's column titles.
    pub const HEADERS: [&'static str; 4] = ["probe", "binary", "result", "details"];

    /// The row's cells, in [`Row::HEADERS`] order.
    pub fn cells(&self) -> [String; 4] {
        [
            self.probe.name().to_owned(),
            self.binary.clone(),
            self.result.clone(),
            self.details.clone(),
        ]
    }

    /// A row saying the probe could not be completed, and why.
    pub fn failed(probe: Probe, target: &Target, error: &Error) -> Self {
        let mut why = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            why.push_str(": ");
            why.push_str(&cause.to_string());
            source = cause.source();
        }
        Self {
            probe,
            binary: target.label(),
            result: "failed".to_owned(),
            // A table cell is one line.
            details: why.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

/// One Markdown table line of `cells`.
pub fn markdown_line(cells: &[String]) -> String {
    let mut line = String::new();
    crate::report::markdown_row(&mut line, cells);
    line
}

/// Runs `probe` on `target` with a fresh gateway (and, for readiness, a fresh broker).
pub fn run(probe: Probe, target: &Target, settings: &Settings) -> Result<Row, Error> {
    let (result, details) = match probe {
        Probe::SlowReader => slow_reader::run(target, settings)?,
        Probe::IdleBuffers => idle_buffers::run(target, settings)?,
        Probe::Readiness => readiness::run(target, settings)?,
    };
    Ok(Row {
        probe,
        binary: target.label(),
        result,
        details,
    })
}

/// The gateway's resident memory now, KiB; an error once it has exited.
fn rss_kib(gateway: &GatewayProcess) -> Result<u64, Error> {
    match gateway.status_kib("VmRSS") {
        0 => Err(Error::Exited { pid: gateway.pid() }),
        kib => Ok(kib),
    }
}

/// What RSS did while the client was at work.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RssAfter {
    /// The last reading, once it stopped growing (or at the cap).
    last_kib: u64,
    /// The largest reading.
    peak_kib: u64,
    /// Whether it stopped growing before the cap.
    settled: bool,
}

/// Reads RSS every interval, calling `step` first each time (it returns whether the
/// client made progress), until RSS stopped growing or the cap passed.
fn rss_until_settled(
    gateway: &GatewayProcess,
    settings: &Settings,
    mut step: impl FnMut() -> bool,
) -> Result<RssAfter, Error> {
    let mut settle = Settle::new(settings.rss_noise_kib, settings.rss_window);
    let cap = Instant::now() + settings.rss_cap;
    loop {
        let progress = step();
        let last_kib = rss_kib(gateway)?;
        let settled = settle.tick(last_kib, progress);
        if settled || Instant::now() >= cap {
            return Ok(RssAfter {
                last_kib,
                peak_kib: settle.peak(),
                settled,
            });
        }
        std::thread::sleep(settings.rss_interval);
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The result and details of an RSS probe over `connections` connections.
fn rss_row(before_kib: u64, after: RssAfter, connections: usize, what: &str) -> (String, String) {
    let grown = after.last_kib.saturating_sub(before_kib);
    let per_connection = mib(grown) / connections.max(1) as f64;
    let settled = if after.settled {
        ""
    } else {
        " (still growing at the cap)"
    };
    (
        format!("{per_connection:.2} MiB per connection"),
        format!(
            "RSS {:.1} -> {:.1} MiB{settled}, peak {:.1} MiB; {what}",
            mib(before_kib),
            mib(after.last_kib),
            mib(after.peak_kib),
        ),
    )
}

/// The cluster id `GET /v3/clusters` reports (the null sink's is fixed, a broker's is
/// the one Kafka reports).
fn cluster_id(gateway: &GatewayProcess) -> Result<String, Error> {
    let request = "GET /v3/clusters";
    let answer = get(gateway.address, "/v3/clusters")?;
    let unexpected = |body: String| Error::UnexpectedAnswer {
        request: request.to_owned(),
        status: answer.status,
        body,
    };
    if answer.status != 200 {
        return Err(unexpected(answer.text()));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&answer.body).map_err(|error| unexpected(error.to_string()))?;
    json["data"][0]["cluster_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| unexpected(answer.text()))
}

/// `GET path` on a connection of its own.
fn get(address: std::net::SocketAddr, path: &str) -> Result<e2e::Response, Error> {
    let mut client = Client::connect(address).map_err(Error::connection("connect to", address))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: probe\r\n\r\n");
    client
        .request(request.as_bytes())
        .map_err(Error::connection("ask", address))?
        .ok_or_else(|| Error::UnexpectedAnswer {
            request: format!("GET {path}"),
            status: 0,
            body: "the connection closed without an answer".to_owned(),
        })
}

/// What the gateway's policy, with the null sink and `topic`, answers to one whole HTTP
/// request, as a server would hand it over: a probe's request must be one a gateway
/// takes.
#[cfg(test)]
fn null_sink_answer(topic: &str, request: &[u8]) -> (u16, Vec<u8>) {
    use ingest::{Gateway, GatewaySink, Incoming, Policy};
    let gateway = Gateway::new(
        Policy::new(topic),
        GatewaySink::Null(kafka_sink::NullSink::default()),
    );
    let gateway = &gateway;
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut head = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head_len) = head.parse(request).expect("a request") else {
        panic!("a complete head");
    };
    let fields = head.headers.iter().map(|h| (h.name, h.value));
    let length: usize = head
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
        .expect("a Content-Length");
    assert_eq!(request.len(), head_len + length, "exactly one request");
    let ticket = gateway.submit(Incoming {
        method: head.method.expect("method"),
        path: head.path.expect("target"),
        headers: fields,
        body: &request[head_len..],
        body_framed: true,
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let reply = runtime.block_on(ticket.reply(gateway));
    (reply.status.as_u16(), reply.body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_a_path_and_its_arguments() {
        let target = Target::parse("  old/runtime-loop --engine epoll ").expect("target");
        assert_eq!(target.binary, "old/runtime-loop");
        assert_eq!(target.args, ["--engine", "epoll"]);
        assert_eq!(target.label(), "old/runtime-loop --engine epoll");
        assert_eq!(Target::parse("   "), None);
    }

    #[test]
    fn every_server_includes_both_engines_of_the_own_loop() {
        let labels: Vec<String> = Target::every_server_in(Path::new("new"))
            .iter()
            .map(Target::label)
            .collect();
        assert_eq!(
            labels,
            [
                "new/runtime-hyper",
                "new/runtime-tokio",
                "new/runtime-uring",
                "new/runtime-loop",
                "new/runtime-loop --engine epoll",
            ]
        );
    }

    #[test]
    fn a_failed_probe_is_one_line_with_its_causes() {
        let target = Target::parse("bin/x").expect("target");
        let error = Error::Connection {
            action: "connect to",
            address: ([127, 0, 0, 1], 9).into(),
            source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"),
        };
        let row = Row::failed(Probe::IdleBuffers, &target, &error);
        assert_eq!(row.result, "failed");
        assert_eq!(row.details, "cannot connect to 127.0.0.1:9: refused");
        let error = Error::GatewayStart {
            server: "bin/x".to_owned(),
            log: "line one\nline two".to_owned(),
        };
        let row = Row::failed(Probe::IdleBuffers, &target, &error);
        assert_eq!(
            row.details,
            "gateway bin/x did not start; its log: line one line two"
        );
        assert_eq!(
            markdown_line(&row.cells()),
            "| idle buffers | bin/x | failed | gateway bin/x did not start; its log: line one line two |\n"
        );
    }

    #[test]
    fn rss_rows_give_the_growth_per_connection() {
        let after = RssAfter {
            last_kib: 6 * 1024 + 20 * 10 * 1024,
            peak_kib: 6 * 1024 + 20 * 10 * 1024 + 512,
            settled: true,
        };
        let (result, details) = rss_row(6 * 1024, after, 20, "20 sockets");
        assert_eq!(result, "10.00 MiB per connection");
        assert_eq!(details, "RSS 6.0 -> 206.0 MiB, peak 206.5 MiB; 20 sockets");
        let shrunk = RssAfter {
            last_kib: 1024,
            settled: false,
            ..after
        };
        let (result, details) = rss_row(6 * 1024, shrunk, 20, "x");
        assert_eq!(result, "0.00 MiB per connection");
        assert!(details.contains("(still growing at the cap)"), "{details}");
    }
}

//! The comparison run: every server, with the null sink and with Kafka, measured in
//! one process, interleaved with the order rotated each repetition, and repeated.
//!
//! Phase 1 drives each server closed-loop to saturation. Phase 2 offers the same
//! open-loop rates to every server: fixed rates (10k, 25k, 50k req/s) and fractions of
//! the *slowest* server's median saturation. Every run starts a fresh server (and a
//! fresh embedded broker) pinned to the server core; the load generator and the broker
//! share the other core. The HTTPS phases run every server with a certificate made for
//! the run: keep-alive at the same loads with its plaintext arm beside it, and a new
//! connection per request to count what handshakes cost. A last, untimed pass counts
//! system calls per request under `strace -f -c`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kafka_sink::{EmbeddedBroker, KafkaSink, SinkConfig};

use crate::loadgen::{
    self, Handshakes, Latency, LoadResult, LoadSpec, Pacing, Resumption, Reuse, Tls,
};
use crate::server::{Server, ServerUnderTest, UringFeature, Usage, ABLATION};
use crate::stats::median;
use crate::Error;

/// Where accepted records go during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SinkMode {
    /// `--sink null`: the HTTP stack alone.
    Null,
    /// Kafka (the embedded mock, or `KAFKA_BROKERS`).
    Kafka,
}

impl SinkMode {
    /// Both, in run order.
    pub const ALL: [SinkMode; 2] = [SinkMode::Null, SinkMode::Kafka];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Null => "null sink",
            Self::Kafka => "Kafka",
        }
    }
}

/// Plaintext HTTP or HTTPS between the load generator and the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// HTTP/1.1 over TCP.
    Plain,
    /// HTTP/1.1 over TLS (the server started with `--tls-cert`/`--tls-key`).
    Tls,
}

impl Transport {
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "plaintext",
            Self::Tls => "TLS",
        }
    }
}

/// The set of samples a sample is compared within: each is a phase of its own, so its
/// samples never enter another's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// The main comparison: saturation and open loop, plaintext.
    Main,
    /// The ablation of the own io_uring loop's features.
    Ablation,
    /// The HTTPS phase: every server with TLS and its plaintext arm beside it.
    Tls,
}

/// The offered load of one measurement.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub enum Load {
    /// Closed loop: as fast as the server answers.
    Saturation,
    /// Open loop at a fixed rate, the same for every server (req/s).
    Rate(f64),
    /// Open loop at a fraction of the slowest server's median saturation.
    Fraction(f64),
}

impl Load {
    /// A label for tables: "saturation", "10k req/s", "50% of slowest".
    pub fn label(&self) -> String {
        match self {
            Self::Saturation => "saturation".to_owned(),
            Self::Rate(rate) => format!("{:.0}k req/s", rate / 1000.0),
            Self::Fraction(fraction) => format!("{:.0}% of slowest", fraction * 100.0),
        }
    }
}

/// How long and how hard to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `--quick`: one short repetition of everything (CI).
    pub quick: bool,
    /// The servers compared.
    pub servers: Vec<Server>,
    /// Repetitions of every measurement; the server order rotates each time.
    pub repetitions: usize,
    /// Keep-alive connections of the load generator with the null sink.
    pub connections: usize,
    /// Keep-alive connections with Kafka: each request holds its connection until the
    /// acknowledgement, so throughput is bounded by connections / delivery latency.
    pub kafka_connections: usize,
    /// Unmeasured warm-up before each measurement.
    pub warmup: Duration,
    /// Closed-loop measurement.
    pub saturation: Duration,
    /// Each open-loop point.
    pub point: Duration,
    /// Open-loop rates offered to every server, req/s.
    pub rates: Vec<f64>,
    /// Open-loop rates as fractions of the slowest server's saturation.
    pub fractions: Vec<f64>,
    /// io_uring features of the own loop removed one at a time in the ablation.
    pub ablation: Vec<UringFeature>,
    /// Repetitions of the ablation (null sink only).
    pub ablation_repetitions: usize,
    /// Loads of the ablation.
    pub ablation_loads: Vec<Load>,
    /// Records per REST Proxy v2 request in the batch phase; empty to skip it.
    pub batch_sizes: Vec<usize>,
    /// Bytes of each record's JSON value in the batch phase.
    pub batch_record_bytes: usize,
    /// Repetitions of the batch phase.
    pub batch_repetitions: usize,
    /// The servers of the batch phase: fewer than the comparison's, to keep the main
    /// job short.
    pub batch_servers: Vec<Server>,
    /// Repetitions of the HTTPS phase (keep-alive, null sink, every server with TLS and
    /// without, at saturation and every fixed open-loop rate); 0 to skip it.
    pub tls_repetitions: usize,
    /// Repetitions of the handshake phase (a new TLS connection per request, with
    /// resumption and without, closed loop); 0 to skip it.
    pub handshake_repetitions: usize,
    /// Concurrent connections of the handshake phase, each one request long.
    pub handshake_connections: usize,
    /// Rate of the untimed system-call pass (req/s), `None` to skip it.
    pub syscall_rate: Option<f64>,
    /// Length of the system-call pass.
    pub syscall_duration: Duration,
    /// The JSON body every request carries.
    pub payload: Vec<u8>,
    /// Core of the server under test.
    pub server_core: usize,
    /// Core of the load generator and the embedded broker.
    pub client_core: usize,
    /// Bootstrap servers of a real broker (`KAFKA_BROKERS`), else the embedded mock.
    pub external_brokers: Option<String>,
}

impl Plan {
    /// The full run `cargo bench -p bench` does.
    pub fn full() -> Self {
        Self {
            quick: false,
            servers: Server::ALL.to_vec(),
            repetitions: 5,
            connections: 64,
            kafka_connections: 256,
            warmup: Duration::from_millis(300),
            saturation: Duration::from_secs(2),
            point: Duration::from_millis(1500),
            rates: vec![10_000.0, 25_000.0, 50_000.0],
            fractions: vec![0.75],
            ablation: ABLATION.to_vec(),
            ablation_repetitions: 2,
            ablation_loads: vec![Load::Rate(10_000.0), Load::Rate(25_000.0), Load::Saturation],
            batch_sizes: vec![1, 10, 100, 500],
            batch_record_bytes: 256,
            batch_repetitions: 2,
            batch_servers: vec![Server::Hyper, Server::Tokio, Server::LoopUring],
            tls_repetitions: 3,
            handshake_repetitions: 3,
            // rustls's client keeps at most 8 TLS 1.3 tickets per server name: with more
            // connections than that, bursts of new ones find none and do full handshakes.
            handshake_connections: 8,
            syscall_rate: Some(5_000.0),
            syscall_duration: Duration::from_secs(2),
            payload: crate::corpus::json_payload(256),
            server_core: 0,
            client_core: 1,
            external_brokers: std::env::var("KAFKA_BROKERS").ok(),
        }
    }

    /// The quick run for CI: every kind of step once, briefly.
    pub fn quick() -> Self {
        Self {
            quick: true,
            repetitions: 1,
            warmup: Duration::from_millis(200),
            saturation: Duration::from_secs(1),
            point: Duration::from_millis(500),
            rates: vec![10_000.0],
            fractions: vec![0.5],
            // OwnedSend too: the report's zero-copy line is then exercised by CI.
            ablation: vec![UringFeature::BufRing, UringFeature::OwnedSend],
            ablation_repetitions: 1,
            ablation_loads: vec![Load::Rate(10_000.0), Load::Saturation],
            batch_sizes: vec![1, 100],
            batch_repetitions: 1,
            tls_repetitions: 1,
            handshake_repetitions: 1,
            syscall_duration: Duration::from_millis(500),
            ..Self::full()
        }
    }

    /// Every open-loop load of a repetition, in order.
    pub fn open_loads(&self) -> Vec<Load> {
        let rates = self.rates.iter().map(|&rate| Load::Rate(rate));
        let fractions = self.fractions.iter().map(|&f| Load::Fraction(f));
        rates.chain(fractions).collect()
    }

    /// The loads of the HTTPS phase: saturation, then every fixed open-loop rate (not
    /// the fractions of the slowest, which are of the plaintext saturation).
    pub fn tls_loads(&self) -> Vec<Load> {
        std::iter::once(Load::Saturation)
            .chain(self.rates.iter().map(|&rate| Load::Rate(rate)))
            .collect()
    }

    /// The phases of the run, in order: saturation, open loop, ablation, batches,
    /// HTTPS, handshakes, system calls (the last five when the plan asks for them).
    ///
    /// The HTTPS phases run with the null sink only: TLS is a cost of the HTTP side,
    /// the produce path behind it is the same with and without, and Kafka's delivery
    /// latency and the broker sharing the client core would only blur the ratio.
    pub fn phases(&self) -> Vec<Phase> {
        let loads = |loads: Vec<Load>, group| Work::Loads { loads, group };
        let plain = vec![Transport::Plain];
        let mut phases = vec![
            Phase {
                name: "saturation",
                servers: self.servers.clone(),
                sinks: SinkMode::ALL.to_vec(),
                transports: plain.clone(),
                repetitions: self.repetitions,
                work: loads(vec![Load::Saturation], Group::Main),
            },
            Phase {
                name: "open loop",
                servers: self.servers.clone(),
                sinks: SinkMode::ALL.to_vec(),
                transports: plain.clone(),
                repetitions: self.repetitions,
                work: loads(self.open_loads(), Group::Main),
            },
        ];
        if !self.ablation.is_empty() {
            phases.push(Phase {
                name: "ablation",
                servers: self.ablation_arms(),
                sinks: vec![SinkMode::Null],
                transports: plain.clone(),
                repetitions: self.ablation_repetitions,
                work: loads(self.ablation_loads.clone(), Group::Ablation),
            });
        }
        if !self.batch_sizes.is_empty() {
            phases.push(Phase {
                name: "batches",
                servers: self.batch_servers.clone(),
                sinks: SinkMode::ALL.to_vec(),
                transports: plain.clone(),
                repetitions: self.batch_repetitions,
                work: Work::Batches,
            });
        }
        if self.tls_repetitions > 0 {
            phases.push(Phase {
                name: "HTTPS",
                servers: self.servers.clone(),
                sinks: vec![SinkMode::Null],
                transports: vec![Transport::Tls, Transport::Plain],
                repetitions: self.tls_repetitions,
                work: loads(self.tls_loads(), Group::Tls),
            });
        }
        if self.handshake_repetitions > 0 {
            phases.push(Phase {
                name: "handshakes",
                servers: self.servers.clone(),
                sinks: vec![SinkMode::Null],
                transports: vec![Transport::Tls],
                repetitions: self.handshake_repetitions,
                work: Work::Handshakes,
            });
        }
        if let Some(rate) = self.syscall_rate {
            phases.push(Phase {
                name: "system calls",
                servers: self.servers.clone(),
                sinks: SinkMode::ALL.to_vec(),
                transports: plain,
                repetitions: 1,
                work: Work::SystemCalls { rate },
            });
        }
        phases
    }

    /// Server starts the plan makes, for the progress bar.
    pub fn steps(&self) -> u64 {
        self.phases()
            .iter()
            .map(|phase| phase.runs().count())
            .sum::<usize>() as u64
    }

    /// The ablation's servers: the own loop on io_uring with everything on, then with
    /// each feature off; empty when there is no ablation.
    pub fn ablation_arms(&self) -> Vec<Server> {
        if self.ablation.is_empty() {
            return Vec::new();
        }
        std::iter::once(Server::LoopUring)
            .chain(self.ablation.iter().map(|&f| Server::LoopUringWithout(f)))
            .collect()
    }

    /// How `load` is offered: its pacing, the offered rate (open loop only) and the
    /// measured window. `slowest` is the slowest server's median saturation, which
    /// [`Load::Fraction`] is a fraction of.
    fn schedule(&self, load: Load, slowest: f64) -> (Pacing, Option<f64>, Duration) {
        match load {
            Load::Saturation => (Pacing::ClosedLoop, None, self.saturation),
            Load::Rate(rate) => (Pacing::OpenLoop { rate }, Some(rate), self.point),
            Load::Fraction(fraction) => {
                let rate = (slowest * fraction).max(1.0);
                (Pacing::OpenLoop { rate }, Some(rate), self.point)
            }
        }
    }

    /// Keep-alive connections of the load generator with `sink`.
    fn connections(&self, sink: SinkMode) -> usize {
        match sink {
            SinkMode::Null => self.connections,
            SinkMode::Kafka => self.kafka_connections,
        }
    }
}

/// What a phase does with each server it starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// Offers each load in turn (`POST /` with the plan's payload) on keep-alive
    /// connections, with a warm-up before each, and samples the server around each.
    Loads {
        /// The loads, in order.
        loads: Vec<Load>,
        /// The samples' group.
        group: Group,
    },
    /// REST Proxy v2 requests of each of the plan's batch sizes, closed loop.
    Batches,
    /// A new TLS connection per request (`POST /`), closed loop at the plan's
    /// handshake concurrency, with resumption on and off (the order alternating each
    /// repetition), each with a warm-up.
    Handshakes,
    /// One untimed open-loop pass at `rate` req/s under `strace -f -c`.
    SystemCalls {
        /// Offered rate, req/s.
        rate: f64,
    },
}

/// One phase of a comparison run: which servers with which sinks and transports, how
/// often, doing what. Every phase is run by the same runner: a fresh broker and server
/// per run, the servers' order rotated each repetition.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Name, for the progress bar.
    pub name: &'static str,
    /// The servers, in the order of the first repetition.
    pub servers: Vec<Server>,
    /// The sinks, each run with every server.
    pub sinks: Vec<SinkMode>,
    /// The transports, each run with every server and sink, one right after the
    /// other so that ratios between them compare runs close in time.
    pub transports: Vec<Transport>,
    /// Repetitions.
    pub repetitions: usize,
    /// What each run does.
    pub work: Work,
}

/// One server run of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Which server.
    pub server: Server,
    /// Which sink.
    pub sink: SinkMode,
    /// Plaintext or TLS.
    pub transport: Transport,
    /// Which repetition (0-based).
    pub repetition: usize,
}

impl Phase {
    /// Every run of the phase, in run order: by repetition, then by sink, then by
    /// server, then by transport; the servers (and the transports) rotated by one each
    /// repetition so that no server always runs first (or right after another's warm
    /// caches), and no transport always first.
    pub fn runs(&self) -> impl Iterator<Item = Slot> + '_ {
        (0..self.repetitions).flat_map(move |repetition| {
            self.sinks.iter().flat_map(move |&sink| {
                rotated(&self.servers, repetition)
                    .into_iter()
                    .flat_map(move |server| {
                        rotated(&self.transports, repetition)
                            .into_iter()
                            .map(move |transport| Slot {
                                server,
                                sink,
                                transport,
                                repetition,
                            })
                    })
            })
        })
    }
}

/// `items` rotated left by `repetition`.
fn rotated<T: Clone>(items: &[T], repetition: usize) -> Vec<T> {
    let mut order = items.to_vec();
    if !order.is_empty() {
        order.rotate_left(repetition % items.len());
    }
    order
}

/// One measurement of one server.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Which server.
    pub server: Server,
    /// Which sink.
    pub sink: SinkMode,
    /// Plaintext or TLS.
    pub transport: Transport,
    /// Which repetition (0-based): samples of one repetition were taken side by side.
    pub repetition: usize,
    /// The phase's group the sample is compared within.
    pub group: Group,
    /// The offered load.
    pub load: Load,
    /// Offered rate (open loop), requests/s.
    pub offered: Option<f64>,
    /// Answered requests/s.
    pub throughput: f64,
    /// Latency percentiles.
    pub latency: Latency,
    /// Server CPU time per answered request, microseconds (schedstat).
    pub cpu_us_per_request: f64,
    /// User-mode CPU per answered request, microseconds (clock ticks: coarse).
    pub user_us_per_request: f64,
    /// Kernel-mode CPU per answered request, microseconds (clock ticks: coarse).
    pub system_us_per_request: f64,
    /// Context switches of all server threads per answered request.
    pub context_switches_per_request: f64,
    /// Server CPU utilisation over the window (1.0 = one core).
    pub cpu_utilisation: f64,
    /// Peak RSS of the server, KiB.
    pub peak_rss_kib: u64,
    /// Threads the server process ran.
    pub threads: u64,
    /// Non-2xx answers.
    pub non_2xx: u64,
    /// Connection errors.
    pub errors: u64,
    /// What the TLS connections negotiated (version, cipher suite, key exchange);
    /// `None` for plaintext.
    pub negotiated: Option<String>,
}

/// One server answering REST Proxy v2 batches of one size, closed loop.
#[derive(Debug, Clone)]
pub struct BatchSample {
    /// Which server.
    pub server: Server,
    /// Which sink.
    pub sink: SinkMode,
    /// Which repetition (0-based).
    pub repetition: usize,
    /// Records per request.
    pub records_per_request: usize,
    /// Records acknowledged per second.
    pub records_per_second: f64,
    /// Records per second of server CPU time: what one fully busy core would do.
    pub records_per_cpu_second: f64,
    /// Server CPU time per record, microseconds.
    pub cpu_us_per_record: f64,
    /// Non-2xx answers.
    pub non_2xx: u64,
    /// Connection errors.
    pub errors: u64,
}

/// One server answering a new TLS connection per request, closed loop.
#[derive(Debug, Clone)]
pub struct HandshakeSample {
    /// Which server.
    pub server: Server,
    /// Which repetition (0-based).
    pub repetition: usize,
    /// Whether the client resumed sessions.
    pub resumption: Resumption,
    /// Handshakes begun in the window, by kind.
    pub handshakes: Handshakes,
    /// Handshakes per second (each carried one request).
    pub handshakes_per_second: f64,
    /// Handshakes per second of server CPU time: what one fully busy core would do.
    pub handshakes_per_cpu_second: f64,
    /// Server CPU time per handshake (its request and the connection included), µs.
    pub cpu_us_per_handshake: f64,
    /// Server CPU utilisation over the window (1.0 = one core): below 1, the client
    /// (one core, doing its side of every handshake) was the limit.
    pub cpu_utilisation: f64,
    /// Non-2xx answers.
    pub non_2xx: u64,
    /// Connection and handshake errors.
    pub errors: u64,
    /// What the TLS connections negotiated (version, cipher suite, key exchange).
    pub negotiated: Option<String>,
}

/// System calls per request of one server and sink, by call, from `strace -f -c`.
#[derive(Debug, Clone)]
pub struct SyscallProfile {
    /// Which server.
    pub server: Server,
    /// Which sink.
    pub sink: SinkMode,
    /// Requests answered while traced.
    pub requests: u64,
    /// Calls per request, by system call name.
    pub per_request: BTreeMap<String, f64>,
}

/// Everything a comparison run measured.
#[derive(Debug, Clone)]
pub struct Results {
    /// The plan that ran.
    pub plan: Plan,
    /// What the Kafka runs produced to.
    pub broker: String,
    /// Every sample, in run order.
    pub samples: Vec<Sample>,
    /// The batch phase.
    pub batches: Vec<BatchSample>,
    /// The handshake phase.
    pub handshakes: Vec<HandshakeSample>,
    /// The system-call pass (empty when skipped or when strace is missing).
    pub syscalls: Vec<SyscallProfile>,
    /// Why the system-call pass did not run, if it did not.
    pub syscalls_skipped: Option<String>,
}

/// The broker of one server run.
struct Broker {
    brokers: String,
    topic: String,
    _embedded: Option<EmbeddedBroker>,
}

fn broker_for(plan: &Plan, run: usize) -> Result<Broker, Error> {
    let topic = format!("bench-{}-{run}", std::process::id());
    let setup = |source| Error::BrokerSetup { run, source };
    match &plan.external_brokers {
        Some(brokers) => {
            KafkaSink::new(SinkConfig::new(brokers.clone()))
                .and_then(|admin| admin.create_topic(&topic, 3))
                .map_err(setup)?;
            Ok(Broker {
                brokers: brokers.clone(),
                topic,
                _embedded: None,
            })
        }
        None => {
            // A fresh mock per run: it keeps every record in memory.
            let embedded = EmbeddedBroker::start().map_err(setup)?;
            embedded.create_topic(&topic, 3).map_err(setup)?;
            Ok(Broker {
                brokers: embedded.brokers().to_owned(),
                topic,
                _embedded: Some(embedded),
            })
        }
    }
}

fn gateway_flags(sink: SinkMode, broker: &Broker) -> Vec<String> {
    // The topic with the null sink too: the batch phase names it in its requests.
    let mut flags = ["--workers", "1", "--topic", broker.topic.as_str()]
        .map(String::from)
        .to_vec();
    match sink {
        SinkMode::Null => flags.extend(["--sink".to_owned(), "null".to_owned()]),
        SinkMode::Kafka => flags.extend(["--brokers".to_owned(), broker.brokers.clone()]),
    }
    flags
}

/// The run's certificate, made once: a test CA's certificate for `localhost` and its
/// key in a scratch directory (removed when dropped), and a client configuration that
/// trusts the CA.
struct Certificate {
    files: e2e::tls::ServerFiles,
    trust: Arc<rustls::ClientConfig>,
}

impl Certificate {
    /// Made with rcgen by the e2e suites' helpers (ECDSA P-256 keys).
    fn new() -> Self {
        let pki = e2e::tls::Pki::new("bench CA");
        Self {
            files: e2e::tls::ServerFiles::new(&pki),
            trust: pki.client_config(None),
        }
    }
}

/// The name the run's certificate is for.
const SERVER_NAME: &str = "localhost";

/// One server run, as the phase runner hands it to a phase's work.
struct Run<'a> {
    slot: Slot,
    broker: &'a Broker,
    server: &'a ServerUnderTest,
    /// The HTTPS client of a TLS run, resumption on; one session store for the run.
    tls: Option<Tls>,
    /// Where `strace -c` writes its counts when the server exits (system-call phase).
    trace_output: Option<&'a Path>,
}

impl Run<'_> {
    /// The run's keep-alive load: its sink's connections, its transport.
    fn spec(&self, plan: &Plan, request: &[u8], pacing: Pacing, duration: Duration) -> LoadSpec {
        LoadSpec {
            tls: self.tls.clone(),
            ..LoadSpec::keep_alive(
                self.server.address(),
                plan.connections(self.slot.sink),
                request.to_vec(),
                pacing,
                duration,
            )
        }
    }

    /// Offers `request` with `pacing` for `duration`, unmeasured by the server side.
    fn offer(&self, plan: &Plan, request: &[u8], pacing: Pacing, duration: Duration) -> LoadResult {
        loadgen::run(&self.spec(plan, request, pacing, duration))
    }

    /// One keep-alive measurement: an unmeasured warm-up, then `duration` of load with
    /// the server's usage read around it.
    fn measure(
        &self,
        plan: &Plan,
        request: &[u8],
        pacing: Pacing,
        duration: Duration,
    ) -> (LoadResult, Usage) {
        self.measure_spec(plan, self.spec(plan, request, pacing, duration))
    }

    /// One measurement of `spec`: the plan's warm-up, then `spec`'s duration with the
    /// server's usage read around it, in one load run: the connections (and their TLS
    /// handshakes) are opened in the warm-up, so a keep-alive window holds none.
    fn measure_spec(&self, plan: &Plan, spec: LoadSpec) -> (LoadResult, Usage) {
        let mut before = Usage::default();
        let spec = LoadSpec {
            warmup: plan.warmup,
            ..spec
        };
        let result = loadgen::run_with(&spec, || before = self.server.usage());
        (result, self.server.usage().since(&before))
    }
}

/// Runs every phase's servers the same way: a fresh broker and a fresh pinned server
/// per run, the phase's work on it, the server stopped, the progress step reported.
struct Runner<'a, F> {
    plan: &'a Plan,
    /// Server runs so far, over every phase: names each run's topic.
    runs: usize,
    /// Where traced servers write their counts.
    trace_dir: PathBuf,
    /// Made when the first TLS run starts, then used by every one.
    certificate: Option<Certificate>,
    step: F,
}

impl<F: FnMut(&str)> Runner<'_, F> {
    /// Every run of `phase`, each handed to `work`; their results in run order. The
    /// server is stopped before `work`'s error, if any, is returned.
    fn phase<T>(
        &mut self,
        phase: &Phase,
        mut work: impl FnMut(&Run<'_>) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let traced = matches!(phase.work, Work::SystemCalls { .. });
        let mut out = Vec::new();
        for slot in phase.runs() {
            self.runs += 1;
            let broker = broker_for(self.plan, self.runs)?;
            let mut flags = gateway_flags(slot.sink, &broker);
            let core = self.plan.server_core;
            let trace_output = traced.then(|| {
                self.trace_dir
                    .join(format!("{}-{}.txt", slot.server.name(), self.runs))
            });
            let (trust, tls) = match slot.transport {
                Transport::Plain => (None, None),
                Transport::Tls => {
                    let certificate = self.certificate.get_or_insert_with(Certificate::new);
                    flags.extend(certificate.files.flags());
                    let tls = Tls::new(&certificate.trust, SERVER_NAME, Resumption::On)?;
                    (Some(&certificate.trust), Some(tls))
                }
            };
            let server = match &trace_output {
                Some(output) => ServerUnderTest::start_traced(slot.server, core, &flags, output)?,
                None => ServerUnderTest::start(slot.server, core, &flags, trust)?,
            };
            let done = work(&Run {
                slot,
                broker: &broker,
                server: &server,
                tls,
                trace_output: trace_output.as_deref(),
            });
            server.stop();
            out.push(done?);
            let transport = match slot.transport {
                Transport::Plain => "",
                Transport::Tls => " TLS",
            };
            (self.step)(&format!(
                "{} {} {}{transport} #{}",
                phase.name,
                slot.server.name(),
                slot.sink.name(),
                slot.repetition + 1
            ));
        }
        Ok(out)
    }
}

/// Runs the plan; `step` is called after every server run with a description.
pub fn run(plan: &Plan, step: impl FnMut(&str)) -> Result<Results, Error> {
    let broker = match &plan.external_brokers {
        Some(brokers) => format!("external Kafka-compatible broker at {brokers} (KAFKA_BROKERS)"),
        None => {
            "embedded librdkafka MockCluster (a MOCK, in the bench process, on the client core)"
                .to_owned()
        }
    };
    let mut results = Results {
        plan: plan.clone(),
        broker,
        samples: Vec::new(),
        batches: Vec::new(),
        handshakes: Vec::new(),
        syscalls: Vec::new(),
        syscalls_skipped: Some("not asked for".to_owned()),
    };
    let mut runner = Runner {
        plan,
        runs: 0,
        trace_dir: std::env::temp_dir().join(format!("bench-strace-{}", std::process::id())),
        certificate: None,
        step,
    };
    for phase in plan.phases() {
        match &phase.work {
            Work::Loads { loads, group } => {
                // From the saturation phase, which runs first: what fractions are of.
                let slowest: BTreeMap<SinkMode, f64> = SinkMode::ALL
                    .into_iter()
                    .map(|sink| {
                        (
                            sink,
                            slowest_saturation(&results.samples, &plan.servers, sink),
                        )
                    })
                    .collect();
                let samples = runner.phase(&phase, |run| {
                    let slowest = slowest[&run.slot.sink];
                    Ok(loads
                        .iter()
                        .map(|&load| load_sample(plan, run, load, slowest, *group))
                        .collect::<Vec<_>>())
                })?;
                results.samples.extend(samples.into_iter().flatten());
            }
            Work::Batches => {
                let batches = runner.phase(&phase, |run| Ok(batch_samples(plan, run)))?;
                results.batches.extend(batches.into_iter().flatten());
            }
            Work::Handshakes => {
                let handshakes = runner.phase(&phase, |run| Ok(handshake_samples(plan, run)))?;
                results.handshakes.extend(handshakes.into_iter().flatten());
            }
            Work::SystemCalls { rate } => match strace_missing() {
                Some(why) => results.syscalls_skipped = Some(why),
                None => {
                    results.syscalls = syscall_profiles(&mut runner, &phase, *rate)?;
                    results.syscalls_skipped = None;
                }
            },
        }
    }
    Ok(results)
}

/// `load` offered to one server run, sampled.
fn load_sample(plan: &Plan, run: &Run<'_>, load: Load, slowest: f64, group: Group) -> Sample {
    let (pacing, offered, duration) = plan.schedule(load, slowest);
    let request = crate::corpus::post(&plan.payload);
    let (result, usage) = run.measure(plan, &request, pacing, duration);
    let requests = result.requests.max(1) as f64;
    let per_request = |time: Duration| time.as_secs_f64() * 1e6 / requests;
    Sample {
        server: run.slot.server,
        sink: run.slot.sink,
        transport: run.slot.transport,
        repetition: run.slot.repetition,
        group,
        load,
        offered,
        throughput: result.throughput(),
        latency: result.latency(),
        cpu_us_per_request: per_request(usage.cpu),
        user_us_per_request: per_request(usage.user),
        system_us_per_request: per_request(usage.system),
        context_switches_per_request: usage.context_switches as f64 / requests,
        cpu_utilisation: usage.cpu.as_secs_f64() / result.elapsed.as_secs_f64(),
        peak_rss_kib: run.server.peak_rss_kib(),
        threads: run.server.threads(),
        non_2xx: result.non_2xx,
        errors: result.errors,
        negotiated: result.negotiated,
    }
}

/// A new TLS connection per request on one server run, closed loop, with resumption
/// on and off; handshakes per server CPU-second is the figure. The order of the two
/// alternates each repetition.
fn handshake_samples(plan: &Plan, run: &Run<'_>) -> Vec<HandshakeSample> {
    let tls = run
        .tls
        .as_ref()
        .expect("the handshake phase runs its servers with TLS");
    let mut order = Resumption::ALL.to_vec();
    if run.slot.repetition % 2 == 1 {
        order.reverse();
    }
    let request = crate::corpus::post(&plan.payload);
    order
        .into_iter()
        .map(|resumption| {
            let spec = LoadSpec {
                tls: Some(tls.with_resumption(resumption)),
                reuse: Reuse::NewConnectionPerRequest,
                ..LoadSpec::keep_alive(
                    run.server.address(),
                    plan.handshake_connections,
                    request.clone(),
                    Pacing::ClosedLoop,
                    plan.saturation,
                )
            };
            let (result, usage) = run.measure_spec(plan, spec);
            let cpu = usage.cpu.as_secs_f64();
            let handshakes = result.handshakes.total().max(1) as f64;
            HandshakeSample {
                server: run.slot.server,
                repetition: run.slot.repetition,
                resumption,
                handshakes: result.handshakes,
                handshakes_per_second: result.handshakes_per_second(),
                handshakes_per_cpu_second: handshakes / cpu.max(1e-9),
                cpu_us_per_handshake: cpu * 1e6 / handshakes,
                cpu_utilisation: cpu / result.elapsed.as_secs_f64(),
                non_2xx: result.non_2xx,
                errors: result.errors,
                negotiated: result.negotiated,
            }
        })
        .collect()
}

/// REST Proxy v2 requests of every batch size, closed loop, on one server run;
/// records per server CPU-second is the figure.
fn batch_samples(plan: &Plan, run: &Run<'_>) -> Vec<BatchSample> {
    plan.batch_sizes
        .iter()
        .map(|&records| {
            let request =
                crate::corpus::v2_batch(&run.broker.topic, records, plan.batch_record_bytes);
            let (result, usage) = run.measure(plan, &request, Pacing::ClosedLoop, plan.point);
            let answered = result.requests.saturating_sub(result.non_2xx);
            let acknowledged = (answered * records as u64).max(1) as f64;
            let cpu = usage.cpu.as_secs_f64();
            BatchSample {
                server: run.slot.server,
                sink: run.slot.sink,
                repetition: run.slot.repetition,
                records_per_request: records,
                records_per_second: acknowledged / result.elapsed.as_secs_f64(),
                records_per_cpu_second: acknowledged / cpu.max(1e-9),
                cpu_us_per_record: cpu * 1e6 / acknowledged,
                non_2xx: result.non_2xx,
                errors: result.errors,
            }
        })
        .collect()
}

/// The median saturation throughput of the slowest of `servers` with `sink`.
pub fn slowest_saturation(samples: &[Sample], servers: &[Server], sink: SinkMode) -> f64 {
    servers
        .iter()
        .map(|&server| {
            median(
                samples
                    .iter()
                    .filter(|s| {
                        s.server == server
                            && s.sink == sink
                            && s.load == Load::Saturation
                            && s.group == Group::Main
                    })
                    .map(|s| s.throughput)
                    .collect(),
            )
        })
        .fold(f64::INFINITY, f64::min)
}

/// Why the system-call pass cannot run, if it cannot.
fn strace_missing() -> Option<String> {
    let strace = std::process::Command::new("strace").arg("-V").output();
    (!strace.is_ok_and(|out| out.status.success()))
        .then(|| "strace is not installed (apt-get install strace)".to_owned())
}

/// The untimed diagnostic pass: each server under `strace -f -c` at a fixed rate, the
/// counts read once the server has exited and the tracer written them.
fn syscall_profiles<F: FnMut(&str)>(
    runner: &mut Runner<'_, F>,
    phase: &Phase,
    rate: f64,
) -> Result<Vec<SyscallProfile>, Error> {
    let plan = runner.plan;
    let scratch = runner.trace_dir.clone();
    std::fs::create_dir_all(&scratch).map_err(Error::file("create", &scratch))?;
    let traced = runner.phase(phase, |run| {
        let request = crate::corpus::post(&plan.payload);
        let result = run.offer(
            plan,
            &request,
            Pacing::OpenLoop { rate },
            plan.syscall_duration,
        );
        let output = run.trace_output.map(Path::to_path_buf).unwrap_or_default();
        Ok((run.slot, output, result.requests.max(1)))
    })?;
    let profiles = traced
        .into_iter()
        .map(|(slot, output, requests)| {
            let text = std::fs::read_to_string(&output).map_err(Error::file("read", &output))?;
            Ok(SyscallProfile {
                server: slot.server,
                sink: slot.sink,
                requests,
                per_request: parse_strace_summary(&text)
                    .into_iter()
                    .map(|(name, calls)| (name, calls as f64 / requests as f64))
                    .collect(),
            })
        })
        .collect();
    let _ = std::fs::remove_dir_all(&scratch);
    profiles
}

/// Calls by system call from `strace -c` output (the `total` line left out).
pub fn parse_strace_summary(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // % time, seconds, usecs/call, calls, [errors,] syscall
            if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
                return None;
            }
            let name = *fields.last()?;
            let calls = fields[3].parse().ok()?;
            (name != "total").then(|| (name.to_owned(), calls))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strace_summary_is_parsed_without_the_total() {
        let text = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 61.20    0.012000           3      4000           io_uring_enter
 30.00    0.006000           2      3000       120 epoll_wait
  8.80    0.001000           1      1000           write
------ ----------- ----------- --------- --------- ----------------
100.00    0.019000           2      8000       120 total
";
        let calls = parse_strace_summary(text);
        assert_eq!(calls.len(), 3);
        assert_eq!(calls["io_uring_enter"], 4000);
        assert_eq!(calls["epoll_wait"], 3000);
        assert_eq!(calls["write"], 1000);
    }

    #[test]
    fn servers_rotate_each_repetition_within_each_sink() {
        let phase = Phase {
            name: "test",
            servers: vec![Server::Hyper, Server::Uring],
            sinks: SinkMode::ALL.to_vec(),
            transports: vec![Transport::Plain],
            repetitions: 3,
            work: Work::Batches,
        };
        let runs: Vec<(usize, SinkMode, Server)> = phase
            .runs()
            .map(|slot| (slot.repetition, slot.sink, slot.server))
            .collect();
        use {Server::*, SinkMode::*};
        assert_eq!(
            runs,
            vec![
                (0, Null, Hyper),
                (0, Null, Uring),
                (0, Kafka, Hyper),
                (0, Kafka, Uring),
                (1, Null, Uring),
                (1, Null, Hyper),
                (1, Kafka, Uring),
                (1, Kafka, Hyper),
                (2, Null, Hyper),
                (2, Null, Uring),
                (2, Kafka, Hyper),
                (2, Kafka, Uring),
            ]
        );
    }

    #[test]
    fn each_server_runs_with_tls_and_in_plaintext_side_by_side_the_order_alternating() {
        let phase = Phase {
            name: "test",
            servers: vec![Server::Hyper, Server::LoopUring],
            sinks: vec![SinkMode::Null],
            transports: vec![Transport::Tls, Transport::Plain],
            repetitions: 2,
            work: Work::Handshakes,
        };
        let runs: Vec<(usize, Server, Transport)> = phase
            .runs()
            .map(|slot| (slot.repetition, slot.server, slot.transport))
            .collect();
        use {Server::*, Transport::*};
        assert_eq!(
            runs,
            vec![
                (0, Hyper, Tls),
                (0, Hyper, Plain),
                (0, LoopUring, Tls),
                (0, LoopUring, Plain),
                (1, LoopUring, Plain),
                (1, LoopUring, Tls),
                (1, Hyper, Plain),
                (1, Hyper, Tls),
            ]
        );
    }

    #[test]
    fn the_plan_counts_every_server_run_of_its_phases() {
        let plan = Plan::full();
        let names: Vec<&str> = plan.phases().iter().map(|phase| phase.name).collect();
        assert_eq!(
            names,
            [
                "saturation",
                "open loop",
                "ablation",
                "batches",
                "HTTPS",
                "handshakes",
                "system calls"
            ]
        );
        let servers = plan.servers.len();
        let main = 2 * plan.repetitions * servers * 2;
        let ablation = plan.ablation_repetitions * (1 + plan.ablation.len());
        let batches = plan.batch_repetitions * plan.batch_servers.len() * 2;
        // Null sink only; every server with TLS and in plaintext.
        let https = plan.tls_repetitions * servers * 2;
        let handshakes = plan.handshake_repetitions * servers;
        let traced = servers * 2;
        assert_eq!(
            plan.steps(),
            (main + ablation + batches + https + handshakes + traced) as u64
        );

        let ablation = &plan.phases()[2];
        assert_eq!(ablation.sinks, [SinkMode::Null]);
        assert_eq!(ablation.servers, plan.ablation_arms());

        let bare = Plan {
            ablation: Vec::new(),
            batch_sizes: Vec::new(),
            tls_repetitions: 0,
            handshake_repetitions: 0,
            syscall_rate: None,
            ..Plan::quick()
        };
        let names: Vec<&str> = bare.phases().iter().map(|phase| phase.name).collect();
        assert_eq!(names, ["saturation", "open loop"]);
    }

    #[test]
    fn the_https_phases_run_every_server_with_the_null_sink_at_the_fixed_loads() {
        let plan = Plan::full();
        let phases = plan.phases();
        let https = phases.iter().find(|p| p.name == "HTTPS").expect("HTTPS");
        assert_eq!(https.servers, Server::ALL);
        assert_eq!(https.sinks, [SinkMode::Null]);
        assert_eq!(https.transports, [Transport::Tls, Transport::Plain]);
        assert_eq!(
            https.work,
            Work::Loads {
                loads: vec![
                    Load::Saturation,
                    Load::Rate(10_000.0),
                    Load::Rate(25_000.0),
                    Load::Rate(50_000.0)
                ],
                group: Group::Tls,
            }
        );
        let handshakes = phases
            .iter()
            .find(|p| p.name == "handshakes")
            .expect("handshakes");
        assert_eq!(handshakes.servers, Server::ALL);
        assert_eq!(handshakes.sinks, [SinkMode::Null]);
        assert_eq!(handshakes.transports, [Transport::Tls]);
        assert_eq!(handshakes.work, Work::Handshakes);
        // Every other phase is plaintext.
        for phase in phases
            .iter()
            .filter(|p| p.name != "HTTPS" && p.name != "handshakes")
        {
            assert_eq!(phase.transports, [Transport::Plain], "{}", phase.name);
        }

        // The quick run covers both, once each, and the zero-copy arm of the ablation.
        let quick = Plan::quick();
        let quick_phases = quick.phases();
        let names: Vec<&str> = quick_phases.iter().map(|p| p.name).collect();
        assert!(
            names.contains(&"HTTPS") && names.contains(&"handshakes"),
            "{names:?}"
        );
        for phase in quick_phases
            .iter()
            .filter(|p| p.name == "HTTPS" || p.name == "handshakes")
        {
            assert_eq!(phase.repetitions, 1, "{}", phase.name);
        }
        assert!(quick.ablation.contains(&UringFeature::OwnedSend));
    }

    #[test]
    fn fractions_are_of_the_slowest_saturation_and_never_zero() {
        let plan = Plan::quick();
        let (pacing, offered, duration) = plan.schedule(Load::Fraction(0.5), 30_000.0);
        assert_eq!(pacing, Pacing::OpenLoop { rate: 15_000.0 });
        assert_eq!((offered, duration), (Some(15_000.0), plan.point));
        let (pacing, _, _) = plan.schedule(Load::Fraction(0.5), 0.0);
        assert_eq!(pacing, Pacing::OpenLoop { rate: 1.0 });
        let (pacing, offered, duration) = plan.schedule(Load::Saturation, 30_000.0);
        assert_eq!(
            (pacing, offered, duration),
            (Pacing::ClosedLoop, None, plan.saturation)
        );
    }
}

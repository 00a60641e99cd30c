//! The comparison run: every server, with the null sink and with Kafka, measured in
//! one process, interleaved with the order rotated each repetition, and repeated.
//!
//! Phase 1 drives each server closed-loop to saturation. Phase 2 offers the same
//! open-loop rates to every server: fixed rates (10k, 25k, 50k req/s) and fractions of
//! the *slowest* server's median saturation. Every run starts a fresh server (and a
//! fresh embedded broker) pinned to the server core; the load generator and the broker
//! share the other core. A third, untimed pass counts system calls per request under
//! `strace -f -c`.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_sink::{EmbeddedBroker, KafkaSink, SinkConfig};

use crate::loadgen::{self, LoadSpec, Pacing};
use crate::server::{Server, ServerUnderTest, UringFeature, Usage, ABLATION};
use crate::stats::median;

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
    /// job under 15 minutes.
    pub batch_servers: Vec<Server>,
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
            ablation: vec![UringFeature::BufRing],
            ablation_repetitions: 1,
            ablation_loads: vec![Load::Rate(10_000.0), Load::Saturation],
            batch_sizes: vec![1, 100],
            batch_repetitions: 1,
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

    /// Server starts the plan makes, for the progress bar.
    pub fn steps(&self) -> u64 {
        let timed = 2 * self.repetitions;
        let traced = usize::from(self.syscall_rate.is_some());
        let main = (timed + traced) * self.servers.len() * SinkMode::ALL.len();
        let ablation = self.ablation_repetitions * self.ablation_arms().len();
        let batch = if self.batch_sizes.is_empty() {
            0
        } else {
            self.batch_repetitions * self.batch_servers.len() * SinkMode::ALL.len()
        };
        (main + ablation + batch) as u64
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

    /// The servers in the order of repetition `repetition`: rotated by one each time,
    /// so no server always runs first (or right after another's warm caches).
    pub fn order(&self, repetition: usize) -> Vec<Server> {
        let mut order = self.servers.clone();
        if !order.is_empty() {
            let by = repetition % order.len();
            order.rotate_left(by);
        }
        order
    }
}

/// One measurement of one server.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Which server.
    pub server: Server,
    /// Which sink.
    pub sink: SinkMode,
    /// Which repetition (0-based): samples of one repetition were taken side by side.
    pub repetition: usize,
    /// Whether the sample belongs to the ablation (a phase of its own).
    pub ablation: bool,
    /// The offered load.
    pub load: Load,
    /// Offered rate (open loop), requests/s.
    pub offered: Option<f64>,
    /// Answered requests/s.
    pub throughput: f64,
    /// Latency percentiles in ms: p50, p90, p99, p99.9, max.
    pub latency_ms: [f64; 5],
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
    /// The system-call pass (empty when skipped or when strace is missing).
    pub syscalls: Vec<SyscallProfile>,
    /// Why the system-call pass did not run, if it did not.
    pub syscalls_skipped: Option<String>,
}

struct Broker {
    brokers: String,
    topic: String,
    _embedded: Option<EmbeddedBroker>,
}

fn broker_for(plan: &Plan, run: usize) -> Result<Broker, String> {
    let topic = format!("bench-{}-{run}", std::process::id());
    match &plan.external_brokers {
        Some(brokers) => {
            KafkaSink::new(SinkConfig::new(brokers.clone()))
                .and_then(|admin| admin.create_topic(&topic, 3))
                .map_err(|e| e.to_string())?;
            Ok(Broker {
                brokers: brokers.clone(),
                topic,
                _embedded: None,
            })
        }
        None => {
            // A fresh mock per run: it keeps every record in memory.
            let embedded = EmbeddedBroker::start().map_err(|e| e.to_string())?;
            embedded
                .create_topic(&topic, 3)
                .map_err(|e| e.to_string())?;
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

fn load_spec(
    plan: &Plan,
    sut: &ServerUnderTest,
    sink: SinkMode,
    pacing: Pacing,
    duration: Duration,
) -> LoadSpec {
    LoadSpec {
        address: sut.address(),
        connections: match sink {
            SinkMode::Null => plan.connections,
            SinkMode::Kafka => plan.kafka_connections,
        },
        request: crate::corpus::post(&plan.payload),
        pacing,
        duration,
        warmup: Duration::ZERO,
    }
}

/// One measurement: an unmeasured warm-up, then `duration` of load with the server's
/// usage read around it.
fn measure(
    plan: &Plan,
    sut: &ServerUnderTest,
    sink: SinkMode,
    pacing: Pacing,
    duration: Duration,
) -> (loadgen::LoadResult, Usage) {
    loadgen::run(&load_spec(plan, sut, sink, pacing, plan.warmup));
    let before = sut.usage();
    let result = loadgen::run(&load_spec(plan, sut, sink, pacing, duration));
    (result, sut.usage().since(&before))
}

struct Point {
    server: Server,
    sink: SinkMode,
    repetition: usize,
    ablation: bool,
    load: Load,
    offered: Option<f64>,
}

fn sample(
    point: Point,
    result: &loadgen::LoadResult,
    usage: Usage,
    sut: &ServerUnderTest,
) -> Sample {
    let requests = result.requests.max(1) as f64;
    let per_request = |time: Duration| time.as_secs_f64() * 1e6 / requests;
    Sample {
        server: point.server,
        sink: point.sink,
        repetition: point.repetition,
        ablation: point.ablation,
        load: point.load,
        offered: point.offered,
        throughput: result.throughput(),
        latency_ms: [
            result.percentile_ms(50.0),
            result.percentile_ms(90.0),
            result.percentile_ms(99.0),
            result.percentile_ms(99.9),
            result.latency_us.max() as f64 / 1000.0,
        ],
        cpu_us_per_request: per_request(usage.cpu),
        user_us_per_request: per_request(usage.user),
        system_us_per_request: per_request(usage.system),
        context_switches_per_request: usage.context_switches as f64 / requests,
        cpu_utilisation: usage.cpu.as_secs_f64() / result.elapsed.as_secs_f64(),
        peak_rss_kib: sut.peak_rss_kib(),
        threads: sut.threads(),
        non_2xx: result.non_2xx,
        errors: result.errors,
    }
}

/// The open-loop rate a load stands for, given the slowest median saturation.
fn rate_of(load: Load, slowest: f64) -> f64 {
    match load {
        Load::Saturation => f64::INFINITY,
        Load::Rate(rate) => rate,
        Load::Fraction(fraction) => (slowest * fraction).max(1.0),
    }
}

/// Runs the plan; `step` is called after every server run with a description.
pub fn run(plan: &Plan, mut step: impl FnMut(&str)) -> Result<Results, String> {
    let broker_description = match &plan.external_brokers {
        Some(brokers) => format!("external Kafka-compatible broker at {brokers} (KAFKA_BROKERS)"),
        None => {
            "embedded librdkafka MockCluster (a MOCK, in the bench process, on the client core)"
                .to_owned()
        }
    };
    let mut samples = Vec::new();
    let mut run_index = 0;
    // Phase 1: saturation.
    for repetition in 0..plan.repetitions {
        for sink in SinkMode::ALL {
            for server in plan.order(repetition) {
                run_index += 1;
                let broker = broker_for(plan, run_index)?;
                let sut = ServerUnderTest::start(
                    server,
                    plan.server_core,
                    &gateway_flags(sink, &broker),
                )?;
                let (result, usage) =
                    measure(plan, &sut, sink, Pacing::ClosedLoop, plan.saturation);
                let point = Point {
                    server,
                    sink,
                    repetition,
                    ablation: false,
                    load: Load::Saturation,
                    offered: None,
                };
                samples.push(sample(point, &result, usage, &sut));
                sut.stop();
                step(&format!(
                    "saturation {} {} #{}",
                    server.name(),
                    sink.name(),
                    repetition + 1
                ));
            }
        }
    }
    // Phase 2: the same open-loop rates for every server.
    for repetition in 0..plan.repetitions {
        for sink in SinkMode::ALL {
            let slowest = slowest_saturation(&samples, &plan.servers, sink);
            for server in plan.order(repetition) {
                run_index += 1;
                let broker = broker_for(plan, run_index)?;
                let sut = ServerUnderTest::start(
                    server,
                    plan.server_core,
                    &gateway_flags(sink, &broker),
                )?;
                for load in plan.open_loads() {
                    let rate = rate_of(load, slowest);
                    let (result, usage) =
                        measure(plan, &sut, sink, Pacing::OpenLoop { rate }, plan.point);
                    let point = Point {
                        server,
                        sink,
                        repetition,
                        ablation: false,
                        load,
                        offered: Some(rate),
                    };
                    samples.push(sample(point, &result, usage, &sut));
                }
                sut.stop();
                step(&format!(
                    "open loop {} {} #{}",
                    server.name(),
                    sink.name(),
                    repetition + 1
                ));
            }
        }
    }
    ablation_pass(plan, &mut samples, &mut run_index, &mut step)?;
    let batches = batch_pass(plan, &mut run_index, &mut step)?;
    let (syscalls, syscalls_skipped) = syscall_pass(plan, &mut run_index, &mut step)?;
    Ok(Results {
        plan: plan.clone(),
        broker: broker_description,
        samples,
        batches,
        syscalls,
        syscalls_skipped,
    })
}

/// The ablation: the own loop on io_uring with every feature, and with each one
/// switched off, null sink, interleaved and rotated like the main comparison.
fn ablation_pass(
    plan: &Plan,
    samples: &mut Vec<Sample>,
    run_index: &mut usize,
    step: &mut impl FnMut(&str),
) -> Result<(), String> {
    let arms = plan.ablation_arms();
    let sink = SinkMode::Null;
    for repetition in 0..plan.ablation_repetitions {
        let mut order = arms.clone();
        let by = repetition % arms.len().max(1);
        order.rotate_left(by);
        for server in order {
            *run_index += 1;
            let broker = broker_for(plan, *run_index)?;
            let sut =
                ServerUnderTest::start(server, plan.server_core, &gateway_flags(sink, &broker))?;
            for &load in &plan.ablation_loads {
                let (pacing, offered, duration) = match load {
                    Load::Saturation => (Pacing::ClosedLoop, None, plan.saturation),
                    _ => {
                        let rate = rate_of(load, f64::INFINITY);
                        (Pacing::OpenLoop { rate }, Some(rate), plan.point)
                    }
                };
                let (result, usage) = measure(plan, &sut, sink, pacing, duration);
                let point = Point {
                    server,
                    sink,
                    repetition,
                    ablation: true,
                    load,
                    offered,
                };
                samples.push(sample(point, &result, usage, &sut));
            }
            sut.stop();
            step(&format!("ablation {} #{}", server.name(), repetition + 1));
        }
    }
    Ok(())
}

/// The batch phase: every server answers REST Proxy v2 requests of each batch size,
/// closed loop, with both sinks; records per server CPU-second is the figure.
fn batch_pass(
    plan: &Plan,
    run_index: &mut usize,
    step: &mut impl FnMut(&str),
) -> Result<Vec<BatchSample>, String> {
    let mut batches = Vec::new();
    if plan.batch_sizes.is_empty() {
        return Ok(batches);
    }
    for repetition in 0..plan.batch_repetitions {
        for sink in SinkMode::ALL {
            let mut order = plan.batch_servers.clone();
            let by = repetition % order.len().max(1);
            order.rotate_left(by);
            for server in order {
                *run_index += 1;
                let broker = broker_for(plan, *run_index)?;
                let sut = ServerUnderTest::start(
                    server,
                    plan.server_core,
                    &gateway_flags(sink, &broker),
                )?;
                for &records in &plan.batch_sizes {
                    let request =
                        crate::corpus::v2_batch(&broker.topic, records, plan.batch_record_bytes);
                    let spec = |duration| LoadSpec {
                        request: request.clone(),
                        ..load_spec(plan, &sut, sink, Pacing::ClosedLoop, duration)
                    };
                    loadgen::run(&spec(plan.warmup));
                    let before = sut.usage();
                    let result = loadgen::run(&spec(plan.point));
                    let usage = sut.usage().since(&before);
                    let answered = result.requests.saturating_sub(result.non_2xx);
                    let acknowledged = (answered * records as u64).max(1) as f64;
                    let cpu = usage.cpu.as_secs_f64();
                    batches.push(BatchSample {
                        server,
                        sink,
                        repetition,
                        records_per_request: records,
                        records_per_second: acknowledged / result.elapsed.as_secs_f64(),
                        records_per_cpu_second: acknowledged / cpu.max(1e-9),
                        cpu_us_per_record: cpu * 1e6 / acknowledged,
                        non_2xx: result.non_2xx,
                        errors: result.errors,
                    });
                }
                sut.stop();
                step(&format!(
                    "batches {} {} #{}",
                    server.name(),
                    sink.name(),
                    repetition + 1
                ));
            }
        }
    }
    Ok(batches)
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
                            && !s.ablation
                    })
                    .map(|s| s.throughput)
                    .collect(),
            )
        })
        .fold(f64::INFINITY, f64::min)
}

/// The untimed diagnostic pass: each server under `strace -f -c` at a fixed rate.
#[allow(clippy::type_complexity)]
fn syscall_pass(
    plan: &Plan,
    run_index: &mut usize,
    step: &mut impl FnMut(&str),
) -> Result<(Vec<SyscallProfile>, Option<String>), String> {
    let Some(rate) = plan.syscall_rate else {
        return Ok((Vec::new(), Some("not asked for".to_owned())));
    };
    let strace = std::process::Command::new("strace").arg("-V").output();
    if !strace.is_ok_and(|out| out.status.success()) {
        return Ok((
            Vec::new(),
            Some("strace is not installed (apt-get install strace)".to_owned()),
        ));
    }
    let scratch = std::env::temp_dir().join(format!("bench-strace-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let mut profiles = Vec::new();
    for sink in SinkMode::ALL {
        for &server in &plan.servers {
            *run_index += 1;
            let broker = broker_for(plan, *run_index)?;
            let output = scratch.join(format!("{}-{}.txt", server.name(), *run_index));
            let sut = ServerUnderTest::start_traced(
                server,
                plan.server_core,
                &gateway_flags(sink, &broker),
                &output,
            )?;
            let result = loadgen::run(&load_spec(
                plan,
                &sut,
                sink,
                Pacing::OpenLoop { rate },
                plan.syscall_duration,
            ));
            sut.stop();
            let text = std::fs::read_to_string(&output).map_err(|e| e.to_string())?;
            let requests = result.requests.max(1);
            profiles.push(SyscallProfile {
                server,
                sink,
                requests,
                per_request: parse_strace_summary(&text)
                    .into_iter()
                    .map(|(name, calls)| (name, calls as f64 / requests as f64))
                    .collect(),
            });
            step(&format!("system calls {} {}", server.name(), sink.name()));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok((profiles, None))
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
    fn order_rotates_each_repetition() {
        let plan = Plan {
            servers: vec![Server::Hyper, Server::Uring],
            ..Plan::quick()
        };
        assert_eq!(plan.order(0), vec![Server::Hyper, Server::Uring]);
        assert_eq!(plan.order(1), vec![Server::Uring, Server::Hyper]);
        assert_eq!(plan.order(2), vec![Server::Hyper, Server::Uring]);
    }
}

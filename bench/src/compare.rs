//! The comparison run: both gateways, with the null sink and with Kafka, measured in
//! one process, interleaved (hyper, uring, hyper, uring, ...) and repeated.
//!
//! Phase 1 drives each server closed-loop to saturation. Phase 2 offers open-loop rates
//! at fractions of the *slower* server's median saturation, so both are measured at the
//! same load. Every run starts a fresh server (and a fresh embedded broker) pinned to
//! the server core; the load generator and the broker share the other core.

use std::time::Duration;

use kafka_sink::{EmbeddedBroker, KafkaSink, SinkConfig};

use crate::loadgen::{self, LoadSpec, Pacing};
use crate::server::{Server, ServerUnderTest};

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
            Self::Null => "the null sink",
            Self::Kafka => "Kafka",
        }
    }
}

/// How long and how hard to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `--quick`: one short repetition of everything (CI).
    pub quick: bool,
    /// Repetitions of every measurement.
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
    pub sweep_point: Duration,
    /// Open-loop rates as fractions of the slower server's saturation.
    pub sweep: Vec<f64>,
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
    /// The full run `cargo bench -p bench` does (about 5 minutes).
    pub fn full() -> Self {
        Self {
            quick: false,
            repetitions: 3,
            connections: 64,
            kafka_connections: 256,
            warmup: Duration::from_secs(1),
            saturation: Duration::from_secs(4),
            sweep_point: Duration::from_secs(3),
            sweep: vec![0.25, 0.5, 0.75, 0.9],
            payload: crate::corpus::json_payload(256),
            server_core: 0,
            client_core: 1,
            external_brokers: std::env::var("KAFKA_BROKERS").ok(),
        }
    }

    /// The quick run for CI: every step once, briefly.
    pub fn quick() -> Self {
        Self {
            quick: true,
            repetitions: 1,
            warmup: Duration::from_millis(300),
            saturation: Duration::from_secs(1),
            sweep_point: Duration::from_millis(700),
            sweep: vec![0.5, 0.9],
            ..Self::full()
        }
    }

    /// Runs (server starts) the plan makes, for the progress bar.
    pub fn steps(&self) -> u64 {
        (2 * Server::ALL.len() * SinkMode::ALL.len() * self.repetitions) as u64
    }
}

/// One measurement of one server.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Which server.
    pub server: Server,
    /// Which sink.
    pub sink: SinkMode,
    /// `None` for closed-loop saturation, else the open-loop fraction.
    pub fraction: Option<f64>,
    /// Offered rate (open loop), requests/s.
    pub offered: Option<f64>,
    /// Answered requests/s.
    pub throughput: f64,
    /// Latency percentiles in ms: p50, p90, p99, p99.9, max.
    pub latency_ms: [f64; 5],
    /// Server CPU time per answered request, microseconds.
    pub cpu_us_per_request: f64,
    /// Server CPU utilisation over the window (1.0 = one core).
    pub cpu_utilisation: f64,
    /// Peak RSS of the server, KiB.
    pub peak_rss_kib: u64,
    /// Non-2xx answers.
    pub non_2xx: u64,
    /// Connection errors.
    pub errors: u64,
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

fn start(
    plan: &Plan,
    server: Server,
    sink: SinkMode,
    broker: &Broker,
) -> Result<ServerUnderTest, String> {
    let mut flags = vec!["--workers".to_owned(), "1".to_owned()];
    match sink {
        SinkMode::Null => flags.extend(["--sink".to_owned(), "null".to_owned()]),
        SinkMode::Kafka => flags.extend([
            "--brokers".to_owned(),
            broker.brokers.clone(),
            "--topic".to_owned(),
            broker.topic.clone(),
        ]),
    }
    ServerUnderTest::start(server, plan.server_core, &flags)
}

fn measure(
    plan: &Plan,
    sut: &ServerUnderTest,
    sink: SinkMode,
    pacing: Pacing,
    duration: Duration,
) -> (loadgen::LoadResult, Duration) {
    let request = crate::corpus::post(&plan.payload);
    let connections = match sink {
        SinkMode::Null => plan.connections,
        SinkMode::Kafka => plan.kafka_connections,
    };
    let spec = |pacing, duration| LoadSpec {
        address: sut.address(),
        connections,
        request: request.clone(),
        pacing,
        duration,
        warmup: Duration::ZERO,
    };
    loadgen::run(&spec(pacing, plan.warmup));
    let cpu_before = sut.cpu_time();
    let result = loadgen::run(&spec(pacing, duration));
    (result, sut.cpu_time().saturating_sub(cpu_before))
}

fn sample(
    server: Server,
    sink: SinkMode,
    fraction: Option<f64>,
    offered: Option<f64>,
    result: &loadgen::LoadResult,
    cpu: Duration,
    rss: u64,
) -> Sample {
    Sample {
        server,
        sink,
        fraction,
        offered,
        throughput: result.throughput(),
        latency_ms: [
            result.percentile_ms(50.0),
            result.percentile_ms(90.0),
            result.percentile_ms(99.0),
            result.percentile_ms(99.9),
            result.latency_us.max() as f64 / 1000.0,
        ],
        cpu_us_per_request: cpu.as_secs_f64() * 1e6 / result.requests.max(1) as f64,
        cpu_utilisation: cpu.as_secs_f64() / result.elapsed.as_secs_f64(),
        peak_rss_kib: rss,
        non_2xx: result.non_2xx,
        errors: result.errors,
    }
}

/// The median of `values` (0 when empty).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
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
    // Phase 1: saturation, interleaved.
    for repetition in 0..plan.repetitions {
        for sink in SinkMode::ALL {
            for server in Server::ALL {
                run_index += 1;
                let broker = broker_for(plan, run_index)?;
                let sut = start(plan, server, sink, &broker)?;
                let (result, cpu) = measure(plan, &sut, sink, Pacing::ClosedLoop, plan.saturation);
                samples.push(sample(
                    server,
                    sink,
                    None,
                    None,
                    &result,
                    cpu,
                    sut.peak_rss_kib(),
                ));
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
    // Phase 2: the open-loop sweep at fractions of the slower server's saturation.
    for repetition in 0..plan.repetitions {
        for sink in SinkMode::ALL {
            let slowest = Server::ALL
                .iter()
                .map(|&server| {
                    median(
                        samples
                            .iter()
                            .filter(|s| {
                                s.server == server && s.sink == sink && s.fraction.is_none()
                            })
                            .map(|s| s.throughput)
                            .collect(),
                    )
                })
                .fold(f64::INFINITY, f64::min);
            for server in Server::ALL {
                run_index += 1;
                let broker = broker_for(plan, run_index)?;
                let sut = start(plan, server, sink, &broker)?;
                for &fraction in &plan.sweep {
                    let rate = (slowest * fraction).max(1.0);
                    let (result, cpu) = measure(
                        plan,
                        &sut,
                        sink,
                        Pacing::OpenLoop { rate },
                        plan.sweep_point,
                    );
                    samples.push(sample(
                        server,
                        sink,
                        Some(fraction),
                        Some(rate),
                        &result,
                        cpu,
                        sut.peak_rss_kib(),
                    ));
                }
                sut.stop();
                step(&format!(
                    "sweep {} {} #{}",
                    server.name(),
                    sink.name(),
                    repetition + 1
                ));
            }
        }
    }
    Ok(Results {
        plan: plan.clone(),
        broker: broker_description,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }
}

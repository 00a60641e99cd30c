//! The bench crate's load generator on its own, pinned to one core:
//!
//! ```text
//! cargo run --release -p bench --example loadgen -- ADDRESS [--connections N]
//!     [--rate REQ_PER_S (open loop; omit for closed loop)] [--seconds S] [--body-bytes B]
//!     [--core C]
//! ```
//!
//! Prints throughput and latency percentiles (from the scheduled send time in open loop).

use std::time::Duration;

use bench::loadgen::{self, LoadSpec, Pacing};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse::<f64>()
                    .unwrap_or_else(|_| panic!("{name} takes a number"))
            })
    };
    let Some(address) = args.first().and_then(|a| a.parse().ok()) else {
        eprintln!("usage: loadgen ADDRESS [--connections N] [--rate R] [--seconds S] [--body-bytes B] [--core C]");
        std::process::exit(2);
    };
    if let Some(core) = flag("--core") {
        core_affinity::set_for_current(core_affinity::CoreId { id: core as usize });
    }
    let spec = LoadSpec {
        address,
        connections: flag("--connections").unwrap_or(64.0) as usize,
        request: bench::corpus::post(&bench::corpus::json_payload(
            flag("--body-bytes").unwrap_or(256.0) as usize,
        )),
        pacing: match flag("--rate") {
            Some(rate) => Pacing::OpenLoop { rate },
            None => Pacing::ClosedLoop,
        },
        duration: Duration::from_secs_f64(flag("--seconds").unwrap_or(5.0)),
        warmup: Duration::from_secs(1),
    };
    let result = loadgen::run(&spec);
    let latency = result.latency();
    println!(
        "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms, {} non-2xx, {} errors, {} requests",
        result.throughput(),
        latency.p50_ms,
        latency.p99_ms,
        latency.p999_ms,
        latency.max_ms,
        result.non_2xx,
        result.errors,
        result.requests
    );
}

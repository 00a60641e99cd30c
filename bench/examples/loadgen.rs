//! The bench crate's load generator on its own, pinned to one core:
//!
//! ```text
//! cargo run --release -p bench --example loadgen -- ADDRESS [--connections N]
//!     [--rate REQ_PER_S (open loop; omit for closed loop)] [--seconds S] [--body-bytes B]
//!     [--core C] [--tls-ca PEM [--server-name NAME] [--no-resumption]]
//!     [--new-connection-per-request]
//! ```
//!
//! Prints throughput and latency percentiles (from the scheduled send time in open loop),
//! and over TLS the handshakes by kind.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bench::loadgen::{self, LoadSpec, Pacing, Resumption, Reuse, Tls};
use clap::Parser;

/// Offers `POST /` with a JSON body to a gateway and prints what came back.
#[derive(Debug, Parser)]
#[command(name = "loadgen")]
struct Args {
    /// The gateway's address, e.g. 127.0.0.1:8081.
    address: SocketAddr,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Open loop at this many requests per second in total; omit for a closed loop.
    #[arg(long, value_name = "REQ_PER_S")]
    rate: Option<f64>,
    /// Seconds measured, after one second of warm-up.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Bytes of each request's JSON body.
    #[arg(long, default_value_t = 256)]
    body_bytes: usize,
    /// Pin the generator to this core.
    #[arg(long)]
    core: Option<usize>,
    /// Speak HTTPS, trusting the certificates of this PEM file: the server's CA, or the
    /// certificate of a gateway started with --tls-self-signed (its log names the file).
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// With --tls-ca: the name the server's certificate must carry.
    #[arg(long, default_value = "localhost", requires = "tls_ca")]
    server_name: String,
    /// With --tls-ca: no session store, so every handshake is full (by default every
    /// connection shares one store and resumes).
    #[arg(long, requires = "tls_ca")]
    no_resumption: bool,
    /// Connect (and handshake), send one request, close; instead of keep-alive.
    #[arg(long)]
    new_connection_per_request: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(core) = args.core {
        core_affinity::set_for_current(core_affinity::CoreId { id: core });
    }
    let resumption = if args.no_resumption {
        Resumption::Off
    } else {
        Resumption::On
    };
    let tls = args
        .tls_ca
        .as_deref()
        .map(|pem| Tls::trusting_pem_file(pem, &args.server_name, resumption))
        .transpose()
        .context("cannot set up HTTPS")?;
    let spec = LoadSpec {
        warmup: Duration::from_secs(1),
        tls,
        reuse: if args.new_connection_per_request {
            Reuse::NewConnectionPerRequest
        } else {
            Reuse::KeepAlive
        },
        ..LoadSpec::keep_alive(
            args.address,
            args.connections,
            bench::corpus::post(&bench::corpus::json_payload(args.body_bytes)),
            match args.rate {
                Some(rate) => Pacing::OpenLoop { rate },
                None => Pacing::ClosedLoop,
            },
            Duration::from_secs_f64(args.seconds),
        )
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
    if let Some(negotiated) = &result.negotiated {
        println!(
            "{:.0} handshakes/s: {} full, {} resumed ({negotiated})",
            result.handshakes_per_second(),
            result.handshakes.full,
            result.handshakes.resumed
        );
    }
    Ok(())
}

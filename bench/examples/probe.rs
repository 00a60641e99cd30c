//! Probes of gateway binaries given by path (issue 16): memory under slow readers,
//! memory of idle connections, readiness after a paused broker. One Markdown table row
//! per binary and probe, printed as each is done; progress and failures on stderr.
//!
//! ```text
//! cargo run --release -p bench --example probe -- --all-in target/release
//! cargo run --release -p bench --example probe -- --binary old/runtime-loop \
//!     --binary 'old/runtime-loop --engine epoll' --probe slow-reader --probe idle-buffers
//! ```
//!
//! The binaries run one after the other, each probe on a fresh gateway (and, for
//! readiness, a fresh tansu broker). See bench/README.md.

use std::path::PathBuf;

use anyhow::bail;
use bench::probe::{self, Probe, Row, Settings, Target};
use clap::Parser;

/// Probes gateway binaries one after the other and prints a table row per binary and
/// probe.
#[derive(Debug, Parser)]
#[command(name = "probe")]
struct Args {
    /// A gateway binary with the arguments it always gets, split at whitespace, e.g.
    /// 'target/release/runtime-loop --engine epoll'. Repeatable.
    #[arg(long = "binary", value_name = "PATH [ARG...]")]
    binaries: Vec<String>,
    /// Every server binary in DIR: runtime-hyper, runtime-tokio, runtime-uring,
    /// runtime-loop, and runtime-loop --engine epoll. Repeatable.
    #[arg(long = "all-in", value_name = "DIR")]
    all_in: Vec<PathBuf>,
    /// The probes to run (default: every one). Repeatable.
    #[arg(long = "probe", value_enum)]
    probes: Vec<Probe>,
    /// Slow reader: sockets.
    #[arg(long, default_value_t = Settings::default().slow_sockets)]
    slow_sockets: usize,
    /// Slow reader: pipelined requests per socket.
    #[arg(long, default_value_t = Settings::default().slow_requests)]
    slow_requests: usize,
    /// Slow reader: records per request.
    #[arg(long, default_value_t = Settings::default().slow_records)]
    slow_records: usize,
    /// Idle buffers: connections.
    #[arg(long, default_value_t = Settings::default().idle_connections)]
    idle_connections: usize,
    /// Idle buffers: bytes of each connection's one POST body.
    #[arg(long, default_value_t = Settings::default().idle_body_bytes)]
    idle_body_bytes: usize,
    /// Readiness: seconds to wait for /readyz 200 after the resume before saying never.
    #[arg(long, default_value_t = Settings::default().recovery_cap.as_secs())]
    recovery_cap_s: u64,
}

impl Args {
    fn targets(&self) -> anyhow::Result<Vec<Target>> {
        let mut targets: Vec<Target> = self
            .all_in
            .iter()
            .flat_map(|dir| Target::every_server_in(dir))
            .collect();
        for spec in &self.binaries {
            match Target::parse(spec) {
                Some(target) => targets.push(target),
                None => bail!("--binary {spec:?} names no binary"),
            }
        }
        if targets.is_empty() {
            bail!("nothing to probe: give --binary PATH or --all-in DIR");
        }
        Ok(targets)
    }

    fn settings(&self) -> Settings {
        Settings {
            slow_sockets: self.slow_sockets,
            slow_requests: self.slow_requests,
            slow_records: self.slow_records,
            idle_connections: self.idle_connections,
            idle_body_bytes: self.idle_body_bytes,
            recovery_cap: std::time::Duration::from_secs(self.recovery_cap_s),
            ..Settings::default()
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let targets = args.targets()?;
    let settings = args.settings();
    let probes = if args.probes.is_empty() {
        Probe::ALL.to_vec()
    } else {
        args.probes.clone()
    };
    let headers = Row::HEADERS.map(String::from);
    print!("{}", probe::markdown_line(&headers));
    println!("|{}", "---|".repeat(headers.len()));
    let mut failed = 0;
    for target in &targets {
        for &which in &probes {
            eprintln!("probe: {} on {}", which.name(), target.label());
            let row = match probe::run(which, target, &settings) {
                Ok(row) => row,
                Err(error) => {
                    failed += 1;
                    let row = Row::failed(which, target, &error);
                    eprintln!("probe: failed: {}", row.details);
                    row
                }
            };
            print!("{}", probe::markdown_line(&row.cells()));
        }
    }
    if failed > 0 {
        bail!("{failed} probe(s) failed (their rows say why)");
    }
    Ok(())
}

//! A gateway under test: this bench binary re-executed with `--serve`, pinned to one
//! core with `taskset`, and its CPU time and memory read from `/proc`.

use std::time::Duration;

use e2e::GatewayProcess;

/// Which gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Server {
    /// `runtime-hyper`.
    Hyper,
    /// `runtime-uring`.
    Uring,
}

impl Server {
    /// Both, in the order runs interleave.
    pub const ALL: [Server; 2] = [Server::Hyper, Server::Uring];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hyper => "hyper",
            Self::Uring => "uring",
        }
    }
}

/// If the process was started as `<bench> --serve hyper|uring <gateway flags...>`, runs
/// that gateway until it is signalled and returns true.
pub fn serve_if_asked() -> bool {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("--serve") {
        return false;
    }
    ingest::startup::init_tracing();
    let kind = args.get(2).map(String::as_str);
    let gateway_args = std::iter::once("gateway".to_owned()).chain(args.iter().skip(3).cloned());
    let result = match kind {
        Some("hyper") => {
            ingest::GatewayArgs::parse_from_with(gateway_args, runtime_hyper::DEFAULTS)
                .map_err(anyhow::Error::from)
                .and_then(runtime_hyper::run)
        }
        Some("uring") => {
            ingest::GatewayArgs::parse_from_with(gateway_args, runtime_uring::DEFAULTS)
                .map_err(anyhow::Error::from)
                .and_then(runtime_uring::run)
        }
        other => Err(anyhow::anyhow!(
            "--serve takes hyper or uring, not {other:?}"
        )),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
    true
}

/// A running gateway under test.
#[derive(Debug)]
pub struct ServerUnderTest {
    process: GatewayProcess,
}

impl ServerUnderTest {
    /// Starts `server` pinned to `core` with the given gateway flags.
    pub fn start(server: Server, core: usize, gateway_flags: &[String]) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let core = core.to_string();
        let mut args: Vec<&str> = vec!["-c", &core];
        let exe = exe.to_string_lossy().into_owned();
        args.extend([exe.as_str(), "--serve", server.name()]);
        args.extend(gateway_flags.iter().map(String::as_str));
        let process = GatewayProcess::start("taskset", &args)?;
        Ok(Self { process })
    }

    /// Where it listens.
    pub fn address(&self) -> std::net::SocketAddr {
        self.process.address
    }

    /// CPU time used so far by all its threads (user + system), from
    /// `/proc/PID/task/*/schedstat` (nanoseconds, unlike the 10 ms ticks of `stat`).
    pub fn cpu_time(&self) -> Duration {
        let tasks = format!("/proc/{}/task", self.process.pid());
        let nanos: u64 = std::fs::read_dir(tasks)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
            .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
            .sum();
        Duration::from_nanos(nanos)
    }

    /// Peak resident memory (`VmHWM`) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.process.status_kib("VmHWM")
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) {
        self.process.signal(15);
        let _ = self.process.wait(Duration::from_secs(30));
    }
}

//! A gateway under test: this bench binary re-executed with `--serve`, pinned to one
//! core with `taskset`, and what it used read from `/proc`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use e2e::GatewayProcess;

use crate::Error;

pub use runtime_loop::UringFeature;

/// The features the ablation switches off one at a time: all of `runtime-loop`'s but
/// `CoopTaskrun`, which is only used when `DEFER_TASKRUN` is off. `OwnedSend` off is the
/// arm that isolates the zero-copy transmit (each send copies the response first).
pub const ABLATION: [UringFeature; 8] = [
    UringFeature::MultishotAccept,
    UringFeature::MultishotRecv,
    UringFeature::BufRing,
    UringFeature::Incremental,
    UringFeature::DeferTaskrun,
    UringFeature::SingleIssuer,
    UringFeature::RegisteredFd,
    UringFeature::OwnedSend,
];

/// The `--uring-disable` value of `feature`, as `runtime-loop`'s command line spells it.
pub fn flag(feature: UringFeature) -> String {
    clap::ValueEnum::to_possible_value(&feature)
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default()
}

/// Which gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Server {
    /// `runtime-hyper`: hyper on tokio (epoll).
    Hyper,
    /// `runtime-tokio`: tokio's current-thread runtime, raw TCP, http-conn (epoll).
    Tokio,
    /// `runtime-uring`: tokio-uring, raw TCP, http-conn (io_uring polled from epoll).
    Uring,
    /// `runtime-loop --engine epoll`.
    LoopEpoll,
    /// `runtime-loop --engine io-uring`, every feature on.
    LoopUring,
    /// `runtime-loop --engine io-uring` with one feature switched off (ablation).
    LoopUringWithout(UringFeature),
}

impl Server {
    /// The servers of the main comparison, in the order of the first repetition (later
    /// ones rotate it).
    pub const ALL: [Server; 5] = [
        Server::Hyper,
        Server::Tokio,
        Server::Uring,
        Server::LoopEpoll,
        Server::LoopUring,
    ];

    /// Short name, as `--serve` takes it.
    pub fn name(self) -> String {
        match self {
            Self::Hyper => "hyper".to_owned(),
            Self::Tokio => "tokio".to_owned(),
            Self::Uring => "uring".to_owned(),
            Self::LoopEpoll => "loop-epoll".to_owned(),
            Self::LoopUring => "loop-uring".to_owned(),
            Self::LoopUringWithout(feature) => format!("loop-uring-no-{}", flag(feature)),
        }
    }

    /// What the server is made of, for the report.
    pub fn description(self) -> String {
        match self {
            Self::Hyper => "hyper 1.x on a tokio multi-thread runtime with one worker (epoll)".to_owned(),
            Self::Tokio => "tokio current-thread runtime per core, raw TCP, http-conn + http-parse (epoll)".to_owned(),
            Self::Uring => "tokio-uring runtime per core (io_uring, waited on through epoll), raw TCP, http-conn + http-parse".to_owned(),
            Self::LoopEpoll => "own thread-per-core loop, no async runtime, edge-triggered epoll, http-conn + http-parse".to_owned(),
            Self::LoopUring => "own thread-per-core loop, no async runtime, io_uring with every feature on, http-conn + http-parse".to_owned(),
            Self::LoopUringWithout(feature) => {
                format!("loop-uring with {} switched off", flag(feature))
            }
        }
    }

    /// Every server `--serve` accepts: the comparison's and the ablation arms.
    fn every() -> impl Iterator<Item = Server> {
        Self::ALL
            .into_iter()
            .chain(ABLATION.map(Self::LoopUringWithout))
    }

    fn run(self, args: Vec<String>) -> anyhow::Result<()> {
        let own_loop = |extra: &[&str]| {
            let mut all = vec![args[0].clone()];
            all.extend(extra.iter().map(|s| (*s).to_owned()));
            all.extend(args.iter().skip(1).cloned());
            runtime_loop::run(runtime_loop::LoopArgs::parse_from(all)?)
        };
        match self {
            Self::Hyper => runtime_hyper::run(gateway_cli::GatewayArgs::parse_from_with(
                args,
                runtime_hyper::DEFAULTS,
            )?),
            Self::Tokio => runtime_tokio::run(gateway_cli::GatewayArgs::parse_from_with(
                args,
                runtime_tokio::DEFAULTS,
            )?),
            Self::Uring => runtime_uring::run(runtime_uring::UringArgs::parse_from(args)?),
            Self::LoopEpoll => own_loop(&["--engine", "epoll"]),
            Self::LoopUring => own_loop(&["--engine", "io-uring"]),
            Self::LoopUringWithout(feature) => {
                own_loop(&["--engine", "io-uring", "--uring-disable", &flag(feature)])
            }
        }
    }
}

/// If the process was started as `<bench> --serve NAME <gateway flags...>`, runs that
/// gateway until it is signalled and returns true.
pub fn serve_if_asked() -> bool {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("--serve") {
        return false;
    }
    gateway_cli::init_tracing();
    let name = args.get(2).cloned().unwrap_or_default();
    let gateway_args = std::iter::once("gateway".to_owned())
        .chain(args.iter().skip(3).cloned())
        .collect();
    let result = match Server::every().find(|s| s.name() == name) {
        Some(server) => server.run(gateway_args),
        None => Err(anyhow::anyhow!(
            "--serve takes one of {:?}, not {name:?}",
            Server::every().map(Server::name).collect::<Vec<_>>()
        )),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
    true
}

/// What a server process used so far, all threads together.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// CPU time from `/proc/PID/task/*/schedstat` (nanosecond resolution).
    pub cpu: Duration,
    /// User time from `/proc/PID/stat` (clock ticks).
    pub user: Duration,
    /// Kernel time from `/proc/PID/stat` (clock ticks).
    pub system: Duration,
    /// Voluntary plus involuntary context switches of every thread.
    pub context_switches: u64,
}

impl Usage {
    /// What was used between `earlier` and `self`.
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            cpu: self.cpu.saturating_sub(earlier.cpu),
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
            context_switches: self
                .context_switches
                .saturating_sub(earlier.context_switches),
        }
    }
}

/// Clock ticks per second of `/proc/PID/stat` (`USER_HZ`): 100 on every Linux ABI
/// this runs on.
const USER_HZ: u64 = 100;

/// `utime` and `stime` (fields 14 and 15) of a `/proc/PID/stat` line.
fn user_and_system(stat: &str) -> Option<(Duration, Duration)> {
    // The command name (field 2) may contain spaces; fields after it follow its ')'.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let mut fields = after_name.split_whitespace().skip(11);
    let ticks = |field: Option<&str>| field?.parse::<u64>().ok();
    let user = ticks(fields.next())?;
    let system = ticks(fields.next())?;
    Some((
        Duration::from_millis(user * 1000 / USER_HZ),
        Duration::from_millis(system * 1000 / USER_HZ),
    ))
}

/// A number field of a `/proc/PID/status` text: `Threads:\t7` is 7, `VmRSS:\t 1234 kB`
/// is 1234 (the unit is always kB).
pub(crate) fn status_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

/// A running gateway under test.
#[derive(Debug)]
pub struct ServerUnderTest {
    process: GatewayProcess,
    /// The gateway's pid when it runs under a tracer (the child of `strace`).
    traced_pid: Option<u32>,
}

impl ServerUnderTest {
    /// Starts `server` pinned to `core` with the given gateway flags. With `tls` (the
    /// flags then name a certificate), it is ready when `/healthz` answers over HTTPS,
    /// trusting what `tls` trusts.
    pub fn start(
        server: Server,
        core: usize,
        gateway_flags: &[String],
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Self, Error> {
        Self::start_wrapped(server, core, &[], gateway_flags, tls)
    }

    /// Starts `server` under `strace -f -c`, which writes its per-system-call counts
    /// to `output` when the server exits. For the diagnostic pass only: tracing slows
    /// every system call down.
    pub fn start_traced(
        server: Server,
        core: usize,
        gateway_flags: &[String],
        output: &std::path::Path,
    ) -> Result<Self, Error> {
        let output = output.to_string_lossy().into_owned();
        let tracer = ["strace", "-f", "-c", "-o", output.as_str()];
        let mut sut = Self::start_wrapped(server, core, &tracer, gateway_flags, None)?;
        let children = PathBuf::from(format!(
            "/proc/{pid}/task/{pid}/children",
            pid = sut.process.pid()
        ));
        sut.traced_pid = std::fs::read_to_string(&children)
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse().ok());
        if sut.traced_pid.is_none() {
            return Err(Error::NotTraced { children });
        }
        Ok(sut)
    }

    fn start_wrapped(
        server: Server,
        core: usize,
        wrapper: &[&str],
        gateway_flags: &[String],
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Self, Error> {
        let exe = std::env::current_exe().map_err(Error::file("find", "the bench binary"))?;
        let exe = exe.to_string_lossy().into_owned();
        let core = core.to_string();
        let mut args: Vec<&str> = vec!["-c", &core];
        args.extend(wrapper);
        let name = server.name();
        args.extend([exe.as_str(), "--serve", name.as_str()]);
        args.extend(gateway_flags.iter().map(String::as_str));
        let started = match tls {
            Some(trust) => GatewayProcess::start_tls("taskset", &args, trust),
            None => GatewayProcess::start("taskset", &args),
        };
        let process = started.map_err(|log| Error::GatewayStart {
            server: name.clone(),
            log,
        })?;
        Ok(Self {
            process,
            traced_pid: None,
        })
    }

    fn pid(&self) -> u32 {
        self.traced_pid.unwrap_or_else(|| self.process.pid())
    }

    /// Where it listens.
    pub fn address(&self) -> std::net::SocketAddr {
        self.process.address
    }

    /// What the process used so far.
    pub fn usage(&self) -> Usage {
        let pid = self.pid();
        let (user, system) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| user_and_system(&stat))
            .unwrap_or_default();
        let mut usage = Usage {
            user,
            system,
            ..Usage::default()
        };
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten();
        for task in tasks {
            let read = |file: &str| std::fs::read_to_string(task.path().join(file)).ok();
            if let Some(nanos) = read("schedstat")
                .and_then(|line| line.split_whitespace().next()?.parse::<u64>().ok())
            {
                usage.cpu += Duration::from_nanos(nanos);
            }
            if let Some(status) = read("status") {
                usage.context_switches += status_field(&status, "voluntary_ctxt_switches")
                    .unwrap_or(0)
                    + status_field(&status, "nonvoluntary_ctxt_switches").unwrap_or(0);
            }
        }
        usage
    }

    /// Threads the process runs now (workers, librdkafka's, signal handling).
    pub fn threads(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|status| status_field(&status, "Threads"))
            .unwrap_or(0)
    }

    /// Peak resident memory (`VmHWM`) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|status| status_field(&status, "VmHWM"))
            .unwrap_or(0)
    }

    /// SIGTERM to the gateway, then wait for a clean exit (and the tracer's report).
    pub fn stop(mut self) {
        match self.traced_pid {
            Some(pid) => {
                // The gateway, not the tracer: strace would detach and leave it running.
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            None => self.process.signal(15),
        }
        let _ = self.process.wait(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_times_are_read_after_the_command_name() {
        let stat = "4242 (tokio runtime) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0";
        assert_eq!(
            user_and_system(stat),
            Some((Duration::from_millis(2500), Duration::from_millis(750)))
        );
    }

    #[test]
    fn ablation_arms_use_the_loops_own_flag_names() {
        assert_eq!(flag(UringFeature::BufRing), "buf-ring");
        assert_eq!(
            Server::LoopUringWithout(UringFeature::MultishotRecv).name(),
            "loop-uring-no-multishot-recv"
        );
    }

    #[test]
    fn status_fields_parse() {
        let status = "Name:\tx\nVmHWM:\t  20480 kB\nThreads:\t7\nvoluntary_ctxt_switches:\t12\n";
        assert_eq!(status_field(status, "Threads"), Some(7));
        assert_eq!(status_field(status, "VmHWM"), Some(20480));
        assert_eq!(status_field(status, "voluntary_ctxt_switches"), Some(12));
        assert_eq!(status_field(status, "nonvoluntary_ctxt_switches"), None);
    }
}

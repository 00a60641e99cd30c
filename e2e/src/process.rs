//! A gateway binary as a child process on a free loopback port.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Client;

/// A running gateway; killed when dropped.
#[derive(Debug)]
pub struct GatewayProcess {
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
    log: PathBuf,
}

/// Whether a client connected and `/healthz` answered 200.
fn healthy(client: std::io::Result<Client>) -> bool {
    client.is_ok_and(|mut client| {
        client
            .request(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .is_ok_and(|response| response.is_some_and(|response| response.status == 200))
    })
}

/// The address in a gateway's "listening on ADDRESS, ..." start-up line.
fn listening_address(log: &str) -> Option<SocketAddr> {
    let rest = &log[log.find("listening on ")? + "listening on ".len()..];
    rest[..rest.find(',')?].parse().ok()
}

impl GatewayProcess {
    /// Starts `binary` with `args` plus `--listen 127.0.0.1:0`, learns the port the
    /// gateway was given from its "listening on" line, and waits until `/healthz`
    /// answers; or returns the log if it exits or never answers.
    ///
    /// The gateway binds port 0 itself: a port picked here and released for the
    /// gateway to bind could be taken meanwhile by another test's gateway, and with
    /// `SO_REUSEPORT` both would then share it and answer each other's clients.
    pub fn start(binary: &str, args: &[&str]) -> Result<Self, String> {
        Self::start_with(binary, args, |address| healthy(Client::connect(address)))
    }

    /// [`GatewayProcess::start`] for a gateway that speaks HTTPS: `/healthz` is asked
    /// over TLS, trusting what `config` trusts.
    pub fn start_tls(
        binary: &str,
        args: &[&str],
        config: &std::sync::Arc<rustls::ClientConfig>,
    ) -> Result<Self, String> {
        Self::start_with(binary, args, |address| {
            healthy(Client::connect_tls(address, std::sync::Arc::clone(config)))
        })
    }

    /// [`GatewayProcess::start`] that waits only for the "listening on" line and an
    /// accepted TCP connection: for a gateway whose health cannot be asked yet (its
    /// certificate is only known from its log).
    pub fn start_until_listening(binary: &str, args: &[&str]) -> Result<Self, String> {
        Self::start_with(binary, args, |address| TcpStream::connect(address).is_ok())
    }

    fn start_with(
        binary: &str,
        args: &[&str],
        ready: impl Fn(SocketAddr) -> bool,
    ) -> Result<Self, String> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let log = std::env::temp_dir().join(format!(
            "gateway-{}-{}.log",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .envs(crate::gateway_env())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let mut process = Self {
            child,
            address: ([127, 0, 0, 1], 0).into(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = process.child.try_wait() {
                return Err(format!("{binary} exited with {status}:\n{}", process.log()));
            }
            if process.address.port() == 0 {
                if let Some(address) = listening_address(&process.log()) {
                    process.address = address;
                }
            }
            if process.address.port() != 0 && ready(process.address) {
                return Ok(process);
            }
            if Instant::now() > deadline {
                return Err(format!("{binary} never became healthy:\n{}", process.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `binary` with `args` to completion (for start-up failures); returns its exit
    /// status and stderr.
    pub fn run_to_exit(
        binary: &str,
        args: &[&str],
        timeout: Duration,
    ) -> (Option<ExitStatus>, String) {
        let mut child = Command::new(binary)
            .args(args)
            .envs(crate::gateway_env())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status, stderr)
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`).
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // `kill` is the only way to signal a child; std has no API for SIGTERM.
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit, killing it after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `/proc/PID/status` field in KiB, e.g. `VmRSS` or `VmHWM` (peak); 0 if unreadable.
    pub fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Everything the gateway logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_names_the_bound_address() {
        let log = "2026-11-25T21:00:00Z  INFO gateway_cli::startup: listening on 127.0.0.1:40123, \
                   producing to topic t at 127.0.0.1:9092 (Kafka) server=\"hyper\"";
        assert_eq!(listening_address(log), Some(([127, 0, 0, 1], 40123).into()));
        assert_eq!(listening_address("starting"), None);
    }

    #[test]
    fn the_gateway_env_reaches_the_gateway_and_not_this_process() {
        crate::set_gateway_env(&[("GATEWAY_E2E_PROBE", "from-the-suite")]);
        let (status, stderr) = GatewayProcess::run_to_exit(
            "/bin/sh",
            &["-c", "printf %s \"$GATEWAY_E2E_PROBE\" >&2"],
            Duration::from_secs(60),
        );
        assert!(status.expect("exits").success());
        assert_eq!(stderr, "from-the-suite");
        assert_eq!(std::env::var_os("GATEWAY_E2E_PROBE"), None);
    }
}

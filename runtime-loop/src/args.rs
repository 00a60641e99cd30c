//! The command line: the flags every gateway shares ([`GatewayArgs`], flattened) plus
//! the engine, the ring size and the io_uring ablation switches of this server.

use gateway_cli::{Defaults, GatewayArgs, RingArgs};

/// This binary's defaults: port 8083, topic `test_topic_loop`.
pub const DEFAULTS: Defaults = Defaults {
    name: "runtime-loop",
    about: "HTTP-to-Kafka gateway on its own thread-per-core loop (io_uring or epoll), no async runtime",
    listen: "0.0.0.0:8083",
    topic: "test_topic_loop",
};

/// Which kernel interface each worker's loop uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// io_uring: multishot accept and receive, provided buffers, one submit-and-wait per
    /// iteration.
    IoUring,
    /// Edge-triggered epoll with plain read/write system calls: the control.
    Epoll,
}

/// An io_uring feature that `--uring-disable` can switch off, for an ablation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum UringFeature {
    /// Multishot accept; without it, one accept at a time, re-armed per connection.
    MultishotAccept,
    /// Multishot receive; without it, one receive per completion, re-armed each time.
    MultishotRecv,
    /// The provided-buffer ring; without it each connection receives into a buffer of
    /// its own (and receives are single-shot, as multishot needs provided buffers).
    BufRing,
    /// Incremental consumption of provided buffers (`IOU_PBUF_RING_INC`, Linux 6.12+);
    /// without it each receive consumes a whole (smaller) buffer.
    Incremental,
    /// `IORING_SETUP_DEFER_TASKRUN`: completions are processed only when the loop asks.
    DeferTaskrun,
    /// `IORING_SETUP_COOP_TASKRUN` (used when `DEFER_TASKRUN` is off).
    CoopTaskrun,
    /// `IORING_SETUP_SINGLE_ISSUER` (required by `DEFER_TASKRUN`, so disabling it
    /// disables that too).
    SingleIssuer,
    /// The registered ring file descriptor (`IORING_REGISTER_RING_FDS`).
    RegisteredFd,
}

/// Gateway configuration: the shared flags and this server's own.
#[derive(Debug, Clone, clap::Parser)]
pub struct LoopArgs {
    /// The flags every gateway binary shares.
    #[command(flatten)]
    pub gateway: GatewayArgs,
    /// Each worker's ring (io_uring engine).
    #[command(flatten, next_help_heading = "Engine")]
    pub ring: RingArgs,
    /// Kernel interface of the worker loops. io_uring refuses to start (and says so)
    /// where the kernel or a policy forbids it; epoll then serves the same gateway.
    #[arg(long, env = "GATEWAY_ENGINE", value_enum, default_value_t = Engine::IoUring)]
    pub engine: Engine,
    /// io_uring features to switch off, comma-separated (for an ablation).
    #[arg(long, env = "GATEWAY_URING_DISABLE", value_enum, value_delimiter = ',')]
    pub uring_disable: Vec<UringFeature>,
    /// Provided buffers per worker (a power of two, at most 32768).
    #[arg(long, env = "GATEWAY_URING_BUFFERS", default_value_t = 1024, value_parser = power_of_two)]
    pub uring_buffers: u16,
    /// Bytes per provided buffer, and of each connection's receive buffer without the
    /// buffer ring. With incremental consumption each buffer serves many receives.
    #[arg(long, env = "GATEWAY_URING_BUFFER_BYTES", default_value_t = 16 * 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub uring_buffer_bytes: u32,
}

fn power_of_two(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(n) if n.is_power_of_two() && n <= 32768 => Ok(n),
        _ => Err(format!("expected a power of two up to 32768, got `{text}`")),
    }
}

impl LoopArgs {
    /// Parses the process arguments; exits on `--help` or bad flags, as clap does.
    pub fn parse() -> Self {
        DEFAULTS.parse()
    }

    /// Parses `args` (first item: program name) with this binary's [`DEFAULTS`].
    ///
    /// # Errors
    ///
    /// A flag clap cannot parse, or `--help`.
    pub fn parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        DEFAULTS.try_parse_from(args)
    }

    /// Whether `feature` is on (not named in `--uring-disable`).
    pub fn uring_has(&self, feature: UringFeature) -> bool {
        !self.uring_disable.contains(&feature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_engine_flags() {
        let args = LoopArgs::parse_from(["runtime-loop"]).unwrap();
        assert_eq!(args.gateway.runtime.listen, "0.0.0.0:8083".parse().unwrap());
        assert_eq!(args.gateway.kafka.topic, "test_topic_loop");
        assert_eq!(args.engine, Engine::IoUring);
        assert!(args.uring_has(UringFeature::BufRing));
        let args = LoopArgs::parse_from([
            "runtime-loop",
            "--engine",
            "epoll",
            "--uring-disable",
            "buf-ring,defer-taskrun",
            "--topic",
            "t",
        ])
        .unwrap();
        assert_eq!(args.engine, Engine::Epoll);
        assert!(!args.uring_has(UringFeature::BufRing));
        assert!(!args.uring_has(UringFeature::DeferTaskrun));
        assert!(args.uring_has(UringFeature::MultishotRecv));
        assert_eq!(args.gateway.kafka.topic, "t");
        assert!(LoopArgs::parse_from(["runtime-loop", "--uring-buffers", "1000"]).is_err());
    }
}

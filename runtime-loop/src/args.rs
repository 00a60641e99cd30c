//! The command line: the flags every gateway shares ([`GatewayArgs`], flattened) plus
//! the engine, the ring size and the io_uring ablation switches of this server.

use std::fmt;

use clap::ValueEnum;
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
///
/// This enum is the one list of the features: `--uring-disable` parses them, and the
/// start-up log and the set-up error print them ([`fmt::Display`]), all by clap's name
/// for the variant.
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
    /// Sends from the buffer the connection hands over; without it each send first
    /// copies the bytes into a buffer of the engine's (what the engine did before the
    /// connection lent its buffers): the arm that isolates the zero-copy transmit.
    OwnedSend,
}

impl fmt::Display for UringFeature {
    /// The name `--uring-disable` takes (`buf-ring`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_possible_value() {
            Some(value) => f.write_str(value.get_name()),
            // Only a `#[value(skip)]` variant has no name, and there is none.
            None => write!(f, "{self:?}"),
        }
    }
}

/// A set of [`UringFeature`]s: those asked for, or those a ring uses.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct UringFeatures(u16);

impl UringFeatures {
    /// Every feature.
    pub(crate) fn all() -> Self {
        UringFeature::value_variants()
            .iter()
            .fold(Self::default(), |set, &feature| set.with(feature, true))
    }

    /// Whether `feature` is in the set.
    pub(crate) fn has(self, feature: UringFeature) -> bool {
        self.0 & Self::bit(feature) != 0
    }

    /// The set with `feature` in it if `on`, else without it.
    pub(crate) fn with(self, feature: UringFeature, on: bool) -> Self {
        if on {
            Self(self.0 | Self::bit(feature))
        } else {
            Self(self.0 & !Self::bit(feature))
        }
    }

    fn bit(feature: UringFeature) -> u16 {
        1 << feature as u16
    }
}

impl fmt::Display for UringFeatures {
    /// The names, comma-separated, in the order of [`UringFeature`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for &feature in UringFeature::value_variants() {
            if self.has(feature) {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                write!(f, "{feature}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for UringFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UringFeatures({self})")
    }
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

    /// The io_uring features asked for: all but those named in `--uring-disable`.
    pub(crate) fn uring_features(&self) -> UringFeatures {
        self.uring_disable
            .iter()
            .fold(UringFeatures::all(), |set, &feature| {
                set.with(feature, false)
            })
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
        assert_eq!(
            args.uring_features(),
            UringFeatures::all()
                .with(UringFeature::BufRing, false)
                .with(UringFeature::DeferTaskrun, false)
        );
    }

    /// The features' names are clap's, so `--uring-disable` takes exactly what the
    /// start-up log prints, and each feature has a bit of its own in the set.
    #[test]
    fn one_list_of_features_parsed_and_printed_alike() {
        let all = UringFeatures::all().to_string();
        assert_eq!(
            all,
            "multishot-accept,multishot-recv,buf-ring,incremental,defer-taskrun,coop-taskrun,\
             single-issuer,registered-fd,owned-send"
        );
        let args = LoopArgs::parse_from(["runtime-loop", "--uring-disable", all.as_str()]).unwrap();
        assert_eq!(args.uring_features(), UringFeatures::default());
        assert_eq!(args.uring_disable, UringFeature::value_variants());
        for &feature in UringFeature::value_variants() {
            let alone = UringFeatures::default().with(feature, true);
            assert_eq!(alone.to_string(), feature.to_string());
            assert!(UringFeature::value_variants()
                .iter()
                .all(|&other| alone.has(other) == (other == feature)));
        }
    }

    /// The README's `--uring-disable` row, a copy for readers, names the same features.
    #[test]
    fn readme_lists_every_feature_and_no_other() {
        let readme = include_str!("../README.md");
        let row = readme
            .lines()
            .find(|line| line.starts_with("| `--uring-disable"))
            .expect("the README has a --uring-disable row");
        let listed = row
            .split_once("switch off:")
            .expect("the row lists the features after `switch off:`")
            .1
            .split('`')
            .skip(1)
            .step_by(2)
            .collect::<Vec<_>>();
        let names = UringFeature::value_variants()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>();
        assert_eq!(listed, names);
    }
}

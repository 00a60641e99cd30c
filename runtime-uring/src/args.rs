//! The command line: the flags every gateway shares ([`GatewayArgs`], flattened) plus
//! the io_uring ring size, which only the io_uring servers have.

use gateway_cli::{Defaults, GatewayArgs, RingArgs};

/// This binary's defaults: port 8081, topic `test_topic_io_uring`.
pub const DEFAULTS: Defaults = Defaults {
    name: "runtime-uring",
    about: "HTTP-to-Kafka gateway on tokio-uring (io_uring)",
    listen: "0.0.0.0:8081",
    topic: "test_topic_io_uring",
};

/// Gateway configuration: the shared flags and this server's own.
#[derive(Debug, Clone, clap::Parser)]
pub struct UringArgs {
    /// The flags every gateway binary shares.
    #[command(flatten)]
    pub gateway: GatewayArgs,
    /// Each worker's ring.
    #[command(flatten, next_help_heading = "io_uring")]
    pub ring: RingArgs,
}

impl UringArgs {
    /// Parses the process arguments with this binary's [`DEFAULTS`]; exits on `--help`
    /// or bad flags, as clap does.
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
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    /// Parses `args` as the binary does, reading no environment variable: the test
    /// must not depend on the shell that runs it.
    fn parse(args: &[&str]) -> UringArgs {
        let command = DEFAULTS
            .apply(UringArgs::command())
            .mut_args(|arg| arg.env(None));
        let program = std::iter::once("runtime-uring");
        let matches = command
            .try_get_matches_from(program.chain(args.iter().copied()))
            .unwrap();
        UringArgs::from_arg_matches(&matches).unwrap()
    }

    #[test]
    fn ring_entries_has_its_default_and_its_flag() {
        let args = parse(&[]);
        assert_eq!(args.ring.ring_entries, RingArgs::DEFAULT_ENTRIES);
        assert_eq!(args.gateway.kafka.topic, DEFAULTS.topic);
        assert_eq!(parse(&["--ring-entries", "64"]).ring.ring_entries, 64);
    }
}

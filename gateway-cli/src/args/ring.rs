//! The io_uring flag, for the servers that have a ring.

/// The size of each worker's io_uring: flattened by the io_uring servers
/// (`runtime-uring`, `runtime-loop`) into their own args, and by no other, so an epoll
/// server does not offer a flag it would ignore. It has no help heading of its own: the
/// field that flattens it names one (`#[command(flatten, next_help_heading = "...")]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct RingArgs {
    /// Submission-queue entries of each worker's io_uring. The kernel refuses more than
    /// 32768; start-up then fails and says so.
    #[arg(long, env = "GATEWAY_RING_ENTRIES", default_value_t = Self::DEFAULT_ENTRIES)]
    pub ring_entries: u32,
}

impl RingArgs {
    /// Submission-queue entries unless `--ring-entries` says otherwise.
    pub const DEFAULT_ENTRIES: u32 = 4096;
}

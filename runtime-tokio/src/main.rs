//! `runtime-tokio`: the gateway on tokio's current-thread runtime (epoll), one per
//! worker thread. `--help` lists every flag.

fn main() -> anyhow::Result<()> {
    ingest::startup::init_tracing();
    let args = ingest::GatewayArgs::parse_with(runtime_tokio::DEFAULTS);
    runtime_tokio::run(args)
}

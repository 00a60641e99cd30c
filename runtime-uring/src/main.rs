//! `runtime-uring`: the gateway on tokio-uring (io_uring). `--help` lists every flag.

fn main() -> anyhow::Result<()> {
    ingest::startup::init_tracing();
    let args = ingest::GatewayArgs::parse_with(runtime_uring::DEFAULTS);
    runtime_uring::run(args)
}

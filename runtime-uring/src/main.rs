//! `runtime-uring`: the gateway on tokio-uring (io_uring). `--help` lists every flag.

fn main() -> anyhow::Result<()> {
    gateway_cli::init_tracing();
    let args = gateway_cli::GatewayArgs::parse_with(runtime_uring::DEFAULTS);
    runtime_uring::run(args)
}

//! `runtime-tokio`: the gateway on tokio's current-thread runtime (epoll), one per
//! worker thread. `--help` lists every flag.

fn main() -> anyhow::Result<()> {
    gateway_cli::init_tracing();
    let args = gateway_cli::GatewayArgs::parse_with(runtime_tokio::DEFAULTS);
    runtime_tokio::run(args)
}

//! `runtime-hyper`: the gateway on hyper 1.x and tokio. `--help` lists every flag.

fn main() -> anyhow::Result<()> {
    gateway_cli::init_tracing();
    let args = gateway_cli::GatewayArgs::parse_with(runtime_hyper::DEFAULTS);
    runtime_hyper::run(args)
}

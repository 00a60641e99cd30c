//! `runtime-uring`: the gateway on tokio-uring (io_uring). `--help` lists every flag.

fn main() -> anyhow::Result<()> {
    gateway_cli::init_tracing();
    runtime_uring::run(runtime_uring::UringArgs::parse())
}

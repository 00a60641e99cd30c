//! `runtime-loop`: the gateway on its own thread-per-core loop. `--help` lists every flag.

fn main() -> anyhow::Result<()> {
    gateway_cli::init_tracing();
    runtime_loop::run(runtime_loop::LoopArgs::parse())
}

//! The comparison run of the main job: every server, null sink and Kafka, interleaved
//! and repeated; writes `target/bench-report/` and prints the summary. Named so that
//! cargo, which runs bench targets in name order, runs it after `batch`, `parse` and
//! `sink`: the report then includes their figures from this run.
//!
//! `cargo bench -p bench --bench whole_path` (add `-- --quick` for the CI-sized run).
//! The same binary is re-executed with `--serve` as the server under test.

use std::path::PathBuf;

use bench::compare::{self, Plan};
use bench::{report, server};
use indicatif::{ProgressBar, ProgressStyle};

fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // The bench binary lives in <target>/<profile>/deps/.
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target"))
}

fn main() {
    if server::serve_if_asked() {
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    // cargo passes --bench; criterion-style filters for other targets are ignored.
    let quick = args.iter().any(|a| a == "--quick" || a == "--test");
    let plan = if quick { Plan::quick() } else { Plan::full() };
    if !core_affinity::set_for_current(core_affinity::CoreId {
        id: plan.client_core,
    }) {
        eprintln!(
            "warning: could not pin the load generator to core {}",
            plan.client_core
        );
    }
    let progress = ProgressBar::new(plan.steps()).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    progress.set_message("starting");
    let results = compare::run(&plan, |step| {
        progress.inc(1);
        progress.set_message(step.to_owned());
    })
    .unwrap_or_else(|error| {
        progress.abandon();
        eprintln!("comparison run failed: {:#}", anyhow::Error::from(error));
        std::process::exit(1);
    });
    progress.finish_with_message("done");
    let target = target_dir();
    match report::write(&results, &target) {
        Ok(summary) => {
            println!("\n{summary}");
            println!(
                "Report: {}",
                target.join("bench-report/index.html").display()
            );
        }
        Err(error) => {
            eprintln!("cannot write the report: {:#}", anyhow::Error::from(error));
            std::process::exit(1);
        }
    }
}

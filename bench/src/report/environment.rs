//! What the run ran on and how: kernel, CPU, pinning, versions, load shape.

use crate::compare::Results;

/// One line per fact about the machine and the run.
pub(crate) fn describe(results: &Results) -> Vec<String> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    // Counted from /proc: available_parallelism() sees only the pinned core.
    let cores = read("/proc/cpuinfo")
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let lock = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"));
    let version = |name: &str| {
        lock.split("[[package]]")
            .find(|block| block.contains(&format!("name = \"{name}\"\n")))
            .and_then(|block| block.lines().find_map(|l| l.strip_prefix("version = ")))
            .map_or("?".to_owned(), |v| v.trim_matches('"').to_owned())
    };
    let plan = &results.plan;
    let negotiated = results
        .samples
        .iter()
        .filter_map(|s| s.negotiated.as_deref())
        .chain(
            results
                .handshakes
                .iter()
                .filter_map(|h| h.negotiated.as_deref()),
        )
        .next();
    let mut lines = vec![
        format!(
            "Kernel {}, CPU {cpu}, {cores} cores.",
            read("/proc/sys/kernel/osrelease").trim()
        ),
        format!(
            "Each server pinned to core {} with one worker thread (its librdkafka threads share \
             that core); load generator and broker on core {}.",
            plan.server_core, plan.client_core
        ),
        format!(
            "{rustc}; hyper {}, tokio {}, tokio-uring {}, rdkafka {} (librdkafka {}), httparse {}.",
            version("hyper"),
            version("tokio"),
            version("tokio-uring"),
            version("rdkafka"),
            version("rdkafka-sys").split('+').nth(1).unwrap_or("?"),
            version("httparse"),
        ),
        format!("Broker for the Kafka runs: {}.", results.broker),
        format!(
            "Load: {} keep-alive connections with the null sink, {} with Kafka (a request awaiting \
             its acknowledgement holds its connection), `POST /` with a {}-byte JSON body; {}: \
             {} repetition(s), servers interleaved with the order rotated each repetition; \
             saturation {} s closed loop; open-loop points {} s each after {} s of warm-up, \
             latency from the scheduled send time. Cells are medians [min-max over repetitions]; \
             ratios are computed within each repetition, then summarised.",
            plan.connections,
            plan.kafka_connections,
            plan.payload.len(),
            if plan.quick {
                "QUICK mode, figures are indicative only"
            } else {
                "full run"
            },
            plan.repetitions,
            plan.saturation.as_secs_f64(),
            plan.point.as_secs_f64(),
            plan.warmup.as_secs_f64(),
        ),
        "CPU per request is the server process's CPU time (all threads, schedstat) over the \
         requests answered in the window; user and kernel time come from /proc/PID/stat in 10 ms \
         ticks, so they are coarser than the total; context switches are summed over every \
         thread's voluntary and involuntary switches."
            .to_owned(),
    ];
    if let Some(negotiated) = negotiated {
        lines.push(format!(
            "HTTPS runs: rustls {} with aws-lc-rs in the load generator and in every server \
             (tokio-rustls for hyper, http-conn's TLS layer for the others); a certificate for \
             localhost (ECDSA P-256) signed by a test CA, both made with rcgen for this run; \
             negotiated: {negotiated}. Kernel TLS was not measured.",
            version("rustls")
        ));
    }
    lines
}

//! The comparison report: `summary.md` and `index.html` (tables plus inline SVG charts)
//! in `target/bench-report/`.
//!
//! The data are [`Results`]; [`crate::stats`] summarises repetitions; `environment`
//! says what ran where; `charts` draws; `criterion` reads the layer benches of the same
//! run. This module turns them into one `Document` of sections, which `document`'s
//! Markdown and HTML writers render.

mod charts;
mod criterion;
mod document;
mod environment;
mod tls;

use std::path::Path;

pub(crate) use document::{markdown_row, Table};

use crate::compare::{BatchSample, Group, Load, Results, Sample, SinkMode, Transport};
use crate::server::Server;
use crate::stats::{self, Spread};
use crate::Error;
use document::{Block, Chart, Document, Section};

/// A ratio of CPU per request between two servers that differ in one thing.
#[derive(Debug, Clone, Copy)]
pub struct Effect {
    /// Short name.
    pub name: &'static str,
    /// The one difference the ratio measures.
    pub difference: &'static str,
    /// The server with the change.
    pub changed: Server,
    /// The server without it.
    pub baseline: Server,
}

/// The decomposition: each ratio isolates one difference between two servers.
pub const EFFECTS: &[Effect] = &[
    Effect {
        name: "stack effect",
        difference: "hyper -> http-parse + http-conn on raw TCP, both on tokio and epoll \
                     (hyper runs tokio's multi-thread runtime with one worker, the raw server \
                     a current-thread one)",
        changed: Server::Tokio,
        baseline: Server::Hyper,
    },
    Effect {
        name: "engine effect under tokio",
        difference: "epoll -> io_uring through tokio-uring, the same connection code",
        changed: Server::Uring,
        baseline: Server::Tokio,
    },
    Effect {
        name: "layer effect on io_uring",
        difference: "tokio-uring -> the own loop, both on io_uring",
        changed: Server::LoopUring,
        baseline: Server::Uring,
    },
    Effect {
        name: "layer effect on epoll",
        difference: "tokio -> the own loop, both on epoll",
        changed: Server::LoopEpoll,
        baseline: Server::Tokio,
    },
    Effect {
        name: "engine effect in the own loop",
        difference: "epoll -> io_uring with the loop, buffers and timeouts held fixed",
        changed: Server::LoopUring,
        baseline: Server::LoopEpoll,
    },
    Effect {
        name: "whole distance",
        difference: "hyper -> the own loop on io_uring",
        changed: Server::LoopUring,
        baseline: Server::Hyper,
    },
];

/// The effects whose two servers both ran.
fn effects(results: &Results) -> Vec<Effect> {
    EFFECTS
        .iter()
        .copied()
        .filter(|e| results.plan.servers.contains(&e.changed))
        .filter(|e| results.plan.servers.contains(&e.baseline))
        .collect()
}

/// The samples of one group, transport, server, sink and load (one per repetition).
fn selected(
    results: &Results,
    group: Group,
    transport: Transport,
    server: Server,
    sink: SinkMode,
    load: Load,
) -> impl Iterator<Item = &Sample> + Clone {
    results.samples.iter().filter(move |s| {
        s.group == group
            && s.transport == transport
            && s.server == server
            && s.sink == sink
            && s.load == load
    })
}

/// The main comparison's samples of one server, sink and load.
fn samples(
    results: &Results,
    server: Server,
    sink: SinkMode,
    load: Load,
) -> impl Iterator<Item = &Sample> + Clone {
    selected(results, Group::Main, Transport::Plain, server, sink, load)
}

/// The ratio `metric(changed) / metric(baseline)` of measurements taken in the same
/// repetition (side by side), summarised over the repetitions.
fn within_repetition<'a, T: 'a>(
    changed: impl Iterator<Item = &'a T>,
    baseline: impl Iterator<Item = &'a T>,
    repetition: fn(&T) -> usize,
    metric: impl Fn(&T) -> f64,
) -> Option<Spread> {
    let baseline: Vec<&T> = baseline.collect();
    let ratios = changed
        .filter_map(|changed| {
            let base = baseline
                .iter()
                .find(|b| repetition(b) == repetition(changed))?;
            let denominator = metric(base);
            (denominator > 0.0).then(|| metric(changed) / denominator)
        })
        .collect();
    Spread::of(ratios)
}

/// The repetition of a sample, for [`within_repetition`].
fn repetition(sample: &Sample) -> usize {
    sample.repetition
}

/// `metric` over the repetitions of one server, sink and load.
pub(crate) fn load_spread(
    results: &Results,
    server: Server,
    sink: SinkMode,
    load: Load,
    metric: impl Fn(&Sample) -> f64,
) -> Option<Spread> {
    Spread::of(samples(results, server, sink, load).map(metric).collect())
}

/// The ratio `changed / baseline` of `metric`, taken within each repetition (the two
/// ran side by side), summarised over repetitions.
fn effect_spread(
    results: &Results,
    effect: &Effect,
    sink: SinkMode,
    load: Load,
    metric: fn(&Sample) -> f64,
) -> Option<Spread> {
    within_repetition(
        samples(results, effect.changed, sink, load),
        samples(results, effect.baseline, sink, load),
        repetition,
        metric,
    )
}

/// Open-loop loads in plan order.
pub(crate) fn open_loads(results: &Results) -> Vec<Load> {
    results.plan.open_loads()
}

/// Saturation first, then every open-loop load.
fn all_loads(results: &Results) -> Vec<Load> {
    std::iter::once(Load::Saturation)
        .chain(open_loads(results))
        .collect()
}

/// "10k req/s" or "50% of slowest = 31,000 req/s".
fn load_label(results: &Results, sink: SinkMode, load: Load) -> String {
    match load {
        Load::Fraction(_) => {
            let offered = results
                .samples
                .iter()
                .find(|s| s.sink == sink && s.load == load)
                .and_then(|s| s.offered)
                .unwrap_or(0.0);
            format!("{} = {offered:.0} req/s", load.label())
        }
        _ => load.label(),
    }
}

fn cpu(sample: &Sample) -> f64 {
    sample.cpu_us_per_request
}

/// A CPU-per-request cell; marks points the server could not keep up with.
fn cpu_cell(results: &Results, server: Server, sink: SinkMode, load: Load) -> String {
    cpu_cell_of(samples(results, server, sink, load), load)
}

/// The CPU-per-request cell of `samples` (one load's repetitions), marked when the
/// server answered less than 95% of what an open-loop load offered.
fn cpu_cell_of<'a>(samples: impl Iterator<Item = &'a Sample> + Clone, load: Load) -> String {
    let cell = stats::format(Spread::of(samples.clone().map(cpu).collect()), 2);
    match overloaded(samples, load) {
        Some(note) => format!("{cell} ({note})"),
        None => cell,
    }
}

/// "overloaded: 80% answered" when the median server answered less than 95% of an
/// open-loop load it was offered.
fn overloaded<'a>(samples: impl Iterator<Item = &'a Sample>, load: Load) -> Option<String> {
    let answered = Spread::of(
        samples
            .map(|s| s.throughput / s.offered.unwrap_or(s.throughput).max(1.0))
            .collect(),
    )?;
    (load != Load::Saturation && answered.median < 0.95)
        .then(|| format!("overloaded: {:.0}% answered", answered.median * 100.0))
}

fn servers_table(results: &Results) -> Table {
    let mut table = Table::new(&["server", "what it is", "threads (null sink / Kafka)"]);
    for &server in &results.plan.servers {
        let threads = |sink| {
            results
                .samples
                .iter()
                .filter(|s| s.server == server && s.sink == sink)
                .map(|s| s.threads)
                .max()
                .unwrap_or(0)
        };
        table.rows.push(vec![
            server.name(),
            server.description(),
            format!("{} / {}", threads(SinkMode::Null), threads(SinkMode::Kafka)),
        ]);
    }
    table
}

fn saturation_table(results: &Results) -> Table {
    let mut table = Table::new(&[
        "sink",
        "server",
        "throughput (req/s)",
        "CPU µs/req",
        "user µs/req",
        "kernel µs/req",
        "context switches/req",
        "p99 (ms)",
        "peak RSS (MiB)",
    ]);
    type Metric = (fn(&Sample) -> f64, usize);
    let metrics: [Metric; 7] = [
        (|s| s.throughput, 0),
        (cpu, 2),
        (|s| s.user_us_per_request, 2),
        (|s| s.system_us_per_request, 2),
        (|s| s.context_switches_per_request, 3),
        (|s| s.latency.p99_ms, 2),
        (|s| s.peak_rss_kib as f64 / 1024.0, 1),
    ];
    for sink in SinkMode::ALL {
        for &server in &results.plan.servers {
            let mut row = vec![sink.name().to_owned(), server.name().to_owned()];
            row.extend(metrics.iter().map(|&(metric, decimals)| {
                stats::format(
                    load_spread(results, server, sink, Load::Saturation, metric),
                    decimals,
                )
            }));
            table.rows.push(row);
        }
    }
    table
}

/// One row per load and one column per server, with `cell` deciding each cell.
fn per_server_table(
    results: &Results,
    sink: SinkMode,
    loads: Vec<Load>,
    column: &str,
    cell: impl Fn(Server, Load) -> String,
) -> Table {
    let mut headers = vec!["offered load".to_owned()];
    headers.extend(
        results
            .plan
            .servers
            .iter()
            .map(|s| format!("{} {column}", s.name())),
    );
    let rows = loads
        .into_iter()
        .map(|load| {
            std::iter::once(load_label(results, sink, load))
                .chain(
                    results
                        .plan
                        .servers
                        .iter()
                        .map(|&server| cell(server, load)),
                )
                .collect()
        })
        .collect();
    Table { headers, rows }
}

/// CPU per request of every server at every load of one sink.
fn cpu_table(results: &Results, sink: SinkMode) -> Table {
    per_server_table(
        results,
        sink,
        all_loads(results),
        "CPU µs/req",
        |server, load| cpu_cell(results, server, sink, load),
    )
}

/// User and kernel time and context switches per request, medians.
fn split_table(results: &Results, sink: SinkMode) -> Table {
    let column = "user / kernel µs, switches";
    per_server_table(results, sink, all_loads(results), column, |server, load| {
        let median = |metric: fn(&Sample) -> f64| {
            load_spread(results, server, sink, load, metric).map_or(f64::NAN, |s| s.median)
        };
        format!(
            "{:.2} / {:.2}, {:.3}",
            median(|s| s.user_us_per_request),
            median(|s| s.system_us_per_request),
            median(|s| s.context_switches_per_request),
        )
    })
}

fn latency_table(results: &Results, sink: SinkMode) -> Table {
    let column = "p50 / p99 / p99.9 (ms)";
    per_server_table(
        results,
        sink,
        open_loads(results),
        column,
        |server, load| {
            let median = |metric: fn(&Sample) -> f64| {
                load_spread(results, server, sink, load, metric).map_or(f64::NAN, |s| s.median)
            };
            format!(
                "{:.2} / {:.2} / {:.2}",
                median(|s| s.latency.p50_ms),
                median(|s| s.latency.p99_ms),
                median(|s| s.latency.p999_ms)
            )
        },
    )
}

/// The decomposition: for each effect, the CPU-per-request ratio at every load.
fn effects_table(results: &Results) -> Table {
    let mut headers = vec!["sink".to_owned(), "offered load".to_owned()];
    headers.extend(
        effects(results)
            .iter()
            .map(|e| format!("{} ({} / {})", e.name, e.changed.name(), e.baseline.name())),
    );
    let mut table = Table {
        headers,
        rows: Vec::new(),
    };
    for sink in SinkMode::ALL {
        for load in all_loads(results) {
            let mut row = vec![sink.name().to_owned(), load_label(results, sink, load)];
            row.extend(
                effects(results)
                    .iter()
                    .map(|e| stats::format(effect_spread(results, e, sink, load, cpu), 2)),
            );
            table.rows.push(row);
        }
    }
    table
}

/// The ablation's samples of one arm at one load.
fn ablation_samples(
    results: &Results,
    server: Server,
    load: Load,
) -> impl Iterator<Item = &Sample> + Clone {
    selected(
        results,
        Group::Ablation,
        Transport::Plain,
        server,
        SinkMode::Null,
        load,
    )
}

/// CPU per request of `arm` over the own io_uring loop with every feature on, taken
/// within each repetition.
fn ablation_ratio(results: &Results, arm: Server, load: Load) -> Option<Spread> {
    within_repetition(
        ablation_samples(results, arm, load),
        ablation_samples(results, Server::LoopUring, load),
        repetition,
        cpu,
    )
}

/// The zero-copy transmit, one line per ablation load: the own loop with `OwnedSend`
/// off (each send copies the response first) over the same loop with every feature
/// on. Empty when the ablation did not switch `OwnedSend` off.
fn zero_copy_lines(results: &Results) -> Vec<String> {
    let arm = Server::LoopUringWithout(crate::server::UringFeature::OwnedSend);
    if !results.plan.ablation_arms().contains(&arm) {
        return Vec::new();
    }
    results
        .plan
        .ablation_loads
        .iter()
        .map(|&load| {
            format!(
                "OwnedSend off / all features on, CPU per request, {}: {} (the zero-copy \
                 transmit; above 1, it saves CPU).",
                load.label(),
                stats::format(ablation_ratio(results, arm, load), 2)
            )
        })
        .collect()
}

/// CPU per request of the own io_uring loop with one feature switched off, over the
/// same loop with every feature on, taken within each repetition (above 1: the feature
/// saves CPU).
fn ablation_table(results: &Results) -> Table {
    let loads = &results.plan.ablation_loads;
    let mut headers = vec!["switched off".to_owned()];
    headers.extend(
        loads
            .iter()
            .map(|load| format!("{}: CPU without / with (µs/req without)", load.label())),
    );
    let mut table = Table {
        headers,
        rows: Vec::new(),
    };
    let of = |server: Server, load: Load| ablation_samples(results, server, load);
    let baseline = Server::LoopUring;
    for arm in results.plan.ablation_arms().into_iter().skip(1) {
        let mut row = vec![arm.name()];
        for &load in loads {
            let absolute = Spread::of(of(arm, load).map(cpu).collect());
            row.push(format!(
                "{} ({} µs)",
                stats::format(ablation_ratio(results, arm, load), 2),
                absolute.map_or("n/a".to_owned(), |a| format!("{:.2}", a.median))
            ));
        }
        table.rows.push(row);
    }
    let mut all_on = vec![format!("nothing ({} itself)", baseline.name())];
    all_on.extend(loads.iter().map(|&load| {
        let absolute = Spread::of(of(baseline, load).map(cpu).collect());
        format!("1 ({} µs)", stats::format(absolute, 2))
    }));
    table.rows.push(all_on);
    table
}

fn batch_spread(
    results: &Results,
    server: Server,
    sink: SinkMode,
    records: usize,
    metric: fn(&BatchSample) -> f64,
) -> Option<Spread> {
    Spread::of(
        results
            .batches
            .iter()
            .filter(|b| b.server == server && b.sink == sink && b.records_per_request == records)
            .map(metric)
            .collect(),
    )
}

/// Records per server CPU-second at each batch size, and how much the CPU per record
/// fell from the smallest to each larger batch.
fn batch_table(results: &Results) -> Table {
    let sizes = &results.plan.batch_sizes;
    let mut headers = vec!["sink".to_owned(), "server".to_owned()];
    headers.extend(
        sizes
            .iter()
            .map(|n| format!("{n} per request: records/CPU-s (records/s)")),
    );
    if let (Some(first), Some(_)) = (sizes.first(), sizes.get(1)) {
        headers.extend(
            sizes[1..]
                .iter()
                .map(|n| format!("CPU/record {first} / {n}")),
        );
    }
    let mut table = Table {
        headers,
        rows: Vec::new(),
    };
    for sink in SinkMode::ALL {
        for &server in &results.plan.batch_servers {
            let mut row = vec![sink.name().to_owned(), server.name()];
            for &n in sizes {
                let per_cpu = batch_spread(results, server, sink, n, |b| b.records_per_cpu_second);
                let rate = batch_spread(results, server, sink, n, |b| b.records_per_second);
                row.push(format!(
                    "{} ({})",
                    stats::format(per_cpu, 0),
                    rate.map_or("n/a".to_owned(), |r| format!("{:.0}", r.median))
                ));
            }
            if let Some(&first) = sizes.first() {
                let base = batch_spread(results, server, sink, first, |b| b.cpu_us_per_record);
                for &n in &sizes[1..] {
                    let at = batch_spread(results, server, sink, n, |b| b.cpu_us_per_record);
                    row.push(match (base, at) {
                        (Some(base), Some(at)) if at.median > 0.0 => {
                            format!("{:.1}x", base.median / at.median)
                        }
                        _ => "n/a".to_owned(),
                    });
                }
            }
            table.rows.push(row);
        }
    }
    table
}

fn syscalls_table(results: &Results) -> Table {
    let mut table = Table::new(&[
        "sink",
        "server",
        "requests traced",
        "system calls/req",
        "by call (per request)",
    ]);
    for profile in &results.syscalls {
        let total: f64 = profile.per_request.values().sum();
        let mut calls: Vec<(&String, &f64)> = profile.per_request.iter().collect();
        calls.sort_by(|a, b| b.1.total_cmp(a.1));
        let by_call = calls
            .iter()
            .filter(|(_, &per)| per >= 0.005)
            .map(|(name, per)| format!("{name} {per:.2}"))
            .collect::<Vec<_>>()
            .join(", ");
        table.rows.push(vec![
            profile.sink.name().to_owned(),
            profile.server.name().to_owned(),
            profile.requests.to_string(),
            format!("{total:.2}"),
            by_call,
        ]);
    }
    table
}

fn errors_table(results: &Results) -> Table {
    let mut table = Table::new(&["server", "sink", "non-2xx answers", "connection errors"]);
    for &server in &results.plan.servers {
        for sink in SinkMode::ALL {
            let of = |f: fn(&Sample) -> u64| -> u64 {
                results
                    .samples
                    .iter()
                    .filter(|s| s.server == server && s.sink == sink)
                    .map(f)
                    .sum()
            };
            let batch = |f: fn(&BatchSample) -> u64| -> u64 {
                results
                    .batches
                    .iter()
                    .filter(|b| b.server == server && b.sink == sink)
                    .map(f)
                    .sum()
            };
            let handshake = |f: fn(&crate::compare::HandshakeSample) -> u64| -> u64 {
                let null_sink = sink == SinkMode::Null;
                results
                    .handshakes
                    .iter()
                    .filter(|h| null_sink && h.server == server)
                    .map(f)
                    .sum()
            };
            table.rows.push(vec![
                server.name(),
                sink.name().to_owned(),
                (of(|s| s.non_2xx) + batch(|b| b.non_2xx) + handshake(|h| h.non_2xx)).to_string(),
                (of(|s| s.errors) + batch(|b| b.errors) + handshake(|h| h.errors)).to_string(),
            ]);
        }
    }
    table
}

/// The headline: every effect at every load, per sink, in one line each.
fn findings(results: &Results) -> Vec<String> {
    let mut lines = Vec::new();
    for effect in effects(results) {
        for sink in SinkMode::ALL {
            let at_loads = all_loads(results)
                .into_iter()
                .map(|load| {
                    format!(
                        "{} {}",
                        load_label(results, sink, load),
                        stats::format(effect_spread(results, &effect, sink, load, cpu), 2)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            lines.push(format!(
                "{} ({}), CPU per request, {}: {at_loads}.",
                effect.name,
                effect.difference,
                sink.name(),
            ));
        }
    }
    lines
}

/// A drawn chart, or a visible note saying why it could not be drawn (also printed).
fn chart_or_note(name: String, chart: anyhow::Result<String>) -> Chart {
    chart.map_or_else(
        |error| {
            eprintln!("warning: chart {name:?} could not be drawn: {error:#}");
            Chart::Failed {
                name,
                error: format!("{error:#}"),
            }
        },
        Chart::Drawn,
    )
}

/// CPU per request and p99 latency against the offered load, for each sink.
fn charts(results: &Results) -> Vec<Chart> {
    let mut drawn = Vec::new();
    for sink in SinkMode::ALL {
        drawn.push(chart_or_note(
            format!("CPU per request ({})", sink.name()),
            charts::against_load(results, sink, "server CPU per request", "µs", cpu),
        ));
        drawn.push(chart_or_note(
            format!("p99 latency ({})", sink.name()),
            charts::against_load(results, sink, "p99 latency", "ms", |s| s.latency.p99_ms),
        ));
    }
    drawn
}

/// The report: every section once, in order, for both writers.
fn document(results: &Results, target: &Path) -> Document {
    let table = |heading: String, table: Table| Section::new(heading, vec![Block::Table(table)]);
    let mut sections = vec![
        Section::untitled(vec![
            Block::Bullets(findings(results)),
            Block::Charts(charts(results)),
        ]),
        Section::new(
            "Environment",
            vec![Block::Bullets(environment::describe(results))],
        ),
        table("Servers".to_owned(), servers_table(results)),
        table(
            "CPU per request ratios: what each difference costs, at every load".to_owned(),
            effects_table(results),
        ),
        table(
            "Saturation (closed loop)".to_owned(),
            saturation_table(results),
        ),
    ];
    for sink in SinkMode::ALL {
        sections.push(table(
            format!("CPU per request at fixed offered loads ({})", sink.name()),
            cpu_table(results, sink),
        ));
        sections.push(table(
            format!("User and kernel time, context switches ({})", sink.name()),
            split_table(results, sink),
        ));
        sections.push(table(
            format!("Latency at fixed offered loads ({})", sink.name()),
            latency_table(results, sink),
        ));
    }
    if !results.batches.is_empty() {
        sections.push(table(
            format!(
                "REST Proxy v2 batches of {}-byte records: records per server CPU-second",
                results.plan.batch_record_bytes
            ),
            batch_table(results),
        ));
    }
    if !results.plan.ablation.is_empty() {
        let mut blocks = vec![Block::Table(ablation_table(results))];
        let zero_copy = zero_copy_lines(results);
        if !zero_copy.is_empty() {
            blocks.push(Block::Bullets(zero_copy));
        }
        sections.push(Section::new(
            "Ablation: the own io_uring loop with one feature off (null sink)",
            blocks,
        ));
    }
    sections.extend(tls::sections(results));
    let syscalls = "System calls per request (strace -f -c, a separate untimed pass)";
    sections.push(match &results.syscalls_skipped {
        None => table(syscalls.to_owned(), syscalls_table(results)),
        Some(why) => {
            eprintln!("system-call pass skipped: {why}");
            Section::new(
                syscalls,
                vec![Block::Paragraph(format!(
                    "System-call pass skipped: {why}."
                ))],
            )
        }
    });
    sections.push(table(
        "Errors (should all be 0)".to_owned(),
        errors_table(results),
    ));
    if let Some(layers) = criterion::table(target) {
        sections.push(table("Layers (criterion, this run)".to_owned(), layers));
    }
    Document {
        title: "HTTP-to-Kafka gateways: CPU per request by layer and engine".to_owned(),
        sections,
    }
}

/// Writes `summary.md` and `index.html` under `<target>/bench-report/` and returns the
/// Markdown summary.
pub fn write(results: &Results, target: &Path) -> Result<String, Error> {
    let dir = target.join("bench-report");
    std::fs::create_dir_all(&dir).map_err(Error::file("create", &dir))?;
    let document = document(results, target);
    let md = document::markdown(&document);
    let html = document::html(&document, "Gateway benchmark");
    for (file, text) in [("summary.md", &md), ("index.html", &html)] {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(Error::file("write", &path))?;
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    //! Synthetic results covering every section of the report.
    use std::collections::BTreeMap;

    use crate::compare::{
        BatchSample, Group, HandshakeSample, Load, Plan, Results, Sample, SinkMode, SyscallProfile,
        Transport,
    };
    use crate::loadgen::{Handshakes, Resumption};
    use crate::server::{Server, UringFeature};

    fn sample(
        server: Server,
        sink: SinkMode,
        repetition: usize,
        load: Load,
        group: Group,
        seed: f64,
    ) -> Sample {
        let offered = match load {
            Load::Saturation => None,
            Load::Rate(rate) => Some(rate),
            Load::Fraction(fraction) => Some(40_000.0 * fraction),
        };
        Sample {
            server,
            sink,
            transport: Transport::Plain,
            repetition,
            group,
            load,
            offered,
            throughput: offered.map_or(40_000.0 + seed * 1000.0, |o| o * (0.9 + seed / 100.0)),
            latency: crate::loadgen::Latency {
                p50_ms: 0.1 * seed,
                p90_ms: 0.2 * seed,
                p99_ms: 0.3 * seed,
                p999_ms: 0.4 * seed,
                max_ms: 0.5 * seed,
            },
            cpu_us_per_request: 10.0 + seed,
            user_us_per_request: 4.0 + seed / 2.0,
            system_us_per_request: 6.0 + seed / 2.0,
            context_switches_per_request: 0.01 * seed,
            cpu_utilisation: 0.5,
            peak_rss_kib: 10_240 + seed as u64 * 100,
            threads: 3 + seed as u64 % 3,
            non_2xx: seed as u64 % 2,
            errors: 0,
            negotiated: None,
        }
    }

    /// CPU per request with TLS of the HTTPS phase's samples (plaintext: 10 µs for
    /// every server): loop-uring is 1.2x its plaintext and 0.4x hyper, loop-epoll 1.4x
    /// its plaintext (missing the target) and 0.47x hyper.
    fn tls_cpu(server: Server) -> f64 {
        match server {
            Server::Hyper => 30.0,
            Server::LoopUring => 12.0,
            Server::LoopEpoll => 14.0,
            _ => 20.0,
        }
    }

    pub(crate) fn results() -> Results {
        let plan = Plan {
            repetitions: 2,
            rates: vec![10_000.0, 25_000.0],
            ablation: vec![UringFeature::BufRing, UringFeature::OwnedSend],
            ablation_repetitions: 2,
            tls_repetitions: 2,
            handshake_repetitions: 2,
            external_brokers: None,
            ..Plan::quick()
        };
        let mut samples = Vec::new();
        let mut loads = vec![Load::Saturation];
        loads.extend(plan.open_loads());
        for repetition in 0..plan.repetitions {
            for (s, sink) in SinkMode::ALL.into_iter().enumerate() {
                for (i, &server) in plan.servers.iter().enumerate() {
                    for (l, &load) in loads.iter().enumerate() {
                        let seed = (repetition * 7 + s * 5 + i * 3 + l) as f64;
                        samples.push(sample(server, sink, repetition, load, Group::Main, seed));
                    }
                }
            }
        }
        for repetition in 0..plan.ablation_repetitions {
            for (i, server) in plan.ablation_arms().into_iter().enumerate() {
                for (l, &load) in plan.ablation_loads.iter().enumerate() {
                    let seed = (repetition * 3 + i * 2 + l) as f64 + 0.5;
                    let group = Group::Ablation;
                    samples.push(sample(
                        server,
                        SinkMode::Null,
                        repetition,
                        load,
                        group,
                        seed,
                    ));
                }
            }
        }
        let mut handshakes = Vec::new();
        for repetition in 0..plan.tls_repetitions {
            for &server in &plan.servers {
                for load in plan.tls_loads() {
                    for (transport, cpu) in
                        [(Transport::Plain, 10.0), (Transport::Tls, tls_cpu(server))]
                    {
                        samples.push(Sample {
                            transport,
                            cpu_us_per_request: cpu,
                            // Every offered request answered: no cell is marked overloaded.
                            throughput: match load {
                                Load::Rate(rate) => rate,
                                _ => 40_000.0,
                            },
                            negotiated: (transport == Transport::Tls).then(|| {
                                "TLSv1_3, TLS13_AES_256_GCM_SHA384, X25519MLKEM768".to_owned()
                            }),
                            ..sample(server, SinkMode::Null, repetition, load, Group::Tls, 1.0)
                        });
                    }
                }
            }
        }
        for repetition in 0..plan.handshake_repetitions {
            for (i, &server) in plan.servers.iter().enumerate() {
                for resumption in Resumption::ALL {
                    let cpu_us = match resumption {
                        Resumption::On => 100.0,
                        Resumption::Off => 250.0,
                    } + i as f64;
                    handshakes.push(HandshakeSample {
                        server,
                        repetition,
                        resumption,
                        handshakes: match resumption {
                            Resumption::On => Handshakes {
                                full: 16,
                                resumed: 9000,
                            },
                            Resumption::Off => Handshakes {
                                full: 4000,
                                resumed: 0,
                            },
                        },
                        handshakes_per_second: 4000.0,
                        handshakes_per_cpu_second: 1e6 / cpu_us,
                        cpu_us_per_handshake: cpu_us,
                        cpu_utilisation: 0.8,
                        non_2xx: 0,
                        errors: 0,
                        negotiated: None,
                    });
                }
            }
        }
        let mut batches = Vec::new();
        for repetition in 0..plan.batch_repetitions {
            for (s, sink) in SinkMode::ALL.into_iter().enumerate() {
                for (i, &server) in plan.batch_servers.iter().enumerate() {
                    for &records in &plan.batch_sizes {
                        let seed = (repetition + s * 2 + i * 3) as f64 + 1.0;
                        batches.push(BatchSample {
                            server,
                            sink,
                            repetition,
                            records_per_request: records,
                            records_per_second: 1000.0 * records as f64 * seed,
                            records_per_cpu_second: 2000.0 * records as f64 * seed,
                            cpu_us_per_record: 50.0 / (records as f64 * seed),
                            non_2xx: 0,
                            errors: u64::from(i == 1),
                        });
                    }
                }
            }
        }
        let syscalls = vec![SyscallProfile {
            server: Server::LoopUring,
            sink: SinkMode::Null,
            requests: 10_000,
            per_request: BTreeMap::from([
                ("io_uring_enter".to_owned(), 0.5),
                ("write".to_owned(), 0.001),
                ("epoll_wait".to_owned(), 0.25),
            ]),
        }];
        Results {
            plan,
            broker: "embedded librdkafka MockCluster".to_owned(),
            samples,
            batches,
            handshakes,
            syscalls,
            syscalls_skipped: None,
        }
    }

    /// The `## ` headings of a Markdown text, in order.
    fn markdown_headings(md: &str) -> Vec<String> {
        md.lines()
            .filter_map(|line| line.strip_prefix("## "))
            .map(str::to_owned)
            .collect()
    }

    /// The `<h2>` headings of an HTML page, in order, unescaped.
    fn html_headings(html: &str) -> Vec<String> {
        html.split("<h2>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</h2>"))
            .map(|(heading, _)| {
                heading
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            })
            .collect()
    }

    #[test]
    fn both_files_have_every_section_in_the_same_order() {
        let target = std::env::temp_dir().join(format!("report-sections-{}", std::process::id()));
        let md = super::write(&results(), &target).expect("report");
        let html = std::fs::read_to_string(target.join("bench-report/index.html")).expect("page");
        let headings = markdown_headings(&md);
        assert_eq!(headings, html_headings(&html));
        for expected in [
            "Environment",
            "Servers",
            "Saturation (closed loop)",
            "Latency at fixed offered loads (Kafka)",
            "REST Proxy v2 batches of 256-byte records: records per server CPU-second",
            "Ablation: the own io_uring loop with one feature off (null sink)",
            "HTTPS (keep-alive, null sink): CPU per request with TLS / without",
            "HTTPS: the own loop over hyper, and its io_uring engine over its epoll engine, \
             all with TLS (CPU per request)",
            "TLS handshakes: a new connection per request (null sink, closed loop, 8 \
             connections)",
            "System calls per request (strace -f -c, a separate untimed pass)",
            "Errors (should all be 0)",
        ] {
            assert!(
                headings.iter().any(|h| h == expected),
                "{expected} in {headings:?}"
            );
        }
        let bullets = md.lines().filter(|line| line.starts_with("- ")).count();
        assert_eq!(bullets, html.matches("<li>").count());
        let rows = md.lines().filter(|line| line.starts_with("| ")).count();
        assert_eq!(rows, html.matches("<tr>").count());
        assert_eq!(html.matches("<svg").count(), 4, "two charts per sink");
        assert_eq!(
            std::fs::read_to_string(target.join("bench-report/summary.md")).unwrap(),
            md
        );
        let _ = std::fs::remove_dir_all(target);
    }

    #[test]
    fn a_skipped_system_call_pass_says_why_in_its_section() {
        let target = std::env::temp_dir().join(format!("report-skipped-{}", std::process::id()));
        let mut results = results();
        results.syscalls.clear();
        results.syscalls_skipped = Some("strace is not installed".to_owned());
        let md = super::write(&results, &target).expect("report");
        let html = std::fs::read_to_string(target.join("bench-report/index.html")).expect("page");
        assert!(md.contains(
            "## System calls per request (strace -f -c, a separate untimed pass)\n\n\
             System-call pass skipped: strace is not installed.\n"
        ));
        assert!(html.contains(
            "<h2>System calls per request (strace -f -c, a separate untimed pass)</h2>\
             <p>System-call pass skipped: strace is not installed.</p>"
        ));
        let _ = std::fs::remove_dir_all(target);
    }

    #[test]
    fn latency_columns_are_the_named_percentiles() {
        let results = results();
        let table = super::latency_table(&results, SinkMode::Null);
        let sample = results
            .samples
            .iter()
            .find(|s| {
                s.server == Server::Hyper
                    && s.sink == SinkMode::Null
                    && s.load == Load::Rate(10_000.0)
                    && s.group == Group::Main
            })
            .expect("a hyper sample at 10k");
        let others: Vec<&Sample> = results
            .samples
            .iter()
            .filter(|s| {
                s.server == sample.server
                    && s.sink == sample.sink
                    && s.load == sample.load
                    && s.group == Group::Main
            })
            .collect();
        let median = |metric: fn(&Sample) -> f64| {
            crate::stats::median(others.iter().map(|s| metric(s)).collect())
        };
        let expected = format!(
            "{:.2} / {:.2} / {:.2}",
            median(|s| s.latency.p50_ms),
            median(|s| s.latency.p99_ms),
            median(|s| s.latency.p999_ms)
        );
        assert_eq!(table.rows[0][0], "10k req/s");
        assert_eq!(table.rows[0][1], expected);
    }

    #[test]
    fn the_tls_targets_say_which_engine_meets_which() {
        let md = super::document::markdown(&super::document(&results(), std::path::Path::new("")));
        assert!(
            md.contains(
                "- Target: with TLS, the own loop costs at most 1.3x its own plaintext CPU per \
                 request at 25k req/s: loop-uring 1.20 [1.20-1.20], met; loop-epoll 1.40 \
                 [1.40-1.40], NOT met.\n"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "- Target: with TLS, the own loop costs at most 0.6x hyper's TLS CPU per request \
                 at every load; loop-uring / hyper: saturation 0.40 [0.40-0.40], met; 10k req/s \
                 0.40 [0.40-0.40], met; 25k req/s 0.40 [0.40-0.40], met. Overall: met at every \
                 load.\n"
            ),
            "{md}"
        );
        assert!(md.contains("loop-epoll / hyper: saturation 0.47 [0.47-0.47], met;"));
    }

    #[test]
    fn tls_cells_are_ratios_within_a_repetition_with_the_tls_figure() {
        let results = results();
        let table = super::tls::sections(&results)
            .into_iter()
            .flat_map(|section| section.blocks)
            .find_map(|block| match block {
                super::Block::Table(table) => Some(table),
                _ => None,
            })
            .expect("the TLS / plaintext table");
        assert_eq!(table.headers[1], "hyper: TLS / plaintext (TLS µs/req)");
        assert_eq!(table.rows[0][0], "saturation");
        assert_eq!(table.rows[0][1], "3.00 [3.00-3.00] (30.00 [30.00-30.00])");
    }

    #[test]
    fn handshake_rows_give_rates_counts_and_the_resumed_over_full_cost() {
        let results = results();
        let table = super::tls::handshake_table(&results);
        let hyper_on = &table.rows[0];
        assert_eq!(hyper_on[..2], ["hyper", "resumption on"]);
        assert_eq!(hyper_on[3], "10000 [10000-10000]");
        assert_eq!(hyper_on[6], "32 / 18000");
        assert_eq!(hyper_on[7], "0.40 [0.40-0.40]");
        let hyper_off = &table.rows[1];
        assert_eq!(hyper_off[..2], ["hyper", "resumption off"]);
        assert_eq!(hyper_off[6], "8000 / 0");
    }

    #[test]
    fn the_zero_copy_transmit_has_one_line_per_ablation_load() {
        let results = results();
        let lines = super::zero_copy_lines(&results);
        assert_eq!(lines.len(), results.plan.ablation_loads.len());
        assert!(
            lines[0].starts_with("OwnedSend off / all features on, CPU per request, 10k req/s: ")
        );
        let without_it = crate::compare::Results {
            plan: Plan {
                ablation: vec![UringFeature::BufRing],
                ..results.plan.clone()
            },
            ..results
        };
        assert!(super::zero_copy_lines(&without_it).is_empty());
    }
}

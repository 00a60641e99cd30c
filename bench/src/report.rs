//! The comparison report: `summary.md` and `index.html` (tables plus inline SVG charts
//! drawn by plotters) in `target/bench-report/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::compare::{median, Results, Sample, SinkMode};
use crate::server::Server;

/// A table rendered both as Markdown and as HTML.
#[derive(Debug, Clone)]
pub struct Table {
    /// Column titles.
    pub headers: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn markdown(&self) -> String {
        let mut out = format!(
            "| {} |\n|{}\n",
            self.headers.join(" | "),
            "---|".repeat(self.headers.len())
        );
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out
    }

    fn html(&self) -> String {
        let mut out = String::from("<table><thead><tr>");
        for header in &self.headers {
            let _ = write!(out, "<th>{}</th>", escape(header));
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for cell in row {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        out
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Median of `metric` over the samples of one server, sink and point.
fn med(
    results: &Results,
    server: Server,
    sink: SinkMode,
    fraction: Option<f64>,
    metric: impl Fn(&Sample) -> f64,
) -> f64 {
    median(
        results
            .samples
            .iter()
            .filter(|s| s.server == server && s.sink == sink && s.fraction == fraction)
            .map(metric)
            .collect(),
    )
}

fn short(sink: SinkMode) -> &'static str {
    match sink {
        SinkMode::Null => "null sink",
        SinkMode::Kafka => "Kafka",
    }
}

fn ratio(uring: f64, hyper: f64) -> String {
    if hyper > 0.0 {
        format!("{:.2}", uring / hyper)
    } else {
        "n/a".to_owned()
    }
}

fn saturation_table(results: &Results) -> Table {
    let mut rows = Vec::new();
    type Metric = (&'static str, fn(&Sample) -> f64, usize);
    let metrics: [Metric; 6] = [
        ("throughput (req/s)", |s| s.throughput, 0),
        ("server CPU per request (µs)", |s| s.cpu_us_per_request, 2),
        ("server CPU used (cores)", |s| s.cpu_utilisation, 2),
        ("p50 latency (ms)", |s| s.latency_ms[0], 2),
        ("p99 latency (ms)", |s| s.latency_ms[2], 2),
        ("peak RSS (MiB)", |s| s.peak_rss_kib as f64 / 1024.0, 1),
    ];
    for sink in SinkMode::ALL {
        for (name, metric, decimals) in metrics {
            let hyper = med(results, Server::Hyper, sink, None, metric);
            let uring = med(results, Server::Uring, sink, None, metric);
            rows.push(vec![
                short(sink).to_owned(),
                name.to_owned(),
                format!("{hyper:.decimals$}"),
                format!("{uring:.decimals$}"),
                ratio(uring, hyper),
            ]);
        }
    }
    Table {
        headers: ["sink", "metric", "hyper", "uring", "uring / hyper"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

fn sweep_table(results: &Results) -> Table {
    let mut rows = Vec::new();
    for sink in SinkMode::ALL {
        for &fraction in &results.plan.sweep {
            let at = Some(fraction);
            let offered = med(results, Server::Hyper, sink, at, |s| {
                s.offered.unwrap_or(0.0)
            });
            let p = |server, index: usize| med(results, server, sink, at, |s| s.latency_ms[index]);
            let cpu = |server| med(results, server, sink, at, |s| s.cpu_us_per_request);
            rows.push(vec![
                short(sink).to_owned(),
                format!("{:.0}% = {offered:.0}", fraction * 100.0),
                format!(
                    "{:.2} / {:.2} / {:.2}",
                    p(Server::Hyper, 0),
                    p(Server::Hyper, 2),
                    p(Server::Hyper, 3)
                ),
                format!(
                    "{:.2} / {:.2} / {:.2}",
                    p(Server::Uring, 0),
                    p(Server::Uring, 2),
                    p(Server::Uring, 3)
                ),
                ratio(p(Server::Uring, 2), p(Server::Hyper, 2)),
                format!("{:.1}", cpu(Server::Hyper)),
                format!("{:.1}", cpu(Server::Uring)),
                ratio(cpu(Server::Uring), cpu(Server::Hyper)),
            ]);
        }
    }
    Table {
        headers: [
            "sink",
            "offered (req/s)",
            "hyper p50 / p99 / p99.9 (ms)",
            "uring p50 / p99 / p99.9 (ms)",
            "p99 uring / hyper",
            "hyper CPU µs/req",
            "uring CPU µs/req",
            "CPU uring / hyper",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn errors_table(results: &Results) -> Table {
    let rows = Server::ALL
        .iter()
        .flat_map(|&server| {
            SinkMode::ALL.iter().map(move |&sink| {
                let of = |f: fn(&Sample) -> u64| -> u64 {
                    results
                        .samples
                        .iter()
                        .filter(|s| s.server == server && s.sink == sink)
                        .map(f)
                        .sum()
                };
                vec![
                    server.name().to_owned(),
                    short(sink).to_owned(),
                    of(|s| s.non_2xx).to_string(),
                    of(|s| s.errors).to_string(),
                ]
            })
        })
        .collect();
    Table {
        headers: ["server", "sink", "non-2xx answers", "connection errors"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// One line per sink saying what the saturation run shows.
fn findings(results: &Results) -> Vec<String> {
    SinkMode::ALL
        .iter()
        .map(|&sink| {
            let throughput = |server| med(results, server, sink, None, |s| s.throughput);
            let cpu = |server| med(results, server, sink, None, |s| s.cpu_us_per_request);
            format!(
                "With {}, uring answered {}x hyper's saturation throughput ({:.0} vs {:.0} req/s) \
                 using {}x the server CPU per request ({:.1} vs {:.1} µs).",
                sink.name(),
                ratio(throughput(Server::Uring), throughput(Server::Hyper)),
                throughput(Server::Uring),
                throughput(Server::Hyper),
                ratio(cpu(Server::Uring), cpu(Server::Hyper)),
                cpu(Server::Uring),
                cpu(Server::Hyper),
            )
        })
        .collect()
}

fn environment(results: &Results) -> Vec<String> {
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
    vec![
        format!("Kernel {}, CPU {cpu}, {cores} cores.", read("/proc/sys/kernel/osrelease").trim()),
        format!(
            "Server pinned to core {} (one worker thread; its librdkafka threads share that core); \
             load generator and broker on core {}.",
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
             its acknowledgement holds its connection), `POST /` with a {}-byte JSON body; {} ({} repetition(s), \
             servers interleaved, medians); saturation {} s closed loop; open-loop points {} s each, \
             latency from the scheduled send time.",
            plan.connections,
            plan.kafka_connections,
            plan.payload.len(),
            if plan.quick { "QUICK mode: figures are indicative only" } else { "full run" },
            plan.repetitions,
            plan.saturation.as_secs_f64(),
            plan.sweep_point.as_secs_f64(),
        ),
    ]
}

/// One criterion benchmark's throughput, if its files are there and from this session.
fn criterion_row(group: &str, dir: &Path) -> Option<Vec<String>> {
    let new = dir.join("new");
    // Only figures from this session's run: a stale directory would lie.
    let age = std::fs::metadata(new.join("estimates.json"))
        .ok()?
        .modified()
        .ok()?
        .elapsed()
        .ok()?;
    if age > std::time::Duration::from_secs(3600) {
        return None;
    }
    let read = |file: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(new.join(file)).ok()?).ok()
    };
    let estimates = read("estimates.json")?;
    let benchmark = read("benchmark.json")?;
    let mean_ns = estimates["mean"]["point_estimate"].as_f64()?;
    let elements = benchmark["throughput"]["Elements"].as_f64().unwrap_or(1.0);
    Some(vec![
        group.to_owned(),
        benchmark["function_id"].as_str().unwrap_or("?").to_owned(),
        format!("{:.3}", elements / mean_ns * 1e3),
    ])
}

/// The throughput figures of this run's criterion groups (parse, sink), if present.
/// Criterion keeps one directory per benchmark: `<target>/criterion/<group>/<id>/new/`.
fn criterion_table(target: &Path) -> Option<Table> {
    let mut rows = Vec::new();
    for group in ["parse", "sink"] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(target.join("criterion").join(group))
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .collect();
        dirs.sort();
        rows.extend(dirs.iter().filter_map(|dir| criterion_row(group, dir)));
    }
    (!rows.is_empty()).then(|| Table {
        headers: ["group", "benchmark", "M elements/s"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}

fn latency_chart(results: &Results, sink: SinkMode) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 340)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let points = |server| -> Vec<(f64, f64)> {
            results
                .plan
                .sweep
                .iter()
                .map(|&f| {
                    (
                        med(results, server, sink, Some(f), |s| s.offered.unwrap_or(0.0)),
                        med(results, server, sink, Some(f), |s| s.latency_ms[2]),
                    )
                })
                .collect()
        };
        let all: Vec<(f64, f64)> = Server::ALL.iter().flat_map(|&s| points(s)).collect();
        let x_max = all.iter().map(|p| p.0).fold(1.0, f64::max) * 1.1;
        let y_max = all.iter().map(|p| p.1).fold(0.1, f64::max) * 1.2;
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(
                format!("p99 latency vs offered load ({})", short(sink)),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        else {
            return String::new();
        };
        // Solid light colours rather than opacity: some SVG renderers ignore opacity.
        let _ = chart
            .configure_mesh()
            .x_desc("offered req/s")
            .y_desc("p99 ms")
            .max_light_lines(1)
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw();
        for (server, color) in [(Server::Hyper, BLUE), (Server::Uring, RED)] {
            let series = points(server);
            if let Ok(drawn) =
                chart.draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))
            {
                drawn.label(server.name()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            }
            let _ = chart.draw_series(
                series
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            );
        }
        let _ = chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw();
        let _ = root.present();
    }
    svg
}

fn cpu_chart(results: &Results) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 300)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let mid = results
            .plan
            .sweep
            .get(results.plan.sweep.len() / 2)
            .copied();
        let groups: Vec<(String, SinkMode, Option<f64>)> = SinkMode::ALL
            .iter()
            .flat_map(|&sink| {
                [
                    (format!("{} saturated", short(sink)), sink, None),
                    (
                        format!("{} {:.0}% load", short(sink), mid.unwrap_or(0.0) * 100.0),
                        sink,
                        mid,
                    ),
                ]
            })
            .collect();
        let value = |server, (_, sink, at): &(String, SinkMode, Option<f64>)| {
            med(results, server, *sink, *at, |s| s.cpu_us_per_request)
        };
        let y_max = groups
            .iter()
            .flat_map(|g| Server::ALL.map(|s| value(s, g)))
            .fold(1.0, f64::max)
            * 1.2;
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption("server CPU per request (µs)", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5..groups.len() as f64 - 0.5, 0.0..y_max)
        else {
            return String::new();
        };
        // Group i is centred on x = i, so integer ticks carry its label. Solid light
        // colours rather than opacity: some SVG renderers ignore opacity.
        let labels: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
        let _ = chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .x_labels(groups.len())
            .x_label_formatter(&|x| {
                let nearest = x.round();
                if (x - nearest).abs() < 0.01 && nearest >= 0.0 {
                    labels.get(nearest as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .draw();
        for (offset, server, color) in [(-0.4, Server::Hyper, BLUE), (0.0, Server::Uring, RED)] {
            let bars = groups.iter().enumerate().map(|(i, group)| {
                let x = i as f64 + offset;
                Rectangle::new([(x, 0.0), (x + 0.38, value(server, group))], color.filled())
            });
            if let Ok(drawn) = chart.draw_series(bars) {
                drawn.label(server.name()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
            }
        }
        let _ = chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw();
        let _ = root.present();
    }
    svg
}

/// Writes `summary.md` and `index.html` under `dir` and returns the Markdown summary.
pub fn write(results: &Results, target: &Path) -> std::io::Result<String> {
    let dir = target.join("bench-report");
    std::fs::create_dir_all(&dir)?;
    let environment = environment(results);
    let findings = findings(results);
    let saturation = saturation_table(results);
    let sweep = sweep_table(results);
    let errors = errors_table(results);
    let layers = criterion_table(target);

    let mut md = String::from("# runtime-uring vs runtime-hyper\n\n");
    for line in &findings {
        let _ = writeln!(md, "- {line}");
    }
    md.push_str("\n## Environment\n\n");
    for line in &environment {
        let _ = writeln!(md, "- {line}");
    }
    let _ = write!(
        md,
        "\n## Saturation (closed loop)\n\n{}",
        saturation.markdown()
    );
    let _ = write!(
        md,
        "\n## Fixed offered load (open loop)\n\n{}",
        sweep.markdown()
    );
    let _ = write!(md, "\n## Errors (should all be 0)\n\n{}", errors.markdown());
    if let Some(layers) = &layers {
        let _ = write!(
            md,
            "\n## Layers (criterion, this run)\n\n{}",
            layers.markdown()
        );
    }

    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Gateway benchmark</title><style>\
         body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
         th{background:#f3f3f3}td:first-child,td:nth-child(2){text-align:left}.charts svg{margin:6px}\
         </style></head><body><h1>runtime-uring vs runtime-hyper</h1><ul>",
    );
    for line in &findings {
        let _ = write!(html, "<li>{}</li>", escape(line));
    }
    html.push_str("</ul><div class=\"charts\">");
    html.push_str(&latency_chart(results, SinkMode::Null));
    html.push_str(&latency_chart(results, SinkMode::Kafka));
    html.push_str(&cpu_chart(results));
    html.push_str("</div><h2>Saturation (closed loop)</h2>");
    html.push_str(&saturation.html());
    html.push_str("<h2>Fixed offered load (open loop)</h2>");
    html.push_str(&sweep.html());
    html.push_str("<h2>Errors</h2>");
    html.push_str(&errors.html());
    if let Some(layers) = &layers {
        html.push_str("<h2>Layers (criterion)</h2>");
        html.push_str(&layers.html());
    }
    html.push_str("<h2>Environment</h2><ul>");
    for line in &environment {
        let _ = write!(html, "<li>{}</li>", escape(line));
    }
    html.push_str("</ul></body></html>\n");

    std::fs::write(dir.join("summary.md"), &md)?;
    std::fs::write(dir.join("index.html"), html)?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_table_reads_flattened_benchmark_directories() {
        let target = std::env::temp_dir().join(format!("criterion-table-{}", std::process::id()));
        let new = target.join("criterion/parse/httparse_small_post/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"mean":{"point_estimate":200.0}}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"function_id":"httparse/small_post","throughput":{"Elements":2}}"#,
        )
        .unwrap();
        std::fs::create_dir_all(target.join("criterion/parse/broken/new")).unwrap();
        let table = criterion_table(&target).expect("one readable benchmark");
        assert_eq!(
            table.rows,
            vec![vec![
                "parse".to_owned(),
                "httparse/small_post".to_owned(),
                "10.000".to_owned()
            ]]
        );
        let _ = std::fs::remove_dir_all(target);
    }
}

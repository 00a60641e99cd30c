//! The HTTPS sections: every server's CPU per request with TLS over its plaintext arm
//! of the same repetition, the own loop's against hyper's and its two engines side by
//! side (all with TLS), the targets and whether they are met, and what a new
//! TLS connection per request costs, with resumption and without.

use super::document::{Block, Section, Table};
use super::{cpu, cpu_cell_of, overloaded, repetition, selected, within_repetition};
use crate::compare::{Group, HandshakeSample, Load, Results, Sample, SinkMode, Transport};
use crate::loadgen::Resumption;
use crate::server::Server;
use crate::stats::{self, Spread};

/// The own loop's two engines, which the targets are about.
const OWN_LOOP: [Server; 2] = [Server::LoopUring, Server::LoopEpoll];

/// Target: with TLS, the own loop costs at most this much of its own plaintext CPU per
/// request...
const OVER_PLAIN_LIMIT: f64 = 1.3;
/// ...at this offered load (req/s).
const OVER_PLAIN_RATE: f64 = 25_000.0;
/// Target: with TLS, the own loop costs at most this much of hyper's TLS CPU per
/// request, at every load.
const OVER_HYPER_LIMIT: f64 = 0.6;

/// The HTTPS phase's samples of one transport, server and load (null sink).
fn of(
    results: &Results,
    transport: Transport,
    server: Server,
    load: Load,
) -> impl Iterator<Item = &Sample> + Clone {
    selected(results, Group::Tls, transport, server, SinkMode::Null, load)
}

/// `server`'s CPU per request with TLS over without, within each repetition.
fn tls_over_plain(results: &Results, server: Server, load: Load) -> Option<Spread> {
    within_repetition(
        of(results, Transport::Tls, server, load),
        of(results, Transport::Plain, server, load),
        repetition,
        cpu,
    )
}

/// `changed`'s CPU per request over `baseline`'s, both with TLS, within each
/// repetition.
fn both_tls(results: &Results, changed: Server, baseline: Server, load: Load) -> Option<Spread> {
    within_repetition(
        of(results, Transport::Tls, changed, load),
        of(results, Transport::Tls, baseline, load),
        repetition,
        cpu,
    )
}

/// Whether a ratio meets a "at most `limit`" target: by every repetition, by the
/// median only, or not.
fn verdict(ratio: Option<Spread>, limit: f64) -> (bool, String) {
    match ratio {
        None => (false, "n/a, not measured".to_owned()),
        Some(ratio) if ratio.max <= limit => (true, format!("{}, met", ratio.format(2))),
        Some(ratio) if ratio.median <= limit => (
            true,
            format!(
                "{}, met by the median (not by every repetition)",
                ratio.format(2)
            ),
        ),
        Some(ratio) => (false, format!("{}, NOT met", ratio.format(2))),
    }
}

/// One line per target of issue 18, each engine of the own loop with its verdict.
fn target_lines(results: &Results) -> Vec<String> {
    let servers = &results.plan.servers;
    let loads = results.plan.tls_loads();
    let engines: Vec<Server> = OWN_LOOP
        .into_iter()
        .filter(|s| servers.contains(s))
        .collect();
    let at = Load::Rate(OVER_PLAIN_RATE);
    let over_plain = engines
        .iter()
        .map(|&engine| {
            let verdict = if loads.contains(&at) {
                verdict(tls_over_plain(results, engine, at), OVER_PLAIN_LIMIT).1
            } else {
                format!(
                    "not measured ({} is not among this run's loads)",
                    at.label()
                )
            };
            format!("{} {verdict}", engine.name())
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut lines = vec![format!(
        "Target: with TLS, the own loop costs at most {OVER_PLAIN_LIMIT}x its own plaintext CPU \
         per request at {}: {over_plain}.",
        at.label()
    )];
    if !servers.contains(&Server::Hyper) {
        return lines;
    }
    for &engine in &engines {
        let mut missed = Vec::new();
        let at_loads = loads
            .iter()
            .map(|&load| {
                let (met, text) = verdict(
                    both_tls(results, engine, Server::Hyper, load),
                    OVER_HYPER_LIMIT,
                );
                if !met {
                    missed.push(load.label());
                }
                let note = overloaded(of(results, Transport::Tls, Server::Hyper, load), load)
                    .map_or_else(String::new, |note| format!(" (hyper {note})"));
                format!("{} {text}{note}", load.label())
            })
            .collect::<Vec<_>>()
            .join("; ");
        let overall = if missed.is_empty() {
            "met at every load".to_owned()
        } else {
            format!("NOT met at {}", missed.join(", "))
        };
        lines.push(format!(
            "Target: with TLS, the own loop costs at most {OVER_HYPER_LIMIT}x hyper's TLS CPU per \
             request at every load; {} / hyper: {at_loads}. Overall: {overall}.",
            engine.name()
        ));
    }
    lines
}

/// Per load, per server: CPU per request with TLS over its plaintext arm, and the TLS
/// figure itself.
fn over_plain_table(results: &Results) -> Table {
    let servers = &results.plan.servers;
    let mut headers = vec!["offered load".to_owned()];
    headers.extend(
        servers
            .iter()
            .map(|s| format!("{}: TLS / plaintext (TLS µs/req)", s.name())),
    );
    let rows = rows_per_load(results, |load| {
        servers
            .iter()
            .map(|&server| {
                format!(
                    "{} ({})",
                    stats::format(tls_over_plain(results, server, load), 2),
                    cpu_cell_of(of(results, Transport::Tls, server, load), load)
                )
            })
            .collect()
    });
    Table { headers, rows }
}

/// One row per load of the TLS phase: the load's label, then `cells` of it.
fn rows_per_load(results: &Results, cells: impl Fn(Load) -> Vec<String>) -> Vec<Vec<String>> {
    results
        .plan
        .tls_loads()
        .into_iter()
        .map(|load| std::iter::once(load.label()).chain(cells(load)).collect())
        .collect()
}

/// Per load: each engine of the own loop over hyper, and io_uring over epoll, all with
/// TLS.
fn own_loop_table(results: &Results) -> Table {
    let servers = &results.plan.servers;
    let pairs: Vec<(Server, Server)> = [
        (Server::LoopUring, Server::Hyper),
        (Server::LoopEpoll, Server::Hyper),
        (Server::LoopUring, Server::LoopEpoll),
    ]
    .into_iter()
    .filter(|(a, b)| servers.contains(a) && servers.contains(b))
    .collect();
    let mut headers = vec!["offered load".to_owned()];
    headers.extend(
        pairs
            .iter()
            .map(|(a, b)| format!("{} / {} (both TLS)", a.name(), b.name())),
    );
    let rows = rows_per_load(results, |load| {
        pairs
            .iter()
            .map(|&(a, b)| stats::format(both_tls(results, a, b, load), 2))
            .collect()
    });
    Table { headers, rows }
}

/// The handshake phase's samples of one server and resumption setting.
fn handshakes(
    results: &Results,
    server: Server,
    resumption: Resumption,
) -> impl Iterator<Item = &HandshakeSample> + Clone {
    results
        .handshakes
        .iter()
        .filter(move |h| h.server == server && h.resumption == resumption)
}

/// Per server and resumption setting: handshakes per second and per server
/// CPU-second, CPU per handshake, how busy the server was, the kinds counted.
pub(super) fn handshake_table(results: &Results) -> Table {
    let mut table = Table::new(&[
        "server",
        "client",
        "handshakes/s",
        "handshakes per server CPU-second",
        "server CPU µs/handshake",
        "server busy (1 = one core)",
        "full / resumed (all repetitions)",
        "CPU per handshake: on / off",
    ]);
    type Metric = (fn(&HandshakeSample) -> f64, usize);
    let metrics: [Metric; 4] = [
        (|h| h.handshakes_per_second, 0),
        (|h| h.handshakes_per_cpu_second, 0),
        (|h| h.cpu_us_per_handshake, 1),
        (|h| h.cpu_utilisation, 2),
    ];
    for &server in &results.plan.servers {
        for resumption in Resumption::ALL {
            let samples = handshakes(results, server, resumption);
            let mut row = vec![server.name(), resumption.name().to_owned()];
            row.extend(metrics.iter().map(|&(metric, decimals)| {
                stats::format(Spread::of(samples.clone().map(metric).collect()), decimals)
            }));
            let full: u64 = samples.clone().map(|h| h.handshakes.full).sum();
            let resumed: u64 = samples.map(|h| h.handshakes.resumed).sum();
            row.push(format!("{full} / {resumed}"));
            row.push(match resumption {
                Resumption::On => stats::format(
                    within_repetition(
                        handshakes(results, server, Resumption::On),
                        handshakes(results, server, Resumption::Off),
                        |h| h.repetition,
                        |h| h.cpu_us_per_handshake,
                    ),
                    2,
                ),
                Resumption::Off => "1".to_owned(),
            });
            table.rows.push(row);
        }
    }
    table
}

/// The HTTPS sections, for the phases the plan ran.
pub(super) fn sections(results: &Results) -> Vec<Section> {
    let plan = &results.plan;
    let mut sections = Vec::new();
    if plan.tls_repetitions > 0 {
        let method = format!(
            "Every server serves HTTPS with the run's certificate (--tls-cert/--tls-key), and \
             right before or after it (the order alternating each repetition) the same server \
             in plaintext: {} keep-alive connections, null sink, {} repetition(s). Ratios are \
             taken within each repetition, then summarised as median [min-max]. The \
             connections, and so their TLS handshakes, are opened during the warm-up of the \
             same load run: a measured window holds no connection set-up (the handshake phase \
             below measures that). Null sink only: TLS is a cost of the HTTP side, \
             and the produce path behind it is the same with and without. Kernel TLS was not \
             measured.",
            plan.connections, plan.tls_repetitions
        );
        sections.push(Section::new(
            "HTTPS (keep-alive, null sink): CPU per request with TLS / without",
            vec![
                Block::Bullets(target_lines(results)),
                Block::Paragraph(method),
                Block::Table(over_plain_table(results)),
            ],
        ));
        sections.push(Section::new(
            "HTTPS: the own loop over hyper, and its io_uring engine over its epoll engine, \
             all with TLS (CPU per request)",
            vec![Block::Table(own_loop_table(results))],
        ));
    }
    if plan.handshake_repetitions > 0 {
        let method = format!(
            "Each request on a new connection: TCP connect, TLS handshake, one POST /, the \
             answer read, then the client closes with SO_LINGER 0 (a reset): neither side \
             keeps the connection in TIME_WAIT, so long runs cannot exhaust the loopback's \
             ephemeral ports, and every server gets the same close. {} concurrent \
             connections, closed loop, {} s after {} s of warm-up, {} repetition(s), the order \
             of the two clients alternating. Resumption on: one client session store shared by \
             every connection (TLS 1.3 tickets; the servers keep rustls's default stateful \
             session cache). rustls's client keeps at most 8 tickets per server name, so the \
             phase runs no more connections than that: with more, bursts of new connections \
             find the store empty and do full handshakes. \
             The client does its side of every handshake on one core: where the server is \
             less than fully busy, the client was the limit, and handshakes per server \
             CPU-second is the figure to compare. CPU per handshake includes the connection's \
             accept, request and close.",
            plan.handshake_connections,
            plan.saturation.as_secs_f64(),
            plan.warmup.as_secs_f64(),
            plan.handshake_repetitions,
        );
        sections.push(Section::new(
            format!(
                "TLS handshakes: a new connection per request (null sink, closed loop, {} \
                 connections)",
                plan.handshake_connections
            ),
            vec![
                Block::Table(handshake_table(results)),
                Block::Paragraph(method),
            ],
        ));
    }
    sections
}

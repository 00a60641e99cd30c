//! SVG charts of the comparison, drawn with plotters. Every drawing error is returned:
//! a chart that failed says so instead of coming out empty.

use anyhow::Context;
use plotters::prelude::*;

use super::{load_spread, open_loads};
use crate::compare::{Results, Sample, SinkMode};
use crate::server::Server;

/// Solid colours rather than opacity: some SVG renderers ignore opacity.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// Colour of `server` in every chart.
fn colour(results: &Results, server: Server) -> RGBColor {
    let index = results
        .plan
        .servers
        .iter()
        .position(|&s| s == server)
        .unwrap_or(0);
    PALETTE[index % PALETTE.len()]
}

/// One chart point: median offered rate, then median, min and max of the metric.
type Point = (f64, f64, f64, f64);

/// One point per open-loop load.
fn series(
    results: &Results,
    server: Server,
    sink: SinkMode,
    metric: fn(&Sample) -> f64,
) -> Vec<Point> {
    let mut points: Vec<Point> = open_loads(results)
        .into_iter()
        .filter_map(|load| {
            let offered = load_spread(results, server, sink, load, |s| s.offered.unwrap_or(0.0))?;
            let value = load_spread(results, server, sink, load, metric)?;
            Some((offered.median, value.median, value.min, value.max))
        })
        .collect();
    // Plan order mixes fixed rates and fractions of the slowest: draw left to right.
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// `metric` against the offered load for every server, with min-max error bars.
pub(crate) fn against_load(
    results: &Results,
    sink: SinkMode,
    title: &str,
    y_description: &str,
    metric: fn(&Sample) -> f64,
) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (620, 360)).into_drawing_area();
        root.fill(&WHITE).context("background")?;
        let all: Vec<(Server, Vec<Point>)> = results
            .plan
            .servers
            .iter()
            .map(|&server| (server, series(results, server, sink, metric)))
            .collect();
        let points = all.iter().flat_map(|(_, points)| points);
        let x_max = points.clone().map(|p| p.0).fold(1.0, f64::max) * 1.08;
        let y_max = points.map(|p| p.3).fold(0.1, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{title} ({})", sink.name()), ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .context("axes")?;
        chart
            .configure_mesh()
            .x_desc("offered load (req/s)")
            .y_desc(y_description)
            .max_light_lines(1)
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .x_label_formatter(&|x| format!("{:.0}k", x / 1000.0))
            .draw()
            .context("mesh")?;
        for (server, points) in all {
            let colour = colour(results, server);
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (p.0, p.1)),
                    colour.stroke_width(2),
                ))
                .context("line")?
                .label(server.name())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&(x, median, min, max)| {
                    ErrorBar::new_vertical(x, min, median, max, colour.filled(), 6)
                }))
                .context("error bars")?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()
            .context("legend")?;
        root.present().context("present")?;
    }
    Ok(svg)
}

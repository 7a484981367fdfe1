//! Charts as inline SVG, drawn with plotters: one line per model, clients on a logarithmic axis (1, 2, 5, 10,
//! 20, 50 are evenly spaced that way).

use plotters::prelude::*;

use super::super::catalog::{Lang, label};
use super::super::results::Results;
use crate::models::Model;

/// One colour per model, distinct on a projector and for the common colour-vision deficiencies (Okabe-Ito).
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// One line of a chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// The charts of one work type, as (kind, SVG) pairs.
pub fn charts_for_work(results: &Results, work: &str, lang: Lang) -> Vec<(&'static str, String)> {
    let metric = |pick: &dyn Fn(Model, usize) -> Option<f64>| -> Vec<Series> {
        results
            .models
            .iter()
            .map(|&model| Series {
                name: model.to_string(),
                points: results
                    .clients
                    .iter()
                    .filter_map(|&c| pick(model, c).map(|y| (c as f64, y)))
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    let run = |model: Model, clients: usize| results.median_run(work, model, clients);
    let charts: [(&'static str, &str, Vec<Series>); 5] = [
        (
            "throughput",
            "axis_rps",
            metric(&|m, c| results.throughput(work, m, c).map(|(r, _)| r)),
        ),
        (
            "latency",
            "axis_ms",
            metric(&|m, c| results.p99(work, m, c)),
        ),
        (
            "threads",
            "axis_threads",
            metric(&|m, c| run(m, c).map(|r| r.server.peak_threads as f64)),
        ),
        (
            "memory",
            "axis_mib",
            metric(&|m, c| run(m, c).map(|r| r.server.peak_pss_kib as f64 / 1024.0)),
        ),
        (
            "cpu",
            "axis_cores",
            metric(&|m, c| run(m, c).map(|r| r.server_cpu_cores)),
        ),
    ];
    charts
        .into_iter()
        .map(|(kind, y_axis, series)| {
            let title = label(lang, &format!("chart_{kind}"));
            (
                kind,
                line_chart(
                    title,
                    label(lang, "axis_clients"),
                    label(lang, y_axis),
                    &series,
                ),
            )
        })
        .collect()
}

/// Draws `series` as an SVG document. An empty chart says so instead of failing.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let mut svg = String::new();
    if let Err(e) = draw(&mut svg, title, x_label, y_label, series) {
        svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"560\" height=\"60\"><text x=\"10\" y=\"30\">{title}: {e}</text></svg>"
        );
    }
    svg
}

fn draw(
    svg: &mut String,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), String> {
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut x_min, mut x_max, mut y_max) = (f64::INFINITY, 0.0f64, 0.0f64);
    for &(x, y) in points {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_max = y_max.max(y);
    }
    if !x_min.is_finite() {
        return Err("no data".into());
    }
    // Room around single points and flat lines.
    let (x_min, x_max) = (x_min * 0.8, x_max * 1.25);
    let y_max = if y_max > 0.0 { y_max * 1.12 } else { 1.0 };

    let root = SVGBackend::with_string(svg, (560, 340)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0f64..y_max)
        .map_err(|e| err(&e))?;
    let decimals = if y_max >= 100.0 {
        0
    } else if y_max >= 5.0 {
        1
    } else {
        2
    };
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.decimals$}"))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, line) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(line.points.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(line.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                line.points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_with_its_lines() {
        let series = vec![
            Series {
                name: "sequential".into(),
                points: vec![(1.0, 19.0), (10.0, 19.5)],
            },
            Series {
                name: "threads".into(),
                points: vec![(1.0, 19.0), (10.0, 190.0)],
            },
        ];
        let svg = line_chart("Throughput", "clients", "requests/s", &series);
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("<polyline") || svg.contains("<path"));
        assert!(svg.contains("threads") && svg.contains("sequential"));
        assert!(line_chart("Empty", "x", "y", &[]).contains("no data"));
    }
}

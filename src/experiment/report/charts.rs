//! Charts as inline SVG, drawn with plotters: one line per model, clients on a logarithmic axis (1, 2, 5, 10,
//! 20, 50 are evenly spaced that way), which the axis says, since a student reads a straight line on it as
//! linear growth otherwise. Tick labels are written the way the report's language writes numbers (`0,5` in
//! Portuguese). Fairness gets a chart of its own: the fewest and the most requests one client completed, since
//! a client served 0 times beside one served 12 is the starvation the lesson is about.

use plotters::prelude::*;

use super::super::catalog::{self, Lang, label};
use super::super::results::Results;
use crate::experiment::subject::Subject;

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
    /// Index into the palette: a model keeps its colour across its lines.
    pub color: usize,
    /// Drawn dashed: the second line of a model in the same chart.
    pub dashed: bool,
}

/// The charts of one work type, as (kind, SVG) pairs.
pub fn charts_for_work(results: &Results, work: &str, lang: Lang) -> Vec<(&'static str, String)> {
    let metric = |pick: &dyn Fn(Subject, usize) -> Option<f64>| -> Vec<Series> {
        results
            .models
            .iter()
            .enumerate()
            .map(|(color, &model)| Series {
                name: model.to_string(),
                points: results
                    .clients
                    .iter()
                    .filter_map(|&c| pick(model, c).map(|y| (c as f64, y)))
                    .collect(),
                color,
                dashed: false,
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    let run = |model: Subject, clients: usize| results.median_run(work, model, clients);
    // Per model, the fewest requests one client completed (solid) and the most (dashed), in the model's colour.
    let fewest = metric(&|m, c| run(m, c).map(|r| r.fewest_per_client as f64));
    let most = metric(&|m, c| run(m, c).map(|r| r.most_per_client as f64));
    let fairness: Vec<Series> = fewest
        .into_iter()
        .zip(most)
        .flat_map(|(fewest, most)| {
            let name = fewest.name.clone();
            [
                Series {
                    name: format!("{name} {}", label(lang, "series_fewest")),
                    ..fewest
                },
                Series {
                    name: format!("{name} {}", label(lang, "series_most")),
                    dashed: true,
                    ..most
                },
            ]
        })
        .collect();
    let charts: [(&'static str, &str, Vec<Series>); 6] = [
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
        ("fairness", "axis_per_client", fairness),
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
                    lang,
                ),
            )
        })
        .collect()
}

/// Draws `series` as an SVG document, its ticks written as `lang` writes numbers. An empty chart says so instead
/// of failing.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    lang: Lang,
) -> String {
    let mut svg = String::new();
    if let Err(e) = draw(&mut svg, (title, x_label, y_label), series, lang) {
        svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"560\" height=\"60\"><text x=\"10\" y=\"30\">{title}: {e}</text></svg>"
        );
    }
    svg
}

fn draw(
    svg: &mut String,
    (title, x_label, y_label): (&str, &str, &str),
    series: &[Series],
    lang: Lang,
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
        .x_label_formatter(&|x| catalog::count(lang, x.round() as u64))
        .y_label_formatter(&|y| catalog::decimal(lang, *y, decimals))
        .draw()
        .map_err(|e| err(&e))?;
    for line in series {
        let color = COLORS[line.color % COLORS.len()];
        let drawn = if line.dashed {
            chart.draw_series(DashedLineSeries::new(
                line.points.clone(),
                6,
                4,
                color.stroke_width(2),
            ))
        } else {
            chart.draw_series(LineSeries::new(line.points.clone(), color.stroke_width(2)))
        };
        let dashed = line.dashed;
        drawn
            .map_err(|e| err(&e))?
            .label(line.name.as_str())
            .legend(move |(x, y)| {
                // A dashed line's legend is two short strokes.
                let strokes = if dashed {
                    vec![(x, y), (x + 7, y), (x + 11, y), (x + 18, y)]
                } else {
                    vec![(x, y), (x + 18, y)]
                };
                EmptyElement::at((0, 0))
                    + PathElement::new(strokes[..2].to_vec(), color.stroke_width(2))
                    + PathElement::new(strokes[strokes.len() - 2..].to_vec(), color.stroke_width(2))
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
                color: 0,
                dashed: false,
            },
            Series {
                name: "threads".into(),
                points: vec![(1.0, 19.0), (10.0, 190.0)],
                color: 1,
                dashed: true,
            },
        ];
        let svg = line_chart("Throughput", "clients", "requests/s", &series, Lang::En);
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("<polyline") || svg.contains("<path"));
        assert!(svg.contains("threads") && svg.contains("sequential"));
        assert!(line_chart("Empty", "x", "y", &[], Lang::En).contains("no data"));
    }

    /// The text of every `<text>` element of an SVG.
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim()))
            .collect()
    }

    #[test]
    fn ticks_are_written_the_way_the_language_writes_numbers() {
        let series = vec![Series {
            name: "poll".into(),
            points: vec![(1.0, 0.5), (10.0, 2.5)],
            color: 0,
            dashed: false,
        }];
        let en = line_chart("CPU", "clients (log scale)", "cores", &series, Lang::En);
        let pt = line_chart("CPU", "clientes (escala log)", "núcleos", &series, Lang::Pt);
        let (en, pt) = (texts(&en), texts(&pt));
        assert!(en.contains(&"0.50"), "{en:?}");
        assert!(pt.contains(&"0,50"), "{pt:?}");
        assert!(!pt.iter().any(|t| t.contains("0.5")), "{pt:?}");
        assert!(en.contains(&"clients (log scale)"), "{en:?}");
    }
}

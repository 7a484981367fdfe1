//! Charts as inline SVG, drawn with plotters: one line per model, clients on a logarithmic axis (1, 2, 5, 10,
//! 20, 50 are evenly spaced that way), which the axis says, since a student reads a straight line on it as
//! linear growth otherwise. Tick labels are written the way the report's language writes numbers (`0,5` in
//! Portuguese). Fairness gets a chart of its own: the fewest and the most requests one client completed, since
//! a client served 0 times beside one served 12 is the starvation the lesson is about.
//!
//! The legend sits in a column of its own beside the plot, one row per line, so a dozen servers (the Python
//! preset has ten) neither hide the lines nor each other; past the palette's eight colours a line's points change
//! shape. Y ticks get as many decimals as their spacing needs to be told apart (0.002, 0.004 rather than 0.00).

use plotters::coord::CoordTranslate;

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

/// The plot's size; the legend's column is added to its right.
const PLOT: (u32, u32) = (560, 340);
/// Y axis ticks, at most: their spacing decides the decimals.
const Y_LABELS: usize = 6;
/// A legend row's height and the room per character of a name (sans-serif at 13 px).
const LEGEND_ROW: u32 = 17;
const LEGEND_CHAR: u32 = 7;

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
    // What serving (or holding) cost the server, in every report.
    let threads = || {
        (
            "threads",
            "axis_threads",
            metric(&|m, c| run(m, c).map(|r| r.server.peak_threads as f64)),
        )
    };
    let memory = || {
        (
            "memory",
            "axis_mib",
            metric(&|m, c| run(m, c).map(|r| r.server.peak_pss_kib as f64 / 1024.0)),
        )
    };
    if results.hold {
        // Nothing was served: what the server held and what holding cost it are the figures.
        let charts: [(&'static str, &str, Vec<Series>); 4] = [
            (
                "held",
                "axis_connections",
                metric(&|m, c| run(m, c).and_then(|r| r.held()).map(|h| h as f64)),
            ),
            (
                "kib_per_connection",
                "axis_kib",
                metric(&|m, c| run(m, c).and_then(|r| r.kib_per_connection())),
            ),
            threads(),
            memory(),
        ];
        return draw_all(charts.into_iter().collect(), lang);
    }
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
    let charts: [(&'static str, &str, Vec<Series>); 7] = [
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
        threads(),
        memory(),
        (
            "cpu",
            "axis_cores",
            metric(&|m, c| run(m, c).map(|r| r.server_cpu_cores)),
        ),
        // What each request cost the server: the figure to compare servers by when the load generator, not
        // the server, sets the pace.
        (
            "cpu_per_request",
            "axis_cpu_us",
            metric(&|m, c| {
                run(m, c)
                    .filter(|r| r.throughput_rps > 0.0)
                    .map(|r| r.server_cpu_cores / r.throughput_rps * 1e6)
            }),
        ),
        ("fairness", "axis_per_client", fairness),
    ];
    draw_all(charts.into_iter().collect(), lang)
}

/// Draws each (kind, y axis label key, series) chart against the clients.
fn draw_all(
    charts: Vec<(&'static str, &str, Vec<Series>)>,
    lang: Lang,
) -> Vec<(&'static str, String)> {
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
    // Ticks at the client counts measured, each once: a log axis's own ticks crowd and repeat (9, 10, 10, 20).
    let mut x_ticks: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    x_ticks.sort_by(f64::total_cmp);
    x_ticks.dedup();
    // Room around single points and flat lines.
    let (x_min, x_max) = (x_min * 0.8, x_max * 1.25);
    let y_max = if y_max > 0.0 { y_max * 1.12 } else { 1.0 };

    let longest = series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0) as u32;
    let legend_width = 40 + LEGEND_CHAR * longest;
    let height = PLOT.1.max(40 + LEGEND_ROW * series.len() as u32);
    let root = SVGBackend::with_string(svg, (PLOT.0 + legend_width, height)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (plot, legend) = root.split_horizontally(PLOT.0);
    let plot = plot.shrink((0, 0), (PLOT.0, PLOT.1));
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (x_min..x_max).log_scale().with_key_points(x_ticks),
            0f64..y_max,
        )
        .map_err(|e| err(&e))?;
    let decimals = tick_decimals(y_max, Y_LABELS);
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .y_labels(Y_LABELS)
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
        drawn.map_err(|e| err(&e))?;
        let shape = line.color / COLORS.len();
        for &point in &line.points {
            draw_marker(chart.plotting_area(), point, shape, color).map_err(|e| err(&e))?;
        }
    }
    draw_legend(&legend, series).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Decimals for y ticks at most `labels` to a range of `y_max`: their spacing is at least `y_max / labels`, so
/// that many decimals tell neighbours apart.
fn tick_decimals(y_max: f64, labels: usize) -> usize {
    let spacing = y_max / labels as f64;
    if spacing <= 0.0 || !spacing.is_finite() {
        return 0;
    }
    (-spacing.log10()).ceil().clamp(0.0, 6.0) as usize
}

/// A point's marker: a circle, then (past the palette's colours) a triangle, then a cross.
fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    shape: usize,
    color: RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = color.filled();
    match shape % 3 {
        0 => area.draw(&Circle::new(at, 3, style)),
        1 => area.draw(&TriangleMarker::new(at, 4, style)),
        _ => area.draw(&Cross::new(at, 4, color.stroke_width(2))),
    }
}

/// One row per line, in the column beside the plot: its stroke (dashed or not), its marker and its name.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    series: &[Series],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for (row, line) in series.iter().enumerate() {
        let y = 40 + row as i32 * LEGEND_ROW as i32;
        let color = COLORS[line.color % COLORS.len()];
        let segments: &[(i32, i32)] = if line.dashed {
            &[(4, 11), (15, 22)]
        } else {
            &[(4, 22)]
        };
        for &(from, to) in segments {
            area.draw(&PathElement::new(
                vec![(from, y), (to, y)],
                color.stroke_width(2),
            ))?;
        }
        draw_marker(area, (13, y), line.color / COLORS.len(), color)?;
        area.draw(&Text::new(
            line.name.as_str(),
            (30, y - 7),
            ("sans-serif", 13).into_font().color(&BLACK),
        ))?;
    }
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
        assert!(en.contains(&"0.5"), "{en:?}");
        assert!(pt.contains(&"0,5"), "{pt:?}");
        assert!(!pt.iter().any(|t| t.contains("0.5")), "{pt:?}");
        assert!(en.contains(&"clients (log scale)"), "{en:?}");
    }

    /// The y tick labels of a chart: the numbers left of the plot, top to bottom as drawn.
    fn y_ticks(svg: &str) -> Vec<String> {
        texts(svg)
            .into_iter()
            .filter(|t| t.contains('.') && t.parse::<f64>().is_ok())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn tiny_values_get_ticks_that_differ() {
        // A server idling at a hundredth of a core: ticks of 0.00, 0.00, 0.01 would say nothing.
        let series = vec![Series {
            name: "poll".into(),
            points: vec![(1.0, 0.004), (10.0, 0.012), (50.0, 0.013)],
            color: 0,
            dashed: false,
        }];
        let svg = line_chart("CPU", "clients", "cores", &series, Lang::En);
        let mut ticks = y_ticks(&svg);
        let count = ticks.len();
        assert!(count >= 3, "{ticks:?}");
        ticks.sort();
        ticks.dedup();
        assert_eq!(
            ticks.len(),
            count,
            "every tick reads differently: {ticks:?}"
        );
        // X ticks at the client counts measured, once each.
        let numbers: Vec<&str> = texts(&svg)
            .into_iter()
            .filter(|t| !t.contains('.') && t.parse::<u64>().is_ok())
            .collect();
        assert_eq!(numbers, ["1", "10", "50"]);
        assert_eq!(tick_decimals(1000.0, 6), 0);
        assert_eq!(tick_decimals(2.8, 6), 1);
        assert_eq!(tick_decimals(0.0134, 6), 3);
        assert_eq!(tick_decimals(0.0, 6), 0);
    }

    #[test]
    fn a_dozen_series_each_get_a_legend_row_of_their_own() {
        let series: Vec<Series> = (0..12)
            .map(|i| Series {
                name: format!("server-{i:02}"),
                points: vec![(1.0, 10.0 + i as f64), (10.0, 100.0 + i as f64)],
                color: i,
                dashed: i % 2 == 1,
            })
            .collect();
        let svg = line_chart("Throughput", "clients", "requests/s", &series, Lang::En);
        // Each name once, in a row of its own: no two legend texts at the same height.
        let mut rows = Vec::new();
        for part in svg.split("<text").skip(1) {
            let text = &part[part.find('>').unwrap() + 1..part.find("</text>").unwrap()];
            if text.trim().starts_with("server-") {
                let y = part
                    .split("y=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                rows.push((text.trim().to_string(), y.parse::<f64>().unwrap()));
            }
        }
        assert_eq!(rows.len(), 12, "{rows:?}");
        for pair in rows.windows(2) {
            assert!(pair[1].1 - pair[0].1 >= 12.0, "rows overlap: {pair:?}");
        }
        // Past the eight colours, points change shape: triangles (polygons) appear.
        assert!(svg.contains("<polygon"), "the ninth series has triangles");
    }
}

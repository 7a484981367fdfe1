//! Each cell over time, as small multiples: one row per model, one column per number of clients, each a tiny
//! chart of requests per second every 100 ms (solid) and connections open (dashed), on one scale per row so the
//! columns compare. A ramp, a stall, a server that serves in bursts or starves for a while is seen at a glance,
//! where the totals above only give an average. The grey band is what was not measured: the warm-up, and the
//! ramp until every client had been served once.
//!
//! Drawn by hand as a few SVG lines rather than with plotters: dozens of charts without axes or labels, where a
//! charting library's frame would be most of the bytes.

use std::fmt::Write;

use super::super::catalog::{Lang, label};
use super::super::results::{Measurement, Results};
use super::html::escape;

const WIDTH: f64 = 160.0;
const HEIGHT: f64 = 48.0;

/// The small multiples of one work type, as an HTML block (empty when no cell has a timeline).
pub fn timelines_for_work(results: &Results, work: &str, lang: Lang) -> String {
    let rows: Vec<_> = results
        .models
        .iter()
        .map(|&model| {
            let runs: Vec<Option<&Measurement>> = results
                .clients
                .iter()
                .map(|&clients| results.median_run(work, model, clients))
                .collect();
            (model, runs)
        })
        .collect();
    let any = rows
        .iter()
        .flat_map(|(_, runs)| runs.iter().flatten())
        .any(|m| !m.timeline.buckets.is_empty());
    if !any {
        return String::new();
    }
    let mut html = format!(
        "<h3>{}</h3>\n<p>{}</p>\n<table class=\"timelines\"><thead><tr><th></th>",
        escape(label(lang, "timelines")),
        escape(label(lang, "timelines_about"))
    );
    for clients in &results.clients {
        let _ = write!(html, "<th>{clients}</th>");
    }
    html.push_str("</tr></thead><tbody>\n");
    for (model, runs) in rows {
        // One scale per row: the columns compare.
        let peak = runs
            .iter()
            .flatten()
            .flat_map(|m| bucket_rates(m))
            .fold(0.0, f64::max);
        let _ = write!(html, "<tr><th>{}</th>", escape(&model.to_string()));
        for run in runs {
            html.push_str("<td>");
            if let Some(m) = run {
                html.push_str(&sparkline(m, peak, lang));
            }
            html.push_str("</td>");
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table>\n");
    html
}

/// Requests completed per second in each bucket, the unmeasured ones included.
fn bucket_rates(m: &Measurement) -> impl Iterator<Item = f64> + '_ {
    let width_s = m.timeline.bucket_ms.max(1) as f64 / 1000.0;
    m.timeline
        .buckets
        .iter()
        .map(move |b| (b.ok + b.errors + b.uncounted) as f64 / width_s)
}

/// One cell's tiny chart.
fn sparkline(m: &Measurement, peak_rps: f64, lang: Lang) -> String {
    let t = &m.timeline;
    let n = t.buckets.len().max(1) as f64;
    let x = |i: usize| i as f64 * WIDTH / n;
    let y = |value: f64, top: f64| HEIGHT - 1.0 - (HEIGHT - 2.0) * value / top.max(1e-9);
    let rate: Vec<String> = bucket_rates(m)
        .enumerate()
        .map(|(i, rps)| format!("{:.1},{:.1}", x(i) + WIDTH / n / 2.0, y(rps, peak_rps)))
        .collect();
    let most_open = t.buckets.iter().map(|b| b.open).max().unwrap_or(0) as f64;
    let open: Vec<String> = t
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            format!(
                "{:.1},{:.1}",
                x(i) + WIDTH / n / 2.0,
                y(b.open as f64, most_open)
            )
        })
        .collect();
    let unmeasured = t
        .buckets
        .iter()
        .take_while(|b| b.start_ms < t.measured_from_ms)
        .count();
    let title = lang.pick(
        format!(
            "{:.0} req/s on average, p99 {:.1} ms; peak {:.0} req/s in 100 ms; up to {} connections open",
            m.throughput_rps, m.latency.p99_ms, peak_rps, most_open
        ),
        format!(
            "{:.0} req/s em média, p99 {:.1} ms; pico {:.0} req/s em 100 ms; até {} conexões abertas",
            m.throughput_rps, m.latency.p99_ms, peak_rps, most_open
        ),
    );
    let mut svg = format!(
        "<svg class=\"spark\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\"><title>{}</title>",
        escape(&title)
    );
    if unmeasured > 0 {
        let _ = write!(
            svg,
            "<rect x=\"0\" y=\"0\" width=\"{:.1}\" height=\"{HEIGHT}\" fill=\"#eee\"/>",
            x(unmeasured)
        );
    }
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"#888\" stroke-width=\"1\" stroke-dasharray=\"2,2\" points=\"{}\"/>\
         <polyline fill=\"none\" stroke=\"#0072b2\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        open.join(" "),
        rate.join(" ")
    );
    svg
}

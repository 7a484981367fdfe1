//! The result tables, as data: one per work type, models down, clients across.

use super::super::catalog::{Lang, label};
use super::super::predict::is_off;
use super::super::results::Results;

/// A table ready to be rendered as text or HTML.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Cells to highlight (row, column), e.g. off their prediction.
    pub flagged: Vec<(usize, usize)>,
}

/// `model`, then one column per client count.
fn header(results: &Results, lang: Lang) -> Vec<String> {
    let mut header = vec![label(lang, "model").to_string()];
    header.extend(
        results
            .clients
            .iter()
            .map(|c| format!("{c} {}", label(lang, "clients"))),
    );
    header
}

/// Throughput and p99 latency: `requests/s / p99 ms` in each cell.
pub fn throughput_table(results: &Results, work: &str, lang: Lang) -> Table {
    let header = header(results, lang);
    let rows = results
        .models
        .iter()
        .map(|&model| {
            let mut row = vec![model.to_string()];
            for &clients in &results.clients {
                let cell = match (
                    results.throughput(work, model, clients),
                    results.p99(work, model, clients),
                ) {
                    (Some((rps, _)), Some(p99)) => {
                        format!("{} / {}", format_rps(rps), format_ms(p99))
                    }
                    _ if results.failure(work, model, clients).is_some() => {
                        label(lang, "failed").to_string()
                    }
                    _ => "-".to_string(),
                };
                row.push(cell);
            }
            row
        })
        .collect();
    Table {
        title: label(lang, "table_throughput").to_string(),
        header,
        rows,
        flagged: Vec::new(),
    }
}

/// Measured vs predicted throughput: `measured (predicted)` in each cell, flagged when off.
pub fn prediction_table(results: &Results, work: &str, lang: Lang) -> Table {
    let header = header(results, lang);
    let mut flagged = Vec::new();
    let mut rows = Vec::new();
    for (r, &model) in results.models.iter().enumerate() {
        let mut row = vec![model.to_string()];
        for (c, &clients) in results.clients.iter().enumerate() {
            let predicted = results
                .prediction(work, model, clients)
                .and_then(|p| p.throughput_rps);
            let cell = match (results.throughput(work, model, clients), predicted) {
                (Some((rps, spread)), Some(pred)) => {
                    if is_off(rps, pred, spread) {
                        flagged.push((r, c + 1));
                    }
                    format!("{} ({})", format_rps(rps), format_rps(pred))
                }
                (Some((rps, _)), None) => {
                    format!("{} ({})", format_rps(rps), label(lang, "no_prediction"))
                }
                (None, _) => "-".to_string(),
            };
            row.push(cell);
        }
        rows.push(row);
    }
    Table {
        title: label(lang, "table_prediction").to_string(),
        header,
        rows,
        flagged,
    }
}

pub fn format_rps(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

pub fn format_ms(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.1}")
    }
}

/// Renders a table as aligned text for the terminal.
pub fn to_text(table: &Table) -> String {
    let columns = table.header.len();
    let width = |c: usize| {
        std::iter::once(&table.header[c])
            .chain(table.rows.iter().map(|r| &r[c]))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns).map(width).collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i == 0 {
                    format!("{s:<w$}", w = widths[i])
                } else {
                    format!("{s:>w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = format!("{}\n{}\n", table.title, line(&table.header));
    for row in &table.rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

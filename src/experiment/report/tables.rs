//! The result tables, as data: one per work type, models down, clients across. Figures and headings are written
//! as the report's sentences are ([`Writer`]): `97,0` and `1 cliente` in Portuguese, `97.0` and `1 client` in
//! English, so the terminal and the page read like the analysis beside them.

use super::super::analysis::finding::words::{CLIENT, Writer};
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

/// `model`, then one column per client count (`1 client`, `2 clients`).
fn header(results: &Results, lang: Lang) -> Vec<String> {
    // Beside servers of someone else's, a row is a server, not a model.
    let first = if results.servers.is_empty() {
        "model"
    } else {
        "server"
    };
    let mut header = vec![label(lang, first).to_string()];
    header.extend(
        results
            .clients
            .iter()
            .map(|&c| Writer(lang).count(c, CLIENT)),
    );
    header
}

/// Throughput and p99 latency: `requests/s / p99 ms` in each cell; in a hold experiment, what replaces them
/// ([`hold_table`]).
pub fn throughput_table(results: &Results, work: &str, lang: Lang) -> Table {
    if results.hold {
        return hold_table(results, work, lang);
    }
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
                        format!("{} / {}", Writer(lang).rps(rps), Writer(lang).time(p99))
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

/// Connections held and KiB (PSS) per held connection: `held / KiB` in each cell, flagged when the server held
/// fewer than asked (its cost per connection is then over fewer connections, not comparable).
pub fn hold_table(results: &Results, work: &str, lang: Lang) -> Table {
    let w = Writer(lang);
    let mut flagged = Vec::new();
    let mut rows = Vec::new();
    for (r, &model) in results.models.iter().enumerate() {
        let mut row = vec![model.to_string()];
        for (c, &clients) in results.clients.iter().enumerate() {
            let run = results.median_run(work, model, clients);
            let cell = match run.and_then(|m| Some((m.hold.as_ref()?, m.kib_per_connection()))) {
                Some((hold, kib)) => {
                    if hold.held < hold.asked {
                        flagged.push((r, c + 1));
                    }
                    let kib = kib.map_or("-".to_string(), |k| w.kib(k));
                    format!("{} / {kib}", w.int(hold.held))
                }
                None if results.failure(work, model, clients).is_some() => {
                    label(lang, "failed").to_string()
                }
                None => "-".to_string(),
            };
            row.push(cell);
        }
        rows.push(row);
    }
    Table {
        title: label(lang, "table_hold").to_string(),
        header: header(results, lang),
        rows,
        flagged,
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
                    format!("{} ({})", Writer(lang).rps(rps), Writer(lang).rps(pred))
                }
                (Some((rps, _)), None) => {
                    format!(
                        "{} ({})",
                        Writer(lang).rps(rps),
                        label(lang, "no_prediction")
                    )
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

/// Every server against the baseline: `throughput x / CPU per request x` in each cell, the median runs'
/// ratios to the baseline's in the same run (throughput above 1 and CPU per request below 1 are better).
pub fn baseline_table(results: &Results, work: &str, lang: Lang) -> Option<Table> {
    // Hold cells serve no load: there is no throughput to compare.
    let baseline = results.baseline.filter(|_| !results.hold)?;
    let w = Writer(lang);
    let figures = |subject, clients| {
        let run = results.median_run(work, subject, clients)?;
        let rps = run.throughput_rps;
        (rps > 0.0).then(|| (rps, run.server_cpu_cores / rps))
    };
    let rows = results
        .models
        .iter()
        .filter(|&&s| s != baseline)
        .map(|&subject| {
            let mut row = vec![subject.to_string()];
            for &clients in &results.clients {
                row.push(
                    match (figures(subject, clients), figures(baseline, clients)) {
                        (Some((rps, cpu)), Some((base_rps, base_cpu))) if base_cpu > 0.0 => {
                            format!(
                                "{}x / {}x",
                                w.num(rps / base_rps, 2),
                                w.num(cpu / base_cpu, 2)
                            )
                        }
                        _ => "-".to_string(),
                    },
                );
            }
            row
        })
        .collect();
    Some(Table {
        title: format!("{} {baseline}", label(lang, "table_baseline")),
        header: header(results, lang),
        rows,
        flagged: Vec::new(),
    })
}

/// Requests per second as the English tables write them (`2.5`, `1950`).
pub fn format_rps(x: f64) -> String {
    Writer(Lang::En).rps(x)
}

/// Milliseconds as the English tables write them (`1.01`, `52.3`).
pub fn format_ms(x: f64) -> String {
    Writer(Lang::En).time(x)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::predict::Prediction;
    use crate::experiment::results::{Cell, Latency, Measurement};
    use crate::experiment::subject::Subject;
    use crate::models::Model;
    use crate::protocol::Proto;

    /// One measured cell: only the figures a table quotes are set.
    fn cell(clients: usize, rps: f64, p99_ms: f64) -> Cell {
        Cell {
            work: "sleep:50ms".into(),
            model: Subject::Model(Model::Poll),
            clients,
            repeat: 0,
            variant: String::new(),
            slow: 0,
            prediction: Prediction {
                concurrency: None,
                throughput_rps: Some(rps),
            },
            measurement: Some(Measurement {
                requests: 100,
                errors: Default::default(),
                duration_s: 1.0,
                throughput_rps: rps,
                latency: Latency {
                    p99_ms,
                    ..Latency::default()
                },
                histogram: String::new(),
                fewest_per_client: 1,
                most_per_client: 1,
                unfinished: 0,
                oldest_unfinished_ms: 0.0,
                server: Default::default(),
                server_cpu_cores: 0.0,
                voluntary_context_switches: 0,
                involuntary_context_switches: 0,
                generator_cpu_cores: 0.0,
                generator_threads: 1,
                socket_memory_kib: None,
                listen_overflows: None,
                slow: None,
                timeline: Default::default(),
                all_served_ms: None,
                machine_cpu_cores: None,
                killed: false,
                hold: None,
            }),
            failure: None,
            stderr: None,
        }
    }

    /// poll at 1 and 2 clients, with figures that need a decimal mark.
    fn results() -> Results {
        Results::for_tests(
            Proto::Http,
            vec![Subject::Model(Model::Poll)],
            vec![1, 2],
            &["sleep:50ms"],
            1.0,
            vec![cell(1, 9.5, 52.24), cell(2, 39.6, 7.126)],
        )
    }

    #[test]
    fn the_baseline_table_gives_ratios_to_the_baseline_of_the_same_run() {
        let mut results = results();
        assert!(baseline_table(&results, "sleep:50ms", Lang::En).is_none());
        let nginx: Subject = "nginx".parse().unwrap();
        for cell in &mut results.cells {
            cell.measurement.as_mut().unwrap().server_cpu_cores = 0.5;
        }
        let mut theirs = results.cells.clone();
        for cell in &mut theirs {
            cell.model = nginx;
            let m = cell.measurement.as_mut().unwrap();
            m.throughput_rps /= 2.0;
            m.server_cpu_cores = 1.0;
        }
        results.cells.extend(theirs);
        results.models.push(nginx);
        results.baseline = Some(nginx);
        let table = baseline_table(&results, "sleep:50ms", Lang::En).unwrap();
        assert!(table.title.ends_with("nginx"), "{}", table.title);
        // Twice the throughput at half the CPU: a quarter of the CPU per request.
        assert_eq!(
            table.rows,
            vec![vec!["poll", "2.00x / 0.25x", "2.00x / 0.25x"]]
        );
    }

    #[test]
    fn the_portuguese_table_writes_decimal_commas_and_agrees_in_number() {
        let text = to_text(&throughput_table(&results(), "sleep:50ms", Lang::Pt));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Vazão (requisições/s) e latência p99 (ms), por modelo e número de clientes"
        );
        let header: Vec<&str> = lines[1]
            .split("  ")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(header, ["modelo", "1 cliente", "2 clientes"]);
        assert!(lines[2].starts_with("poll"), "{text}");
        assert!(lines[2].contains("9,5 / 52,2"), "{text}");
        assert!(lines[2].contains("40 / 7,13"), "{text}");
        assert!(
            !lines[2].contains('.'),
            "no decimal point in Portuguese: {text}"
        );
    }

    #[test]
    fn the_english_table_writes_decimal_points_and_agrees_in_number() {
        let text = to_text(&throughput_table(&results(), "sleep:50ms", Lang::En));
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = lines[1]
            .split("  ")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(header, ["model", "1 client", "2 clients"]);
        assert!(lines[2].contains("9.5 / 52.2"), "{text}");
        assert!(lines[2].contains("40 / 7.13"), "{text}");
        assert!(
            !lines[2].contains(','),
            "no decimal comma in English: {text}"
        );
    }

    #[test]
    fn the_prediction_table_writes_numbers_the_same_way() {
        let pt = prediction_table(&results(), "sleep:50ms", Lang::Pt);
        assert_eq!(pt.header[1], "1 cliente");
        assert_eq!(pt.rows[0][1], "9,5 (9,5)");
        let en = prediction_table(&results(), "sleep:50ms", Lang::En);
        assert_eq!(en.rows[0][1], "9.5 (9.5)");
        assert_eq!(en.rows[0][2], "40 (40)");
    }
}

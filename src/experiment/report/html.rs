//! `report.html`: one self-contained page — inline CSS and SVG, nothing fetched — that a teacher can project.

use std::fmt::Write;

use super::super::analysis::{Analysis, analyse};
use super::super::catalog::{Lang, decimal, label, work_description, work_heading};
use super::super::external::Concurrency;
use super::super::results::{Results, work_of};
use super::charts::charts_for_work;
use super::tables::{Table, baseline_table, prediction_table, throughput_table};
use super::timelines::timelines_for_work;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{font-size:1.7em}h2{margin-top:2em;border-bottom:2px solid #ddd;padding-bottom:.2em}h3{margin-bottom:.3em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f2f2f2}td.flagged{background:#ffe3c2}caption{text-align:left;white-space:nowrap;padding:.2em 0;font-weight:600}
.warning{background:#fff3cd;border:1px solid #e0b84b;padding:.6em 1em;font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:12px}
figure.chart{margin:0;border:1px solid #e3e3e3}figure.chart svg{width:100%;height:auto;display:block}
ul.findings li{margin:.25em 0}.meta td{text-align:left}
table.timelines td{padding:2px;text-align:center}svg.spark{display:block}";

/// Renders the whole page.
pub fn render(results: &Results, lang: Lang) -> String {
    let analysis = analyse(results);
    let mut page = String::new();
    let lang_code = match lang {
        Lang::En => "en",
        Lang::Pt => "pt-BR",
    };
    let title = label(lang, "title");
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"{lang_code}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
    if results.provenance.is_debug() {
        let _ = writeln!(
            page,
            "<p class=\"warning\">{}</p>",
            escape(label(lang, "debug_warning"))
        );
    }
    if results.interrupted {
        let _ = writeln!(
            page,
            "<p class=\"warning\">{}</p>",
            escape(label(lang, "interrupted"))
        );
    }
    let intro = if results.hold { "intro_hold" } else { "intro" };
    let _ = writeln!(page, "<p>{}</p>", escape(label(lang, intro)));
    setup_section(&mut page, results, lang);
    for work in &results.works {
        work_section(&mut page, results, &analysis, work, lang);
    }
    let _ = writeln!(
        page,
        "<h2>{}</h2>\n<ul class=\"findings conclusion\">",
        escape(label(lang, "conclusion"))
    );
    for finding in analysis.accuracy.iter().chain(&analysis.conclusion) {
        let _ = writeln!(page, "<li>{}</li>", escape(&finding.render(lang)));
    }
    page.push_str("</ul>\n");
    provenance_section(&mut page, results, lang);
    page.push_str("</body>\n</html>\n");
    page
}

fn setup_section(page: &mut String, results: &Results, lang: Lang) {
    let behaviour = if results.hold {
        "hold_behaviour"
    } else if results.keep_alive {
        "keep_alive"
    } else {
        "connect_per_request"
    };
    let rows = [
        (label(lang, "protocol"), results.proto.to_string()),
        (
            label(lang, "client_behaviour"),
            label(lang, behaviour).to_string(),
        ),
        (
            label(lang, "cell_time"),
            format!("{} s", decimal(lang, results.cell_seconds, 1)),
        ),
        (label(lang, "repeats"), results.repeat.to_string()),
    ];
    let mut rows: Vec<(String, String)> = rows
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect();
    if results.slow > 0 {
        rows.push((label(lang, "slow_setup").into(), results.slow.to_string()));
    }
    // Set for every cell by `--backlog` (a variant's own backlog is in its section's name).
    if let Some(backlog) = results.backlog {
        rows.push((label(lang, "backlog_setup").into(), backlog.to_string()));
    }
    for (flag, cpus) in [
        ("server_cpus", &results.server_cpus),
        ("load_cpus", &results.load_cpus),
    ] {
        if let Some(cpus) = cpus {
            rows.push((label(lang, flag).into(), cpus.to_string()));
        }
    }
    if let Some(cores) = results.server_cpu_quota {
        rows.push((
            label(lang, "server_cpu_quota").into(),
            format!("{cores} ({})", label(lang, "quota_caveat")),
        ));
    }
    rows.push((label(lang, "load_io").into(), results.load_io.to_string()));
    // Other people's servers: what ran, and what the predictions assumed of it (or why there are none).
    for server in &results.servers {
        let k = match server.k {
            Some(Concurrency::Limit(k)) => format!("k = {k}"),
            Some(Concurrency::Unlimited) => label(lang, "k_unlimited").to_string(),
            None => label(lang, "k_unknown").to_string(),
        };
        rows.push((
            format!("{} {}", label(lang, "external_server"), server.name),
            format!("{} ({k})", server.command),
        ));
    }
    meta_table(page, label(lang, "setup"), &rows);
}

fn work_section(page: &mut String, results: &Results, analysis: &Analysis, work: &str, lang: Lang) {
    let _ = writeln!(
        page,
        "<section class=\"work\" data-work=\"{}\">\n<h2>{}</h2>\n<p>{}</p>",
        escape(work),
        escape(&work_heading(lang, work)),
        escape(&work_description(lang, work_of(work)))
    );
    if results.hold {
        // Nothing was served, so no throughput was predicted: the held connections and their cost stand alone.
        table_html(page, &throughput_table(results, work, lang), "hold");
    } else {
        table_html(page, &throughput_table(results, work, lang), "throughput");
        table_html(page, &prediction_table(results, work, lang), "prediction");
    }
    if let Some(table) = baseline_table(results, work, lang) {
        table_html(page, &table, "baseline");
    }
    if let Some(found) = analysis.works.iter().find(|w| w.work == work)
        && !found.misses.is_empty()
    {
        let _ = writeln!(
            page,
            "<p>{}</p>\n<ul class=\"findings misses\">",
            escape(label(lang, "misses"))
        );
        for miss in &found.misses {
            let _ = writeln!(page, "<li>{}</li>", escape(&miss.render(lang)));
        }
        page.push_str("</ul>\n");
    }
    page.push_str("<div class=\"charts\">\n");
    for (kind, svg) in charts_for_work(results, work, lang) {
        let _ = writeln!(
            page,
            "<figure class=\"chart\" data-chart=\"{kind}\">{svg}</figure>"
        );
    }
    page.push_str("</div>\n");
    page.push_str(&timelines_for_work(results, work, lang));
    if let Some(found) = analysis.works.iter().find(|w| w.work == work) {
        let _ = writeln!(page, "<h3>{}</h3>", escape(label(lang, "analysis")));
        for model in &found.models {
            let _ = writeln!(
                page,
                "<h4>{}</h4>\n<ul class=\"findings\">",
                escape(&model.model.to_string())
            );
            for finding in &model.findings {
                let _ = writeln!(page, "<li>{}</li>", escape(&finding.render(lang)));
            }
            page.push_str("</ul>\n");
        }
        page.push_str("<ul class=\"findings comparison\">\n");
        for finding in &found.comparison {
            let _ = writeln!(page, "<li>{}</li>", escape(&finding.render(lang)));
        }
        page.push_str("</ul>\n");
    }
    page.push_str("</section>\n");
}

fn table_html(page: &mut String, table: &Table, kind: &str) {
    let _ = writeln!(
        page,
        "<table class=\"results\" data-kind=\"{kind}\">\n<caption>{}</caption>\n<thead><tr>",
        escape(&table.title)
    );
    for cell in &table.header {
        let _ = write!(page, "<th>{}</th>", escape(cell));
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    for (r, row) in table.rows.iter().enumerate() {
        page.push_str("<tr>");
        for (c, cell) in row.iter().enumerate() {
            let class = if table.flagged.contains(&(r, c)) {
                " class=\"flagged\""
            } else {
                ""
            };
            let tag = if c == 0 { "th" } else { "td" };
            let _ = write!(page, "<{tag}{class}>{}</{tag}>", escape(cell));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n");
}

/// A titled two-column table of names and values.
fn meta_table(page: &mut String, title: &str, rows: &[(impl AsRef<str>, String)]) {
    let _ = writeln!(page, "<h2>{}</h2>\n<table class=\"meta\">", escape(title));
    for (name, value) in rows {
        let _ = writeln!(
            page,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name.as_ref()),
            escape(value)
        );
    }
    page.push_str("</table>\n");
}

fn provenance_section(page: &mut String, results: &Results, lang: Lang) {
    let p = &results.provenance;
    let or_unknown = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    let rows = [
        (
            label(lang, "prov_version"),
            format!("{} ({})", p.serverlab_version, p.commit),
        ),
        (label(lang, "prov_build"), p.build_profile.clone()),
        (
            label(lang, "prov_cpu"),
            format!("{} × {}", p.cpu_model, p.cores),
        ),
        (label(lang, "prov_kernel"), p.kernel.clone()),
        (label(lang, "prov_somaxconn"), or_unknown(p.somaxconn)),
        (
            label(lang, "prov_fd_limits"),
            format!(
                "{} / {}",
                or_unknown(p.fd_soft_limit),
                or_unknown(p.fd_hard_limit)
            ),
        ),
        (label(lang, "prov_command"), p.command.join(" ")),
    ];
    meta_table(page, label(lang, "provenance"), &rows);
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

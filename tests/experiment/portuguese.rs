//! `experiment --lang pt` on the terminal: every line it prints in Portuguese, numbers with a decimal comma and
//! counts that agree with their words, as the report writes them.

use serverlab::experiment::analysis::finding::words::Writer;
use serverlab::experiment::catalog::Lang;

use crate::cells::{alone, experiment, json, out_dir};

#[test]
fn the_terminal_speaks_portuguese_with_lang_pt() {
    let _alone = alone();
    let out = out_dir("portuguese");
    let output = experiment(
        &[
            "--lang",
            "pt",
            "--models",
            "poll",
            "--clients",
            "1,2",
            "--work",
            "sleep:20ms",
            "--cell",
            "300ms",
        ],
        &out,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let results = json(&out);
    let cells = results["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);

    // stderr: the plan, then a line per cell.
    assert!(
        stderr.starts_with(
            "serverlab experiment: 2 células (1 tipo de trabalho x 1 variante x 1 servidor x 2 números de clientes \
             x 1 repetição), cerca de 0,5 s cada\n"
        ),
        "{stderr}"
    );
    let w = Writer(Lang::Pt);
    for (clients, noun) in [(1, "cliente"), (2, "clientes")] {
        let m = &cells[clients - 1]["measurement"];
        let line = format!(
            "  sleep:20ms poll {clients} {noun}: {} req/s, p99 {} ms\n",
            w.num(m["throughput_rps"].as_f64().unwrap(), 1),
            w.num(m["latency"]["p99_ms"].as_f64().unwrap(), 1)
        );
        assert!(line.contains(','), "a decimal comma: {line}");
        assert!(stderr.contains(&line), "{line} in {stderr}");
    }

    // stdout: the table, then the files.
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "== Trabalho: sleep:20ms ==", "{stdout}");
    assert_eq!(
        lines[1],
        "Vazão (requisições/s) e latência p99 (ms), por modelo e número de clientes"
    );
    let header: Vec<&str> = lines[2]
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(header, ["modelo", "1 cliente", "2 clientes"], "{stdout}");
    let figures: Vec<String> = cells
        .iter()
        .map(|c| {
            let m = &c["measurement"];
            let (rps, p99) = (
                m["throughput_rps"].as_f64().unwrap(),
                m["latency"]["p99_ms"].as_f64().unwrap(),
            );
            format!("{} / {}", w.rps(rps), w.time(p99))
        })
        .collect();
    let row: Vec<&str> = lines[3]
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        row,
        ["poll", figures[0].as_str(), figures[1].as_str()],
        "{stdout}"
    );
    assert!(!lines[3].contains('.'), "no decimal point: {stdout}");
    let dir = out.display();
    assert_eq!(
        lines[4],
        format!("arquivos gravados: {dir}/report.html, {dir}/results.json e {dir}/results.csv")
    );
    assert_eq!(lines.len(), 5, "{stdout}");
    for english in ["clients", "cells", "wrote", "about", "(s)"] {
        assert!(
            !stdout.contains(english) && !stderr.contains(english),
            "{english}: {stdout}{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

//! `results.csv`: one row per cell run, for spreadsheets and pandas. Every row ends with where its numbers came
//! from (version, commit, build, machine, kernel limits, command), so a row copied elsewhere keeps its provenance.

use super::super::results::Results;

const HEADER: &str = "work,model,clients,repeat,status,requests,errors,duration_s,throughput_rps,predicted_rps,concurrency,latency_mean_ms,latency_p50_ms,latency_p90_ms,latency_p99_ms,latency_max_ms,fewest_per_client,most_per_client,unfinished,server_cpu_cores,server_peak_threads,server_peak_processes,server_peak_rss_kib,server_peak_pss_kib,voluntary_context_switches,involuntary_context_switches,generator_cpu_cores,socket_memory_kib,listen_overflows,variant,slow,held,kib_per_connection,failure,serverlab_version,commit,build_profile,cpu_model,cores,kernel,somaxconn,fd_soft_limit,fd_hard_limit,command";

pub fn render(results: &Results) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    let p = &results.provenance;
    let number = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let provenance = [
        quote(&p.serverlab_version),
        quote(&p.commit),
        quote(&p.build_profile),
        quote(&p.cpu_model),
        p.cores.to_string(),
        quote(&p.kernel),
        number(p.somaxconn),
        number(p.fd_soft_limit),
        number(p.fd_hard_limit),
        quote(&p.command.join(" ")),
    ];
    for cell in &results.cells {
        let predicted = cell
            .prediction
            .throughput_rps
            .map(|p| format!("{p:.3}"))
            .unwrap_or_default();
        let concurrency = cell
            .prediction
            .concurrency
            .map(|k| k.to_string())
            .unwrap_or_default();
        let mut fields = vec![
            quote(&cell.work),
            cell.model.to_string(),
            cell.clients.to_string(),
            cell.repeat.to_string(),
        ];
        match &cell.measurement {
            Some(m) => fields.extend([
                "ok".to_string(),
                m.requests.to_string(),
                m.error_count().to_string(),
                format!("{:.3}", m.duration_s),
                format!("{:.3}", m.throughput_rps),
                predicted,
                concurrency,
                format!("{:.3}", m.latency.mean_ms),
                format!("{:.3}", m.latency.p50_ms),
                format!("{:.3}", m.latency.p90_ms),
                format!("{:.3}", m.latency.p99_ms),
                format!("{:.3}", m.latency.max_ms),
                m.fewest_per_client.to_string(),
                m.most_per_client.to_string(),
                m.unfinished.to_string(),
                format!("{:.3}", m.server_cpu_cores),
                m.server.peak_threads.to_string(),
                m.server.peak_processes.to_string(),
                m.server.peak_rss_kib.to_string(),
                m.server.peak_pss_kib.to_string(),
                m.voluntary_context_switches.to_string(),
                m.involuntary_context_switches.to_string(),
                format!("{:.3}", m.generator_cpu_cores),
                m.socket_memory_kib
                    .map(|k| k.to_string())
                    .unwrap_or_default(),
                m.listen_overflows
                    .map(|k| k.to_string())
                    .unwrap_or_default(),
                quote(&cell.variant),
                cell.slow.to_string(),
                m.held().map(|h| h.to_string()).unwrap_or_default(),
                m.kib_per_connection()
                    .map(|k| format!("{k:.3}"))
                    .unwrap_or_default(),
                String::new(),
            ]),
            None => {
                fields.push("failed".into());
                fields.extend(std::iter::repeat_n(String::new(), 3));
                fields.push(String::new());
                fields.extend([predicted, concurrency]);
                fields.extend(std::iter::repeat_n(String::new(), 18));
                fields.extend([quote(&cell.variant), cell.slow.to_string()]);
                fields.extend([String::new(), String::new()]);
                fields.push(quote(cell.failure.as_deref().unwrap_or("")));
            }
        }
        fields.extend(provenance.iter().cloned());
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// RFC 4180 quoting where needed.
fn quote(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// How many columns every row has.
pub fn columns() -> usize {
    HEADER.split(',').count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::predict::Prediction;
    use crate::experiment::results::{Cell, Results};
    use crate::experiment::subject::Subject;
    use crate::models::Model;
    use crate::protocol::Proto;

    #[test]
    fn failed_cells_have_every_column_and_the_reason_last() {
        let results = Results::for_tests(
            Proto::Echo,
            vec![Subject::Model(Model::Threads)],
            vec![1],
            &["none"],
            1.0,
            vec![Cell {
                work: "none".into(),
                model: Subject::Model(Model::Threads),
                clients: 1,
                repeat: 0,
                variant: String::new(),
                slow: 0,
                prediction: Prediction {
                    concurrency: Some(1024),
                    throughput_rps: None,
                },
                measurement: None,
                failure: Some("server did not start: port in use, sorry".into()),
                stderr: None,
            }],
        );
        let text = render(&results);
        let row = text.lines().nth(1).unwrap();
        let failure = "\"server did not start: port in use, sorry\"";
        let (before, after) = row.split_once(failure).expect("the reason is quoted whole");
        // Every column before the reason is in its place, and the provenance follows it.
        let position = HEADER.split(',').position(|c| c == "failure").unwrap();
        assert_eq!(before.split(',').count(), position + 1, "{row}");
        let version = format!(",{},", env!("CARGO_PKG_VERSION"));
        assert!(after.starts_with(&version), "{after}");
    }
}

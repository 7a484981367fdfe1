//! The report's fixed words — titles, labels, axis names, error kinds — in English and Brazilian Portuguese, from
//! one table, and how each language writes numbers (Portuguese writes `12,5` and `12.345` where English writes
//! `12.5` and `12,345`). The classroom material serverlab grew from is Portuguese, so the report must read
//! naturally in both.
//!
//! Nothing here has a placeholder. Sentences that quote figures are typed: the analysis's findings
//! ([`super::analysis::Finding`]) and the work descriptions below are `format!` calls with named arguments, so a
//! missing figure is a compile error, not a `{name}` left in the page.

use std::time::Duration;

use crate::work::Work;

/// Report language.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum Lang {
    En,
    Pt,
}

impl Lang {
    /// The text for this language.
    pub fn pick<T>(self, en: T, pt: T) -> T {
        match self {
            Lang::En => en,
            Lang::Pt => pt,
        }
    }
}

/// A count as the language writes it: thousands grouped from five digits on (`12,345`, `12.345`; `1200`).
pub fn count(lang: Lang, n: u64) -> String {
    let digits = n.to_string();
    if digits.len() <= 4 {
        return digits;
    }
    let separator = lang.pick(',', '.');
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// A number with `decimals` decimals, with the language's decimal mark (`12.5`, `12,5`).
pub fn decimal(lang: Lang, x: f64, decimals: usize) -> String {
    let text = format!("{x:.decimals$}");
    match lang {
        Lang::En => text,
        Lang::Pt => text.replace('.', ","),
    }
}

/// The label for `key` in `lang`, if the catalog has it.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    CATALOG
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, en, pt)| lang.pick(*en, *pt))
}

/// The label for `key` in `lang`.
///
/// # Panics
/// On a key missing from the catalog: a programming error, caught by the tests that render the report.
pub fn label(lang: Lang, key: &str) -> &'static str {
    lookup(lang, key).unwrap_or_else(|| panic!("no catalog key {key}"))
}

/// The heading of a work's section: `Work: sleep:50ms`.
pub fn work_heading(lang: Lang, work: &str) -> String {
    lang.pick(format!("Work: {work}"), format!("Trabalho: {work}"))
}

/// What a work does per request, in words.
pub fn work_description(lang: Lang, work: Work) -> String {
    let d = duration(work.duration());
    match work {
        Work::Sleep(_) => lang.pick(
            format!("{d} of waiting per request (I/O-bound: a database or disk call)"),
            format!(
                "{d} de espera por requisição (limitado por E/S: uma chamada a banco de dados ou disco)"
            ),
        ),
        Work::Cpu(_) => lang.pick(
            format!("{d} of computation per request (CPU-bound)"),
            format!("{d} de computação por requisição (limitado por CPU)"),
        ),
        Work::Block(_) => lang.pick(
            format!("{d} of blocking wait per request (a blocking call, even inside an event loop)"),
            format!(
                "{d} de espera bloqueante por requisição (uma chamada bloqueante, mesmo dentro de um laço de eventos)"
            ),
        ),
        Work::None => lang
            .pick(
                "no extra work per request",
                "nenhum trabalho extra por requisição",
            )
            .to_string(),
    }
}

/// A duration as the report writes it (`50ms`, `1s 500ms`).
pub fn duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// (key, English, Portuguese).
pub const CATALOG: &[(&str, &str, &str)] = &[
    // Page furniture.
    (
        "title",
        "serverlab: server concurrency experiment",
        "serverlab: experimento de concorrência em servidores",
    ),
    (
        "intro",
        "Each server model was run as its own process and hit by a growing number of simultaneous clients, for each kind of per-request work. Every figure below was measured in this run; predictions come from simple theory (a model that runs k requests at once, each taking D, serves at most min(clients, k)/D per second; computation is also capped by the cores).",
        "Cada modelo de servidor rodou em um processo próprio e recebeu um número crescente de clientes simultâneos, para cada tipo de trabalho por requisição. Todos os números abaixo foram medidos nesta execução; as previsões vêm de uma teoria simples (um modelo que atende k requisições ao mesmo tempo, cada uma levando D, atende no máximo min(clientes, k)/D por segundo; computação também é limitada pelos núcleos).",
    ),
    (
        "debug_warning",
        "DEBUG BUILD: these numbers come from an unoptimised binary and are not representative.",
        "BUILD DE DEPURAÇÃO: estes números vêm de um binário sem otimização e não são representativos.",
    ),
    (
        "interrupted",
        "The run was stopped before every cell was measured; this report shows what was measured.",
        "A execução foi interrompida antes de medir todas as células; este relatório mostra o que foi medido.",
    ),
    (
        "provenance",
        "Where these numbers come from",
        "De onde vêm estes números",
    ),
    ("setup", "Setup", "Configuração"),
    (
        "prov_version",
        "serverlab version (commit)",
        "versão do serverlab (commit)",
    ),
    ("prov_build", "build", "compilação"),
    ("prov_cpu", "CPU × cores", "CPU × núcleos"),
    ("prov_kernel", "kernel", "kernel"),
    (
        "prov_somaxconn",
        "somaxconn (kernel cap on listen backlogs)",
        "somaxconn (limite do kernel para filas de escuta)",
    ),
    (
        "prov_fd_limits",
        "open-file limit (soft / hard)",
        "limite de arquivos abertos (flexível / rígido)",
    ),
    ("prov_command", "command", "comando"),
    ("refused", "connection refused", "conexão recusada"),
    ("reset", "connection reset", "conexão reiniciada (reset)"),
    (
        "closed",
        "closed before the reply",
        "fechada antes da resposta",
    ),
    ("timeout", "timeout", "tempo esgotado"),
    ("bad-reply", "wrong reply", "resposta errada"),
    (
        "ports-exhausted",
        "local ports exhausted",
        "portas locais esgotadas",
    ),
    ("other", "other error", "outro erro"),
    ("protocol", "protocol", "protocolo"),
    ("cell_time", "time per cell", "tempo por célula"),
    ("repeats", "repeats", "repetições"),
    (
        "slow_setup",
        "slow connections beside the clients (a request head sent one byte a second, never finished)",
        "conexões lentas ao lado dos clientes (cabeçalho de requisição enviado um byte por segundo, nunca terminado)",
    ),
    ("client_behaviour", "clients", "clientes"),
    (
        "connect_per_request",
        "each client connects, sends one request, reads the reply, closes, and starts over",
        "cada cliente conecta, envia uma requisição, lê a resposta, fecha e recomeça",
    ),
    (
        "keep_alive",
        "each client keeps one connection open and sends its requests over it",
        "cada cliente mantém uma conexão aberta e envia suas requisições por ela",
    ),
    (
        "table_throughput",
        "Throughput (requests/s) and p99 latency (ms), by model and number of clients",
        "Vazão (requisições/s) e latência p99 (ms), por modelo e número de clientes",
    ),
    (
        "table_prediction",
        "Measured vs predicted throughput (requests/s); flagged cells differ by more than 25% and more than the spread between repeats",
        "Vazão medida vs prevista (requisições/s); células marcadas diferem em mais de 25% e mais que a variação entre repetições",
    ),
    ("model", "model", "modelo"),
    ("clients", "clients", "clientes"),
    ("failed", "failed", "falhou"),
    ("no_prediction", "no prediction", "sem previsão"),
    (
        "chart_throughput",
        "Throughput vs clients",
        "Vazão vs clientes",
    ),
    (
        "chart_latency",
        "p99 latency vs clients",
        "Latência p99 vs clientes",
    ),
    (
        "chart_threads",
        "Server threads vs clients",
        "Threads do servidor vs clientes",
    ),
    (
        "chart_memory",
        "Server memory (PSS) vs clients",
        "Memória do servidor (PSS) vs clientes",
    ),
    (
        "chart_cpu",
        "Server CPU vs clients",
        "CPU do servidor vs clientes",
    ),
    ("axis_clients", "clients", "clientes"),
    ("axis_rps", "requests/s", "requisições/s"),
    ("axis_ms", "ms", "ms"),
    ("axis_threads", "threads", "threads"),
    ("axis_mib", "MiB", "MiB"),
    ("axis_cores", "cores", "núcleos"),
    ("analysis", "Analysis", "Análise"),
    (
        "timelines",
        "Each cell over time",
        "Cada célula ao longo do tempo",
    ),
    (
        "misses",
        "Cells more than 10% from their prediction, and what their own measurements say about why:",
        "Células a mais de 10% da previsão, e o que as próprias medidas dizem do porquê:",
    ),
    (
        "timelines_about",
        "Requests per second every 100 ms (solid, one scale per model) and connections open (dashed), by model and number of clients; grey: not measured (the warm-up, and the ramp until every client was served once). Hover for the figures.",
        "Requisições por segundo a cada 100 ms (contínua, uma escala por modelo) e conexões abertas (tracejada), por modelo e número de clientes; cinza: não medido (o aquecimento e a subida até cada cliente ser atendido uma vez). Passe o mouse para ver os números.",
    ),
    ("conclusion", "Conclusion", "Conclusão"),
    ("measured", "measured", "medido"),
    ("predicted", "predicted", "previsto"),
    ("flagged", "off prediction", "fora da previsão"),
    ("unit_rps", "req/s", "req/s"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_languages_and_no_placeholder() {
        for (key, en, pt) in CATALOG {
            assert!(!en.trim().is_empty() && !pt.trim().is_empty(), "{key}");
            for text in [en, pt] {
                assert!(!text.contains('{') && !text.contains('}'), "{key}: {text}");
            }
        }
        let mut keys: Vec<&str> = CATALOG.iter().map(|(k, _, _)| *k).collect();
        let count = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), count, "duplicate keys");
    }

    #[test]
    fn every_error_kind_has_words_in_both_languages() {
        for kind in crate::load::ErrorKind::ALL {
            let key = crate::experiment::run::error_key(kind);
            assert!(
                lookup(Lang::En, key).is_some() && lookup(Lang::Pt, key).is_some(),
                "{key}"
            );
        }
    }

    #[test]
    fn numbers_are_written_the_way_each_language_writes_them() {
        assert_eq!(decimal(Lang::En, 1234.5, 1), "1234.5");
        assert_eq!(decimal(Lang::Pt, 1234.5, 1), "1234,5");
        assert_eq!(count(Lang::En, 12345), "12,345");
        assert_eq!(count(Lang::Pt, 12345), "12.345");
        assert_eq!(count(Lang::Pt, 1200), "1200");
        assert_eq!(count(Lang::Pt, 999), "999");
    }

    #[test]
    fn works_are_described_in_both_languages() {
        let work = Work::Sleep(Duration::from_millis(50));
        assert_eq!(
            work_description(Lang::En, work),
            "50ms of waiting per request (I/O-bound: a database or disk call)"
        );
        assert!(work_description(Lang::Pt, work).starts_with("50ms de espera por requisição"));
        assert_eq!(work_heading(Lang::Pt, "cpu:10ms"), "Trabalho: cpu:10ms");
    }
}

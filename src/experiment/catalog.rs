//! The report's fixed words — titles, labels, axis names, error kinds — in English and Brazilian Portuguese, from
//! one table, and how each language writes numbers (Portuguese writes `12,5` and `12.345` where English writes
//! `12.5` and `12,345`). The classroom material serverlab grew from is Portuguese, so the report must read
//! naturally in both.
//!
//! Nothing here has a placeholder. Sentences that quote figures are typed: the analysis's findings
//! ([`super::analysis::Finding`]), the work descriptions and the lines `experiment` prints on the terminal below
//! are `format!` calls with named arguments, so a missing figure is a compile error, not a `{name}` left in the
//! page. Their counts agree with their words (`1 cell`, `24 células`) through the findings' own helpers.

use std::path::Path;
use std::time::Duration;

use super::analysis::finding::words::{
    CELL, CELL_MEASURED, CLIENT, CLIENT_COUNT, REPEAT, SERVER, VARIANT, WORK_TYPE, Writer,
};
use super::results::Cell;
use super::run::ExperimentConfig;
use crate::experiment::subject::Subject;
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

/// The plan printed before the first cell: `24 cells (2 work types x 1 variant x 3 models x 4 client counts x 1
/// repeat), about 1.2 s each`.
pub fn plan(lang: Lang, config: &ExperimentConfig) -> String {
    let w = Writer(lang);
    let matrix = [
        w.count(config.works.len(), WORK_TYPE),
        w.count(config.variants().len(), VARIANT),
        w.count(config.subjects().len(), SERVER),
        w.count(config.clients.len(), CLIENT_COUNT),
        w.count(config.repeat, REPEAT),
    ]
    .join(" x ");
    let cells = w.count(config.cells(), CELL);
    let seconds = w.num((config.cell + config.warmup).as_secs_f64(), 1);
    w.pick(
        format!("{cells} ({matrix}), about {seconds} s each"),
        format!("{cells} ({matrix}), cerca de {seconds} s cada"),
    )
}

/// Which cell is running: `sleep:50ms poll 1 client`.
pub fn cell_label(lang: Lang, work: Work, model: Subject, clients: usize) -> String {
    format!("{work} {model} {}", Writer(lang).count(clients, CLIENT))
}

/// What a cell gave: `97.0 req/s, p99 11.1 ms`, or why it gave nothing.
pub fn cell_outcome(lang: Lang, cell: &Cell) -> String {
    let w = Writer(lang);
    match (&cell.measurement, &cell.failure) {
        (Some(m), _) if m.hold.is_some() => {
            let (held, asked) = m.hold.as_ref().map_or((0, 0), |h| (h.held, h.asked));
            let kib = m.kib_per_connection().map_or("-".into(), |k| w.kib(k));
            let (held, asked) = (w.int(held), w.int(asked));
            lang.pick(
                format!("held {held} of {asked}, {kib} KiB (PSS) per connection"),
                format!("manteve {held} de {asked}, {kib} KiB (PSS) por conexão"),
            )
        }
        (Some(m), _) => format!(
            "{} {}, p99 {} ms",
            w.num(m.throughput_rps, 1),
            label(lang, "unit_rps"),
            w.num(m.latency.p99_ms, 1)
        ),
        (None, Some(why)) => format!("{}: {why}", label(lang, "failed")),
        (None, None) => label(lang, "no_result").to_string(),
    }
}

/// The running cell's rate on the live bar: `sleep:50ms poll 5 clients: 98 req/s`.
pub fn live_rate(lang: Lang, cell_label: &str, rps: f64) -> String {
    let rate = Writer(lang).num(rps, 0);
    format!("{cell_label}: {rate} {}", label(lang, "unit_rps"))
}

/// The files written, once they are.
pub fn wrote(lang: Lang, dir: &Path) -> String {
    let d = dir.display();
    lang.pick(
        format!("wrote {d}/report.html, {d}/results.json and {d}/results.csv"),
        format!("arquivos gravados: {d}/report.html, {d}/results.json e {d}/results.csv"),
    )
}

/// After a Ctrl-C: what the files hold.
pub fn stopped_early(lang: Lang, cells: usize) -> String {
    let measured = Writer(lang).count(cells, CELL_MEASURED);
    lang.pick(
        format!("stopped early: the files hold the {measured}"),
        format!("interrompido antes do fim: os arquivos guardam {measured}"),
    )
}

/// Why a debug build does not run the experiment unless asked.
pub fn debug_refused(lang: Lang) -> &'static str {
    lang.pick(
        "this is a debug build, whose timings mean little: build with --release, or pass --allow-debug",
        "esta é uma compilação de depuração, cujos tempos pouco significam: compile com --release ou passe --allow-debug",
    )
}

/// The warning when many clients may run out of file descriptors.
pub fn fd_limit_warning(lang: Lang, why: &std::io::Error) -> String {
    lang.pick(
        format!("cannot raise the open-file limit: {why}"),
        format!("não foi possível aumentar o limite de arquivos abertos: {why}"),
    )
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
        "intro_hold",
        "Each server was run as its own process, and in each cell as many connections as it has clients were opened to it, each answered once and then held open, idle, for the cell's time: the C10K question, what a server pays for a connection it is only keeping. Its memory (PSS, the pages it shares counted once) was read before the first connection and again once they were all held; the difference over the connections held is its cost per connection. Nothing was served, so no throughput is predicted.",
        "Cada servidor rodou em um processo próprio e, em cada célula, tantas conexões quanto clientes foram abertas a ele, cada uma respondida uma vez e depois mantida aberta, ociosa, pelo tempo da célula: a questão do C10K, quanto um servidor paga por uma conexão que só mantém. Sua memória (PSS, as páginas compartilhadas contadas uma vez) foi lida antes da primeira conexão e de novo quando todas estavam mantidas; a diferença dividida pelas conexões mantidas é o custo por conexão. Nada foi atendido, então não há previsão de vazão.",
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
    (
        "backlog_setup",
        "listen backlog of serverlab's servers (connections waiting for accept())",
        "backlog de escuta dos servidores do serverlab (conexões esperando accept())",
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
        "table_hold",
        "Connections held and server memory per held connection (KiB of PSS): held / KiB per connection, by model and number of clients; flagged cells held fewer than asked",
        "Conexões mantidas e memória do servidor por conexão mantida (KiB de PSS): mantidas / KiB por conexão, por modelo e número de clientes; células marcadas mantiveram menos que o pedido",
    ),
    (
        "hold_behaviour",
        "the clients' connections are opened, each answered once, and held open, idle, for the cell's time",
        "as conexões dos clientes são abertas, cada uma respondida uma vez, e mantidas abertas, ociosas, pelo tempo da célula",
    ),
    (
        "table_prediction",
        "Measured vs predicted throughput (requests/s); flagged cells differ by more than 25% and more than the spread between repeats",
        "Vazão medida vs prevista (requisições/s); células marcadas diferem em mais de 25% e mais que a variação entre repetições",
    ),
    (
        "table_baseline",
        "Throughput and server CPU per request, as ratios to those of",
        "Vazão e CPU do servidor por requisição, como razões das de",
    ),
    ("model", "model", "modelo"),
    ("server", "server", "servidor"),
    ("clients", "clients", "clientes"),
    ("failed", "failed", "falhou"),
    ("no_result", "no result", "sem resultado"),
    ("no_prediction", "no prediction", "sem previsão"),
    (
        "external_server",
        "server started by command:",
        "servidor iniciado por comando:",
    ),
    (
        "k_unlimited",
        "predicted as serving every client at once: --server-k unlimited",
        "previsto atendendo todos os clientes ao mesmo tempo: --server-k unlimited",
    ),
    (
        "k_unknown",
        "no prediction: how many requests it works on at once was not given; --server-k NAME=K gives it",
        "sem previsão: quantas requisições ele atende ao mesmo tempo não foi informado; --server-k NOME=K informa",
    ),
    (
        "server_cpus",
        "servers pinned to CPUs",
        "servidores fixados nas CPUs",
    ),
    (
        "load_cpus",
        "load generator pinned to CPUs",
        "gerador de carga fixado nas CPUs",
    ),
    (
        "server_cpu_quota",
        "CPU quota of every server, in cores",
        "cota de CPU de cada servidor, em núcleos",
    ),
    (
        "quota_caveat",
        "CPU time in 10 ms periods: a server that has used its share waits for the next period, and that wait is in the latencies (p99 up to 10 ms more); the predictions count the quota, the analysis counts whole cores",
        "tempo de CPU em períodos de 10 ms: um servidor que gastou sua parte espera o próximo período, e essa espera está nas latências (p99 até 10 ms a mais); as previsões contam a cota, a análise conta núcleos inteiros",
    ),
    ("load_io", "load generator's I/O", "E/S do gerador de carga"),
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
    (
        "chart_cpu_per_request",
        "Server CPU per request vs clients",
        "CPU do servidor por requisição vs clientes",
    ),
    (
        "chart_fairness",
        "Requests per client: fewest (solid), most (dashed)",
        "Requisições por cliente: mínimo (contínua), máximo (tracejada)",
    ),
    (
        "chart_held",
        "Connections held vs clients",
        "Conexões mantidas vs clientes",
    ),
    (
        "chart_kib_per_connection",
        "Server memory per held connection (PSS) vs clients",
        "Memória do servidor por conexão mantida (PSS) vs clientes",
    ),
    ("axis_connections", "connections held", "conexões mantidas"),
    ("axis_kib", "KiB per connection", "KiB por conexão"),
    ("series_fewest", "fewest", "mínimo"),
    ("series_most", "most", "máximo"),
    (
        "axis_clients",
        "clients (log scale)",
        "clientes (escala logarítmica)",
    ),
    (
        "axis_per_client",
        "requests per client",
        "requisições por cliente",
    ),
    ("axis_rps", "requests/s", "requisições/s"),
    ("axis_ms", "ms", "ms"),
    ("axis_threads", "threads", "threads"),
    ("axis_mib", "MiB", "MiB"),
    ("axis_cores", "cores", "núcleos"),
    (
        "axis_cpu_us",
        "µs of CPU per request",
        "µs de CPU por requisição",
    ),
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
    use crate::models::Model;

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

    #[test]
    fn the_terminal_lines_agree_in_number_in_both_languages() {
        let mut config = ExperimentConfig::new("serverlab".into());
        config.models = vec![Model::Poll];
        config.clients = vec![1, 2];
        config.works = vec![Work::Sleep(Duration::from_millis(50))];
        config.cell = Duration::from_millis(1300);
        assert_eq!(
            plan(Lang::En, &config),
            "2 cells (1 work type x 1 variant x 1 server x 2 client counts x 1 repeat), about 1.5 s each"
        );
        assert_eq!(
            plan(Lang::Pt, &config),
            "2 células (1 tipo de trabalho x 1 variante x 1 servidor x 2 números de clientes x 1 repetição), cerca de 1,5 s cada"
        );
        let sleep = config.works[0];
        assert_eq!(
            cell_label(Lang::Pt, sleep, Subject::Model(Model::Poll), 1),
            "sleep:50ms poll 1 cliente"
        );
        assert_eq!(
            cell_label(Lang::En, sleep, Subject::Model(Model::Poll), 5),
            "sleep:50ms poll 5 clients"
        );
        assert_eq!(
            stopped_early(Lang::Pt, 1),
            "interrompido antes do fim: os arquivos guardam 1 célula medida"
        );
        assert_eq!(
            stopped_early(Lang::En, 3),
            "stopped early: the files hold the 3 cells measured"
        );
        assert_eq!(
            wrote(Lang::Pt, Path::new("out")),
            "arquivos gravados: out/report.html, out/results.json e out/results.csv"
        );
    }

    #[test]
    fn a_cell_outcome_is_written_with_the_language_s_decimal_mark() {
        let mut cell: Cell = serde_json::from_value(serde_json::json!({
            "work": "sleep:50ms", "model": "poll", "clients": 5, "repeat": 0,
            "prediction": {"concurrency": null, "throughput_rps": null},
            "measurement": null, "failure": "server did not start"
        }))
        .unwrap();
        assert_eq!(
            cell_outcome(Lang::Pt, &cell),
            "falhou: server did not start"
        );
        cell.failure = None;
        assert_eq!(cell_outcome(Lang::En, &cell), "no result");
        assert_eq!(live_rate(Lang::Pt, "x", 97.6), "x: 98 req/s");
    }
}

//! Every word the report says, in English and Brazilian Portuguese, from one table.
//!
//! A message is a template with `{name}` placeholders; [`Arg`] values fill them, formatted for the language
//! (Portuguese writes `12,5` where English writes `12.5`). `{name:one|many}` is the word that agrees with the
//! number `name`: `{s} {s:connection|connections}` reads `1 connection`, `8 connections`, and each language
//! spells its own forms (`1 conexão lenta`, `8 conexões lentas`). The classroom material serverlab grew from is
//! Portuguese, so the report must read naturally in both.

use std::fmt::Write;

/// Report language.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum Lang {
    En,
    Pt,
}

/// A value to put into a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Int(u64),
    /// A number with this many decimals.
    Num(f64, usize),
    Text(String),
    /// Counts by kind, each kind a catalog key: `timeout: 3, connection reset: 1`.
    Counts(Vec<(String, u64)>),
    /// A catalog key, said in the language (`nobody`).
    Label(&'static str),
}

impl Arg {
    fn render(&self, lang: Lang) -> String {
        match self {
            Arg::Int(n) => group_thousands(*n, lang),
            Arg::Num(x, decimals) => {
                let text = format!("{x:.decimals$}");
                match lang {
                    Lang::En => text,
                    Lang::Pt => text.replace('.', ","),
                }
            }
            Arg::Text(text) => text.clone(),
            Arg::Label(key) => lookup(lang, key).unwrap_or(key).to_string(),
            Arg::Counts(counts) => counts
                .iter()
                .map(|(key, n)| {
                    let name = lookup(lang, key).unwrap_or(key.as_str());
                    format!("{name}: {}", group_thousands(*n, lang))
                })
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

fn group_thousands(n: u64, lang: Lang) -> String {
    let digits = n.to_string();
    if digits.len() <= 4 {
        return digits;
    }
    let separator = match lang {
        Lang::En => ',',
        Lang::Pt => '.',
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// The template for `key` in `lang`, if the catalog has it.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    CATALOG
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, en, pt)| match lang {
            Lang::En => *en,
            Lang::Pt => *pt,
        })
}

/// The template for `key` in `lang`.
///
/// # Panics
/// On a key missing from the catalog: a programming error, caught by the catalog test.
pub fn template(lang: Lang, key: &str) -> &'static str {
    lookup(lang, key).unwrap_or_else(|| panic!("no catalog key {key}"))
}

/// The message for `key` in `lang`, placeholders filled from `args`.
pub fn text(lang: Lang, key: &str, args: &[(&str, Arg)]) -> String {
    let mut out = String::new();
    let mut rest = template(lang, key);
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let inside = &rest[open + 1..open + close];
        let (name, forms) = match inside.split_once(':') {
            Some((name, forms)) => (name, forms.split_once('|')),
            None => (inside, None),
        };
        match (args.iter().find(|(n, _)| *n == name), forms) {
            (Some((_, arg)), Some((one, many))) => {
                out.push_str(if *arg == Arg::Int(1) { one } else { many })
            }
            (Some((_, arg)), None) => out.push_str(&arg.render(lang)),
            (None, _) => {
                let _ = write!(out, "{{{inside}}}");
            }
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// The plain label for `key` (no placeholders).
pub fn label(lang: Lang, key: &str) -> &'static str {
    template(lang, key)
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
    ("work_section", "Work: {work}", "Trabalho: {work}"),
    (
        "work_sleep",
        "{d} of waiting per request (I/O-bound: a database or disk call)",
        "{d} de espera por requisição (limitado por E/S: uma chamada a banco de dados ou disco)",
    ),
    (
        "work_cpu",
        "{d} of computation per request (CPU-bound)",
        "{d} de computação por requisição (limitado por CPU)",
    ),
    (
        "work_block",
        "{d} of blocking wait per request (a blocking call, even inside an event loop)",
        "{d} de espera bloqueante por requisição (uma chamada bloqueante, mesmo dentro de um laço de eventos)",
    ),
    (
        "work_none",
        "no extra work per request",
        "nenhum trabalho extra por requisição",
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
    ("conclusion", "Conclusion", "Conclusão"),
    ("measured", "measured", "medido"),
    ("predicted", "predicted", "previsto"),
    ("flagged", "off prediction", "fora da previsão"),
    ("unit_rps", "req/s", "req/s"),
    // Findings about one model under one work.
    (
        "scales",
        "Throughput grew from {r1} req/s with {c1} client(s) to {r2} req/s with {c2} clients ({x}x for {cx}x the clients): requests overlapped instead of waiting for each other.",
        "A vazão cresceu de {r1} req/s com {c1} cliente(s) para {r2} req/s com {c2} clientes ({x}x para {cx}x clientes): as requisições se sobrepuseram em vez de esperar umas pelas outras.",
    ),
    (
        "flat",
        "Throughput stayed near {r} req/s from {c1} to {c2} clients: adding clients did not add throughput.",
        "A vazão ficou perto de {r} req/s de {c1} a {c2} clientes: mais clientes não trouxeram mais vazão.",
    ),
    (
        "plateau",
        "Throughput grew until about {c} clients, then levelled off near {r} req/s.",
        "A vazão cresceu até cerca de {c} clientes e depois estabilizou perto de {r} req/s.",
    ),
    (
        "bound_concurrency",
        "That level is the bound the model's concurrency sets: at most {k} request(s) at once, each taking {d}, gives {p} req/s.",
        "Esse nível é o limite da concorrência do modelo: no máximo {k} requisição(ões) por vez, cada uma levando {d}, dá {p} req/s.",
    ),
    (
        "bound_cores",
        "The bound here is the CPU: the server used {u} of {n} cores, and {n} cores doing {d} of computation per request serve at most {p} req/s.",
        "O limite aqui é a CPU: o servidor usou {u} de {n} núcleos, e {n} núcleos fazendo {d} de computação por requisição atendem no máximo {p} req/s.",
    ),
    (
        "bound_generator",
        "The load generator itself used {g} cores at {c} clients, so the client side may have limited this measurement.",
        "O próprio gerador de carga usou {g} núcleos com {c} clientes, então o lado cliente pode ter limitado esta medição.",
    ),
    (
        "serialised",
        "Each request was served only after the previous one finished: with {d} of work per request, {p} req/s is all one-at-a-time service can give.",
        "Cada requisição só foi atendida depois que a anterior terminou: com {d} de trabalho por requisição, {p} req/s é tudo o que o atendimento um por vez pode dar.",
    ),
    (
        "blocking_loop",
        "The blocking call ran inside the event loop and stopped it: nothing else was served while it slept, so {d} per request allows only {p} req/s.",
        "A chamada bloqueante rodou dentro do laço de eventos e o parou: nada mais foi atendido enquanto ela dormia, então {d} por requisição permite apenas {p} req/s.",
    ),
    (
        "latency_queue",
        "The p99 latency rose from {l1} ms with {c1} client(s) to {l2} ms with {c2}: requests queued behind each other.",
        "A latência p99 subiu de {l1} ms com {c1} cliente(s) para {l2} ms com {c2}: as requisições fizeram fila umas atrás das outras.",
    ),
    (
        "latency_steady",
        "The p99 latency stayed between {l1} and {l2} ms: no request waited long for another.",
        "A latência p99 ficou entre {l1} e {l2} ms: nenhuma requisição esperou muito por outra.",
    ),
    (
        "littles_law_ok",
        "Little's law holds: {c} clients ≈ {r} req/s × {l} ms = {i}.",
        "A lei de Little se confirma: {c} clientes ≈ {r} req/s × {l} ms = {i}.",
    ),
    (
        "littles_law_off",
        "Little's law does not hold at {c} clients ({r} req/s × {l} ms = {i}): time was lost outside the measured requests (connection setup, errors or unfinished requests).",
        "A lei de Little não se confirma com {c} clientes ({r} req/s × {l} ms = {i}): houve tempo perdido fora das requisições medidas (abertura de conexões, erros ou requisições não concluídas).",
    ),
    (
        "errors",
        "At {c} clients, {n} request(s) failed ({kinds}).",
        "Com {c} clientes, {n} requisição(ões) falharam ({kinds}).",
    ),
    (
        "listen_overflow",
        "At {c} clients the listen queue overflowed {n} time(s): connections waited for the kernel to retry their handshake, which shows up as long tail latency.",
        "Com {c} clientes a fila de escuta transbordou {n} vez(es): conexões esperaram o kernel repetir o handshake, o que aparece como latência de cauda alta.",
    ),
    (
        "starvation",
        "At {c} clients some client completed {min} request(s) while another completed {max}: the server served some clients to the end while others waited (starvation).",
        "Com {c} clientes algum cliente completou {min} requisição(ões) enquanto outro completou {max}: o servidor atendeu alguns clientes até o fim enquanto outros esperavam (inanição).",
    ),
    (
        "unfinished",
        "At {c} clients, {n} request(s) were still waiting when the cell ended, the oldest for {age} ms.",
        "Com {c} clientes, {n} requisição(ões) ainda esperavam quando a célula terminou, a mais antiga há {age} ms.",
    ),
    (
        "resources",
        "At {c} clients the server ran {t} thread(s) in {p} process(es) and used {m} MiB (PSS) and {u} cores.",
        "Com {c} clientes o servidor rodou {t} thread(s) em {p} processo(s) e usou {m} MiB (PSS) e {u} núcleos.",
    ),
    (
        "off_prediction",
        "{n} cell(s) differ from the prediction by more than 25%: {cells}.",
        "{n} célula(s) diferem da previsão em mais de 25%: {cells}.",
    ),
    (
        "cell_failed",
        "At {c} clients the cell failed: {why}.",
        "Com {c} clientes a célula falhou: {why}.",
    ),
    // Slow (slowloris) connections beside the clients.
    (
        "slow_starved",
        "Beside {s} {s:slow connection|slow connections} that never finished a request head, it served {r} req/s at {c} {c:client|clients}, where {e} req/s was expected (starved in {n} of {m} {m:cell|cells}): a model that gives each connection a thread or a worker (or a process) can be starved by connections that never finish a request; an event loop is not; a header deadline (nginx's client_header_timeout) frees them.",
        "Ao lado de {s} {s:conexão lenta|conexões lentas} que nunca terminaram o cabeçalho da requisição, atendeu {r} req/s com {c} {c:cliente|clientes}, quando se esperava {e} req/s (inanição em {n} de {m} {m:célula|células}): um modelo que dá a cada conexão uma thread ou um worker (ou um processo) pode sofrer inanição por conexões que nunca terminam uma requisição; um laço de eventos, não; um prazo para o cabeçalho (o client_header_timeout do nginx) libera as threads e os workers.",
    ),
    (
        "slow_starved_deadline",
        "Even with a header deadline of {d}, beside {s} {s:slow connection|slow connections} it served {r} req/s at {c} {c:client|clients}, where {e} req/s was expected: each slow connection still holds a worker for up to {d}, and a server that serves connections one (or a few) at a time waits for every one of them in turn.",
        "Mesmo com prazo de {d} para o cabeçalho, ao lado de {s} {s:conexão lenta|conexões lentas} atendeu {r} req/s com {c} {c:cliente|clientes}, quando se esperava {e} req/s: cada conexão lenta ainda prende um worker por até {d}, e um servidor que atende uma conexão (ou poucas) por vez espera por cada uma delas, uma após a outra.",
    ),
    (
        "slow_freed",
        "With a header deadline of {d} the server closed {k} slow {k:connection|connections} after {t1} to {t2} s ({a} with a status first: {codes}) and served {r} req/s at {c} {c:client|clients}, where without the deadline it served {r0} req/s: the deadline freed its workers.",
        "Com prazo de {d} para o cabeçalho, o servidor fechou {k} {k:conexão lenta|conexões lentas} depois de {t1} a {t2} s ({a} com um status antes: {codes}) e atendeu {r} req/s com {c} {c:cliente|clientes}, quando sem o prazo atendeu {r0} req/s: o prazo liberou seus workers.",
    ),
    (
        "slow_unharmed",
        "Beside {s} {s:slow connection|slow connections} it still served {r} req/s at {c} {c:client|clients}: the slow connections held up nobody else (one event loop watches every connection, or each connection has a thread of its own).",
        "Ao lado de {s} {s:conexão lenta|conexões lentas} ainda atendeu {r} req/s com {c} {c:cliente|clientes}: as conexões lentas não seguraram mais ninguém (um laço de eventos vigia todas as conexões, ou cada conexão tem sua própria thread).",
    ),
    (
        "slow_summary",
        "Beside {s} {s:slow connection|slow connections}, starved: {starved}; still serving: {served}.",
        "Ao lado de {s} {s:conexão lenta|conexões lentas}, em inanição: {starved}; ainda atendendo: {served}.",
    ),
    ("nobody", "none", "nenhum"),
    // Comparisons within one work type.
    (
        "best",
        "With {c} clients, {model} served the most: {r} req/s; {worst} served the least: {rw} req/s.",
        "Com {c} clientes, {model} atendeu mais: {r} req/s; {worst} atendeu menos: {rw} req/s.",
    ),
    (
        "lightest",
        "Among the models within 10% of the best, {model} used the fewest threads ({t}) and {m} MiB.",
        "Entre os modelos a até 10% do melhor, {model} usou menos threads ({t}) e {m} MiB.",
    ),
    (
        "threads_helped",
        "Threads helped: {ratio}x the sequential server's throughput at {c} clients, because the work was waiting, and waits overlap.",
        "Threads ajudaram: {ratio}x a vazão do servidor sequencial com {c} clientes, porque o trabalho era espera, e esperas se sobrepõem.",
    ),
    (
        "threads_helped_cores",
        "Threads helped only as far as the cores go: {ratio}x the sequential server at {c} clients, on {n} cores. Computation overlaps only when there is a free core to run it.",
        "Threads ajudaram só até onde vão os núcleos: {ratio}x o servidor sequencial com {c} clientes, em {n} núcleos. Computação só se sobrepõe quando há um núcleo livre para executá-la.",
    ),
    (
        "threads_no_help_cpu",
        "Threads did not help much ({ratio}x the sequential server at {c} clients): the work was computation, and {n} cores compute at most {p} req/s however many threads share them.",
        "Threads ajudaram pouco ({ratio}x o servidor sequencial com {c} clientes): o trabalho era computação, e {n} núcleos computam no máximo {p} req/s, não importa quantas threads os dividam.",
    ),
    (
        "threads_no_help",
        "Threads did not help ({ratio}x the sequential server at {c} clients): something other than waiting was the limit.",
        "Threads não ajudaram ({ratio}x o servidor sequencial com {c} clientes): o limite era outra coisa que não a espera.",
    ),
    (
        "cpu_ceiling",
        "No model passed the CPU ceiling of {p} req/s ({n} cores / {d}): the best reached {r} req/s.",
        "Nenhum modelo passou do teto de CPU de {p} req/s ({n} núcleos / {d}): o melhor chegou a {r} req/s.",
    ),
    // Conclusion.
    (
        "choose_io",
        "For I/O-bound work ({work}), choose {model}: it served the most ({r} req/s at {c} clients) by overlapping waits.",
        "Para trabalho limitado por E/S ({work}), escolha {model}: atendeu mais ({r} req/s com {c} clientes) ao sobrepor as esperas.",
    ),
    (
        "choose_cpu",
        "For CPU-bound work ({work}), the cores decide: {model} came closest ({r} req/s of a {p} req/s ceiling); more threads than cores only add switching.",
        "Para trabalho limitado por CPU ({work}), os núcleos decidem: {model} chegou mais perto ({r} req/s de um teto de {p} req/s); mais threads que núcleos só acrescentam trocas de contexto.",
    ),
    (
        "choose_block",
        "For blocking calls ({work}), {model} served the most ({r} req/s): an event loop must hand blocking calls to helper threads or it serves one request at a time.",
        "Para chamadas bloqueantes ({work}), {model} atendeu mais ({r} req/s): um laço de eventos precisa entregar chamadas bloqueantes a threads auxiliares, senão atende uma requisição por vez.",
    ),
    (
        "choose_none",
        "With no extra work ({work}), {model} served the most ({r} req/s at {c} clients): the cost of the model itself decides.",
        "Sem trabalho extra ({work}), {model} atendeu mais ({r} req/s com {c} clientes): o custo do próprio modelo decide.",
    ),
    (
        "sequential_lesson",
        "The sequential server never did better than one request at a time: {r} req/s at {c} clients, where {model} did {rb}.",
        "O servidor sequencial nunca fez melhor que uma requisição por vez: {r} req/s com {c} clientes, enquanto {model} fez {rb}.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(template: &str) -> Vec<&str> {
        let mut names: Vec<&str> = template
            .split('{')
            .skip(1)
            .filter_map(|part| part.split_once('}').map(|(name, _)| name))
            .map(|name| name.split(':').next().unwrap_or(name))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    #[test]
    fn every_key_has_both_languages_with_the_same_placeholders() {
        for (key, en, pt) in CATALOG {
            assert!(!en.trim().is_empty() && !pt.trim().is_empty(), "{key}");
            assert_eq!(placeholders(en), placeholders(pt), "{key}");
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
        let counts = Arg::Counts(vec![("timeout".into(), 1200), ("reset".into(), 1)]);
        assert_eq!(
            counts.render(Lang::En),
            "timeout: 1200, connection reset: 1"
        );
        assert_eq!(
            counts.render(Lang::Pt),
            "tempo esgotado: 1200, conexão reiniciada (reset): 1"
        );
    }

    #[test]
    fn words_agree_with_their_numbers_in_each_language() {
        let args = |s: u64, c: u64| {
            vec![
                ("s", Arg::Int(s)),
                ("r", Arg::Num(120.0, 0)),
                ("c", Arg::Int(c)),
            ]
        };
        let one = text(Lang::En, "slow_unharmed", &args(1, 1));
        assert!(
            one.starts_with("Beside 1 slow connection it still served 120 req/s at 1 client:"),
            "{one}"
        );
        let many = text(Lang::En, "slow_unharmed", &args(8, 10));
        assert!(
            many.starts_with("Beside 8 slow connections it still served 120 req/s at 10 clients:"),
            "{many}"
        );
        let um = text(Lang::Pt, "slow_unharmed", &args(1, 1));
        assert!(
            um.starts_with("Ao lado de 1 conexão lenta ainda atendeu 120 req/s com 1 cliente:"),
            "{um}"
        );
        let varios = text(Lang::Pt, "slow_unharmed", &args(8, 10));
        assert!(
            varios.starts_with(
                "Ao lado de 8 conexões lentas ainda atendeu 120 req/s com 10 clientes:"
            ),
            "{varios}"
        );
    }

    #[test]
    fn numbers_are_written_the_way_each_language_writes_them() {
        let args = [("r", Arg::Num(1234.5, 1)), ("c", Arg::Int(12345))];
        assert_eq!(
            text(Lang::En, "flat", &args),
            "Throughput stayed near 1234.5 req/s from {c1} to {c2} clients: adding clients did not add throughput."
        );
        assert!(text(Lang::Pt, "flat", &args).contains("1234,5 req/s"));
        assert_eq!(Arg::Int(12345).render(Lang::En), "12,345");
        assert_eq!(Arg::Int(12345).render(Lang::Pt), "12.345");
        assert_eq!(Arg::Int(999).render(Lang::Pt), "999");
    }
}

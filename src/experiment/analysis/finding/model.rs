//! What can be said about one model under one work as clients grew — the shape of its throughput curve, what
//! bounded it, its latency, Little's law, trouble and cost — and how each is said in both languages.

use std::time::Duration;

use super::words::{CELL, CLIENT, CONNECTION, CORE, PROCESS, REQUEST, THREAD, TIME, Writer, word};
use crate::experiment::catalog::Lang;

/// One model under one work, as clients grew.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelFinding {
    /// A cell could not be measured.
    CellFailed { clients: usize, why: String },
    /// Throughput grew about as fast as the clients.
    Scales {
        first_rps: f64,
        first_clients: usize,
        last_rps: f64,
        last_clients: usize,
        growth: f64,
        client_growth: f64,
    },
    /// More clients brought no more throughput.
    Flat {
        rps: f64,
        first_clients: usize,
        last_clients: usize,
    },
    /// Throughput grew, then levelled off.
    Plateau { knee_clients: usize, rps: f64 },
    /// A blocking call inside an event loop served one request at a time.
    BlockingLoop {
        per_request: Duration,
        bound_rps: f64,
    },
    /// One request at a time, at the rate the work allows.
    Serialised {
        per_request: Duration,
        bound_rps: f64,
    },
    /// The cores were the limit.
    BoundCores {
        used_cores: f64,
        cores: usize,
        per_request: Duration,
        bound_rps: f64,
    },
    /// The model's concurrency was the limit.
    BoundConcurrency {
        concurrency: usize,
        per_request: Duration,
        bound_rps: f64,
    },
    /// The load generator was nearly saturated.
    BoundGenerator {
        generator_cores: f64,
        clients: usize,
    },
    /// p99 latency grew: requests queued.
    LatencyQueue {
        first_p99_ms: f64,
        first_clients: usize,
        last_p99_ms: f64,
        last_clients: usize,
    },
    /// p99 latency stayed in a narrow band.
    LatencySteady {
        lowest_p99_ms: f64,
        highest_p99_ms: f64,
    },
    /// clients = throughput x latency within `tolerance_pct`, at the most loaded point.
    LittlesLawHolds {
        clients: usize,
        rps: f64,
        mean_ms: f64,
        implied_clients: f64,
        tolerance_pct: f64,
    },
    /// clients != throughput x latency past `tolerance_pct`, with what in the cell accounts for it: requests in
    /// flight at its end, a window of few latencies (`window_s` long), failures, a connection per request.
    LittlesLawOff {
        clients: usize,
        rps: f64,
        mean_ms: f64,
        implied_clients: f64,
        tolerance_pct: f64,
        in_flight: u64,
        window_s: f64,
        short_window: bool,
        failed: u64,
        connect_per_request: bool,
    },
    /// Requests failed; `by_kind` holds error kinds as catalog keys (`timeout`).
    Errors {
        clients: usize,
        failed: u64,
        by_kind: Vec<(String, u64)>,
    },
    /// The listen queue overflowed.
    ListenOverflow { clients: usize, overflows: u64 },
    /// Connection requests dropped by a full listen queue and sent again by the client's timer, 1 s later; the
    /// cell that shows it worst (`overflows`: 0 when the kernel counted none; `step`: the p99 a second above the
    /// median).
    SynRetransmission {
        clients: usize,
        backlog: i32,
        overflows: u64,
        step: bool,
        p50_ms: f64,
        p99_ms: f64,
    },
    /// Some clients were served to the end while others waited.
    Starvation {
        clients: usize,
        fewest: u64,
        most: u64,
    },
    /// Requests were left behind when the cell ended.
    Unfinished {
        clients: usize,
        waiting: u64,
        oldest_ms: f64,
    },
    /// What serving the most clients cost.
    Resources {
        clients: usize,
        threads: u64,
        processes: u64,
        pss_mib: f64,
        cpu_cores: f64,
    },
    /// Cells (by their client counts) whose throughput was off the prediction.
    OffPrediction { clients: Vec<usize> },
    /// Computing with many threads, never more than one core busy though cores were free: a global lock.
    GlobalLock {
        clients: usize,
        threads: u64,
        most_cores: f64,
        cores: usize,
    },
    /// Computing with one thread (an event loop) where more could have run: one core, whatever the clients.
    OneLoop {
        clients: usize,
        most_cores: f64,
        cores: usize,
    },
    /// A hold cell: every connection asked for was held, at this cost each (KiB of PSS), with these threads.
    Held {
        clients: usize,
        held: u64,
        open_s: f64,
        kib_per_connection: f64,
        threads: u64,
        processes: u64,
    },
    /// A hold cell where the server held fewer connections than asked for: it closed some (`closed`), or it
    /// serves at most `concurrency` at once and the rest waited unanswered in its listen queue, which
    /// overflowed `overflows` times.
    HeldFewer {
        clients: usize,
        asked: u64,
        held: u64,
        concurrency: Option<usize>,
        threads: u64,
        processes: u64,
        closed: u64,
        overflows: u64,
    },
}

impl ModelFinding {
    /// The kind's stable name (`threads_helped`).
    pub fn key(&self) -> &'static str {
        use ModelFinding::*;
        match self {
            CellFailed { .. } => "cell_failed",
            Scales { .. } => "scales",
            Flat { .. } => "flat",
            Plateau { .. } => "plateau",
            BlockingLoop { .. } => "blocking_loop",
            Serialised { .. } => "serialised",
            BoundCores { .. } => "bound_cores",
            BoundConcurrency { .. } => "bound_concurrency",
            BoundGenerator { .. } => "bound_generator",
            LatencyQueue { .. } => "latency_queue",
            LatencySteady { .. } => "latency_steady",
            LittlesLawHolds { .. } => "littles_law_ok",
            LittlesLawOff { .. } => "littles_law_off",
            Errors { .. } => "errors",
            ListenOverflow { .. } => "listen_overflow",
            SynRetransmission { .. } => "syn_retransmission",
            Starvation { .. } => "starvation",
            Unfinished { .. } => "unfinished",
            Resources { .. } => "resources",
            OffPrediction { .. } => "off_prediction",
            GlobalLock { .. } => "global_lock",
            OneLoop { .. } => "one_loop",
            Held { .. } => "held",
            HeldFewer { .. } => "held_fewer",
        }
    }

    /// The finding as a sentence in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        use ModelFinding::*;
        let w = Writer(lang);
        match self {
            CellFailed { clients, why } => {
                let c = w.count(*clients, CLIENT);
                w.pick(
                    format!("At {c} the cell failed: {why}."),
                    format!("Com {c} a célula falhou: {why}."),
                )
            }
            Scales {
                first_rps,
                first_clients,
                last_rps,
                last_clients,
                growth,
                client_growth,
            } => {
                let (r1, r2) = (w.rps(*first_rps), w.rps(*last_rps));
                let c1 = w.count(*first_clients, CLIENT);
                let c2 = w.count(*last_clients, CLIENT);
                let (x, cx) = (w.num(*growth, 1), w.num(*client_growth, 0));
                w.pick(
                    format!(
                        "Throughput grew from {r1} req/s with {c1} to {r2} req/s with {c2} ({x}x for {cx}x the clients): requests overlapped instead of waiting for each other."
                    ),
                    format!(
                        "A vazão cresceu de {r1} req/s com {c1} para {r2} req/s com {c2} ({x}x para {cx}x clientes): as requisições se sobrepuseram em vez de esperar umas pelas outras."
                    ),
                )
            }
            Flat {
                rps,
                first_clients,
                last_clients,
            } => {
                let r = w.rps(*rps);
                let (c1, c2) = (w.int(*first_clients), w.count(*last_clients, CLIENT));
                w.pick(
                    format!(
                        "Throughput stayed near {r} req/s from {c1} to {c2}: adding clients did not add throughput."
                    ),
                    format!(
                        "A vazão ficou perto de {r} req/s de {c1} a {c2}: mais clientes não trouxeram mais vazão."
                    ),
                )
            }
            Plateau { knee_clients, rps } => {
                let (knee, r) = (w.count(*knee_clients, CLIENT), w.rps(*rps));
                w.pick(
                    format!("Throughput grew until about {knee}, then levelled off near {r} req/s."),
                    format!(
                        "A vazão cresceu até cerca de {knee} e depois estabilizou perto de {r} req/s."
                    ),
                )
            }
            BlockingLoop {
                per_request,
                bound_rps,
            } => {
                let (d, p) = (w.duration(*per_request), w.rps(*bound_rps));
                w.pick(
                    format!(
                        "The blocking call ran inside the event loop and stopped it: nothing else was served while it slept, so {d} per request allows only {p} req/s."
                    ),
                    format!(
                        "A chamada bloqueante rodou dentro do laço de eventos e o parou: nada mais foi atendido enquanto ela dormia, então {d} por requisição permite apenas {p} req/s."
                    ),
                )
            }
            Serialised {
                per_request,
                bound_rps,
            } => {
                let (d, p) = (w.duration(*per_request), w.rps(*bound_rps));
                w.pick(
                    format!(
                        "Each request was served only after the previous one finished: with {d} of work per request, {p} req/s is all one-at-a-time service can give."
                    ),
                    format!(
                        "Cada requisição só foi atendida depois que a anterior terminou: com {d} de trabalho por requisição, {p} req/s é tudo o que o atendimento um por vez pode dar."
                    ),
                )
            }
            BoundCores {
                used_cores,
                cores,
                per_request,
                bound_rps,
            } => {
                let (u, n) = (w.num(*used_cores, 2), w.count(*cores, CORE));
                let serve = w.word(*cores, word(["serves", "serve"], ["atende", "atendem"]));
                let (d, p) = (w.duration(*per_request), w.rps(*bound_rps));
                w.pick(
                    format!(
                        "The bound here is the CPU: the server used {u} of {n}, and {n} doing {d} of computation per request {serve} at most {p} req/s."
                    ),
                    format!(
                        "O limite aqui é a CPU: o servidor usou {u} de {n}, e {n} fazendo {d} de computação por requisição {serve} no máximo {p} req/s."
                    ),
                )
            }
            BoundConcurrency {
                concurrency,
                per_request,
                bound_rps,
            } => {
                let k = w.count(*concurrency, REQUEST);
                let (d, p) = (w.duration(*per_request), w.rps(*bound_rps));
                w.pick(
                    format!(
                        "That level is the bound the model's concurrency sets: at most {k} at once, each taking {d}, gives {p} req/s."
                    ),
                    format!(
                        "Esse nível é o limite da concorrência do modelo: no máximo {k} por vez, cada uma levando {d}, dá {p} req/s."
                    ),
                )
            }
            BoundGenerator {
                generator_cores,
                clients,
            } => {
                let (g, c) = (w.num(*generator_cores, 2), w.count(*clients, CLIENT));
                w.pick(
                    format!(
                        "The load generator itself used {g} cores at {c}, so the client side may have limited this measurement."
                    ),
                    format!(
                        "O próprio gerador de carga usou {g} núcleos com {c}, então o lado cliente pode ter limitado esta medição."
                    ),
                )
            }
            LatencyQueue {
                first_p99_ms,
                first_clients,
                last_p99_ms,
                last_clients,
            } => {
                let (l1, c1) = (w.time(*first_p99_ms), w.count(*first_clients, CLIENT));
                let (l2, c2) = (w.time(*last_p99_ms), w.int(*last_clients));
                w.pick(
                    format!(
                        "The p99 latency rose from {l1} ms with {c1} to {l2} ms with {c2}: requests queued behind each other."
                    ),
                    format!(
                        "A latência p99 subiu de {l1} ms com {c1} para {l2} ms com {c2}: as requisições fizeram fila umas atrás das outras."
                    ),
                )
            }
            LatencySteady {
                lowest_p99_ms,
                highest_p99_ms,
            } => {
                let (l1, l2) = (w.time(*lowest_p99_ms), w.time(*highest_p99_ms));
                w.pick(
                    format!(
                        "The p99 latency stayed between {l1} and {l2} ms: no request waited long for another."
                    ),
                    format!(
                        "A latência p99 ficou entre {l1} e {l2} ms: nenhuma requisição esperou muito por outra."
                    ),
                )
            }
            LittlesLawHolds {
                clients,
                rps,
                mean_ms,
                implied_clients,
                tolerance_pct,
            } => {
                let (c, r) = (w.count(*clients, CLIENT), w.rps(*rps));
                let (l, i, t) = (
                    w.time(*mean_ms),
                    w.num(*implied_clients, 1),
                    w.num(*tolerance_pct, 0),
                );
                w.pick(
                    format!("Little's law holds within {t}%: {c} ≈ {r} req/s × {l} ms = {i}."),
                    format!("A lei de Little se confirma dentro de {t}%: {c} ≈ {r} req/s × {l} ms = {i}."),
                )
            }
            LittlesLawOff {
                clients,
                rps,
                mean_ms,
                implied_clients,
                tolerance_pct,
                in_flight,
                window_s,
                short_window,
                failed,
                connect_per_request,
            } => {
                let (c, r) = (w.count(*clients, CLIENT), w.rps(*rps));
                let (l, i, t) = (
                    w.time(*mean_ms),
                    w.num(*implied_clients, 1),
                    w.num(*tolerance_pct, 0),
                );
                let off = w.num(
                    (implied_clients - *clients as f64).abs() / (*clients).max(1) as f64 * 100.0,
                    0,
                );
                let why = super::little::reasons(
                    w,
                    &super::little::Gap {
                        in_flight: *in_flight,
                        window_s: *window_s,
                        mean_ms: *mean_ms,
                        short_window: *short_window,
                        failed: *failed,
                        connect_per_request: *connect_per_request,
                    },
                );
                w.pick(
                    format!(
                        "Little's law misses by {off}% at {c} ({r} req/s × {l} ms = {i}, past the {t}% it is held to): {why}."
                    ),
                    format!(
                        "A lei de Little erra por {off}% com {c} ({r} req/s × {l} ms = {i}, além dos {t}% tolerados): {why}."
                    ),
                )
            }
            Errors {
                clients,
                failed,
                by_kind,
            } => {
                let (c, n) = (w.count(*clients, CLIENT), w.count(*failed, REQUEST));
                let verb = w.word(*failed, word(["failed", "failed"], ["falhou", "falharam"]));
                let kinds = w.error_kinds(by_kind);
                w.pick(
                    format!("At {c}, {n} {verb} ({kinds})."),
                    format!("Com {c}, {n} {verb} ({kinds})."),
                )
            }
            ListenOverflow { clients, overflows } => {
                let (c, n) = (w.count(*clients, CLIENT), w.count(*overflows, TIME));
                w.pick(
                    format!(
                        "At {c} the listen queue overflowed {n}: connections waited for the kernel to retry their handshake, which shows up as long tail latency."
                    ),
                    format!(
                        "Com {c} a fila de escuta transbordou {n}: conexões esperaram o kernel repetir o handshake, o que aparece como latência de cauda alta."
                    ),
                )
            }
            SynRetransmission {
                clients,
                backlog,
                overflows,
                step,
                p50_ms,
                p99_ms,
            } => super::syn::sentence(
                w,
                &super::syn::Seen {
                    clients: *clients,
                    backlog: *backlog,
                    overflows: *overflows,
                    step: *step,
                    p50_ms: *p50_ms,
                    p99_ms: *p99_ms,
                },
            ),
            Starvation {
                clients,
                fewest,
                most,
            } => {
                let c = w.count(*clients, CLIENT);
                let (min, max) = (w.count(*fewest, REQUEST), w.int(*most));
                w.pick(
                    format!(
                        "At {c} some client completed {min} while another completed {max}: the server served some clients to the end while others waited (starvation)."
                    ),
                    format!(
                        "Com {c} algum cliente completou {min} enquanto outro completou {max}: o servidor atendeu alguns clientes até o fim enquanto outros esperavam (inanição)."
                    ),
                )
            }
            Unfinished {
                clients,
                waiting,
                oldest_ms,
            } => {
                let (c, n) = (w.count(*clients, CLIENT), w.count(*waiting, REQUEST));
                let waited = w.word(*waiting, word(["was", "were"], ["esperava", "esperavam"]));
                let age = w.time(*oldest_ms);
                w.pick(
                    format!(
                        "At {c}, {n} {waited} still waiting when the cell ended, the oldest for {age} ms."
                    ),
                    format!(
                        "Com {c}, {n} ainda {waited} quando a célula terminou, a mais antiga há {age} ms."
                    ),
                )
            }
            Resources {
                clients,
                threads,
                processes,
                pss_mib,
                cpu_cores,
            } => {
                let c = w.count(*clients, CLIENT);
                let (t, p) = (w.count(*threads, THREAD), w.count(*processes, PROCESS));
                let (m, u) = (w.num(*pss_mib, 1), w.num(*cpu_cores, 2));
                w.pick(
                    format!(
                        "At {c} the server ran {t} in {p} and used {m} MiB (PSS) and {u} cores."
                    ),
                    format!(
                        "Com {c} o servidor rodou {t} em {p} e usou {m} MiB (PSS) e {u} núcleos."
                    ),
                )
            }
            GlobalLock {
                clients,
                threads,
                most_cores,
                cores,
            } => {
                let (c, t) = (w.count(*clients, CLIENT), w.count(*threads, THREAD));
                let (u, n) = (w.num(*most_cores, 2), w.count(*cores, CORE));
                w.pick(
                    format!("With {c} it ran {t}, yet never kept more than {u} of the {n} busy while computing: its threads took turns on one core, as under a global lock. CPython's GIL is one: a single thread runs Python code at a time, so threads overlap waiting but not computing, and processes (a GIL each) compute in parallel."),
                    format!("Com {c} rodou {t}, mas nunca ocupou mais que {u} dos {n} enquanto computava: suas threads se revezaram em um núcleo, como sob uma trava global. O GIL do CPython é uma: uma só thread executa código Python por vez, então threads sobrepõem esperas mas não computação, e processos (cada um com seu GIL) computam em paralelo."),
                )
            }
            OneLoop {
                clients,
                most_cores,
                cores,
            } => {
                let c = w.count(*clients, CLIENT);
                let (u, n) = (w.num(*most_cores, 2), w.count(*cores, CORE));
                w.pick(
                    format!("With {c} one thread did all the computing: never more than {u} of the {n} busy. While it computes, its loop serves nobody else; only more processes would use the other cores."),
                    format!("Com {c} uma só thread fez toda a computação: nunca mais que {u} dos {n} ocupados. Enquanto ela computa, seu laço não atende mais ninguém; só mais processos usariam os outros núcleos."),
                )
            }
            Held {
                clients,
                held,
                open_s,
                kib_per_connection,
                threads,
                processes,
            } => {
                let (c, h) = (w.count(*clients, CLIENT), w.count(*held, CONNECTION));
                let (s, k) = (w.num(*open_s, 2), w.kib(*kib_per_connection));
                let (t, p) = (w.count(*threads, THREAD), w.count(*processes, PROCESS));
                w.pick(
                    format!(
                        "At {c} it held {h}, opened in {s} s, at {k} KiB (PSS) per connection, with {t} in {p}."
                    ),
                    format!(
                        "Com {c} manteve {h}, abertas em {s} s, a {k} KiB (PSS) por conexão, com {t} em {p}."
                    ),
                )
            }
            HeldFewer {
                clients,
                asked,
                held,
                concurrency,
                threads,
                processes,
                closed,
                overflows,
            } => {
                let (c, h, a) = (
                    w.count(*clients, CLIENT),
                    w.int(*held),
                    w.count(*asked, CONNECTION),
                );
                let (t, p) = (w.count(*threads, THREAD), w.count(*processes, PROCESS));
                let cause = if *closed > 0 {
                    let n = w.count(*closed, CONNECTION);
                    w.pick(
                        format!("it closed {n} it had answered before the hold ended (an idle timeout or a cap on connections)"),
                        format!("fechou {n} que já tinha respondido antes do fim da espera (um tempo limite de ociosidade ou um limite de conexões)"),
                    )
                } else {
                    let cap = match concurrency {
                        Some(k) => {
                            let k = w.count(*k, CONNECTION);
                            w.pick(
                                format!("it serves at most {k} at once (it ran {t} in {p})"),
                                format!("atende no máximo {k} por vez (rodou {t} em {p})"),
                            )
                        }
                        None => w.pick(
                            format!("it answered no more (it ran {t} in {p})"),
                            format!("não respondeu mais (rodou {t} em {p})"),
                        ),
                    };
                    let queue = if *overflows > 0 {
                        let n = w.count(*overflows, TIME);
                        w.pick(
                            format!(", and past the queue, which overflowed {n}, the kernel dropped the connection requests"),
                            format!(", e além da fila, que transbordou {n}, o kernel descartou os pedidos de conexão"),
                        )
                    } else {
                        String::new()
                    };
                    w.pick(
                        format!("{cap}, so the others waited unanswered in the listen queue until the client gave up{queue}"),
                        format!("{cap}, então as outras esperaram sem resposta na fila de escuta até o cliente desistir{queue}"),
                    )
                };
                w.pick(
                    format!("At {c} it held only {h} of {a}: {cause}."),
                    format!("Com {c} manteve apenas {h} de {a}: {cause}."),
                )
            }
            OffPrediction { clients } => {
                let n = w.count(clients.len(), CELL);
                let differ = w.word(
                    clients.len(),
                    word(["differs", "differ"], ["difere", "diferem"]),
                );
                let cells: Vec<String> = clients.iter().map(|c| w.int(*c)).collect();
                let cells = cells.join(", ");
                let noun = w.word(clients.last().copied().unwrap_or(0), CLIENT);
                w.pick(
                    format!(
                        "{n} {differ} from the prediction by more than 25%: at {cells} {noun}."
                    ),
                    format!("{n} {differ} da previsão em mais de 25%: com {cells} {noun}."),
                )
            }
        }
    }
}

//! What can be said comparing the models under one work — the fastest, the lightest, threads against the
//! sequential server, the CPU ceiling — and the conclusion's choice of a model per work, in both languages.

use std::time::Duration;

use super::words::{CLIENT, CORE, Writer, word};

/// Close throughputs, with a decimal more than usual below 100 req/s, so that a tie's two figures differ
/// (`20.1 to 19.5`, not `20 to 20`).
fn close_rps(w: Writer, x: f64) -> String {
    w.num(x, if x < 100.0 { 1 } else { 0 })
}

const RUN: super::words::Word = word(["run", "runs"], ["execução", "execuções"]);
use crate::experiment::analysis::comparison::AS_FAST_AS_THE_BEST;
use crate::experiment::catalog::Lang;
use crate::experiment::subject::Subject;

/// The models compared under one work.
#[derive(Clone, Debug, PartialEq)]
pub enum Comparison {
    /// The fastest and the slowest model.
    Best {
        clients: usize,
        best: Subject,
        best_rps: f64,
        worst: Subject,
        worst_rps: f64,
    },
    /// The models at the top served within the noise of each other: no winner. `noise_pct` is the spread
    /// between repeats (`measured`) or the stated noise of one run; `worst` the least served, if not tied.
    Tie {
        clients: usize,
        models: Vec<Subject>,
        best_rps: f64,
        last_rps: f64,
        noise_pct: f64,
        measured: bool,
        worst: Option<(Subject, f64)>,
    },
    /// The cheapest of the models about as fast as the best.
    Lightest {
        model: Subject,
        threads: u64,
        pss_mib: f64,
    },
    /// Threads beat the sequential server on waiting work.
    ThreadsHelped { ratio: f64, clients: usize },
    /// Threads beat the sequential server on computation, up to the cores.
    ThreadsHelpedCores {
        ratio: f64,
        clients: usize,
        cores: usize,
    },
    /// Threads barely beat the sequential server on computation.
    ThreadsNoHelpCpu {
        ratio: f64,
        clients: usize,
        cores: usize,
        ceiling_rps: f64,
    },
    /// Threads did not beat the sequential server.
    ThreadsNoHelp { ratio: f64, clients: usize },
    /// The sequential server, against the best model.
    SequentialLesson {
        sequential_rps: f64,
        clients: usize,
        best: Subject,
        best_rps: f64,
    },
    /// The throughput the cores allow, against the best reached.
    CpuCeiling {
        ceiling_rps: f64,
        cores: usize,
        per_request: Duration,
        best_rps: f64,
    },
    /// Hold cells: of the servers that held every connection at `clients`, the one that paid least per
    /// connection (KiB of PSS), the one that paid most (when another held them all), and those that held fewer.
    CheapestPerConnection {
        clients: usize,
        model: Subject,
        kib: f64,
        dearest: Option<(Subject, f64)>,
        fewer: Vec<Subject>,
    },
}

/// The conclusion: which model to choose for a work (`work` is its spec, `sleep:50ms`).
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    /// Waiting work: the model that overlapped waits best.
    Io {
        work: String,
        model: Subject,
        rps: f64,
        clients: usize,
    },
    /// Computation: the model that came closest to the cores' ceiling.
    Cpu {
        work: String,
        model: Subject,
        rps: f64,
        ceiling_rps: f64,
    },
    /// Blocking calls: the model that kept serving around them.
    Block {
        work: String,
        model: Subject,
        rps: f64,
    },
    /// The models at the top tied: repeats, not this run, can tell them apart.
    Tie {
        work: String,
        models: Vec<Subject>,
        best_rps: f64,
        last_rps: f64,
        repeats: usize,
        suggested: usize,
    },
    /// No work: the model whose own cost is least.
    NoWork {
        work: String,
        model: Subject,
        rps: f64,
        clients: usize,
    },
    /// Among the servers started by command: the one to choose, and the thread server a global lock held to
    /// one core while computing, when there was one.
    Theirs {
        work: String,
        best: Subject,
        rps: f64,
        clients: usize,
        computing: bool,
        locked: Option<(Subject, f64)>,
    },
}

impl Comparison {
    /// The kind's stable name (`threads_helped`).
    pub fn key(&self) -> &'static str {
        use Comparison::*;
        match self {
            Best { .. } => "best",
            Tie { .. } => "tie",
            Lightest { .. } => "lightest",
            ThreadsHelped { .. } => "threads_helped",
            ThreadsHelpedCores { .. } => "threads_helped_cores",
            ThreadsNoHelpCpu { .. } => "threads_no_help_cpu",
            ThreadsNoHelp { .. } => "threads_no_help",
            SequentialLesson { .. } => "sequential_lesson",
            CpuCeiling { .. } => "cpu_ceiling",
            CheapestPerConnection { .. } => "cheapest_per_connection",
        }
    }

    /// The finding as a sentence in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        use Comparison::*;
        let w = Writer(lang);
        match self {
            CheapestPerConnection {
                clients,
                model,
                kib,
                dearest,
                fewer,
            } => {
                let (c, k) = (w.count(*clients, CLIENT), w.kib(*kib));
                let first = match dearest {
                    Some((other, other_kib)) => {
                        let k2 = w.kib(*other_kib);
                        w.pick(
                            format!("At {c}, of the servers that held every connection, {model} paid least for one: {k} KiB (PSS), and {other} most: {k2} KiB."),
                            format!("Com {c}, dos servidores que mantiveram todas as conexões, {model} pagou menos por uma: {k} KiB (PSS), e {other} mais: {k2} KiB."),
                        )
                    }
                    None => w.pick(
                        format!(
                            "At {c} only {model} held every connection, at {k} KiB (PSS) each."
                        ),
                        format!(
                            "Com {c} só {model} manteve todas as conexões, a {k} KiB (PSS) cada."
                        ),
                    ),
                };
                if fewer.is_empty() {
                    return first;
                }
                let list = w.model_list(fewer);
                let n = fewer.len();
                let who = w.word(
                    n,
                    word(
                        ["The server", "The servers"],
                        ["O servidor", "Os servidores"],
                    ),
                );
                let held = w.word(n, word(["held", "held"], ["manteve", "mantiveram"]));
                let cost = w.word(
                    n,
                    word(
                        ["its cost", "their cost"],
                        ["o custo dele", "o custo deles"],
                    ),
                );
                w.pick(
                    format!("{first} {who} {list} {held} fewer: {cost} per connection is not comparable."),
                    format!("{first} {who} {list} {held} menos: {cost} por conexão não é comparável."),
                )
            }
            Best {
                clients,
                best,
                best_rps,
                worst,
                worst_rps,
            } => {
                let c = w.count(*clients, CLIENT);
                let (r, rw) = (w.rps(*best_rps), w.rps(*worst_rps));
                w.pick(
                    format!("With {c}, {best} served the most: {r} req/s; {worst} served the least: {rw} req/s."),
                    format!("Com {c}, {best} atendeu mais: {r} req/s; {worst} atendeu menos: {rw} req/s."),
                )
            }
            Tie {
                clients,
                models,
                best_rps,
                last_rps,
                noise_pct,
                measured,
                worst,
            } => {
                let (c, names) = (w.count(*clients, CLIENT), w.model_list(models));
                let (r1, r2) = (close_rps(w, *best_rps), close_rps(w, *last_rps));
                let gap = w.num((best_rps - last_rps) / best_rps.max(1e-9) * 100.0, 0);
                let noise = w.num(*noise_pct, 0);
                let within = if *measured {
                    w.pick(
                        format!("the {noise}% their repeats spread over"),
                        format!("os {noise}% de variação entre as repetições"),
                    )
                } else {
                    w.pick(
                        format!("the {noise}% a single run can vary by"),
                        format!("os {noise}% que uma execução única pode variar"),
                    )
                };
                let least = worst.map_or(String::new(), |(model, rps)| {
                    let r = w.rps(rps);
                    w.pick(
                        format!(" {model} served the least: {r} req/s."),
                        format!(" {model} atendeu menos: {r} req/s."),
                    )
                });
                w.pick(
                    format!(
                        "With {c}, {names} served within {gap}% of each other ({r1} to {r2} req/s), no more than {within}: a tie, not a winner.{least}"
                    ),
                    format!(
                        "Com {c}, {names} atenderam a até {gap}% um do outro ({r1} a {r2} req/s), não mais que {within}: um empate, não um vencedor.{least}"
                    ),
                )
            }
            Lightest {
                model,
                threads,
                pss_mib,
            } => {
                let within = w.int(((1.0 - AS_FAST_AS_THE_BEST) * 100.0).round() as u64);
                let (t, m) = (w.int(*threads), w.num(*pss_mib, 1));
                w.pick(
                    format!(
                        "Among the servers within {within}% of the best, {model} used the fewest threads ({t}) and {m} MiB."
                    ),
                    format!(
                        "Entre os servidores a até {within}% do melhor, {model} foi o que usou menos threads ({t}) e {m} MiB."
                    ),
                )
            }
            ThreadsHelped { ratio, clients } => {
                let (x, c) = (w.num(*ratio, 1), w.count(*clients, CLIENT));
                w.pick(
                    format!(
                        "Threads helped: {x}x the sequential server's throughput at {c}, because the work was waiting, and waits overlap."
                    ),
                    format!(
                        "Threads ajudaram: {x}x a vazão do servidor sequencial com {c}, porque o trabalho era espera, e esperas se sobrepõem."
                    ),
                )
            }
            ThreadsHelpedCores {
                ratio,
                clients,
                cores,
            } => {
                let (x, c) = (w.num(*ratio, 1), w.count(*clients, CLIENT));
                let n = w.count(*cores, CORE);
                w.pick(
                    format!(
                        "Threads helped only as far as the cores go: {x}x the sequential server at {c}, on {n}. Computation overlaps only when there is a free core to run it."
                    ),
                    format!(
                        "Threads ajudaram só até onde vão os núcleos: {x}x o servidor sequencial com {c}, em {n}. Computação só se sobrepõe quando há um núcleo livre para executá-la."
                    ),
                )
            }
            ThreadsNoHelpCpu {
                ratio,
                clients,
                cores,
                ceiling_rps,
            } => {
                let (x, c) = (w.num(*ratio, 1), w.count(*clients, CLIENT));
                let (n, p) = (w.count(*cores, CORE), w.rps(*ceiling_rps));
                let compute = w.word(
                    *cores,
                    word(["computes", "compute"], ["computa", "computam"]),
                );
                let share = w.word(
                    *cores,
                    word(["share it", "share them"], ["o dividam", "os dividam"]),
                );
                w.pick(
                    format!(
                        "Threads did not help much ({x}x the sequential server at {c}): the work was computation, and {n} {compute} at most {p} req/s however many threads {share}."
                    ),
                    format!(
                        "Threads ajudaram pouco ({x}x o servidor sequencial com {c}): o trabalho era computação, e {n} {compute} no máximo {p} req/s, não importa quantas threads {share}."
                    ),
                )
            }
            ThreadsNoHelp { ratio, clients } => {
                let (x, c) = (w.num(*ratio, 1), w.count(*clients, CLIENT));
                w.pick(
                    format!(
                        "Threads did not help ({x}x the sequential server at {c}): something other than waiting was the limit."
                    ),
                    format!(
                        "Threads não ajudaram ({x}x o servidor sequencial com {c}): o limite era outra coisa que não a espera."
                    ),
                )
            }
            SequentialLesson {
                sequential_rps,
                clients,
                best,
                best_rps,
            } => {
                let (r, c) = (w.rps(*sequential_rps), w.count(*clients, CLIENT));
                let rb = w.rps(*best_rps);
                w.pick(
                    format!(
                        "The sequential server never did better than one request at a time: {r} req/s at {c}, where {best} did {rb} req/s."
                    ),
                    format!(
                        "O servidor sequencial nunca fez melhor que uma requisição por vez: {r} req/s com {c}, enquanto {best} fez {rb} req/s."
                    ),
                )
            }
            CpuCeiling {
                ceiling_rps,
                cores,
                per_request,
                best_rps,
            } => {
                let (p, n) = (w.rps(*ceiling_rps), w.count(*cores, CORE));
                let (d, r) = (w.duration(*per_request), w.rps(*best_rps));
                w.pick(
                    format!("The cores set the ceiling for computation at {p} req/s ({n} / {d}); the best model reached {r} req/s."),
                    format!(
                        "Os núcleos põem o teto da computação em {p} req/s ({n} / {d}); o melhor modelo chegou a {r} req/s."
                    ),
                )
            }
        }
    }
}

impl Choice {
    /// The kind's stable name (`threads_helped`).
    pub fn key(&self) -> &'static str {
        use Choice::*;
        match self {
            Io { .. } => "choose_io",
            Cpu { .. } => "choose_cpu",
            Block { .. } => "choose_block",
            NoWork { .. } => "choose_none",
            Tie { .. } => "choose_tie",
            Theirs {
                locked: Some(_), ..
            } => "choose_theirs_locked",
            Theirs { .. } => "choose_theirs",
        }
    }

    /// The finding as a sentence in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        use Choice::*;
        let w = Writer(lang);
        match self {
            Io {
                work,
                model,
                rps,
                clients,
            } => {
                let (r, c) = (w.rps(*rps), w.count(*clients, CLIENT));
                w.pick(
                    format!(
                        "For I/O-bound work ({work}), choose {model}: it served the most ({r} req/s at {c}) by overlapping waits."
                    ),
                    format!(
                        "Para trabalho limitado por E/S ({work}), escolha {model}: atendeu mais ({r} req/s com {c}) ao sobrepor as esperas."
                    ),
                )
            }
            Cpu {
                work,
                model,
                rps,
                ceiling_rps,
            } => {
                let (r, p) = (w.rps(*rps), w.rps(*ceiling_rps));
                w.pick(
                    format!(
                        "For CPU-bound work ({work}), the cores decide: {model} came closest ({r} req/s of a {p} req/s ceiling); more threads than cores only add switching."
                    ),
                    format!(
                        "Para trabalho limitado por CPU ({work}), os núcleos decidem: {model} chegou mais perto ({r} req/s de um teto de {p} req/s); mais threads que núcleos só acrescentam trocas de contexto."
                    ),
                )
            }
            Block { work, model, rps } => {
                let r = w.rps(*rps);
                w.pick(
                    format!(
                        "For blocking calls ({work}), {model} served the most ({r} req/s): an event loop must hand blocking calls to helper threads or it serves one request at a time."
                    ),
                    format!(
                        "Para chamadas bloqueantes ({work}), {model} atendeu mais ({r} req/s): um laço de eventos precisa entregar chamadas bloqueantes a threads auxiliares, senão atende uma requisição por vez."
                    ),
                )
            }
            Tie {
                work,
                models,
                best_rps,
                last_rps,
                repeats,
                suggested,
            } => {
                let names = w.model_list(models);
                let (r1, r2) = (close_rps(w, *best_rps), close_rps(w, *last_rps));
                let (n, k) = (w.count(*repeats, RUN), w.int(*suggested));
                w.pick(
                    format!(
                        "For {work}, {names} tied ({r1} to {r2} req/s, a gap within the noise of {n} per cell): no choice between them follows from this run; run it with --repeat {k} to separate them."
                    ),
                    format!(
                        "Para {work}, {names} empataram ({r1} a {r2} req/s, uma diferença dentro do ruído de {n} por célula): esta execução não permite escolher entre eles; rode com --repeat {k} para separá-los."
                    ),
                )
            }
            NoWork {
                work,
                model,
                rps,
                clients,
            } => {
                let (r, c) = (w.rps(*rps), w.count(*clients, CLIENT));
                w.pick(
                    format!(
                        "With no extra work ({work}), {model} served the most ({r} req/s at {c}): the cost of the model itself decides."
                    ),
                    format!(
                        "Sem trabalho extra ({work}), {model} atendeu mais ({r} req/s com {c}): o custo do próprio modelo decide."
                    ),
                )
            }
            Theirs {
                work,
                best,
                rps,
                clients,
                computing,
                locked,
            } => {
                let (r, c) = (w.rps(*rps), w.count(*clients, CLIENT));
                let first = w.pick(
                    format!("Among the servers started by command, for {work} choose {best}: it served the most ({r} req/s at {c})."),
                    format!("Entre os servidores iniciados por comando, para {work} escolha {best}: atendeu mais ({r} req/s com {c})."),
                );
                let then = match (computing, locked) {
                    (true, Some((locked, locked_rps))) => {
                        let l = w.rps(*locked_rps);
                        w.pick(
                            format!(" {locked} served {l}: its threads took turns on one core, as CPython's GIL makes them. In Python, compute in processes (multiprocessing, ProcessPoolExecutor, a forking server), up to one per core; threads and asyncio are for waiting."),
                            format!(" {locked} atendeu {l}: suas threads se revezaram em um núcleo, como o GIL do CPython as obriga. Em Python, compute em processos (multiprocessing, ProcessPoolExecutor, um servidor com fork), até um por núcleo; threads e asyncio são para esperar."),
                        )
                    }
                    (true, None) => w.pick(
                        " For computing, what counts is how many cores its requests can use at once.".to_string(),
                        " Para computar, o que conta é quantos núcleos suas requisições podem usar ao mesmo tempo.".to_string(),
                    ),
                    (false, _) => w.pick(
                        " For waiting, what counts is how many requests it overlaps: threads, coroutines (asyncio) and processes all overlap waits; a sequential or select() server that blocks does not.".to_string(),
                        " Para esperar, o que conta é quantas requisições ele sobrepõe: threads, corrotinas (asyncio) e processos sobrepõem esperas; um servidor sequencial ou um select() que bloqueia, não.".to_string(),
                    ),
                };
                format!("{first}{then}")
            }
        }
    }
}

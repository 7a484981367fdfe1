//! Misses: a cell off its prediction, and why, and how all the cells stand.

use super::words::{CELL, CLIENT, CORE, REQUEST, SLOW_CONNECTION, THREAD, Writer, word};
use crate::experiment::catalog::Lang;
use crate::experiment::subject::Subject;

/// Why a cell missed its prediction, as its own measurements tell.
#[derive(Clone, Debug, PartialEq)]
pub enum MissReason {
    /// Server and load generator shared the machine's cores.
    GeneratorCrowding {
        server_cores: f64,
        generator_cores: f64,
        cores: usize,
    },
    /// Other processes on the machine kept cores busy during the cell.
    OtherProcesses {
        other_cores: f64,
        machine_cores: f64,
        cores: usize,
    },
    /// Computing, the server kept fewer cores busy than its clients could, with cores to spare.
    IdleCores {
        server_cores: f64,
        could_use: f64,
        machine_cores: f64,
        cores: usize,
    },
    /// Computing, the server spent more CPU per request than the work.
    ServerOverhead {
        cpu_per_request_ms: f64,
        work_ms: f64,
    },
    /// A connection per request: the time per request beyond the work is connection set-up.
    ConnectionSetup {
        per_request_ms: f64,
        work_ms: f64,
    },
    /// Not every client was served once before measuring began (the ramp outlasted its limit).
    NotAllServed {
        clients: usize,
        measured_from_ms: u64,
    },
    ListenOverflow {
        overflows: u64,
    },
    Errors {
        failed: u64,
    },
    SlowConnections {
        connections: usize,
    },
    /// Computing, the server kept one core busy though it could have used more (a global lock, or one loop).
    OneCore {
        threads: u64,
        server_cores: f64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Miss {
    /// A cell more than 10% off its prediction, with every reason its measurements give (none: unexplained).
    Cell {
        model: Subject,
        clients: usize,
        measured: f64,
        predicted: f64,
        reasons: Vec<MissReason>,
    },
    /// How the cells stand against their predictions.
    Summary {
        cells: usize,
        within_miss: usize,
        within_close: usize,
        misses: usize,
        explained: usize,
    },
}

const OVERFLOW: super::words::Word = word(["overflow", "overflows"], ["estouro", "estouros"]);

impl Miss {
    /// The kind's stable name.
    pub fn key(&self) -> &'static str {
        match self {
            Miss::Cell { reasons, .. } if reasons.is_empty() => "miss_unexplained",
            Miss::Cell { .. } => "miss_explained",
            Miss::Summary { .. } => "predictions_summary",
        }
    }

    /// The finding as a sentence in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let w = Writer(lang);
        match self {
            Miss::Cell {
                model,
                clients,
                measured,
                predicted,
                reasons,
            } => {
                let c = w.count(*clients, CLIENT);
                let (m, p) = (w.rps(*measured), w.rps(*predicted));
                let gap = w.num(
                    ((measured - predicted).abs() / predicted * 100.0).round(),
                    0,
                );
                let under = measured < predicted;
                let head = w.pick(
                    format!(
                        "{model} at {c}: {m} req/s, {gap}% {} the predicted {p}",
                        if under { "under" } else { "over" }
                    ),
                    format!(
                        "{model} com {c}: {m} req/s, {gap}% {} dos {p} previstos",
                        if under { "abaixo" } else { "acima" }
                    ),
                );
                if reasons.is_empty() {
                    return w.pick(
                        format!("{head}: unexplained — none of this cell's measurements accounts for it."),
                        format!("{head}: sem explicação — nenhuma medida desta célula dá conta disso."),
                    );
                }
                let why: Vec<String> = reasons.iter().map(|r| reason(w, r)).collect();
                format!("{head}: {}.", why.join("; "))
            }
            Miss::Summary {
                cells,
                within_miss,
                within_close,
                misses,
                explained,
            } => {
                let n = w.count(*cells, CELL);
                let (a, b) = (w.int(*within_miss), w.int(*within_close));
                let (m, e) = (w.int(*misses), w.int(*explained));
                let left = misses - explained;
                let unexplained = w.int(left);
                let have = w.word(*explained, word(["has", "have"], ["tem", "têm"]));
                let are = w.word(left, word(["is", "are"], ["está", "estão"]));
                w.pick(
                    format!(
                        "Of {n} with a prediction, {a} landed within 10% of it and {b} within 25%; of the {m} farther than 10%, {e} {have} a reason in their own measurements and {unexplained} {are} unexplained."
                    ),
                    format!(
                        "Das {n} com previsão, {a} ficaram a até 10% dela e {b} a até 25%; das {m} mais longe que 10%, {e} {have} um motivo nas próprias medidas e {unexplained} {are} sem explicação."
                    ),
                )
            }
        }
    }
}

/// One reason, as a clause.
fn reason(w: Writer, reason: &MissReason) -> String {
    match reason {
        MissReason::GeneratorCrowding {
            server_cores,
            generator_cores,
            cores,
        } => {
            let (s, g) = (w.num(*server_cores, 2), w.num(*generator_cores, 2));
            let n = w.count(*cores, CORE);
            w.pick(
                format!("the load generator shared the cores (server {s} + generator {g} of {n})"),
                format!(
                    "o gerador de carga dividiu os núcleos (servidor {s} + gerador {g} de {n})"
                ),
            )
        }
        MissReason::OtherProcesses {
            other_cores,
            machine_cores,
            cores,
        } => {
            let (o, m) = (w.num(*other_cores, 2), w.num(*machine_cores, 2));
            let n = w.count(*cores, CORE);
            w.pick(
                format!(
                    "other processes on the machine kept {o} cores busy (all together {m} of {n})"
                ),
                format!("outros processos na máquina ocuparam {o} núcleos (ao todo {m} de {n})"),
            )
        }
        MissReason::IdleCores {
            server_cores,
            could_use,
            machine_cores,
            cores,
        } => {
            let (s, c, m) = (
                w.num(*server_cores, 2),
                w.num(*could_use, 0),
                w.num(*machine_cores, 2),
            );
            let n = w.count(*cores, CORE);
            w.pick(
                format!("cores sat idle: the server kept {s} of the {c} its clients could keep busy, the machine {m} of {n}; between a reply and the next request, the clients' turn-around on the same cores left the server waiting"),
                format!("núcleos ficaram ociosos: o servidor ocupou {s} dos {c} que seus clientes poderiam ocupar, a máquina {m} de {n}; entre uma resposta e a próxima requisição, a volta dos clientes nos mesmos núcleos deixou o servidor esperando"),
            )
        }
        MissReason::ServerOverhead {
            cpu_per_request_ms,
            work_ms,
        } => {
            let (x, d) = (w.time(*cpu_per_request_ms), w.time(*work_ms));
            w.pick(
                format!("the server spent {x} ms of CPU per request for {d} ms of work (switching between threads, system calls)"),
                format!("o servidor gastou {x} ms de CPU por requisição para {d} ms de trabalho (trocas entre threads, chamadas de sistema)"),
            )
        }
        MissReason::ConnectionSetup {
            per_request_ms,
            work_ms,
        } => {
            let (r, d) = (w.time(*per_request_ms), w.time(*work_ms));
            w.pick(
                format!("each request also opened and closed a connection ({r} ms per request against {d} ms of work)"),
                format!("cada requisição também abriu e fechou uma conexão ({r} ms por requisição contra {d} ms de trabalho)"),
            )
        }
        MissReason::NotAllServed {
            clients,
            measured_from_ms,
        } => {
            let c = w.count(*clients, CLIENT);
            let t = w.int(*measured_from_ms);
            w.pick(
                format!("not all {c} had been served once when measuring began, at {t} ms (the ramp outlasted its limit)"),
                format!("nem todos os {c} tinham sido atendidos uma vez quando a medição começou, aos {t} ms (a subida passou do limite)"),
            )
        }
        MissReason::ListenOverflow { overflows } => {
            let n = w.count(*overflows, OVERFLOW);
            w.pick(
                format!("the listen queue overflowed ({n}): dropped connection requests were retried a second later"),
                format!("a fila de escuta estourou ({n}): pedidos de conexão descartados foram repetidos um segundo depois"),
            )
        }
        MissReason::Errors { failed } => {
            let n = w.count(*failed, REQUEST);
            let failed_word = w.word(*failed, word(["failed", "failed"], ["falhou", "falharam"]));
            format!("{n} {failed_word}")
        }
        MissReason::OneCore {
            threads,
            server_cores,
        } => {
            let s = w.num(*server_cores, 2);
            if *threads > 1 {
                let t = w.count(*threads, THREAD);
                w.pick(
                    format!("it computed on one core ({s} busy) with {t}: they took turns, as under a global lock (such as CPython's GIL)"),
                    format!("computou em um núcleo ({s} ocupados) com {t}: elas se revezaram, como sob uma trava global (como o GIL do CPython)"),
                )
            } else {
                w.pick(
                    format!("one thread did all the computing ({s} cores busy)"),
                    format!("uma só thread fez toda a computação ({s} núcleos ocupados)"),
                )
            }
        }
        MissReason::SlowConnections { connections } => {
            let n = w.count(*connections, SLOW_CONNECTION);
            let held = w.word(
                *connections,
                word(["held", "held"], ["prendeu", "prenderam"]),
            );
            w.pick(
                format!("{n} {held} part of the server"),
                format!("{n} {held} parte do servidor"),
            )
        }
    }
}

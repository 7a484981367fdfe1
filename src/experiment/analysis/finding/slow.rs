//! What can be said about slow (slowloris) connections beside the clients — which models they starved, whether
//! a header deadline freed them — and how each is said in both languages.

use super::words::{CELL, CLIENT, SLOW_CONNECTION, Writer, word};
use crate::experiment::catalog::Lang;
use crate::experiment::subject::Subject;

/// Slow connections beside the clients.
#[derive(Clone, Debug, PartialEq)]
pub enum SlowFinding {
    /// Slow connections starved the clients.
    Starved {
        slow: usize,
        rps: f64,
        clients: usize,
        expected_rps: f64,
        starved_cells: usize,
        cells: usize,
    },
    /// Slow connections starved the clients even with a header deadline.
    StarvedDeadline {
        deadline: String,
        slow: usize,
        rps: f64,
        clients: usize,
        expected_rps: f64,
    },
    /// A header deadline closed the slow connections and the clients were served again.
    Freed {
        deadline: String,
        closed: u64,
        first_close_s: f64,
        last_close_s: f64,
        answered: u64,
        statuses: Vec<u16>,
        rps: f64,
        clients: usize,
        rps_without_deadline: f64,
    },
    /// The slow connections held up nobody.
    Unharmed {
        slow: usize,
        rps: f64,
        clients: usize,
    },
    /// Which models slow connections starved, and which went on serving.
    Summary {
        slow: usize,
        starved: Vec<Subject>,
        serving: Vec<Subject>,
    },
}

impl SlowFinding {
    /// The kind's stable name (`threads_helped`).
    pub fn key(&self) -> &'static str {
        use SlowFinding::*;
        match self {
            Starved { .. } => "slow_starved",
            StarvedDeadline { .. } => "slow_starved_deadline",
            Freed { .. } => "slow_freed",
            Unharmed { .. } => "slow_unharmed",
            Summary { .. } => "slow_summary",
        }
    }

    /// The finding as a sentence in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        use SlowFinding::*;
        let w = Writer(lang);
        match self {
            Starved {
                slow,
                rps,
                clients,
                expected_rps,
                starved_cells,
                cells,
            } => {
                let s = w.count(*slow, SLOW_CONNECTION);
                let finished = w.word(
                    *slow,
                    word(["finished", "finished"], ["terminou", "terminaram"]),
                );
                let (r, c, e) = (w.rps(*rps), w.count(*clients, CLIENT), w.rps(*expected_rps));
                let (n, m) = (w.int(*starved_cells), w.count(*cells, CELL));
                w.pick(
                    format!(
                        "Beside {s} that never {finished} a request head, it served {r} req/s at {c}, where {e} req/s was expected (starved in {n} of {m}): a model that gives each connection a thread or a worker (or a process) can be starved by connections that never finish a request; an event loop is not; a header deadline (nginx's client_header_timeout) frees them."
                    ),
                    format!(
                        "Ao lado de {s} que nunca {finished} o cabeçalho da requisição, atendeu {r} req/s com {c}, quando se esperava {e} req/s (inanição em {n} de {m}): um modelo que dá a cada conexão uma thread ou um worker (ou um processo) pode sofrer inanição por conexões que nunca terminam uma requisição; um laço de eventos, não; um prazo para o cabeçalho (o client_header_timeout do nginx) libera as threads e os workers."
                    ),
                )
            }
            StarvedDeadline {
                deadline,
                slow,
                rps,
                clients,
                expected_rps,
            } => {
                let s = w.count(*slow, SLOW_CONNECTION);
                let (r, c, e) = (w.rps(*rps), w.count(*clients, CLIENT), w.rps(*expected_rps));
                w.pick(
                    format!(
                        "Even with a header deadline of {deadline}, beside {s} it served {r} req/s at {c}, where {e} req/s was expected: each slow connection still holds a worker for up to {deadline}, and a server that serves connections one (or a few) at a time waits for every one of them in turn."
                    ),
                    format!(
                        "Mesmo com prazo de {deadline} para o cabeçalho, ao lado de {s} atendeu {r} req/s com {c}, quando se esperava {e} req/s: cada conexão lenta ainda prende um worker por até {deadline}, e um servidor que atende uma conexão (ou poucas) por vez espera por cada uma delas, uma após a outra."
                    ),
                )
            }
            Freed {
                deadline,
                closed,
                first_close_s,
                last_close_s,
                answered,
                statuses,
                rps,
                clients,
                rps_without_deadline,
            } => {
                let k = w.count(*closed, SLOW_CONNECTION);
                let (t1, t2) = (w.time(*first_close_s), w.time(*last_close_s));
                let a = w.int(*answered);
                let codes: Vec<String> = statuses.iter().map(u16::to_string).collect();
                let codes = if codes.is_empty() {
                    "-".to_string()
                } else {
                    codes.join(", ")
                };
                let (r, c) = (w.rps(*rps), w.count(*clients, CLIENT));
                let r0 = w.rps(*rps_without_deadline);
                w.pick(
                    format!(
                        "With a header deadline of {deadline} the server closed {k} after {t1} to {t2} s ({a} with a status first: {codes}) and served {r} req/s at {c}, where without the deadline it served {r0} req/s: the deadline freed its workers."
                    ),
                    format!(
                        "Com prazo de {deadline} para o cabeçalho, o servidor fechou {k} depois de {t1} a {t2} s ({a} com um status antes: {codes}) e atendeu {r} req/s com {c}, quando sem o prazo atendeu {r0} req/s: o prazo liberou seus workers."
                    ),
                )
            }
            Unharmed { slow, rps, clients } => {
                let s = w.count(*slow, SLOW_CONNECTION);
                let held = w.word(
                    *slow,
                    word(
                        ["the slow connection", "the slow connections"],
                        [
                            "a conexão lenta não segurou",
                            "as conexões lentas não seguraram",
                        ],
                    ),
                );
                let (r, c) = (w.rps(*rps), w.count(*clients, CLIENT));
                w.pick(
                    format!(
                        "Beside {s} it still served {r} req/s at {c}: {held} held up nobody else (one event loop watches every connection, or each connection has a thread of its own)."
                    ),
                    format!(
                        "Ao lado de {s} ainda atendeu {r} req/s com {c}: {held} mais ninguém (um laço de eventos vigia todas as conexões, ou cada conexão tem sua própria thread)."
                    ),
                )
            }
            Summary {
                slow,
                starved,
                serving,
            } => {
                let s = w.count(*slow, SLOW_CONNECTION);
                let (starved, serving) = (w.models(starved), w.models(serving));
                w.pick(
                    format!("Beside {s}, starved: {starved}; still serving: {serving}."),
                    format!("Ao lado de {s}, em inanição: {starved}; ainda atendendo: {serving}."),
                )
            }
        }
    }
}

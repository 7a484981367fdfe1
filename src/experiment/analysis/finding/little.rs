//! Why Little's law missed at a cell, clause by clause, in both languages: what in the cell's own measurements
//! accounts for the gap between the clients and throughput × mean latency.

use super::words::{REQUEST, Writer, word};

/// What the cell measured that bears on the gap.
pub struct Gap {
    pub in_flight: u64,
    pub window_s: f64,
    pub mean_ms: f64,
    pub short_window: bool,
    pub failed: u64,
    pub connect_per_request: bool,
}

/// The reasons, joined into one clause list; "none accounts for it" when there is none.
pub fn reasons(w: Writer, g: &Gap) -> String {
    let mut why = Vec::new();
    if g.in_flight > 0 {
        let n = w.count(g.in_flight, REQUEST);
        why.push(w.pick(
            format!("{n} still in flight when the cell ended, which the mean latency leaves out"),
            format!("{n} ainda em andamento quando a célula terminou, que a latência média deixa de fora"),
        ));
    }
    if g.short_window {
        let s = w.num(g.window_s, 1);
        let k = w.num(g.window_s * 1000.0 / g.mean_ms.max(1e-9), 0);
        why.push(w.pick(
            format!("the cell measured {s} s, only {k} times the mean latency, so the requests cut by its start and end weigh on the figures"),
            format!("a célula mediu {s} s, só {k} vezes a latência média, então as requisições cortadas pelo início e pelo fim pesam nos números"),
        ));
    }
    if g.failed > 0 {
        let n = w.count(g.failed, REQUEST);
        let verb = w.word(g.failed, word(["failed", "failed"], ["falhou", "falharam"]));
        why.push(w.pick(
            format!("{n} {verb}, holding a client without a latency to count"),
            format!("{n} {verb}, ocupando um cliente sem latência para contar"),
        ));
    }
    if g.connect_per_request {
        why.push(w.pick(
            "with a connection per request, each client also closed its connection and started over outside the measured latency".to_string(),
            "com uma conexão por requisição, cada cliente também fechou sua conexão e recomeçou fora da latência medida".to_string(),
        ));
    }
    if why.is_empty() {
        why.push(w.pick(
            "none of this cell's measurements accounts for it".to_string(),
            "nenhuma medida desta célula dá conta disso".to_string(),
        ));
    }
    why.join("; ")
}

//! How SYN retransmission is said, in both languages: what the cell showed (overflows, the step in its
//! latencies, or both), then why a full listen queue costs about a second.

use super::words::{CLIENT, TIME, Writer};

/// What the cell showed.
pub struct Seen {
    pub clients: usize,
    pub backlog: i32,
    pub overflows: u64,
    pub step: bool,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The finding's sentences.
pub fn sentence(w: Writer, g: &Seen) -> String {
    let (c, b) = (w.count(g.clients, CLIENT), w.int(g.backlog.max(0) as u64));
    let (p99, p50) = (w.time(g.p99_ms), w.time(g.p50_ms));
    let seen = if g.overflows > 0 && !g.step {
        let n = w.count(g.overflows, TIME);
        w.pick(
            format!("At {c} the listen queue (backlog {b}) overflowed {n}, too few to reach the p99 latency ({p99} ms, median {p50} ms)."),
            format!("Com {c} a fila de escuta (backlog {b}) transbordou {n}, pouco para chegar à latência p99 ({p99} ms, mediana {p50} ms)."),
        )
    } else if g.overflows > 0 {
        let n = w.count(g.overflows, TIME);
        w.pick(
            format!("At {c} the listen queue (backlog {b}) overflowed {n} and the p99 latency reached {p99} ms against a median of {p50} ms."),
            format!("Com {c} a fila de escuta (backlog {b}) transbordou {n} e a latência p99 chegou a {p99} ms contra uma mediana de {p50} ms."),
        )
    } else {
        w.pick(
            format!("At {c} (listen backlog {b}) the p99 latency reached {p99} ms against a median of {p50} ms: a step of about a second."),
            format!("Com {c} (backlog de escuta {b}) a latência p99 chegou a {p99} ms contra uma mediana de {p50} ms: um degrau de cerca de um segundo."),
        )
    };
    w.pick(
        format!(
            "{seen} This is SYN retransmission: when the queue of connections waiting for accept() is full, Linux drops a new connection request (its SYN) without a word, and the client sends it again only when its retransmission timer expires: after 1 s, Linux's initial RTO (RFC 6298), and 3 s in all if it is dropped again (the timer doubles). That is why a full queue costs about a second, not milliseconds, and why some clients wait while others are served; a larger --backlog, or a server that accepts sooner, removes the step."
        ),
        format!(
            "{seen} É retransmissão de SYN: quando a fila de conexões esperando accept() está cheia, o Linux descarta o novo pedido de conexão (o SYN) sem avisar, e o cliente só o envia de novo quando seu temporizador de retransmissão expira: após 1 s, o RTO inicial do Linux (RFC 6298), e 3 s no total se for descartado de novo (o temporizador dobra). Por isso uma fila cheia custa cerca de um segundo, não milissegundos, e alguns clientes esperam enquanto outros são atendidos; um --backlog maior, ou um servidor que aceite mais cedo, elimina o degrau."
        ),
    )
}

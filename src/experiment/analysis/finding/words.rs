//! The helpers every finding's sentence is written with: numbers as each language writes them
//! ([`catalog::decimal`]), and words that agree with their numbers (`1 client`, `8 clientes`, `1 requisição
//! falhou`), so no sentence needs a "(s)".

use std::time::Duration;

use crate::experiment::catalog::{self, Lang};
use crate::experiment::subject::Subject;

/// A word's singular and plural, in each language.
#[derive(Clone, Copy)]
pub struct Word {
    en: [&'static str; 2],
    pt: [&'static str; 2],
}

pub const fn word(en: [&'static str; 2], pt: [&'static str; 2]) -> Word {
    Word { en, pt }
}

pub const CLIENT: Word = word(["client", "clients"], ["cliente", "clientes"]);
pub const REQUEST: Word = word(["request", "requests"], ["requisição", "requisições"]);
pub const CORE: Word = word(["core", "cores"], ["núcleo", "núcleos"]);
pub const THREAD: Word = word(["thread", "threads"], ["thread", "threads"]);
pub const PROCESS: Word = word(["process", "processes"], ["processo", "processos"]);
pub const CONNECTION: Word = word(["connection", "connections"], ["conexão", "conexões"]);
pub const CELL: Word = word(["cell", "cells"], ["célula", "células"]);
pub const TIME: Word = word(["time", "times"], ["vez", "vezes"]);
pub const SLOW_CONNECTION: Word = word(
    ["slow connection", "slow connections"],
    ["conexão lenta", "conexões lentas"],
);
pub const MODEL: Word = word(["model", "models"], ["modelo", "modelos"]);
/// One of our models or a server started by a command: what a column of the matrix measures.
pub const SERVER: Word = word(["server", "servers"], ["servidor", "servidores"]);
pub const WORK_TYPE: Word = word(
    ["work type", "work types"],
    ["tipo de trabalho", "tipos de trabalho"],
);
pub const VARIANT: Word = word(["variant", "variants"], ["variante", "variantes"]);
pub const CLIENT_COUNT: Word = word(
    ["client count", "client counts"],
    ["número de clientes", "números de clientes"],
);
pub const REPEAT: Word = word(["repeat", "repeats"], ["repetição", "repetições"]);
pub const CELL_MEASURED: Word = word(
    ["cell measured", "cells measured"],
    ["célula medida", "células medidas"],
);

/// A count a sentence quotes: clients and cores are `usize`, requests `u64`.
pub trait Count: Copy {
    fn value(self) -> u64;
}

impl Count for u64 {
    fn value(self) -> u64 {
        self
    }
}

impl Count for usize {
    fn value(self) -> u64 {
        self as u64
    }
}

/// Writes in one language. Every word it gives is already in that language, so one binding serves both
/// sentences of an arm and [`Writer::pick`] keeps the right one.
#[derive(Clone, Copy)]
pub struct Writer(pub Lang);

impl Writer {
    pub fn pick(self, en: String, pt: String) -> String {
        self.0.pick(en, pt)
    }

    pub fn int(self, n: impl Count) -> String {
        catalog::count(self.0, n.value())
    }

    pub fn num(self, x: f64, decimals: usize) -> String {
        catalog::decimal(self.0, x, decimals)
    }

    /// Requests per second: one decimal below 10 (`2.5`), none above (`1950`).
    pub fn rps(self, x: f64) -> String {
        self.num(x, if x < 10.0 { 1 } else { 0 })
    }

    /// A latency or a time: two decimals below 10 (`1.01`), one above (`52.3`).
    pub fn time(self, x: f64) -> String {
        self.num(x, if x < 10.0 { 2 } else { 1 })
    }

    /// KiB per connection: two decimals below 10 (`0.21`), one above (`52.3`).
    pub fn kib(self, x: f64) -> String {
        self.num(x, if x < 10.0 { 2 } else { 1 })
    }

    /// A duration as the report writes it (`50ms`).
    pub fn duration(self, d: Duration) -> String {
        catalog::duration(d)
    }

    /// The form of `word` that agrees with `n`.
    pub fn word(self, n: impl Count, word: Word) -> &'static str {
        let forms = self.0.pick(word.en, word.pt);
        forms[usize::from(n.value() != 1)]
    }

    /// `n` and the word that agrees with it: `1 client`, `8 clientes`.
    pub fn count(self, n: impl Count, word: Word) -> String {
        format!("{} {}", self.int(n), self.word(n, word))
    }

    /// Models by name, or "none".
    pub fn models(self, models: &[Subject]) -> String {
        if models.is_empty() {
            return self.0.pick("none", "nenhum").to_string();
        }
        let names: Vec<String> = models.iter().map(Subject::to_string).collect();
        names.join(", ")
    }

    /// Models as a sentence lists them: `poll and async`, `poll, async e threads`.
    pub fn model_list(self, models: &[Subject]) -> String {
        let names: Vec<String> = models.iter().map(Subject::to_string).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                let and = self.0.pick("and", "e");
                format!("{} {and} {last}", rest.join(", "))
            }
            _ => self.models(models),
        }
    }

    /// Failures by kind: `timeout: 3, connection reset: 1`.
    pub fn error_kinds(self, by_kind: &[(String, u64)]) -> String {
        let kinds: Vec<String> = by_kind
            .iter()
            .map(|(kind, n)| {
                let name = catalog::lookup(self.0, kind).unwrap_or(kind);
                format!("{name}: {}", self.int(*n))
            })
            .collect();
        kinds.join(", ")
    }
}

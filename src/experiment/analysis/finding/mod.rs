//! What the analysis can say: one enum variant per kind of finding, holding the figures its sentence quotes.
//!
//! A finding is data, not text, so the rules stay free of wording, and the wording is checked by the compiler:
//! each kind's sentence is one match arm writing both languages with `format!` and named arguments, so a kind
//! without its sentence, a placeholder without its figure, or a figure left unquoted does not compile. Each kind
//! also has a stable [`Finding::key`] (`threads_helped`), the name tests and older reports know it by.
//!
//! The kinds are grouped as the rules are: one model's series ([`ModelFinding`]), slow connections
//! ([`SlowFinding`]), the models compared ([`Comparison`]), the conclusion ([`Choice`]) and the cells off their
//! predictions ([`Miss`]).

mod comparison;
mod little;
mod miss;
mod model;
mod slow;
mod syn;
pub mod words;

pub use comparison::{Choice, Comparison};
pub use miss::{Miss, MissReason};
pub use model::ModelFinding;
pub use slow::SlowFinding;

use crate::experiment::catalog::Lang;

/// One statement of the analysis, with the figures that show it.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    Subject(ModelFinding),
    Slow(SlowFinding),
    Comparison(Comparison),
    Choice(Choice),
    Miss(Miss),
}

impl Finding {
    /// The kind's stable name (`threads_helped`).
    pub fn key(&self) -> &'static str {
        match self {
            Finding::Subject(f) => f.key(),
            Finding::Slow(f) => f.key(),
            Finding::Comparison(f) => f.key(),
            Finding::Choice(f) => f.key(),
            Finding::Miss(f) => f.key(),
        }
    }

    /// The finding as a sentence in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            Finding::Subject(f) => f.render(lang),
            Finding::Slow(f) => f.render(lang),
            Finding::Comparison(f) => f.render(lang),
            Finding::Choice(f) => f.render(lang),
            Finding::Miss(f) => f.render(lang),
        }
    }
}

impl From<ModelFinding> for Finding {
    fn from(finding: ModelFinding) -> Finding {
        Finding::Subject(finding)
    }
}

impl From<SlowFinding> for Finding {
    fn from(finding: SlowFinding) -> Finding {
        Finding::Slow(finding)
    }
}

impl From<Comparison> for Finding {
    fn from(finding: Comparison) -> Finding {
        Finding::Comparison(finding)
    }
}

impl From<Miss> for Finding {
    fn from(finding: Miss) -> Finding {
        Finding::Miss(finding)
    }
}

impl From<Choice> for Finding {
    fn from(finding: Choice) -> Finding {
        Finding::Choice(finding)
    }
}

#[cfg(test)]
mod tests;

//! `serverlab experiment`: cells run against real `serve` processes, the physics they must obey, the slowloris
//! variants, the classroom's full listen queue, the quick preset, the terminal in Portuguese, and the report
//! opened in a real browser.

#[path = "../support/mod.rs"]
mod support;

mod backlog;
mod browser;
mod c10k;
mod cells;
mod external;
mod portuguese;
mod python;
mod quick;
mod quota;
mod slow;

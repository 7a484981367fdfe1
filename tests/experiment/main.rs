//! `serverlab experiment`: cells run against real `serve` processes, the physics they must obey, the slowloris
//! variants, and the report opened in a real browser.

#[path = "../support/mod.rs"]
mod support;

mod browser;
mod cells;
mod slow;

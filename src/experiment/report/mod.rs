//! Writing results down: `results.json`, `results.csv`, the terminal tables and `report.html`.
//!
//! The tables are built once ([`tables`]) and rendered both as text and as HTML, so the terminal, the page and
//! the files cannot disagree.

pub mod charts;
pub mod csv;
pub mod html;
pub mod tables;
pub mod timelines;

use std::path::Path;

use super::catalog::Lang;
use super::results::Results;

/// Writes `results.json`, `results.csv` and `report.html` into `dir`, creating it.
pub fn write_all(results: &Results, dir: &Path, lang: Lang) -> Result<(), String> {
    write_data(results, dir)?;
    let page = html::render(results, lang);
    write(dir, "report.html", &page)
}

/// Writes the two data files: called after every cell, so a crash loses nothing measured.
pub fn write_data(results: &Results, dir: &Path) -> Result<(), String> {
    let json = serde_json::to_string_pretty(results).map_err(|e| e.to_string())?;
    write(dir, "results.json", &json)?;
    write(dir, "results.csv", &csv::render(results))
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write(dir: &Path, name: &str, contents: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(name);
    let partial = dir.join(format!(".{name}.partial"));
    std::fs::write(&partial, contents)
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

//! Results as files (`--json`), and merging runs made on several machines into one result.
//!
//! Counts add, histograms add exactly (same HdrHistogram layout everywhere), the duration is the longest of the
//! runs (they are meant to run at the same time, like k6 segments or Locust workers), and every run's provenance
//! is kept.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::LoadConfig;
use super::report::LoadReport;
use crate::system::Provenance;

/// What `--json` writes: the result and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    /// `serverlab-load/1`.
    pub format: String,
    /// Where each run came from: one entry, or one per merged run.
    pub provenance: Vec<Provenance>,
    /// The settings of the run (absent for a merge).
    pub config: Option<LoadConfig>,
    pub report: LoadReport,
}

pub const FORMAT: &str = "serverlab-load/1";

impl ResultFile {
    pub fn new(provenance: Provenance, config: LoadConfig, report: LoadReport) -> ResultFile {
        ResultFile {
            format: FORMAT.into(),
            provenance: vec![provenance],
            config: Some(config),
            report,
        }
    }

    pub fn read(path: &Path) -> Result<ResultFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: ResultFile = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a serverlab load result: {e}", path.display()))?;
        if file.format != FORMAT {
            return Err(format!(
                "{} has format {:?}, expected {FORMAT:?}",
                path.display(),
                file.format
            ));
        }
        Ok(file)
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// Merges results into one. Fails on an empty list or when the protocols differ.
pub fn merge(files: &[ResultFile]) -> Result<ResultFile, String> {
    let (first, rest) = files.split_first().ok_or("nothing to merge")?;
    let mut out = ResultFile {
        format: FORMAT.into(),
        provenance: first.provenance.clone(),
        config: None,
        report: first.report.clone(),
    };
    for file in rest {
        if file.report.proto != out.report.proto {
            return Err(format!(
                "cannot merge a {} run with a {} run",
                file.report.proto, out.report.proto
            ));
        }
        out.provenance.extend(file.provenance.iter().cloned());
        out.report.merge(&file.report);
    }
    Ok(out)
}

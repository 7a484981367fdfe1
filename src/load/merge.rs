//! Results as files (`--json`), and merging runs made on several machines into one result.
//!
//! Counts add, histograms add exactly (same HdrHistogram layout everywhere), the duration is the span of the
//! runs' wall-clock windows, from the first start to the last end (they are meant to run at the same time, like
//! k6 segments or Locust workers, so the sum of their throughputs is measured over the time they shared), and
//! every run's provenance is kept.
//!
//! Parts of one split run (`--segment`) are checked before they are added: parts of different runs (another
//! target, protocol, segment count or command line) are refused, a part given twice is refused, and the parts
//! that are missing are named ([`missing_segments`]), since a sum without them is not the run.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::LoadConfig;
use super::report::LoadReport;
use super::segment::Segment;
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

    /// Reads a file `--json` wrote, or a log holding one after the summary (`--json /dev/stdout` in a pod, then
    /// `kubectl logs`).
    pub fn read(path: &Path) -> Result<ResultFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // The JSON starts on a line of its own; anything after it (a log's last lines) is not read.
        let json = match text.trim_start().starts_with('{') {
            true => text.as_str(),
            false => text
                .find("\n{\n")
                .map_or(text.as_str(), |at| &text[at + 1..]),
        };
        let file: ResultFile = serde_json::Deserializer::from_str(json)
            .into_iter()
            .next()
            .unwrap_or_else(|| serde_json::from_str(""))
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
        std::fs::write(path, self.to_text()?)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// The file's text: pretty JSON ending in a newline.
    pub fn to_text(&self) -> Result<String, String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        Ok(text + "\n")
    }
}

/// Merges results into one. Fails on an empty list, when the protocols differ, or when split parts do not belong
/// together (see [`merge_named`]).
pub fn merge(files: &[ResultFile]) -> Result<ResultFile, String> {
    let named: Vec<(String, ResultFile)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("result {}", i + 1), f.clone()))
        .collect();
    merge_named(&named)
}

/// Merges results read from the files named, which name them in messages.
pub fn merge_named(files: &[(String, ResultFile)]) -> Result<ResultFile, String> {
    let ((first_name, first), rest) = files.split_first().ok_or("nothing to merge")?;
    let mut seen: BTreeMap<Segment, &str> = BTreeMap::new();
    for (name, file) in files {
        check_same_run((first_name, first), (name, file))?;
        for segment in &file.report.segments {
            if let Some(other) = seen.insert(*segment, name) {
                return Err(format!(
                    "segment {segment} is given twice ({other} and {name}): each part of a run is added once"
                ));
            }
        }
    }
    let mut out = ResultFile {
        format: FORMAT.into(),
        provenance: first.provenance.clone(),
        config: None,
        report: first.report.clone(),
    };
    for (_, file) in rest {
        if file.report.proto != out.report.proto {
            return Err(format!(
                "cannot merge a {} run with a {} run",
                file.report.proto, out.report.proto
            ));
        }
        // Connections held and requests made are not the same thing: they do not add up.
        if file.report.hold.is_some() != out.report.hold.is_some() {
            return Err("cannot merge a --hold run with a load run".into());
        }
        out.provenance.extend(file.provenance.iter().cloned());
        out.report.merge(&file.report);
    }
    Ok(out)
}

/// The segments of a split run that `report` lacks (none for a run that was not split).
pub fn missing_segments(report: &LoadReport) -> Vec<Segment> {
    let Some(count) = report.segments.first().map(|s| s.count) else {
        return Vec::new();
    };
    (0..count)
        .map(|index| Segment { index, count })
        .filter(|s| !report.segments.contains(s))
        .collect()
}

/// Refuses to add a split run's part to anything but another part of the same run.
fn check_same_run(a: (&str, &ResultFile), b: (&str, &ResultFile)) -> Result<(), String> {
    let ((a_name, a), (b_name, b)) = (a, b);
    let (a_split, b_split) = (!a.report.segments.is_empty(), !b.report.segments.is_empty());
    if !a_split && !b_split {
        return Ok(());
    }
    let differ = |what: &str, x: String, y: String| {
        Err(format!(
            "{a_name} and {b_name} are parts of different runs: {what} {x} vs {y}"
        ))
    };
    if a_split != b_split {
        let describe = |f: &ResultFile| match f.report.segments.first() {
            Some(s) => format!("segment {s} of a split run"),
            None => "a whole run".into(),
        };
        return Err(format!(
            "{a_name} is {} and {b_name} is {}: only parts of one run add up to it",
            describe(a),
            describe(b)
        ));
    }
    if a.report.target != b.report.target {
        return differ("target", a.report.target.clone(), b.report.target.clone());
    }
    if a.report.proto != b.report.proto {
        return differ(
            "protocol",
            a.report.proto.to_string(),
            b.report.proto.to_string(),
        );
    }
    let count = |f: &ResultFile| f.report.segments[0].count;
    if count(a) != count(b) {
        return differ("segment count", count(a).to_string(), count(b).to_string());
    }
    // The command lines, where both files have theirs (a merged file has none).
    if let (Some(x), Some(y)) = (&a.config, &b.config) {
        let settings = [
            (
                "--clients",
                format!("{}", x.clients),
                format!("{}", y.clients),
            ),
            ("--rate", format!("{:?}", x.rate), format!("{:?}", y.rate)),
            (
                "--requests",
                format!("{:?}", x.requests),
                format!("{:?}", y.requests),
            ),
            (
                "--duration",
                format!("{:?}", x.duration),
                format!("{:?}", y.duration),
            ),
            (
                "--warmup",
                format!("{:?}", x.warmup),
                format!("{:?}", y.warmup),
            ),
            ("--start-at", start_text(x), start_text(y)),
            (
                "--connect-per-request",
                format!("{}", x.connect_per_request),
                format!("{}", y.connect_per_request),
            ),
        ];
        for (flag, x, y) in settings {
            if x != y {
                return differ(flag, x, y);
            }
        }
    }
    Ok(())
}

fn start_text(config: &LoadConfig) -> String {
    config
        .start_at
        .map_or_else(|| "none".into(), super::start::format_time)
}

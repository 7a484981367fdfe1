//! Where a result came from: which serverlab, built how, on what machine, with which flags. A number without
//! this is not worth comparing.

use serde::{Deserialize, Serialize};

/// The facts written beside every `--json` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub serverlab_version: String,
    /// `git rev-parse` of the build, `-dirty` when uncommitted changes were built.
    pub commit: String,
    /// `release` or `debug`: a debug build is many times slower and must not be benchmarked.
    pub build_profile: String,
    pub cpu_model: String,
    pub cores: usize,
    pub kernel: String,
    pub hostname: String,
    /// The command line, as typed.
    pub command: Vec<String>,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
}

impl Provenance {
    /// Gathers the facts of this process and machine.
    pub fn here(command: Vec<String>) -> Provenance {
        Provenance {
            serverlab_version: env!("CARGO_PKG_VERSION").to_string(),
            commit: env!("SERVERLAB_COMMIT").to_string(),
            build_profile: build_profile().to_string(),
            cpu_model: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            hostname: read_trimmed("/proc/sys/kernel/hostname"),
            command,
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// The profile this binary was built with.
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

//! The Python servers of `classroom/`, carried inside the binary for `--preset python`: written next to the
//! report (so a student reads exactly what ran) and measured as external servers beside our models.
//!
//! Each is declared with the concurrency its code has (`--server-k`), so its cells are predicted like ours. The
//! prediction for the thread servers under computation is therefore what threads *should* do on these cores;
//! the measured cells show what CPython's global interpreter lock lets them do, and the analysis names the gap.

use std::path::Path;

use super::external::{Concurrency, ExternalServer};
use super::subject::ServerName;
use super::yardsticks::shell_quote;

/// The scripts, by file name.
const FILES: [(&str, &str); 8] = [
    ("lab.py", include_str!("../../classroom/lab.py")),
    (
        "sequential.py",
        include_str!("../../classroom/sequential.py"),
    ),
    (
        "threading_server.py",
        include_str!("../../classroom/threading_server.py"),
    ),
    (
        "forking_server.py",
        include_str!("../../classroom/forking_server.py"),
    ),
    (
        "select_server.py",
        include_str!("../../classroom/select_server.py"),
    ),
    (
        "pool_server.py",
        include_str!("../../classroom/pool_server.py"),
    ),
    (
        "asyncio_server.py",
        include_str!("../../classroom/asyncio_server.py"),
    ),
    (
        "process_pool_server.py",
        include_str!("../../classroom/process_pool_server.py"),
    ),
];

/// The thread pool's workers in `pool_server.py`.
const POOL_WORKERS: usize = 8;

/// The servers, in the order the notes teach them: (name, script, extra flags, concurrency).
fn catalogue(cores: usize) -> [(&'static str, &'static str, &'static str, Concurrency); 7] {
    use Concurrency::*;
    [
        ("py-sequential", "sequential.py", "", Limit(1)),
        ("py-threading", "threading_server.py", "", Unlimited),
        ("py-forking", "forking_server.py", "", Unlimited),
        // The second port is the lesson of a loop over several sockets; the experiment loads the first.
        ("py-select", "select_server.py", " --port2 0", Limit(1)),
        ("py-pool", "pool_server.py", "", Limit(POOL_WORKERS)),
        // Waits overlap; computation holds the one loop (the analysis says so when it shows).
        ("py-asyncio", "asyncio_server.py", "", Unlimited),
        // ProcessPoolExecutor's default: a worker process per CPU.
        ("py-processes", "process_pool_server.py", "", Limit(cores)),
    ]
}

/// Writes the scripts into `dir` (created if missing).
pub fn write(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, text) in FILES {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The servers as `--server` and `--server-k` would give them, their scripts in `dir`.
pub fn servers(dir: &Path, cores: usize) -> Vec<ExternalServer> {
    let dir = shell_quote(&dir.to_string_lossy());
    catalogue(cores)
        .into_iter()
        .map(|(name, script, extra, k)| ExternalServer {
            name: ServerName::new(name).expect("a valid name"),
            // `exec`: the server is the shell's process, not its child. No bytecode files next to the report.
            command: format!(
                "PYTHONDONTWRITEBYTECODE=1 exec python3 {dir}/{script} --port {{port}} --proto {{proto}} --work {{work}}{extra}"
            ),
            k: Some(k),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_are_written_and_named_in_commands() {
        let dir = std::env::temp_dir().join(format!("serverlab-classroom-{}", std::process::id()));
        write(&dir).unwrap();
        let servers = servers(&dir, 2);
        assert_eq!(servers.len(), 7);
        for server in &servers {
            assert!(server.takes_port());
            let script = server.command.split_whitespace().nth(3).unwrap();
            let path = script.trim_start_matches('\'').replace("'/", "/");
            assert!(Path::new(&path).is_file(), "{path}");
        }
        assert!(dir.join("lab.py").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

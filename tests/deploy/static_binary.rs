//! The binary links statically (glibc's own static libraries, `-C target-feature=+crt-static` on the gnu
//! target: musl cannot be had here), so an image FROM scratch can run it. Built in debug into a target dir of its
//! own (`target/static`): a release build would double the suite's time, and linkage does not depend on it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::{ServerProcess, run_cli};

/// The static binary, built once per test process (at most 15 minutes; a few here).
pub fn static_binary() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(build)
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn build() -> Result<PathBuf, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let target_dir = root.join("target/static");
    let started = Instant::now();
    let out = Command::new("timeout")
        .arg("900")
        .arg(env!("CARGO"))
        .args([
            "build",
            "--locked",
            "--offline",
            "--bin",
            "serverlab",
            "--target",
            &triple,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&root)
        // Only this build's flags: nothing inherited from the cargo running the tests.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the static build failed after {:?} (glibc's static libraries come with libc6-dev): {}",
            started.elapsed(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join(triple).join("debug/serverlab"))
}

#[test]
fn the_static_binary_needs_no_shared_library_and_runs() {
    let bin = static_binary();
    let ldd = Command::new("ldd").arg(&bin).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&ldd.stdout),
        String::from_utf8_lossy(&ldd.stderr)
    );
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "ldd {}: {said}",
        bin.display()
    );
    let file = Command::new("readelf").args(["-l"]).arg(&bin).output();
    if let Ok(file) = file {
        let headers = String::from_utf8_lossy(&file.stdout);
        assert!(
            !headers.contains("INTERP"),
            "no program interpreter: {headers}"
        );
    }

    // It runs with no environment at all, resolves a name from /etc/hosts (static glibc's own lookup, as a pod
    // does a Service's name), and loads a server.
    let version = Command::new(&bin)
        .arg("--version")
        .env_clear()
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("serverlab "));
    let run = |args: &[&str]| {
        let out = Command::new(&bin).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let resolved = run(&["load", "--target", "localhost:5000", "--dry-run"]);
    assert!(
        resolved.contains("to 127.0.0.1:5000") || resolved.contains("to [::1]:5000"),
        "{resolved}"
    );
    let server = ServerProcess::start(&["--proto", "echo"]);
    let target = server.addr().to_string();
    let stdout = run(&[
        "load",
        "--target",
        &target,
        "--clients",
        "2",
        "--requests",
        "50",
        "--no-progress",
    ]);
    assert!(stdout.contains("50 ok, 0 errors"), "{stdout}");
    let finished = server.terminate_within(Duration::from_secs(10));
    assert_eq!(finished.report()["requests"].as_u64(), Some(50));
    // The dynamic binary of the rest of the suite is still the one `cargo test` built.
    assert_eq!(run_cli(&["--version"]).status.code(), Some(0));
}

//! The container image, built from the static binary (`deploy/Containerfile.local`, FROM scratch: nothing is
//! downloaded, and no registry but the package ones is reachable here). Needs a container engine: podman, or
//! docker with a running daemon (docker here is only a client). CI machines have none, so the test is ignored in
//! a plain `cargo test`; `scripts/test.sh` runs it where podman is installed. `deploy/Containerfile` (the
//! multi-stage build from the official Rust image) needs registries and is not built here.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::static_binary::static_binary;

/// The engine to build with: podman, or docker if its daemon answers.
fn engine() -> Option<&'static str> {
    let answers = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if answers("podman", &["info"]) {
        Some("podman")
    } else if answers("docker", &["info"]) {
        Some("docker")
    } else {
        None
    }
}

/// The test's image and build context, removed when dropped.
struct Built {
    engine: &'static str,
    tag: String,
    context: PathBuf,
}

impl Drop for Built {
    fn drop(&mut self) {
        let _ = Command::new(self.engine)
            .args(["rmi", "-f", &self.tag])
            .output();
        let _ = std::fs::remove_dir_all(&self.context);
    }
}

fn run(engine: &str, args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .arg("300")
        .arg(engine)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{engine} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
#[ignore = "needs a container engine (podman, or docker with a daemon); scripts/test.sh runs it where podman is"]
fn an_image_from_scratch_holds_the_static_binary_and_runs_it_as_non_root() {
    let engine = engine().expect(
        "no container engine here: podman is not installed and docker has no daemon to talk to",
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let built = Built {
        engine,
        tag: format!("localhost/serverlab-test-{}:local", std::process::id()),
        context: std::env::temp_dir().join(format!("serverlab-image-{}", std::process::id())),
    };
    std::fs::create_dir_all(&built.context).unwrap();
    std::fs::copy(static_binary(), built.context.join("serverlab")).unwrap();
    let containerfile = root.join("deploy/Containerfile.local");
    run(
        engine,
        &[
            "build",
            "--network=none",
            "-f",
            containerfile.to_str().unwrap(),
            "-t",
            &built.tag,
            built.context.to_str().unwrap(),
        ],
    );
    let inspect = run(engine, &["image", "inspect", &built.tag]);
    let images: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let config = &images[0]["Config"];
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["serverlab"]),
        "{config}"
    );
    assert_eq!(config["User"], "65532:65532", "not root: {config}");
    assert!(config["ExposedPorts"].get("5000/tcp").is_some(), "{config}");
    // One layer: the binary, and nothing else.
    let layers = images[0]["RootFS"]["Layers"].as_array().unwrap().len();
    assert_eq!(layers, 1, "{}", images[0]["RootFS"]);

    // And it runs, where this engine can run containers: the entrypoint answers as the binary does.
    let out = Command::new("timeout")
        .args([
            "60",
            engine,
            "run",
            "--rm",
            "--network=none",
            &built.tag,
            "--version",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).to_lowercase();
    if out.status.success() {
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("serverlab "));
    } else if said.contains("operation not permitted") || said.contains("permission denied") {
        // A container in a container without the rights to set one up (crun's setrlimit here): the engine's
        // limit, not the image's; anything else fails below.
        eprintln!(
            "image built and inspected; {engine} may not run containers here: {}",
            said.trim()
        );
    } else {
        panic!("the image does not run: {said}");
    }
}

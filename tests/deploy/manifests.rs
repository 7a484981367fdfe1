//! The Kubernetes files (`deploy/k8s/`): every manifest valid against the Kubernetes schemas, offline
//! (`kubernetes-validate` from PyPI bundles them; `scripts/test.sh` installs it), and the Job's command line one
//! the binary accepts, for every pod index.

use std::path::PathBuf;
use std::process::Command;

use crate::support::run_cli;

fn manifests() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "manifests in {}", dir.display());
    files
}

fn python(script: &str, args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 (scripts/test.sh installs it)")
}

fn have_validator() -> bool {
    python("import kubernetes_validate", &[]).status.success()
}

#[test]
fn every_manifest_is_valid_against_the_kubernetes_schemas() {
    assert!(
        have_validator(),
        "kubernetes-validate is missing: python3 -m pip install kubernetes-validate (scripts/test.sh does)"
    );
    let files = manifests();
    let mut args: Vec<&str> = vec!["--strict"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    let out = Command::new("python3")
        .args(["-m", "kubernetes_validate"])
        .args(&args)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    for kind in ["deployment/", "service/", "job/"] {
        assert!(
            said.contains(&format!("passed for resource {kind}")),
            "{kind}: {said}"
        );
    }

    // The validator does reject a mistake (so a pass above means something).
    let dir = std::env::temp_dir().join(format!("serverlab-manifests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("job.yaml");
    let job = std::fs::read_to_string(files.iter().find(|p| p.ends_with("load-job.yaml")).unwrap())
        .unwrap()
        .replace("parallelism:", "paralelism:");
    std::fs::write(&broken, job).unwrap();
    let out = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict"])
        .arg(&broken)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "a misspelt field is refused");
}

/// Reads the Job and Service with PyYAML (which kubernetes-validate brings) as JSON.
fn job_and_service() -> serde_json::Value {
    let script = r#"
import json, sys, yaml
docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]
print(json.dumps({d["kind"]: d for d in docs}))
"#;
    let files = manifests();
    let args: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    let out = python(script, &args);
    assert!(
        out.status.success(),
        "PyYAML is missing (kubernetes-validate brings it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_jobs_command_is_one_the_binary_accepts_for_every_pod() {
    let docs = job_and_service();
    let job = &docs["Job"]["spec"];
    assert_eq!(job["completionMode"], "Indexed");
    let n = job["completions"].as_u64().unwrap();
    assert_eq!(
        job["parallelism"].as_u64(),
        Some(n),
        "every part runs at once"
    );
    let container = &job["template"]["spec"]["containers"][0];
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let start_at = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "START_AT")
        .expect("START_AT in the Job's env")["value"]
        .as_str()
        .unwrap()
        .to_string();

    // The target is the Service, by name and port.
    let service = &docs["Service"];
    let port = service["spec"]["ports"][0]["port"].as_u64().unwrap();
    let target = format!("{}:{port}", service["metadata"]["name"].as_str().unwrap());
    let at = args.iter().position(|a| a == "--target").unwrap();
    assert_eq!(args[at + 1], target);
    assert_eq!(args[0], "load");
    assert!(
        args.contains(&"/dev/stdout".to_string()),
        "the result in the pod's log"
    );

    for index in 0..n {
        // What Kubernetes makes of the args in pod `index`; the Service's name resolves only in the cluster, so
        // the target is an address here. Everything else goes through the binary's own parser and checks.
        let expanded: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("$(JOB_COMPLETION_INDEX)", &index.to_string())
                    .replace("$(START_AT)", &start_at)
            })
            .map(|a| {
                if a == target {
                    format!("127.0.0.1:{port}")
                } else {
                    a
                }
            })
            .collect();
        let mut dry: Vec<&str> = expanded.iter().map(String::as_str).collect();
        dry.push("--dry-run");
        let out = run_cli(&dry);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "pod {index}: {dry:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("would run segment {index}/{n}:")),
            "pod {index}: {stdout}"
        );
    }
}

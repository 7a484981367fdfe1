//! The servers our models are measured against, as external servers of the experiment: nginx serving our page
//! from memory (`--preset nginx`), and the minimal tokio echo of tokio's README (`--preset tokio-echo`,
//! `examples/tokio_echo.rs`). A comparison is then one experiment like any other: the same load, the same
//! sampling, pinned to the same cores, with its provenance and charts.

use std::path::{Path, PathBuf};

use super::external::{Concurrency, ExternalServer};
use super::subject::ServerName;
use crate::protocol::http::server::DEFAULT_PAGE;

/// nginx's config, `@DIR@` and `@PORT@` filled in per cell: one worker (the comparison pins both servers to one
/// core), our page returned from memory with our Content-Type, keep-alive as long as ours.
const NGINX_CONF: &str = r#"# Written by serverlab experiment --preset nginx: nginx serving serverlab's page from memory.
daemon off;
master_process on;
worker_processes 1;
pid @DIR@/nginx-@PORT@.pid;
error_log @DIR@/error.log warn;
events {
    worker_connections 16384;
}
http {
    access_log off;
    server_tokens off;
    keepalive_timeout 10s;
    keepalive_requests 1000000000;
    client_body_temp_path @DIR@/tmp;
    proxy_temp_path @DIR@/tmp;
    fastcgi_temp_path @DIR@/tmp;
    uwsgi_temp_path @DIR@/tmp;
    scgi_temp_path @DIR@/tmp;
    server {
        listen 127.0.0.1:@PORT@ backlog=1024;
        location / {
            default_type "text/html; charset=utf-8";
            return 200 "@PAGE@";
        }
    }
}
"#;

/// Writes nginx's config template into `dir`, for [`nginx`].
pub fn write_nginx_config(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir.join("tmp"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let page = DEFAULT_PAGE.replace('\\', "\\\\").replace('"', "\\\"");
    let conf = NGINX_CONF
        .replace("@DIR@", &dir.to_string_lossy())
        .replace("@PAGE@", &page);
    let template = dir.join("nginx.conf.in");
    std::fs::write(&template, conf).map_err(|e| format!("cannot write {}: {e}", template.display()))
}

/// nginx as a server, its config template in `dir` ([`write_nginx_config`]).
pub fn nginx(dir: &Path) -> ExternalServer {
    let d = shell_quote(&dir.to_string_lossy());
    // nginx is in /usr/sbin, which a user's PATH may lack.
    let command = format!(
        "sed 's/@PORT@/{{port}}/g' {d}/nginx.conf.in > {d}/nginx-{{port}}.conf && \
         exec \"$(command -v nginx || echo /usr/sbin/nginx)\" -p {d}/ -e {d}/error.log -c {d}/nginx-{{port}}.conf"
    );
    ExternalServer {
        name: ServerName::new("nginx").expect("a valid name"),
        command,
        // An event loop per worker: every connection at once.
        k: Some(Concurrency::Unlimited),
    }
}

/// The minimal tokio echo, built beside this binary (`cargo build --release --example tokio_echo`).
pub fn tokio_echo(this_binary: &Path) -> Result<ExternalServer, String> {
    let program = tokio_echo_path(this_binary);
    if !program.is_file() {
        return Err(format!(
            "{} is missing: build it with `cargo build --release --example tokio_echo`",
            program.display()
        ));
    }
    Ok(ExternalServer {
        name: ServerName::new("tokio-echo").expect("a valid name"),
        command: format!(
            "exec {} 127.0.0.1:{{port}}",
            shell_quote(&program.to_string_lossy())
        ),
        k: Some(Concurrency::Unlimited),
    })
}

/// Where cargo puts the example for the profile of `this_binary`: `target/release/examples/tokio_echo`.
fn tokio_echo_path(this_binary: &Path) -> PathBuf {
    let dir = this_binary.parent().unwrap_or(Path::new("."));
    // Test binaries live one level deeper, in `deps`.
    let dir = if dir.ends_with("deps") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    dir.join("examples").join("tokio_echo")
}

/// `text` in single quotes, safe for `sh -c`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_gets_a_config_with_our_page_and_its_port() {
        let dir = std::env::temp_dir().join(format!("serverlab-nginx-{}", std::process::id()));
        write_nginx_config(&dir).unwrap();
        let server = nginx(&dir);
        let template = std::fs::read_to_string(dir.join("nginx.conf.in")).unwrap();
        assert!(template.contains("Hello from serverlab"));
        assert!(template.contains(r#"<html lang=\"en\">"#), "quotes escaped");
        assert!(template.contains("listen 127.0.0.1:@PORT@"));
        assert!(server.takes_port());
        assert!(server.command.contains("exec"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_tokio_echo_is_looked_for_beside_the_binary() {
        let release = Path::new("/x/target/release/serverlab");
        assert_eq!(
            tokio_echo_path(release),
            Path::new("/x/target/release/examples/tokio_echo")
        );
        let test = Path::new("/x/target/debug/deps/serverlab-0123");
        assert_eq!(
            tokio_echo_path(test),
            Path::new("/x/target/debug/examples/tokio_echo")
        );
        assert!(
            tokio_echo(Path::new("/nonexistent/serverlab"))
                .unwrap_err()
                .contains("cargo build")
        );
    }
}

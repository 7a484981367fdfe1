//! The report opens in a real browser: headless Chromium loads `report.html` from disk, logs no console error,
//! and draws every chart at a non-zero size. Driven over the DevTools protocol, the way test tools do it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BIN, have};
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

/// A headless Chromium; killed and its profile removed when dropped.
struct Chromium {
    child: Child,
    profile: PathBuf,
    port: u16,
}

impl Chromium {
    fn start() -> Chromium {
        let profile =
            std::env::temp_dir().join(format!("serverlab-chromium-{}", std::process::id()));
        let mut child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so the browser's helper processes can be killed with it.
            .process_group(0)
            .spawn()
            .expect("start chromium");
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("DevTools listening on ws://127.0.0.1:").nth(1) {
                    let _ = tx.send(rest.split('/').next().unwrap_or("").parse::<u16>().ok());
                }
            }
        });
        let mut browser = Chromium {
            child,
            profile,
            port: 0,
        };
        browser.port = rx
            .recv_timeout(Duration::from_secs(30))
            .ok()
            .flatten()
            .expect("chromium's DevTools port");
        browser
    }

    /// The DevTools WebSocket address of the open page.
    fn page_socket(&self) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // HTTP/1.1 with the port in Host: Chromium answers HTTP/1.0 requests with nothing.
        write!(
            stream,
            "GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        )
        .unwrap();
        // Read the head, then exactly Content-Length bytes: the server need not close the connection.
        let mut reader = BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let body = String::from_utf8(body).unwrap();
        let targets: Value = serde_json::from_str(&body).unwrap();
        targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_string()
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A minimal DevTools client: commands and the events that arrive meanwhile.
struct DevTools {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: Vec<Value>,
}

impl DevTools {
    fn connect(url: &str) -> DevTools {
        let (socket, _) = tungstenite::connect(url).expect("connect to DevTools");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
        }
        DevTools {
            socket,
            next_id: 0,
            events: Vec::new(),
        }
    }

    fn receive(&mut self) -> Value {
        loop {
            match self.socket.read().expect("DevTools message") {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                _ => continue,
            }
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::text(request)).unwrap();
        loop {
            let message = self.receive();
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method}: {message}");
                return message["result"].clone();
            }
            self.events.push(message);
        }
    }

    fn wait_for(&mut self, event: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.events.iter().any(|e| e["method"] == event) {
            assert!(Instant::now() < deadline, "no {event}");
            let message = self.receive();
            self.events.push(message);
        }
    }

    fn errors(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| {
                e["method"] == "Runtime.exceptionThrown"
                    || (e["method"] == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
                    || (e["method"] == "Log.entryAdded" && e["params"]["entry"]["level"] == "error")
            })
            .collect()
    }
}

#[test]
fn the_report_opens_in_chromium_without_errors_and_draws_its_charts() {
    let _alone = crate::cells::alone();
    assert!(
        have("chromium"),
        "chromium is needed: README's test command installs it"
    );
    let out = std::env::temp_dir().join(format!("serverlab-browser-{}", std::process::id()));
    let status = Command::new(BIN)
        .args([
            "experiment",
            "--allow-debug",
            "--server-bin",
            BIN,
            "--models",
            "sequential,poll",
        ])
        .args([
            "--clients",
            "1,2",
            "--work",
            "sleep:10ms,cpu:2ms",
            "--cell",
            "200ms",
            "--lang",
            "pt",
        ])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let report = out.join("report.html");

    let browser = Chromium::start();
    let mut page = DevTools::connect(&browser.page_socket());
    page.call("Runtime.enable", json!({}));
    page.call("Log.enable", json!({}));
    page.call("Page.enable", json!({}));
    page.call(
        "Page.navigate",
        json!({"url": format!("file://{}", report.display())}),
    );
    page.wait_for("Page.loadEventFired");
    let sizes = page.call(
        "Runtime.evaluate",
        json!({
            "expression": "JSON.stringify(Array.from(document.querySelectorAll('figure.chart svg')).map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; }))",
            "returnByValue": true
        }),
    );
    let sizes: Vec<(f64, f64)> =
        serde_json::from_str(sizes["result"]["value"].as_str().unwrap()).unwrap();
    // Two kinds of work, seven charts each.
    assert_eq!(sizes.len(), 14, "{sizes:?}");
    assert!(
        sizes.iter().all(|&(w, h)| w > 100.0 && h > 50.0),
        "{sizes:?}"
    );
    let title = page.call(
        "Runtime.evaluate",
        json!({"expression": "document.title", "returnByValue": true}),
    );
    assert!(
        title["result"]["value"]
            .as_str()
            .unwrap()
            .contains("experimento"),
        "{title}"
    );
    let errors = page.errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // The same browser is happy with our HTTP server: the page loads over keep-alive and renders.
    let server = crate::support::ServerProcess::start(&["--proto", "http", "--model", "poll"]);
    page.events.clear();
    page.call(
        "Page.navigate",
        json!({"url": format!("http://{}/", server.addr())}),
    );
    page.wait_for("Page.loadEventFired");
    let heading = page.call(
        "Runtime.evaluate",
        json!({"expression": "document.title + ' | ' + document.querySelector('h1').textContent", "returnByValue": true}),
    );
    assert_eq!(
        heading["result"]["value"],
        "serverlab | Hello from serverlab"
    );
    assert!(
        page.events
            .iter()
            .all(|e| e["method"] != "Runtime.exceptionThrown")
    );
    let finished = server.terminate();
    assert!(finished.status.success());
    assert!(finished.report()["requests"].as_u64().unwrap() >= 1);
    drop(browser);
    let _ = std::fs::remove_dir_all(&out);
}

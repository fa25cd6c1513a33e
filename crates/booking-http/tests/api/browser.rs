//! A real browser for page tests: Debian's headless Chromium driven over WebDriver
//! (chromedriver), with a keyboard, screenshots (under `target/screenshots/`) and a record of
//! every request the page made (Chromium's net log). Tests that use it are ignored unless run
//! with `--include-ignored`; then a missing browser fails them.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use serde_json::{Value, json};

/// Why browser tests are ignored by default (repeated in their `#[ignore]`, which takes only a
/// literal).
pub const NEEDS_CHROMIUM: &str = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored";

/// The WebDriver key for Tab, ArrowDown and Enter.
pub const TAB: &str = "\u{E004}";
pub const ARROW_DOWN: &str = "\u{E015}";
pub const ENTER: &str = "\u{E007}";

/// How long a wait for the page may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// A headless Chromium session, ended (and chromedriver stopped) when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    net_log: PathBuf,
    /// Whether the session was ended (by `close`).
    ended: bool,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium that can resolve no name but 127.0.0.1, so
    /// nothing a page asks for can leave the machine.
    pub async fn start() -> Self {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let chromedriver =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        for program in [&chromium, &chromedriver] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: this test {NEEDS_CHROMIUM}"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            // The browser's clock is in UTC, whatever the machine's, so that pages show the
            // same thing everywhere.
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + PATIENCE;
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let net_log = profile.path().join("net-log.json");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            // Containers give /dev/shm 64 MB, too little for a page this size.
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,900".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-default-apps".to_owned(),
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".to_owned(),
            format!("--user-data-dir={}", profile.path().join("profile").display()),
            format!("--log-net-log={}", net_log.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_owned();
        Self { driver, base, session, http, net_log, ended: false, _profile: profile }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(answer["value"]["error"].is_null(), "WebDriver {path}: {answer}");
        answer["value"].clone()
    }

    /// Loads `url` and waits for its `load` event.
    pub async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        self.command(reqwest::Method::POST, "/execute/sync", Some(body)).await
    }

    /// Runs `script` as [`run`](Self::run) does, but waits for it to call its last argument
    /// (a callback) and returns what it was called with.
    pub async fn run_async(&self, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        self.command(reqwest::Method::POST, "/execute/async", Some(body)).await
    }

    /// The WebDriver id of the element `selector` finds first.
    async fn find(&self, selector: &str) -> String {
        let body = json!({"using": "css selector", "value": selector});
        let found = self.command(reqwest::Method::POST, "/element", Some(body)).await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_owned()
    }

    /// Clicks the element `selector` finds, as a mouse does (where it shows, if it can).
    pub async fn click(&self, selector: &str) {
        self.on_element(selector, "click", json!({})).await;
    }

    /// Types `text` into the element `selector` finds.
    pub async fn type_into(&self, selector: &str, text: &str) {
        self.on_element(selector, "value", json!({"text": text})).await;
    }

    /// Sends the element command `action` to the element `selector` finds. A page that renders
    /// again between the find and the command (a live update arriving) leaves the element found
    /// stale: it is found again, as a person finds the button again, before anything happens.
    async fn on_element(&self, selector: &str, action: &str, body: Value) {
        for _ in 0..5 {
            let element = self.find(selector).await;
            let url = format!("{}/session/{}/element/{element}/{action}", self.base, self.session);
            let answer: Value =
                self.http.post(url).json(&body).send().await.unwrap().json().await.unwrap();
            match answer["value"]["error"].as_str() {
                None => return,
                Some("stale element reference") => continue,
                Some(_) => panic!("WebDriver {action} on {selector}: {answer}"),
            }
        }
        panic!("{selector} went stale five times in a row");
    }

    /// Makes the window `width` by `height` CSS pixels.
    pub async fn resize(&self, width: u32, height: u32) {
        let body = json!({"width": width, "height": height});
        self.command(reqwest::Method::POST, "/window/rect", Some(body)).await;
    }

    /// The serious and critical accessibility violations axe-core finds on the page, each as
    /// "rule: elements". axe-core comes from npm (`.ci/run` installs it): `AXE_CORE` names its
    /// `axe.min.js`, else `target/tools/npm/node_modules/axe-core/axe.min.js`.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        let path = std::env::var("AXE_CORE").map(PathBuf::from).unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/tools/npm/node_modules/axe-core/axe.min.js")
        });
        let axe = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core is missing at {} ({e}): npm install axe-core, or run .ci/run",
                path.display()
            )
        });
        // Run as WebDriver's own script, which the page's CSP does not govern.
        let loaded = self.run(&format!("{axe}\nreturn typeof window.axe;"), json!([])).await;
        assert_eq!(loaded, "object", "axe-core did not load");
        let found = self
            .run_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']}).then((result) => done(
                   result.violations
                     .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                     .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)));",
                json!([]),
            )
            .await;
        serde_json::from_value(found).unwrap()
    }

    /// Waits until `script` returns something other than `null` or `false`, and returns it.
    pub async fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.run(script, json!([])).await;
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Presses and releases each key of `keys` (text, or the key constants above) on whatever
    /// has the focus, as a person at the keyboard does.
    pub async fn type_keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|key| {
                let key = key.to_string();
                [json!({"type": "keyDown", "value": key}), json!({"type": "keyUp", "value": key})]
            })
            .collect();
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.command(reqwest::Method::POST, "/actions", Some(body)).await;
    }

    /// Saves what the window shows as `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.command(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap();
        let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Ends the session and returns every URL a page asked for, with the origin that asked
    /// (Chromium's own requests, which name no origin, left out).
    pub async fn close(mut self) -> Vec<(String, String)> {
        self.command(reqwest::Method::DELETE, "", None).await;
        self.ended = true;
        let deadline = Instant::now() + PATIENCE;
        // Chromium completes its net log as it exits.
        let log: Value = loop {
            if let Ok(text) = std::fs::read_to_string(&self.net_log)
                && let Ok(log) = serde_json::from_str(&text)
            {
                break log;
            }
            assert!(Instant::now() < deadline, "Chromium wrote no complete net log");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let start = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
        let mut requests: Vec<(String, String)> = log["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|event| &event["type"] == start)
            .filter_map(|event| {
                let url = event["params"]["url"].as_str()?;
                let initiator = event["params"]["initiator"].as_str()?;
                initiator.contains("://").then(|| (url.to_owned(), initiator.to_owned()))
            })
            .collect();
        requests.sort();
        requests.dedup();
        requests
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A session not ended by `close` (a test that does not need its requests, or one that
        // failed) is ended here: chromedriver, killed, would leave its Chromium running.
        if !self.ended {
            end_session(&self.base, &self.session);
        }
        let _already_gone = self.driver.kill();
        let _reaped = self.driver.wait();
    }
}

/// Ends a WebDriver session, which quits its browser, with a plain blocking request (a drop
/// cannot await).
fn end_session(base: &str, session: &str) {
    use std::io::{Read, Write};
    let Some(address) = base.strip_prefix("http://") else { return };
    let Ok(mut stream) = std::net::TcpStream::connect(address) else { return };
    let _bounded = stream.set_read_timeout(Some(PATIENCE));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Length: 0\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // The answer comes once the browser has quit; chromedriver keeps the connection open, so
    // read up to the end of its body.
    let mut answer = Vec::new();
    let mut chunk = [0; 4096];
    while let Ok(read @ 1..) = stream.read(&mut chunk) {
        answer.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return;
            }
        }
    }
}

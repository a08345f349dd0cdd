//! A headless Chromium driven over W3C WebDriver by Debian's
//! `chromedriver` (`scripts/setup.sh --tests` installs both): the few calls
//! the page tests need (open a page, run a script in it, take a
//! screenshot), as JSON over HTTP with ureq.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// A chromedriver process and one browser session in it.
pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    agent: ureq::Agent,
    /// The browser's profile folder, removed with it.
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a new profile.
    pub fn start() -> Self {
        let port = crate::support::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver (Debian's chromium-driver; scripts/setup.sh --tests installs it)",
            );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        // The flags the machine's notes give for a closed network, as root.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1500,1000",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        }}});
        let mut browser = Self {
            driver,
            session: String::new(),
            agent,
            _profile: profile,
        };
        let answer = browser.call("POST", &format!("{base}/session"), &capabilities);
        let id = answer["sessionId"].as_str().expect("a session id");
        browser.session = format!("{base}/session/{id}");
        browser
    }

    /// One WebDriver command; answers its `value`, failing on an error.
    fn call(&self, method: &str, url: &str, body: &Value) -> Value {
        let response = match method {
            "GET" => self.agent.get(url).call(),
            "DELETE" => self.agent.delete(url).call(),
            _ => self
                .agent
                .post(url)
                .header("Content-Type", "application/json")
                .send(body.to_string()),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status();
        let text = response.body_mut().read_to_string().unwrap();
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert!(status.is_success(), "{method} {url}: {status} {text}");
        answer["value"].clone()
    }

    /// Opens `url` in the page.
    pub fn goto(&self, url: &str) {
        self.call(
            "POST",
            &format!("{}/url", self.session),
            &json!({"url": url}),
        );
    }

    /// Runs `script` (a function body; `return` answers) in the page.
    pub fn run(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.call("POST", &format!("{}/execute/sync", self.session), &body)
    }

    /// Waits (up to 30 s) until `script` answers `true`, failing with
    /// `what` and the page's text.
    pub fn wait_for(&self, what: &str, script: &str) {
        let started = Instant::now();
        while self.run(script) != Value::Bool(true) {
            let page = self.run("return document.body.innerText");
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}; the page shows:\n{}",
                page.as_str().unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let png = self.call("GET", &format!("{}/screenshot", self.session), &Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.agent.delete(&self.session).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

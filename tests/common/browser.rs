//! A small W3C WebDriver client over `reqwest` for the console's browser tests: chromedriver on a
//! free port driving a headless Chromium with a fresh profile. Every call panics with the page's
//! URL on a WebDriver error, since these are test helpers.
//!
//! Chromium and chromedriver come from `CHROME` and `CHROMEDRIVER` (default `/usr/bin/...`).
//! When they are missing the tests skip, except under `CI=true`, where that is a failure.
//!
//! What we found driving it (Chromium 156, Debian's packages):
//! - `execute` runs through DevTools, outside the page's Content-Security-Policy: `eval` works
//!   there even under `script-src 'self'`, but a `<script>` it adds to the page is still blocked.
//!   A test that passes through `execute` does not prove the page's own scripts are allowed.
//! - Uploads: `send_keys` on `<input type=file>` with an absolute path (chromedriver checks that
//!   it exists: a relative one fails with "File not found"); the page sees `C:\fakepath\<name>`
//!   and the form posts the real file. For several files chromedriver takes
//!   the paths joined by `\n` on a `multiple` input (documented, not tried here).
//! - Under `style-src 'self'` (no `'unsafe-inline'`) a `style="display:none"` attribute is ignored,
//!   so such an element counts as displayed; the `hidden` attribute works.
//! - The window is 1366x900 but the viewport (and the screenshot) is 1366x757.
//! - Killing chromedriver leaves Chromium running, so `Drop` ends the session first.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;

mod element;
mod session;

pub use element::Element;
use session::Session;

/// How often the `wait_*` helpers look again.
const POLL: Duration = Duration::from_millis(50);

/// Where the browser tests put their screenshots: `<target dir>/console-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => manifest.join(dir).join("console-screenshots"),
        _ => manifest.join("target/console-screenshots"),
    }
}

/// chromedriver as a child process; dropping it kills it.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless Chromium driven through chromedriver. Dropping it ends the session and kills
/// chromedriver; `quit` does the same and says when it fails.
pub struct Browser {
    session: Arc<Session>,
    /// Declared before the profile: the browser is gone before its profile is deleted.
    _driver: Driver,
    port: u16,
    ended: bool,
    _profile: TempDir,
}

/// The flags that keep Chromium quiet on a machine without a network, and the same size and
/// language on every machine (the console is in Chinese).
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1366,900",
    "--lang=zh-CN",
];

/// `var` or `default`, when that file exists.
fn program(var: &str, default: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} not found (set {var})", path.display()))
    }
}

impl Browser {
    /// A new browser with a fresh profile, or `None` (with a note on stderr) when Chromium or
    /// chromedriver is not installed. Under `CI=true` a missing browser is a failure.
    pub async fn launch() -> Option<Browser> {
        let found = program("CHROMEDRIVER", "/usr/bin/chromedriver")
            .and_then(|d| program("CHROME", "/usr/bin/chromium").map(|c| (d, c)));
        let (chromedriver, chrome) = match found {
            Ok(found) => found,
            Err(why) if std::env::var("CI").as_deref() == Ok("true") => panic!(
                "browser tests need Chromium and chromedriver under CI: {why}; \
                 install `chromium chromium-driver fonts-noto-cjk` (see .ci/run)"
            ),
            Err(why) => {
                eprintln!("skipping a browser test: {why}");
                return None;
            }
        };

        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port for chromedriver")
            .port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
        let mut driver = Driver(child);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        let root = format!("http://127.0.0.1:{port}");

        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = driver.0.try_wait() {
                panic!("chromedriver on port {port} exited at start-up: {status}");
            }
            let status = http.get(format!("{root}/status")).send().await;
            if let Ok(resp) = status {
                let body: Value = resp.json().await.unwrap_or_default();
                if body["value"]["ready"] == json!(true) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver on port {port} not ready in 20 s"
            );
            tokio::time::sleep(POLL).await;
        }

        let profile = tempfile::tempdir().expect("a temp dir for the browser profile");
        let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "timeouts": { "pageLoad": 30_000, "script": 30_000, "implicit": 0 },
            "goog:chromeOptions": {
                "binary": chrome.display().to_string(),
                "args": args,
                "prefs": { "intl.accept_languages": "zh-CN,zh" },
            },
        }}});
        let created = Session {
            http: http.clone(),
            url: root.clone(),
        }
        .call(Method::POST, "/session", Some(caps))
        .await
        .unwrap_or_else(|e| panic!("create a Chromium session: {}: {}", e.error, e.message));
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a new session has an id: {created}"));
        Some(Browser {
            session: Arc::new(Session {
                http,
                url: format!("{root}/session/{id}"),
            }),
            _driver: driver,
            port,
            ended: false,
            _profile: profile,
        })
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        let body = json!({ "url": url });
        self.session
            .must(Method::POST, "/url", Some(body), &format!("goto {url}"))
            .await;
    }

    /// The page's URL.
    pub async fn url(&self) -> String {
        let v = self.session.must(Method::GET, "/url", None, "url").await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The page's title.
    pub async fn title(&self) -> String {
        let v = self
            .session
            .must(Method::GET, "/title", None, "title")
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The page's HTML as the browser has it now.
    pub async fn source(&self) -> String {
        let v = self
            .session
            .must(Method::GET, "/source", None, "source")
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The first element matching `css`; panics when there is none.
    pub async fn find(&self, css: &str) -> Element {
        self.session.one("/element", css).await
    }

    /// Every element matching `css`, in document order.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let what = format!("find all `{css}`");
        self.session.find_all_in("/elements", css, &what).await
    }

    /// The first element matching `css`, if any.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        match self.session.find_in("/element", css).await {
            Ok(found) => found,
            Err(e) => {
                let url = self.session.url_for_message().await;
                panic!(
                    "WebDriver: find `{css}` failed at {url}: {}: {}",
                    e.error, e.message
                )
            }
        }
    }

    /// The first element matching `css` once there is one.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("nothing matches");
        loop {
            match self.poll_find(css).await {
                Ok(Some(el)) => return el,
                Ok(None) => {}
                Err(e) => last = e,
            }
            if Instant::now() >= deadline {
                let url = self.session.url_for_message().await;
                panic!("no element matches `{css}` at {url} after {timeout:?} ({last})");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The first element matching `css` once its text contains `needle` (the element may be
    /// replaced meanwhile: it is looked up again each time).
    pub async fn wait_text(&self, css: &str, needle: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Ok(Some(el)) = self.poll_find(css).await {
                match el.try_text().await {
                    Ok(text) if text.contains(needle) => return el,
                    Ok(text) => last = Some(text),
                    Err(_) => {} // replaced between find and text: look again
                }
            }
            if Instant::now() >= deadline {
                let url = self.session.url_for_message().await;
                match last {
                    Some(text) => panic!(
                        "`{css}` at {url} does not contain {needle:?} after {timeout:?}; its text: {text:?}"
                    ),
                    None => panic!("no element matches `{css}` at {url} after {timeout:?}"),
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Returns once nothing matches `css`.
    pub async fn wait_until_gone(&self, css: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !matches!(self.poll_find(css).await, Ok(None)) {
            if Instant::now() >= deadline {
                let url = self.session.url_for_message().await;
                panic!("`{css}` is still on {url} after {timeout:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// One look for `css` inside a `wait_*` loop: an error (say, while a page is loading) is
    /// worth another look, except a selector that will never be valid.
    async fn poll_find(&self, css: &str) -> Result<Option<Element>, String> {
        match self.session.find_in("/element", css).await {
            Ok(found) => Ok(found),
            Err(e) if e.is("invalid selector") => {
                panic!("invalid CSS selector `{css}`: {}", e.message)
            }
            Err(e) => Err(format!("{}: {}", e.error, e.message)),
        }
    }

    /// A PNG of the viewport at `path` (its folder is made when missing).
    pub async fn screenshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let v = self
            .session
            .must(Method::GET, "/screenshot", None, "screenshot")
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Runs `script` as a function body with `arguments` = `args` (pass elements as
    /// `el.reference()`); its `return` value.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        let body = json!({ "script": script, "args": args });
        self.session
            .must(Method::POST, "/execute/sync", Some(body), "execute")
            .await
    }

    /// Resizes the window (the viewport is a little smaller in headful mode, the same headless).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        let body = json!({ "width": width, "height": height });
        self.session
            .must(Method::POST, "/window/rect", Some(body), "set window size")
            .await;
    }

    /// The cookies the page can see, as WebDriver describes them (`name`, `value`, `httpOnly`...).
    pub async fn cookies(&self) -> Vec<Value> {
        let v = self
            .session
            .must(Method::GET, "/cookie", None, "cookies")
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// Ends the session (Chromium exits) and stops chromedriver.
    pub async fn quit(mut self) {
        self.ended = true;
        self.session.must(Method::DELETE, "", None, "quit").await;
    }

    /// `DELETE /session/<id>` without async (for `Drop`): a plain HTTP/1.1 request over a
    /// socket, so that Chromium exits rather than outlives chromedriver.
    fn end_session_blocking(&self) {
        let Some(path) = self.session.url.split_once("/session/").map(|(_, id)| id) else {
            return;
        };
        let timeout = Some(Duration::from_secs(10));
        let Ok(mut sock) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = sock.set_read_timeout(timeout);
        let _ = sock.set_write_timeout(timeout);
        let req = format!(
            "DELETE /session/{path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        // chromedriver answers once Chromium is gone, and may keep the connection open after:
        // the first bytes of the answer are enough.
        if sock.write_all(req.as_bytes()).is_ok() {
            let _ = sock.read(&mut [0; 64]);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.ended {
            self.end_session_blocking();
        }
        // Then `_driver` kills chromedriver and `_profile` goes.
    }
}

//! The real binary as a child process on its own port, for the tests that kill it (SIGKILL)
//! under load and start it again on the same database; and `utilhall ledger check` on that
//! database.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_utilhall");

/// A running server process. Dropping it kills it: a failing test leaves no server behind.
pub struct ChildServer {
    pub child: Child,
    pub base: String,
    /// Its standard error (errors only), appended across restarts.
    pub log: PathBuf,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--demo --dev` with the dev outbox in `dir` (`outbox.jsonl`).
pub fn demo_dev_args(dir: &Path) -> Vec<String> {
    vec![
        "--demo".into(),
        "--dev".into(),
        "--dev-outbox".into(),
        dir.join("outbox.jsonl").display().to_string(),
    ]
}

impl ChildServer {
    /// `utilhall serve` over `url` on a free port, in `dir`, with `args` and `env` besides
    /// (password hashing cheap, logs at error level); returns once `/health` answers.
    pub async fn start(dir: &Path, url: &str, args: &[String], env: &[(&str, String)]) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let log = dir.join("server.log");
        let mut child = Command::new(BIN)
            .args(["serve", "--database-url", url, "--bind"])
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "error")
            .env("UTILHALL_AUTH__ARGON2_MEMORY_KIB", "8192")
            .env("UTILHALL_AUTH__ARGON2_ITERATIONS", "1")
            .env("UTILHALL_IOT__EMBEDDED_BROKER", "off")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            )
            .spawn()
            .expect("spawn");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{base}/health")).send().await.is_err() {
            let exited = child.try_wait().expect("try_wait");
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "the server did not start ({exited:?}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ChildServer { child, base, log }
    }

    /// SIGKILL (what `Child::kill` sends on Unix), and wait for it to be gone.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait");
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut from = log.len().saturating_sub(3000);
        while !log.is_char_boundary(from) {
            from += 1;
        }
        log[from..].to_owned()
    }
}

/// What `utilhall ledger check` said of a database.
#[derive(Debug)]
pub struct LedgerCheck {
    pub passed: bool,
    /// Journal entries it counted (`usize::MAX` when it did not say).
    pub entries: usize,
    pub output: String,
}

/// Runs `utilhall ledger check` on the database at `url`.
pub fn ledger_check(dir: &Path, url: &str) -> LedgerCheck {
    let out = Command::new(BIN)
        .args(["ledger", "check", "--database-url", url])
        .current_dir(dir)
        .output()
        .expect("ledger check");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = output
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(3)
        .find(|w| w[1] == "journal" && w[2].starts_with("entries"))
        .and_then(|w| {
            w[0].trim_start_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .ok()
        })
        .unwrap_or(usize::MAX);
    LedgerCheck {
        passed: out.status.success(),
        entries,
        output,
    }
}

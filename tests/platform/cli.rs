//! The binary: clear one-line errors, the operator command, graceful shutdown.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_utilhall");

/// Runs the binary in `dir` with the default database; its whole output.
fn output(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run utilhall")
}

fn run(args: &[&str], dir: &std::path::Path) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "error")
        .output()
        .expect("run utilhall");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_flag_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, err) = run(&["serve", "--no-such-flag"], dir.path());
    assert_ne!(code, 0);
    assert!(err.contains("--no-such-flag"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(code, 2);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_unreachable_database_is_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, err) = run(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            "postgres://u:pw@127.0.0.1:1/nothing",
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("error: cannot reach the database"),
        "{err}"
    );
    assert!(!err.contains("pw@"), "the password is not printed: {err}");
}

#[test]
fn a_port_in_use_is_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (code, err) = run(&["serve", "--bind", &addr], dir.path());
    assert_eq!(code, 1);
    assert!(err.starts_with("error: cannot listen on"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn bad_configuration_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, err) = run(
        &["serve", "--sim-clock", "2026-01-01T00:00:00Z"],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("--dev"), "{err}");
    std::fs::write(dir.path().join("c.toml"), "[server]\nbindd = 1\n").expect("write");
    let (code, err) = run(&["--config", "c.toml", "serve"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("bindd"), "{err}");
}

#[test]
fn admin_create_then_serve_with_sqlite_defaults_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, err) = run(
        &[
            "admin",
            "create",
            "--username",
            "ops",
            "--password",
            "ops-password-1",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        dir.path().join("data/utilhall.db").exists(),
        "the default SQLite file and folder are created"
    );
    let (code, err) = run(
        &[
            "admin",
            "create",
            "--username",
            "ops",
            "--password",
            "ops-password-1",
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "error")
        .env("UTILHALL_IOT__EMBEDDED_BROKER", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let client = reqwest::Client::new();
    let body = loop {
        let attempt = rt.block_on(async {
            client
                .post(format!("http://127.0.0.1:{port}/admin/v1/login"))
                .json(&serde_json::json!({"username": "ops", "password": "ops-password-1"}))
                .send()
                .await
        });
        if let Ok(resp) = attempt {
            break rt.block_on(resp.json::<serde_json::Value>()).expect("json");
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(body["token"].is_string(), "{body}");
    // SIGTERM: a graceful exit with status 0.
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn admin_create_reads_the_password_from_stdin() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(BIN)
        .args(["admin", "create", "--username", "ops2", "--password-stdin"])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"stdin-password-1\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Neither or both password options: a clear one-line refusal.
    let (code, err) = run(&["admin", "create", "--username", "x"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn heating_imports_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("accounts.csv"),
        "heat_account,real_name,id_card,address,heating_area\nH500000001,郑一,650102199007071234,天山区,60\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("bills.csv"),
        "bill_id,heat_account,heating_season,amount,bill_date,due_date\nB500000000001,H500000001,2025-2026,800,2025-10-15,2025-11-30\nB500000000002,H500000099,2025-2026,800,2025-10-15,2025-11-30\n",
    )
    .expect("write");
    let (code, err) = run(&["heating", "import-accounts", "accounts.csv"], dir.path());
    assert_eq!(code, 0, "{err}");
    let out = output(&["heating", "import-accounts", "accounts.csv"], dir.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 unchanged"));
    let (code, err) = run(&["heating", "import-bills", "bills.csv"], dir.path());
    assert_eq!(code, 1);
    assert!(err.starts_with("error: bills.csv: line 3:"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Nothing of the refused file was written: its good row is new now.
    std::fs::write(
        dir.path().join("good.csv"),
        "bill_id,heat_account,heating_season,amount,bill_date,due_date\nB500000000001,H500000001,2025-2026,800,2025-10-15,2025-11-30\n",
    )
    .expect("write");
    let out = output(&["heating", "import-bills", "good.csv"], dir.path());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 created"),
        "{out:?}"
    );
    let (code, err) = run(&["heating", "import-bills", "missing.csv"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("cannot read missing.csv"), "{err}");
}

#[test]
fn ledger_check_passes_on_a_consistent_journal_and_fails_on_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a.csv"),
        "heat_account,real_name,id_card,address,heating_area\nH600000001,冯二,650102199008081234,天山区,60\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("b.csv"),
        "bill_id,heat_account,heating_season,amount,bill_date,due_date,status,paid_at\nB600000000001,H600000001,2024-2025,800,2024-10-15,2024-11-30,paid,2024-11-01\nB600000000002,H600000001,2025-2026,820,2025-10-15,2025-11-30,,\n",
    )
    .expect("write");
    assert_eq!(
        run(&["heating", "import-accounts", "a.csv"], dir.path()).0,
        0
    );
    assert_eq!(run(&["heating", "import-bills", "b.csv"], dir.path()).0, 0);
    let out = output(&["ledger", "check"], dir.path());
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ledger ok: 1 journal entries"),
        "{out:?}"
    );
    // Mark the unpaid bill paid behind the journal's back.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.path().join("data/utilhall.db").display());
        let mut conn = sqlx::sqlite::SqliteConnection::connect(&url)
            .await
            .expect("connect");
        sqlx::query("UPDATE heating_bills SET status = 'paid' WHERE bill_id = 'B600000000002'")
            .execute(&mut conn)
            .await
            .expect("tamper");
    });
    let out = output(&["ledger", "check"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("B600000000002"),
        "{out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ledger check failed"),
        "{out:?}"
    );
}

#[test]
fn meter_import_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("m.csv"),
        "admin_user_name,build_code,build_name,address,user_code,user_name,house_number,table_no,table_type,unit_price\nnobody,A,b,c,U1,n,,T1,1,56\n",
    )
    .expect("write");
    let (code, err) = run(&["meter", "import", "m.csv"], dir.path());
    assert_eq!(code, 1);
    assert!(err.starts_with("error: m.csv: line 2:"), "{err}");
}

#[test]
fn charging_replay_prints_the_station_after_each_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("day.txt");
    std::fs::write(
        &file,
        "start 2026-01-05\n06:00 arrive A fast 30\n06:00 arrive B slow 10\n06:30 fault F1\n06:40 recover F1\n",
    )
    .expect("write");
    let out = output(
        &[
            "charging",
            "replay",
            file.to_str().expect("utf-8"),
            "--policy",
            "time",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("== 06:30 fault F1"), "{text}");
    assert!(text.contains("   F1   fault"), "{text}");
    assert!(
        text.contains("finished T1 on T1: 10.00 kWh 06:00:00-07:00:00"),
        "{text}"
    );
    std::fs::write(&file, "06:00 arrive A fast 30\n05:00 cancel A\n").expect("write");
    let (code, err) = run(
        &["charging", "replay", file.to_str().expect("utf-8")],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("line 2"), "{err}");
}

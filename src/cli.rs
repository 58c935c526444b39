//! The command line: `serve`, and operator tasks (`admin create`).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::{self, App};
use crate::config::{Config, Secret};

/// utilhall: the APIs of utility and energy service companies, in one server.
#[derive(Debug, Parser)]
#[command(name = "utilhall", version, about)]
pub struct Cli {
    /// TOML configuration file (env `UTILHALL_<SECTION>__<KEY>` and flags override it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database: `sqlite://PATH` or `postgres://...` [default: sqlite://./data/utilhall.db]
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Operator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The heating registry.
    #[command(subcommand)]
    Heating(HeatingCommand),
    /// The money journal.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// The prepaid meter registry.
    #[command(subcommand)]
    Meter(MeterCommand),
    /// The EV charging station.
    #[command(subcommand)]
    Charging(ChargingCommand),
    /// Connected purifiers.
    #[command(subcommand)]
    Iot(IotCommand),
}

#[derive(Debug, Subcommand)]
pub enum IotCommand {
    /// Run simulated purifiers against an MQTT broker, one client each (see `src/sim/`).
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The broker: `mqtt://[user:pass@]host:port`.
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    pub broker: String,
    /// The topic prefix (the server's `iot.topic_prefix`).
    #[arg(long, default_value = "uh")]
    pub prefix: String,
    /// The devices, one `did,secret` a line (written first with --register).
    #[arg(long, value_name = "FILE")]
    pub devices: PathBuf,
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub report_every_secs: f64,
    /// Simulated hours per real hour.
    #[arg(long, default_value_t = 60.0)]
    pub speed: f64,
    /// The chance, per report, of a new fault code.
    #[arg(long, default_value_t = 0.01)]
    pub fault_rate: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many seconds (0: only register) [default: until Ctrl-C]
    #[arg(long, value_name = "N")]
    pub for_secs: Option<u64>,
    /// First register N new devices with the server and write them to FILE.
    #[arg(long, value_name = "N", requires = "server")]
    pub register: Option<usize>,
    /// The server to register with, `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// A platform operator of the IoT surface, `user:password`.
    #[arg(long, value_name = "USER:PWD", default_value = "platform:platform123")]
    pub admin: String,
    /// The vendor of the new devices [default: the first vendor]
    #[arg(long, value_name = "VID")]
    pub vendor: Option<String>,
    /// The product of the new devices [default: the vendor's first product]
    #[arg(long, value_name = "PID")]
    pub product: Option<String>,
    /// The type of the new devices (1 sold, 2 timed rental, 3 metered rental, 4 vending).
    #[arg(long = "type", default_value_t = 1)]
    pub device_type: i64,
}

#[derive(Debug, Subcommand)]
pub enum ChargingCommand {
    /// Replay timed events (arrive, change, cancel, fault, recover, off, on) on a simulated
    /// clock and print every pile and the waiting area after each one.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The events, one per line (see `src/replay.rs` for the format).
    pub file: PathBuf,
    /// What happens to a failed pile's cars: `priority` or `time` (time order).
    #[arg(long, default_value = "priority")]
    pub policy: String,
    #[arg(long, default_value_t = 2)]
    pub fast: usize,
    #[arg(long, default_value_t = 3)]
    pub slow: usize,
    /// Fast pile power (kW).
    #[arg(long, default_value_t = 30)]
    pub fast_power: i64,
    /// Slow pile power (kW).
    #[arg(long, default_value_t = 10)]
    pub slow_power: i64,
    /// Waiting-area places (N).
    #[arg(long, default_value_t = 10)]
    pub waiting: usize,
    /// Places per pile queue, the charging car included (M).
    #[arg(long, default_value_t = 3)]
    pub queue: usize,
    /// Print only the totals and the scheduler's speed (for large files).
    #[arg(long)]
    pub summary: bool,
}

#[derive(Debug, Subcommand)]
pub enum MeterCommand {
    /// Load meters with their households, addresses and buildings from CSV:
    /// admin_user_name,build_code,build_name,address,user_code,user_name,house_number,table_no,table_type,unit_price[,opening_balance]
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Verify that every balance and every bill status agrees with the journal (exit 1 if not).
    Check,
}

#[derive(Debug, Subcommand)]
pub enum HeatingCommand {
    /// Load heat accounts from CSV: heat_account,real_name,id_card,address,heating_area
    ImportAccounts { file: PathBuf },
    /// Load bills from CSV: bill_id,heat_account,heating_season,amount,bill_date,due_date[,status]
    ImportBills { file: PathBuf },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the main listener [default: 127.0.0.1:8080]
    #[arg(long, env = "UTILHALL_BIND", value_name = "ADDR")]
    pub bind: Option<String>,
    /// Load the demo data set (idempotent).
    #[arg(long)]
    pub demo: bool,
    /// Development mode: codes go to the dev outbox instead of being sent.
    #[arg(long)]
    pub dev: bool,
    /// Where the dev outbox is written [default: ./data/dev-outbox.jsonl]
    #[arg(long, value_name = "PATH")]
    pub dev_outbox: Option<PathBuf>,
    /// Also serve a surface at the root of its own listener, e.g. `heating=127.0.0.1:9001`.
    #[arg(long = "surface-bind", value_name = "NAME=ADDR", value_parser = parse_surface_bind)]
    pub surface_bind: Vec<(String, String)>,
    /// Start a simulated clock at this RFC 3339 instant (needs --dev).
    #[arg(long, value_name = "RFC3339")]
    pub sim_clock: Option<String>,
    /// Let the simulated clock also run at this multiple of real time.
    #[arg(long, value_name = "X")]
    pub sim_speed: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an operator (or, with --update, reset an existing operator's password).
    Create {
        #[arg(long)]
        username: String,
        /// The password (visible in the process list: prefer --password-stdin on shared hosts).
        #[arg(
            long,
            required_unless_present = "password_stdin",
            conflicts_with = "password_stdin"
        )]
        password: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        update: bool,
    },
}

fn parse_surface_bind(s: &str) -> Result<(String, String), String> {
    let (name, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=ADDR, got {s:?}"))?;
    if name.is_empty() || addr.is_empty() {
        return Err(format!("expected NAME=ADDR, got {s:?}"));
    }
    Ok((name.to_owned(), addr.to_owned()))
}

impl Cli {
    /// The configuration: file, then environment, then the flags of this command line.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref(), std::env::vars())?;
        if let Some(url) = &self.database_url {
            config.server.database_url = Secret(url.clone());
        }
        if let Command::Serve(args) = &self.command {
            if let Some(bind) = &args.bind {
                config.server.bind = bind.clone();
            }
            config.server.demo |= args.demo;
            config.dev.enabled |= args.dev;
            if let Some(path) = &args.dev_outbox {
                config.dev.outbox = path.clone();
            }
            for (name, addr) in &args.surface_bind {
                config.surface_bind.insert(name.clone(), addr.clone());
            }
            if let Some(start) = &args.sim_clock {
                config.dev.sim_clock = Some(start.clone());
            }
            if let Some(speed) = args.sim_speed {
                config.dev.sim_speed = speed;
            }
        }
        Ok(config)
    }
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(_) => {
            let app = App::build(config).await?;
            app.run(shutdown_signal()).await
        }
        Command::Charging(ChargingCommand::Replay(args)) => {
            use crate::domain::charging::station::{FaultPolicy, StationConfig};
            let text = std::fs::read_to_string(&args.file)
                .with_context(|| format!("cannot read {}", args.file.display()))?;
            let fault_policy = match args.policy.as_str() {
                "priority" => FaultPolicy::Priority,
                "time" | "time-order" | "time_order" => FaultPolicy::TimeOrder,
                other => anyhow::bail!("--policy is priority or time, not {other:?}"),
            };
            anyhow::ensure!(
                args.fast + args.slow > 0
                    && args.queue > 0
                    && args.fast_power > 0
                    && args.slow_power > 0,
                "piles, queue places and powers must be positive"
            );
            let station = StationConfig {
                fast_piles: args.fast,
                slow_piles: args.slow,
                fast_power_w: args.fast_power * 1000,
                slow_power_w: args.slow_power * 1000,
                waiting_capacity: args.waiting,
                queue_len: args.queue,
                fault_policy,
                ..StationConfig::default()
            };
            let report = crate::replay::run(&text, station, args.summary)
                .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
            print!("{report}");
            Ok(())
        }
        Command::Iot(IotCommand::Simulate(args)) => simulate(args).await,
        Command::Meter(MeterCommand::Import { file }) => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let store = app::open_store(&config).await?;
            let services = app::build_services(&config, store).await?;
            let result = services.meter.import(&bytes).await;
            services.store.close().await;
            let report = result.map_err(|e| match e {
                crate::domain::Error::Invalid(inv) => {
                    anyhow::anyhow!("{}: {}", file.display(), inv.message)
                }
                other => anyhow::anyhow!("{other}"),
            })?;
            println!(
                "meters: {} rows, {} created, {} updated, {} unchanged",
                report.rows, report.created, report.updated, report.unchanged
            );
            Ok(())
        }
        Command::Ledger(LedgerCommand::Check) => {
            let store = app::open_store(&config).await?;
            let services = app::build_services(&config, store).await?;
            let report = services
                .journal
                .check()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"));
            services.store.close().await;
            let report = report?;
            for problem in &report.problems {
                println!("MISMATCH {problem}");
            }
            let summary = format!(
                "{} journal entries, {} orders, {} bills",
                report.entries, report.orders, report.bills
            );
            anyhow::ensure!(
                report.problems.is_empty(),
                "ledger check failed: {} problem(s) in {summary}",
                report.problems.len()
            );
            println!("ledger ok: {summary}");
            Ok(())
        }
        Command::Heating(command) => {
            let (file, what) = match &command {
                HeatingCommand::ImportAccounts { file } => (file, "heat accounts"),
                HeatingCommand::ImportBills { file } => (file, "bills"),
            };
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let store = app::open_store(&config).await?;
            let services = app::build_services(&config, store).await?;
            let result = match command {
                HeatingCommand::ImportAccounts { .. } => {
                    services.heating.accounts.import_accounts(&bytes).await
                }
                HeatingCommand::ImportBills { .. } => {
                    services.heating.accounts.import_bills(&bytes).await
                }
            };
            services.store.close().await;
            let report = result.map_err(|e| match e {
                crate::domain::Error::Invalid(inv) => {
                    anyhow::anyhow!("{}: {}", file.display(), inv.message)
                }
                other => anyhow::anyhow!("{other}"),
            })?;
            println!(
                "{what}: {} rows, {} created, {} updated, {} unchanged",
                report.rows, report.created, report.updated, report.unchanged
            );
            Ok(())
        }
        Command::Admin(AdminCommand::Create {
            username,
            password,
            password_stdin,
            update,
        }) => {
            let password = match password {
                Some(p) if !password_stdin => p,
                _ => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("cannot read the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let store = app::open_store(&config).await?;
            let services = app::build_services(&config, store).await?;
            let op = services
                .operators
                .create(&username, &password, update)
                .await
                .map_err(|e| match e {
                    crate::domain::Error::Conflict(_) => {
                        anyhow::anyhow!("operator {username:?} already exists (use --update to reset the password)")
                    }
                    other => anyhow::anyhow!("{other}"),
                })
                .context("cannot create the operator")?;
            println!("operator {} ready (id {})", op.username, op.id);
            services.store.close().await;
            Ok(())
        }
    }
}

/// `utilhall iot simulate`: registers devices when asked, then runs them until Ctrl-C or
/// `--for-secs`, printing the fleet's counters as it goes.
async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    use std::time::Duration;

    use crate::sim::{self, Registration, SimConfig};

    if let (Some(count), Some(server)) = (args.register, &args.server) {
        let (user, pwd) = args
            .admin
            .split_once(':')
            .context("--admin is user:password")?;
        let registration = Registration {
            server: server.clone(),
            user: user.to_owned(),
            pwd: pwd.to_owned(),
            vendor: args.vendor.clone(),
            product: args.product.clone(),
            device_type: args.device_type,
            count,
            id_prefix: format!("SIM{:06x}", rand::random::<u32>() & 0xff_ffff),
        };
        let devices = sim::register_devices(&registration).await?;
        std::fs::write(&args.devices, sim::write_devices(&devices))
            .with_context(|| format!("cannot write {}", args.devices.display()))?;
        println!(
            "registered {} devices, written to {}",
            devices.len(),
            args.devices.display()
        );
    }
    if args.for_secs == Some(0) {
        return Ok(());
    }
    let text = std::fs::read_to_string(&args.devices)
        .with_context(|| format!("cannot read {}", args.devices.display()))?;
    let devices =
        sim::read_devices(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.devices.display()))?;
    anyhow::ensure!(
        args.report_every_secs > 0.0 && args.report_every_secs.is_finite(),
        "--report-every-secs must be positive"
    );
    sim::Broker::parse(&args.broker)?;
    let count = devices.len();
    let fleet = sim::run_fleet(SimConfig {
        broker: args.broker.clone(),
        prefix: args.prefix.clone(),
        devices,
        report_every: Duration::from_secs_f64(args.report_every_secs),
        speed: args.speed,
        fault_rate: args.fault_rate,
        seed: args.seed,
    })
    .await;
    println!(
        "{count} simulated purifiers on {} (prefix {})",
        args.broker, args.prefix
    );
    let until = async {
        match args.for_secs {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => shutdown_signal().await,
        }
    };
    tokio::pin!(until);
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    loop {
        tokio::select! {
            () = &mut until => break,
            _ = tick.tick() => println!("{}", fleet_line(&fleet.stats(), count)),
        }
    }
    let stats = fleet.stats();
    fleet.stop().await;
    println!("{}", fleet_line(&stats, count));
    Ok(())
}

fn fleet_line(s: &crate::sim::FleetStats, count: usize) -> String {
    format!(
        "connected {}/{count}, reports {} (skipped {}), commands {} (done {}, refused {}, \
         expired {}), desired {}, dropped: signature {} replay {} malformed {}, reconnections {}",
        s.connected,
        s.reports_sent,
        s.reports_skipped,
        s.commands_received,
        s.commands_obeyed,
        s.commands_failed,
        s.commands_expired,
        s.desired_applied,
        s.dropped_bad_signature,
        s.dropped_replay,
        s.dropped_malformed,
        s.connection_errors,
    )
}

//! The `utilhall` binary: parse the command line, start logging, run the command.

use clap::Parser as _;

use utilhall::cli::{self, Cli};

/// mimalloc: the server allocates and frees many small objects per request (JSON values,
/// rows, strings); glibc's allocator spent about a third of a list request's CPU time (see
/// bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // One clear line instead of clap's usage block.
            let first = e.to_string();
            let first = first.lines().next().unwrap_or("error: bad command line");
            eprintln!("{first} (see `utilhall --help`)");
            return std::process::ExitCode::from(2);
        }
        Err(e) => {
            // --help and --version.
            let _ = e.print();
            return std::process::ExitCode::SUCCESS;
        }
    };
    let config = match cli.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    utilhall::telemetry::init_logging(&config.log.level, &config.log.format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli, config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

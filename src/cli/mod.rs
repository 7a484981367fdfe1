//! The command line: flags are parsed and turned into library settings here, and nowhere else. One file per
//! command; this one holds what they share.
//!
//! Errors end the process with one line on stderr and a non-zero status: 2 for bad usage, 1 for anything that
//! went wrong while running. Nothing here panics on bad input.

mod experiment;
mod load;
mod serve;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "serverlab",
    version,
    about = "A lab for network-server concurrency: serve, load, compare.",
    // A flag given twice takes its last value, so a command line can be extended by appending to it.
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a server for one protocol in one concurrency model.
    Serve(serve::ServeArgs),
    /// Drive a server with many clients and report throughput, latency, errors and fairness.
    Load(Box<load::LoadArgs>),
    /// Merge `load --json` results (from several machines) into one summary.
    Merge(load::MergeArgs),
    /// Run every model against growing numbers of clients; print tables, write results and an HTML report.
    Experiment(experiment::ExperimentArgs),
}

/// Runs the command line of this process and returns its exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Load(args) => return load::main(*args),
        Command::Merge(args) => return load::merge_main(args),
        Command::Experiment(args) => experiment::run_command(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("serverlab: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            eprintln!("serverlab: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command did not succeed, which decides its exit status.
#[derive(Debug)]
enum Failure {
    /// Bad usage (status 2): flags that cannot work together or out of range.
    Usage(String),
    /// The run itself failed (status 1).
    Run(String),
}

/// Help and version go to stdout with status 0; real usage errors become one line on stderr and status 2.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let rendered = error.render().to_string();
    // clap's first paragraph is the error itself; the rest is usage, which `--help` gives in full.
    let first: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = first.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("serverlab: {message} (see serverlab --help)");
    ExitCode::from(2)
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("'{text}' is not an address like 127.0.0.1:5000 ({e})"))?;
    addrs
        .next()
        .ok_or_else(|| format!("'{text}' resolves to no address"))
}

//! The command line: flags are parsed and turned into library settings here, and nowhere else. One file per
//! command; this one holds what they share.
//!
//! Errors end the process with one line on stderr and a non-zero status: 2 for bad usage, 1 for anything that
//! went wrong while running; a run stopped by Ctrl-C (or SIGTERM) that still wrote what it measured exits 130,
//! as shells expect of an interrupted command. Nothing here panics on bad input.
//!
//! People's habits are met where clap can meet them: a typo gets clap's "did you mean" tip in the one error
//! line, with the subcommand's own `--help` to read next, and enum values take any case (`--model Threads`).

mod experiment;
mod load;
mod serve;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// Run every model (and any server of yours) against growing numbers of clients; print tables, write results
    /// and an HTML report.
    Experiment(experiment::ExperimentArgs),
}

/// The status of a run stopped by Ctrl-C: 128 + SIGINT, what a shell reports for an interrupted command.
const INTERRUPTED: u8 = 130;

/// How a command that did not fail ended.
#[derive(Debug, PartialEq, Eq)]
enum Done {
    Finished,
    /// Stopped by a signal before it was through; what it measured is written.
    Interrupted,
}

/// The `serverlab` command as clap sees it, with every enum value taking any case: `--model Threads` and
/// `--lang PT` are what people type, and no value differs from another by case alone.
fn command() -> clap::Command {
    fn any_case(command: clap::Command) -> clap::Command {
        command.mut_args(|arg| {
            // Only an argument that takes a value from a list (flags take none; clap refuses the setting there).
            let takes_value = matches!(
                arg.get_action(),
                clap::ArgAction::Set | clap::ArgAction::Append
            );
            if takes_value && arg.get_value_parser().possible_values().is_some() {
                arg.ignore_case(true)
            } else {
                arg
            }
        })
    }
    let mut command = Cli::command();
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, any_case);
    }
    command
}

/// Runs the command line of this process and returns its exit status.
pub fn main() -> ExitCode {
    let cli = match command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).map(|()| Done::Finished),
        Command::Load(args) => return load::main(*args),
        Command::Merge(args) => return load::merge_main(args),
        Command::Experiment(args) => experiment::run_command(args),
    };
    match result {
        Ok(Done::Finished) => ExitCode::SUCCESS,
        Ok(Done::Interrupted) => ExitCode::from(INTERRUPTED),
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
    let command = match subcommand(std::env::args().skip(1)) {
        Some(name) => format!("serverlab {name}"),
        None => "serverlab".to_string(),
    };
    eprintln!(
        "serverlab: {}",
        one_line(&error.render().to_string(), &command)
    );
    ExitCode::from(2)
}

/// clap's error in one line: its first paragraph (the error itself) and its tip, if any (`a similar argument
/// exists: '--model'`), then the help to read: `command`'s. The usage is left to `--help`, which gives it in
/// full.
fn one_line(rendered: &str, command: &str) -> String {
    let paragraphs: Vec<Vec<&str>> = rendered
        .split("\n\n")
        .map(|p| p.lines().map(str::trim).filter(|l| !l.is_empty()).collect())
        .filter(|p: &Vec<&str>| !p.is_empty())
        .collect();
    let Some(first) = paragraphs.first() else {
        return format!("bad usage (see {command} --help)");
    };
    let message = first.join(" ");
    let mut line = message
        .strip_prefix("error: ")
        .unwrap_or(&message)
        .to_string();
    let tips = paragraphs
        .iter()
        .skip(1)
        .flatten()
        .filter_map(|l| l.strip_prefix("tip: "));
    for tip in tips {
        line.push_str("; ");
        line.push_str(tip);
    }
    format!("{line} (see {command} --help)")
}

/// The subcommand a command line runs: its first word that is not a flag, if it names one.
fn subcommand(mut args: impl Iterator<Item = String>) -> Option<String> {
    let first = args.find(|a| !a.starts_with('-'))?;
    Cli::command()
        .get_subcommands()
        .any(|s| s.get_name() == first)
        .then_some(first)
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("'{text}' is not an address like 127.0.0.1:5000 ({e})"))?;
    addrs
        .next()
        .ok_or_else(|| format!("'{text}' resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> impl Iterator<Item = String> {
        line.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn the_subcommand_is_the_first_word_that_names_one() {
        assert_eq!(subcommand(words("serve --modle x")), Some("serve".into()));
        assert_eq!(subcommand(words("lod --target x")), None);
        assert_eq!(subcommand(words("")), None);
    }

    #[test]
    fn a_clap_error_keeps_its_tip_in_one_line() {
        let rendered = "error: unexpected argument '--modle' found\n\n  tip: a similar argument exists: '--model'\n\nUsage: serverlab serve --model <MODEL>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(rendered, "serverlab serve"),
            "unexpected argument '--modle' found; a similar argument exists: '--model' (see serverlab serve --help)"
        );
    }
}

//! The `lodestone` binary: arguments in, exit code out. The only place that prints.

use std::process::ExitCode;

use clap::Parser;
use lodestone::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Template { .. } | Command::Check { .. } | Command::Run { .. } => {
            eprintln!("lodestone: this command is not built yet");
            ExitCode::from(2)
        }
    }
}

//! `kubectl servicedb`: the operator's kubectl plugin. One file per verb;
//! each reads what it needs, acts, and follows the result to its end within
//! `--timeout`, with exit codes scripts can rely on (failure.rs).

mod backup;
mod backups;
mod cli;
mod completion;
mod connect;
mod failure;
mod follow;
mod output;
mod pause;
mod restore;
mod rotate;
mod status;
mod store;
mod target;
mod tree;

pub use cli::Cli;
pub use connect::{ClientCommand, Login, ServerTls, client_command};
pub use failure::{EXIT_CODES, Failure};

use clap::Parser;
use cli::Command;
use std::ffi::OsString;
use std::process::ExitCode;
use target::Target;

/// Field manager of everything the plugin writes.
pub const FIELD_MANAGER: &str = "kubectl-servicedb";

pub async fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(failure.code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let timeout = cli.timeout;
    match cli.command {
        Command::Completion { shell } => {
            print!("{}", completion::script(shell));
            Ok(())
        }
        Command::Complete { words } => {
            completion::complete(&words).await;
            Ok(())
        }
        command => {
            let target = Target::connect(cli.namespace).await?;
            match command {
                Command::Status { name, output } => {
                    let sdb = target.instance(&name).await?;
                    let report = status::gather(&target, &sdb).await?;
                    output::print(output, &report, |r| status::tree(r).render())
                }
                Command::Backup { name } => {
                    backup::run(&target, &name, timeout.unwrap_or(backup::DEFAULT_TIMEOUT)).await
                }
                Command::Restore { name, backup, into } => {
                    restore::run(&target, &name, &backup, &into, timeout.unwrap_or(restore::DEFAULT_TIMEOUT)).await
                }
                Command::Rotate { name } => {
                    rotate::run(&target, &name, timeout.unwrap_or(rotate::DEFAULT_TIMEOUT)).await
                }
                Command::Pause { name } => {
                    pause::run(&target, &name, true, timeout.unwrap_or(pause::DEFAULT_TIMEOUT)).await
                }
                Command::Resume { name } => {
                    pause::run(&target, &name, false, timeout.unwrap_or(pause::DEFAULT_TIMEOUT)).await
                }
                Command::Connect { name, client_args } => connect::run(&target, &name, &client_args).await,
                Command::Backups { name, output, tools_image } => {
                    let timeout = timeout.unwrap_or(backups::DEFAULT_TIMEOUT);
                    backups::run(&target, &name, output, tools_image.as_deref(), timeout).await
                }
                Command::Completion { .. } | Command::Complete { .. } => Ok(()),
            }
        }
    }
}

//! The command line of `kubectl servicedb`.

use super::failure::EXIT_CODES;
use clap::{Parser, Subcommand, ValueEnum};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "kubectl-servicedb",
    bin_name = "kubectl servicedb",
    version,
    about = "Operate servicedb's databases: status, backups, restore, rotation, pause and connect",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Namespace of the ServiceDatabase; the kubeconfig context's namespace when omitted.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// How long a command may wait for its goal, e.g. 90s, 5m, 1h (each command has a default).
    #[arg(long, global = true, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The instance, its children and their health, conditions, backups and rotation, as a tree.
    Status {
        name: String,
        #[arg(short, long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Take a backup now (a ServiceDatabaseBackup) and follow it to the end (default timeout 15m).
    Backup { name: String },
    /// List the backups in the instance's store (read by a short-lived Job in the cluster; default timeout 5m).
    Backups {
        name: String,
        #[arg(short, long, value_enum, default_value_t = Output::Text)]
        output: Output,
        /// Image for the listing Job; default: the image of the instance's backup CronJob.
        #[arg(long)]
        tools_image: Option<String>,
    },
    /// Restore a backup into a NEW ServiceDatabase and follow it until Ready (default timeout 30m).
    Restore {
        name: String,
        /// Backup id, as `kubectl servicedb backups NAME` shows it.
        #[arg(long = "backup", value_name = "ID")]
        backup: String,
        /// Name of the new ServiceDatabase; refused if it exists.
        #[arg(long, value_name = "NEW")]
        into: String,
    },
    /// Rotate the service's credentials now and wait for the switch (default timeout 10m).
    Rotate { name: String },
    /// Stop the operator from changing anything of the instance (annotation servicedb.dev/reconcile=paused).
    Pause { name: String },
    /// Let the operator manage the instance again; it repairs what drifted.
    Resume { name: String },
    /// Open the engine's client (psql, mariadb, redis-cli) as the service's login, through a port-forward.
    /// Arguments after `--` go to the client, e.g. `-- -c 'select current_user'`.
    Connect {
        name: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "CLIENT_ARGS")]
        client_args: Vec<String>,
    },
    /// Print a shell completion script: bash, zsh, fish, or `kubectl` for
    /// kubectl's plugin completion (save it as an executable
    /// `kubectl_complete-servicedb` on the PATH).
    Completion { shell: CompletionShell },
    /// kubectl's plugin completion protocol (called by `kubectl_complete-servicedb`).
    #[command(name = "__complete", hide = true)]
    Complete {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
    Yaml,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Kubectl,
}

/// `90`, `90s`, `5m`, `1h`, `1m30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: use e.g. 90s, 5m, 1h or 1m30s");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let (mut total, mut digits) = (0u64, String::new());
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = total.checked_add(n.checked_mul(unit).ok_or_else(bad)?).ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["", "m", "5x", "5m3", "0s", "-1"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connect_passes_everything_after_the_name_to_the_client() {
        let cli = Cli::try_parse_from(["kubectl-servicedb", "-n", "shop", "connect", "orders", "--", "-c", "select 1"])
            .unwrap();
        assert_eq!(cli.namespace.as_deref(), Some("shop"));
        match cli.command {
            Command::Connect { name, client_args } => {
                assert_eq!(name, "orders");
                assert_eq!(client_args, ["-c", "select 1"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors_exit_with_two_and_help_lists_exit_codes() {
        let err = Cli::try_parse_from(["kubectl-servicedb", "restore", "orders", "--backup", "x"]).unwrap_err();
        assert_eq!(err.exit_code(), 2, "--into is required");
        let help = Cli::try_parse_from(["kubectl-servicedb", "--help"]).unwrap_err().to_string();
        assert!(help.contains("4  forbidden"), "{help}");
    }

    #[test]
    fn no_arguments_list_the_commands_and_every_verb_has_help_and_needs_a_name() {
        let bare = Cli::try_parse_from(["kubectl-servicedb"]).unwrap_err();
        assert_eq!(bare.exit_code(), 2);
        let text = bare.to_string();
        assert!(text.contains("Commands:") && text.contains("connect"), "{text}");
        for verb in ["status", "backup", "backups", "restore", "rotate", "pause", "resume", "connect"] {
            let help = Cli::try_parse_from(["kubectl-servicedb", verb, "--help"]).unwrap_err();
            assert_eq!(help.exit_code(), 0, "{verb} --help");
            assert!(help.to_string().contains(&format!("kubectl servicedb {verb}")), "{verb}: {help}");
            let nameless = Cli::try_parse_from(["kubectl-servicedb", verb]).unwrap_err();
            assert_eq!(nameless.exit_code(), 2, "{verb} without a name");
            assert!(nameless.to_string().contains("<NAME>"), "{verb}: {nameless}");
        }
    }
}

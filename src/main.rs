//! The `servicedb` command: the operator and its tools.

use clap::{Parser, Subcommand};
use servicedb::controller::{self, Settings};
use servicedb::telemetry::{self, LogFormat};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "servicedb",
    version,
    about = "A Kubernetes operator that gives every service its own private database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator against the cluster of the current kubeconfig or the in-cluster ServiceAccount.
    Run(RunArgs),
    /// Print the CustomResourceDefinitions as YAML (what `crds/` holds).
    Crd,
    /// Print the version.
    Version,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "SERVICEDB_WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Namespace of the operator's pods, let into every database port by the NetworkPolicies.
    #[arg(long, env = "SERVICEDB_OPERATOR_NAMESPACE", default_value = "servicedb-system")]
    operator_namespace: String,
    /// Seconds between drift checks of an unchanged ServiceDatabase.
    #[arg(long, env = "SERVICEDB_RESYNC_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    resync_seconds: u64,
    /// Log format.
    #[arg(long, env = "SERVICEDB_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Log level or filter, e.g. "info" or "servicedb=debug,kube=info".
    #[arg(long, env = "SERVICEDB_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Name of this operator instance in Events (the pod name in a cluster).
    #[arg(long, env = "POD_NAME", default_value = "servicedb")]
    instance_name: String,
}

async fn run(args: RunArgs) -> Result<(), String> {
    telemetry::init(args.log_format, &args.log_level)?;
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("cannot configure a Kubernetes client (kubeconfig or in-cluster): {e}"))?;
    let version =
        client.apiserver_version().await.map_err(|e| format!("cannot reach the Kubernetes API server: {e}"))?;
    tracing::info!(server = %version.git_version, namespace = args.namespace.as_deref().unwrap_or("<all>"), "starting servicedb");
    let settings =
        Settings { operator_namespace: args.operator_namespace, resync: Duration::from_secs(args.resync_seconds) };
    controller::run(client, args.namespace, settings, args.instance_name).await;
    tracing::info!("stopped");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd => servicedb::api::crds_yaml().map(|yaml| print!("{yaml}")).map_err(|e| e.to_string()),
        Command::Version => {
            println!("servicedb {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Run(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))
            .and_then(|rt| rt.block_on(run(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("servicedb: {message}");
            ExitCode::FAILURE
        }
    }
}

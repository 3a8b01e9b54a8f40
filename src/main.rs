//! The `servicedb` command: the operator and its tools.

use clap::{Parser, Subcommand};
use servicedb::controller::{self, Caches, Context, Scope, Settings};
use servicedb::engine::{ImageCatalog, Images};
use servicedb::http::{self, Health, Readiness};
use servicedb::leader::{Leadership, LeaseSettings};
use servicedb::metrics::Metrics;
use servicedb::telemetry::{self, LogFormat};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
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
    /// Back up one database: its engine's dump tool, compressed with zstd,
    /// to a directory or S3, verified, then old backups pruned. `backup list`
    /// and `backup verify` inspect the backups of a destination.
    Backup(servicedb::backup::cli::BackupCommand),
    /// Restore a backup (the newest by default) after checking its checksum.
    Restore(servicedb::backup::cli::RestoreArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Namespaces to watch, comma-separated; all namespaces when empty.
    #[arg(long, env = "SERVICEDB_WATCH_NAMESPACES", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Namespace of the operator's pods: let into every database port by the
    /// NetworkPolicies, and home of the leader Lease.
    #[arg(long, env = "SERVICEDB_OPERATOR_NAMESPACE", default_value = "servicedb-system")]
    operator_namespace: String,
    /// The operator's ServiceAccount, in --operator-namespace: the isolation
    /// audit does not report its own access to the credentials.
    #[arg(long, env = "SERVICEDB_SERVICE_ACCOUNT", default_value = "servicedb")]
    service_account: String,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "SERVICEDB_HTTP_ADDRESS", default_value = "0.0.0.0:8080")]
    http_address: SocketAddr,
    /// Seconds between drift checks of an unchanged ServiceDatabase.
    #[arg(long, env = "SERVICEDB_RESYNC_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    resync_seconds: u64,
    /// ServiceDatabases reconciled at once. Each reconcile holds a
    /// connection to the API server: unbounded, a thousand objects created
    /// at once meant a thousand connections (and their buffers) and 429s.
    #[arg(long, env = "SERVICEDB_CONCURRENT_RECONCILES", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    concurrent_reconciles: u16,
    /// Elect a leader among replicas through a Lease; only the leader reconciles.
    #[arg(long, env = "SERVICEDB_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the leader Lease (in the operator namespace).
    #[arg(long, env = "SERVICEDB_LEASE_NAME", default_value = "servicedb-leader")]
    lease_name: String,
    /// Seconds a leader's lease lasts without renewal: the longest a failover takes.
    #[arg(long, env = "SERVICEDB_LEASE_DURATION_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=300))]
    lease_duration_seconds: u64,
    /// JSON file mapping "<namespace>/<name>-db" to "host:port", to reach
    /// databases from outside the cluster (re-read on every use).
    #[arg(long, env = "SERVICEDB_ENDPOINT_OVERRIDES")]
    endpoint_overrides: Option<std::path::PathBuf>,
    /// Image of the backup Jobs: servicedb with pg_dump, mariadb-dump and
    /// redis-cli (the Dockerfile's `tools` target).
    #[arg(long, env = "SERVICEDB_TOOLS_IMAGE", default_value = concat!("ghcr.io/servicedb/servicedb-tools:", env!("CARGO_PKG_VERSION")))]
    tools_image: String,
    /// Namespace of Prometheus: the only one let into the exporters' metrics port.
    #[arg(long, env = "SERVICEDB_MONITORING_NAMESPACE", default_value = "monitoring")]
    monitoring_namespace: String,
    /// YAML file naming the image of every engine version and exporter the
    /// operator may run (`engines: {postgres: {"16": IMAGE}}`, `exporters:
    /// {postgres: IMAGE}`); when given, the only source of images. Without
    /// it, the official images. Read once at start.
    #[arg(long, env = "SERVICEDB_IMAGE_CATALOG", value_name = "FILE")]
    image_catalog: Option<std::path::PathBuf>,
    /// Log format.
    #[arg(long, env = "SERVICEDB_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Log level or filter, e.g. "info" or "servicedb=debug,kube=info".
    #[arg(long, env = "SERVICEDB_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Name of this replica in Events and the Lease (the pod name in a cluster).
    #[arg(long, env = "POD_NAME", default_value = "servicedb")]
    instance_name: String,
}

async fn client(instance: &str) -> Result<kube::Client, String> {
    let mut config = kube::Config::infer()
        .await
        .map_err(|e| format!("no Kubernetes configuration (kubeconfig or in-cluster): {e}"))?;
    let agent = format!("servicedb/{} ({instance})", env!("CARGO_PKG_VERSION"));
    if let Ok(value) = agent.parse() {
        // The audit log tells replicas apart by this.
        config.headers.push((::http::header::USER_AGENT, value));
    }
    let url = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).map_err(|e| format!("cannot build a Kubernetes client: {e}"))?;
    match tokio::time::timeout(Duration::from_secs(15), client.apiserver_version()).await {
        Ok(Ok(version)) => {
            tracing::info!(server = %version.git_version, %url, "connected to the API server");
            Ok(client)
        }
        Ok(Err(e)) => Err(format!("cannot reach the Kubernetes API server at {url}: {e}")),
        Err(_) => Err(format!("the Kubernetes API server at {url} did not answer within 15s")),
    }
}

/// Turns true on SIGTERM or Ctrl-C.
fn shutdown_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = terminate => tracing::info!("SIGTERM: finishing in-flight reconciles"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: finishing in-flight reconciles"),
        }
        let _ = tx.send(true);
    });
    rx
}

/// The images from `--image-catalog`, checked, or the official ones.
fn images(catalog: Option<&std::path::Path>) -> Result<Images, String> {
    let Some(path) = catalog else { return Ok(Images::Official) };
    let catalog = ImageCatalog::load(path).map_err(|e| e.to_string())?;
    tracing::info!(path = %path.display(), images = catalog.len(), "using only the images of the image catalogue");
    Ok(Images::Catalog(catalog))
}

async fn run(args: RunArgs) -> Result<(), String> {
    telemetry::init(args.log_format, &args.log_level)?;
    servicedb::memory::trim_periodically();
    // A bad catalogue stops the operator before it touches anything.
    let images = images(args.image_catalog.as_deref())?;
    let client = client(&args.instance_name).await?;
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::default());
    http::serve(args.http_address, health.clone(), metrics.clone()).await?;
    let mut stop = shutdown_signal();

    let mut leadership = None;
    if args.leader_election {
        let lease = LeaseSettings {
            name: args.lease_name.clone(),
            namespace: args.operator_namespace.clone(),
            identity: args.instance_name.clone(),
            duration_seconds: args.lease_duration_seconds,
        };
        let mut l = Leadership::start(client.clone(), &lease).await?;
        if !l.is_leader() {
            health.set(Readiness::Standby);
            tracing::info!(lease = %lease.name, "standby: waiting for the leader lease");
        }
        tokio::select! {
            acquired = l.acquired() => if !acquired { return Err("the lease manager stopped".into()) },
            _ = stop.wait_for(|s| *s) => {
                l.release().await;
                return Ok(());
            }
        }
        tracing::info!(lease = %lease.name, identity = %lease.identity, "acquired the leader lease");
        leadership = Some(l);
    }
    metrics.set_leader(true);

    // Stop on a signal, or when the lease is lost: another replica leads then.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let lost = leadership.as_ref().map(Leadership::lost);
    let lease_lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let lease_lost = lease_lost.clone();
        tokio::spawn(async move {
            let lost = async {
                match lost {
                    Some(lost) => lost.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.wait_for(|s| *s) => {}
                _ = lost => lease_lost.store(true, std::sync::atomic::Ordering::SeqCst),
            }
            let _ = stop_tx.send(true);
        });
    }

    // An empty SERVICEDB_WATCH_NAMESPACES (the chart's cluster-wide mode) means all.
    let namespaces: Vec<String> = args.namespaces.into_iter().filter(|n| !n.trim().is_empty()).collect();
    let scope = if namespaces.is_empty() { Scope::Cluster } else { Scope::Namespaces(namespaces) };
    tracing::info!(?scope, "starting the controllers");
    let settings = Settings {
        operator_namespace: args.operator_namespace,
        service_account: args.service_account,
        resync: Duration::from_secs(args.resync_seconds),
        concurrent_reconciles: args.concurrent_reconciles,
        endpoint_overrides: args.endpoint_overrides,
        tools_image: args.tools_image,
        monitoring_namespace: args.monitoring_namespace,
        images,
    };
    let (caches, writers) = Caches::new(&scope.watches());
    let ctx = Arc::new(Context::new(client, caches, settings, metrics.clone(), args.instance_name));
    let ready = health.clone();
    controller::run(ctx, writers, stop_rx, move || {
        ready.set(Readiness::Ready);
        tracing::info!("caches synced: ready");
    })
    .await;

    health.set(Readiness::ShuttingDown);
    metrics.set_leader(false);
    if let Some(l) = leadership {
        l.release().await;
    }
    if lease_lost.load(std::sync::atomic::Ordering::SeqCst) {
        return Err("lost the leader lease; exiting so that a restart rejoins the election".into());
    }
    tracing::info!("stopped");
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Progress of the backup tools goes to stderr; stdout carries the manifest.
fn tool_logging() -> Result<(), String> {
    let json = std::env::var("SERVICEDB_LOG_FORMAT").is_ok_and(|f| f == "json");
    let format = if json { LogFormat::Json } else { LogFormat::Text };
    telemetry::init(format, &std::env::var("SERVICEDB_LOG_LEVEL").unwrap_or_else(|_| "info".into()))
}

fn main() -> ExitCode {
    servicedb::install_crypto_provider();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd => servicedb::api::crds_yaml().map(|yaml| print!("{yaml}")).map_err(|e| e.to_string()),
        Command::Version => {
            println!("servicedb {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Run(args) => runtime().and_then(|rt| rt.block_on(run(args))),
        Command::Backup(command) => tool_logging()
            .and_then(|()| runtime())
            .and_then(|rt| rt.block_on(servicedb::backup::cli::run_backup_command(command))),
        Command::Restore(args) => tool_logging()
            .and_then(|()| runtime())
            .and_then(|rt| rt.block_on(servicedb::backup::cli::run_restore(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("servicedb: {message}");
            ExitCode::FAILURE
        }
    }
}

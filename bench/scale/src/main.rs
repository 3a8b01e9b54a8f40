//! `bench-scale`: the operator at N ServiceDatabases on a local control
//! plane with kwok nodes (bench/scale.sh sets it up). Prints progress, then
//! a table of figures; never fails on a figure, only when it cannot measure.
//! Every wait is bounded.

mod bare;
mod cluster;
mod metrics;
mod operator;
mod plan;
mod requests;
mod standin;

use clap::Parser;
use cluster::Cache;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::PostParams;
use kube::{Api, Client};
use operator::{Memory, Operator};
use servicedb::api::ServiceDatabase;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "bench-scale", about = "The operator at N ServiceDatabases: figures, not pass/fail")]
struct Args {
    /// How many ServiceDatabases.
    #[arg(long, default_value_t = 100)]
    n: usize,
    /// The operator's --resync-seconds.
    #[arg(long, default_value_t = 30)]
    resync_seconds: u64,
    /// ServiceDatabases created at once; 0: all at once, as a platform's
    /// GitOps sync does.
    #[arg(long, default_value_t = 0)]
    concurrency: usize,
    /// The operator's --concurrent-reconciles, and the bare client's
    /// instances in flight: both sides at the same concurrency.
    #[arg(long, default_value_t = 32)]
    reconciles: usize,
    /// Idle resync periods measured from the audit log.
    #[arg(long, default_value_t = 2)]
    idle_resyncs: u64,
    /// Upper bound of each wait for readiness; 0: 120 s + 0.6 s per instance.
    #[arg(long, default_value_t = 0)]
    timeout_seconds: u64,
    /// Skip the bare client (e.g. at 10,000, where only memory is asked for).
    #[arg(long)]
    skip_bare: bool,
    #[arg(long)]
    operator_binary: PathBuf,
    /// Kubeconfig of the chart's ServiceAccount.
    #[arg(long)]
    operator_kubeconfig: PathBuf,
    #[arg(long)]
    audit_log: PathBuf,
    #[arg(long)]
    work_dir: PathBuf,
    #[arg(long, default_value_t = 18090)]
    http_port: u16,
}

const OPERATOR_NS: &str = "bench-op";
const BARE_NS: &str = "bench-bare";

/// A client with the operator's kubeconfig (its ServiceAccount's token).
async fn operator_client(kubeconfig: &std::path::Path) -> Result<Client, String> {
    let file = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await.map_err(|e| e.to_string())?;
    Client::try_from(config).map_err(|e| e.to_string())
}

fn say(start: Instant, message: &str) {
    eprintln!("[bench-scale {:>6.1}s] {message}", start.elapsed().as_secs_f64());
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("n/a".to_string(), |d| format!("{:.1} s", d.as_secs_f64()))
}

/// A quantile in ms; beyond the histogram's top bucket, "> top".
fn ms(v: Option<f64>, top: f64) -> String {
    match v {
        None => "n/a".to_string(),
        Some(s) if s.is_infinite() => format!("> {:.0} ms", top * 1000.0),
        Some(s) => format!("{:.0} ms", s * 1000.0),
    }
}

#[derive(Default)]
struct Figures {
    n: usize,
    created_all: Option<Duration>,
    ready: Option<Duration>,
    ready_count: usize,
    create_latency: (Option<f64>, Option<f64>),
    latency_top: f64,
    create_reconciles: f64,
    create_errors: String,
    /// The operator's API requests from the first create until all Ready.
    creation: requests::Tally,
    create_cpu_seconds: f64,
    memory_ready: Memory,
    idle_reconciles: f64,
    idle_window: Duration,
    idle: requests::Tally,
    idle_latency: (Option<f64>, Option<f64>),
    memory_idle: Memory,
    restart_ready: Option<Duration>,
    restart_resynced: Option<Duration>,
    restart_reconciles: f64,
    restart: requests::Tally,
    restart_window: Duration,
    memory_restart: Memory,
    bare_writes: Option<Duration>,
    bare_objects: usize,
    bare_failures: usize,
    bare_ready: Option<Duration>,
    bare_ready_count: usize,
}

/// Polls `count` every second until it reaches `n` or `timeout` passes,
/// printing progress every 5 s; returns how long it took, if it did.
async fn wait_count(
    start: Instant,
    what: &str,
    n: usize,
    timeout: Duration,
    mut count: impl FnMut() -> usize,
    mut extra: impl AsyncFnMut() -> String,
) -> (Option<Duration>, usize) {
    let began = Instant::now();
    let mut last_print = Instant::now() - Duration::from_secs(10);
    loop {
        let k = count();
        if k >= n {
            say(start, &format!("{what}: {k}/{n} after {:.1} s", began.elapsed().as_secs_f64()));
            return (Some(began.elapsed()), k);
        }
        if began.elapsed() > timeout {
            say(start, &format!("{what}: only {k}/{n} after {:.0} s; giving up on this wait", timeout.as_secs_f64()));
            return (None, k);
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            say(start, &format!("{what}: {k}/{n} {}", extra().await));
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn sleep_with_progress(start: Instant, what: &str, total: Duration) {
    let until = Instant::now() + total;
    while Instant::now() < until {
        let left = until.saturating_duration_since(Instant::now());
        say(start, &format!("{what}: {:.0} s left", left.as_secs_f64()));
        tokio::time::sleep(left.min(Duration::from_secs(10))).await;
    }
}

async fn create_all(client: &Client, names: &[String], concurrency: usize) -> Vec<String> {
    let api: Api<ServiceDatabase> = Api::namespaced(client.clone(), OPERATOR_NS);
    let results: Vec<Result<(), String>> = futures::stream::iter(names)
        .map(|name| {
            let api = api.clone();
            async move {
                let sdb = plan::service_database(OPERATOR_NS, name, None)?;
                match api.create(&PostParams::default(), &sdb).await {
                    // A fresh cluster: only our own retried request made it.
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(()),
                    Err(e) => Err(format!("{name}: {e}")),
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().filter_map(Result::err).collect()
}

async fn run(args: &Args) -> Result<Figures, String> {
    let start = Instant::now();
    let n = args.n;
    let concurrency = if args.concurrency == 0 { n } else { args.concurrency };
    let timeout =
        Duration::from_secs(if args.timeout_seconds == 0 { 120 + (n as u64 * 6) / 10 } else { args.timeout_seconds });
    let resync = Duration::from_secs(args.resync_seconds);
    let mut f = Figures { n, ..Figures::default() };
    std::fs::create_dir_all(&args.work_dir).map_err(|e| format!("{}: {e}", args.work_dir.display()))?;
    let client = Client::try_default().await.map_err(|e| format!("admin kubeconfig (KUBECONFIG): {e}"))?;
    let names = plan::names(n);

    say(
        start,
        &format!(
            "N={n}, resync {}s, concurrency {concurrency}, timeout per wait {}s",
            args.resync_seconds,
            timeout.as_secs()
        ),
    );
    let standin = standin::StandIn::start(Some(client.clone()), &standin::dir(&args.work_dir)?, OPERATOR_NS).await?;
    let overrides = args.work_dir.join("endpoints.json");
    standin::write_overrides(&overrides, OPERATOR_NS, &names, standin.port)?;
    say(start, &format!("stand-in: one redis-server on 127.0.0.1:{} for every instance", standin.port));
    let _provisioner = cluster::start_provisioner(client.clone(), args.work_dir.join("volumes"));
    plan::namespace(&client, OPERATOR_NS).await?;

    let mut op = Operator::new(operator::Settings {
        binary: args.operator_binary.clone(),
        kubeconfig: args.operator_kubeconfig.clone(),
        log: args.work_dir.join("operator.log"),
        http_port: args.http_port,
        resync_seconds: args.resync_seconds,
        concurrent_reconciles: args.reconciles,
        endpoint_overrides: overrides.clone(),
    })?;
    op.spawn()?;
    for _ in 0..120 {
        if op.ready().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Another process answering on the port would otherwise pass for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some(exited) = op.exited() {
        return Err(exited);
    }
    say(start, &format!("operator running (pid {:?}), {} at start", op.pid(), mib(op.memory().rss_kib)));

    // 1. Creation until every ServiceDatabase is Ready.
    let sdbs = Cache::start(Api::<ServiceDatabase>::namespaced(client.clone(), OPERATOR_NS));
    let before = op.scrape().await?;
    let (creation_mark, cpu_before) = (requests::mark(&args.audit_log), op.cpu_seconds());
    let t = Instant::now();
    say(start, &format!("creating {n} ServiceDatabases (engine redis) in {OPERATOR_NS}"));
    let failed = create_all(&client, &names, concurrency).await;
    f.created_all = Some(t.elapsed());
    say(
        start,
        &format!("created {} in {:.1} s ({} failed)", n - failed.len(), t.elapsed().as_secs_f64(), failed.len()),
    );
    for e in failed.iter().take(3) {
        say(start, &format!("  create failed: {e}"));
    }
    let (ready, ready_count) = wait_count(
        start,
        "Ready",
        n,
        timeout.saturating_sub(t.elapsed()),
        || cluster::ready_databases(&sdbs),
        async || {
            let reconciles = op.scrape().await.map(|s| s.since(&before).reconciles).unwrap_or(0.0);
            format!("({reconciles:.0} reconciles, operator {})", mib(op.memory().rss_kib))
        },
    )
    .await;
    f.ready = ready.map(|_| t.elapsed());
    f.ready_count = ready_count;
    let after = op.scrape().await?;
    let creation = after.since(&before);
    f.create_latency = (creation.quantile(0.5), creation.quantile(0.99));
    f.latency_top = creation.top();
    f.create_reconciles = creation.reconciles;
    f.create_errors = format!("{:?}", creation.errors);
    f.memory_ready = op.memory();
    f.create_cpu_seconds = op.cpu_seconds() - cpu_before;
    // The API server writes its audit batch a moment later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    f.creation = requests::operator_since(&args.audit_log, creation_mark)?;

    // Idle and restart figures describe a steady state: only once all are Ready.
    if f.ready.is_some() {
        // 2. Idle resyncs: requests per ServiceDatabase per resync, from the audit log.
        sleep_with_progress(
            start,
            "settling for one resync period before measuring idle requests",
            resync + Duration::from_secs(10),
        )
        .await;
        let mark = requests::mark(&args.audit_log);
        let idle_before = op.scrape().await?;
        let t = Instant::now();
        sleep_with_progress(
            start,
            &format!("measuring {} idle resync periods", args.idle_resyncs),
            resync * args.idle_resyncs as u32,
        )
        .await;
        let idle_after = op.scrape().await?;
        f.idle_window = t.elapsed();
        let idle = idle_after.since(&idle_before);
        f.idle_reconciles = idle.reconciles;
        f.idle_latency = (idle.quantile(0.5), idle.quantile(0.99));
        // The API server writes its audit batch a moment later.
        tokio::time::sleep(Duration::from_secs(2)).await;
        f.idle = requests::operator_since(&args.audit_log, mark)?;
        f.memory_idle = op.memory();
        say(
            start,
            &format!(
                "idle: {:.0} reconciles, {} reads, {} writes",
                f.idle_reconciles,
                f.idle.reads_total(),
                f.idle.writes_total()
            ),
        );

        // 3. Restart with N idle objects: time until every one was reconciled again.
        say(start, "restarting the operator (SIGTERM, then a new process)");
        if let Err(e) = op.stop().await {
            say(start, &e);
        }
        let mark = requests::mark(&args.audit_log);
        let t = Instant::now();
        op.spawn()?;
        let deadline = t + timeout;
        let mut last = 0.0;
        while Instant::now() < deadline {
            if f.restart_ready.is_none() && op.ready().await {
                f.restart_ready = Some(t.elapsed());
            }
            if let Ok(s) = op.scrape().await {
                last = s.reconciles;
                if s.reconciles >= n as f64 {
                    f.restart_resynced = Some(t.elapsed());
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        f.restart_reconciles = last;
        say(start, &format!("restart: {last:.0}/{n} reconciled after {:.1} s", t.elapsed().as_secs_f64()));
        tokio::time::sleep(Duration::from_secs(5)).await;
        f.restart = requests::operator_since(&args.audit_log, mark)?;
        f.restart_window = t.elapsed();
        f.memory_restart = op.memory();
        if let Err(e) = op.stop().await {
            say(start, &e);
        }
    } else {
        say(start, "not every ServiceDatabase became Ready: the idle and restart figures are skipped");
        f.memory_idle = op.memory();
        if let Err(e) = op.stop().await {
            say(start, &e);
        }
    }
    sdbs.stop();
    standin.stop().await;

    // 4. The bare client, same run, its own namespace, operator stopped.
    if !args.skip_bare {
        plan::namespace(&client, BARE_NS).await?;
        let specs: Vec<ServiceDatabase> = names
            .iter()
            .enumerate()
            .map(|(i, name)| plan::service_database(BARE_NS, name, Some(&format!("00000000-0000-0000-0000-{i:012}"))))
            .collect::<Result<_, _>>()?;
        let sets = Cache::start(Api::<StatefulSet>::namespaced(client.clone(), BARE_NS));
        say(start, &format!("bare client: writing the children of {n} instances into {BARE_NS}"));
        let t = Instant::now();
        // As the operator's ServiceAccount: the same rights, the same API
        // priority level and the same RBAC escalation checks on its Roles.
        let as_operator = operator_client(&args.operator_kubeconfig).await?;
        let (objects, failures) = bare::write_all(&as_operator, BARE_NS, specs, args.reconciles).await;
        f.bare_writes = Some(t.elapsed());
        f.bare_objects = objects;
        f.bare_failures = failures.len();
        say(
            start,
            &format!(
                "bare client wrote {objects} objects in {:.1} s ({} failed)",
                t.elapsed().as_secs_f64(),
                failures.len()
            ),
        );
        for e in failures.iter().take(3) {
            say(start, &format!("  bare write failed: {e}"));
        }
        let (ready, count) = wait_count(
            start,
            "bare StatefulSets ready",
            n,
            timeout.saturating_sub(t.elapsed()),
            || cluster::ready_statefulsets(&sets),
            async || String::new(),
        )
        .await;
        f.bare_ready = ready.map(|_| t.elapsed());
        f.bare_ready_count = count;
        sets.stop();
    }
    say(start, &format!("done in {:.1} s", start.elapsed().as_secs_f64()));
    Ok(f)
}

fn ratio(a: Option<Duration>, b: Option<Duration>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.as_secs_f64() > 0.0 => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
        _ => "n/a".to_string(),
    }
}

fn table(f: &Figures, args: &Args) -> String {
    let n = f.n;
    let per_resync = if f.idle_reconciles > 0.0 { f.idle_reconciles } else { 1.0 };
    let idle_reads = f.idle.reads_total() as f64 / per_resync;
    let idle_writes = f.idle.writes_total() as f64 / per_resync;
    let ready = match f.ready {
        Some(_) => secs(f.ready),
        None => format!("not all: {}/{n} Ready within the timeout", f.ready_count),
    };
    let bare_ready = match (args.skip_bare, f.bare_ready) {
        (true, _) => "skipped".to_string(),
        (false, Some(_)) => secs(f.bare_ready),
        (false, None) => format!("not all: {}/{n} within the timeout", f.bare_ready_count),
    };
    let restart = match f.restart_resynced {
        Some(_) => secs(f.restart_resynced),
        None => format!("not all: {:.0}/{n} reconciled within the timeout", f.restart_reconciles),
    };
    let rows = [
        ("all Ready, operator (from the first create)", "", ready),
        (
            "bare client: writes done",
            "",
            if args.skip_bare {
                "skipped".into()
            } else {
                format!("{} ({} objects, {} failed)", secs(f.bare_writes), f.bare_objects, f.bare_failures)
            },
        ),
        ("bare client: its StatefulSets all ready", "", bare_ready),
        ("ratio operator / bare writes", "<= 1.2", ratio(f.ready, f.bare_writes)),
        ("ratio operator / bare writes until ready", "<= 1.2", ratio(f.ready, f.bare_ready)),
        (
            "operator requests per SDB until all Ready (the bare client: 8 writes)",
            "",
            format!(
                "{:.2} writes ({}); {:.2} reads ({})",
                f.creation.writes_total() as f64 / n as f64,
                requests::per(&f.creation.writes, n as f64),
                f.creation.reads_total() as f64 / n as f64,
                requests::per(&f.creation.reads, n as f64)
            ),
        ),
        ("operator CPU until all Ready", "", format!("{:.1} s", f.create_cpu_seconds)),
        (
            "reads per SDB per idle resync",
            "<= 2 (Secret GETs)",
            format!("{idle_reads:.2}: {}", requests::per(&f.idle.reads, per_resync)),
        ),
        (
            "writes per SDB per idle resync",
            "0",
            format!("{idle_writes:.2}: {}", requests::per(&f.idle.writes, per_resync)),
        ),
        (
            "idle window",
            "",
            format!(
                "{:.0} s, {:.0} reconciles ({:.2} per SDB), {} watch requests",
                f.idle_window.as_secs_f64(),
                f.idle_reconciles,
                f.idle_reconciles / n as f64,
                f.idle.watches
            ),
        ),
        (
            "operator RSS / peak, all Ready",
            "<= 40 MiB at 1k, <= 200 MiB at 10k",
            format!("{} / {}", mib(f.memory_ready.rss_kib), mib(f.memory_ready.hwm_kib)),
        ),
        (
            "operator RSS / peak, after idle resyncs",
            "",
            format!("{} / {}", mib(f.memory_idle.rss_kib), mib(f.memory_idle.hwm_kib)),
        ),
        (
            "reconcile p50 / p99, creation",
            "reported",
            format!(
                "{} / {} ({:.0} reconciles, errors {})",
                ms(f.create_latency.0, f.latency_top),
                ms(f.create_latency.1, f.latency_top),
                f.create_reconciles,
                f.create_errors
            ),
        ),
        (
            "reconcile p50 / p99, idle",
            "reported",
            format!("{} / {}", ms(f.idle_latency.0, f.latency_top), ms(f.idle_latency.1, f.latency_top)),
        ),
        (
            "restart: reconciles >= N (every object resynced)",
            "<= 30 s",
            format!("{restart} (/readyz after {})", secs(f.restart_ready)),
        ),
        ("restart: writes", "0", format!("{}: {}", f.restart.writes_total(), requests::per(&f.restart.writes, 1.0))),
        (
            "restart: reads",
            "",
            format!(
                "{} in {:.0} s ({:.2} per SDB): {}",
                f.restart.reads_total(),
                f.restart_window.as_secs_f64(),
                f.restart.reads_total() as f64 / n as f64,
                requests::per(&f.restart.reads, n as f64)
            ),
        ),
        (
            "operator RSS / peak, after restart",
            "",
            format!("{} / {}", mib(f.memory_restart.rss_kib), mib(f.memory_restart.hwm_kib)),
        ),
    ];
    // Without a steady state the idle and restart rows were not measured.
    let steady = f.ready.is_some();
    let rows = rows.map(|(figure, goal, value)| {
        let idle_or_restart =
            figure.contains("idle") || figure.starts_with("restart") || figure.ends_with("after restart");
        if !steady && idle_or_restart {
            (figure, goal, "skipped: not all Ready".to_string())
        } else {
            (figure, goal, value)
        }
    });
    let mut out = format!(
        "\n## N = {n} (resync {} s, created {} at once, {} reconciles and bare instances in flight)\n\n| figure | goal | value |\n|---|---|---|\n",
        args.resync_seconds,
        if args.concurrency == 0 { n } else { args.concurrency },
        args.reconciles
    );
    for (figure, goal, value) in rows {
        out += &format!("| {figure} | {goal} | {value} |\n");
    }
    out
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    servicedb::install_crypto_provider();
    let args = Args::parse();
    let start = Instant::now();
    // Interrupted (SIGINT, or SIGTERM from a script's cleanup): returning
    // drops the operator and the stand-in, which are killed on drop.
    let interrupted = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => drop(t.recv().await), None => std::future::pending().await } } => {}
        }
    };
    let outcome = tokio::select! {
        outcome = run(&args) => outcome,
        () = interrupted => Err("interrupted: the operator and the stand-in are stopped".to_string()),
    };
    match outcome {
        Ok(figures) => {
            println!("{}", table(&figures, &args));
            println!("total time: {:.0} s", start.elapsed().as_secs_f64());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-scale: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

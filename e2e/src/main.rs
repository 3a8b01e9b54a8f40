//! The end-to-end suite against a real control plane, in two phases: first
//! on the real node (pods that run, the operator installed by helm in pods),
//! then, for the engines and versions this machine has no image for, with
//! stand-in servers and kwok nodes, the operator as a local process under
//! the chart's ServiceAccount.
//! `cargo run -p servicedb-e2e [filter]` (`a|b`: either); prints "N passed, N failed".

mod analyzer;
mod audit;
mod cluster;
mod harness;
mod layers;
mod operator;
mod pods;
mod scenarios;
mod standin;

use std::process::ExitCode;
use std::time::Instant;

/// `servicedb-e2e --stand-ins DIR`: only the stand-in database servers, until
/// SIGTERM (for `make demo`); the override file is DIR/endpoints.json.
async fn stand_ins_only(dir: std::path::PathBuf) -> ExitCode {
    let client = match kube::Client::try_default().await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("[stand-ins] {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut standins = match standin::StandIns::start(client, dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("[stand-ins] {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("[stand-ins] serving {}", standins.overrides.display());
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    standins.stop().await;
    ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> ExitCode {
    servicedb::install_crypto_provider();
    let mut args = std::env::args().skip(1);
    let filter = args.next().unwrap_or_default();
    if filter == "--stand-ins" {
        let dir = args.next().map(std::path::PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("sdb-demo"));
        return stand_ins_only(dir).await;
    }
    // Scenarios a platform cannot run (e2e/kind has no audit log to read).
    let skip = std::env::var("SERVICEDB_E2E_SKIP").ok().filter(|s| !s.is_empty());
    // `a|b` selects the scenarios whose names contain a or b.
    let selected =
        |name: &str| filter.split('|').any(|f| name.contains(f)) && !skip.as_deref().is_some_and(|s| name.contains(s));
    let mut tally = Tally::default();

    let pod_scenarios: Vec<_> = pods::all().into_iter().filter(|(name, _)| selected(name)).collect();
    if !pod_scenarios.is_empty() {
        run_pod_phase(pod_scenarios, &mut tally).await;
    }
    let scenarios: Vec<_> = scenarios::all().into_iter().filter(|(name, _)| selected(name)).collect();
    if scenarios.is_empty() {
        return tally.finish();
    }
    let env = match harness::Env::setup().await {
        Ok(env) => env,
        Err(e) => {
            eprintln!("[e2e] setup failed: {e}");
            tally.failed += 1;
            return tally.finish();
        }
    };
    for (name, scenario) in scenarios {
        let start = Instant::now();
        let result = scenario(&env).await;
        let restored = env.restore_operator().await;
        tally.record(name, start, result.and(restored));
    }
    env.operator.lock().await.kill().await;
    env.standins.lock().await.stop().await;
    env.teardown().await;
    if tally.failed > 0 {
        eprintln!(
            "logs: operator {} ; control plane {}",
            env.logs.join("operator.log").display(),
            std::env::var("SERVICEDB_E2E_LOGS").unwrap_or_default()
        );
    }
    tally.finish()
}

/// The real-node phase: set up (helm), the scenarios, and a teardown so the
/// local operator of the next phase starts on a clean cluster.
async fn run_pod_phase(scenarios: Vec<(&'static str, pods::Scenario)>, tally: &mut Tally) {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let logs = root.join("target/e2e-logs");
    let setup = async {
        std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
        let client = kube::Client::try_default().await.map_err(|e| format!("admin kubeconfig: {e}"))?;
        cluster::apply_crds(&root).await?;
        pods::PodEnv::setup(root.clone(), logs.clone(), client).await
    };
    let env = match setup.await {
        Ok(Some(env)) => env,
        Ok(None) => return,
        Err(e) => {
            eprintln!("[e2e] real-node setup failed: {e}");
            tally.failed += 1;
            return;
        }
    };
    for (name, scenario) in scenarios {
        let start = Instant::now();
        let result = scenario(&env).await;
        tally.record(name, start, result);
        env.release_namespaces().await;
    }
    if let Err(e) = env.teardown().await {
        eprintln!("[e2e] real-node teardown: {e}");
    }
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn record(&mut self, name: &str, start: Instant, result: cluster::Outcome) {
        let seconds = start.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                self.passed += 1;
                eprintln!("PASS  {name} ({seconds:.1}s)");
            }
            Err(why) => {
                self.failed += 1;
                eprintln!("FAIL  {name} ({seconds:.1}s): {why}");
            }
        }
    }

    fn finish(&self) -> ExitCode {
        println!("{} passed, {} failed", self.passed, self.failed);
        if self.failed == 0 && self.passed > 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
    }
}

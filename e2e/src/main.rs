//! The end-to-end suite: scenarios against a real control plane, the
//! operator as a local process under the chart's ServiceAccount.
//! `cargo run -p servicedb-e2e [filter]`; prints "N passed, N failed".

mod audit;
mod harness;
mod operator;
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
    let env = match harness::Env::setup().await {
        Ok(env) => env,
        Err(e) => {
            eprintln!("[e2e] setup failed: {e}");
            eprintln!("0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for (name, scenario) in scenarios::all() {
        if !name.contains(&filter) || skip.as_deref().is_some_and(|s| name.contains(s)) {
            continue;
        }
        let start = Instant::now();
        let result = scenario(&env).await;
        let running = env.operator.lock().await.is_running();
        match (result, running) {
            (Ok(()), true) => {
                passed += 1;
                eprintln!("PASS  {name} ({:.1}s)", start.elapsed().as_secs_f64());
            }
            (result, _) => {
                failed += 1;
                let why = result.err().unwrap_or_else(|| "the operator process exited".into());
                eprintln!("FAIL  {name} ({:.1}s): {why}", start.elapsed().as_secs_f64());
            }
        }
    }
    env.operator.lock().await.kill().await;
    env.standins.lock().await.stop().await;
    if failed > 0 {
        eprintln!(
            "logs: operator {} ; control plane {}",
            env.logs.join("operator.log").display(),
            std::env::var("SERVICEDB_E2E_LOGS").unwrap_or_default()
        );
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed > 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

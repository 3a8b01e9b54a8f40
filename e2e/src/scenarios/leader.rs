//! Two replicas: only the leader reconciles; SIGKILL the leader and the
//! standby takes over within the lease duration; a graceful stop hands over
//! at once. No object is written by both.

use crate::audit;
use crate::cluster::{Outcome, ensure, kubectl_apply, sdb_yaml, step, wait_for};
use crate::harness::{Env, LEASE_SECONDS, OPERATOR_ACCOUNT, OPERATOR_NAMESPACE};
use crate::operator::Operator;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

async fn until_ready(op: &Operator, within: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    wait_for(&format!("{} to become the ready leader", op.config.instance), within, || async {
        op.readyz().await.filter(|(code, body)| *code == 200 && body.starts_with("leader"))
    })
    .await?;
    Ok(start.elapsed())
}

pub async fn failover(env: &Env) -> Outcome {
    let ns = env.namespace("e2e-leader").await?;
    let offset = audit::mark(&env.audit_log);
    let mut standby = {
        let a = env.operator.lock().await;
        let mut config = a.config.clone();
        config.instance = "operator-b".into();
        config.http_port = 18081;
        config.log = env.logs.join("operator-b.log");
        Operator::new(&env.root, config)?
    };
    standby.spawn()?;
    // operator-b starts up, then stands by: ready (a rollout can proceed), not leading.
    wait_for("operator-b to report standby on /readyz", Duration::from_secs(20), || async {
        standby.readyz().await.filter(|(code, body)| *code == 200 && body.starts_with("standby"))
    })
    .await?;

    kubectl_apply(&sdb_yaml(&ns, "before", "")).await?;
    env.wait_ready(&ns, "before", Duration::from_secs(60)).await?;

    // SIGKILL the leader: the lease is not released, so the standby waits it out.
    env.operator.lock().await.kill().await;
    let handoff = until_ready(&standby, Duration::from_secs(LEASE_SECONDS * 3 + 10)).await?;
    step(&format!(
        "  SIGKILL handoff: operator-b ready {:.1}s after the leader died (lease {LEASE_SECONDS}s)",
        handoff.as_secs_f64()
    ));
    ensure(handoff <= Duration::from_secs(LEASE_SECONDS + 5), || format!("handoff took {handoff:?}"))?;
    kubectl_apply(&sdb_yaml(&ns, "after", "")).await?;
    env.wait_ready(&ns, "after", Duration::from_secs(60)).await?;

    // A graceful stop releases the lease: operator-a, restarted, takes over at once.
    env.operator.lock().await.spawn()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    standby.terminate().await?;
    let graceful = {
        let a = env.operator.lock().await;
        until_ready(&a, Duration::from_secs(LEASE_SECONDS * 3 + 10)).await?
    };
    step(&format!("  SIGTERM handoff: operator-a ready {:.1}s after operator-b stopped", graceful.as_secs_f64()));
    ensure(graceful < Duration::from_secs(LEASE_SECONDS), || format!("the lease was not released: {graceful:?}"))?;

    // Who wrote what: every object in the namespace has exactly one writer.
    let user = format!("system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_ACCOUNT}");
    let mut writers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in audit::requests_since(&env.audit_log, offset, &user)? {
        if r.namespace == ns && audit::WRITE_VERBS.contains(&r.verb.as_str()) {
            writers.entry(format!("{} {}", r.resource, r.name)).or_default().insert(r.user_agent);
        }
    }
    ensure(!writers.is_empty(), || "no writes recorded".into())?;
    let shared: Vec<_> = writers.iter().filter(|(_, agents)| agents.len() > 1).collect();
    ensure(shared.is_empty(), || format!("written by both replicas: {shared:?}"))
}

//! The ServiceDatabase controller's reconcile: observe -> decide -> apply
//! -> status, one module each (observe.rs, decide.rs, ../apply.rs,
//! status.rs); between apply and status the database itself is administered.

pub(crate) mod administer;
mod bootstrap;
mod credentials;
mod decide;
mod deletion;
mod delivery;
pub(crate) mod instance_pod;
mod isolation;
mod observe;
mod outcome;
mod restart;
pub mod rotation;
mod status;
mod tls;
pub(crate) mod validate;

pub use deletion::FINALIZER;

use self::decide::Plan;
use self::outcome::{Credentials, Halt, Outcome};
use crate::api::ServiceDatabase;
use crate::builders::{Instance, Passwords};
use crate::controller::apply::{self, ApplyInputs, ApplyReport, LiveSecrets};
use crate::controller::backups;
use crate::controller::context::Context;
use crate::controller::error::{Error, Severity, backoff};
use crate::controller::pause;
use crate::engine::generate_password;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use std::sync::Arc;
use tracing::{Instrument, info, info_span, warn};

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

pub async fn reconcile(sdb: Arc<ServiceDatabase>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Before the caches are full, every child would look missing. Not
    // awaited: a reconcile waiting for watches that cannot list would hold
    // its slot and block a graceful shutdown forever.
    if !ctx.caches.is_synced() || !ctx.isolation.is_listed() {
        return Ok(Action::requeue(std::time::Duration::from_secs(1)));
    }
    let started = std::time::Instant::now();
    let result = reconcile_inner(&sdb, &ctx).await;
    ctx.metrics.reconciled(started.elapsed(), result.as_ref().err().map(Error::metric_label));
    result
}

async fn reconcile_inner(sdb: &Arc<ServiceDatabase>, ctx: &Arc<Context>) -> Result<Action, Error> {
    let span = info_span!("reconcile", object = %ObjectRef::from_obj(&**sdb), generation = sdb.metadata.generation);
    async move {
        if sdb.metadata.deletion_timestamp.is_some() {
            return deletion::finalize(ctx, sdb).await;
        }
        match pipeline(sdb, ctx).await {
            Ok(action) => {
                ctx.forget_failures(&ObjectRef::from_obj(&**sdb));
                Ok(action)
            }
            Err(error) => {
                if error.severity() == Severity::Rejected {
                    report_rejection(sdb, ctx, &error).await;
                }
                Err(error)
            }
        }
    }
    .instrument(span)
    .await
}

/// Observe, decide, apply (the children, then the database inside), status.
async fn pipeline(sdb: &ServiceDatabase, ctx: &Context) -> Result<Action, Error> {
    if pause::is_paused(sdb) {
        return hold(sdb, ctx).await;
    }
    let instance = Instance::new(sdb, &ctx.settings.operator_namespace)?;
    let observed = observe::observe(ctx, sdb, &instance).await?;
    let planned = decide::plan(
        sdb,
        &instance,
        &observed,
        &ctx.settings,
        ctx.authority(),
        Timestamp::now(),
        &mut generate_password,
    )?;
    let Plan { passwords, desired, rotation: policy, tls: tls_change } = match planned {
        Ok(plan) => plan,
        Err(halt) => return report_halt(sdb, &instance, ctx, halt).await,
    };
    deletion::sync_finalizer(ctx, sdb).await?;
    let live_secrets = || LiveSecrets {
        admin: observed.admin_secret.as_ref(),
        credentials: observed.credentials_secret.as_ref(),
        delivered: observed.service_namespace.as_ref().and_then(|s| s.delivered_secret.as_ref()),
        backup_login: observed.backup_login_secret.as_ref(),
    };
    let inputs = ApplyInputs {
        secrets: live_secrets(),
        monitoring_served: ctx.prometheus_api.present(),
        spec_changed: sdb.status.as_ref().and_then(|s| s.observed_generation) != sdb.metadata.generation,
    };
    // Boxed: the children are applied side by side, and their futures together are large.
    let ApplyReport { statefulset, writes } = Box::pin(apply::children(ctx, &instance, desired, inputs)).await?;
    if writes > 0 {
        info!(writes, "applied children");
    }
    tls::announce(ctx, sdb, tls_change).await;

    let at = Timestamp::now();
    let instance_ready = status::instance_readiness(&statefulset).is_ok();
    let pod_failure = if instance_ready {
        None
    } else {
        instance_pod::observe(&ctx.caches, &instance, &instance_pod::secret_values(&passwords))
    };
    let credentials =
        if instance_ready { administer::administer(ctx, &instance, &passwords, at).await } else { Credentials::NotYet };
    if credentials == Credentials::Ready {
        finish_rotation(ctx, &instance, &passwords, live_secrets(), policy, at).await?;
    }

    let bootstrap = bootstrap::record(sdb, &instance, observed.restore_run.as_ref(), instance_ready);
    let backups = sdb.spec.backup.as_ref().map(|spec| {
        let created = sdb.metadata.creation_timestamp.as_ref().map_or(at, |t| t.0);
        backups::health(spec, &observed.backup_runs, created, at, sdb.metadata.generation)
    });
    let isolation = isolation::audit(ctx, &instance).await;
    let outcome = Outcome::Applied {
        statefulset: &statefulset,
        isolation: &isolation,
        pod_failure: pod_failure.as_ref(),
        credentials: &credentials,
        backups: backups.as_ref(),
        bootstrap: bootstrap.as_ref(),
    };
    let status = status::compute(sdb, &instance, &outcome, now());
    status::publish(&ctx.client, &ctx.recorder, sdb, status).await?;
    match credentials {
        // Back off like any transient fault; the status already says why.
        Credentials::Failed(message) => Err(Error::Administration(message)),
        Credentials::Ready | Credentials::NotYet => {
            // Come back when the previous login must be disabled; a pod's
            // crash or readiness wakes us through the pod cache.
            let next =
                rotation::until_retire(&passwords, at).map_or(ctx.settings.resync, |d| d.min(ctx.settings.resync));
            // While a new certificate may not be on the server's disk yet.
            let next = match &passwords.tls {
                Some(keys) if tls::reload_due(keys, at.into()) => next.min(tls::RELOAD_INTERVAL),
                _ => next,
            };
            Ok(Action::requeue(next.max(std::time::Duration::from_secs(1))))
        }
    }
}

/// After the database took a pending password, the credentials Secret
/// switches to it (one update); after the grace period, the disabled
/// previous login is forgotten. The admin Secret is written first.
async fn finish_rotation(
    ctx: &Context,
    instance: &Instance<'_>,
    passwords: &Passwords,
    live: LiveSecrets<'_>,
    policy: rotation::Policy,
    now: Timestamp,
) -> Result<(), Error> {
    let next = if passwords.rotation.pending.is_some() {
        rotation::promote(passwords, now, policy.grace)
    } else if rotation::retire_due(passwords, now) {
        rotation::retired(passwords)
    } else {
        return Ok(());
    };
    let next = credentials::with_derived_keys(instance, next);
    apply::secrets(ctx, instance, &next, live).await?;
    if next.rotation.active != passwords.rotation.active {
        info!(login = %instance.login_name(next.rotation.active()), "the credentials Secret now names the new login");
        if policy.restart_workloads {
            let at = next.rotation.rotated_at.clone().unwrap_or_default();
            let secret = instance.credentials_secret_name();
            let mut restarted = restart::restart_readers(&ctx.client, instance.namespace, &secret, &at).await?;
            if let Some(namespace) = instance.service_elsewhere() {
                let delivered = instance.delivered_credentials_name();
                restarted += restart::restart_readers(&ctx.client, namespace, &delivered, &at).await?;
            }
            info!(restarted, "restarted the workloads that read the credentials");
        }
    }
    Ok(())
}

/// Paused: only the finalizer (so that a deletion keeps its promise) and
/// the status; woken again by the annotation's removal.
async fn hold(sdb: &ServiceDatabase, ctx: &Context) -> Result<Action, Error> {
    deletion::sync_finalizer(ctx, sdb).await?;
    let old = sdb.status.clone().unwrap_or_default();
    status::publish(&ctx.client, &ctx.recorder, sdb, pause::paused_status(&old, sdb.metadata.generation, now()))
        .await?;
    Ok(Action::await_change())
}

/// Stopped before any child: status and Event, no child touched. An
/// invalid spec waits for a change (no requeue loop) unless it names an
/// object the operator does not watch; waiting looks again soon.
async fn report_halt(
    sdb: &ServiceDatabase,
    instance: &Instance<'_>,
    ctx: &Context,
    halt: Halt,
) -> Result<Action, Error> {
    let (outcome, next) = match &halt {
        Halt::Invalid(invalid) => {
            warn!(reason = %invalid.reason, message = %invalid.message, "invalid spec");
            (Outcome::Invalid(invalid), invalid.recheck.map_or_else(Action::await_change, Action::requeue))
        }
        Halt::Waiting(waiting) => {
            info!(reason = %waiting.reason, message = %waiting.message, "waiting");
            (Outcome::Waiting(waiting), Action::requeue(waiting.recheck))
        }
    };
    let status = status::compute(sdb, instance, &outcome, now());
    status::publish(&ctx.client, &ctx.recorder, sdb, status).await?;
    Ok(next)
}

/// What to tell the user about a refused child, without echoing a Secret's
/// content: the API server's message only for other kinds.
fn rejection_message(error: &Error) -> String {
    match error {
        Error::Kube { action, object, source: kube::Error::Api(status) } if !object.starts_with("Secret ") => {
            format!("{action} {object} was refused: {}", status.message)
        }
        Error::Kube { action, object, source: kube::Error::Api(status) } => {
            format!("{action} {object} was refused ({}, code {})", status.reason, status.code)
        }
        other => other.to_string(),
    }
}

async fn report_rejection(sdb: &ServiceDatabase, ctx: &Context, error: &Error) {
    let Ok(instance) = Instance::new(sdb, &ctx.settings.operator_namespace) else { return };
    let outcome = Outcome::Rejected(rejection_message(error));
    let status = status::compute(sdb, &instance, &outcome, now());
    if let Err(e) = status::publish(&ctx.client, &ctx.recorder, sdb, status).await {
        warn!(error = %e, "could not report the failure in status");
    }
}

/// Conflicts and throttling retry soon and quietly; other errors back off
/// per object, exponentially with jitter.
pub fn error_policy(sdb: Arc<ServiceDatabase>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = ObjectRef::from_obj(&*sdb);
    let jitter: f64 = rand::random();
    match error.severity() {
        Severity::Retry => {
            tracing::debug!(object = %key, reason = error.metric_label(), "retrying");
            Action::requeue(backoff(0, jitter, error.longest_backoff()))
        }
        Severity::Transient | Severity::Rejected => {
            let failures = ctx.record_failure(key.clone());
            let delay = backoff(failures, jitter, error.longest_backoff());
            warn!(object = %key, reason = error.metric_label(), %error, retry_in = ?delay, "reconcile failed");
            Action::requeue(delay)
        }
    }
}

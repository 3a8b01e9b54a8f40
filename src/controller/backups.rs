//! What the backup Jobs of an instance say: the newest run, the newest
//! successful run, and whether backups are healthy (condition BackupHealthy).

use super::error::Error;
use crate::api::conditions::condition;
use crate::api::reasons::Reason;
use crate::api::{BackupPhase, BackupRecord, BackupSpec};
use crate::backup::Manifest;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

pub const BACKUP_HEALTHY: &str = "BackupHealthy";

/// One backup Job, reduced to what the status needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub record: BackupRecord,
    /// When it started, or was created if it has not started.
    pub at: Timestamp,
}

/// The phase of a Job from its conditions and counters.
pub fn run_of(job: &Job) -> Run {
    let status = job.status.clone().unwrap_or_default();
    let conditions = status.conditions.unwrap_or_default();
    let holds = |t: &str| conditions.iter().find(|c| c.type_ == t && c.status == "True");
    let (phase, finished, message) = if let Some(done) = holds("Complete") {
        (BackupPhase::Succeeded, status.completion_time.or(done.last_transition_time.clone()), None)
    } else if let Some(failed) = holds("Failed") {
        let why = failed.message.clone().or(failed.reason.clone()).unwrap_or_else(|| "the Job failed".into());
        (BackupPhase::Failed, failed.last_transition_time.clone(), Some(why))
    } else if status.active.unwrap_or(0) > 0 {
        (BackupPhase::Running, None, None)
    } else {
        (BackupPhase::Pending, None, None)
    };
    let created = job.metadata.creation_timestamp.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    Run {
        at: status.start_time.as_ref().map_or(created, |t| t.0),
        record: BackupRecord {
            job: job.name_any(),
            phase,
            started_at: status.start_time,
            finished_at: finished,
            message,
        },
    }
}

/// The termination messages of a Job's pods, with their exit codes.
fn terminations(pods: &[Pod]) -> impl Iterator<Item = (i32, String)> + '_ {
    pods.iter()
        .filter_map(|pod| pod.status.as_ref()?.container_statuses.as_ref()?.first()?.state.as_ref()?.terminated.clone())
        .filter_map(|terminated| Some((terminated.exit_code, terminated.message?)))
}

/// The manifest a succeeded backup pod printed, from its termination message.
pub fn manifest_of(pods: &[Pod]) -> Option<Manifest> {
    terminations(pods).filter(|(code, _)| *code == 0).find_map(|(_, message)| serde_json::from_str(&message).ok())
}

/// Why a backup pod failed, in `servicedb backup`'s own words.
pub fn failure_of(pods: &[Pod]) -> Option<String> {
    terminations(pods).filter(|(code, _)| *code != 0).map(|(_, message)| message.trim().to_string()).last()
}

/// The pods of a Job.
pub async fn job_pods(client: &Client, namespace: &str, job: &str) -> Result<Vec<Pod>, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let listed = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .map_err(Error::kube("list", format!("pods of Job {job}")))?;
    Ok(listed.items)
}

/// Puts the failed pod's own words (`servicedb backup`'s error) into a
/// failed run's record, when the pod left them.
pub async fn explain_failure(client: &Client, namespace: &str, run: &mut BackupRecord) -> Result<(), Error> {
    if let Some(why) = failure_of(&job_pods(client, namespace, &run.job).await?) {
        run.message = Some(why);
    }
    Ok(())
}

/// Backup health as the status shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    pub last: Option<BackupRecord>,
    pub last_successful: Option<BackupRecord>,
    pub condition: Condition,
}

fn hours(d: SignedDuration) -> String {
    format!("{:.1}h", d.as_secs_f64() / 3600.0)
}

/// BackupHealthy is False when the newest run failed, or when the newest
/// successful backup is older than twice the schedule's interval (or none
/// succeeded in that time since creation); Unknown before the first run.
pub fn health(spec: &BackupSpec, runs: &[Run], created: Timestamp, now: Timestamp, generation: Option<i64>) -> Health {
    let newest = runs.iter().max_by_key(|r| r.at);
    let newest_ok = runs.iter().filter(|r| r.record.phase == BackupPhase::Succeeded).max_by_key(|r| r.at);
    let interval = spec.interval(now);
    let stale_after = interval * 2;
    let ok_at = newest_ok.map(|r| r.record.finished_at.as_ref().map_or(r.at, |t| t.0));
    let c = |status: &str, reason: Reason, message: String| {
        let mut c = condition(BACKUP_HEALTHY, false, reason, message, generation);
        c.status = status.to_string();
        c
    };
    let condition = match (newest, ok_at) {
        (Some(run), _) if run.record.phase == BackupPhase::Failed => c(
            "False",
            Reason::BackupFailed,
            format!(
                "backup Job {} failed: {}; earlier backups are kept",
                run.record.job,
                run.record.message.as_deref().unwrap_or("no reason given")
            ),
        ),
        (_, Some(at)) if now.duration_since(at) > stale_after => c(
            "False",
            Reason::BackupStale,
            format!(
                "the newest successful backup finished {} ago, more than twice the schedule's interval ({})",
                hours(now.duration_since(at)),
                hours(interval)
            ),
        ),
        (_, Some(at)) => c("True", Reason::BackupsCurrent, format!("the newest successful backup finished at {at}")),
        (_, None) if now.duration_since(created) > stale_after => c(
            "False",
            Reason::NoBackup,
            format!(
                "no backup has succeeded in the {} since this ServiceDatabase was created",
                hours(now.duration_since(created))
            ),
        ),
        (_, None) => c(
            "Unknown",
            Reason::AwaitingFirstBackup,
            match spec.next_run(now) {
                Some(next) => format!("the first scheduled backup runs at {next}"),
                None => "waiting for the first backup".into(),
            },
        ),
    };
    Health { last: newest.map(|r| r.record.clone()), last_successful: newest_ok.map(|r| r.record.clone()), condition }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{BackupDestination, VolumeDestination};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn spec(schedule: &str) -> BackupSpec {
        BackupSpec {
            schedule: schedule.into(),
            retention: None,
            destination: BackupDestination { volume: Some(VolumeDestination::default()), s3: None },
        }
    }

    fn at(hours_after: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap() + SignedDuration::from_hours(hours_after)
    }

    fn run(job: &str, phase: BackupPhase, started: i64) -> Run {
        let time = |h: i64| Some(Time(at(h)));
        Run {
            at: at(started),
            record: BackupRecord {
                job: job.into(),
                phase,
                started_at: time(started),
                finished_at: matches!(phase, BackupPhase::Succeeded | BackupPhase::Failed).then(|| Time(at(started))),
                message: (phase == BackupPhase::Failed).then(|| "BackoffLimitExceeded".to_string()),
            },
        }
    }

    #[test]
    fn intervals_follow_the_schedule() {
        let monday = Timestamp::from_second(1_795_000_000).unwrap();
        assert_eq!(spec("0 3 * * *").interval(monday), SignedDuration::from_hours(24));
        assert_eq!(spec("*/15 * * * *").interval(monday), SignedDuration::from_mins(15));
        assert_eq!(spec("0 3 * * 1-5").interval(monday), SignedDuration::from_hours(72), "the weekend");
        assert_eq!(spec("not cron").interval(monday), SignedDuration::from_hours(24), "a day when unknown");
    }

    #[test]
    fn healthy_then_stale_then_failed() {
        let daily = spec("0 3 * * *");
        let ok = [run("b-1", BackupPhase::Succeeded, 0)];
        let fresh = health(&daily, &ok, at(-100), at(20), Some(1));
        assert_eq!((fresh.condition.status.as_str(), fresh.condition.reason.as_str()), ("True", "BackupsCurrent"));
        assert_eq!(fresh.last_successful.as_ref().map(|r| r.job.as_str()), Some("b-1"));

        let stale = health(&daily, &ok, at(-100), at(49), Some(1));
        assert_eq!((stale.condition.status.as_str(), stale.condition.reason.as_str()), ("False", "BackupStale"));

        let failed = [run("b-1", BackupPhase::Succeeded, 0), run("b-2", BackupPhase::Failed, 24)];
        let h = health(&daily, &failed, at(-100), at(25), Some(1));
        assert_eq!((h.condition.status.as_str(), h.condition.reason.as_str()), ("False", "BackupFailed"));
        assert!(h.condition.message.contains("b-2") && h.condition.message.contains("BackoffLimitExceeded"));
        assert_eq!(h.last.map(|r| r.job), Some("b-2".into()));
        assert_eq!(h.last_successful.map(|r| r.job), Some("b-1".into()), "the good backup is still reported");

        let recovered = [run("b-2", BackupPhase::Failed, 24), run("b-3", BackupPhase::Succeeded, 30)];
        assert_eq!(health(&daily, &recovered, at(-100), at(31), Some(1)).condition.status, "True");
    }

    #[test]
    fn before_the_first_backup() {
        let daily = spec("0 3 * * *");
        let new = health(&daily, &[], at(0), at(1), None);
        assert_eq!((new.condition.status.as_str(), new.condition.reason.as_str()), ("Unknown", "AwaitingFirstBackup"));
        let running = [run("b-1", BackupPhase::Running, 1)];
        assert_eq!(health(&daily, &running, at(0), at(2), None).condition.status, "Unknown");
        let never = health(&daily, &[], at(0), at(49), None);
        assert_eq!((never.condition.status.as_str(), never.condition.reason.as_str()), ("False", "NoBackup"));
    }
    #[test]
    fn the_manifest_comes_from_a_successful_pod_only() {
        let manifest = r#"{"id":"20261129T030000Z-00ff","engine":"postgres","engineVersion":"16","database":"orders","tool":"pg_dump","compression":"zstd","startedAt":"2026-11-29T03:00:00Z","finishedAt":"2026-11-29T03:00:09Z","dumpBytes":100,"storedBytes":40,"sha256":"ab","location":"s3://b/p/20261129T030000Z-00ff/data.zst"}"#;
        let pod = |exit: i32, message: &str| -> Pod {
            serde_json::from_value(serde_json::json!({"status": {"containerStatuses": [{
                "name": "backup", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": exit, "message": message}}}]}}))
            .unwrap()
        };
        assert_eq!(manifest_of(&[pod(1, "boom"), pod(0, manifest)]).map(|m| m.stored_bytes), Some(40));
        assert!(manifest_of(&[pod(1, manifest)]).is_none());
        assert!(manifest_of(&[pod(0, "not json")]).is_none());
        let why = "cannot use the backup destination s3://b/p: connection refused";
        assert_eq!(failure_of(&[pod(1, why), pod(0, manifest)]).as_deref(), Some(why));
    }
}

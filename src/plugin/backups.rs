//! `kubectl servicedb backups NAME`: the backups in the instance's store.
//! The store may be a claim or an S3 endpoint reachable only inside the
//! cluster, so the listing runs there: a short-lived Job (build/backup_list.rs)
//! running `servicedb backup list --output json`; its log is read, then the
//! Job is deleted.

use super::cli::Output;
use super::failure::Failure;
use super::follow::until;
use super::output::print;
use super::target::Target;
use crate::backup::BackupEntry;
use crate::backup::inventory::table;
use crate::builders::backup_list::listing_job;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, LogParams, PostParams};
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The tools image for the listing. The image of the instance's own backup
/// CronJob is the most robust default: it is the image the operator runs
/// for this very instance (whatever `--tools-image` or chart value chose
/// it), it can already reach the store with the same env, the node likely
/// has it, and reading it needs no access to the operator's namespace.
/// `--tools-image` wins when given.
pub fn tools_image(flag: Option<&str>, cronjob: Option<&CronJob>) -> Option<String> {
    flag.map(String::from).or_else(|| {
        let spec = cronjob?.spec.as_ref()?.job_template.spec.as_ref()?.template.spec.as_ref()?;
        spec.containers.first()?.image.clone()
    })
}

/// The JSON array in a log that may hold log lines before (or after) it.
pub fn entries_in(log: &str) -> Result<Vec<BackupEntry>, String> {
    let mut offset = 0;
    for line in log.split_inclusive('\n') {
        if line.trim_start().starts_with('[') {
            let rest = &log[offset..];
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Vec<BackupEntry>>();
            if let Some(Ok(entries)) = stream.next() {
                return Ok(entries);
            }
        }
        offset += line.len();
    }
    let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    Err(format!("the listing printed no JSON array; its last lines:\n{tail}"))
}

pub async fn run(
    target: &Target,
    name: &str,
    output: Output,
    flag_image: Option<&str>,
    timeout: Duration,
) -> Result<(), Failure> {
    let sdb = target.instance(name).await?;
    let spec = super::store::backup_store(&sdb, "list")?;
    let instance = Target::children(&sdb)?;
    let cronjob = target
        .api::<CronJob>()
        .get_opt(&instance.backup_name())
        .await
        .map_err(Failure::kube("get", &format!("CronJob {}", instance.backup_name())))?;
    let image = tools_image(flag_image, cronjob.as_ref()).ok_or_else(|| {
        Failure::NotFound(format!(
            "CronJob {} (whose image the listing uses) not found: pass --tools-image",
            instance.backup_name()
        ))
    })?;
    let job_name = format!("{name}-db-list-{}", k8s_openapi::jiff::Timestamp::now().as_second());
    let jobs = target.api::<Job>();
    let job = listing_job(&instance, spec, &image, job_name.clone());
    jobs.create(&PostParams { field_manager: Some(super::FIELD_MANAGER.into()), ..PostParams::default() }, &job)
        .await
        .map_err(Failure::kube("create", &format!("Job {} in {}", job_name, target.namespace)))?;
    eprintln!("listing the store of {name} with Job {job_name} ({image})");
    let log = read_listing(target, &job_name, timeout).await;
    // The Job goes whatever happened; its TTL is the fallback.
    let _ = jobs.delete(&job_name, &DeleteParams::background()).await;
    let entries = entries_in(&log?).map_err(Failure::Failed)?;
    // The same table as `servicedb backup list`.
    print(output, &entries, |e| if e.is_empty() { "no backups in the store yet\n".into() } else { table(e) })
}

/// Waits for the listing Job to end and returns its pod's log.
async fn read_listing(target: &Target, job_name: &str, timeout: Duration) -> Result<String, Failure> {
    let jobs = target.api::<Job>();
    let pods = target.api::<Pod>();
    let succeeded = until(timeout, &format!("Job {job_name} to list the backups"), || {
        let jobs = jobs.clone();
        async move {
            let job = jobs.get(job_name).await.map_err(Failure::kube("get", &format!("Job {job_name}")))?;
            let status = job.status.unwrap_or_default();
            Ok(if status.succeeded.unwrap_or(0) > 0 {
                Some(true)
            } else if status.failed.unwrap_or(0) > 0 {
                Some(false)
            } else {
                None
            })
        }
    })
    .await?;
    let listed = pods
        .list(&ListParams::default().labels(&format!("job-name={job_name}")))
        .await
        .map_err(Failure::kube("list", &format!("pods of Job {job_name}")))?;
    let pod = listed
        .items
        .first()
        .and_then(|p| p.metadata.name.clone())
        .ok_or_else(|| Failure::Failed(format!("Job {job_name} ended without a pod")))?;
    let log = pods
        .logs(&pod, &LogParams::default())
        .await
        .map_err(Failure::kube("read the log of", &format!("pod {pod}")))?;
    if succeeded {
        Ok(log)
    } else {
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(Failure::Failed(format!("listing the store failed (Job {job_name}):\n{}", tail.join("\n"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_cronjob_image_unless_a_flag_says_otherwise() {
        let cronjob: CronJob = serde_json::from_value(serde_json::json!({"spec": {"schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "backup", "image": "tools:7"}]}}}}}}))
        .unwrap();
        assert_eq!(tools_image(None, Some(&cronjob)).as_deref(), Some("tools:7"));
        assert_eq!(tools_image(Some("mine:1"), Some(&cronjob)).as_deref(), Some("mine:1"));
        assert_eq!(tools_image(None, None), None);
    }

    #[test]
    fn the_json_array_is_found_among_log_lines() {
        let log = r#"{"level":"INFO","message":"listing s3://b/p"}
[
  {"id": "20261129T030000Z-00ff", "startedAt": "2026-11-29T03:00:00Z", "finishedAt": "2026-11-29T03:00:09Z",
   "engine": "postgres", "engineVersion": "16", "database": "orders", "storedBytes": 40, "dumpBytes": 100,
   "sha256": "ab", "location": "s3://b/p/20261129T030000Z-00ff/data.zst", "state": "complete"}
]
"#;
        let entries = entries_in(log).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].id.as_str(), entries[0].stored_bytes), ("20261129T030000Z-00ff", Some(40)));
        assert_eq!(entries_in("[]\n").unwrap(), vec![]);
        assert!(entries_in("error: cannot reach the store\n").unwrap_err().contains("cannot reach the store"));
        let text = table(&entries);
        assert!(text.contains("20261129T030000Z-00ff") && text.contains("complete"), "{text}");
    }
}

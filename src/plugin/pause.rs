//! `kubectl servicedb pause|resume NAME`: the `servicedb.dev/reconcile:
//! paused` annotation (resume also removes the deprecated
//! `servicedb.dev/paused`), then wait until the operator shows it saw it.

use super::failure::Failure;
use super::follow::{Progress, until};
use super::status::paused_condition;
use super::target::Target;
use crate::api::ServiceDatabase;
use crate::controller::pause::annotation_patch;
use kube::api::{Patch, PatchParams};
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

fn ready_line(sdb: &ServiceDatabase) -> String {
    let status = sdb.status.clone().unwrap_or_default();
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    let phase = status.phase.map_or("no phase".into(), |p| format!("{p:?}"));
    match ready {
        Some(c) => format!("{phase}: Ready {} {}", c.status, c.reason),
        None => phase,
    }
}

pub async fn run(target: &Target, name: &str, pause: bool, timeout: Duration) -> Result<(), Failure> {
    target.instance(name).await?;
    let patch = annotation_patch(pause);
    let api = target.api::<ServiceDatabase>();
    api.patch(
        name,
        &PatchParams { field_manager: Some(super::FIELD_MANAGER.into()), ..Default::default() },
        &Patch::Merge(&patch),
    )
    .await
    .map_err(Failure::kube("annotate", &format!("ServiceDatabase {}/{name}", target.namespace)))?;
    let goal = if pause { "the operator to report Paused" } else { "the operator to resume" };
    let progress = Progress::default();
    let sdb = until(timeout, goal, || {
        let api = api.clone();
        let progress = &progress;
        async move {
            let sdb = api.get(name).await.map_err(Failure::kube("get", &format!("ServiceDatabase {name}")))?;
            let paused = paused_condition(&sdb);
            progress.show(&format!("{}{}", ready_line(&sdb), if paused { ", Paused" } else { "" }));
            Ok((paused == pause).then_some(sdb))
        }
    })
    .await?;
    if pause {
        println!(
            "paused {name}: the operator changes no child, login or backup of it until `kubectl servicedb resume {name}`; scheduled backups (the CronJob) keep running"
        );
    } else {
        println!("resumed {name}: the operator manages it again and repairs what drifted ({})", ready_line(&sdb));
    }
    Ok(())
}

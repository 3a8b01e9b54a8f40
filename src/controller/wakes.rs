//! Which changes wake a reconcile. Every write the operator makes comes
//! back as a watch event; most of them (its own status, a child's status
//! churned by its controller) change nothing a decision reads. Waking on
//! them cost about half the reconciles of a creation, and each reconcile
//! reads two Secrets. What a decision reads wakes; the rest waits for the
//! next change or resync.

use crate::api::{BackupPhase, ServiceDatabase};
use kube::ResourceExt;
use kube::api::DynamicObject;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// The part of a ServiceDatabase whose change wakes its reconcile: the spec
/// (by its generation), labels and annotations (pause, rotation requests),
/// its deletion, and of the status only the bootstrap record (a finished
/// restore's Job goes once the status recorded it). Its own status and
/// finalizer writes do not.
pub fn servicedatabase(sdb: &ServiceDatabase) -> Option<u64> {
    let mut h = DefaultHasher::new();
    sdb.metadata.generation.hash(&mut h);
    sdb.labels().hash(&mut h);
    sdb.annotations().hash(&mut h);
    sdb.metadata.deletion_timestamp.as_ref().map(|t| t.0.as_second()).hash(&mut h);
    let bootstrap = sdb.status.as_ref().and_then(|s| s.bootstrap.as_ref());
    bootstrap.is_some_and(|b| b.phase == BackupPhase::Succeeded).hash(&mut h);
    Some(h.finish())
}

/// The part of a child's status that a decision reads, by plural: a
/// StatefulSet's readiness inputs (what `status::instance_readiness`
/// compares), a Job's whole status (backup health and restores), a
/// database pod's container states, nothing of the others (a CronJob's
/// status repeats what its Jobs say).
fn status_read(plural: &str, status: Option<&serde_json::Value>) -> Option<serde_json::Value> {
    let status = status?;
    match plural {
        "statefulsets" => {
            let field = |name: &str| status.get(name).cloned().unwrap_or_default();
            Some(serde_json::json!([
                field("observedGeneration"),
                field("readyReplicas"),
                field("currentRevision"),
                field("updateRevision")
            ]))
        }
        "jobs" => Some(status.clone()),
        // What tells a crash, a restart or readiness (`instance_pod`), not
        // the times and ids the kubelet refreshes.
        "pods" => {
            let containers = ["initContainerStatuses", "containerStatuses"].map(|list| {
                let statuses = status.get(list).and_then(|l| l.as_array()).cloned().unwrap_or_default();
                statuses
                    .iter()
                    .map(|c| {
                        let state = |key: &str| {
                            let s = c.get(key).cloned().unwrap_or_default();
                            let waiting = s.pointer("/waiting/reason").cloned();
                            let ended =
                                s.get("terminated").map(|t| (t.get("exitCode").cloned(), t.get("reason").cloned()));
                            serde_json::json!([waiting, ended, s.get("running").is_some()])
                        };
                        serde_json::json!([
                            c.get("name"),
                            c.get("ready"),
                            c.get("restartCount"),
                            state("state"),
                            state("lastState")
                        ])
                    })
                    .collect::<Vec<_>>()
            });
            Some(serde_json::json!([status.get("phase"), containers]))
        }
        _ => None,
    }
}

/// A digest of what of a cached child wakes its owner: the object without
/// the API server's bookkeeping (resourceVersion; managed fields are
/// already stripped for the cache) and with only the status a decision
/// reads. Two objects with the same digest lead to the same reconcile.
/// Runs on every watch event: the object is hashed in place, the two
/// fields set aside and put back rather than the object copied.
pub fn child(plural: &str, object: &mut DynamicObject) -> u64 {
    let version = object.metadata.resource_version.take();
    let status = object.data.as_object_mut().and_then(|fields| fields.remove("status"));
    let mut h = DefaultHasher::new();
    serde_json::to_string(&object.metadata).unwrap_or_default().hash(&mut h);
    object.data.to_string().hash(&mut h);
    status_read(plural, status.as_ref()).map(|s| s.to_string()).hash(&mut h);
    object.metadata.resource_version = version;
    if let (Some(status), Some(fields)) = (status, object.data.as_object_mut()) {
        fields.insert("status".into(), status);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    fn object(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    fn sts(resource_version: &str, status: serde_json::Value) -> DynamicObject {
        object(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "orders-db", "namespace": "shop", "resourceVersion": resource_version, "generation": 1},
            "spec": {"replicas": 1}, "status": status}))
    }

    #[test]
    fn a_statefulset_wakes_on_readiness_not_on_its_controllers_bookkeeping() {
        let created = child("statefulsets", &mut sts("1", json!({})));
        let counted =
            child("statefulsets", &mut sts("2", json!({"replicas": 1, "currentReplicas": 1, "availableReplicas": 0})));
        let ready = child("statefulsets", &mut sts("3", json!({"replicas": 1, "readyReplicas": 1})));
        assert_eq!(created, counted, "replica counts a decision does not read");
        assert_ne!(counted, ready, "readiness is read");
        let observed =
            child("statefulsets", &mut sts("4", json!({"replicas": 1, "readyReplicas": 1, "observedGeneration": 1})));
        assert_ne!(ready, observed, "the observed generation is read");
        let mut hashed = sts("5", json!({"readyReplicas": 1}));
        let before = serde_json::to_value(&hashed).unwrap();
        child("statefulsets", &mut hashed);
        assert_eq!(serde_json::to_value(&hashed).unwrap(), before, "put back whole: the cache stores it next");
    }

    #[test]
    fn a_childs_spec_labels_or_owner_wake_and_its_resource_version_does_not() {
        let base = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "orders-db", "namespace": "shop", "resourceVersion": "1", "labels": {"a": "b"}},
            "spec": {"ports": [{"port": 6379}]}});
        let digest = |v: &serde_json::Value| child("services", &mut object(v.clone()));
        let mut bumped = base.clone();
        bumped["metadata"]["resourceVersion"] = json!("9");
        assert_eq!(digest(&base), digest(&bumped));
        let mut edited = base.clone();
        edited["spec"]["ports"][0]["port"] = json!(6380);
        assert_ne!(digest(&base), digest(&edited), "drift in the spec");
        let mut relabelled = base.clone();
        relabelled["metadata"]["labels"]["a"] = json!("c");
        assert_ne!(digest(&base), digest(&relabelled), "drift in the labels");
    }

    #[test]
    fn a_pod_wakes_on_a_crash_a_restart_or_readiness_not_on_the_kubelets_timestamps() {
        let pod = |container: serde_json::Value| {
            child(
                "pods",
                &mut object(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "orders-db-0", "namespace": "shop"},
                "status": {"phase": "Running", "containerStatuses": [container]}})),
            )
        };
        let running = |at: &str| {
            json!({"name": "redis", "ready": false, "restartCount": 0,
            "state": {"running": {"startedAt": at}}, "containerID": format!("containerd://{at}")})
        };
        assert_eq!(pod(running("10:00")), pod(running("10:01")), "times and ids");
        let mut ready = running("10:00");
        ready["ready"] = json!(true);
        assert_ne!(pod(running("10:00")), pod(ready), "readiness");
        let crashed = json!({"name": "redis", "ready": false, "restartCount": 1,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}});
        assert_ne!(pod(running("10:00")), pod(crashed), "a crash");
    }

    #[test]
    fn a_jobs_status_wakes() {
        let job = |status: serde_json::Value| {
            child(
                "jobs",
                &mut object(json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "orders-backup-1", "namespace": "shop"}, "status": status})),
            )
        };
        assert_ne!(job(json!({"active": 1})), job(json!({"succeeded": 1})));
    }

    fn sdb() -> ServiceDatabase {
        serde_json::from_value(json!({"apiVersion": "servicedb.dev/v1alpha1", "kind": "ServiceDatabase",
            "metadata": {"name": "orders", "namespace": "shop", "generation": 1, "resourceVersion": "1"},
            "spec": {"engine": "redis", "version": "7", "service": {"name": "orders"}, "storage": {"size": "1Gi"}}}))
        .unwrap()
    }

    #[test]
    fn a_servicedatabase_wakes_on_spec_annotations_deletion_and_bootstrap_not_on_its_status_or_finalizer() {
        let base = servicedatabase(&sdb());
        let mut written = sdb();
        written.metadata.resource_version = Some("2".into());
        written.metadata.finalizers = Some(vec!["servicedb.dev/finalizer".into()]);
        written.status = Some(serde_json::from_value(json!({"phase": "Ready", "observedGeneration": 1})).unwrap());
        assert_eq!(base, servicedatabase(&written), "its own status and finalizer writes");
        type Change = (&'static str, fn(&mut ServiceDatabase));
        let changes: [Change; 4] = [
            ("spec", |s| s.metadata.generation = Some(2)),
            ("pause", |s| {
                s.annotations_mut().insert("servicedb.dev/reconcile".into(), "paused".into());
            }),
            ("deletion", |s| s.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH))),
            ("bootstrap done", |s| {
                s.status = Some(
                    serde_json::from_value(json!({"bootstrap": {"job": "orders-restore", "phase": "Succeeded"}}))
                        .unwrap(),
                )
            }),
        ];
        for (what, change) in changes {
            let mut changed = sdb();
            change(&mut changed);
            assert_ne!(base, servicedatabase(&changed), "{what}");
        }
    }
}

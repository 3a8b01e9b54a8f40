//! Why the database pod `<name>-db-0` does not become ready, from its
//! containers' states: a crash loop, an image that cannot be pulled, a
//! configuration the kubelet refuses. Database pods are cached (watched by
//! their labels), and a change of their containers' states wakes the
//! instance: a crash is seen without polling.

use crate::builders::{Instance, Passwords};
use crate::controller::caches::Caches;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Pod};
use kube::ResourceExt;
use std::fmt;

/// Waiting reasons of a container the kubelet cannot start.
const CANNOT_START: [&str; 11] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "ImageInspectError",
    "RegistryUnavailable",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreStartHookError",
    "PostStartHookError",
];

/// The longest piece of a container's own words kept in a message.
const MAX_QUOTE: usize = 300;

/// A container of the instance pod that keeps failing.
#[derive(Clone, Debug, PartialEq)]
pub struct PodFailure {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub restarts: i32,
    pub cause: Cause,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cause {
    /// Held back by the kubelet after failing again (CrashLoopBackOff), with
    /// how it ended last, when the kubelet still knows.
    CrashLoop(Option<Termination>),
    /// Ended with a failure: about to be restarted, or restarted and not ready.
    Exited(Termination),
    /// The kubelet cannot start it: the image, or its configuration.
    CannotStart { reason: String, message: Option<String> },
}

/// How a container ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Termination {
    pub exit_code: i32,
    /// The kubelet's word: Error, OOMKilled, Completed...
    pub reason: Option<String>,
    /// The container's termination message, shortened, secrets removed.
    pub message: Option<String>,
}

/// One line of at most [`MAX_QUOTE`] characters, without any of `secrets`.
fn quote(text: &str, secrets: &[&str]) -> Option<String> {
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // Longest first: a secret inside another must not leave the rest of it.
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        text = text.replace(secret, "<redacted>");
    }
    if text.chars().count() > MAX_QUOTE {
        text = text.chars().take(MAX_QUOTE).chain(['…']).collect();
    }
    (!text.is_empty()).then_some(text)
}

fn termination(t: &ContainerStateTerminated, secrets: &[&str]) -> Termination {
    Termination {
        exit_code: t.exit_code,
        reason: t.reason.as_deref().and_then(|r| quote(r, secrets)),
        message: t.message.as_deref().and_then(|m| quote(m, secrets)),
    }
}

/// Why one container fails, if it does.
fn cause(status: &ContainerStatus, secrets: &[&str]) -> Option<Cause> {
    let state = status.state.as_ref();
    let waiting = state.and_then(|s| s.waiting.as_ref());
    let last = status.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let failed = |t: &&ContainerStateTerminated| t.exit_code != 0;
    match waiting.and_then(|w| w.reason.as_deref()) {
        Some("CrashLoopBackOff") => return Some(Cause::CrashLoop(last.map(|t| termination(t, secrets)))),
        Some(reason) if CANNOT_START.contains(&reason) => {
            let message = waiting.and_then(|w| w.message.as_deref()).and_then(|m| quote(m, secrets));
            return Some(Cause::CannotStart { reason: reason.to_string(), message });
        }
        _ => {}
    }
    if let Some(now) = state.and_then(|s| s.terminated.as_ref()).filter(failed) {
        return Some(Cause::Exited(termination(now, secrets)));
    }
    last.filter(failed)
        .filter(|_| !status.ready && status.restart_count > 0)
        .map(|t| Cause::Exited(termination(t, secrets)))
}

/// The first failing container of the pod, init containers first. `secrets`
/// are removed from whatever the containers wrote.
pub fn failure_of(pod: &Pod, secrets: &[&str]) -> Option<PodFailure> {
    let status = pod.status.as_ref()?;
    let mut statuses =
        status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    statuses.find_map(|container| {
        Some(PodFailure {
            namespace: pod.namespace().unwrap_or_default(),
            pod: pod.name_any(),
            container: container.name.clone(),
            restarts: container.restart_count,
            cause: cause(container, secrets)?,
        })
    })
}

/// Every secret value the operator knows for the instance, to keep out of
/// messages.
pub fn secret_values(passwords: &Passwords) -> Vec<&str> {
    let mut values =
        vec![passwords.admin.as_str(), passwords.app.as_str(), passwords.monitor.as_str(), passwords.backup.as_str()];
    values.extend(passwords.app_b.as_deref());
    values.extend(passwords.derived.values().map(String::as_str));
    // The private key, line by line: a log line would hold one at most.
    let key = passwords.tls.iter().flat_map(|keys| keys.key_pem.lines());
    values.extend(key.filter(|line| !line.starts_with("-----")));
    values
}

/// Why the instance pod fails, from the cache. A pod not there (not created
/// yet, or gone) is no failure: the StatefulSet's readiness still holds
/// Ready back.
pub fn observe(caches: &Caches, instance: &Instance<'_>, secrets: &[&str]) -> Option<PodFailure> {
    let pod = caches.get::<Pod>(instance.namespace, &format!("{}-0", instance.instance_name()))?;
    failure_of(&pod, secrets)
}

impl Termination {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit code {}", self.exit_code)?;
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        if let Some(message) = &self.message {
            write!(f, ", last message: {message}")?;
        }
        Ok(())
    }
}

impl PodFailure {
    fn oom_killed(&self) -> bool {
        let termination = match &self.cause {
            Cause::CrashLoop(t) => t.as_ref(),
            Cause::Exited(t) => Some(t),
            Cause::CannotStart { .. } => None,
        };
        termination.is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"))
    }
}

/// The message of the status: what fails, how, and what to look at next.
impl fmt::Display for PodFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (container, pod, ns) = (&self.container, &self.pod, &self.namespace);
        write!(f, "container {container} in pod {pod} ")?;
        match &self.cause {
            Cause::CrashLoop(last) => {
                f.write_str("is crash-looping")?;
                if let Some(last) = last {
                    f.write_str(": ")?;
                    last.describe(f)?;
                }
            }
            Cause::Exited(termination) => {
                f.write_str("failed: ")?;
                termination.describe(f)?;
            }
            Cause::CannotStart { reason, message } => {
                write!(f, "cannot start: {reason}")?;
                if let Some(message) = message {
                    write!(f, ": {message}")?;
                }
            }
        }
        if !matches!(self.cause, Cause::CannotStart { .. }) {
            write!(f, "; restarts: {}", self.restarts)?;
        }
        match &self.cause {
            _ if self.oom_killed() => {
                f.write_str("; it ran out of memory: raise spec.resources.limits.memory")
            }
            Cause::CannotStart { reason, .. } if reason.contains("Image") => f.write_str(
                "; check that the image exists and that the node can pull it (with --image-catalog, the catalogue names it)",
            ),
            Cause::CannotStart { .. } => write!(f, "; see kubectl -n {ns} describe pod {pod}"),
            Cause::CrashLoop(_) | Cause::Exited(_) => {
                write!(f, "; see kubectl -n {ns} logs {pod} -c {container} --previous")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(statuses: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "orders-db-0", "namespace": "shop"},
            "status": statuses,
        }))
        .unwrap()
    }

    const SECRET: &str = "s3cr3t-Passw0rd";

    fn crash_loop() -> Pod {
        pod(serde_json::json!({"containerStatuses": [
            {"name": "postgres", "image": "p", "imageID": "", "ready": false, "restartCount": 5,
             "state": {"waiting": {"reason": "CrashLoopBackOff",
                "message": "back-off 2m40s restarting failed container=postgres pod=orders-db-0_shop(u)"}},
             "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                "message": "FATAL:  could not access directory \"/var/lib/postgresql/data/pgdata\": Permission denied\n"}}},
            {"name": "exporter", "image": "e", "imageID": "", "ready": true, "restartCount": 0,
             "state": {"running": {}}}
        ]}))
    }

    #[test]
    fn a_secret_holding_another_is_redacted_whole() {
        let (inner, outer) = ("abcdefgh12345678", "xxabcdefgh12345678yy");
        let shown = quote(&format!("login {outer} refused"), &[inner, outer]).unwrap();
        assert_eq!(shown, "login <redacted> refused");
    }

    #[test]
    fn a_crash_loop_says_how_the_container_ended_last() {
        let failure = failure_of(&crash_loop(), &[SECRET]).expect("a failure");
        assert_eq!((failure.container.as_str(), failure.restarts), ("postgres", 5));
        assert_eq!(
            failure.to_string(),
            "container postgres in pod orders-db-0 is crash-looping: exit code 1 (Error), last message: \
             FATAL: could not access directory \"/var/lib/postgresql/data/pgdata\": Permission denied; restarts: 5; \
             see kubectl -n shop logs orders-db-0 -c postgres --previous"
        );
    }

    #[test]
    fn an_image_never_pulled_says_which_image() {
        let pod = pod(serde_json::json!({"containerStatuses": [
            {"name": "postgres", "image": "localhost/servicedb/postgres:16", "imageID": "", "ready": false,
             "restartCount": 0, "state": {"waiting": {"reason": "ErrImageNeverPull",
                "message": "Container image \"localhost/servicedb/postgres:16\" is not present with pull policy of Never"}}}
        ]}));
        let failure = failure_of(&pod, &[]).expect("a failure");
        assert_eq!(
            failure.to_string(),
            "container postgres in pod orders-db-0 cannot start: ErrImageNeverPull: Container image \
             \"localhost/servicedb/postgres:16\" is not present with pull policy of Never; check that the image \
             exists and that the node can pull it (with --image-catalog, the catalogue names it)"
        );
    }

    #[test]
    fn a_healthy_or_starting_pod_is_no_failure() {
        let healthy = pod(serde_json::json!({"containerStatuses": [
            {"name": "postgres", "image": "p", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}
        ]}));
        assert_eq!(failure_of(&healthy, &[]), None);
        let creating = pod(serde_json::json!({"containerStatuses": [
            {"name": "postgres", "image": "p", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"waiting": {"reason": "ContainerCreating"}}}
        ]}));
        assert_eq!(failure_of(&creating, &[]), None);
        let pending = pod(serde_json::json!({"phase": "Pending"}));
        assert_eq!(failure_of(&pending, &[]), None);
        // Restarted once after the node rebooted, and ready again.
        let recovered = pod(serde_json::json!({"containerStatuses": [
            {"name": "postgres", "image": "p", "imageID": "", "ready": true, "restartCount": 1,
             "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 255, "reason": "Unknown"}}}
        ]}));
        assert_eq!(failure_of(&recovered, &[]), None);
    }

    #[test]
    fn an_out_of_memory_kill_says_to_raise_the_limit() {
        let pod = pod(serde_json::json!({"containerStatuses": [
            {"name": "redis", "image": "r", "imageID": "", "ready": false, "restartCount": 2,
             "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}
        ]}));
        assert_eq!(
            failure_of(&pod, &[]).unwrap().to_string(),
            "container redis in pod orders-db-0 failed: exit code 137 (OOMKilled); restarts: 2; \
             it ran out of memory: raise spec.resources.limits.memory"
        );
    }

    #[test]
    fn init_containers_come_first_and_config_errors_are_reported() {
        let pod = pod(serde_json::json!({
            "initContainerStatuses": [
                {"name": "restore", "image": "t", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "CreateContainerConfigError",
                    "message": "secret \"orders-db-admin\" not found"}}}
            ],
            "containerStatuses": [
                {"name": "redis", "image": "r", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "PodInitializing"}}}
            ]
        }));
        let failure = failure_of(&pod, &[]).unwrap();
        assert_eq!(failure.container, "restore");
        assert_eq!(
            failure.to_string(),
            "container restore in pod orders-db-0 cannot start: CreateContainerConfigError: secret \
             \"orders-db-admin\" not found; see kubectl -n shop describe pod orders-db-0"
        );
    }

    #[test]
    fn secrets_never_reach_the_message_and_long_messages_are_cut() {
        let leaky = format!("password authentication failed, tried {SECRET}\n{}", "x".repeat(1000));
        let pod = pod(serde_json::json!({"containerStatuses": [
            {"name": "postgres", "image": "p", "imageID": "", "ready": false, "restartCount": 1,
             "state": {"terminated": {"exitCode": 2, "reason": "Error", "message": leaky}}}
        ]}));
        let message = failure_of(&pod, &[SECRET, ""]).unwrap().to_string();
        assert!(!message.contains(SECRET), "{message}");
        assert!(message.contains("tried <redacted> x"), "{message}");
        assert!(message.len() < 600, "{}", message.len());
    }

    #[test]
    fn every_known_secret_is_kept_out() {
        let passwords = Passwords {
            admin: "a".into(),
            app: "b".into(),
            app_b: Some("c".into()),
            monitor: "d".into(),
            backup: "f".into(),
            rotation: Default::default(),
            derived: [("k".to_string(), "e".to_string())].into(),
            tls: None,
        };
        let mut values = secret_values(&passwords);
        values.sort_unstable();
        assert_eq!(values, ["a", "b", "c", "d", "e", "f"]);
    }
}

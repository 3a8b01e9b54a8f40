//! Events, recorded with little memory. kube's `Recorder` keeps the whole
//! last Event of every (object, reason) for six minutes and scans them all
//! on every publish, under one write lock: at 1,000 new ServiceDatabases
//! that was 6 MiB of the operator's heap at its peak (heaptrack, `make
//! bench-scale`), growing with the number of objects. Here a repeat of
//! the same Event within the window still patches its series, but what is
//! kept per Event is its name, count and time, and expired ones are
//! dropped at most every [`PRUNE_EVERY`].

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a repeat joins the series of the Event before it (as kube's
/// recorder and client-go do).
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// How often expired Events are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(30);
/// Events remembered at most: past it, a repeat is a new Event rather than
/// a longer series, and memory stays bounded.
const MAX_REMEMBERED: usize = 50_000;

pub struct EventRecorder {
    client: kube::Client,
    controller: String,
    instance: String,
    seen: Mutex<Seen>,
}

impl EventRecorder {
    /// `instance` names this process in the Events it records.
    pub fn new(client: kube::Client, controller: &str, instance: String) -> Self {
        Self { client, controller: controller.into(), instance, seen: Mutex::new(Seen::new(Instant::now())) }
    }

    /// Records `event` about `regarding`: a new Event, or one more of the
    /// same Event recorded within the window.
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        let key = key(event, regarding);
        let plan = self.seen().plan(key, Instant::now());
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
        let now = Timestamp::now();
        let create = async || -> Result<(String, i32), kube::Error> {
            let created = api.create(&PostParams::default(), &self.event(event, regarding, now)).await?;
            Ok((created.metadata.name.unwrap_or_default(), 1))
        };
        let (name, count) = match plan {
            Plan::Create => create().await?,
            Plan::Repeat { name, count } => {
                let series = EventSeries { count, last_observed_time: MicroTime(now) };
                let patch = serde_json::json!({ "series": series });
                match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => (name, count),
                    // Deleted (or expired) since: start over.
                    Err(kube::Error::Api(status)) if status.code == 404 => create().await?,
                    Err(e) => return Err(e),
                }
            }
        };
        self.seen().remember(key, Recorded { name, count, last: Instant::now() });
        Ok(())
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn event(&self, event: &Event, regarding: &ObjectReference, now: Timestamp) -> K8sEvent {
        let prefix = regarding.name.as_deref().unwrap_or(&self.controller);
        K8sEvent {
            metadata: ObjectMeta {
                name: Some(format!("{prefix}.{:x}", now.as_nanosecond())),
                namespace: regarding.namespace.clone(),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(type_name(event.type_).into()),
            reason: Some(event.reason.clone()),
            action: Some(event.action.clone()),
            note: event.note.clone(),
            regarding: Some(regarding.clone()),
            related: event.secondary.clone(),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..K8sEvent::default()
        }
    }
}

fn type_name(type_: EventType) -> &'static str {
    match type_ {
        EventType::Normal => "Normal",
        EventType::Warning => "Warning",
    }
}

/// What makes two Events the same: a changed note is a new Event (a
/// series would keep showing the first one's note).
fn key(event: &Event, regarding: &ObjectReference) -> u64 {
    let mut hasher = DefaultHasher::new();
    (type_name(event.type_), &event.reason, &event.action, &event.note).hash(&mut hasher);
    (&regarding.namespace, &regarding.name, &regarding.uid, &regarding.kind).hash(&mut hasher);
    event.secondary.as_ref().map(|s| (&s.namespace, &s.name, &s.uid, &s.kind)).hash(&mut hasher);
    hasher.finish()
}

/// What is kept of a recorded Event.
#[derive(Clone, Debug, PartialEq)]
struct Recorded {
    name: String,
    count: i32,
    last: Instant,
}

#[derive(Debug, PartialEq)]
enum Plan {
    Create,
    Repeat { name: String, count: i32 },
}

/// The Events recorded within the window, by key.
struct Seen {
    recorded: HashMap<u64, Recorded>,
    pruned: Instant,
}

impl Seen {
    fn new(now: Instant) -> Self {
        Self { recorded: HashMap::new(), pruned: now }
    }

    /// Whether the Event of `key` is new or repeats one within the window.
    fn plan(&mut self, key: u64, now: Instant) -> Plan {
        if now.duration_since(self.pruned) >= PRUNE_EVERY {
            self.recorded.retain(|_, r| now.duration_since(r.last) < SERIES_WINDOW);
            self.pruned = now;
        }
        match self.recorded.get(&key) {
            Some(r) if now.duration_since(r.last) < SERIES_WINDOW => {
                Plan::Repeat { name: r.name.clone(), count: r.count.saturating_add(1) }
            }
            _ => Plan::Create,
        }
    }

    fn remember(&mut self, key: u64, recorded: Recorded) {
        if self.recorded.len() < MAX_REMEMBERED || self.recorded.contains_key(&key) {
            self.recorded.insert(key, recorded);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reason: &str, note: &str) -> Event {
        Event {
            type_: EventType::Warning,
            reason: reason.into(),
            note: Some(note.into()),
            action: "Reconcile".into(),
            secondary: None,
        }
    }

    fn orders() -> ObjectReference {
        ObjectReference {
            name: Some("orders".into()),
            namespace: Some("shop".into()),
            uid: Some("u1".into()),
            ..ObjectReference::default()
        }
    }

    fn recorded(name: &str, count: i32, last: Instant) -> Recorded {
        Recorded { name: name.into(), count, last }
    }

    #[test]
    fn a_repeat_within_the_window_extends_the_series_and_an_old_or_different_one_is_new() {
        let t0 = Instant::now();
        let mut seen = Seen::new(t0);
        let k = key(&event("Degraded", "pod down"), &orders());
        assert_eq!(seen.plan(k, t0), Plan::Create);
        seen.remember(k, recorded("orders.1", 1, t0));
        let later = t0 + Duration::from_secs(60);
        assert_eq!(seen.plan(k, later), Plan::Repeat { name: "orders.1".into(), count: 2 });
        seen.remember(k, recorded("orders.1", 2, later));
        assert_eq!(seen.plan(k, later + Duration::from_secs(1)), Plan::Repeat { name: "orders.1".into(), count: 3 });
        assert_eq!(seen.plan(k, later + SERIES_WINDOW), Plan::Create, "past the window: a new Event");

        let other_note = key(&event("Degraded", "volume full"), &orders());
        let other_object = key(&event("Degraded", "pod down"), &ObjectReference { uid: Some("u2".into()), ..orders() });
        assert!(other_note != k && other_object != k, "a changed note or another object is another Event");
    }

    #[test]
    fn expired_events_are_forgotten_and_memory_stays_bounded() {
        let t0 = Instant::now();
        let mut seen = Seen::new(t0);
        seen.remember(1, recorded("old", 1, t0));
        let late = t0 + SERIES_WINDOW + PRUNE_EVERY;
        seen.remember(2, recorded("fresh", 1, late));
        assert_eq!(seen.plan(3, late), Plan::Create);
        assert_eq!(seen.recorded.keys().copied().collect::<Vec<_>>(), vec![2], "the expired Event was dropped");

        let mut full = Seen::new(t0);
        for k in 0..MAX_REMEMBERED as u64 {
            full.remember(k, recorded("e", 1, t0));
        }
        full.remember(u64::MAX, recorded("one too many", 1, t0));
        assert_eq!(full.recorded.len(), MAX_REMEMBERED);
        assert_eq!(full.plan(u64::MAX, t0), Plan::Create, "not remembered: recorded as a new Event");
        full.remember(0, recorded("e", 2, t0));
        assert_eq!(full.recorded[&0].count, 2, "a known Event's series still grows when full");
    }
}

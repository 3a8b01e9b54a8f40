//! ServiceDatabases arrive from the watch untyped and are decoded one by
//! one. With a typed watch, a single object that does not decode (written
//! under an older schema, or by a newer operator) fails the whole list and
//! the controller stops for every object. Here such an object is skipped
//! and reported: a Warning Event on it and the `undecodable_objects` metric.

use super::context::Context;
use crate::api::ServiceDatabase;
use crate::api::reasons::Reason;
use futures::{Stream, StreamExt};
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::events::{Event, EventType};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use std::sync::Arc;

/// An object that does not decode: its reference and why.
pub struct Undecodable {
    pub object: k8s_openapi::api::core::v1::ObjectReference,
    pub error: String,
}

fn decode(mut object: DynamicObject) -> Result<ServiceDatabase, Box<Undecodable>> {
    // Never read, and often the largest part of a cached object.
    object.metadata.managed_fields = None;
    let reference = object.object_ref(&ApiResource::erase::<ServiceDatabase>(&()));
    object.try_parse::<ServiceDatabase>().map_err(|e| Box::new(Undecodable { object: reference, error: e.to_string() }))
}

/// The typed event, or `None` (and `report` called) when its object does not decode.
pub fn typed(
    event: watcher::Event<DynamicObject>,
    report: &mut impl FnMut(Undecodable),
) -> Option<watcher::Event<ServiceDatabase>> {
    let mut typed = |object| decode(object).map_err(|u| report(*u)).ok();
    Some(match event {
        watcher::Event::Apply(o) => watcher::Event::Apply(typed(o)?),
        watcher::Event::InitApply(o) => watcher::Event::InitApply(typed(o)?),
        watcher::Event::Delete(o) => watcher::Event::Delete(typed(o)?),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitDone => watcher::Event::InitDone,
    })
}

/// The watch of ServiceDatabases in one scope, decoded one by one.
pub fn watch(
    ctx: Arc<Context>,
    namespace: Option<&str>,
) -> impl Stream<Item = Result<watcher::Event<ServiceDatabase>, watcher::Error>> + Send + 'static {
    let resource = ApiResource::erase::<ServiceDatabase>(&());
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, &resource),
        None => Api::all_with(ctx.client.clone(), &resource),
    };
    let config = watcher::Config::default().page_size(super::caches::LIST_PAGE_SIZE);
    watcher(api, config).default_backoff().filter_map(move |event| {
        let ctx = ctx.clone();
        let mut report = move |u: Undecodable| report_undecodable(&ctx, u);
        futures::future::ready(match event {
            Ok(event) => typed(event, &mut report).map(Ok),
            Err(e) => Some(Err(e)),
        })
    })
}

fn report_undecodable(ctx: &Arc<Context>, undecodable: Undecodable) {
    let Undecodable { object, error } = undecodable;
    tracing::warn!(name = ?object.name, namespace = ?object.namespace, %error, "a ServiceDatabase does not decode; skipped");
    ctx.metrics.undecodable();
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let event = Event {
            type_: EventType::Warning,
            reason: Reason::Undecodable.as_str().into(),
            note: Some(format!("servicedb cannot read this object and leaves it alone until it is fixed: {error}")),
            action: "Decode".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &object).await {
            tracing::warn!(error = %e, "could not record an Event");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(engine: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "servicedb.dev/v1alpha1", "kind": "ServiceDatabase",
            "metadata": {"name": "orders", "namespace": "shop", "uid": "u1"},
            "spec": {"engine": engine, "version": "16", "service": {"name": "orders"}, "storage": {"size": "1Gi"}}
        }))
        .unwrap()
    }

    #[test]
    fn an_object_that_does_not_decode_is_reported_and_skipped_and_the_rest_pass() {
        let mut reported = Vec::new();
        let mut report = |u: Undecodable| reported.push(u);
        assert!(matches!(
            typed(watcher::Event::InitApply(object("postgres")), &mut report),
            Some(watcher::Event::InitApply(sdb)) if sdb.spec.version == "16"
        ));
        assert!(typed(watcher::Event::InitApply(object("oracle")), &mut report).is_none());
        assert!(matches!(typed(watcher::Event::InitDone, &mut report), Some(watcher::Event::InitDone)));
        assert_eq!(reported.len(), 1);
        assert_eq!(reported[0].object.name.as_deref(), Some("orders"));
        assert_eq!(reported[0].object.namespace.as_deref(), Some("shop"));
        assert!(reported[0].error.contains("oracle"), "{}", reported[0].error);
    }
}

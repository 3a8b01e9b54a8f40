//! Whether the Prometheus Operator's API (PodMonitor, PrometheusRule) is
//! served. Looked up at start and every 30 s; a change is logged once and,
//! when the API appears, every ServiceDatabase is reconciled to get its
//! objects. Absent, nothing is created and nothing is retried.

use crate::api::prometheus::GROUP_VERSION;
use kube::Client;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const LOOK_EVERY: Duration = Duration::from_secs(30);

#[derive(Clone, Default)]
pub struct PrometheusApi(Arc<AtomicBool>);

impl PrometheusApi {
    pub fn present(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

async fn served(client: &Client) -> bool {
    match client.list_api_group_resources(GROUP_VERSION).await {
        Ok(list) => ["podmonitors", "prometheusrules"].iter().all(|r| list.resources.iter().any(|x| x.name == *r)),
        Err(_) => false,
    }
}

/// Keeps `api` current until `stop`; counts up `appeared` each time the API
/// becomes available.
pub async fn follow(
    client: Client,
    api: PrometheusApi,
    appeared: tokio::sync::watch::Sender<u64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut known: Option<bool> = None;
    loop {
        let now = served(&client).await;
        if known != Some(now) {
            api.0.store(now, Ordering::Relaxed);
            if now {
                tracing::info!(
                    "the Prometheus Operator's API is served: creating a PodMonitor and a PrometheusRule per ServiceDatabase"
                );
                appeared.send_modify(|n| *n += 1);
            } else {
                tracing::info!(
                    "the Prometheus Operator's API ({GROUP_VERSION}) is not served: no PodMonitors or PrometheusRules; looking again every 30s"
                );
            }
            known = Some(now);
        }
        tokio::select! {
            _ = tokio::time::sleep(LOOK_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One item per change of a watch channel, for `reconcile_all_on`.
pub fn changes<T: Send + Sync + 'static>(
    rx: tokio::sync::watch::Receiver<T>,
) -> impl futures::Stream<Item = ()> + Send {
    futures::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    })
}

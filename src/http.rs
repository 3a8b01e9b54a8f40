//! Health and metrics endpoints: `/healthz` (the process serves), `/readyz`
//! (leader and caches synced; a standby replica is alive but not ready),
//! `/metrics`.

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// What `/readyz` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Readiness {
    Starting = 0,
    /// Another replica holds the leader lease.
    Standby = 1,
    /// Leader, caches synced: reconciling.
    Ready = 2,
    ShuttingDown = 3,
}

#[derive(Default)]
pub struct Health(AtomicU8);

impl Health {
    pub fn set(&self, readiness: Readiness) {
        self.0.store(readiness as u8, Ordering::SeqCst);
    }

    pub fn get(&self) -> Readiness {
        match self.0.load(Ordering::SeqCst) {
            1 => Readiness::Standby,
            2 => Readiness::Ready,
            3 => Readiness::ShuttingDown,
            _ => Readiness::Starting,
        }
    }
}

#[derive(Clone)]
struct Shared {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

async fn readyz(State(s): State<Shared>) -> (StatusCode, &'static str) {
    match s.health.get() {
        Readiness::Ready => (StatusCode::OK, "ready\n"),
        Readiness::Standby => (StatusCode::SERVICE_UNAVAILABLE, "standby: another replica is the leader\n"),
        Readiness::Starting => (StatusCode::SERVICE_UNAVAILABLE, "starting: caches not synced yet\n"),
        Readiness::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
    }
}

async fn metrics(State(s): State<Shared>) -> ([(&'static str, &'static str); 1], String) {
    ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.encode())
}

/// Binds `addr` (fails fast on a bad or busy address) and serves in the background.
pub async fn serve(addr: SocketAddr, health: Arc<Health>, metrics: Arc<Metrics>) -> Result<(), String> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(self::metrics))
        .with_state(Shared { health, metrics });
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "health server stopped");
        }
    });
    Ok(())
}

//! Health and metrics endpoints: `/healthz` (the process serves), `/readyz`
//! (200 for the leader with synced caches and for a standby replica, which is
//! ready to take over: a rolling update of several replicas must be able to
//! complete; the body says which), `/metrics`.

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

/// The answer of `/readyz` in each state.
fn readiness_answer(readiness: Readiness) -> (StatusCode, &'static str) {
    match readiness {
        Readiness::Ready => (StatusCode::OK, "leader: reconciling\n"),
        Readiness::Standby => (StatusCode::OK, "standby: another replica is the leader\n"),
        Readiness::Starting => (StatusCode::SERVICE_UNAVAILABLE, "starting: caches not synced yet\n"),
        Readiness::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
    }
}

async fn readyz(State(s): State<Shared>) -> (StatusCode, &'static str) {
    readiness_answer(s.health.get())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_and_standby_are_ready_and_say_which() {
        assert_eq!(readiness_answer(Readiness::Ready), (StatusCode::OK, "leader: reconciling\n"));
        let (code, body) = readiness_answer(Readiness::Standby);
        assert_eq!(code, StatusCode::OK);
        assert!(body.starts_with("standby"));
        for state in [Readiness::Starting, Readiness::ShuttingDown] {
            assert_eq!(readiness_answer(state).0, StatusCode::SERVICE_UNAVAILABLE);
        }
    }
}

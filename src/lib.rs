//! servicedb: a Kubernetes operator for the database-per-service pattern.

pub mod api;
pub mod backup;
pub mod builders;
pub mod controller;
pub mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod isolation;
pub mod leader;
pub mod memory;
pub mod metrics;
pub mod plugin;
pub mod small_set;
pub mod telemetry;
pub mod tls;
pub mod units;

/// kube's client uses ring and the S3 client aws-lc-rs; rustls then needs
/// one process-wide choice before the first TLS connection.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

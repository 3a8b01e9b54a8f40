//! servicedb: a Kubernetes operator for the database-per-service pattern.

pub mod api;
pub mod backup;
pub mod build;
pub mod controller;
pub mod engine;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod telemetry;

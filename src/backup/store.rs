//! Destinations behind one object-store interface: a directory (a mounted
//! volume) or an S3-compatible bucket. Both give atomic objects: a
//! directory writes to a temporary file and renames it, S3 completes a
//! multipart upload; an aborted upload leaves nothing under its key.

use super::BackupError;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub enum Destination {
    Directory(std::path::PathBuf),
    /// Credentials come from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    S3 {
        endpoint: Option<String>,
        bucket: String,
        prefix: String,
        region: String,
        tls: bool,
    },
}

/// An opened destination: the store and the folder of this instance's backups.
#[derive(Clone, Debug)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    pub base: Path,
    /// For messages: `s3://bucket/prefix` or the directory.
    pub display: String,
}

impl Location {
    /// An error of this destination, with what the store said.
    pub fn error(&self, e: impl std::fmt::Display) -> BackupError {
        BackupError::Destination { destination: self.display.clone(), message: e.to_string() }
    }

    /// A URL-like name of an object of backup `id`, for manifests and messages.
    pub fn describe(&self, id: &str, file: &str) -> String {
        format!("{}/{id}/{file}", self.display.trim_end_matches('/'))
    }
}

impl Destination {
    pub fn open(&self) -> Result<Location, BackupError> {
        match self {
            Destination::Directory(dir) => {
                let display = dir.display().to_string();
                let fail = |message: String| BackupError::Destination { destination: display.clone(), message };
                std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
                let store = LocalFileSystem::new_with_prefix(dir).map_err(|e| fail(e.to_string()))?;
                Ok(Location { store: Arc::new(store), base: Path::default(), display })
            }
            Destination::S3 { endpoint, bucket, prefix, region, tls } => {
                let display = format!("s3://{bucket}/{}", prefix.trim_matches('/'));
                let fail = |message: String| BackupError::Destination { destination: display.clone(), message };
                // Fail within a minute when the endpoint is down, not after
                // the library's default three minutes of retries.
                let retry =
                    RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(30), ..RetryConfig::default() };
                let options = ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(300));
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_retry(retry)
                    .with_client_options(options)
                    .with_allow_http(!tls);
                if let Some(endpoint) = endpoint {
                    if *tls && endpoint.starts_with("http://") {
                        return Err(fail(
                            "the endpoint is http:// but TLS is required; use https:// or turn TLS off".into(),
                        ));
                    }
                    builder = builder.with_endpoint(endpoint);
                }
                let store = builder.build().map_err(|e| fail(e.to_string()))?;
                Ok(Location { store: Arc::new(store), base: Path::from(prefix.as_str()), display })
            }
        }
    }
}

//! Destinations behind one object-store interface: a directory (a mounted
//! volume) or an S3-compatible bucket. Both give atomic objects: a
//! directory writes to a temporary file and renames it, S3 completes a
//! multipart upload; an aborted upload leaves nothing under its key.

use super::BackupError;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{Certificate, ClientOptions, ObjectStore, RetryConfig};
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
        /// A PEM bundle of CAs trusted beside the system's, for an endpoint
        /// whose certificate a private CA signed.
        ca_file: Option<std::path::PathBuf>,
    },
}

/// An error as a message. For errors, the whole chain of causes: a TLS
/// failure is three causes deep, below "error sending request".
pub trait Described {
    fn described(&self) -> String;
}

impl Described for object_store::Error {
    fn described(&self) -> String {
        store_error_message(self)
    }
}

impl Described for std::io::Error {
    fn described(&self) -> String {
        store_error_message(self)
    }
}

impl Described for String {
    fn described(&self) -> String {
        self.clone()
    }
}

impl Described for &str {
    fn described(&self) -> String {
        self.to_string()
    }
}

/// What tells a user how to trust a private CA, wherever they configure it.
const CA_HINT: &str = "the S3 server's certificate is not trusted (it is signed by an unknown CA); \
    give the CA bundle that signed it with --s3-ca-file (env SERVICEDB_S3_CA_FILE), or in a ServiceDatabase \
    with spec.backup.destination.s3.caBundle";

/// An error of the store in words: the whole chain of causes (the TLS
/// reason is deep inside), and what to do when the certificate is untrusted.
pub fn store_error_message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message = format!("{message}: {cause_text}");
        }
        source = cause.source();
    }
    if untrusted_certificate(&message) { format!("{CA_HINT} ({message})") } else { message }
}

/// Whether a TLS failure says the peer's certificate chain is not trusted.
fn untrusted_certificate(message: &str) -> bool {
    ["UnknownIssuer", "unknown issuer", "self-signed", "self signed", "certificate is not trusted"]
        .iter()
        .any(|needle| message.contains(needle))
}

/// The certificates of a PEM bundle, or what is wrong with the file.
fn ca_certificates(path: &std::path::Path) -> Result<Vec<Certificate>, String> {
    let named =
        |why: String| format!("the S3 CA bundle {} (--s3-ca-file / SERVICEDB_S3_CA_FILE) {why}", path.display());
    let pem = std::fs::read(path).map_err(|e| named(format!("cannot be read: {e}")))?;
    let certificates =
        Certificate::from_pem_bundle(&pem).map_err(|e| named(format!("is not a PEM certificate bundle: {e}")))?;
    if certificates.is_empty() {
        return Err(named("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()));
    }
    Ok(certificates)
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
    /// An error of this destination, with what the store said (and why,
    /// from the error's causes).
    pub fn error(&self, e: impl Described) -> BackupError {
        BackupError::Destination { destination: self.display.clone(), message: e.described() }
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
            Destination::S3 { endpoint, bucket, prefix, region, tls, ca_file } => {
                let display = format!("s3://{bucket}/{}", prefix.trim_matches('/'));
                let fail = |message: String| BackupError::Destination { destination: display.clone(), message };
                // Fail within a minute when the endpoint is down, not after
                // the library's default three minutes of retries.
                let retry =
                    RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(30), ..RetryConfig::default() };
                let mut options = ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(300));
                if let Some(path) = ca_file {
                    for certificate in ca_certificates(path).map_err(fail)? {
                        options = options.with_root_certificate(certificate);
                    }
                }
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
                let store = builder.build().map_err(|e| fail(store_error_message(&e)))?;
                Ok(Location { store: Arc::new(store), base: Path::from(prefix.as_str()), display })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Layer(&'static str, #[source] Option<Box<Layer>>);

    #[test]
    fn an_untrusted_certificate_says_which_flag_and_field_fix_it() {
        let tls = Layer("invalid peer certificate: UnknownIssuer", None);
        let request = Layer("error sending request", Some(Box::new(tls)));
        let message = store_error_message(&request);
        assert!(message.starts_with("the S3 server's certificate is not trusted"), "{message}");
        assert!(message.contains("--s3-ca-file") && message.contains("spec.backup.destination.s3.caBundle"));
        assert!(message.ends_with("(error sending request: invalid peer certificate: UnknownIssuer)"), "{message}");
        let refused = Layer("error sending request", Some(Box::new(Layer("connection refused", None))));
        assert_eq!(store_error_message(&refused), "error sending request: connection refused");
    }

    #[test]
    fn a_bad_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.crt");
        let message = ca_certificates(&missing).err().unwrap();
        assert!(message.contains(&missing.display().to_string()) && message.contains("cannot be read"), "{message}");
        let empty = dir.path().join("empty.crt");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let message = ca_certificates(&empty).err().unwrap();
        assert!(message.contains(&empty.display().to_string()), "{message}");
        assert!(message.contains("holds no PEM certificate") || message.contains("not a PEM"), "{message}");
    }
}

//! A real S3-compatible server on loopback: versitygw (built from the Go
//! module proxy by `e2e/tools.sh versitygw`) over a private directory.

use super::{Guard, free_port, wait_for_port};
use std::path::PathBuf;
use std::process::Command;

pub const ACCESS_KEY: &str = "servicedb-test";
pub const SECRET_KEY: &str = "servicedb-test-secret";

pub struct S3 {
    pub port: u16,
    /// The bucket's directory on disk, to inspect or damage objects.
    pub bucket_dir: PathBuf,
    pub bucket: String,
    root: tempfile::TempDir,
    process: Option<Guard>,
}

fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("SERVICEDB_VERSITYGW") {
        return path.into();
    }
    let cache = std::env::var("SERVICEDB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/servicedb-e2e"));
    let path = cache.join("bin/versitygw");
    assert!(path.exists(), "{} is missing: run `e2e/tools.sh versitygw` (make engines does)", path.display());
    path
}

impl S3 {
    pub fn start(bucket: &str) -> S3 {
        let root = tempfile::Builder::new().prefix("servicedb-s3-").tempdir().unwrap();
        let bucket_dir = root.path().join(bucket);
        std::fs::create_dir(&bucket_dir).unwrap();
        let mut s3 = S3 { port: free_port(), bucket_dir, bucket: bucket.into(), root, process: None };
        s3.resume();
        s3
    }

    /// Stops the server; the objects stay on disk.
    pub fn stop(&mut self) {
        self.process = None;
    }

    pub fn resume(&mut self) {
        let child = Command::new(binary())
            .args(["--access", ACCESS_KEY, "--secret", SECRET_KEY, "--port", &format!("127.0.0.1:{}", self.port)])
            .arg("posix")
            .arg(self.root.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("versitygw starts");
        self.process = Some(Guard(child));
        wait_for_port(self.port);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The objects in the bucket, as paths relative to it, sorted.
    pub fn objects(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else if !entry.file_name().to_string_lossy().starts_with('.') {
                    out.push(path.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.bucket_dir, &self.bucket_dir, &mut out);
        out.sort();
        out
    }
}

//! A real S3-compatible server on loopback: versitygw (built from the Go
//! module proxy by `e2e/tools.sh versitygw`) over a private directory.

use super::{Guard, free_port, wait_for_port};
use std::path::PathBuf;
use std::process::Command;

pub const ACCESS_KEY: &str = "servicedb-test";
pub const SECRET_KEY: &str = "servicedb-test-secret";

pub struct S3 {
    pub port: u16,
    /// With TLS: the PEM of the CA that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// The bucket's directory on disk, to inspect or damage objects.
    pub bucket_dir: PathBuf,
    pub bucket: String,
    root: tempfile::TempDir,
    /// The CA's and the server's keys and certificates.
    certs: Option<tempfile::TempDir>,
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
        let port = free_port();
        let mut s3 = S3 { port, ca_file: None, bucket_dir, bucket: bucket.into(), root, certs: None, process: None };
        s3.resume();
        s3
    }

    /// Over https, with a server certificate for 127.0.0.1 and localhost
    /// signed by a CA made for this test (its PEM in `ca_file`).
    pub fn start_tls(bucket: &str) -> S3 {
        let tls = tempfile::Builder::new().prefix("servicedb-s3-tls-").tempdir().unwrap();
        let certs = tls.path();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl").current_dir(certs).args(args).output().expect("openssl runs");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        openssl(
            &[
                &["req", "-x509"],
                &ec[..],
                &["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=servicedb test CA"],
            ]
            .concat(),
        );
        openssl(
            &[&["req", "-new"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]]
                .concat(),
        );
        std::fs::write(
            certs.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        let root = tempfile::Builder::new().prefix("servicedb-s3-").tempdir().unwrap();
        let bucket_dir = root.path().join(bucket);
        std::fs::create_dir(&bucket_dir).unwrap();
        let ca_file = Some(certs.join("ca.crt"));
        let port = free_port();
        let mut s3 = S3 { port, ca_file, bucket_dir, bucket: bucket.into(), root, certs: Some(tls), process: None };
        s3.resume();
        s3
    }

    /// Stops the server; the objects stay on disk.
    pub fn stop(&mut self) {
        self.process = None;
    }

    pub fn resume(&mut self) {
        let mut command = Command::new(binary());
        command.args(["--access", ACCESS_KEY, "--secret", SECRET_KEY, "--port", &format!("127.0.0.1:{}", self.port)]);
        if let Some(dir) = self.certs.as_ref().map(|c| c.path()) {
            command.arg("--cert").arg(dir.join("server.crt")).arg("--key").arg(dir.join("server.key"));
        }
        let child = command
            .arg("posix")
            .arg(self.root.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("versitygw starts");
        self.process = Some(Guard(child));
        wait_for_port(self.port);
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.ca_file.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The objects in the bucket, as paths relative to it, sorted.
    pub fn objects(&self) -> Vec<String> {
        super::files_under(&self.bucket_dir)
    }
}

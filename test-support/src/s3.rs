//! A real S3-compatible server on loopback: versitygw (built from the Go
//! module proxy by `e2e/tools.sh versitygw`) over a private directory, over
//! http or https with a CA made for the test.

use crate::net::{accepts, wait_until};
use crate::process::{Process, SIGKILL};
use crate::{Error, Result, failed, free_port, run};
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub const ACCESS_KEY: &str = "servicedb-test";
pub const SECRET_KEY: &str = "servicedb-test-secret";

pub struct S3 {
    pub port: u16,
    /// With TLS: the PEM of the CA that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// The bucket's directory on disk, to inspect or damage objects.
    pub bucket_dir: PathBuf,
    pub bucket: String,
    // Declared first: the server stops before its files go.
    process: Option<Process>,
    root: tempfile::TempDir,
    /// The CA's and the server's keys and certificates.
    certs: Option<tempfile::TempDir>,
}

fn binary() -> Result<PathBuf> {
    if let Ok(path) = std::env::var("SERVICEDB_VERSITYGW") {
        return Ok(path.into());
    }
    let cache = std::env::var("SERVICEDB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/servicedb-e2e"));
    let path = cache.join("bin/versitygw");
    if path.exists() {
        Ok(path)
    } else {
        Err(Error(format!("{} is missing: run `e2e/tools.sh versitygw` (make engines does)", path.display())))
    }
}

/// A CA and a server certificate for 127.0.0.1 and localhost, signed by it.
fn certificates() -> Result<tempfile::TempDir> {
    let tls = crate::temp_dir("servicedb-s3-tls-")?;
    let certs = tls.path();
    let openssl = |args: &[&str]| run(Command::new("openssl").current_dir(certs).args(args), "openssl").map(drop);
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=servicedb test CA"],
        ]
        .concat(),
    )?;
    openssl(
        &[&["req", "-new"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]]
            .concat(),
    )?;
    std::fs::write(
        certs.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| failed("server.ext", e))?;
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
    ])?;
    Ok(tls)
}

impl S3 {
    /// Over http, with one empty bucket.
    pub fn start(bucket: &str) -> Result<S3> {
        S3::with(bucket, None)
    }

    /// Over https, with a server certificate for 127.0.0.1 and localhost
    /// signed by a CA made for this test (its PEM in `ca_file`).
    pub fn start_tls(bucket: &str) -> Result<S3> {
        S3::with(bucket, Some(certificates()?))
    }

    fn with(bucket: &str, certs: Option<tempfile::TempDir>) -> Result<S3> {
        let root = crate::temp_dir("servicedb-s3-")?;
        let bucket_dir = root.path().join(bucket);
        std::fs::create_dir(&bucket_dir).map_err(|e| failed("the bucket's directory", e))?;
        let ca_file = certs.as_ref().map(|c| c.path().join("ca.crt"));
        let port = free_port()?;
        let mut s3 = S3 { port, ca_file, bucket_dir, bucket: bucket.into(), process: None, root, certs };
        s3.resume()?;
        Ok(s3)
    }

    /// Stops the server; the objects stay on disk.
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// Starts it again on the same port and directory.
    pub fn resume(&mut self) -> Result<()> {
        let mut command = Command::new(binary()?);
        command.args(["--access", ACCESS_KEY, "--secret", SECRET_KEY, "--port", &format!("127.0.0.1:{}", self.port)]);
        if let Some(dir) = self.certs.as_ref().map(|c| c.path()) {
            command.arg("--cert").arg(dir.join("server.crt")).arg("--key").arg(dir.join("server.key"));
        }
        command.arg("posix").arg(self.root.path()).stdin(Stdio::null()).stdout(Stdio::null());
        let mut process = Process::spawn("versitygw", &mut command, SIGKILL)?;
        let port = self.port;
        wait_until(&mut process, String::new, || accepts(port))?;
        self.process = Some(process);
        Ok(())
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.ca_file.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The objects in the bucket, as paths relative to it, sorted.
    pub fn objects(&self) -> Vec<String> {
        crate::files_under(&self.bucket_dir)
    }
}

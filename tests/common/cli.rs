//! Driving the `servicedb` binary's backup and restore commands, and
//! damaging a backup so that its load fails part-way.

use servicedb_test_support::s3::{ACCESS_KEY, S3, SECRET_KEY};
use std::path::Path;
use std::process::{Command, Output};

/// Runs `servicedb <args>` with the admin password in the environment.
pub fn servicedb(args: &[String], password: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_servicedb"))
        .args(args)
        .env("SERVICEDB_DB_PASSWORD", password)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("SERVICEDB_LOG_LEVEL", "info")
        .output()
        .expect("the servicedb binary runs")
}

/// The JSON the command printed on stdout.
pub fn succeeded(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is the manifest")
}

/// stderr of a command that must have failed, having printed nothing on stdout.
pub fn failed(out: &Output) -> String {
    assert!(!out.status.success(), "should have failed: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).to_string()
}

pub fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

pub fn s3_args(s3: &S3, prefix: &str) -> Vec<String> {
    args(&["--s3-bucket", &s3.bucket, "--s3-prefix", prefix, "--s3-endpoint", &s3.endpoint(), "--s3-tls=false"])
}

pub fn dir_args(dir: &Path) -> Vec<String> {
    args(&["--dir", &dir.display().to_string()])
}

pub fn connect_args(engine: &str, port: u16, database: &str, username: &str) -> Vec<String> {
    args(&["--engine", engine, "--host", "127.0.0.1", "--port", &port.to_string(), "--database", database])
        .into_iter()
        .chain(args(&["--username", username]))
        .collect()
}

fn run(command: &mut Command) -> Vec<u8> {
    let out = command.output().expect("runs");
    assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A new backup beside backup `id` in directory `dir` whose dump is
/// `change` of the original's: valid and verified (its sha256 matches),
/// for a load that fails or stalls part-way. Its id is `id` + `suffix`
/// (same time prefix, so it is a valid id).
pub fn changed_copy(dir: &Path, id: &str, suffix: &str, change: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let original = dir.join(id);
    let dump = run(Command::new("zstd").args(["-d", "-c"]).arg(original.join("data.zst")));
    let changed = change(&dump);
    let new_id = format!("{id}{suffix}");
    let target = dir.join(&new_id);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("dump"), &changed).unwrap();
    run(Command::new("zstd").args(["-q", "-f", "--rm", "-o"]).arg(target.join("data.zst")).arg(target.join("dump")));
    let sum = run(Command::new("sha256sum").arg(target.join("data.zst")));
    let sha256 = String::from_utf8_lossy(&sum).split_whitespace().next().unwrap().to_string();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(original.join("manifest.json")).unwrap()).unwrap();
    manifest["id"] = new_id.clone().into();
    manifest["sha256"] = sha256.into();
    manifest["dumpBytes"] = changed.len().into();
    manifest["storedBytes"] = std::fs::metadata(target.join("data.zst")).unwrap().len().into();
    std::fs::write(target.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    new_id
}

/// A copy of backup `id` whose dump is only its first `fraction`.
pub fn truncated_copy(dir: &Path, id: &str, fraction: f64) -> String {
    changed_copy(dir, id, "0", |dump| dump[..(dump.len() as f64 * fraction) as usize].to_vec())
}

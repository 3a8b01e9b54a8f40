//! Redis ACL users through the redis crate. Passwords go in as SHA-256
//! hashes (`#<hex>`); every rule is reset and set again, so drift is undone.

use super::{AdminError, Contents, Found, Login, Target, Wanted};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn hashed(password: &str) -> String {
    let hex: String = Sha256::digest(password.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("#{hex}")
}

/// Commands a metrics exporter reads with; no key access at all.
pub const MONITOR_RULES: &[&str] =
    &["-@all", "+ping", "+info", "+config|get", "+client|list", "+slowlog|get", "+latency|latest"];
/// Backups: a replication stream of the whole dataset (`redis-cli --rdb`),
/// no command that reads or writes a key.
pub const BACKUP_RULES: &[&str] = &["-@all", "+ping", "+sync", "+psync", "+replconf"];
/// The service: every key and channel, no dangerous command.
pub const APP_RULES: &[&str] = &["~*", "&*", "+@all", "-@dangerous"];

async fn connect(target: &Target, admin: &Login) -> Result<redis::aio::MultiplexedConnection, AdminError> {
    use redis::IntoConnectionInfo;
    let connect_error = |e: redis::RedisError| AdminError::Connect {
        target: format!("{}:{}", target.host, target.port),
        message: e.to_string(),
    };
    let address = match &target.tls {
        None => redis::ConnectionAddr::Tcp(target.host.clone(), target.port),
        Some(_) => redis::ConnectionAddr::TcpTls {
            host: target.host.clone(),
            port: target.port,
            insecure: false,
            tls_params: None,
        },
    };
    let info = address.into_connection_info().map_err(connect_error)?.set_redis_settings(
        redis::RedisConnectionInfo::default().set_username(&admin.username).set_password(&admin.password),
    );
    let client = match &target.tls {
        None => redis::Client::open(info),
        Some(tls) => {
            let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(tls.ca_pem.clone().into()) };
            redis::Client::build_with_tls(info, certificates)
        }
    }
    .map_err(connect_error)?;
    super::connect_within(target, client.get_multiplexed_async_connection()).await
}

/// Setting a certificate file, even to the same path, makes Redis read the
/// certificate, key and CA files again.
pub async fn reload_tls(target: &Target, admin: &Login) -> Result<(), AdminError> {
    let mut conn = connect(target, admin).await?;
    let cert_file: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("tls-cert-file")
        .query_async(&mut conn)
        .await
        .map_err(|e| AdminError::Statement { step: "CONFIG GET tls-cert-file", message: e.to_string() })?;
    let Some(path) = cert_file.get(1) else { return Ok(()) };
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-cert-file")
        .arg(path)
        .query_async::<()>(&mut conn)
        .await
        .map_err(|e| AdminError::Statement { step: "CONFIG SET tls-cert-file", message: e.to_string() })
}

pub async fn ensure(target: &Target, admin: &Login, wanted: &Wanted) -> Result<(), AdminError> {
    let mut conn = connect(target, admin).await?;
    let apps = wanted.app.iter().map(|a| (&a.login, a.enabled, APP_RULES));
    let operator = [(&wanted.monitor, true, MONITOR_RULES), (&wanted.backup, true, BACKUP_RULES)];
    for (login, enabled, rules) in apps.chain(operator) {
        let mut cmd = redis::cmd("ACL");
        let state = if enabled { "on" } else { "off" };
        cmd.arg("SETUSER").arg(&login.username).arg("reset").arg(state).arg(hashed(&login.password));
        for rule in rules {
            cmd.arg(*rule);
        }
        cmd.query_async::<()>(&mut conn)
            .await
            .map_err(|e| AdminError::Statement { step: "ACL SETUSER", message: e.to_string() })?;
    }
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("off")
        .query_async::<()>(&mut conn)
        .await
        .map_err(|e| AdminError::Statement { step: "ACL SETUSER default off", message: e.to_string() })?;
    Ok(())
}

/// The multi-part AOF's folder and manifest (Redis 7), under the data directory.
const AOF_DIR: &str = "appendonlydir";
const AOF_MANIFEST: &str = "appendonly.aof.manifest";

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> AdminError + '_ {
    move |e| AdminError::Io { path: path.display().to_string(), message: e.to_string() }
}

/// Every file Redis keeps its keyspace in under `dir` (RDB snapshot, single
/// AOF, the multi-part AOF's folder), relative to `dir`, with its size.
pub fn data_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>, AdminError> {
    let mut files = Vec::new();
    for name in ["dump.rdb", "appendonly.aof"] {
        match std::fs::metadata(dir.join(name)) {
            Ok(meta) if meta.is_file() => files.push((PathBuf::from(name), meta.len())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&dir.join(name))(e)),
        }
    }
    let aof = dir.join(AOF_DIR);
    match std::fs::read_dir(&aof) {
        Ok(entries) => {
            let mut found = Vec::new();
            for entry in entries {
                let entry = entry.map_err(io_error(&aof))?;
                let meta = entry.metadata().map_err(io_error(&entry.path()))?;
                let name = entry.file_name().to_string_lossy().to_string();
                if meta.is_file() && is_aof_part(&name) {
                    found.push((Path::new(AOF_DIR).join(name), meta.len()));
                }
            }
            found.sort();
            files.extend(found);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&aof)(e)),
    }
    Ok(files)
}

/// A file of the multi-part AOF: its manifest, a base or an increment; not
/// a rewrite's temporary file (`temp-*`) or a restore's (`*.partial`).
fn is_aof_part(name: &str) -> bool {
    name == AOF_MANIFEST || (name.starts_with("appendonly.aof.") && (name.ends_with(".rdb") || name.ends_with(".aof")))
}

/// The data directory holds a keyspace when one of its data files is not
/// empty (the AOF manifest alone describes, it holds no keys).
pub fn contents(dir: &Path) -> Result<Contents, AdminError> {
    let found = data_files(dir)?
        .into_iter()
        .filter(|(name, bytes)| *bytes > 0 && !name.ends_with(AOF_MANIFEST))
        .map(|(name, bytes)| Found::File { name: name.display().to_string(), bytes })
        .collect();
    Ok(Contents { place: format!("data directory {}", dir.display()), found, note: Some("an existing keyspace") })
}

/// The files whose concatenation is the keyspace a server started on `dir`
/// would load, in order: with a multi-part AOF its base and then its
/// increments (an RDB followed by commands is a valid AOF base, so the
/// concatenation loads as one file); else the single AOF; else the RDB.
pub fn keyspace_files(dir: &Path) -> Result<Vec<PathBuf>, AdminError> {
    let manifest = dir.join(AOF_DIR).join(AOF_MANIFEST);
    match std::fs::read_to_string(&manifest) {
        Ok(text) => {
            let parts = aof_parts(&text);
            Ok(parts.into_iter().map(|name| dir.join(AOF_DIR).join(name)).collect())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let single = ["appendonly.aof", "dump.rdb"].into_iter().map(|n| dir.join(n)).find(|p| p.is_file());
            Ok(single.into_iter().collect())
        }
        Err(e) => Err(io_error(&manifest)(e)),
    }
}

/// The base and then the increments by sequence, from an AOF manifest
/// (`file <name> seq <n> type <b|i|h>` per line); history files are left out.
fn aof_parts(manifest: &str) -> Vec<String> {
    let mut base = Vec::new();
    let mut increments = Vec::new();
    for line in manifest.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let field = |key: &str| words.iter().position(|w| *w == key).and_then(|i| words.get(i + 1)).copied();
        let (Some(file), Some(kind)) = (field("file"), field("type")) else { continue };
        let seq: u64 = field("seq").and_then(|s| s.parse().ok()).unwrap_or(0);
        match kind {
            "b" => base.push(file.to_string()),
            "i" => increments.push((seq, file.to_string())),
            _ => {}
        }
    }
    increments.sort();
    base.into_iter().chain(increments.into_iter().map(|(_, file)| file)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aof_parts_are_base_then_increments_by_sequence() {
        let manifest = "file appendonly.aof.3.base.rdb seq 3 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\n\
                        file appendonly.aof.12.incr.aof seq 12 type i\nfile appendonly.aof.4.incr.aof seq 4 type i\n";
        assert_eq!(
            aof_parts(manifest),
            ["appendonly.aof.3.base.rdb", "appendonly.aof.4.incr.aof", "appendonly.aof.12.incr.aof"]
        );
    }

    #[test]
    fn temporary_files_are_not_data() {
        for part in ["appendonly.aof.manifest", "appendonly.aof.1.base.rdb", "appendonly.aof.7.incr.aof"] {
            assert!(is_aof_part(part), "{part}");
        }
        for other in ["appendonly.aof.1.base.partial", "temp-rewriteaof-bg-42.aof", "temp-appendonly.aof.incr", "x"] {
            assert!(!is_aof_part(other), "{other}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(AOF_DIR)).unwrap();
        std::fs::write(dir.path().join(AOF_DIR).join("appendonly.aof.1.base.partial"), "half").unwrap();
        assert!(data_files(dir.path()).unwrap().is_empty(), "an interrupted restore is tried again");
    }

    #[test]
    fn an_empty_or_manifest_only_directory_holds_no_keyspace() {
        let dir = tempfile::tempdir().unwrap();
        assert!(contents(dir.path()).unwrap().is_empty());
        std::fs::create_dir(dir.path().join(AOF_DIR)).unwrap();
        std::fs::write(dir.path().join(AOF_DIR).join(AOF_MANIFEST), "file x seq 1 type b\n").unwrap();
        std::fs::write(dir.path().join(AOF_DIR).join("appendonly.aof.1.incr.aof"), "").unwrap();
        assert!(contents(dir.path()).unwrap().is_empty());
        std::fs::write(dir.path().join("dump.rdb"), vec![0u8; 2048]).unwrap();
        let held = contents(dir.path()).unwrap();
        assert_eq!(
            held.to_string(),
            format!("data directory {} holds dump.rdb of 2.0 KiB (an existing keyspace)", dir.path().display())
        );
    }
}

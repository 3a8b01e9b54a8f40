//! A server's TLS files as the kubelet mounts them from the operator's
//! admin Secret (`tls.crt`, `tls.key`, `ca.crt`), in a private directory a
//! server started here can read, and the operator's args pointed at it.

use crate::{Result, failed, is_root};
use std::path::Path;
use std::process::Command;

pub struct Files {
    dir: tempfile::TempDir,
    /// The uid the server runs as, which must own the key.
    owner: Option<u32>,
}

impl Files {
    /// The files, for a server that runs as `user` when the tests run as root.
    pub fn new(cert: &str, key: &str, ca: &str, user: Option<&str>) -> Result<Files> {
        let dir = crate::temp_dir("servicedb-tls-")?;
        let owner = match user.filter(|_| is_root()) {
            Some(user) => Some(uid_of(user)?),
            None => None,
        };
        if let Some(uid) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid)).map_err(|e| failed("the TLS directory", e))?;
        }
        let files = Files { dir, owner };
        files.replace(cert, key, ca)?;
        Ok(files)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Puts new files in place, each whole (rename), as the kubelet swaps
    /// its `..data` link on a Secret's change.
    pub fn replace(&self, cert: &str, key: &str, ca: &str) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for (name, text, mode) in [("tls.crt", cert, 0o644), ("tls.key", key, 0o600), ("ca.crt", ca, 0o644)] {
            let staged = self.path().join(format!(".{name}.new"));
            let write = || -> std::io::Result<()> {
                std::fs::write(&staged, text)?;
                std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))?;
                if let Some(uid) = self.owner {
                    std::os::unix::fs::chown(&staged, Some(uid), Some(uid))?;
                }
                std::fs::rename(&staged, self.path().join(name))
            };
            write().map_err(|e| failed(&format!("the TLS file {name}"), e))?;
        }
        Ok(())
    }

    /// Another file beside them (a server's hba file, an exporter's config).
    pub fn add(&self, name: &str, text: &str) -> Result<std::path::PathBuf> {
        let path = self.path().join(name);
        std::fs::write(&path, text).map_err(|e| failed(&format!("the file {name}"), e))?;
        Ok(path)
    }

    /// `args` with `mounted` (the container's TLS directory) replaced by this one.
    pub fn relocate(&self, args: &[String], mounted: &str) -> Vec<String> {
        args.iter().map(|a| a.replace(mounted, &self.path().display().to_string())).collect()
    }
}

fn uid_of(user: &str) -> Result<u32> {
    let out = Command::new("id").args(["-u", user]).output().map_err(|e| failed("id", e))?;
    String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|e| failed(&format!("the uid of {user}"), e))
}

/// PostgreSQL's `-c name=value` arguments as settings.
pub fn postgres_settings(args: &[String]) -> Vec<(String, String)> {
    args.iter()
        .filter(|a| *a != "-c")
        .filter_map(|a| a.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_replaced_whole_and_args_point_at_them() {
        let files = Files::new("C1", "K1", "A1", None).unwrap();
        files.replace("C2", "K2", "A1").unwrap();
        assert_eq!(std::fs::read_to_string(files.path().join("tls.crt")).unwrap(), "C2");
        assert_eq!(std::fs::read_to_string(files.path().join("tls.key")).unwrap(), "K2");
        let moved = files.relocate(&["--ssl-ca=/etc/servicedb/tls/ca.crt".to_string()], "/etc/servicedb/tls");
        assert_eq!(moved, [format!("--ssl-ca={}/ca.crt", files.path().display())]);
        let settings = postgres_settings(&["-c".into(), "ssl=on".into(), "-c".into(), "hba_file=/x".into()]);
        assert_eq!(settings, [("ssl".to_string(), "on".to_string()), ("hba_file".into(), "/x".into())]);
    }
}

//! Reads the API server's audit log: which requests the operator made.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

#[derive(Debug, Clone)]
pub struct Request {
    pub verb: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
    /// Which replica: the operator puts its instance name in its user agent.
    pub user_agent: String,
    pub user: String,
    /// When the API server received it.
    pub received: Option<Timestamp>,
}

/// A place in the audit log that survives the API server rotating it
/// (`--audit-log-maxsize`): the file, by inode, and the offset in it.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    inode: u64,
    offset: u64,
}

/// Where the audit log ends now.
pub fn mark(log: &Path) -> Mark {
    std::fs::metadata(log).map_or(Mark { inode: 0, offset: 0 }, |m| Mark { inode: m.ino(), offset: m.len() })
}

fn read_from(path: &Path, offset: u64) -> Result<String, String> {
    let fail = |e: std::io::Error| format!("audit log {}: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(fail)?;
    file.seek(SeekFrom::Start(offset)).map_err(fail)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(fail)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// What was logged after `mark`: the rest of the file the mark was taken in
/// (renamed `audit-<time>.log` if it was rotated since), every file rotated
/// after it, and the live log.
fn text_since(log: &Path, mark: Mark) -> Result<String, String> {
    let dir = log.parent().ok_or("the audit log has no folder")?;
    let mut rotated: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p != log && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("audit-")))
        .collect();
    rotated.sort(); // the names carry the rotation time
    let inode = |p: &Path| std::fs::metadata(p).map(|m| m.ino()).unwrap_or(0);
    let mut text = String::new();
    if let Some(first) = rotated.iter().position(|p| inode(p) == mark.inode) {
        text += &read_from(&rotated[first], mark.offset)?;
        for later in &rotated[first + 1..] {
            text += &read_from(later, 0)?;
        }
        text += &read_from(log, 0)?;
    } else {
        text += &read_from(log, mark.offset)?;
    }
    Ok(text)
}

/// Requests by `user` logged after `mark`.
pub fn requests_since(log: &Path, mark: Mark, user: &str) -> Result<Vec<Request>, String> {
    Ok(all_requests_since(log, mark)?.into_iter().filter(|r| r.user == user).collect())
}

/// Every request logged after `mark`, in log order.
pub fn all_requests_since(log: &Path, mark: Mark) -> Result<Vec<Request>, String> {
    let text = text_since(log, mark)?;
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else { continue };
        let field = |k: &str| event["objectRef"][k].as_str().unwrap_or_default().to_string();
        let sub = field("subresource");
        out.push(Request {
            verb: event["verb"].as_str().unwrap_or_default().to_string(),
            resource: if sub.is_empty() { field("resource") } else { format!("{}/{sub}", field("resource")) },
            namespace: field("namespace"),
            name: field("name"),
            user_agent: event["userAgent"].as_str().unwrap_or_default().to_string(),
            user: event["user"]["username"].as_str().unwrap_or_default().to_string(),
            received: event["requestReceivedTimestamp"].as_str().and_then(|t| t.parse().ok()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str) -> String {
        format!(
            "{{\"verb\":\"patch\",\"objectRef\":{{\"resource\":\"jobs\",\"name\":\"{name}\"}},\"user\":{{\"username\":\"u\"}}}}\n"
        )
    }

    #[test]
    fn a_rotation_after_the_mark_loses_nothing() {
        let dir = std::env::temp_dir().join(format!("servicedb-audit-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("audit.log");
        std::fs::write(&log, line("before")).unwrap();
        let mark = mark(&log);
        std::fs::write(&log, [line("before"), line("after-1")].concat()).unwrap();
        // What the API server does at --audit-log-maxsize: rename, start afresh.
        std::fs::rename(&log, dir.join("audit-2026-11-29T02-22-11.572.log")).unwrap();
        std::fs::write(&log, line("after-2")).unwrap();
        let names: Vec<String> = all_requests_since(&log, mark).unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["after-1", "after-2"]);
        // Without a rotation, the live log from the mark.
        let again = super::mark(&log);
        std::fs::write(&log, [line("after-2"), line("after-3")].concat()).unwrap();
        let names: Vec<String> = all_requests_since(&log, again).unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["after-3"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

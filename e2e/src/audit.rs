//! Reads the API server's audit log: which requests the operator made.

use serde_json::Value;
use std::path::Path;

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
}

/// Requests by `user` logged after byte `offset` of the audit log.
pub fn requests_since(log: &Path, offset: u64, user: &str) -> Result<Vec<Request>, String> {
    Ok(all_requests_since(log, offset)?.into_iter().filter(|r| r.user == user).collect())
}

/// Every request logged after byte `offset` of the audit log, in log order.
pub fn all_requests_since(log: &Path, offset: u64) -> Result<Vec<Request>, String> {
    let text = std::fs::read(log).map_err(|e| format!("audit log {}: {e}", log.display()))?;
    let tail = text.get(offset as usize..).unwrap_or_default();
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(tail).lines() {
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
        });
    }
    Ok(out)
}

pub fn size(log: &Path) -> u64 {
    std::fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

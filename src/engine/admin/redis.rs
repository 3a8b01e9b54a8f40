//! Redis ACL users through the redis crate. Passwords go in as SHA-256
//! hashes (`#<hex>`); every rule is reset and set again, so drift is undone.

use super::{AdminError, Login, Target, Wanted};
use sha2::{Digest, Sha256};

fn hashed(password: &str) -> String {
    let hex: String = Sha256::digest(password.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("#{hex}")
}

/// Commands a metrics exporter reads with; no key access at all.
pub const MONITOR_RULES: &[&str] =
    &["-@all", "+ping", "+info", "+config|get", "+client|list", "+slowlog|get", "+latency|latest"];
/// The service: every key and channel, no dangerous command.
pub const APP_RULES: &[&str] = &["~*", "&*", "+@all", "-@dangerous"];

pub async fn ensure(target: &Target, admin: &Login, wanted: &Wanted) -> Result<(), AdminError> {
    use redis::IntoConnectionInfo;
    let connect_error = |e: redis::RedisError| AdminError::Connect {
        target: format!("{}:{}", target.host, target.port),
        message: e.to_string(),
    };
    let info = redis::ConnectionAddr::Tcp(target.host.clone(), target.port)
        .into_connection_info()
        .map_err(connect_error)?
        .set_redis_settings(
            redis::RedisConnectionInfo::default().set_username(&admin.username).set_password(&admin.password),
        );
    let client = redis::Client::open(info).map_err(connect_error)?;
    let mut conn = client.get_multiplexed_async_connection().await.map_err(connect_error)?;
    let apps = wanted.app.iter().map(|a| (&a.login, a.enabled, APP_RULES));
    for (login, enabled, rules) in apps.chain([(&wanted.monitor, true, MONITOR_RULES)]) {
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

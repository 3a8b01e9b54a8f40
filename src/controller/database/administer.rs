//! The administer step: once the instance is ready, ensure the service's
//! login and database and the monitoring login inside it.

use super::outcome::Credentials;
use super::rotation;
use crate::builders::{Instance, Passwords};
use crate::controller::context::Context;
use crate::engine::admin::{AppLogin, Login, Target, TargetTls, Wanted};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Login of the metrics exporters, in every engine.
pub use crate::engine::{BACKUP_USERNAME, MONITOR_USERNAME};
const TIMEOUT: Duration = Duration::from_secs(30);

/// `<namespace>/<instance Service>` -> `host:port`, for an operator that runs
/// outside the cluster (and for tests): read on every use, so it may change.
pub fn endpoint_override(file: &Path, namespace: &str, service: &str) -> Result<Option<Target>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("endpoint overrides {}: {e}", file.display()))?;
    override_in(&text, namespace, service).map_err(|e| format!("endpoint overrides {}: {e}", file.display()))
}

/// The override of `<namespace>/<service>` in the text of an overrides file.
pub fn override_in(text: &str, namespace: &str, service: &str) -> Result<Option<Target>, String> {
    let map: BTreeMap<String, String> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Some(address) = map.get(&format!("{namespace}/{service}")) else { return Ok(None) };
    let (host, port) =
        address.rsplit_once(':').ok_or_else(|| format!("endpoint override {address:?} is not host:port"))?;
    let port = port.parse().map_err(|_| format!("endpoint override {address:?} has no valid port"))?;
    Ok(Some(Target::plain(host, port)))
}

/// Where the database is, and with TLS what its certificate must be:
/// signed by the CA that signed the kept one, for the Service's name.
fn target(ctx: &Context, instance: &Instance<'_>, passwords: &Passwords) -> Result<Target, String> {
    let service = instance.instance_name();
    let tls =
        passwords.tls.as_ref().map(|keys| TargetTls { ca_pem: keys.ca_pem.clone(), server_name: instance.host() });
    if let Some(file) = &ctx.settings.endpoint_overrides
        && let Some(target) = endpoint_override(file, instance.namespace, &service)?
    {
        return Ok(Target { tls, ..target });
    }
    Ok(Target { host: instance.host(), port: instance.engine.port().0, tls })
}

/// Ensures the database side; `now` decides which rotation logins may log in.
pub async fn administer(ctx: &Context, instance: &Instance<'_>, passwords: &Passwords, now: Timestamp) -> Credentials {
    let target = match target(ctx, instance, passwords) {
        Ok(target) => target,
        Err(message) => return Credentials::Failed(message),
    };
    let engine = instance.engine;
    let ident = instance.app_identifier();
    let admin = Login { username: engine.admin_username().to_string(), password: passwords.admin.clone() };
    let app = rotation::logins(passwords, now)
        .into_iter()
        .filter_map(|(slot, enabled)| {
            let password = passwords.password(slot)?.to_string();
            Some(AppLogin { login: Login { username: instance.login_name(slot), password }, enabled })
        })
        .collect();
    let wanted = Wanted {
        database: engine.app_database(&ident),
        app,
        monitor: Login { username: MONITOR_USERNAME.to_string(), password: passwords.monitor.clone() },
        backup: Login { username: BACKUP_USERNAME.to_string(), password: passwords.backup.clone() },
    };
    let ensured = async {
        engine.ensure(&target, &admin, &wanted).await?;
        match &passwords.tls {
            Some(keys) if super::tls::reload_due(keys, now.into()) => engine.reload_tls(&target, &admin).await,
            _ => Ok(()),
        }
    };
    match tokio::time::timeout(TIMEOUT, ensured).await {
        Ok(Ok(())) => Credentials::Ready,
        Ok(Err(e)) => {
            ctx.metrics.administration_failed(e.metric_label());
            Credentials::Failed(e.to_string())
        }
        Err(_) => Credentials::Failed(format!(
            "the database at {}:{} did not answer within {TIMEOUT:?}",
            target.host, target.port
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_map_a_service_to_an_address() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("endpoints.json");
        std::fs::write(&file, r#"{"shop/orders-db": "127.0.0.1:15432"}"#).unwrap();
        let t = endpoint_override(&file, "shop", "orders-db").unwrap().unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 15432));
        assert_eq!(endpoint_override(&file, "shop", "billing-db").unwrap(), None);
        std::fs::write(&file, r#"{"shop/orders-db": "nowhere"}"#).unwrap();
        assert!(endpoint_override(&file, "shop", "orders-db").unwrap_err().contains("host:port"));
    }
}

//! The two Secrets of an instance, with the same keys for every engine:
//! `<name>-db-admin` (superuser, for the operator only) and
//! `<name>-db-credentials` (the owning service's login).

use super::Instance;
use crate::engine::Connection;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

/// Keys every credentials Secret has, whatever the engine.
pub const UNIFORM_KEYS: [&str; 6] = ["username", "password", "host", "port", "database", "uri"];
pub const PASSWORD_KEY: &str = "password";
/// Admin Secret key of a copy of the app password: a deleted credentials
/// Secret is restored with the same password instead of a new one.
pub const APP_PASSWORD_KEY: &str = "app-password";
pub const MONITOR_PASSWORD_KEY: &str = "monitor-password";

/// The generated passwords of an instance; generated once, then read back.
#[derive(Clone, PartialEq)]
pub struct Passwords {
    pub admin: String,
    pub app: String,
    /// The monitoring login's (kept in the admin Secret).
    pub monitor: String,
    /// Engine-specific keys derived once from `app` (kept in the admin Secret).
    pub derived: BTreeMap<String, String>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passwords(<redacted>)")
    }
}

fn secret(instance: &Instance<'_>, name: String, data: BTreeMap<String, String>) -> Secret {
    Secret {
        metadata: instance.child_meta(name),
        type_: Some("Opaque".to_string()),
        data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v.into_bytes()))).collect()),
        immutable: None,
        ..Secret::default()
    }
}

fn connection_keys(
    instance: &Instance<'_>,
    username: &str,
    password: &str,
    database: &str,
) -> BTreeMap<String, String> {
    let host = instance.host();
    let (port, _) = instance.engine.port();
    let connection = Connection { host: &host, port, username, password, database };
    let mut data: BTreeMap<String, String> =
        instance.engine.connection_uris(&connection).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    data.extend([
        ("username".to_string(), username.to_string()),
        (PASSWORD_KEY.to_string(), password.to_string()),
        ("host".to_string(), host.clone()),
        ("port".to_string(), port.to_string()),
        ("database".to_string(), database.to_string()),
    ]);
    data
}

/// `<name>-db-credentials`: what the owning service connects with.
pub fn credentials_secret(instance: &Instance<'_>, passwords: &Passwords) -> Secret {
    let ident = instance.app_identifier();
    let data = connection_keys(instance, &ident, &passwords.app, &instance.engine.app_database(&ident));
    secret(instance, instance.credentials_secret_name(), data)
}

/// `<name>-db-admin`: the superuser, for the operator and the database container only.
pub fn admin_secret(instance: &Instance<'_>, passwords: &Passwords) -> Secret {
    let mut data =
        connection_keys(instance, instance.engine.admin_username(), &passwords.admin, &instance.app_identifier());
    data.insert(APP_PASSWORD_KEY.to_string(), passwords.app.clone());
    data.insert(MONITOR_PASSWORD_KEY.to_string(), passwords.monitor.clone());
    data.extend(passwords.derived.clone());
    secret(instance, instance.admin_secret_name(), data)
}

/// The value of `key` in a live Secret, if present and UTF-8.
pub fn read_key(secret: &Secret, key: &str) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(key)?;
    String::from_utf8(bytes.0.clone()).ok().filter(|v| !v.is_empty())
}

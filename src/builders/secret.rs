//! The Secrets of an instance, with the same keys for every engine:
//! `<name>-db-admin` (superuser, for the operator only),
//! `<name>-db-credentials` (the owning service's login) and, with backups,
//! `<name>-db-backup-login` (the read-only login of backup pods).

use super::Instance;
use crate::engine::{BACKUP_USERNAME, CA_KEY, ClientTls, Connection, TLS_CERT_KEY, TLS_KEY_KEY};
use crate::tls::ServerKeys;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

/// Keys every credentials Secret has, whatever the engine.
pub const UNIFORM_KEYS: [&str; 6] = ["username", "password", "host", "port", "database", "uri"];
pub const PASSWORD_KEY: &str = "password";
/// Admin Secret key of a copy of the app password: a deleted credentials
/// Secret is restored with the same password instead of a new one.
pub const APP_PASSWORD_KEY: &str = "app-password";
pub use crate::engine::{BACKUP_PASSWORD_KEY, MONITOR_PASSWORD_KEY};
pub const APP_PASSWORD_B_KEY: &str = "app-password-b";
pub const ACTIVE_LOGIN_KEY: &str = "active-login";
pub const PENDING_LOGIN_KEY: &str = "pending-login";
pub const ROTATED_AT_KEY: &str = "rotated-at";
pub const RETIRE_AFTER_KEY: &str = "retire-after";
pub const ROTATION_TOKEN_KEY: &str = "rotation-token";
/// Admin Secret key of the Unix time after which the server certificate is renewed.
pub const TLS_RENEW_AFTER_KEY: &str = "tls-renew-after";

/// The service's two logins for rotation: A (`<ident>`, owns the data) and
/// B (`<ident>_b`, acts as A).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Slot::A => "a",
            Slot::B => "b",
        }
    }

    pub fn parse(text: &str) -> Option<Slot> {
        match text {
            "a" => Some(Slot::A),
            "b" => Some(Slot::B),
            _ => None,
        }
    }
}

/// Where rotation stands; kept in the admin Secret next to the passwords.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rotation {
    /// The login the credentials Secret names (A until the first rotation).
    pub active: Option<Slot>,
    /// A login whose new password is set in the database, not yet handed out.
    pub pending: Option<Slot>,
    /// RFC 3339 time of the last switch.
    pub rotated_at: Option<String>,
    /// RFC 3339 time after which the previous login is disabled.
    pub retire_after: Option<String>,
    /// The last on-demand request handled (the `servicedb.dev/rotate` annotation).
    pub token: Option<String>,
}

impl Rotation {
    pub fn active(&self) -> Slot {
        self.active.unwrap_or(Slot::A)
    }
}

/// The generated passwords of an instance; generated once, then read back.
#[derive(Clone, PartialEq)]
pub struct Passwords {
    pub admin: String,
    /// Login A's password (`app-password`).
    pub app: String,
    /// Login B's, once a rotation made it (`app-password-b`).
    pub app_b: Option<String>,
    /// The monitoring login's (kept in the admin Secret).
    pub monitor: String,
    /// The backup login's (kept in the admin Secret, handed to backup pods
    /// in the backup login Secret).
    pub backup: String,
    pub rotation: Rotation,
    /// Engine-specific keys derived once from `app` (kept in the admin Secret).
    pub derived: BTreeMap<String, String>,
    /// The server's certificate and key when the instance serves TLS.
    pub tls: Option<ServerKeys>,
}

impl Passwords {
    pub fn password(&self, slot: Slot) -> Option<&str> {
        match slot {
            Slot::A => Some(&self.app),
            Slot::B => self.app_b.as_deref(),
        }
    }

    /// The password the credentials Secret hands out.
    pub fn active_password(&self) -> &str {
        self.password(self.rotation.active()).unwrap_or(&self.app)
    }
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

/// The uniform keys, and with TLS `ca.crt` and URIs that verify the server.
fn connection_keys(
    instance: &Instance<'_>,
    username: &str,
    password: &str,
    database: &str,
    tls: Option<&ServerKeys>,
) -> BTreeMap<String, String> {
    let host = instance.host();
    let (port, _) = instance.engine.port();
    let client_tls = if tls.is_some() { ClientTls::Verify(None) } else { ClientTls::Off };
    let connection = Connection { host: &host, port, username, password, database, tls: client_tls };
    let mut data: BTreeMap<String, String> =
        instance.engine.connection_uris(&connection).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    data.extend([
        ("username".to_string(), username.to_string()),
        (PASSWORD_KEY.to_string(), password.to_string()),
        ("host".to_string(), host.clone()),
        ("port".to_string(), port.to_string()),
        ("database".to_string(), database.to_string()),
    ]);
    if let Some(keys) = tls {
        data.insert(CA_KEY.to_string(), keys.ca_pem.clone());
    }
    data
}

/// `<name>-db-credentials`: what the owning service connects with.
pub fn credentials_secret(instance: &Instance<'_>, passwords: &Passwords) -> Secret {
    let login = instance.login_name(passwords.rotation.active());
    let database = instance.engine.app_database(&instance.app_identifier());
    let data = connection_keys(instance, &login, passwords.active_password(), &database, passwords.tls.as_ref());
    secret(instance, instance.credentials_secret_name(), data)
}

/// `<name>-db-admin`: the superuser, for the operator and the database container only.
pub fn admin_secret(instance: &Instance<'_>, passwords: &Passwords) -> Secret {
    let database = instance.engine.app_database(&instance.app_identifier());
    let tls = passwords.tls.as_ref();
    let mut data = connection_keys(instance, instance.engine.admin_username(), &passwords.admin, &database, tls);
    data.insert(APP_PASSWORD_KEY.to_string(), passwords.app.clone());
    data.insert(MONITOR_PASSWORD_KEY.to_string(), passwords.monitor.clone());
    data.insert(BACKUP_PASSWORD_KEY.to_string(), passwords.backup.clone());
    let r = &passwords.rotation;
    let optional = [
        (APP_PASSWORD_B_KEY, passwords.app_b.clone()),
        (ACTIVE_LOGIN_KEY, r.active.map(|s| s.as_str().to_string())),
        (PENDING_LOGIN_KEY, r.pending.map(|s| s.as_str().to_string())),
        (ROTATED_AT_KEY, r.rotated_at.clone()),
        (RETIRE_AFTER_KEY, r.retire_after.clone()),
        (ROTATION_TOKEN_KEY, r.token.clone()),
    ];
    data.extend(optional.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))));
    data.extend(passwords.derived.clone());
    if let Some(keys) = tls {
        data.insert(TLS_CERT_KEY.to_string(), keys.cert_pem.clone());
        data.insert(TLS_KEY_KEY.to_string(), keys.key_pem.clone());
        data.insert(TLS_RENEW_AFTER_KEY.to_string(), keys.renew_after.to_string());
        let exporter = instance.engine.exporter(&instance.admin_secret_name(), true);
        data.extend(exporter.config.map(|config| (config.file.to_string(), config.content)));
    }
    secret(instance, instance.admin_secret_name(), data)
}

/// `<name>-db-backup-login`: the read-only backup login, the only Secret
/// backup pods read (the admin Secret stays with the operator, the database
/// container and restores).
pub fn backup_login_secret(instance: &Instance<'_>, passwords: &Passwords) -> Secret {
    let database = instance.engine.app_database(&instance.app_identifier());
    let data = connection_keys(instance, BACKUP_USERNAME, &passwords.backup, &database, passwords.tls.as_ref());
    secret(instance, instance.backup_login_secret_name(), data)
}

/// The server keys kept in a live admin Secret, when all of them are there.
pub fn read_server_keys(admin: &Secret) -> Option<ServerKeys> {
    Some(ServerKeys {
        cert_pem: read_key(admin, TLS_CERT_KEY)?,
        key_pem: read_key(admin, TLS_KEY_KEY)?,
        ca_pem: read_key(admin, CA_KEY)?,
        renew_after: read_key(admin, TLS_RENEW_AFTER_KEY)?.parse().ok()?,
    })
}

/// The value of `key` in a live Secret, if present and UTF-8.
pub fn read_key(secret: &Secret, key: &str) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(key)?;
    String::from_utf8(bytes.0.clone()).ok().filter(|v| !v.is_empty())
}

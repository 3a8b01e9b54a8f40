//! Passwords are generated once and then only ever read back: a restart, a
//! retry, a re-apply or a deleted Secret never changes them.

use super::validate::Invalid;
use crate::api::reasons::InvalidReason;
use crate::builders::secret::{
    ACTIVE_LOGIN_KEY, APP_PASSWORD_B_KEY, APP_PASSWORD_KEY, BACKUP_PASSWORD_KEY, MONITOR_PASSWORD_KEY, PASSWORD_KEY,
    PENDING_LOGIN_KEY, RETIRE_AFTER_KEY, ROTATED_AT_KEY, ROTATION_TOKEN_KEY, read_key, read_server_keys,
};
use crate::builders::{Instance, MANAGED_BY, Passwords, Rotation, Slot};
use crate::controller::error::Error;
use crate::engine::Logins;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use std::collections::BTreeMap;

fn managed_by_us(secret: &Secret, instance: &Instance<'_>) -> bool {
    let labels = secret.labels();
    labels.get("app.kubernetes.io/managed-by").map(String::as_str) == Some(MANAGED_BY)
        && labels.get("app.kubernetes.io/instance").map(String::as_str) == Some(instance.name)
}

/// What the live Secrets and volume already hold.
#[derive(Default)]
pub struct Existing {
    pub admin_password: Option<String>,
    pub app_password: Option<String>,
    pub app_password_b: Option<String>,
    pub monitor_password: Option<String>,
    pub backup_password: Option<String>,
    pub rotation: Rotation,
    pub derived: BTreeMap<String, String>,
    /// The server certificate and key, when the instance has them.
    pub tls: Option<crate::tls::ServerKeys>,
    /// The data volume exists, so the database was (or is being) initialised
    /// with the passwords of that time.
    pub initialised: bool,
}

/// Decides the passwords from what exists; generates only what was never made.
pub fn decide(
    instance: &Instance<'_>,
    existing: Existing,
    generate: &mut dyn FnMut() -> Result<String, getrandom::Error>,
) -> Result<Result<Passwords, Invalid>, Error> {
    let lost = |what: &str| Invalid {
        reason: InvalidReason::CredentialsLost,
        message: format!(
            "the {what} was deleted after the database was initialised and cannot be regenerated; restore Secret {} from a backup of the namespace",
            instance.admin_secret_name()
        ),
        recheck: None,
    };
    let (admin, fresh_admin) = match existing.admin_password {
        Some(p) => (p, false),
        None if existing.initialised => return Ok(Err(lost("admin password"))),
        None => (generate()?, true),
    };
    let (app, fresh_app) = match existing.app_password {
        Some(p) => (p, false),
        None if existing.initialised => return Ok(Err(lost("service's password"))),
        None => (generate()?, true),
    };
    let engine = instance.engine;
    let complete = engine.derived_admin_key_names().iter().all(|k| existing.derived.contains_key(*k));
    // The monitoring and backup logins are (re)set by the administer step,
    // so a lost one can be made anew.
    let monitor = match existing.monitor_password {
        Some(p) => p,
        None => generate()?,
    };
    let backup = match existing.backup_password {
        Some(p) => p,
        None => generate()?,
    };
    let passwords = Passwords {
        admin,
        app,
        app_b: existing.app_password_b,
        monitor,
        backup,
        rotation: existing.rotation,
        derived: existing.derived,
        tls: existing.tls,
    };
    Ok(Ok(if complete && !fresh_app && !fresh_admin { passwords } else { with_derived_keys(instance, passwords) }))
}

/// The engine's derived keys (verifiers, hashes, an ACL file) for the
/// passwords, from the login the credentials Secret hands out.
pub fn with_derived_keys(instance: &Instance<'_>, mut passwords: Passwords) -> Passwords {
    let engine = instance.engine;
    let active = passwords.rotation.active();
    let app_username = instance.login_name(active);
    passwords.derived = engine.derived_admin_keys(Logins {
        admin_username: engine.admin_username(),
        admin_password: &passwords.admin,
        app_username: &app_username,
        app_password: passwords.active_password(),
    });
    passwords
}

/// What the live Secrets and volume hold. A Secret of the same name that
/// servicedb does not manage (`backup_login` included) is never taken over.
pub fn existing(
    instance: &Instance<'_>,
    admin: Option<&Secret>,
    credentials: Option<&Secret>,
    backup_login: Option<&Secret>,
    initialised: bool,
) -> Result<Existing, Invalid> {
    let ours = admin.into_iter().chain(credentials).chain(backup_login);
    if let Some(secret) = ours.into_iter().find(|s| !managed_by_us(s, instance)) {
        return Err(Invalid {
            reason: InvalidReason::SecretConflict,
            message: format!(
                "Secret {} already exists and is not managed by servicedb for {}; rename this ServiceDatabase or remove that Secret",
                secret.name_any(),
                instance.name
            ),
            recheck: None,
        });
    }
    let from_admin = |key: &str| admin.and_then(|s| read_key(s, key));
    Ok(Existing {
        admin_password: from_admin(PASSWORD_KEY),
        monitor_password: from_admin(MONITOR_PASSWORD_KEY),
        backup_password: from_admin(BACKUP_PASSWORD_KEY),
        app_password_b: from_admin(APP_PASSWORD_B_KEY),
        rotation: Rotation {
            active: from_admin(ACTIVE_LOGIN_KEY).as_deref().and_then(Slot::parse),
            pending: from_admin(PENDING_LOGIN_KEY).as_deref().and_then(Slot::parse),
            rotated_at: from_admin(ROTATED_AT_KEY),
            retire_after: from_admin(RETIRE_AFTER_KEY),
            token: from_admin(ROTATION_TOKEN_KEY),
        },
        app_password: from_admin(APP_PASSWORD_KEY).or_else(|| credentials.and_then(|s| read_key(s, PASSWORD_KEY))),
        derived: instance
            .engine
            .derived_admin_key_names()
            .iter()
            .filter_map(|k| Some((k.to_string(), from_admin(k)?)))
            .collect(),
        tls: admin.and_then(read_server_keys),
        initialised,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ServiceDatabase;

    fn sdb() -> ServiceDatabase {
        yaml_serde::from_str(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {name: orders, namespace: shop, uid: u1}\nspec: {engine: postgres, version: '16', service: {name: orders}, storage: {size: 1Gi}}",
        )
        .unwrap()
    }

    fn counter() -> (std::rc::Rc<std::cell::Cell<u32>>, impl FnMut() -> Result<String, getrandom::Error>) {
        let n = std::rc::Rc::new(std::cell::Cell::new(0));
        let m = n.clone();
        (n, move || {
            m.set(m.get() + 1);
            Ok(format!("generated{}", m.get()))
        })
    }

    #[test]
    fn first_reconcile_generates_both_passwords_and_the_verifier() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "op").unwrap();
        let (n, mut generate) = counter();
        let p = decide(&instance, Existing::default(), &mut generate).unwrap().unwrap();
        assert_eq!(n.get(), 4, "admin, app, monitor and backup");
        assert_ne!(p.admin, p.app);
        assert!(p.derived["app-password-scram"].starts_with("SCRAM-SHA-256$4096:"));
    }

    #[test]
    fn existing_passwords_are_never_regenerated() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "op").unwrap();
        let (n, mut generate) = counter();
        let existing = Existing {
            admin_password: Some("A".into()),
            app_password: Some("B".into()),
            monitor_password: Some("M".into()),
            backup_password: Some("K".into()),
            derived: BTreeMap::from([("app-password-scram".to_string(), "V".to_string())]),
            initialised: true,
            ..Existing::default()
        };
        let p = decide(&instance, existing, &mut generate).unwrap().unwrap();
        assert_eq!((p.admin.as_str(), p.app.as_str(), p.derived["app-password-scram"].as_str()), ("A", "B", "V"));
        assert_eq!(n.get(), 0, "nothing generated");
    }

    #[test]
    fn a_crash_between_the_two_secrets_keeps_the_first_password() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "op").unwrap();
        let (n, mut generate) = counter();
        let existing = Existing { app_password: Some("B".into()), ..Existing::default() };
        let p = decide(&instance, existing, &mut generate).unwrap().unwrap();
        assert_eq!(p.app, "B");
        assert_eq!(n.get(), 3, "only the admin, monitor and backup passwords are new");
    }

    #[test]
    fn a_lost_admin_secret_on_initialised_data_is_reported_not_regenerated() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "op").unwrap();
        let (n, mut generate) = counter();
        let existing = Existing { app_password: Some("B".into()), initialised: true, ..Existing::default() };
        let invalid = decide(&instance, existing, &mut generate).unwrap().unwrap_err();
        assert_eq!(invalid.reason, InvalidReason::CredentialsLost);
        assert!(invalid.message.contains("orders-db-admin"));
        assert_eq!(n.get(), 0);
    }

    #[test]
    fn a_secret_servicedb_does_not_manage_is_never_taken_over() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "op").unwrap();
        let foreign: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "orders-db-credentials", "labels": {"app": "someone-else"}},
            "data": {"password": "dGhlaXItcGFzc3dvcmQtNDI="}
        }))
        .unwrap();
        let Err(invalid) = existing(&instance, None, Some(&foreign), None, false) else { panic!("taken over") };
        assert_eq!(invalid.reason, InvalidReason::SecretConflict);
        assert!(invalid.message.starts_with("Secret orders-db-credentials already exists"), "{}", invalid.message);
        assert!(!invalid.message.contains("their-password-42"), "no value in the message: {}", invalid.message);
    }
}

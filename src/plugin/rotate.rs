//! `kubectl servicedb rotate NAME`: a new value of `servicedb.dev/rotate`,
//! then wait for the credentials Secret to switch to the new login.
//!
//! The operator records a handled request in the admin Secret
//! (`rotation-token` = the annotation's value, `pending-login` while the new
//! password is set in the database but not handed out yet). Without access
//! to that Secret the switch is seen in the credentials Secret's username.

use super::failure::Failure;
use super::follow::{Progress, until};
use super::target::Target;
use crate::api::ServiceDatabase;
use crate::builders::secret::{PENDING_LOGIN_KEY, RETIRE_AFTER_KEY, ROTATION_TOKEN_KEY, read_key};
use crate::controller::pause::is_paused;
use crate::controller::rotation::ROTATE_ANNOTATION;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Not taken up yet; with the time a previous login retires, if that is why.
    Requested(Option<String>),
    /// The new password is in the database; the Secret switches next.
    Pending,
    /// The credentials Secret names this login now.
    Switched(String),
}

/// Where request `token` stands. `admin` is None when unreadable; `before`
/// is the login the credentials Secret named when the request was made.
pub fn step(token: &str, admin: Option<&Secret>, before: &str, login: Option<String>) -> Step {
    match admin {
        Some(admin) => {
            let handled = read_key(admin, ROTATION_TOKEN_KEY).as_deref() == Some(token);
            match (handled, read_key(admin, PENDING_LOGIN_KEY), login) {
                (false, _, _) => Step::Requested(read_key(admin, RETIRE_AFTER_KEY)),
                (true, Some(_), _) | (true, None, None) => Step::Pending,
                (true, None, Some(login)) => Step::Switched(login),
            }
        }
        None => match login {
            Some(login) if login != before => Step::Switched(login),
            _ => Step::Requested(None),
        },
    }
}

fn describe(step: &Step) -> String {
    match step {
        Step::Requested(None) => "requested; waiting for the operator".into(),
        Step::Requested(Some(at)) => {
            format!("requested; the previous rotation's login retires at {at}, this rotation starts after that")
        }
        Step::Pending => "the new login's password is set in the database; switching the Secret".into(),
        Step::Switched(login) => format!("switched: the credentials Secret names {login}"),
    }
}

async fn read(api: &kube::Api<Secret>, name: &str) -> Result<Option<Secret>, Failure> {
    match api.get(name).await {
        Ok(s) => Ok(Some(s)),
        Err(kube::Error::Api(s)) if s.code == 403 || s.code == 404 => Ok(None),
        Err(e) => Err(Failure::Failed(format!("cannot read Secret {name}: {e}"))),
    }
}

pub async fn run(target: &Target, name: &str, timeout: Duration) -> Result<(), Failure> {
    let sdb = target.instance(name).await?;
    if is_paused(&sdb) {
        return Err(Failure::Failed(format!(
            "ServiceDatabase {name} is paused: no rotation happens until `kubectl servicedb resume {name}`"
        )));
    }
    let secrets = target.api::<Secret>();
    let instance = Target::children(&sdb)?;
    let (credentials, admin) = (instance.credentials_secret_name(), instance.admin_secret_name());
    let before = secrets
        .get(&credentials)
        .await
        .map_err(Failure::kube("get", &format!("Secret {}/{credentials}", target.namespace)))?;
    let before = read_key(&before, "username").unwrap_or_default();
    let token = k8s_openapi::jiff::Timestamp::now().to_string();
    let patch = serde_json::json!({"metadata": {"annotations": {ROTATE_ANNOTATION: token}}});
    target
        .api::<ServiceDatabase>()
        .patch(
            name,
            &PatchParams { field_manager: Some(super::FIELD_MANAGER.into()), ..Default::default() },
            &Patch::Merge(&patch),
        )
        .await
        .map_err(Failure::kube("annotate", &format!("ServiceDatabase {}/{name}", target.namespace)))?;
    println!("requested a rotation of {name} ({ROTATE_ANNOTATION}={token}); current login {before}");
    let shown = Progress::default();
    let login = until(timeout, "the credentials Secret to switch to the new login", || {
        let (secrets, credentials, admin, before, token) = (&secrets, &credentials, &admin, &before, &token);
        let shown = &shown;
        async move {
            let admin = read(secrets, admin).await?;
            let login = read(secrets, credentials).await?.and_then(|s| read_key(&s, "username"));
            let now = step(token, admin.as_ref(), before, login);
            shown.show(&describe(&now));
            Ok(match now {
                Step::Switched(login) => Some(login),
                _ => None,
            })
        }
    })
    .await?;
    println!("rotated {name}: current login {login} (was {before}; the previous login works through its grace period)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(pairs.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()),
            ..Secret::default()
        }
    }

    #[test]
    fn the_switch_is_seen_from_the_admin_secret_or_the_username() {
        let old = secret(&[(ROTATION_TOKEN_KEY, "t0"), (RETIRE_AFTER_KEY, "2026-11-30T01:05:00Z")]);
        assert_eq!(
            step("t1", Some(&old), "orders", Some("orders".into())),
            Step::Requested(Some("2026-11-30T01:05:00Z".into()))
        );
        let pending = secret(&[(ROTATION_TOKEN_KEY, "t1"), (PENDING_LOGIN_KEY, "b")]);
        assert_eq!(step("t1", Some(&pending), "orders", Some("orders".into())), Step::Pending);
        let done = secret(&[(ROTATION_TOKEN_KEY, "t1")]);
        assert_eq!(step("t1", Some(&done), "orders", Some("orders_b".into())), Step::Switched("orders_b".into()));
        assert_eq!(step("t1", None, "orders", Some("orders".into())), Step::Requested(None), "no admin access");
        assert_eq!(step("t1", None, "orders", Some("orders_b".into())), Step::Switched("orders_b".into()));
    }
}

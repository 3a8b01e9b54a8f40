//! The decide step: from what was observed to the desired set, with no
//! client. Every way to stop before touching a child is a [`Halt`]; the
//! only failure is the system's random source.

use super::bootstrap;
use super::credentials;
use super::delivery;
use super::observe::Observed;
use super::outcome::Halt;
use super::rotation;
use super::tls;
use super::validate;
use crate::api::ServiceDatabase;
use crate::builders::{self, Desired, Instance, Passwords};
use crate::controller::apply::claim_template_size;
use crate::controller::context::Settings;
use crate::controller::error::Error;
use k8s_openapi::jiff::Timestamp;

pub struct Plan {
    pub passwords: Passwords,
    pub desired: Desired,
    pub rotation: rotation::Policy,
    pub tls: tls::Change,
}

/// What to apply, or why not. `generate` makes a new password; `authority`
/// signs server certificates (`None` when the operator could not load it).
pub fn plan(
    sdb: &ServiceDatabase,
    instance: &Instance<'_>,
    observed: &Observed,
    settings: &Settings,
    authority: Option<&crate::tls::Authority>,
    now: Timestamp,
    generate: &mut dyn FnMut() -> Result<String, getrandom::Error>,
) -> Result<Result<Plan, Halt>, Error> {
    // A running instance's major version is checked first: for a version it
    // cannot move to, "add an image to the catalogue" would be the wrong advice.
    let valid = match validate::against_live(observed.statefulset.as_ref(), &sdb.spec)
        .and_then(|()| validate::spec(sdb, &settings.images))
    {
        Ok(valid) => valid,
        Err(invalid) => return Ok(Err(invalid.into())),
    };
    let checks = observed.references.clone().and_then(|()| {
        delivery::check(instance, observed.service_namespace.as_ref())?;
        credentials::existing(
            instance,
            observed.admin_secret.as_ref(),
            observed.credentials_secret.as_ref(),
            observed.backup_login_secret.as_ref(),
            observed.data_claim_exists,
        )
    });
    let existing = match checks {
        Ok(existing) => existing,
        Err(invalid) => return Ok(Err(invalid.into())),
    };
    let mut passwords = match credentials::decide(instance, existing, generate)? {
        Ok(passwords) => passwords,
        Err(invalid) => return Ok(Err(invalid.into())),
    };
    let names = crate::tls::server_names(&instance.instance_name(), instance.namespace);
    let kept = passwords.tls.take();
    let tls = match tls::decide(sdb.spec.tls.as_ref(), kept, observed.data_claim_exists, authority, &names, now.into())?
    {
        Ok(tls) => tls,
        Err(halt) => return Ok(Err(halt)),
    };
    passwords.tls = tls.keys;
    let policy = rotation::Policy::of(sdb);
    let requested = rotation::requested(sdb);
    let created = sdb.metadata.creation_timestamp.as_ref().map(|t| t.0);
    if rotation::due(&passwords, policy, requested.as_deref(), created, now) {
        tracing::info!("rotating the service's credentials");
        // Kept in the admin Secret by the apply step, before the database sees it.
        passwords = rotation::start(&passwords, generate()?, requested);
    }
    let restore = match &observed.bootstrap_source {
        Ok(restore) => restore.as_ref(),
        Err(halt) => return Ok(Err(halt.clone())),
    };
    let claim_size = claim_template_size(observed.statefulset.as_ref(), instance);
    let inputs = builders::Inputs {
        images: &valid.images,
        claim_size: &claim_size,
        tools_image: &settings.tools_image,
        restore,
        monitoring_namespace: &settings.monitoring_namespace,
        now,
    };
    let mut desired = builders::desired(instance, &passwords, inputs);
    desired.restore = bootstrap::wanted(sdb, desired.restore.take(), observed.restore_run.as_ref());
    Ok(Ok(Plan { passwords, desired, rotation: policy, tls: tls.change }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::reasons::InvalidReason;
    use crate::builders::secret::PASSWORD_KEY;
    use k8s_openapi::api::core::v1::Secret;

    fn sdb(extra: &str) -> ServiceDatabase {
        yaml_serde::from_str(&format!(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: shop, uid: u1, generation: 1}}\nspec: {{engine: postgres, version: '16', service: {{name: orders}}, storage: {{size: 1Gi}}{extra}}}"
        ))
        .unwrap()
    }

    fn authority() -> &'static crate::tls::Authority {
        static AUTHORITY: std::sync::OnceLock<crate::tls::Authority> = std::sync::OnceLock::new();
        AUTHORITY.get_or_init(|| crate::tls::Authority::generate(std::time::SystemTime::now()).unwrap())
    }

    fn settings() -> Settings {
        Settings {
            service_account: "servicedb".into(),
            operator_namespace: "servicedb-system".into(),
            resync: std::time::Duration::from_secs(300),
            concurrent_reconciles: 32,
            endpoint_overrides: None,
            tools_image: "tools".into(),
            monitoring_namespace: "monitoring".into(),
            images: Default::default(),
        }
    }

    fn nothing_yet() -> Observed {
        Observed {
            statefulset: None,
            data_claim_exists: false,
            admin_secret: None,
            credentials_secret: None,
            backup_login_secret: None,
            references: Ok(()),
            bootstrap_source: Ok(None),
            backup_runs: Vec::new(),
            restore_run: None,
            service_namespace: None,
        }
    }

    fn fixed() -> impl FnMut() -> Result<String, getrandom::Error> {
        let mut n = 0;
        move || {
            n += 1;
            Ok(format!("generated-{n}"))
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    #[test]
    fn a_new_instance_gets_every_child_and_fresh_passwords() {
        let sdb = sdb("");
        let instance = Instance::new(&sdb, "servicedb-system").unwrap();
        let plan = plan(&sdb, &instance, &nothing_yet(), &settings(), Some(authority()), now(), &mut fixed())
            .unwrap()
            .unwrap();
        assert_eq!(plan.desired.statefulset.metadata.name.as_deref(), Some("orders-db"));
        assert!(plan.desired.backup.is_none() && plan.desired.restore.is_none());
        assert!(plan.passwords.admin.starts_with("generated-"));
        assert_ne!(plan.passwords.admin, plan.passwords.app);
    }

    #[test]
    fn an_initialised_volume_without_its_secret_halts_instead_of_regenerating() {
        let sdb = sdb("");
        let instance = Instance::new(&sdb, "servicedb-system").unwrap();
        let observed = Observed { data_claim_exists: true, ..nothing_yet() };
        let mut calls = 0;
        let mut counting = || {
            calls += 1;
            Ok("new".to_string())
        };
        let Ok(Err(Halt::Invalid(invalid))) =
            plan(&sdb, &instance, &observed, &settings(), Some(authority()), now(), &mut counting)
        else {
            panic!("no halt")
        };
        assert_eq!(invalid.reason, InvalidReason::CredentialsLost);
        assert_eq!(calls, 0, "no password was generated");
    }

    #[test]
    fn passwords_are_read_back_from_the_admin_secret() {
        let sdb = sdb("");
        let instance = Instance::new(&sdb, "servicedb-system").unwrap();
        let first = plan(&sdb, &instance, &nothing_yet(), &settings(), Some(authority()), now(), &mut fixed())
            .unwrap()
            .unwrap();
        let admin: Secret = first.desired.admin_secret.clone();
        let credentials: Secret = first.desired.credentials_secret.clone();
        let observed = Observed {
            admin_secret: Some(admin),
            credentials_secret: Some(credentials),
            data_claim_exists: true,
            ..nothing_yet()
        };
        let mut never = || -> Result<String, getrandom::Error> { panic!("a password was generated again") };
        let again =
            plan(&sdb, &instance, &observed, &settings(), Some(authority()), now(), &mut never).unwrap().unwrap();
        assert_eq!((again.passwords.admin, again.passwords.app), (first.passwords.admin, first.passwords.app));
        let key = |s: &Secret| crate::builders::secret::read_key(s, PASSWORD_KEY);
        assert_eq!(key(&again.desired.credentials_secret), key(&first.desired.credentials_secret));
    }

    #[test]
    fn a_major_version_change_is_refused_before_the_catalogue_is_asked() {
        let running = sdb("");
        let instance = Instance::new(&running, "servicedb-system").unwrap();
        let first = plan(&running, &instance, &nothing_yet(), &settings(), Some(authority()), now(), &mut fixed())
            .unwrap()
            .unwrap();
        let observed = Observed { statefulset: Some(first.desired.statefulset), ..nothing_yet() };
        let catalog = crate::engine::ImageCatalog::parse(
            std::path::Path::new("/etc/servicedb/image-catalog.yaml"),
            "engines: {postgres: {'16': localhost/postgres:16}}",
        )
        .unwrap();
        let settings = Settings { images: crate::engine::Images::Catalog(catalog), ..settings() };
        let mut moved = sdb("");
        moved.spec.version = "17".into();
        let Ok(Err(Halt::Invalid(invalid))) =
            plan(&moved, &instance, &observed, &settings, Some(authority()), now(), &mut fixed())
        else {
            panic!("a major version change went through")
        };
        assert_eq!(invalid.reason, InvalidReason::VersionChange, "{}", invalid.message);
    }

    #[test]
    fn a_service_elsewhere_gets_the_credentials_only_once_its_namespace_opted_in() {
        use super::super::delivery::ServiceNamespace;
        use k8s_openapi::api::core::v1::Namespace;
        let mut sdb = sdb("");
        sdb.spec.service.namespace = Some("storefront".into());
        sdb.spec.service.service_account_name = Some("orders".into());
        let instance = Instance::new(&sdb, "servicedb-system").unwrap();
        let namespace = |annotation: &str| {
            let mut ns = Namespace::default();
            ns.metadata.annotations =
                Some([(crate::api::ACCEPT_CREDENTIALS_FROM_ANNOTATION.to_string(), annotation.to_string())].into());
            ServiceNamespace { name: "storefront".into(), watched: true, namespace: Some(ns), delivered_secret: None }
        };
        let observed = Observed { service_namespace: Some(namespace("billing")), ..nothing_yet() };
        let Ok(Err(Halt::Invalid(invalid))) =
            plan(&sdb, &instance, &observed, &settings(), Some(authority()), now(), &mut fixed())
        else {
            panic!("no halt")
        };
        assert_eq!(invalid.reason, InvalidReason::ServiceNamespaceNotOptedIn);

        let observed = Observed { service_namespace: Some(namespace("billing,shop")), ..nothing_yet() };
        let plan =
            plan(&sdb, &instance, &observed, &settings(), Some(authority()), now(), &mut fixed()).unwrap().unwrap();
        let delivered = plan.desired.delivered_credentials.expect("delivered");
        assert_eq!(delivered.secret.metadata.namespace.as_deref(), Some("storefront"));
        let key = |s: &Secret| crate::builders::secret::read_key(s, PASSWORD_KEY);
        assert_eq!(key(&delivered.secret), key(&plan.desired.credentials_secret));
        assert_eq!(key(&delivered.secret).as_deref(), Some(plan.passwords.app.as_str()));
    }

    #[test]
    fn a_missing_reference_and_a_running_bootstrap_backup_halt_before_any_child() {
        let sdb = sdb("");
        let instance = Instance::new(&sdb, "servicedb-system").unwrap();
        let missing = validate::Invalid {
            reason: InvalidReason::StorageClassNotFound,
            message: "no class".into(),
            recheck: None,
        };
        let observed = Observed { references: Err(missing.clone()), ..nothing_yet() };
        let result = plan(&sdb, &instance, &observed, &settings(), Some(authority()), now(), &mut fixed()).unwrap();
        assert!(matches!(result, Err(Halt::Invalid(i)) if i == missing));
        let waiting = super::super::outcome::Waiting {
            reason: crate::api::reasons::Reason::WaitingForBackup,
            message: "running".into(),
            recheck: std::time::Duration::from_secs(30),
        };
        let observed = Observed { bootstrap_source: Err(Halt::Waiting(waiting.clone())), ..nothing_yet() };
        let result = plan(&sdb, &instance, &observed, &settings(), Some(authority()), now(), &mut fixed()).unwrap();
        assert!(matches!(result, Err(Halt::Waiting(w)) if w == waiting));
    }
}

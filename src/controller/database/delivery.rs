//! Credentials for a service in another namespace: whether that namespace
//! takes them (it opts in with an annotation naming this namespace; in
//! namespaced mode the operator must also watch it) and whether the name
//! they get there is free. The children themselves are built in
//! `builders/delivery.rs` and written by the apply step.

use super::validate::Invalid;
use crate::api::ACCEPT_CREDENTIALS_FROM_ANNOTATION;
use crate::api::reasons::InvalidReason;
use crate::builders::Instance;
use crate::builders::delivery::delivered_by;
use crate::controller::context::Context;
use crate::controller::error::Error;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{Api, ResourceExt};
use std::time::Duration;

/// Namespaces are not watched: an annotation added later, or a namespace
/// created later, is seen when this much time has passed (one GET per
/// waiting object; a user who just annotated is not kept waiting long).
const RECHECK: Duration = Duration::from_secs(20);

/// What the observe step found in the service's namespace, when it is not
/// the ServiceDatabase's own.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceNamespace {
    pub name: String,
    /// Whether the operator watches it. When not, nothing was read there.
    pub watched: bool,
    /// The Namespace, read by name; `None` when it does not exist.
    pub namespace: Option<Namespace>,
    /// The delivered credentials Secret as it is there, read by name.
    pub delivered_secret: Option<Secret>,
}

/// Reads the service's namespace and the delivered Secret there, by name,
/// when the service is elsewhere and the operator watches that namespace.
/// The Namespace is one named GET (the chart grants `get` on exactly the
/// watched namespaces in namespaced mode): watching every Namespace for one
/// annotation would cost a cluster-wide watch.
pub async fn observe(ctx: &Context, instance: &Instance<'_>) -> Result<Option<ServiceNamespace>, Error> {
    let Some(name) = instance.service_elsewhere() else { return Ok(None) };
    if !ctx.caches.watches(name) {
        return Ok(Some(ServiceNamespace {
            name: name.to_string(),
            watched: false,
            namespace: None,
            delivered_secret: None,
        }));
    }
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), name);
    let secret = instance.delivered_credentials_name();
    let (namespace, delivered_secret) = futures::try_join!(
        async { namespaces.get_opt(name).await.map_err(Error::kube("get", format!("Namespace {name}"))) },
        async { secrets.get_opt(&secret).await.map_err(Error::kube("get", format!("Secret {name}/{secret}"))) },
    )?;
    Ok(Some(ServiceNamespace { name: name.to_string(), watched: true, namespace, delivered_secret }))
}

/// The namespaces a Namespace accepts credentials from, as its annotation lists them.
pub fn accepted_sources(namespace: &Namespace) -> Vec<&str> {
    namespace
        .annotations()
        .get(ACCEPT_CREDENTIALS_FROM_ANNOTATION)
        .map(|list| list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// Whether the credentials may go to the service's namespace, and under a
/// name that no one else's object holds there.
pub fn check(instance: &Instance<'_>, observed: Option<&ServiceNamespace>) -> Result<(), Invalid> {
    let Some(target) = observed else { return Ok(()) };
    let (to, from) = (target.name.as_str(), instance.namespace);
    if !target.watched {
        return Err(Invalid {
            reason: InvalidReason::ServiceNamespaceNotWatched,
            message: format!(
                "spec.service.namespace {to:?} is not watched by the operator, which runs for some namespaces only; add {to} to the chart value watchNamespaces (operator flag --namespaces), or remove spec.service.namespace"
            ),
            recheck: None,
        });
    }
    let Some(namespace) = &target.namespace else {
        return Err(Invalid {
            reason: InvalidReason::ServiceNamespaceNotFound,
            message: format!(
                "spec.service.namespace {to:?} does not exist; create it, or remove spec.service.namespace"
            ),
            recheck: Some(RECHECK),
        });
    };
    let sources = accepted_sources(namespace);
    if !sources.contains(&from) {
        let list = sources.iter().copied().chain([from]).collect::<Vec<_>>().join(",");
        let overwrite = if sources.is_empty() { "" } else { "--overwrite " };
        return Err(Invalid {
            reason: InvalidReason::ServiceNamespaceNotOptedIn,
            message: format!(
                "namespace {to} (spec.service.namespace) does not accept credentials from namespace {from}; to let it, annotate it: kubectl annotate {overwrite}namespace {to} {ACCEPT_CREDENTIALS_FROM_ANNOTATION}={list}"
            ),
            recheck: Some(RECHECK),
        });
    }
    if let Some(secret) = target.delivered_secret.as_ref().filter(|s| !delivered_by(s.labels(), instance)) {
        return Err(Invalid {
            reason: InvalidReason::SecretConflict,
            message: format!(
                "Secret {} already exists in namespace {to} and was not delivered by servicedb for {from}/{}; remove that Secret",
                secret.name_any(),
                instance.name
            ),
            recheck: None,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ServiceDatabase;

    fn sdb() -> ServiceDatabase {
        yaml_serde::from_str(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {name: orders, namespace: shop, uid: u1}\nspec: {engine: postgres, version: '16', service: {name: orders, serviceAccountName: orders, namespace: storefront}, storage: {size: 1Gi}}",
        )
        .unwrap()
    }

    fn namespace(annotation: Option<&str>) -> Namespace {
        let mut ns = Namespace::default();
        ns.metadata.name = Some("storefront".into());
        ns.metadata.annotations =
            annotation.map(|a| [(ACCEPT_CREDENTIALS_FROM_ANNOTATION.to_string(), a.to_string())].into());
        ns
    }

    fn found(annotation: Option<&str>) -> ServiceNamespace {
        ServiceNamespace {
            name: "storefront".into(),
            watched: true,
            namespace: Some(namespace(annotation)),
            delivered_secret: None,
        }
    }

    #[test]
    fn the_annotation_lists_namespaces_separated_by_commas() {
        assert_eq!(accepted_sources(&namespace(Some(" shop, billing ,,"))), ["shop", "billing"]);
        assert!(accepted_sources(&namespace(None)).is_empty());
        assert!(!accepted_sources(&namespace(Some("shopping,workshop"))).contains(&"shop"), "whole names only");
    }

    #[test]
    fn a_namespace_that_did_not_opt_in_is_told_the_exact_annotation() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "servicedb-system").unwrap();
        let err = check(&instance, Some(&found(None))).unwrap_err();
        assert_eq!(err.reason, InvalidReason::ServiceNamespaceNotOptedIn);
        assert_eq!(
            err.message,
            "namespace storefront (spec.service.namespace) does not accept credentials from namespace shop; to let it, annotate it: kubectl annotate namespace storefront servicedb.dev/accept-credentials-from=shop"
        );
        assert_eq!(err.recheck, Some(RECHECK), "namespaces are not watched: looked at again");
        let err = check(&instance, Some(&found(Some("billing")))).unwrap_err();
        assert!(
            err.message.ends_with(
                "kubectl annotate --overwrite namespace storefront servicedb.dev/accept-credentials-from=billing,shop"
            ),
            "the other sources are kept: {}",
            err.message
        );
        assert!(check(&instance, Some(&found(Some("billing,shop")))).is_ok());
        assert!(check(&instance, None).is_ok(), "the service in the database's namespace needs nothing");
    }

    #[test]
    fn a_missing_or_unwatched_namespace_says_what_to_do() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "servicedb-system").unwrap();
        let missing = ServiceNamespace { namespace: None, ..found(None) };
        let err = check(&instance, Some(&missing)).unwrap_err();
        assert_eq!(err.reason, InvalidReason::ServiceNamespaceNotFound);
        assert!(err.recheck.is_some());
        let unwatched = ServiceNamespace { watched: false, namespace: None, ..found(None) };
        let err = check(&instance, Some(&unwatched)).unwrap_err();
        assert_eq!(err.reason, InvalidReason::ServiceNamespaceNotWatched);
        assert!(err.message.contains("chart value watchNamespaces"), "{}", err.message);
        assert_eq!(err.recheck, None, "only a new operator configuration changes it");
    }

    #[test]
    fn a_secret_of_that_name_someone_else_made_is_never_taken_over() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "servicedb-system").unwrap();
        let mut theirs = Secret::default();
        theirs.metadata.name = Some(instance.delivered_credentials_name());
        let target = ServiceNamespace { delivered_secret: Some(theirs.clone()), ..found(Some("shop")) };
        assert_eq!(check(&instance, Some(&target)).unwrap_err().reason, InvalidReason::SecretConflict);
        // One delivered before (by this name in this namespace, any uid) is ours.
        let desired = crate::builders::delivery::delivered_credentials(&instance, &theirs).unwrap();
        let mut ours = desired.secret;
        ours.labels_mut().insert(crate::builders::delivery::SOURCE_UID_LABEL.into(), "an-earlier-uid".into());
        let target = ServiceNamespace { delivered_secret: Some(ours), ..found(Some("shop")) };
        assert!(check(&instance, Some(&target)).is_ok());
    }
}

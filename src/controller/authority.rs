//! The operator's certificate authority, kept in Secret `servicedb-ca` of
//! its own namespace: read by name once per process at start, created by
//! the first replica that finds none (a second creator reads the winner's).
//! Loaded beside the reconciles, not by them: no reconcile writes it, and
//! one that needs it meanwhile waits.

use crate::engine::{TLS_CERT_KEY as CERT_KEY, TLS_KEY_KEY as KEY_KEY};
use crate::tls::{AUTHORITY_SECRET, Authority};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use std::collections::BTreeMap;
use std::time::SystemTime;

fn from_secret(secret: &Secret) -> Result<Authority, String> {
    let key = |name: &str| {
        let bytes = secret.data.as_ref().and_then(|d| d.get(name)).map(|b| b.0.clone()).unwrap_or_default();
        String::from_utf8(bytes).map_err(|_| format!("key {name} is not UTF-8"))
    };
    Authority::from_pem(&key(CERT_KEY)?, &key(KEY_KEY)?).map_err(|e| {
        format!("Secret {AUTHORITY_SECRET} does not hold a usable CA ({e}); delete it to have a new one made")
    })
}

fn to_secret(authority: &Authority, namespace: &str) -> Secret {
    let data = [(CERT_KEY, authority.cert_pem()), (KEY_KEY, authority.key_pem())];
    Secret {
        metadata: ObjectMeta {
            name: Some(AUTHORITY_SECRET.into()),
            namespace: Some(namespace.into()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                crate::builders::MANAGED_BY.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(data.into_iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()),
        ..Secret::default()
    }
}

/// The authority of Secret `servicedb-ca` in `namespace`, made first if
/// there is none.
pub async fn load_or_create(client: &Client, namespace: &str) -> Result<Authority, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let read = |e: kube::Error| format!("cannot read Secret {namespace}/{AUTHORITY_SECRET}: {e}");
    if let Some(secret) = secrets.get_opt(AUTHORITY_SECRET).await.map_err(read)? {
        return from_secret(&secret);
    }
    let authority = Authority::generate(SystemTime::now()).map_err(|e| e.to_string())?;
    match secrets.create(&PostParams::default(), &to_secret(&authority, namespace)).await {
        Ok(_) => {
            tracing::info!(namespace, secret = AUTHORITY_SECRET, "created the certificate authority of database TLS");
            Ok(authority)
        }
        // Another replica was first: use its authority.
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let secret = secrets.get(AUTHORITY_SECRET).await.map_err(read)?;
            from_secret(&secret)
        }
        Err(e) => Err(format!("cannot create Secret {namespace}/{AUTHORITY_SECRET}: {e}")),
    }
}

/// Loads the authority into `ctx`, trying again every 10 s until it is
/// loaded or the operator stops.
pub async fn keep_loading(ctx: std::sync::Arc<super::Context>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let namespace = ctx.settings.operator_namespace.clone();
    loop {
        match load_or_create(&ctx.client, &namespace).await {
            Ok(authority) => return ctx.set_authority(authority),
            Err(message) => tracing::warn!(%message, "the certificate authority of database TLS is not available yet"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_holds_what_reads_back_as_the_same_authority() {
        let authority = Authority::generate(SystemTime::now()).unwrap();
        let secret = to_secret(&authority, "servicedb-system");
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        let again = from_secret(&secret).unwrap();
        assert_eq!(again.cert_pem(), authority.cert_pem());
        let mut broken = secret;
        broken.data.as_mut().unwrap().insert(KEY_KEY.into(), ByteString(b"nonsense".to_vec()));
        assert!(from_secret(&broken).unwrap_err().contains("delete it"), "says how to recover");
    }
}

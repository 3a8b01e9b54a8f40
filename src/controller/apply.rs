//! Server-side apply that writes only when the live object differs from the
//! desired one, so that a steady state makes zero write requests.

use super::error::Error;
use crate::api::quantity;
use crate::builders::DESIRED_HASH_ANNOTATION;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Debug;

/// The one field manager of every child the operator applies.
pub const FIELD_MANAGER: &str = "servicedb";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Unchanged,
    Written,
}

/// The desired object with a hash of itself in an annotation: the hash tells
/// a changed desired state (including removed fields) from drift, which the
/// subset comparison in [`matches`] catches.
pub fn with_desired_hash<K: Resource + Serialize>(mut desired: K) -> Result<K, Error> {
    let json = serde_json::to_vec(&desired).map_err(Error::Serialize)?;
    let hash = format!("{:x}", Sha256::digest(&json));
    desired.meta_mut().annotations.get_or_insert_default().insert(DESIRED_HASH_ANNOTATION.to_string(), hash);
    Ok(desired)
}

/// Whether every field of `desired` has the same value in `live`. Fields the
/// API server defaults are ignored; lists must match element by element;
/// quantities compare by amount ("0.5" equals the canonical "500m").
pub fn matches(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => matches(dv, lv),
            None => is_empty(dv),
        }),
        (Value::Object(d), Value::Null) => d.is_empty(),
        (Value::Array(d), Value::Array(l)) => d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| matches(dv, lv)),
        (Value::Array(d), Value::Null) => d.is_empty(),
        (Value::String(d), Value::String(l)) => d == l || quantity::same(d, l),
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (d, l) => d == l,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A JSON merge patch (RFC 7386) that turns `old` into `new`: keys missing
/// from `new` become `null`, so that a field that went away is removed
/// rather than left behind.
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = serde_json::Map::new();
            for (key, value) in n {
                patch.insert(key.clone(), o.get(key).map_or_else(|| value.clone(), |old| merge_patch(old, value)));
            }
            for key in o.keys().filter(|k| !n.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        (_, new) => new.clone(),
    }
}

fn describe<K: Resource<DynamicType = ()>>(name: &str) -> String {
    format!("{} {name}", K::kind(&()))
}

/// Applies `desired` (already hashed) unless `live` matches it; returns the
/// object as the API server now has it.
pub async fn apply<K>(api: &Api<K>, desired: &K, live: Option<K>) -> Result<(Applied, K), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
{
    let name = desired.name_any();
    let to_json = |o: &K| serde_json::to_value(o).map_err(Error::Serialize);
    if let Some(live) = live
        && matches(&to_json(desired)?, &to_json(&live)?)
    {
        return Ok((Applied::Unchanged, live));
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let written =
        api.patch(&name, &params, &Patch::Apply(desired)).await.map_err(Error::kube("apply", describe::<K>(&name)))?;
    Ok((Applied::Written, written))
}

/// GETs a child; a missing one is `None`.
pub async fn get<K>(api: &Api<K>, name: &str) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned,
{
    api.get_opt(name).await.map_err(Error::kube("get", describe::<K>(name)))
}

/// Deletes a child that is no longer wanted, but only if this owner controls it.
pub async fn delete_owned<K>(api: &Api<K>, name: &str, owner_uid: &str) -> Result<Applied, Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned,
{
    let Some(live) = get(api, name).await? else { return Ok(Applied::Unchanged) };
    let ours = live.owner_references().iter().any(|o| o.uid == owner_uid && o.controller == Some(true));
    if !ours {
        return Ok(Applied::Unchanged);
    }
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(Applied::Written),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Applied::Unchanged),
        Err(e) => Err(Error::kube("delete", describe::<K>(name))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_merge_patch_removes_what_went_away() {
        let old = json!({"last": {"job": "a", "message": "failed"}, "phase": "Ready", "gone": 1});
        let new = json!({"last": {"job": "b"}, "phase": "Ready"});
        let patch = merge_patch(&old, &new);
        assert_eq!(patch, json!({"last": {"job": "b", "message": null}, "phase": "Ready", "gone": null}));
    }

    #[test]
    fn defaults_added_by_the_server_are_not_drift() {
        let desired = json!({"spec": {"ports": [{"port": 5432, "name": "postgres"}]}});
        let live = json!({"spec": {"ports": [{"port": 5432, "name": "postgres", "protocol": "TCP"}], "clusterIP": "10.96.0.9"}});
        assert!(matches(&desired, &live));
    }

    #[test]
    fn changed_values_extra_list_items_and_missing_fields_are_drift() {
        let desired = json!({"spec": {"replicas": 1, "ingress": [{"ports": [{"port": 5432}]}]}});
        assert!(!matches(&desired, &json!({"spec": {"replicas": 0, "ingress": [{"ports": [{"port": 5432}]}]}})));
        assert!(!matches(&desired, &json!({"spec": {"replicas": 1, "ingress": [{"ports": [{"port": 5432}]}, {}]}})));
        assert!(!matches(&desired, &json!({"spec": {"replicas": 1, "ingress": [{"ports": [{"port": 1}]}]}})));
        assert!(!matches(&desired, &json!({"spec": {"replicas": 1}})));
    }

    #[test]
    fn empty_desired_values_match_absent_ones_and_quantities_match_by_amount() {
        assert!(matches(&json!({"a": {}, "b": [], "c": null}), &json!({})));
        assert!(matches(&json!({"cpu": "0.5"}), &json!({"cpu": "500m"})));
        assert!(!matches(&json!({"cpu": "1"}), &json!({"cpu": "500m"})));
    }

    #[test]
    fn the_hash_changes_when_a_field_is_removed() {
        use k8s_openapi::api::core::v1::ConfigMap;
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("x".into());
        cm.data = Some([("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())].into());
        let full = with_desired_hash(cm.clone()).unwrap();
        cm.data.as_mut().unwrap().remove("b");
        let smaller = with_desired_hash(cm).unwrap();
        let hash = |o: &ConfigMap| o.annotations()[DESIRED_HASH_ANNOTATION].clone();
        assert_ne!(hash(&full), hash(&smaller));
        // The live object still has both keys, yet the new desired state differs.
        assert!(!matches(&serde_json::to_value(&smaller).unwrap(), &serde_json::to_value(&full).unwrap()));
    }
}

//! Small constructors for container environment variables. They live with
//! the engines, which describe their containers' env; the builders use them
//! too (the dependency goes build -> engine, never back).

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};

pub fn env_value(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.to_string(), value: Some(value.to_string()), ..EnvVar::default() }
}

pub fn env_from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    secret_key(name, secret, key, false)
}

/// Unset when the Secret has no such key.
pub fn optional_env_from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    secret_key(name, secret, key, true)
}

fn secret_key(name: &str, secret: &str, key: &str, optional: bool) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_string(),
                key: key.to_string(),
                optional: Some(optional),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

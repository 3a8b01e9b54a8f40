//! An in-process Kubernetes API for reconcile tests: it records every request
//! and answers from an in-memory object store, so a test asserts what the
//! reconcile asked for (and in which order) rather than a scripted exchange.
//!
//! Supported: GET (object or LIST), POST, DELETE, server-side apply (merged
//! into the stored object: enough for one field manager), JSON merge patch
//! (RFC 7386, honouring a `metadata.resourceVersion` precondition) and the
//! `status` subresource. Label selectors and watches are not.

#![allow(dead_code)]

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// One request as the API server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Value,
}

impl Recorded {
    /// `apply`, `merge`, or the method in lower case.
    pub fn verb(&self) -> &'static str {
        match (&self.method, self.content_type.as_str()) {
            (&Method::PATCH, "application/apply-patch+yaml") => "apply",
            (&Method::PATCH, "application/merge-patch+json") => "merge",
            (&Method::PATCH, _) => "patch",
            (&Method::GET, _) => "get",
            (&Method::POST, _) => "post",
            (&Method::DELETE, _) => "delete",
            _ => "other",
        }
    }

    /// The plural resource and the object name, e.g. `("secrets", "orders-db-admin")`.
    pub fn target(&self) -> (String, String) {
        let rest = rest_segments(&self.path);
        let rest: Vec<&str> = rest.iter().map(String::as_str).filter(|s| *s != "status").collect();
        let rest = if rest.first() == Some(&"namespaces") && rest.len() >= 3 { &rest[2..] } else { &rest[..] };
        (rest.first().unwrap_or(&"").to_string(), rest.get(1).unwrap_or(&"").to_string())
    }

    pub fn is_status(&self) -> bool {
        self.path.ends_with("/status")
    }

    pub fn query_has(&self, pair: &str) -> bool {
        self.query.split('&').any(|p| p == pair)
    }
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    log: Vec<Recorded>,
    version: u64,
}

/// Cheap to clone; every clone sees the same store and log.
#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

/// The path segments after `/api/v1` or `/apis/<group>/<version>`.
fn rest_segments(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let skip = if segments.first() == Some(&"api") { 2 } else { 3 };
    segments.iter().skip(skip).map(|s| s.to_string()).collect()
}

/// Whether `path` names a collection rather than one object.
fn is_collection(path: &str) -> bool {
    let rest = rest_segments(path);
    if rest.first().map(String::as_str) == Some("namespaces") { rest.len() == 3 } else { rest.len() == 1 }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (key, value) in p {
                if value.is_null() {
                    t.remove(key);
                } else {
                    merge(t.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn status(code: StatusCode, reason: &str, message: String) -> (StatusCode, Value) {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "reason": reason, "message": message, "code": code.as_u16()});
    (code, body)
}

impl FakeApi {
    /// A client whose every request goes to this fake.
    pub fn client(&self) -> kube::Client {
        let fake = self.clone();
        let service = tower::service_fn(move |request: Request<kube::client::Body>| {
            let fake = fake.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let (code, answer) = fake.handle(&parts, &bytes);
                let response = Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(answer.to_string().into_bytes()))
                    .unwrap();
                Ok::<_, Infallible>(response)
            }
        });
        kube::Client::new(service, "default")
    }

    /// Stores `object` at the path of its kind, as if created by someone else.
    pub fn put(&self, path: &str, mut object: Value) {
        let mut state = self.state.lock().unwrap();
        state.version += 1;
        object["metadata"]["resourceVersion"] = json!(state.version.to_string());
        state.objects.insert(path.to_string(), object);
    }

    /// Removes the object at `path`, as if deleted by someone else.
    pub fn remove(&self, path: &str) {
        self.state.lock().unwrap().objects.remove(path);
    }

    pub fn object(&self, path: &str) -> Option<Value> {
        self.state.lock().unwrap().objects.get(path).cloned()
    }

    /// Every stored object of a resource (e.g. `statefulsets`), as a watch's
    /// initial list would deliver them.
    pub fn objects_of(&self, resource: &str) -> Vec<Value> {
        let state = self.state.lock().unwrap();
        state
            .objects
            .iter()
            .filter(|(path, _)| {
                let rest = rest_segments(path);
                rest.len() >= 2 && rest[rest.len() - 2] == resource
            })
            .map(|(_, object)| object.clone())
            .collect()
    }

    /// Every request so far, oldest first.
    pub fn log(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    fn handle(&self, parts: &http::request::Parts, bytes: &Bytes) -> (StatusCode, Value) {
        let path = parts.uri.path().to_string();
        let query = parts.uri.query().unwrap_or_default().to_string();
        let content_type =
            parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        let mut state = self.state.lock().unwrap();
        state.log.push(Recorded {
            method: parts.method.clone(),
            path: path.clone(),
            query,
            content_type: content_type.clone(),
            body: body.clone(),
        });
        let key = path.strip_suffix("/status").unwrap_or(&path).to_string();
        match parts.method {
            Method::GET if is_collection(&path) => {
                let prefix = format!("{path}/");
                let items: Vec<Value> = state
                    .objects
                    .iter()
                    .filter(|(k, _)| k.strip_prefix(&prefix).is_some_and(|name| !name.contains('/')))
                    .map(|(_, v)| v.clone())
                    .collect();
                let version = state.version.to_string();
                (
                    StatusCode::OK,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": version}, "items": items}),
                )
            }
            Method::GET => match state.objects.get(&key) {
                Some(object) => (StatusCode::OK, object.clone()),
                None => status(StatusCode::NOT_FOUND, "NotFound", format!("{key} not found")),
            },
            Method::POST => {
                let name = body["metadata"]["name"].as_str().map(String::from).unwrap_or_else(|| {
                    let prefix = body["metadata"]["generateName"].as_str().unwrap_or("object-");
                    format!("{prefix}{}", state.version + 1)
                });
                let key = format!("{path}/{name}");
                if state.objects.contains_key(&key) {
                    return status(StatusCode::CONFLICT, "AlreadyExists", format!("{key} already exists"));
                }
                let mut object = body;
                object["metadata"]["name"] = json!(name);
                state.write(key, object, StatusCode::CREATED)
            }
            Method::DELETE => match state.objects.remove(&key) {
                Some(object) => (StatusCode::OK, object),
                None => status(StatusCode::NOT_FOUND, "NotFound", format!("{key} not found")),
            },
            Method::PATCH => {
                let existing = state.objects.get(&key).cloned();
                let mut object = match (content_type.as_str(), existing) {
                    ("application/apply-patch+yaml", Some(existing)) => existing,
                    ("application/apply-patch+yaml", None) => json!({}),
                    ("application/merge-patch+json", Some(existing)) => existing,
                    ("application/merge-patch+json", None) => {
                        return status(StatusCode::NOT_FOUND, "NotFound", format!("{key} not found"));
                    }
                    (other, _) => {
                        return status(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", other.to_string());
                    }
                };
                let precondition = &body["metadata"]["resourceVersion"];
                if precondition.is_string() && *precondition != object["metadata"]["resourceVersion"] {
                    return status(StatusCode::CONFLICT, "Conflict", format!("{key} was modified"));
                }
                merge(&mut object, &body);
                state.write(key, object, StatusCode::OK)
            }
            _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", parts.method.to_string()),
        }
    }
}

impl State {
    fn write(&mut self, key: String, mut object: Value, code: StatusCode) -> (StatusCode, Value) {
        self.version += 1;
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        self.objects.insert(key, object.clone());
        (code, object)
    }
}

//! `kubectl servicedb connect NAME [-- CLIENT_ARGS]`: the engine's own
//! client on this machine, connected as the service's login through a
//! port-forward to the instance's pod (a listener on 127.0.0.1 only).
//!
//! Only for people whose RBAC lets them read the credentials Secret: that is
//! checked first (SelfSubjectAccessReview), so a refusal names the missing
//! permission instead of failing half-way.

use super::failure::Failure;
use super::target::Target;
use crate::api::Engine;
use crate::builders::secret::read_key;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::PostParams;
use std::time::Duration;

/// One permission `connect` needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    pub verb: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
    pub name: String,
    pub namespace: String,
    /// What it is for, in the refusal.
    pub why: &'static str,
}

/// Reading the credentials Secret, and port-forwarding to the pod.
pub fn needed(namespace: &str, secret: String, pod: String) -> [Permission; 2] {
    [
        Permission {
            verb: "get",
            resource: "secrets",
            subresource: None,
            name: secret,
            namespace: namespace.into(),
            why: "connect logs in with the service's credentials, so only those who may read them may connect",
        },
        Permission {
            verb: "create",
            resource: "pods",
            subresource: Some("portforward"),
            name: pod,
            namespace: namespace.into(),
            why: "connect reaches the database through a port-forward to its pod",
        },
    ]
}

/// The refusal for the permissions that were denied, or None: each one
/// named, with the `kubectl auth can-i` that checks it.
pub fn refusal(denied: &[Permission]) -> Option<Failure> {
    if denied.is_empty() {
        return None;
    }
    let resource = |p: &Permission| match p.subresource {
        Some(sub) => format!("{}/{sub}", p.resource),
        None => p.resource.to_string(),
    };
    let lines: Vec<String> = denied
        .iter()
        .map(|p| {
            format!(
                "missing permission: verb \"{}\" on resource \"{}\" named \"{}\" in namespace \"{}\" ({})",
                p.verb,
                resource(p),
                p.name,
                p.namespace,
                p.why
            )
        })
        .collect();
    // can-i takes `resource/name` or, for a subresource, `--subresource`.
    let checks: Vec<String> = denied
        .iter()
        .map(|p| match p.subresource {
            Some(sub) => format!(
                "kubectl auth can-i {} {}/{} --subresource={sub} -n {}",
                p.verb, p.resource, p.name, p.namespace
            ),
            None => format!("kubectl auth can-i {} {}/{} -n {}", p.verb, p.resource, p.name, p.namespace),
        })
        .collect();
    let (it, them) = if denied.len() == 1 { ("it", "shows it") } else { ("them", "show them") };
    Some(Failure::Forbidden(format!(
        "forbidden: {}\nask for a Role granting {it}, bound to you ({} {them})",
        lines.join("\n"),
        checks.join("; ")
    )))
}

/// The client to run: program, arguments and environment (the password
/// goes in the environment, never on the command line).
#[derive(Debug, PartialEq, Eq)]
pub struct ClientCommand {
    pub program: &'static str,
    pub args: Vec<String>,
    pub env: Vec<(&'static str, String)>,
}

pub struct Login {
    pub username: String,
    pub password: String,
    pub database: String,
    /// When the instance serves TLS: the CA file and the name the server's
    /// certificate carries (the Service's; the connection goes to a local
    /// port-forward).
    pub tls: Option<ServerTls>,
}

pub struct ServerTls {
    pub ca_file: String,
    pub server_name: String,
}

pub fn client_command(engine: Engine, login: Login, port: u16, extra: &[String]) -> ClientCommand {
    let host = "127.0.0.1".to_string();
    let (program, mut args, env) = match engine {
        Engine::Postgres => {
            let mut env = vec![
                ("PGPORT", port.to_string()),
                ("PGUSER", login.username),
                ("PGPASSWORD", login.password),
                ("PGDATABASE", login.database),
            ];
            match login.tls {
                // libpq checks the Service's name while it dials the forward.
                Some(tls) => env.extend([
                    ("PGHOST", tls.server_name),
                    ("PGHOSTADDR", host),
                    ("PGSSLMODE", "verify-full".to_string()),
                    ("PGSSLROOTCERT", tls.ca_file),
                ]),
                None => env.extend([("PGHOST", host), ("PGSSLMODE", "disable".to_string())]),
            }
            ("psql", vec![], env)
        }
        Engine::Mysql | Engine::Mariadb => {
            let mut args = vec![
                "--protocol=TCP".into(),
                format!("--host={host}"),
                format!("--port={port}"),
                format!("--user={}", login.username),
                format!("--database={}", login.database),
            ];
            if let Some(tls) = login.tls {
                args.extend([format!("--ssl-ca={}", tls.ca_file), "--ssl-verify-server-cert".into()]);
            }
            (if engine == Engine::Mysql { "mysql" } else { "mariadb" }, args, vec![("MYSQL_PWD", login.password)])
        }
        Engine::Redis => {
            let mut args = vec!["-h".into(), host, "-p".into(), port.to_string(), "--user".into(), login.username];
            args.push("--no-auth-warning".into());
            if let Some(tls) = login.tls {
                args.extend(["--tls".into(), "--cacert".into(), tls.ca_file]);
            }
            ("redis-cli", args, vec![("REDISCLI_AUTH", login.password)])
        }
    };
    args.extend(extra.iter().cloned());
    ClientCommand { program, args, env }
}

/// A CA certificate in a file of its own, removed when dropped.
struct CaFile(std::path::PathBuf);

impl CaFile {
    fn write(pem: &str) -> Result<CaFile, Failure> {
        let path = std::env::temp_dir().join(format!("servicedb-connect-{}-ca.crt", std::process::id()));
        std::fs::write(&path, pem).map_err(|e| Failure::Failed(format!("cannot write {}: {e}", path.display())))?;
        Ok(CaFile(path))
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn allowed(target: &Target, p: &Permission) -> Result<bool, Failure> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(p.namespace.clone()),
                verb: Some(p.verb.into()),
                resource: Some(p.resource.into()),
                subresource: p.subresource.map(String::from),
                name: Some(p.name.clone()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(target.client.clone());
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .map_err(Failure::kube("create", "a SelfSubjectAccessReview"))?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// Accepts local connections and forwards each to the pod's port.
async fn forward(listener: tokio::net::TcpListener, pods: Api<Pod>, pod: String, port: u16) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else { return };
        let (pods, pod) = (pods.clone(), pod.clone());
        tokio::spawn(async move {
            match pods.portforward(&pod, &[port]).await {
                Ok(mut forwarder) => {
                    if let Some(mut upstream) = forwarder.take_stream(port) {
                        let _ = tokio::io::copy_bidirectional(&mut socket, &mut upstream).await;
                    }
                    forwarder.abort();
                }
                Err(e) => eprintln!("port-forward to pod {pod} failed: {e}"),
            }
        });
    }
}

pub async fn run(target: &Target, name: &str, extra: &[String]) -> Result<(), Failure> {
    let sdb = target.instance(name).await?;
    let instance = Target::children(&sdb)?;
    let (secret_name, pod_name) = (instance.credentials_secret_name(), instance.pod_name());
    let mut denied = Vec::new();
    for p in needed(&target.namespace, secret_name.clone(), pod_name.clone()) {
        if !allowed(target, &p).await? {
            denied.push(p);
        }
    }
    if let Some(refused) = refusal(&denied) {
        return Err(refused);
    }
    let secret = target
        .api::<Secret>()
        .get(&secret_name)
        .await
        .map_err(Failure::kube("get", &format!("Secret {}/{secret_name}", target.namespace)))?;
    let key =
        |k: &str| read_key(&secret, k).ok_or_else(|| Failure::Failed(format!("Secret {secret_name} has no key {k}")));
    // With TLS, the client checks the server against the Secret's CA, kept
    // in a private file while it runs.
    let ca = match read_key(&secret, crate::engine::CA_KEY) {
        Some(pem) => Some(CaFile::write(&pem)?),
        None => None,
    };
    let tls = ca.as_ref().map(|file| ServerTls { ca_file: file.path(), server_name: instance.host() });
    let login = Login { username: key("username")?, password: key("password")?, database: key("database")?, tls };
    let pods = target.api::<Pod>();
    let pod =
        pods.get_opt(&pod_name).await.map_err(Failure::kube("get", &format!("pod {pod_name}")))?.ok_or_else(|| {
            Failure::NotFound(format!(
                "pod {pod_name} not found: is {name} provisioned? (kubectl servicedb status {name})"
            ))
        })?;
    if pod.status.and_then(|s| s.phase).as_deref() != Some("Running") {
        return Err(Failure::Failed(format!(
            "pod {pod_name} is not running (kubectl servicedb status {name} says why)"
        )));
    }
    let port = crate::engine::for_kind(sdb.spec.engine).port().0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure::Failed(format!("cannot listen on 127.0.0.1: {e}")))?;
    let local = listener.local_addr().map_err(|e| Failure::Failed(e.to_string()))?.port();
    let forwarding = tokio::spawn(forward(listener, pods, pod_name.clone(), port));
    let command = client_command(sdb.spec.engine, login, local, extra);
    eprintln!("connecting to {pod_name}:{port} through 127.0.0.1:{local} with {}", command.program);
    let status = tokio::process::Command::new(command.program)
        .args(&command.args)
        .envs(command.env.iter().map(|(k, v)| (*k, v.as_str())))
        .status()
        .await;
    forwarding.abort();
    // Let open forwards close before the process exits.
    tokio::time::sleep(Duration::from_millis(50)).await;
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Failure::Failed(format!("{} exited with {s}", command.program))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Failure::NotFound(format!(
            "{} is not on your PATH: install the {} client",
            command.program,
            sdb.spec.engine.as_str()
        ))),
        Err(e) => Err(Failure::Failed(format!("cannot run {}: {e}", command.program))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> Login {
        Login { username: "orders".into(), password: "s3cret".into(), database: "orders".into(), tls: None }
    }

    #[test]
    fn the_password_travels_in_the_environment_and_extra_args_go_last() {
        let extra = vec!["-c".to_string(), "select current_user".to_string()];
        let psql = client_command(Engine::Postgres, login(), 40000, &extra);
        assert_eq!(psql.program, "psql");
        assert_eq!(psql.args, extra);
        assert!(psql.env.contains(&("PGPASSWORD", "s3cret".into())) && psql.env.contains(&("PGPORT", "40000".into())));
        let maria = client_command(Engine::Mariadb, login(), 40000, &extra);
        assert_eq!(maria.program, "mariadb");
        assert!(maria.args.iter().all(|a| !a.contains("s3cret")));
        assert_eq!(maria.args.last().map(String::as_str), Some("select current_user"));
        let redis = client_command(Engine::Redis, login(), 40000, &[]);
        assert_eq!((redis.program, redis.env.clone()), ("redis-cli", vec![("REDISCLI_AUTH", "s3cret".to_string())]));
        assert!(redis.args.windows(2).any(|w| w == ["--user", "orders"]));
    }

    #[test]
    fn a_refusal_names_the_permission_and_the_secret() {
        assert!(refusal(&[]).is_none());
        let [secret, _] = needed("shop", "orders-db-credentials".into(), "orders-db-0".into());
        let refused = refusal(&[secret]).unwrap();
        assert_eq!(refused.code(), 4);
        let text = refused.to_string();
        assert!(
            text.contains("verb \"get\" on resource \"secrets\" named \"orders-db-credentials\" in namespace \"shop\""),
            "{text}"
        );
        assert!(text.contains("kubectl auth can-i get secrets/orders-db-credentials -n shop shows it"), "{text}");
        let both = refusal(&needed("shop", "orders-db-credentials".into(), "orders-db-0".into())).unwrap().to_string();
        assert_eq!(both.matches("missing permission: ").count(), 2, "{both}");
        assert!(
            both.contains(
                "verb \"create\" on resource \"pods/portforward\" named \"orders-db-0\" in namespace \"shop\""
            ),
            "{both}"
        );
        assert!(
            both.contains("kubectl auth can-i create pods/orders-db-0 --subresource=portforward -n shop show them"),
            "{both}"
        );
    }
}

//! One engine on the real node: the database pod really starts under
//! `restricted`, the owning service's pod logs in with the Secret, and the
//! NetworkPolicy is proven with real connections, each verdict compared with
//! netpol-analyzer's: a disagreement fails the scenario.

use super::client::{ClientPod, connects, exec, secret_value, verdict};
use super::env::{MONITORING_NAMESPACE, OPERATOR_NAMESPACE, PodEnv, STRANGERS};
use crate::analyzer::analyze;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, wait_for};
use std::time::Duration;

#[derive(Clone, Copy)]
pub struct EngineCase {
    /// Also the database container's name in the StatefulSet.
    pub engine: &'static str,
    pub version: &'static str,
    pub namespace: &'static str,
    pub port: u16,
    pub metrics_port: u16,
    /// The exporter's metric that is 1 while it can log in.
    pub up_metric: &'static str,
    /// Run in the owner's pod with the Secret as DB_* env; prints the login.
    pub whoami: &'static str,
    /// The owner's login without TLS: refused.
    pub plain: &'static str,
}

pub const POSTGRES: EngineCase = EngineCase {
    engine: "postgres",
    version: "15",
    namespace: "pods-postgres",
    port: 5432,
    metrics_port: 9187,
    up_metric: "pg_up",
    whoami: r#"psql "$DB_URI" -qtA -v ON_ERROR_STOP=1 -c 'create table if not exists orders (id int)' -c 'insert into orders values (1)' -c 'select current_user from orders limit 1'"#,
    plain: r#"PGPASSWORD="$DB_PASSWORD" psql "host=$DB_HOST port=$DB_PORT user=$DB_USERNAME dbname=$DB_DATABASE sslmode=disable" -tAc 'select 1'"#,
};

pub const MARIADB: EngineCase = EngineCase {
    engine: "mariadb",
    version: "10.11",
    namespace: "pods-mariadb",
    port: 3306,
    metrics_port: 9104,
    up_metric: "mysql_up",
    whoami: r#"MYSQL_PWD="$DB_PASSWORD" mariadb --ssl-ca="$DB_CA" --ssl-verify-server-cert -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USERNAME" "$DB_DATABASE" -N -e 'create table if not exists orders (id int); insert into orders values (1); select substring_index(current_user(), "@", 1)'"#,
    plain: r#"MYSQL_PWD="$DB_PASSWORD" mariadb --skip-ssl -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USERNAME" "$DB_DATABASE" -N -e 'select 1'"#,
};

pub const REDIS: EngineCase = EngineCase {
    engine: "redis",
    version: "7.2",
    namespace: "pods-redis",
    port: 6379,
    metrics_port: 9121,
    up_metric: "redis_up",
    whoami: r#"redis-cli --tls --cacert "$DB_CA" -h "$DB_HOST" -p "$DB_PORT" --user "$DB_USERNAME" --pass "$DB_PASSWORD" --no-auth-warning SET orders 1 >/dev/null && redis-cli --tls --cacert "$DB_CA" -h "$DB_HOST" -p "$DB_PORT" --user "$DB_USERNAME" --pass "$DB_PASSWORD" --no-auth-warning ACL WHOAMI"#,
    plain: r#"redis-cli -h "$DB_HOST" -p "$DB_PORT" --user "$DB_USERNAME" --pass "$DB_PASSWORD" --no-auth-warning PING | grep -x PONG"#,
};

fn sdb(case: &EngineCase) -> String {
    format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: {ns}}}\nspec:\n  engine: {engine}\n  version: \"{version}\"\n  service: {{name: orders, serviceAccountName: orders}}\n  storage: {{size: 1Gi}}\n  resources: {{requests: {{cpu: 10m, memory: 64Mi}}}}\n  deletionPolicy: Delete\n",
        ns = case.namespace,
        engine = case.engine,
        version = case.version,
    )
}

/// A verdict of the analyzer for `src` -> `dst` on `port`, from its listing.
fn analyzer_allows(listing: &str, src: &str, dst: &str, port: u16) -> bool {
    listing.lines().any(|line| {
        let Some((from, rest)) = line.split_once(" => ") else { return false };
        let Some((to, conns)) = rest.split_once(" : ") else { return false };
        from.starts_with(src)
            && to.starts_with(dst)
            && (conns.trim() == "All Connections"
                || conns.split(',').any(|c| {
                    let c = c.trim();
                    let Some(ports) = c.strip_prefix("TCP ") else { return false };
                    match ports.split_once('-') {
                        Some((lo, hi)) => {
                            lo.parse::<u16>().is_ok_and(|lo| lo <= port) && hi.parse::<u16>().is_ok_and(|hi| port <= hi)
                        }
                        None => ports.parse::<u16>().is_ok_and(|p| p == port),
                    }
                }))
    })
}

pub async fn engine(env: &PodEnv, case: EngineCase) -> Outcome {
    let ns = case.namespace;
    let _ = kubectl(&["-n", ns, "create", "serviceaccount", "orders"]).await;
    kubectl_apply(&sdb(&case)).await?;
    env.wait_ready(ns, "orders", Duration::from_secs(240)).await?;

    // The database pod: running, non-root, read-only root, admitted under `restricted`.
    let uid = exec(ns, "orders-db-0", Some(case.engine), "id -u").await?;
    ensure(uid.trim() != "0" && !uid.trim().is_empty(), || format!("the database runs as uid {uid}"))?;
    let writable_root = exec(ns, "orders-db-0", Some(case.engine), "touch /servicedb-probe").await;
    ensure(writable_root.is_err(), || "the database container could write to its root filesystem".into())?;
    let db_ip = kubectl(&["-n", ns, "get", "pod", "orders-db-0", "-o", "jsonpath={.status.podIP}"]).await?;
    let host = format!("orders-db.{ns}.svc");

    let owner = ClientPod {
        namespace: ns,
        name: "orders-app",
        labels: "{app.kubernetes.io/name: orders}",
        service_account: Some("orders"),
        credentials: Some("orders-db-credentials"),
    };
    // Another service of the same namespace, even holding the Secret's values.
    let billing = ClientPod {
        namespace: ns,
        name: "billing-app",
        labels: "{app.kubernetes.io/name: billing}",
        service_account: None,
        credentials: Some("orders-db-credentials"),
    };
    let stranger_name = format!("orders-{}", case.engine);
    let stranger = ClientPod {
        namespace: STRANGERS,
        name: &stranger_name,
        labels: "{app.kubernetes.io/name: orders}",
        service_account: None,
        credentials: None,
    };
    let scraper_name = format!("scraper-{}", case.engine);
    let scraper = ClientPod {
        namespace: MONITORING_NAMESPACE,
        name: &scraper_name,
        labels: "{app.kubernetes.io/name: prometheus}",
        service_account: None,
        credentials: None,
    };
    for pod in [&owner, &billing, &stranger, &scraper] {
        pod.start().await?;
    }

    // The owner logs in with the Secret, through Service DNS.
    let username = secret_value(env, ns, "orders-db-credentials", "username").await?;
    let login = wait_for("the owner's login", Duration::from_secs(30), || async {
        exec(ns, "orders-app", None, case.whoami).await.ok()
    })
    .await?;
    ensure(login.trim() == username, || format!("the owner's pod logged in as {login:?}, expected {username:?}"))?;
    // That was over TLS, verified with the Secret's ca.crt; without TLS the
    // same login is refused.
    let plain = exec(ns, "orders-app", None, case.plain).await;
    ensure(plain.is_err(), || format!("the owner's login without TLS got in: {plain:?}"))?;
    // With the same password, another service's pod cannot even connect.
    let stolen = exec(ns, "billing-app", None, case.whoami).await;
    ensure(stolen.is_err(), || format!("another service's pod logged in with the owner's password: {stolen:?}"))?;

    // Real verdicts, each next to the analyzer's.
    let checks: [(&str, &str, &str, &str, u16, bool); 5] = [
        ("owner", ns, "orders-app", &host, case.port, true),
        ("another service, same namespace", ns, "billing-app", &host, case.port, false),
        ("the owner's labels in another namespace", STRANGERS, &stranger_name, &host, case.port, false),
        ("monitoring, metrics port", MONITORING_NAMESPACE, &scraper_name, &db_ip, case.metrics_port, true),
        ("monitoring, database port", MONITORING_NAMESPACE, &scraper_name, &db_ip, case.port, false),
    ];
    let listing = analyze(
        &env.logs,
        &format!("pods-netpol-{}", case.engine),
        &[ns, STRANGERS, MONITORING_NAMESPACE, OPERATOR_NAMESPACE, "kube-system"],
    )
    .await?;
    let db = format!("{ns}/orders-db");
    let mut disagreements = Vec::new();
    for (who, pod_ns, pod, target, port, expected) in checks {
        let real = verdict(pod_ns, pod, target, port, expected).await;
        let analyzer = analyzer_allows(&listing, &format!("{pod_ns}/{pod}"), &db, port);
        if real != expected || analyzer != expected {
            disagreements.push(format!(
                "{who} ({pod_ns}/{pod} -> {target}:{port}): expected {expected}, real {real}, analyzer {analyzer}"
            ));
        }
    }
    ensure(disagreements.is_empty(), || format!("{}; analyzer listing:\n{listing}", disagreements.join("; ")))?;

    // The database pod resolves names but opens no connection elsewhere: not
    // to the API server, by Service or by address. The owner's pod (no egress
    // policy) opens the same connections, so "closed" means the policy.
    let container = Some(case.engine);
    let dns = exec(ns, "orders-db-0", container, "getent hosts kubernetes.default.svc.cluster.local").await;
    ensure(dns.as_ref().is_ok_and(|out| out.contains("10.96.0.1")), || format!("DNS from the database pod: {dns:?}"))?;
    for (target, port) in [("10.96.0.1", 443u16), ("10.210.0.1", 16443)] {
        let probe = format!("timeout 3 bash -c 'exec 3<>/dev/tcp/{target}/{port}' && echo open || echo closed");
        let control = exec(ns, "orders-app", None, &probe).await?;
        ensure(control.trim() == "open", || format!("the owner's pod cannot reach {target}:{port} either"))?;
        let out = exec(ns, "orders-db-0", container, &probe).await?;
        ensure(out.trim() == "closed", || format!("the database pod opened a connection to {target}:{port}"))?;
    }
    // Prometheus in the monitoring namespace scrapes the exporter, which
    // logs in with the monitoring login the operator made.
    let query = format!("{}{{namespace=\"{ns}\"}}", case.up_metric);
    let script = format!(
        "curl -s -m 3 --data-urlencode 'query={query}' http://prometheus.{MONITORING_NAMESPACE}.svc:9090/api/v1/query"
    );
    let scraped = wait_for(&format!("Prometheus to report {query} = 1"), Duration::from_secs(90), || async {
        let out = exec(MONITORING_NAMESPACE, &scraper_name, None, &script).await.ok()?;
        out.contains("\"1\"]").then_some(out)
    })
    .await;
    if let Err(e) = scraped {
        let last = exec(MONITORING_NAMESPACE, &scraper_name, None, &script).await;
        return Err(format!("{e}; Prometheus answered: {last:?}"));
    }
    ensure(!connects(STRANGERS, &stranger_name, &db_ip, case.port).await, || {
        "the stranger reached the database by pod IP".into()
    })
}

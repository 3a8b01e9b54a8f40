//! The reconcile against the fake API (tests/common/fake_api.rs) with a
//! real database server behind it, where a behaviour needs the database to
//! answer: PostgreSQL from servicedb-test-support on a loopback port, which
//! the operator reaches through its endpoint overrides.

#[path = "common/fake_api.rs"]
mod fake_api;
#[path = "common/reconcile.rs"]
mod reconcile;
#[path = "common/tls.rs"]
mod tls;

use reconcile::*;
use serde_json::json;

/// The whole way on a real PostgreSQL server initialised with the
/// operator's admin password and serving the certificate the operator
/// issued (TLS logins only): an on-demand rotation sets the new login in
/// the database, then both copies of the credentials switch to it in the
/// same reconcile, and the database accepts what the delivered copy says.
#[tokio::test(flavor = "multi_thread")]
async fn an_on_demand_rotation_switches_the_delivered_copy_to_a_login_the_database_accepts() {
    let fake = with_service_elsewhere("Retain", Some("shop"));
    let dir = tempfile::tempdir().unwrap();
    let overrides = dir.path().join("endpoints.json");
    std::fs::write(&overrides, "{}").unwrap();
    let harness = context(&fake, Some(overrides.clone()));
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    let admin = decoded(&fake.object(SECRETS[0]).unwrap());
    let keys = servicedb::tls::ServerKeys {
        cert_pem: admin["tls.crt"].clone(),
        key_pem: admin["tls.key"].clone(),
        ca_pem: admin["ca.crt"].clone(),
        renew_after: 0,
    };
    let files = tls::files(&keys, Some("postgres"));
    let server = tls::postgres(&admin["password"], &files);
    // Read on every use: the operator reaches the instance here from now on.
    std::fs::write(&overrides, format!(r#"{{"shop/orders-db": "127.0.0.1:{}"}}"#, server.port)).unwrap();
    make_ready(&fake);
    reconcile_once(&fake, &harness).await.expect("the logins are administered");

    let mut sdb = fake.object(SDB).unwrap();
    sdb["metadata"]["annotations"] = json!({"servicedb.dev/rotate": "1"});
    fake.put(SDB, sdb);
    make_ready(&fake);
    reconcile_once(&fake, &harness).await.expect("the rotation succeeds");
    let [secret_path, ..] = delivered_paths();
    let own = decoded(&fake.object(SECRETS[1]).unwrap());
    let copy = decoded(&fake.object(&secret_path).unwrap());
    assert_eq!(own["username"], "orders_b", "the rotation switched to login B");
    assert_eq!(copy, own, "the delivered copy switched in the same reconcile");
    let login = server.sql_as(&copy["username"], &copy["password"], "orders", "SELECT 1");
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));
    assert_eq!(copy["ca.crt"], keys.ca_pem, "the service verifies the server with the CA it was handed");
    assert!(copy["uri"].ends_with("?sslmode=verify-full"), "{}", copy["uri"]);
}

//! Engine tier: TLS to every database on the real servers, with what the
//! operator gives each engine (the server's args and, for PostgreSQL, its
//! hba file; certificates from the operator's CA). A client without TLS is
//! refused; the operator's own connection verifies the server's certificate
//! and name; another CA and a certificate for another instance are
//! refused; a renewal, reloaded without a restart, keeps a reconnecting
//! client at zero failed connects.

mod common;
#[path = "common/tls.rs"]
mod tls_files;

use servicedb::api::Engine as Kind;
use servicedb::engine::admin::{AdminError, Login, Target, TargetTls, Wanted};
use servicedb::engine::{CA_KEY, Engine, MySql, for_kind};
use servicedb::tls::{Authority, ServerKeys, server_names};
use servicedb_test_support::tls::Files;
use servicedb_test_support::{mariadb, redis};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

const SERVICE: &str = "orders-db.shop.svc";

fn target(port: u16, ca_pem: &str, server_name: &str) -> Target {
    Target {
        host: "127.0.0.1".into(),
        port,
        tls: Some(TargetTls { ca_pem: ca_pem.into(), server_name: server_name.into() }),
    }
}

fn wanted() -> Wanted {
    let login = |name: &str| Login { username: name.into(), password: format!("{name}-Pw0123456789") };
    Wanted {
        database: "orders".into(),
        app: vec![servicedb::engine::admin::AppLogin { login: login("orders"), enabled: true }],
        monitor: login("servicedb_monitor"),
        backup: login("servicedb_backup"),
    }
}

/// The certificate the server at `port` presents, as PEM (openssl s_client).
fn served_certificate(port: u16, starttls: Option<&str>) -> String {
    let starttls = starttls.map(|p| format!("-starttls {p}")).unwrap_or_default();
    let script = format!(
        "timeout 10 openssl s_client -connect 127.0.0.1:{port} {starttls} </dev/null 2>/dev/null | openssl x509"
    );
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn same_pem(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// A server under test: its engine, port and admin login, its TLS files,
/// and how openssl starts TLS with it.
struct Served<'a> {
    kind: Kind,
    port: u16,
    admin: &'a Login,
    files: &'a Files,
    starttls: Option<&'a str>,
}

/// Everything the module comment promises, for one server serving `first`
/// of `authority`. `connect` opens one verified client connection to
/// `target` (a service's reconnect).
async fn check_engine<F, Fut>(
    served: Served<'_>,
    (authority, first): (&Authority, &ServerKeys),
    plain_refused: impl std::future::Future<Output = Result<(), String>>,
    connect: F,
) where
    F: Fn(Target) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let Served { kind, port, admin, files, starttls } = served;
    servicedb::install_crypto_provider();
    let engine = for_kind(kind);
    let plain = plain_refused.await;
    assert!(plain.is_err(), "{kind:?}: a client without TLS got in");
    // The same login over TLS gets in: TLS is what the plain one lacked.

    let ours = target(port, &first.ca_pem, SERVICE);
    engine.ensure(&ours, admin, &wanted()).await.unwrap_or_else(|e| panic!("{kind:?}: the operator verifies: {e}"));

    let stranger = Authority::generate(SystemTime::now()).unwrap();
    let other_ca = engine.ensure(&target(port, stranger.cert_pem(), SERVICE), admin, &wanted()).await;
    assert!(matches!(other_ca, Err(AdminError::Connect { .. })), "{kind:?}: another CA was trusted: {other_ca:?}");
    if kind != Kind::Redis {
        // Redis checks the address it dials, which every certificate names.
        let other_name = engine.ensure(&target(port, &first.ca_pem, "carts-db.shop.svc"), admin, &wanted()).await;
        assert!(matches!(other_name, Err(AdminError::Connect { .. })), "{kind:?}: the name was not checked");
    }

    // Renewal: same CA, new key, loaded without a restart while a client
    // reconnects every 50 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let current: common::Current = Arc::new(std::sync::Mutex::new(Default::default()));
    let connect = Arc::new(connect);
    let client = {
        let (connect, ours) = (connect.clone(), ours.clone());
        tokio::spawn(common::reconnect_loop(current, stop.clone(), move |_, _| {
            let (connect, ours) = (connect.clone(), ours.clone());
            async move { connect(ours).await }
        }))
    };
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let renewed = authority.issue(&server_names("orders-db", "shop"), SystemTime::now()).unwrap();
    tls_files::replace(files, &renewed);
    engine.reload_tls(&ours, admin).await.unwrap_or_else(|e| panic!("{kind:?}: reload: {e}"));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::SeqCst);
    let (attempts, failures) = client.await.unwrap();
    // A connect every 50 ms for 3 s: even a busy machine makes 8.
    assert!(attempts >= 8, "{kind:?}: only {attempts} connects");
    assert!(failures.is_empty(), "{kind:?}: {} of {attempts} connects failed: {:?}", failures.len(), failures);
    let served = served_certificate(port, starttls);
    assert!(same_pem(&served, &renewed.cert_pem), "{kind:?}: the renewed certificate is not served: {served}");
    eprintln!("{kind:?}: {attempts} connects through the renewal, 0 failed");

    // A certificate made for another instance is refused.
    let carts = authority.issue(&["carts-db.shop.svc".to_string()], SystemTime::now()).unwrap();
    tls_files::replace(files, &carts);
    engine.reload_tls(&ours, admin).await.unwrap_or_else(|e| panic!("{kind:?}: reload: {e}"));
    let wrong = connect(ours).await;
    assert!(wrong.is_err(), "{kind:?}: a certificate for carts-db was accepted for {SERVICE}");
}

#[tokio::test]
async fn postgres_takes_tls_logins_only_and_verifies_and_renews_without_a_failed_connect() {
    let authority = Authority::generate(SystemTime::now()).unwrap();
    let first = authority.issue(&server_names("orders-db", "shop"), SystemTime::now()).unwrap();
    let files = tls_files::files(&first, Some("postgres"));
    let password = "Admin-Pw0123456789";
    let server = tls_files::postgres(password, &files);
    let admin = Login { username: "postgres".into(), password: password.into() };
    let port = server.port;

    let plain = async {
        let config = format!("host=127.0.0.1 port={port} user=postgres password={password} dbname=postgres");
        match tokio_postgres::connect(&config, tokio_postgres::NoTls).await {
            Ok(_) => Ok(()),
            Err(e) if format!("{e:?}").contains("no encryption") => Err(e.to_string()),
            Err(e) => panic!("refused for another reason than TLS: {e:?}"),
        }
    };
    // libpq as a service uses it: verify-full with the Secret's ca.crt.
    let ca = files.path().join(CA_KEY);
    let psql = Command::new(server.bin.join("psql"))
        .arg(format!(
            "host={SERVICE} hostaddr=127.0.0.1 port={port} user=postgres dbname=postgres sslmode=verify-full sslrootcert={}",
            ca.display()
        ))
        .args(["-XAtc", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"])
        .env("PGPASSWORD", password)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "t", "{}", String::from_utf8_lossy(&psql.stderr));

    let connect = move |target: Target| async move {
        let tls = target.tls.unwrap();
        let config = servicedb::tls::client_config(&tls.ca_pem).map_err(|e| e.to_string())?;
        let mut pg = tokio_postgres::Config::new();
        pg.host(&tls.server_name)
            .hostaddr(target.host.parse().unwrap())
            .port(target.port)
            .user("postgres")
            .password(password)
            .dbname("postgres")
            .ssl_mode(tokio_postgres::config::SslMode::Require);
        let connector = tokio_postgres_rustls::MakeRustlsConnect::new((*config).clone());
        let (client, connection) = pg.connect(connector).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        client.simple_query("SELECT 1").await.map(drop).map_err(|e| e.to_string())
    };
    let served = Served { kind: Kind::Postgres, port, admin: &admin, files: &files, starttls: Some("postgres") };
    check_engine(served, (&authority, &first), plain, connect).await;
}

#[tokio::test]
async fn mariadb_requires_secure_transport_and_verifies_and_renews_without_a_failed_connect() {
    let authority = Authority::generate(SystemTime::now()).unwrap();
    let first = authority.issue(&server_names("orders-db", "shop"), SystemTime::now()).unwrap();
    let files = tls_files::files(&first, None);
    let args = tls_files::relocated(&files, &MySql::MARIADB.args(true).unwrap());
    let settings: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = mariadb::Server::start(&mariadb::Options { general_log: false, settings: &settings })
        .expect("MariaDB starts with servicedb's TLS settings");
    let password = "Admin-Pw0123456789";
    let hash = servicedb::engine::mysql_native_password_hash(password);
    server.create_root_login(mariadb::Identified::Hash(&hash)).expect("root over TCP");
    let admin = Login { username: "root".into(), password: password.into() };
    let port = server.port;
    let plain = async {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("root"))
            .pass(Some(password));
        // MariaDB says "Access denied" to a plain login under
        // require_secure_transport; the same login over TLS gets in below.
        mysql_async::Conn::new(opts).await.map(drop).map_err(|e| e.to_string())
    };
    let connect = move |target: Target| async move {
        let tls = target.tls.unwrap();
        let ssl = mysql_async::SslOpts::default()
            .with_root_certs(vec![tls.ca_pem.into_bytes().into()])
            .with_danger_tls_hostname_override(Some(tls.server_name));
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(target.host)
            .tcp_port(target.port)
            .user(Some("root"))
            .pass(Some(password))
            .ssl_opts(Some(ssl));
        let conn = mysql_async::Conn::new(opts).await.map_err(|e| e.to_string())?;
        conn.disconnect().await.map_err(|e| e.to_string())
    };
    let served = Served { kind: Kind::Mariadb, port, admin: &admin, files: &files, starttls: Some("mysql") };
    check_engine(served, (&authority, &first), plain, connect).await;
}

#[tokio::test]
async fn redis_speaks_tls_only_and_verifies_and_renews_without_a_failed_connect() {
    let authority = Authority::generate(SystemTime::now()).unwrap();
    let first = authority.issue(&server_names("orders-db", "shop"), SystemTime::now()).unwrap();
    let files = tls_files::files(&first, None);
    // The launcher passes the flags of Redis's args(true); they are pinned here.
    let args = servicedb::engine::Redis.args(true).unwrap();
    for flag in ["--tls-port", "--tls-cert-file", "--tls-key-file", "--tls-ca-cert-file", "--tls-auth-clients"] {
        assert!(args.contains(&flag.to_string()), "{flag}");
    }
    let password = "Admin-Pw0123456789";
    let acl = servicedb::engine::redis_acl_file(servicedb::engine::Logins {
        admin_username: "admin",
        admin_password: password,
        app_username: "orders",
        app_password: "App-Pw0123456789",
    });
    let server =
        redis::Server::start(&redis::Options { acl: &acl, dir: None, append_only: false, tls: Some(files.path()) })
            .expect("redis-server starts with TLS (Debian builds it with TLS)");
    let admin = Login { username: "admin".into(), password: password.into() };
    let port = server.port;
    let plain = async {
        let client = ::redis::Client::open(format!("redis://admin:{password}@127.0.0.1:{port}/")).unwrap();
        let connected = async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            ::redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        match tokio::time::timeout(Duration::from_secs(5), connected).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer in plain text".into()),
        }
    };
    let connect = move |target: Target| async move {
        use ::redis::IntoConnectionInfo;
        let tls = target.tls.unwrap();
        let address =
            ::redis::ConnectionAddr::TcpTls { host: target.host, port: target.port, insecure: false, tls_params: None };
        let info = address
            .into_connection_info()
            .map_err(|e| e.to_string())?
            .set_redis_settings(::redis::RedisConnectionInfo::default().set_username("admin").set_password(password));
        let certificates = ::redis::TlsCertificates { client_tls: None, root_cert: Some(tls.ca_pem.into()) };
        let client = ::redis::Client::build_with_tls(info, certificates).map_err(|e| e.to_string())?;
        let mut conn = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        ::redis::cmd("PING").query_async::<String>(&mut conn).await.map(drop).map_err(|e| e.to_string())
    };
    let served = Served { kind: Kind::Redis, port, admin: &admin, files: &files, starttls: None };
    check_engine(served, (&authority, &first), plain, connect).await;
}

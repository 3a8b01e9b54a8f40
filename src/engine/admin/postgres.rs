//! PostgreSQL through tokio-postgres: passwords go in as SCRAM verifiers.

use super::quote::{pg_ident, pg_literal};
use super::{AdminError, Contents, Kind, Login, Target, Wanted};
use crate::engine::postgres::{scram_sha256_verifier, scram_verifies};
use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

fn statement(step: &'static str) -> impl Fn(tokio_postgres::Error) -> AdminError {
    move |e| AdminError::Statement {
        step,
        message: e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string()),
    }
}

async fn connect(target: &Target, admin: &Login, database: &str) -> Result<Client, AdminError> {
    let mut config = tokio_postgres::Config::new();
    config.port(target.port).user(&admin.username).password(&admin.password).dbname(database);
    config.application_name("servicedb");
    let Some(tls) = &target.tls else {
        config.host(&target.host);
        let (client, connection) = super::connect_within(target, config.connect(NoTls)).await?;
        tokio::spawn(log_close(connection));
        return Ok(client);
    };
    // The certificate must carry the Service's name even when an override
    // sends the connection to another address (a name there is checked itself).
    config.ssl_mode(tokio_postgres::config::SslMode::Require);
    match target.host.parse() {
        Ok(address) => config.host(&tls.server_name).hostaddr(address),
        Err(_) => config.host(&target.host),
    };
    let client = crate::tls::client_config(&tls.ca_pem).map_err(|e| AdminError::Connect {
        target: format!("{}:{}", target.host, target.port),
        message: e.to_string(),
    })?;
    let connector = MakeRustlsConnect::new((*client).clone());
    let (client, connection) = super::connect_within(target, config.connect(connector)).await?;
    tokio::spawn(log_close(connection));
    Ok(client)
}

async fn log_close<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "postgres admin connection closed");
    }
}

/// Reloads the configuration, certificate and key files included.
pub async fn reload_tls(target: &Target, admin: &Login) -> Result<(), AdminError> {
    let client = connect(target, admin, "postgres").await?;
    client.execute("SELECT pg_reload_conf()", &[]).await.map_err(statement("pg_reload_conf()"))?;
    Ok(())
}

/// The stored password of a role: `None` when the role does not exist.
async fn stored_password(client: &Client, name: &str) -> Result<Option<String>, AdminError> {
    let rows = client
        .query("SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = $1", &[&name])
        .await
        .map_err(statement("looking up a role"))?;
    Ok(rows.first().map(|row| row.get(0)))
}

/// Creates or corrects a login: the attributes are enforced every time, the
/// password only when the stored verifier does not verify it (a fresh
/// verifier has a new salt, so re-setting it each time would churn).
async fn ensure_login(client: &Client, login: &Login, attributes: &str) -> Result<(), AdminError> {
    let role = pg_ident(&login.username);
    let fresh = || pg_literal(&scram_sha256_verifier(&login.password));
    let sql = match stored_password(client, &login.username).await? {
        None => format!("CREATE ROLE {role} {attributes} PASSWORD {}", fresh()),
        Some(stored) if scram_verifies(&stored, &login.password) => format!("ALTER ROLE {role} {attributes}"),
        Some(_) => format!("ALTER ROLE {role} {attributes} PASSWORD {}", fresh()),
    };
    client.batch_execute(&sql).await.map_err(statement("CREATE/ALTER ROLE"))
}

const ATTRIBUTES: &str = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT";
/// The backup login reads every row, row security policies included (a
/// dump that silently left rows out would not be a backup); it writes nothing.
const BACKUP_ATTRIBUTES: &str = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS INHERIT";

pub async fn ensure(target: &Target, admin: &Login, wanted: &Wanted) -> Result<(), AdminError> {
    let client = connect(target, admin, "postgres").await?;
    let owner_name = &wanted.app[0].login.username;
    let owner = pg_ident(owner_name);
    let database = pg_ident(&wanted.database);
    for (index, app) in wanted.app.iter().enumerate() {
        let login = if app.enabled { "LOGIN" } else { "NOLOGIN" };
        ensure_login(&client, &app.login, &format!("{login} {ATTRIBUTES}")).await?;
        if index > 0 {
            // The other logins act as the owner: same privileges, and the
            // objects they create belong to the owner.
            let role = pg_ident(&app.login.username);
            client
                .batch_execute(&format!(
                    "GRANT {owner} TO {role}; ALTER ROLE {role} SET role TO {}",
                    pg_literal(owner_name)
                ))
                .await
                .map_err(statement("making a login act as the owner"))?;
        }
    }
    ensure_login(&client, &wanted.monitor, &format!("LOGIN {ATTRIBUTES}")).await?;
    ensure_login(&client, &wanted.backup, BACKUP_ATTRIBUTES).await?;
    let exists = client
        .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&wanted.database])
        .await
        .map_err(statement("looking up the database"))?;
    if exists.is_empty() {
        // CREATE DATABASE cannot run in a transaction block: its own statement.
        client
            .batch_execute(&format!("CREATE DATABASE {database} OWNER {owner}"))
            .await
            .map_err(statement("CREATE DATABASE"))?;
    }
    let monitor = pg_ident(&wanted.monitor.username);
    let backup = pg_ident(&wanted.backup.username);
    // pg_read_all_data: SELECT on every table and sequence and USAGE on
    // every schema, present and future, without owning or writing any.
    let mut grants = format!(
        "ALTER DATABASE {database} OWNER TO {owner};
         REVOKE ALL ON DATABASE {database} FROM PUBLIC;
         GRANT pg_monitor TO {monitor};
         GRANT pg_read_all_data TO {backup};
         GRANT CONNECT ON DATABASE {database} TO {backup};"
    );
    for app in &wanted.app {
        grants.push_str(&format!(
            "GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {};",
            pg_ident(&app.login.username)
        ));
    }
    client.batch_execute(&grants).await.map_err(statement("granting"))?;
    Ok(())
}

/// Objects in the non-system schemas of the service's database, by kind,
/// leaving out what extensions own (they come with `CREATE EXTENSION`) and
/// the types PostgreSQL makes by itself (row types of tables, arrays,
/// multiranges). The `public` schema itself is not data: every new
/// database has it (the init script creates the database from template1).
const CONTENTS: &str = "
WITH ns AS (
  SELECT oid, nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
), ext AS (
  SELECT classid, objid FROM pg_depend WHERE deptype = 'e'
)
SELECT 'schema', count(*) FROM ns
  WHERE nspname <> 'public' AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_namespace'::regclass AND objid = ns.oid)
UNION ALL
SELECT c.relkind::text, count(*) FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
  WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_class'::regclass AND objid = c.oid)
  GROUP BY c.relkind
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, count(*) FROM pg_proc p JOIN ns ON p.pronamespace = ns.oid
  WHERE NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_proc'::regclass AND objid = p.oid)
  GROUP BY 1
UNION ALL
SELECT 'type', count(*) FROM pg_type t JOIN ns ON t.typnamespace = ns.oid
  WHERE t.typtype <> 'm'
    AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
    AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
    AND NOT EXISTS (SELECT 1 FROM ext WHERE classid = 'pg_type'::regclass AND objid = t.oid)
UNION ALL
SELECT 'large object', count(*) FROM pg_largeobject_metadata";

fn kind_of(code: &str) -> Option<Kind> {
    Some(match code {
        "schema" => Kind::Schema,
        "r" | "p" => Kind::Table,
        "f" => Kind::ForeignTable,
        "v" => Kind::View,
        "m" => Kind::MaterializedView,
        "S" => Kind::Sequence,
        "function" => Kind::Function,
        "procedure" => Kind::Procedure,
        "type" => Kind::Type,
        "large object" => Kind::LargeObject,
        _ => return None,
    })
}

pub async fn contents(target: &Target, admin: &Login, database: &str) -> Result<Contents, AdminError> {
    let client = connect(target, admin, database).await?;
    let rows = client.query(CONTENTS, &[]).await.map_err(statement("inspecting the database"))?;
    let counts = rows.iter().filter_map(|row| {
        let code: String = row.get(0);
        let count: i64 = row.get(1);
        kind_of(&code).map(|kind| (kind, u64::try_from(count).unwrap_or(0)))
    });
    Ok(Contents::of_objects(format!("database {database}"), counts))
}

/// Run by `--replace` in the same transaction as the restore script, before
/// it: everything [`contents`](crate::engine::Engine::contents) counts goes (every non-system schema, with
/// what is in it, and the large objects), and `public` comes back as a new
/// database has it (PostgreSQL 15+: owned by pg_database_owner, USAGE for
/// all). A failure anywhere later rolls this back too.
pub const REPLACE_PRELUDE: &str = "BEGIN;
DO $servicedb$
DECLARE s name;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', s);
  END LOOP;
  PERFORM pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata;
END
$servicedb$;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
COMMENT ON SCHEMA public IS 'standard public schema';
";

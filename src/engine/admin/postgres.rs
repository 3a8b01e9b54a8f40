//! PostgreSQL through tokio-postgres: passwords go in as SCRAM verifiers.

use super::quote::{pg_ident, pg_literal};
use super::{AdminError, Login, Target, Wanted};
use crate::engine::postgres::{scram_sha256_verifier, scram_verifies};
use tokio_postgres::{Client, NoTls};

fn statement(step: &'static str) -> impl Fn(tokio_postgres::Error) -> AdminError {
    move |e| AdminError::Statement {
        step,
        message: e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string()),
    }
}

async fn connect(target: &Target, admin: &Login, database: &str) -> Result<Client, AdminError> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .user(&admin.username)
        .password(&admin.password)
        .dbname(database)
        .application_name("servicedb")
        .connect_timeout(std::time::Duration::from_secs(10));
    let (client, connection) = config.connect(NoTls).await.map_err(|e| AdminError::Connect {
        target: format!("{}:{}", target.host, target.port),
        message: e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string()),
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres admin connection closed");
        }
    });
    Ok(client)
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
    let mut grants = format!(
        "ALTER DATABASE {database} OWNER TO {owner};
         REVOKE ALL ON DATABASE {database} FROM PUBLIC;
         GRANT pg_monitor TO {monitor};"
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

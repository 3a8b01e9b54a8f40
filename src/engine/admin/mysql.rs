//! MySQL and MariaDB through mysql_async. MariaDB receives password hashes;
//! MySQL 8 has no hash syntax for its default plugin, so it gets the password.

use super::quote::{mysql_ident, mysql_literal};
use super::{AdminError, Login, Target, Wanted};
use crate::engine::mysql_native_password_hash;
use mysql_async::prelude::Queryable;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MySql,
    MariaDb,
}

fn statement(step: &'static str) -> impl Fn(mysql_async::Error) -> AdminError {
    move |e| AdminError::Statement { step, message: e.to_string() }
}

fn identified_by(flavor: Flavor, password: &str) -> String {
    match flavor {
        Flavor::MariaDb => format!("IDENTIFIED BY PASSWORD {}", mysql_literal(&mysql_native_password_hash(password))),
        Flavor::MySql => format!("IDENTIFIED BY {}", mysql_literal(password)),
    }
}

pub async fn ensure(target: &Target, admin: &Login, wanted: &Wanted, flavor: Flavor) -> Result<(), AdminError> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(target.host.clone())
        .tcp_port(target.port)
        .user(Some(admin.username.clone()))
        .pass(Some(admin.password.clone()));
    let mut conn = mysql_async::Conn::new(opts).await.map_err(|e| AdminError::Connect {
        target: format!("{}:{}", target.host, target.port),
        message: e.to_string(),
    })?;
    let database = mysql_ident(&wanted.database);
    let monitor = mysql_literal(&wanted.monitor.username);
    let mut statements = vec![("CREATE DATABASE", format!("CREATE DATABASE IF NOT EXISTS {database}"))];
    for app in &wanted.app {
        let user = mysql_literal(&app.login.username);
        let lock = if app.enabled { "ACCOUNT UNLOCK" } else { "ACCOUNT LOCK" };
        statements.extend([
            (
                "CREATE USER",
                format!("CREATE USER IF NOT EXISTS {user}@'%' {}", identified_by(flavor, &app.login.password)),
            ),
            ("ALTER USER", format!("ALTER USER {user}@'%' {} {lock}", identified_by(flavor, &app.login.password))),
            ("GRANT", format!("GRANT ALL PRIVILEGES ON {database}.* TO {user}@'%'")),
        ]);
    }
    statements.extend([
        (
            "CREATE USER",
            format!("CREATE USER IF NOT EXISTS {monitor}@'%' {}", identified_by(flavor, &wanted.monitor.password)),
        ),
        ("ALTER USER", format!("ALTER USER {monitor}@'%' {}", identified_by(flavor, &wanted.monitor.password))),
        // What mysqld_exporter needs, without SELECT on application schemas.
        ("GRANT", format!("GRANT PROCESS, REPLICATION CLIENT ON *.* TO {monitor}@'%'")),
        ("GRANT", format!("GRANT SELECT ON performance_schema.* TO {monitor}@'%'")),
    ]);
    for (step, sql) in statements {
        conn.query_drop(sql).await.map_err(statement(step))?;
    }
    conn.disconnect().await.map_err(statement("disconnect"))?;
    Ok(())
}

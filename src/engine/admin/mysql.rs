//! MySQL and MariaDB through mysql_async. MariaDB receives password hashes;
//! MySQL 8 has no hash syntax for its default plugin, so it gets the password.
//!
//! A restore must leave nothing behind when its load fails, and MySQL has
//! no transactional DDL. Loading into a scratch schema and swapping was
//! tried and rejected: a dump keeps trigger statements as they were
//! written (`CREATE TRIGGER shop.audit ... ON shop.items`), so loading it
//! into a scratch schema writes into the live one. Instead, what the
//! schema holds is set aside first ([`stash`]), the dump loads into the
//! schema itself, and then either the set-aside copy is dropped
//! ([`drop_stash`]) or, after a failed load, what it left is dropped
//! ([`clear`]) and the old contents come back ([`unstash`]). What moves,
//! and how, to and from the schema `servicedb_aside_<hash of the name>`:
//! - tables: one `RENAME TABLE` statement moves them all (one statement is
//!   atomic: all or none move), another one moves them back. A table with
//!   triggers cannot change schema, so the triggers are dropped first and
//!   created again from their saved `SHOW CREATE TRIGGER` (with their
//!   sql_mode and character set).
//! - events: `ALTER EVENT ... RENAME TO` the other schema and back.
//! - views and routines: dropped, and created again from their saved
//!   `SHOW CREATE` when they must come back (views in dependency order,
//!   by retrying).
//!
//! The definitions are saved in a table of the set-aside schema, with a
//! row that says the set-aside finished, so a restore that was killed is
//! undone by the next one ([`recover`]); a named lock ([`lock`]) keeps two
//! restores of one database apart. With an empty schema the set-aside
//! schema only marks a restore in progress. While the dump loads, the
//! schema holds only what has been loaded so far: a `--replace` is not
//! invisible to clients.

use super::quote::{mysql_ident, mysql_literal};
use super::{AdminError, Contents, Kind, Login, Target, Wanted};
use crate::engine::mysql_native_password_hash;
use mysql_async::prelude::Queryable;
use sha2::{Digest, Sha256};

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

/// Who is not a routine's definer sees its body only with this: MariaDB
/// keeps routines in `mysql.proc`, MySQL 8 has a privilege for it. Decided
/// by what the server says it is (`version`), not by the spec's engine: the
/// two differ here, and a wrong guess is a syntax error.
fn routine_bodies(version: &str, user: &str) -> String {
    if version.contains("MariaDB") {
        format!("GRANT SELECT ON mysql.proc TO {user}@'%'")
    } else {
        format!("GRANT SHOW_ROUTINE ON *.* TO {user}@'%'")
    }
}

async fn connect(target: &Target, admin: &Login) -> Result<mysql_async::Conn, AdminError> {
    let ssl = target.tls.as_ref().map(|tls| {
        mysql_async::SslOpts::default()
            .with_root_certs(vec![tls.ca_pem.clone().into_bytes().into()])
            .with_danger_tls_hostname_override(Some(tls.server_name.clone()))
    });
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(target.host.clone())
        .tcp_port(target.port)
        .user(Some(admin.username.clone()))
        .pass(Some(admin.password.clone()))
        .ssl_opts(ssl);
    super::connect_within(target, mysql_async::Conn::new(opts)).await
}

/// Makes the server read its certificate and key files again: `FLUSH SSL`
/// on MariaDB, `ALTER INSTANCE RELOAD TLS` on MySQL.
pub async fn reload_tls(target: &Target, admin: &Login) -> Result<(), AdminError> {
    let mut conn = connect(target, admin).await?;
    let version: Option<String> = conn.query_first("SELECT VERSION()").await.map_err(statement("SELECT VERSION()"))?;
    let sql = if version.unwrap_or_default().contains("MariaDB") { "FLUSH SSL" } else { "ALTER INSTANCE RELOAD TLS" };
    conn.query_drop(sql).await.map_err(statement("reloading TLS"))
}

pub async fn ensure(target: &Target, admin: &Login, wanted: &Wanted, flavor: Flavor) -> Result<(), AdminError> {
    let mut conn = connect(target, admin).await?;
    let version: Option<String> = conn.query_first("SELECT VERSION()").await.map_err(statement("SELECT VERSION()"))?;
    let database = mysql_ident(&wanted.database);
    let monitor = mysql_literal(&wanted.monitor.username);
    let backup = mysql_literal(&wanted.backup.username);
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
        (
            "CREATE USER",
            format!("CREATE USER IF NOT EXISTS {backup}@'%' {}", identified_by(flavor, &wanted.backup.password)),
        ),
        ("ALTER USER", format!("ALTER USER {backup}@'%' {}", identified_by(flavor, &wanted.backup.password))),
        // What a consistent dump with routines, triggers and events reads.
        ("GRANT", format!("GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT ON {database}.* TO {backup}@'%'")),
        ("GRANT", routine_bodies(version.as_deref().unwrap_or_default(), &backup)),
    ]);
    for (step, sql) in statements {
        conn.query_drop(sql).await.map_err(statement(step))?;
    }
    conn.disconnect().await.map_err(statement("disconnect"))?;
    Ok(())
}

/// Tables (of any type), views, routines, triggers and events of a schema.
const CONTENTS: &str = "
SELECT IF(TABLE_TYPE = 'VIEW', 'view', 'table'), COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? GROUP BY 1
UNION ALL SELECT LOWER(ROUTINE_TYPE), COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? GROUP BY 1
UNION ALL SELECT 'trigger', COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?
UNION ALL SELECT 'event', COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?";

async fn count_objects(conn: &mut mysql_async::Conn, schema: &str) -> Result<Vec<(Kind, u64)>, AdminError> {
    let rows: Vec<(String, u64)> =
        conn.exec(CONTENTS, (schema, schema, schema, schema)).await.map_err(statement("inspecting the schema"))?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, count)| {
            let kind = match kind.as_str() {
                "table" => Kind::Table,
                "view" => Kind::View,
                "procedure" => Kind::Procedure,
                "function" => Kind::Function,
                "trigger" => Kind::Trigger,
                "event" => Kind::Event,
                _ => return None,
            };
            Some((kind, count))
        })
        .collect())
}

pub async fn contents(target: &Target, admin: &Login, database: &str) -> Result<Contents, AdminError> {
    let mut conn = connect(target, admin).await?;
    let counts = count_objects(&mut conn, database).await?;
    conn.disconnect().await.map_err(statement("disconnect"))?;
    Ok(Contents::of_objects(format!("database {database}"), counts))
}

/// A statement that creates an object again, with the session settings
/// it was created under.
struct Definition {
    /// PROCEDURE or FUNCTION for routines.
    kind: String,
    name: String,
    sql: String,
    sql_mode: String,
    charset_client: String,
    collation_connection: String,
}

async fn names(conn: &mut mysql_async::Conn, sql: &str, schema: &str) -> Result<Vec<String>, AdminError> {
    conn.exec(sql, (schema,)).await.map_err(statement("listing objects"))
}

async fn names_by_type(
    conn: &mut mysql_async::Conn,
    sql: &str,
    schema: &str,
) -> Result<Vec<(String, String)>, AdminError> {
    conn.exec(sql, (schema,)).await.map_err(statement("listing objects"))
}

const TABLES: &str =
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY 1";
const VIEWS: &str =
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'VIEW' ORDER BY 1";
const TRIGGERS: &str = "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?
     ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER";
const ROUTINES: &str =
    "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY 2";
const EVENTS: &str = "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY 1";

async fn show(conn: &mut mysql_async::Conn, sql: String) -> Result<mysql_async::Row, AdminError> {
    conn.query_first(sql)
        .await
        .map_err(statement("reading a definition"))?
        .ok_or_else(|| AdminError::Statement { step: "reading a definition", message: "no row".into() })
}

fn column(row: &mysql_async::Row, name: &str) -> String {
    let index = row.columns_ref().iter().position(|c| c.name_str().eq_ignore_ascii_case(name));
    index.and_then(|i| row.get_opt::<String, _>(i)).and_then(Result::ok).unwrap_or_default()
}

/// The definitions of the triggers, routines and views of `schema`.
async fn definitions(
    conn: &mut mysql_async::Conn,
    schema: &str,
) -> Result<(Vec<Definition>, Vec<Definition>, Vec<Definition>), AdminError> {
    let q = mysql_ident(schema);
    let mut triggers = Vec::new();
    for name in names(conn, TRIGGERS, schema).await? {
        let row = show(conn, format!("SHOW CREATE TRIGGER {q}.{}", mysql_ident(&name))).await?;
        triggers.push(Definition {
            kind: String::new(),
            sql: column(&row, "SQL Original Statement"),
            sql_mode: column(&row, "sql_mode"),
            charset_client: column(&row, "character_set_client"),
            collation_connection: column(&row, "collation_connection"),
            name,
        });
    }
    let mut routines = Vec::new();
    for (kind, name) in names_by_type(conn, ROUTINES, schema).await? {
        let kind = routine_kind(&kind);
        let row = show(conn, format!("SHOW CREATE {kind} {q}.{}", mysql_ident(&name))).await?;
        routines.push(Definition {
            kind: kind.to_string(),
            sql: column(&row, &format!("Create {kind}")),
            sql_mode: column(&row, "sql_mode"),
            charset_client: column(&row, "character_set_client"),
            collation_connection: column(&row, "collation_connection"),
            name,
        });
    }
    let mut views = Vec::new();
    for name in names(conn, VIEWS, schema).await? {
        let row = show(conn, format!("SHOW CREATE VIEW {q}.{}", mysql_ident(&name))).await?;
        views.push(Definition {
            kind: String::new(),
            sql: column(&row, "Create View"),
            sql_mode: String::new(),
            charset_client: column(&row, "character_set_client"),
            collation_connection: column(&row, "collation_connection"),
            name,
        });
    }
    Ok((triggers, routines, views))
}

async fn create(conn: &mut mysql_async::Conn, what: &'static str, d: &Definition) -> Result<(), AdminError> {
    let mut settings = vec![];
    if !d.sql_mode.is_empty() {
        settings.push(format!("sql_mode = {}", mysql_literal(&d.sql_mode)));
    }
    if !d.charset_client.is_empty() {
        settings.push(format!("character_set_client = {}", mysql_literal(&d.charset_client)));
    }
    if !d.collation_connection.is_empty() {
        settings.push(format!("collation_connection = {}", mysql_literal(&d.collation_connection)));
    }
    let fail = |e: mysql_async::Error| AdminError::Statement {
        step: "creating an object again",
        message: format!("{what} {}: {e}", d.name),
    };
    conn.query_drop("SET @servicedb_mode = @@SESSION.sql_mode").await.map_err(fail)?;
    if !settings.is_empty() {
        conn.query_drop(format!("SET SESSION {}", settings.join(", "))).await.map_err(fail)?;
    }
    let created = conn.query_drop(&d.sql).await.map_err(fail);
    conn.query_drop("SET SESSION sql_mode = @servicedb_mode, NAMES utf8mb4").await.map_err(fail)?;
    created
}

async fn run(conn: &mut mysql_async::Conn, step: &'static str, sql: String) -> Result<(), AdminError> {
    conn.query_drop(sql).await.map_err(statement(step))
}

/// The schema where a restore of `database` sets aside what it held; named
/// after the database (hashed: names have at most 64 characters) so that
/// a restore that was killed is found again by the next one.
fn aside_name(database: &str) -> String {
    let digest = Sha256::digest(database.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("servicedb_aside_{hex}")
}

/// In the set-aside schema: the definitions to create again, and a
/// `stashed` row once everything was set aside (only then may what is in
/// the target be dropped).
const DEFINITIONS: &str = "_servicedb_set_aside_definitions";

/// Held for a whole restore: a second restore of the same database is
/// refused instead of undoing the first one's work. Released when dropped
/// (the server frees it with the connection).
pub struct RestoreLock(#[allow(dead_code)] mysql_async::Conn);

pub async fn lock(target: &Target, admin: &Login, database: &str) -> Result<RestoreLock, AdminError> {
    let mut conn = connect(target, admin).await?;
    let got: Option<Option<i64>> =
        conn.exec_first("SELECT GET_LOCK(?, 0)", (aside_name(database),)).await.map_err(statement("GET_LOCK"))?;
    match got.flatten() {
        Some(1) => Ok(RestoreLock(conn)),
        _ => Err(AdminError::Statement {
            step: "locking the database for the restore",
            message: format!("another restore of database {database} is running; wait for it to finish"),
        }),
    }
}

async fn schema_exists(conn: &mut mysql_async::Conn, schema: &str) -> Result<bool, AdminError> {
    let found: Option<String> = conn
        .exec_first("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (schema,))
        .await
        .map_err(statement("looking up a schema"))?;
    Ok(found.is_some())
}

fn routine_kind(kind: &str) -> &'static str {
    if kind.eq_ignore_ascii_case("FUNCTION") { "FUNCTION" } else { "PROCEDURE" }
}

/// Sets aside everything `database` holds: the definitions of its
/// triggers, routines and views saved first, then triggers dropped, all
/// tables moved by one `RENAME TABLE`, events moved, views and routines
/// dropped. Returns the set-aside schema's name. With an empty database
/// the schema only marks a restore in progress.
pub async fn stash(target: &Target, admin: &Login, database: &str) -> Result<String, AdminError> {
    let mut conn = connect(target, admin).await?;
    let aside = aside_name(database);
    let (db, old) = (mysql_ident(database), mysql_ident(&aside));
    let (triggers, routines, views) = definitions(&mut conn, database).await?;
    let tables = names(&mut conn, TABLES, database).await?;
    let events = names(&mut conn, EVENTS, database).await?;
    run(&mut conn, "CREATE DATABASE (set aside)", format!("CREATE DATABASE {old}")).await?;
    let moved = async {
        run(
            &mut conn,
            "CREATE TABLE (definitions)",
            format!(
                "CREATE TABLE {old}.{} (seq INT PRIMARY KEY, what VARCHAR(16) NOT NULL, kind VARCHAR(16) NOT NULL,
                 name VARCHAR(64) NOT NULL, body LONGTEXT NOT NULL, sql_mode TEXT NOT NULL,
                 charset_client VARCHAR(64) NOT NULL, collation_connection VARCHAR(64) NOT NULL) ENGINE=InnoDB",
                mysql_ident(DEFINITIONS)
            ),
        )
        .await?;
        let insert = format!("INSERT INTO {old}.{} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", mysql_ident(DEFINITIONS));
        let all = [("trigger", &triggers), ("routine", &routines), ("view", &views)];
        let rows = all.iter().flat_map(|(what, list)| list.iter().map(move |d| (*what, d)));
        for (seq, (what, d)) in rows.enumerate() {
            let values = (seq, what, &d.kind, &d.name, &d.sql, &d.sql_mode, &d.charset_client, &d.collation_connection);
            conn.exec_drop(&insert, values).await.map_err(statement("saving definitions"))?;
        }
        // A table with triggers cannot change schema.
        for trigger in &triggers {
            run(&mut conn, "DROP TRIGGER", format!("DROP TRIGGER {db}.{}", mysql_ident(&trigger.name))).await?;
        }
        let moves: Vec<String> = tables.iter().map(|t| format!("{db}.{0} TO {old}.{0}", mysql_ident(t))).collect();
        if !moves.is_empty() {
            run(&mut conn, "RENAME TABLE", format!("RENAME TABLE {}", moves.join(", "))).await?;
        }
        for name in &events {
            let name = mysql_ident(name);
            run(&mut conn, "ALTER EVENT RENAME", format!("ALTER EVENT {db}.{name} RENAME TO {old}.{name}")).await?;
        }
        for view in &views {
            run(&mut conn, "DROP VIEW", format!("DROP VIEW {db}.{}", mysql_ident(&view.name))).await?;
        }
        for routine in &routines {
            let sql = format!("DROP {} {db}.{}", routine_kind(&routine.kind), mysql_ident(&routine.name));
            run(&mut conn, "DROP ROUTINE", sql).await?;
        }
        let done =
            format!("INSERT INTO {old}.{} VALUES (-1, 'stashed', '', '', '', '', '', '')", mysql_ident(DEFINITIONS));
        run(&mut conn, "marking the set-aside complete", done).await
    }
    .await;
    conn.disconnect().await.map_err(statement("disconnect"))?;
    match moved {
        Ok(()) => Ok(aside),
        Err(e) => {
            // Half set aside: put back what moved, then report the cause.
            let _ = unstash(target, admin, database).await;
            Err(e)
        }
    }
}

/// Undoes what a restore that was killed left: when everything had been
/// set aside, what the target holds now is a partial load and goes; then
/// the old contents come back. False when there was nothing to undo.
pub async fn recover(target: &Target, admin: &Login, database: &str) -> Result<bool, AdminError> {
    let mut conn = connect(target, admin).await?;
    let aside = aside_name(database);
    if !schema_exists(&mut conn, &aside).await? {
        conn.disconnect().await.map_err(statement("disconnect"))?;
        return Ok(false);
    }
    let stashed: Option<i64> = conn
        .query_first(format!(
            "SELECT COUNT(*) FROM {}.{} WHERE what = 'stashed'",
            mysql_ident(&aside),
            mysql_ident(DEFINITIONS)
        ))
        .await
        .unwrap_or(None);
    conn.disconnect().await.map_err(statement("disconnect"))?;
    if stashed.unwrap_or(0) > 0 {
        clear(target, admin, database).await?;
    }
    unstash(target, admin, database).await?;
    Ok(true)
}

/// Drops everything in `database` (what a failed load left there).
pub async fn clear(target: &Target, admin: &Login, database: &str) -> Result<(), AdminError> {
    let mut conn = connect(target, admin).await?;
    let db = mysql_ident(database);
    for name in names(&mut conn, VIEWS, database).await? {
        run(&mut conn, "DROP VIEW", format!("DROP VIEW IF EXISTS {db}.{}", mysql_ident(&name))).await?;
    }
    let tables: Vec<String> =
        names(&mut conn, TABLES, database).await?.iter().map(|t| format!("{db}.{}", mysql_ident(t))).collect();
    if !tables.is_empty() {
        // Triggers go with their tables; foreign keys must not stop the drop.
        run(&mut conn, "SET", "SET SESSION foreign_key_checks = 0".into()).await?;
        run(&mut conn, "DROP TABLE", format!("DROP TABLE IF EXISTS {}", tables.join(", "))).await?;
    }
    for (kind, name) in names_by_type(&mut conn, ROUTINES, database).await? {
        let sql = format!("DROP {} IF EXISTS {db}.{}", routine_kind(&kind), mysql_ident(&name));
        run(&mut conn, "DROP ROUTINE", sql).await?;
    }
    for name in names(&mut conn, EVENTS, database).await? {
        run(&mut conn, "DROP EVENT", format!("DROP EVENT IF EXISTS {db}.{}", mysql_ident(&name))).await?;
    }
    conn.disconnect().await.map_err(statement("disconnect"))
}

/// Puts back into `database` what [`stash`] set aside (what is not there
/// already), then drops the set-aside schema.
pub async fn unstash(target: &Target, admin: &Login, database: &str) -> Result<(), AdminError> {
    let mut conn = connect(target, admin).await?;
    let aside = aside_name(database);
    if !schema_exists(&mut conn, &aside).await? {
        return conn.disconnect().await.map_err(statement("disconnect"));
    }
    let (db, old) = (mysql_ident(database), mysql_ident(&aside));
    let present = names(&mut conn, TABLES, &aside).await?;
    let moves: Vec<String> = present
        .iter()
        .filter(|t| *t != DEFINITIONS)
        .map(|t| format!("{old}.{0} TO {db}.{0}", mysql_ident(t)))
        .collect();
    if !moves.is_empty() {
        run(&mut conn, "RENAME TABLE", format!("RENAME TABLE {}", moves.join(", "))).await?;
    }
    for name in names(&mut conn, EVENTS, &aside).await? {
        let name = mysql_ident(&name);
        run(&mut conn, "ALTER EVENT RENAME", format!("ALTER EVENT {old}.{name} RENAME TO {db}.{name}")).await?;
    }
    let saved: Vec<(String, String, String, String, String, String, String)> =
        if present.iter().any(|t| t == DEFINITIONS) {
            conn.query(format!(
                "SELECT what, kind, name, body, sql_mode, charset_client, collation_connection FROM {old}.{}
             WHERE what <> 'stashed' ORDER BY seq",
                mysql_ident(DEFINITIONS)
            ))
            .await
            .map_err(statement("reading saved definitions"))?
        } else {
            Vec::new()
        };
    let (mut triggers, mut routines, mut views) = (Vec::new(), Vec::new(), Vec::new());
    for (what, kind, name, sql, sql_mode, charset_client, collation_connection) in saved {
        let definition = Definition { kind, name, sql, sql_mode, charset_client, collation_connection };
        match what.as_str() {
            "trigger" => triggers.push(definition),
            "routine" => routines.push(definition),
            _ => views.push(definition),
        }
    }
    run(&mut conn, "USE", format!("USE {db}")).await?;
    let routines_there: Vec<String> =
        names_by_type(&mut conn, ROUTINES, database).await?.into_iter().map(|(_, name)| name).collect();
    for routine in routines.iter().filter(|r| !routines_there.contains(&r.name)) {
        create(&mut conn, "routine", routine).await?;
    }
    let views_there = names(&mut conn, VIEWS, database).await?;
    create_views(&mut conn, views.iter().filter(|v| !views_there.contains(&v.name)).collect()).await?;
    let triggers_there = names(&mut conn, TRIGGERS, database).await?;
    for trigger in triggers.iter().filter(|t| !triggers_there.contains(&t.name)) {
        create(&mut conn, "trigger", trigger).await?;
    }
    run(&mut conn, "DROP DATABASE (set aside)", format!("DROP DATABASE {old}")).await?;
    conn.disconnect().await.map_err(statement("disconnect"))
}

/// Views may use views: creates those whose dependencies exist, repeats.
async fn create_views(conn: &mut mysql_async::Conn, mut pending: Vec<&Definition>) -> Result<(), AdminError> {
    while !pending.is_empty() {
        let before = pending.len();
        let mut failed = Vec::new();
        let mut last_error = None;
        for view in pending {
            if let Err(e) = create(conn, "view", view).await {
                last_error = Some(e);
                failed.push(view);
            }
        }
        if failed.len() == before {
            return Err(last_error.unwrap_or(AdminError::Unsupported("no view could be created".into())));
        }
        pending = failed;
    }
    Ok(())
}

/// Drops what [`stash`] set aside, once the restore is in place.
pub async fn drop_stash(target: &Target, admin: &Login, database: &str) -> Result<(), AdminError> {
    let mut conn = connect(target, admin).await?;
    let sql = format!("DROP DATABASE IF EXISTS {}", mysql_ident(&aside_name(database)));
    run(&mut conn, "DROP DATABASE (set aside)", sql).await?;
    conn.disconnect().await.map_err(statement("disconnect"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routine_bodies_follow_what_the_server_is() {
        let grant = |version| routine_bodies(version, "'servicedb_backup'");
        assert_eq!(grant("10.11.19-MariaDB-0+deb12u1"), "GRANT SELECT ON mysql.proc TO 'servicedb_backup'@'%'");
        assert_eq!(grant("8.4.3"), "GRANT SHOW_ROUTINE ON *.* TO 'servicedb_backup'@'%'");
    }
}

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
//! ([`clear`]) and the old contents come back ([`unstash`]). What moves, and how:
//! - tables: one `RENAME TABLE` statement moves them all to a
//!   `servicedb_replaced_*` schema and, to put them back, another one
//!   returns them (one statement is atomic: all or none move). A table
//!   with triggers cannot change schema, so the triggers are dropped first
//!   and created again from `SHOW CREATE TRIGGER` (with their sql_mode and
//!   character set).
//! - events: `ALTER EVENT ... RENAME TO` the other schema and back.
//! - views and routines: dropped, and created again from `SHOW CREATE`
//!   only when they must come back (views in dependency order, by retrying).
//!
//! With an empty schema nothing is set aside. While the dump loads, the
//! schema holds only what has been loaded so far; a `--replace` is not
//! invisible to clients. If the process is killed mid-load, the
//! `servicedb_replaced_*` schema keeps the old tables.

use super::quote::{mysql_ident, mysql_literal};
use super::{AdminError, Contents, Kind, Login, Target, Wanted};
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

async fn connect(target: &Target, admin: &Login) -> Result<mysql_async::Conn, AdminError> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(target.host.clone())
        .tcp_port(target.port)
        .user(Some(admin.username.clone()))
        .pass(Some(admin.password.clone()));
    mysql_async::Conn::new(opts)
        .await
        .map_err(|e| AdminError::Connect { target: format!("{}:{}", target.host, target.port), message: e.to_string() })
}

pub async fn ensure(target: &Target, admin: &Login, wanted: &Wanted, flavor: Flavor) -> Result<(), AdminError> {
    let mut conn = connect(target, admin).await?;
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

fn random_suffix() -> String {
    let mut bytes = [0u8; 4];
    // Uniqueness matters only against a concurrent restore of the same server.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// What a schema held before a restore, set aside: its tables and events
/// in a schema of their own, the definitions of the rest.
#[derive(Default)]
pub struct Stash {
    schema: Option<String>,
    tables: Vec<String>,
    events: Vec<String>,
    triggers: Vec<Definition>,
    routines: Vec<Definition>,
    views: Vec<Definition>,
}

impl Stash {
    /// The schema holding the old tables, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
}

fn routine_kind(kind: &str) -> &'static str {
    if kind.eq_ignore_ascii_case("FUNCTION") { "FUNCTION" } else { "PROCEDURE" }
}

/// Sets aside everything `database` holds (nothing to do when it is empty):
/// definitions read first, then triggers dropped, all tables moved by one
/// `RENAME TABLE`, events moved, views and routines dropped.
pub async fn stash(target: &Target, admin: &Login, database: &str) -> Result<Stash, AdminError> {
    let mut conn = connect(target, admin).await?;
    let (triggers, routines, views) = definitions(&mut conn, database).await?;
    let tables = names(&mut conn, TABLES, database).await?;
    let events = names(&mut conn, EVENTS, database).await?;
    let mut stash = Stash { schema: None, tables, events, triggers, routines, views };
    if stash.tables.is_empty()
        && stash.events.is_empty()
        && stash.triggers.is_empty()
        && stash.routines.is_empty()
        && stash.views.is_empty()
    {
        return Ok(stash);
    }
    let aside = format!("servicedb_replaced_{}", random_suffix());
    let (db, old) = (mysql_ident(database), mysql_ident(&aside));
    run(&mut conn, "CREATE DATABASE (set aside)", format!("CREATE DATABASE {old}")).await?;
    stash.schema = Some(aside);
    let moved = async {
        // A table with triggers cannot change schema.
        for trigger in &stash.triggers {
            run(&mut conn, "DROP TRIGGER", format!("DROP TRIGGER {db}.{}", mysql_ident(&trigger.name))).await?;
        }
        let moves: Vec<String> =
            stash.tables.iter().map(|t| format!("{db}.{0} TO {old}.{0}", mysql_ident(t))).collect();
        if !moves.is_empty() {
            run(&mut conn, "RENAME TABLE", format!("RENAME TABLE {}", moves.join(", "))).await?;
        }
        for name in &stash.events {
            let name = mysql_ident(name);
            run(&mut conn, "ALTER EVENT RENAME", format!("ALTER EVENT {db}.{name} RENAME TO {old}.{name}")).await?;
        }
        for view in &stash.views {
            run(&mut conn, "DROP VIEW", format!("DROP VIEW {db}.{}", mysql_ident(&view.name))).await?;
        }
        for routine in &stash.routines {
            let sql = format!("DROP {} {db}.{}", routine_kind(&routine.kind), mysql_ident(&routine.name));
            run(&mut conn, "DROP ROUTINE", sql).await?;
        }
        Ok::<(), AdminError>(())
    }
    .await;
    conn.disconnect().await.map_err(statement("disconnect"))?;
    match moved {
        Ok(()) => Ok(stash),
        Err(e) => {
            // Half set aside: put back what moved, then report the cause.
            let _ = unstash(target, admin, database, stash).await;
            Err(e)
        }
    }
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

/// Puts back what [`stash`] set aside into the (cleared) `database`.
pub async fn unstash(target: &Target, admin: &Login, database: &str, stash: Stash) -> Result<(), AdminError> {
    let Some(aside) = &stash.schema else { return Ok(()) };
    let mut conn = connect(target, admin).await?;
    let (db, old) = (mysql_ident(database), mysql_ident(aside));
    let present = names(&mut conn, TABLES, aside).await?;
    let moves: Vec<String> = present.iter().map(|t| format!("{old}.{0} TO {db}.{0}", mysql_ident(t))).collect();
    if !moves.is_empty() {
        run(&mut conn, "RENAME TABLE", format!("RENAME TABLE {}", moves.join(", "))).await?;
    }
    for name in names(&mut conn, EVENTS, aside).await? {
        let name = mysql_ident(&name);
        run(&mut conn, "ALTER EVENT RENAME", format!("ALTER EVENT {old}.{name} RENAME TO {db}.{name}")).await?;
    }
    run(&mut conn, "USE", format!("USE {db}")).await?;
    let routines_there: Vec<String> =
        names_by_type(&mut conn, ROUTINES, database).await?.into_iter().map(|(_, name)| name).collect();
    for routine in stash.routines.iter().filter(|r| !routines_there.contains(&r.name)) {
        create(&mut conn, "routine", routine).await?;
    }
    let views_there = names(&mut conn, VIEWS, database).await?;
    create_views(&mut conn, stash.views.iter().filter(|v| !views_there.contains(&v.name)).collect()).await?;
    let triggers_there = names(&mut conn, TRIGGERS, database).await?;
    for trigger in stash.triggers.iter().filter(|t| !triggers_there.contains(&t.name)) {
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
pub async fn drop_stash(target: &Target, admin: &Login, stash: Stash) -> Result<(), AdminError> {
    let Some(aside) = &stash.schema else { return Ok(()) };
    let mut conn = connect(target, admin).await?;
    run(&mut conn, "DROP DATABASE (set aside)", format!("DROP DATABASE {}", mysql_ident(aside))).await?;
    conn.disconnect().await.map_err(statement("disconnect"))
}

//! MySQL and MariaDB through mysql_async. MariaDB receives password hashes;
//! MySQL 8 has no hash syntax for its default plugin, so it gets the password.
//!
//! Restores load into a scratch schema, then [`swap`] moves the result into
//! the service's schema; a load that fails part-way only ever touched the
//! scratch schema, which is dropped ([`drop_schema`]). What moves, and how:
//! - tables: one `RENAME TABLE` statement that moves the old tables out (to a
//!   `servicedb_replaced_*` schema, with `--replace`) and the new ones in.
//!   One statement is atomic: clients see either all old or all new tables.
//!   A table with triggers cannot change schema, so triggers are dropped
//!   first and created again after the move (their definitions were read
//!   before, with their sql_mode and character set).
//! - views: created again in the target from their definitions, with the
//!   scratch schema's name replaced by the target's (MySQL stores view text
//!   fully qualified); in dependency order, by retrying those that failed.
//! - routines: created again in the target (`SHOW CREATE` text is not
//!   qualified by schema); events: `ALTER EVENT ... RENAME TO` the target.
//! - with `--replace` the old views, routines, triggers and events are
//!   dropped (the safety backup holds them) and the old tables leave with
//!   their schema at the end.
//! Only the table move is atomic: a failure while views, routines,
//! triggers or events are created again leaves the new tables in place and
//! says which object failed.

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
    mysql_async::Conn::new(opts).await.map_err(|e| AdminError::Connect {
        target: format!("{}:{}", target.host, target.port),
        message: e.to_string(),
    })
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

/// Creates an empty scratch schema with the target's character set and
/// collation and returns its name; the target must exist.
pub async fn scratch(target: &Target, admin: &Login, database: &str) -> Result<String, AdminError> {
    let mut conn = connect(target, admin).await?;
    let charset: Option<(String, String)> = conn
        .exec_first(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (database,),
        )
        .await
        .map_err(statement("looking up the database"))?;
    let Some((charset, collation)) = charset else {
        return Err(AdminError::Statement {
            step: "looking up the database",
            message: format!("database {database} does not exist; create the instance first"),
        });
    };
    let name = format!("servicedb_restore_{}", random_suffix());
    conn.query_drop(format!(
        "CREATE DATABASE {} CHARACTER SET {} COLLATE {}",
        mysql_ident(&name),
        mysql_literal(&charset),
        mysql_literal(&collation)
    ))
    .await
    .map_err(statement("CREATE DATABASE (scratch)"))?;
    conn.disconnect().await.map_err(statement("disconnect"))?;
    Ok(name)
}

pub async fn drop_schema(target: &Target, admin: &Login, name: &str) -> Result<(), AdminError> {
    let mut conn = connect(target, admin).await?;
    conn.query_drop(format!("DROP DATABASE IF EXISTS {}", mysql_ident(name)))
        .await
        .map_err(statement("DROP DATABASE (scratch)"))?;
    conn.disconnect().await.map_err(statement("disconnect"))
}

/// A statement that creates an object again, with the session settings
/// it was created under.
struct Definition {
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
            sql: column(&row, "SQL Original Statement"),
            sql_mode: column(&row, "sql_mode"),
            charset_client: column(&row, "character_set_client"),
            collation_connection: column(&row, "collation_connection"),
            name,
        });
    }
    let mut routines = Vec::new();
    for (kind, name) in names_by_type(conn, ROUTINES, schema).await? {
        let kind = if kind.eq_ignore_ascii_case("FUNCTION") { "FUNCTION" } else { "PROCEDURE" };
        let row = show(conn, format!("SHOW CREATE {kind} {q}.{}", mysql_ident(&name))).await?;
        routines.push(Definition {
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
        step: "creating objects in the restored schema",
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

/// Moves what a restore loaded into `scratch` into `database` (see the
/// module comment); with `replace`, what `database` held goes, otherwise it
/// must still be empty. Drops `scratch` at the end.
pub async fn swap(
    target: &Target,
    admin: &Login,
    database: &str,
    scratch: &str,
    replace: bool,
) -> Result<(), AdminError> {
    let mut conn = connect(target, admin).await?;
    let (db, sc) = (mysql_ident(database), mysql_ident(scratch));
    let held = Contents::of_objects(format!("database {database}"), count_objects(&mut conn, database).await?);
    if !held.is_empty() && !replace {
        return Err(AdminError::Statement {
            step: "moving the restored tables",
            message: format!("{held} since the restore started; nothing was changed"),
        });
    }
    let (new_triggers, new_routines, new_views) = definitions(&mut conn, scratch).await?;
    let new_tables = names(&mut conn, TABLES, scratch).await?;
    let new_events = names(&mut conn, EVENTS, scratch).await?;
    let old_tables = names(&mut conn, TABLES, database).await?;
    let old_views = names(&mut conn, VIEWS, database).await?;
    let old_triggers = names(&mut conn, TRIGGERS, database).await?;
    let old_routines = names_by_type(&mut conn, ROUTINES, database).await?;
    let old_events = names(&mut conn, EVENTS, database).await?;

    for trigger in &new_triggers {
        run(&mut conn, "DROP TRIGGER (scratch)", format!("DROP TRIGGER {sc}.{}", mysql_ident(&trigger.name))).await?;
    }
    for name in &old_triggers {
        run(&mut conn, "DROP TRIGGER", format!("DROP TRIGGER {db}.{}", mysql_ident(name))).await?;
    }
    let replaced = format!("servicedb_replaced_{}", random_suffix());
    let old = mysql_ident(&replaced);
    if !old_tables.is_empty() {
        run(&mut conn, "CREATE DATABASE (replaced)", format!("CREATE DATABASE {old}")).await?;
    }
    let moves: Vec<String> = old_tables
        .iter()
        .map(|t| format!("{db}.{0} TO {old}.{0}", mysql_ident(t)))
        .chain(new_tables.iter().map(|t| format!("{sc}.{0} TO {db}.{0}", mysql_ident(t))))
        .collect();
    if !moves.is_empty() {
        run(&mut conn, "RENAME TABLE", format!("RENAME TABLE {}", moves.join(", "))).await?;
    }
    for name in &old_views {
        run(&mut conn, "DROP VIEW", format!("DROP VIEW IF EXISTS {db}.{}", mysql_ident(name))).await?;
    }
    for (kind, name) in &old_routines {
        let kind = if kind.eq_ignore_ascii_case("FUNCTION") { "FUNCTION" } else { "PROCEDURE" };
        run(&mut conn, "DROP ROUTINE", format!("DROP {kind} IF EXISTS {db}.{}", mysql_ident(name))).await?;
    }
    for name in &old_events {
        run(&mut conn, "DROP EVENT", format!("DROP EVENT IF EXISTS {db}.{}", mysql_ident(name))).await?;
    }
    conn.query_drop(format!("USE {db}")).await.map_err(statement("USE"))?;
    for routine in &new_routines {
        create(&mut conn, "routine", routine).await?;
    }
    // Views may use views: create those whose dependencies exist, repeat.
    let mut pending: Vec<Definition> = new_views
        .into_iter()
        .map(|v| Definition { sql: v.sql.replace(&format!("{sc}."), &format!("{db}.")), ..v })
        .collect();
    while !pending.is_empty() {
        let mut failed = Vec::new();
        let mut last_error = None;
        let before = pending.len();
        for view in pending {
            match create(&mut conn, "view", &view).await {
                Ok(()) => {}
                Err(e) => {
                    last_error = Some(e);
                    failed.push(view);
                }
            }
        }
        if failed.len() == before {
            return Err(last_error.unwrap_or(AdminError::Unsupported("no view could be created".into())));
        }
        pending = failed;
    }
    for trigger in &new_triggers {
        create(&mut conn, "trigger", trigger).await?;
    }
    for name in &new_events {
        let name = mysql_ident(name);
        conn.query_drop(format!("ALTER EVENT {sc}.{name} RENAME TO {db}.{name}"))
            .await
            .map_err(statement("ALTER EVENT RENAME"))?;
    }
    conn.query_drop(format!("DROP DATABASE IF EXISTS {old}")).await.map_err(statement("DROP DATABASE (replaced)"))?;
    conn.query_drop(format!("DROP DATABASE {sc}")).await.map_err(statement("DROP DATABASE (scratch)"))?;
    conn.disconnect().await.map_err(statement("disconnect"))
}

//! What the source asks the server over a plain connection: the table's
//! columns, the publication and the slot, and the table's rows in the
//! snapshot the slot exported.

use pg_walstream::PgReplicationConnection;

use super::Config;
use super::values::Kind;
use crate::connectors::ConnectorError;

/// A column of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    /// Part of the primary key.
    pub key: bool,
}

/// A plain (not replication) connection to the source's database.
pub fn connect(config: &Config) -> Result<PgReplicationConnection, ConnectorError> {
    PgReplicationConnection::connect(&config.conninfo(false))
        .map_err(|e| config.error("cannot connect", e))
}

/// `text` as an SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `name` as an SQL identifier.
pub fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The source's `schema.table` as a quoted SQL name.
pub fn table_name(config: &Config) -> String {
    let (schema, table) = config.schema_and_name();
    format!("{}.{}", identifier(schema), identifier(table))
}

/// Runs `sql`, failing with what it was `doing`.
pub fn exec(
    config: &Config,
    connection: &mut PgReplicationConnection,
    sql: &str,
    doing: &str,
) -> Result<pg_walstream::PgResult, ConnectorError> {
    connection.exec(sql).map_err(|e| config.error(doing, e))
}

/// The table's columns, in order, typed; a column of a type Weir cannot
/// read is an error naming it.
pub fn columns(
    config: &Config,
    connection: &mut PgReplicationConnection,
) -> Result<Vec<Column>, ConnectorError> {
    let (schema, table) = config.schema_and_name();
    let sql = format!(
        "SELECT a.attname, a.atttypid, a.atttypmod, t.typname,
                COALESCE(a.attnum = ANY(i.indkey), false)
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
         WHERE n.nspname = {} AND c.relname = {} AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum",
        literal(schema),
        literal(table)
    );
    let result = exec(config, connection, &sql, "cannot read the table's columns")?;
    if result.ntuples() == 0 {
        return Err(ConnectorError::Config {
            field: "table".into(),
            message: format!(
                "no table {} in database {} (or no column the user may see)",
                config.table, config.database
            ),
        });
    }
    (0..result.ntuples())
        .map(|row| {
            let text = |col| result.get_value(row, col).unwrap_or_default();
            let name = text(0);
            let oid = text(1).parse().unwrap_or(0);
            let modifier = text(2).parse().unwrap_or(-1);
            let kind = Kind::of(oid, modifier, &text(3)).map_err(|why| ConnectorError::Config {
                field: "table".into(),
                message: format!("column {name} of {} {why}", config.table),
            })?;
            Ok(Column {
                name,
                kind,
                key: text(4) == "t",
            })
        })
        .collect()
}

/// Creates the publication for the table unless it exists; an existing one
/// must publish the table.
pub fn ensure_publication(
    config: &Config,
    connection: &mut PgReplicationConnection,
) -> Result<(), ConnectorError> {
    let (schema, table) = config.schema_and_name();
    let exists = exec(
        config,
        connection,
        &format!(
            "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = {}),
                    EXISTS (SELECT 1 FROM pg_publication_tables
                            WHERE pubname = {} AND schemaname = {} AND tablename = {})",
            literal(&config.publication),
            literal(&config.publication),
            literal(schema),
            literal(table)
        ),
        "cannot read the publications",
    )?;
    let yes = |col| exists.get_value(0, col).as_deref() == Some("t");
    match (yes(0), yes(1)) {
        (true, true) => Ok(()),
        (true, false) => Err(ConnectorError::Config {
            field: "publication".into(),
            message: format!(
                "publication {} does not publish {}: ALTER PUBLICATION {} ADD TABLE {}",
                config.publication,
                config.table,
                config.publication,
                table_name(config)
            ),
        }),
        (false, _) => {
            let sql = format!(
                "CREATE PUBLICATION {} FOR TABLE {}",
                identifier(&config.publication),
                table_name(config)
            );
            exec(config, connection, &sql, "cannot create the publication")?;
            tracing::info!(publication = %config.publication, table = %config.table, "created the publication");
            Ok(())
        }
    }
}

/// Whether the slot exists.
pub fn slot_exists(
    config: &Config,
    connection: &mut PgReplicationConnection,
) -> Result<bool, ConnectorError> {
    let found = exec(
        config,
        connection,
        &format!(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = {}",
            literal(&config.slot)
        ),
        "cannot read the replication slots",
    )?;
    Ok(found.ntuples() > 0)
}

/// Drops the slot.
pub fn drop_slot(
    config: &Config,
    connection: &mut PgReplicationConnection,
) -> Result<(), ConnectorError> {
    exec(
        config,
        connection,
        &format!("SELECT pg_drop_replication_slot({})", literal(&config.slot)),
        "cannot drop the replication slot",
    )
    .map(drop)
}

/// Writes a WAL message that marks where the changes committed so far end
/// (see `until_end`); answers its LSN.
pub fn mark_the_end(
    config: &Config,
    connection: &mut PgReplicationConnection,
) -> Result<u64, ConnectorError> {
    let marked = exec(
        config,
        connection,
        &format!(
            "SELECT (pg_logical_emit_message(false, {}, {}) - '0/0')::text",
            literal(END_PREFIX),
            literal(&config.slot)
        ),
        "cannot mark the end of the changes to read (until_end)",
    )?;
    Ok(marked
        .get_value(0, 0)
        .and_then(|lsn| lsn.parse().ok())
        .unwrap_or(0))
}

/// The prefix of the messages that mark the end of a bounded run.
pub const END_PREFIX: &str = "weir-until-end";

//! `type: postgres-cdc`: change data capture from one PostgreSQL table over
//! logical replication (pgoutput, decoded by `pg_walstream`).
//!
//! The first run creates the publication (when missing) and a permanent
//! logical slot, reads the table in the snapshot the slot exported (rows
//! with `_op` `r`), then streams the changes committed after it, so no
//! change is missed or doubled between the two. Each row carries the
//! table's columns (typed from the catalog, see [`values`]) and the change's
//! `_op`, `_table`, `_lsn`, `_commit_time`, `_txid` and `_before` (the old
//! key, or the old row with `REPLICA IDENTITY FULL`, as JSON).
//!
//! The position is the end LSN of the last transaction every sink has made
//! durable: it is recorded in the state folder, then confirmed to the slot,
//! so the server may recycle the WAL before it; a restart streams from the
//! slot and skips the transactions the recorded position already covers.

mod catalog;
mod source;
mod values;

use std::path::Path;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::Deserialize;

use super::{ConnectorConfig, ConnectorError, Source, SourceConnector, config_error};

/// `type: postgres-cdc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The server's host name or address.
    #[serde(default = "default_host")]
    pub host: String,
    /// Its port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The database.
    pub database: String,
    /// A user with the REPLICATION attribute (or superuser) that may read the
    /// table and, unless they exist, create the publication and the slot.
    pub user: String,
    /// Its password (`${PGPASSWORD}`); none for trust or peer auth.
    pub password: Option<String>,
    /// `disable`, `prefer` (default), `require`, `verify-ca`, `verify-full`.
    #[serde(default = "default_sslmode")]
    pub sslmode: String,
    /// The CA certificates for `verify-ca` and `verify-full`.
    pub sslrootcert: Option<String>,
    /// The table, `schema.name` (`public.` when no schema is given).
    pub table: String,
    /// The publication to read; created for `table` when missing.
    pub publication: String,
    /// The logical replication slot; created when missing. One slot per
    /// source: a slot has one reader.
    pub slot: String,
    /// Read the table's rows first (default): without it, only the changes
    /// from the slot's creation on.
    #[serde(default = "default_true")]
    pub snapshot: bool,
    /// Most rows in one batch (a transaction is not split below eight
    /// times this).
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Longest wait for a batch to fill, in milliseconds.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
    /// End once every change committed before the run started has been
    /// read (a batch run); default: stream until stopped.
    #[serde(default)]
    pub until_end: bool,
    /// What a `TRUNCATE` of the table does to the run.
    #[serde(default)]
    pub on_truncate: OnTruncate,
}

/// What a `TRUNCATE` of the table does: it removes every row without a
/// change per row, so no row can say it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnTruncate {
    /// Stop the run after the changes before it, saying how to go on.
    #[default]
    Stop,
    /// Log it and go on: the rows it removed stay in the outputs.
    Skip,
}

fn default_host() -> String {
    "localhost".into()
}

fn default_port() -> u16 {
    5432
}

fn default_sslmode() -> String {
    "prefer".into()
}

fn default_true() -> bool {
    true
}

fn default_batch_rows() -> usize {
    8192
}

fn default_linger_ms() -> u64 {
    100
}

impl ConnectorConfig for Config {
    fn prepare(&mut self, _base_dir: &Path) -> Result<(), ConnectorError> {
        if !self.table.contains('.') {
            self.table = format!("public.{}", self.table);
        }
        if self.batch_rows == 0 {
            return Err(config_error("batch_rows", "must be at least 1"));
        }
        let modes = [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ];
        if !modes.contains(&self.sslmode.as_str()) {
            return Err(config_error(
                "sslmode",
                &format!("expected one of {}", modes.join(", ")),
            ));
        }
        for (field, name) in [("publication", &self.publication), ("slot", &self.slot)] {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Err(config_error(
                    field,
                    "use lower-case letters, digits and `_` (PostgreSQL's rule for slot names)",
                ));
            }
        }
        Ok(())
    }
}

impl Config {
    /// The table's schema and name (`prepare` gives every table a schema).
    fn schema_and_name(&self) -> (&str, &str) {
        self.table.split_once('.').expect("prepare adds a schema")
    }

    /// The libpq-style connection string; `replication=database` for the
    /// replication connection.
    fn conninfo(&self, replication: bool) -> String {
        let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
        let mut info = format!(
            "host={} port={} dbname={} user={} sslmode={}",
            quote(&self.host),
            self.port,
            quote(&self.database),
            quote(&self.user),
            self.sslmode
        );
        if let Some(password) = &self.password {
            info.push_str(&format!(" password={}", quote(password)));
        }
        if let Some(root) = &self.sslrootcert {
            info.push_str(&format!(" sslrootcert={}", quote(root)));
        }
        if replication {
            info.push_str(" replication=database");
        }
        info
    }

    /// What a server error means for this source: `doing` what, on which
    /// server.
    fn error(&self, doing: &str, source: pg_walstream::ReplicationError) -> ConnectorError {
        ConnectorError::Postgres {
            what: format!(
                "{doing} ({}@{}:{}/{})",
                self.user, self.host, self.port, self.database
            ),
            source,
        }
    }
}

/// The metadata columns every change carries after the table's own.
fn metadata_fields() -> Vec<Field> {
    vec![
        Field::new("_op", DataType::Utf8, false),
        Field::new("_table", DataType::Utf8, false),
        Field::new("_lsn", DataType::Int64, false),
        Field::new(
            "_commit_time",
            DataType::Timestamp(TimeUnit::Microsecond, Some(values::UTC.into())),
            true,
        ),
        Field::new("_txid", DataType::Int64, true),
        Field::new("_before", DataType::Utf8, true),
    ]
}

impl SourceConnector for Config {
    /// The table's columns, as the catalog has them now, then the metadata.
    fn schema(&self) -> Result<SchemaRef, ConnectorError> {
        let mut connection = catalog::connect(self)?;
        let columns = catalog::columns(self, &mut connection)?;
        Ok(schema_of(&columns))
    }

    fn resumes(&self) -> bool {
        true
    }

    fn datasets(&self) -> Vec<super::Dataset> {
        vec![super::Dataset {
            namespace: format!("postgres://{}:{}", self.host, self.port),
            name: format!("{}.{}", self.database, self.table),
        }]
    }

    fn open(
        &self,
        schema: &SchemaRef,
        position: Option<serde_json::Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        Ok(Box::new(source::CdcSource::open(self, schema, position)?))
    }
}

/// The output schema for a table of `columns`.
fn schema_of(columns: &[catalog::Column]) -> SchemaRef {
    let mut fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(&c.name, c.kind.data_type(), true))
        .collect();
    fields.extend(metadata_fields());
    std::sync::Arc::new(Schema::new(fields))
}

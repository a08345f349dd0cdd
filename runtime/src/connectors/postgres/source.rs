//! A running `postgres-cdc` source: the snapshot, read in the node's thread
//! through a cursor, then the replication stream, which a thread of its own
//! reads (and keeps alive with status updates while the pipeline is slow)
//! into a bounded channel that batches are made from.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use arrow::array::{ArrayBuilder, ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use pg_walstream::{
    CancellationToken, ChangeEvent, ColumnValue, EventType, LogicalReplicationStream,
    PgReplicationConnection, ReplicationError, ReplicationSlotOptions, ReplicationStreamConfig,
    RetryConfig, RowData, SharedLsnFeedback, StreamingMode,
};
use serde::{Deserialize, Serialize};

use super::catalog::{self, Column, END_PREFIX};
use super::values::{Kind, Value, ValueError, append};
use super::{Config, OnTruncate};
use crate::connectors::{BadRecord, ConnectorError, Source};
use crate::plugin::Poll;

/// Where the source stands: the end LSN of the last transaction in the
/// batches sent, and whether the snapshot was read whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    lsn: u64,
    snapshot_done: bool,
}

/// Changes buffered between the stream's thread and the source.
const CHANNEL_EVENTS: usize = 16_384;
/// How often the stream's thread confirms to the server while the channel
/// is full (the server drops a silent client after `wal_sender_timeout`).
const KEEPALIVE_EVERY: Duration = Duration::from_secs(5);

/// What the stream's thread sends.
enum Message {
    /// The slot is ready: the snapshot it exported (when it was created
    /// with one) and where the source confirms its progress.
    Ready {
        snapshot: Option<String>,
        feedback: Arc<SharedLsnFeedback>,
    },
    Event(Box<ChangeEvent>),
    Failed(ReplicationError),
}

/// The replication stream's thread.
struct Stream {
    events: Receiver<Message>,
    /// Tells it to start streaming once the snapshot is read.
    go: Option<tokio::sync::oneshot::Sender<()>>,
    feedback: Arc<SharedLsnFeedback>,
    cancel: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.cancel.cancel();
        drop(self.go.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The open transaction's facts, for the metadata columns.
#[derive(Debug, Clone, Copy)]
struct Transaction {
    txid: i64,
    commit_micros: i64,
    /// Already in an earlier run's output: its changes are skipped.
    skipped: bool,
}

/// Rows being gathered into a batch.
struct Rows {
    columns: Vec<Box<dyn ArrayBuilder>>,
    ops: arrow::array::StringBuilder,
    lsns: arrow::array::Int64Builder,
    commit_times: arrow::array::TimestampMicrosecondBuilder,
    txids: arrow::array::Int64Builder,
    befores: arrow::array::StringBuilder,
}

/// A running `postgres-cdc` source.
pub struct CdcSource {
    config: Config,
    schema: SchemaRef,
    columns: Vec<Column>,
    /// The plain connection: the snapshot's cursor, then catalog questions.
    connection: PgReplicationConnection,
    /// Reading the snapshot: its LSN.
    snapshot_lsn: Option<u64>,
    stream: Stream,
    rows: Rows,
    /// Where the batches sent so far end.
    sent: Position,
    /// Where the rows gathered end, once their last transaction committed.
    gathered: Position,
    transaction: Option<Transaction>,
    /// The end of what an earlier run recorded: transactions before it are
    /// skipped.
    recorded_lsn: u64,
    /// The columns of the table in the stream's last `Relation` message.
    relation: HashSet<String>,
    /// A `Relation` message met in a skipped transaction, checked against
    /// the source's columns only at the next change that is not skipped: a
    /// restart re-reads transactions it already sent, whose table may have
    /// been altered since (and the source's columns with it).
    unchecked_relation: Option<(Vec<pg_walstream::RelationColumn>, u64)>,
    /// With `until_end`: the LSN of the end marker.
    end_marker: Option<u64>,
    ended: bool,
    /// An error to report after the rows before it were sent.
    failure: Option<ConnectorError>,
}

impl CdcSource {
    /// Opens the source: resumes from the slot after `position`, or takes
    /// the snapshot anew.
    pub fn open(
        config: &Config,
        schema: &SchemaRef,
        position: Option<serde_json::Value>,
    ) -> Result<Self, ConnectorError> {
        let recorded = match position {
            Some(value) => {
                Some(
                    Position::deserialize(&value).map_err(|e| ConnectorError::Config {
                        field: "slot".into(),
                        message: format!(
                            "the recorded position {value} is not one of this source's: {e}"
                        ),
                    })?,
                )
            }
            None => None,
        };
        let mut connection = catalog::connect(config)?;
        catalog::ensure_publication(config, &mut connection)?;
        let columns = catalog::columns(config, &mut connection)?;
        let slot_exists = catalog::slot_exists(config, &mut connection)?;
        let resume = recorded.is_some_and(|p| p.snapshot_done);
        if resume && !slot_exists {
            return Err(ConnectorError::Upstream(format!(
                "slot {} is gone, so the changes after the recorded position may be too: delete the source's position file in the state folder to take a new snapshot",
                config.slot
            )));
        }
        let export = !resume && config.snapshot;
        if export && slot_exists {
            // A snapshot needs a slot created with it: this one's snapshot
            // was not read whole (or the position file was deleted).
            tracing::info!(slot = %config.slot, "no snapshot of this slot was read whole; taking a new one with a new slot");
            catalog::drop_slot(config, &mut connection)?;
        }
        let (stream, snapshot) = start_stream(config, export)?;
        // Without a snapshot to read, the stream is where the source starts.
        let recorded = recorded.unwrap_or(Position {
            lsn: 0,
            snapshot_done: !config.snapshot,
        });
        let mut source = Self {
            config: config.clone(),
            schema: schema.clone(),
            rows: Rows::new(&columns, config.batch_rows),
            columns,
            connection,
            snapshot_lsn: None,
            stream,
            sent: recorded,
            gathered: recorded,
            transaction: None,
            recorded_lsn: recorded.lsn,
            relation: HashSet::new(),
            unchecked_relation: None,
            end_marker: None,
            ended: false,
            failure: None,
        };
        match snapshot {
            Some(name) => source.begin_snapshot(&name)?,
            None => source.start_streaming()?,
        }
        Ok(source)
    }

    fn table(&self) -> &str {
        &self.config.table
    }

    /// Imports the exported snapshot and opens a cursor over the table.
    fn begin_snapshot(&mut self, name: &str) -> Result<(), ConnectorError> {
        let lsn = self.query_one(
            &format!(
                "SELECT (confirmed_flush_lsn - '0/0')::text FROM pg_replication_slots WHERE slot_name = {}",
                catalog::literal(&self.config.slot)
            ),
            "cannot read where the slot starts",
        )?;
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| catalog::identifier(&c.name))
            .collect();
        let statements = [
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY".to_string(),
            format!("SET TRANSACTION SNAPSHOT {}", catalog::literal(name)),
            format!(
                "DECLARE weir_snapshot NO SCROLL CURSOR FOR SELECT {} FROM {}",
                columns.join(", "),
                catalog::table_name(&self.config)
            ),
        ];
        for sql in &statements {
            catalog::exec(
                &self.config,
                &mut self.connection,
                sql,
                "cannot read the snapshot",
            )?;
        }
        self.snapshot_lsn = Some(lsn.parse().unwrap_or(0));
        tracing::info!(table = %self.table(), "reading the snapshot");
        Ok(())
    }

    /// The first value of the first row `sql` answers.
    fn query_one(&mut self, sql: &str, doing: &str) -> Result<String, ConnectorError> {
        let result = catalog::exec(&self.config, &mut self.connection, sql, doing)?;
        Ok(result.get_value(0, 0).unwrap_or_default())
    }

    /// Lets the stream start, and marks the end of a bounded run.
    fn start_streaming(&mut self) -> Result<(), ConnectorError> {
        if self.config.until_end {
            self.end_marker = Some(catalog::mark_the_end(&self.config, &mut self.connection)?);
        }
        if let Some(go) = self.stream.go.take() {
            let _ = go.send(());
        }
        Ok(())
    }

    /// The next rows of the snapshot, or the switch to the stream after it.
    fn next_snapshot_batch(
        &mut self,
        lsn: u64,
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<Poll, ConnectorError> {
        let fetch = format!(
            "FETCH FORWARD {} FROM weir_snapshot",
            self.config.batch_rows
        );
        let result = catalog::exec(
            &self.config,
            &mut self.connection,
            &fetch,
            "cannot read the snapshot",
        )?;
        if result.ntuples() == 0 {
            catalog::exec(
                &self.config,
                &mut self.connection,
                "COMMIT",
                "cannot end the snapshot",
            )?;
            self.snapshot_lsn = None;
            self.gathered = Position {
                lsn,
                snapshot_done: true,
            };
            self.sent = self.gathered;
            tracing::info!(table = %self.table(), "snapshot read; streaming the changes after it");
            self.start_streaming()?;
            return Ok(Poll::Wait(Duration::ZERO));
        }
        for row in 0..result.ntuples() {
            let values: Vec<Option<&[u8]>> = (0..self.columns.len() as i32)
                .map(|col| result.get_bytes(row, col))
                .collect();
            let change = Change {
                op: "r",
                lsn,
                transaction: None,
                before: None,
            };
            let table = &self.config.table;
            push_row(
                &self.columns,
                &mut self.rows,
                table,
                &change,
                |i| Ok(values[i]),
                bad,
            );
        }
        self.gathered = Position {
            lsn,
            snapshot_done: false,
        };
        self.finish_batch().map(Poll::Batch)
    }

    /// The rows gathered as a batch.
    fn finish_batch(&mut self) -> Result<RecordBatch, ConnectorError> {
        let batch = self
            .rows
            .finish(&self.schema, &self.config.table)
            .map_err(|source| ConnectorError::Arrow {
                path: self.config.table.clone().into(),
                source,
            })?;
        self.sent = self.gathered;
        Ok(batch)
    }

    /// Takes one event of the stream into the rows.
    fn take(
        &mut self,
        event: ChangeEvent,
        bad: &mut dyn FnMut(BadRecord),
    ) -> Result<(), ConnectorError> {
        let lsn = event.lsn.value();
        match event.event_type {
            EventType::Begin {
                transaction_id,
                final_lsn,
                commit_timestamp,
            } => {
                self.transaction = Some(Transaction {
                    txid: i64::from(transaction_id),
                    commit_micros: commit_timestamp.timestamp_micros(),
                    skipped: final_lsn.value() < self.recorded_lsn,
                });
            }
            EventType::Commit { end_lsn, .. } => {
                self.transaction = None;
                let end = end_lsn.value();
                if end > self.gathered.lsn {
                    self.gathered.lsn = end;
                }
            }
            EventType::Relation {
                namespace,
                relation_name,
                columns,
                ..
            } if self.is_ours(&namespace, &relation_name) => {
                self.relation = columns.iter().map(|c| c.name.to_string()).collect();
                match self.transaction.is_some_and(|t| t.skipped) {
                    true => self.unchecked_relation = Some((columns, lsn)),
                    false => {
                        self.unchecked_relation = None;
                        self.check_relation(&columns, lsn)?;
                    }
                }
            }
            EventType::Insert {
                schema,
                table,
                data,
                ..
            } if self.is_ours(&schema, &table) => {
                self.check_unchecked_relation()?;
                self.push_change("c", lsn, &data, None, bad);
            }
            EventType::Update {
                schema,
                table,
                old_data,
                new_data,
                ..
            } if self.is_ours(&schema, &table) => {
                self.check_unchecked_relation()?;
                self.push_change("u", lsn, &new_data, old_data.as_ref(), bad);
            }
            EventType::Delete {
                schema,
                table,
                old_data,
                ..
            } if self.is_ours(&schema, &table) => {
                self.check_unchecked_relation()?;
                self.push_change("d", lsn, &old_data, Some(&old_data), bad);
            }
            EventType::Truncate { tables, .. }
                if tables.iter().any(|t| self.names(t))
                    && !self.transaction.is_some_and(|t| t.skipped) =>
            {
                match self.config.on_truncate {
                    OnTruncate::Stop => {
                        self.failure = Some(ConnectorError::Upstream(format!(
                            "{} was truncated at LSN {}: a truncate removes every row without a change per row; the changes before it were sent. To go on, set `on_truncate: skip` (the rows it removed stay in the outputs), or delete this source's position (`<node>.json` in the state folder) to read the table anew (slot {} is then made anew, with a new snapshot)",
                            self.table(),
                            format_lsn(lsn),
                            self.config.slot
                        )));
                    }
                    OnTruncate::Skip => tracing::warn!(
                        table = %self.table(),
                        lsn = %format_lsn(lsn),
                        "postgres-cdc: the table was truncated; skipped (on_truncate: skip), the rows it removed stay in the outputs"
                    ),
                }
            }
            EventType::Message {
                prefix,
                content,
                message_lsn,
                ..
            } if &*prefix == END_PREFIX
                && content.as_ref() == self.config.slot.as_bytes()
                && Some(message_lsn.value()) >= self.end_marker =>
            {
                self.gathered.lsn = self.gathered.lsn.max(message_lsn.value());
                self.ended = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether `schema.table` is the source's table.
    fn is_ours(&self, schema: &str, table: &str) -> bool {
        self.config.schema_and_name() == (schema, table)
    }

    /// Whether `name` (as a truncate names it) is the source's table.
    fn names(&self, name: &str) -> bool {
        name == self.config.table
            || name.trim_matches('"').replace("\".\"", ".") == self.config.table
    }

    /// Checks a `Relation` message met in a skipped transaction, once a
    /// change that is not skipped follows it.
    fn check_unchecked_relation(&mut self) -> Result<(), ConnectorError> {
        if self.transaction.is_some_and(|t| t.skipped) {
            return Ok(());
        }
        match self.unchecked_relation.take() {
            Some((columns, lsn)) => self.check_relation(&columns, lsn),
            None => Ok(()),
        }
    }

    /// A `Relation` message: the table's columns in the changes that
    /// follow. A column the source does not have (added) or of another type
    /// stops the source, after the changes before it are sent, saying what
    /// changed; a column it has that is not there (dropped) reads as null.
    fn check_relation(
        &mut self,
        columns: &[pg_walstream::RelationColumn],
        lsn: u64,
    ) -> Result<(), ConnectorError> {
        let mut changes = Vec::new();
        for column in columns {
            match self.columns.iter().find(|c| *c.name == *column.name) {
                None => changes.push(format!("column {} was added", column.name)),
                Some(ours) => {
                    let kind = Kind::of(column.type_id, column.type_modifier, "");
                    if kind.as_ref().ok() != Some(&ours.kind) {
                        changes.push(format!(
                            "column {} changed type (type OID {}, modifier {})",
                            column.name, column.type_id, column.type_modifier
                        ));
                    }
                }
            }
        }
        for ours in &self.columns {
            if !columns.iter().any(|c| *c.name == ours.name) {
                tracing::warn!(table = %self.config.table, column = %ours.name, "the column is not in the table's changes from here on (dropped, or added after them); it reads as null");
            }
        }
        if !changes.is_empty() {
            self.failure = Some(ConnectorError::Upstream(format!(
                "{} changed at LSN {}: {}; the changes before it were sent: run the pipeline again to read the table's columns as they are now (`weir validate` shows them)",
                self.config.table,
                format_lsn(lsn),
                changes.join(", ")
            )));
        }
        Ok(())
    }

    /// Adds an insert, update or delete of the open transaction.
    fn push_change(
        &mut self,
        op: &'static str,
        lsn: u64,
        data: &RowData,
        old: Option<&RowData>,
        bad: &mut dyn FnMut(BadRecord),
    ) {
        if self.transaction.is_some_and(|t| t.skipped) || self.failure.is_some() {
            return;
        }
        let before = match (op, old) {
            ("u" | "d", Some(old)) => Some(row_json(old)),
            _ => None,
        };
        let change = Change {
            op,
            lsn,
            transaction: self.transaction,
            before,
        };
        let (columns, relation) = (&self.columns, &self.relation);
        let value = |i: usize| -> Result<Option<&[u8]>, ValueError> {
            let name = &columns[i].name;
            match data.get(name).or_else(|| old.and_then(|o| o.get(name))) {
                Some(ColumnValue::Null) => Ok(None),
                Some(ColumnValue::Text(bytes) | ColumnValue::Binary(bytes)) => {
                    Ok(Some(bytes.as_ref()))
                }
                // Only the key of a deleted row; a column not in the
                // relation (dropped) is null.
                None if op == "d" || !relation.contains(name) => Ok(None),
                None => Err(ValueError::Unsent),
            }
        };
        push_row(
            columns,
            &mut self.rows,
            &self.config.table,
            &change,
            value,
            bad,
        );
    }
}

/// Adds one change of `table` (of `columns`) to `rows`; a value that
/// cannot be read sends the change to `bad` instead.
fn push_row<'v>(
    columns: &[Column],
    rows: &mut Rows,
    table: &str,
    change: &Change,
    value: impl Fn(usize) -> Result<Option<&'v [u8]>, ValueError>,
    bad: &mut dyn FnMut(BadRecord),
) {
    let parsed: Result<Vec<Value<'v>>, (&str, ValueError)> = columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let read = || match value(i)? {
                None => Ok(Value::Null),
                Some(bytes) => column
                    .kind
                    .parse(std::str::from_utf8(bytes).map_err(|_| ValueError::NotUtf8)?),
            };
            read().map_err(|error| (column.name.as_str(), error))
        })
        .collect();
    match parsed {
        Ok(values) => rows.push(columns, &values, change),
        Err((column, error)) => {
            let texts: serde_json::Map<String, serde_json::Value> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let text = value(i).ok().flatten().map(String::from_utf8_lossy);
                    (c.name.clone(), text.map(|t| t.into_owned()).into())
                })
                .collect();
            bad(BadRecord {
                record: serde_json::json!({"op": change.op, "lsn": change.lsn, "row": texts})
                    .to_string(),
                error: format!(
                    "{table} at LSN {}: column {column}: {error}",
                    format_lsn(change.lsn)
                ),
            });
        }
    }
}

/// A change's metadata.
struct Change {
    op: &'static str,
    lsn: u64,
    transaction: Option<Transaction>,
    /// `_before`, as JSON.
    before: Option<String>,
}

/// `row` as a JSON object of its text values.
fn row_json(row: &RowData) -> String {
    let map: serde_json::Map<String, serde_json::Value> = row
        .iter()
        .map(|(name, value)| {
            let text = match value {
                ColumnValue::Null => serde_json::Value::Null,
                other => String::from_utf8_lossy(other.as_bytes())
                    .into_owned()
                    .into(),
            };
            (name.to_string(), text)
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// An LSN as PostgreSQL writes it.
fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

impl Rows {
    /// The rows gathered.
    fn len(&self) -> usize {
        self.ops.len()
    }

    fn new(columns: &[Column], capacity: usize) -> Self {
        Self {
            columns: columns.iter().map(|c| c.kind.builder(capacity)).collect(),
            ops: Default::default(),
            lsns: Default::default(),
            commit_times: arrow::array::TimestampMicrosecondBuilder::new()
                .with_timezone(super::values::UTC),
            txids: Default::default(),
            befores: Default::default(),
        }
    }

    fn push(&mut self, columns: &[Column], values: &[Value<'_>], change: &Change) {
        for ((column, builder), value) in columns.iter().zip(&mut self.columns).zip(values) {
            append(column.kind, builder.as_mut(), value);
        }
        self.ops.append_value(change.op);
        self.lsns.append_value(change.lsn as i64);
        self.commit_times
            .append_option(change.transaction.map(|t| t.commit_micros));
        self.txids.append_option(change.transaction.map(|t| t.txid));
        self.befores.append_option(change.before.as_deref());
    }

    fn finish(
        &mut self,
        schema: &SchemaRef,
        table: &str,
    ) -> Result<RecordBatch, arrow::error::ArrowError> {
        let mut arrays: Vec<ArrayRef> = self.columns.iter_mut().map(|b| b.finish()).collect();
        let tables = arrow::array::StringArray::from(vec![table; self.len()]);
        arrays.push(Arc::new(self.ops.finish()));
        arrays.push(Arc::new(tables));
        arrays.push(Arc::new(self.lsns.finish()));
        arrays.push(Arc::new(self.commit_times.finish()));
        arrays.push(Arc::new(self.txids.finish()));
        arrays.push(Arc::new(self.befores.finish()));
        RecordBatch::try_new(schema.clone(), arrays)
    }
}

impl Source for CdcSource {
    fn next_batch(&mut self, bad: &mut dyn FnMut(BadRecord)) -> Result<Poll, ConnectorError> {
        if let Some(lsn) = self.snapshot_lsn {
            return self.next_snapshot_batch(lsn, bad);
        }
        let linger = Duration::from_millis(self.config.linger_ms);
        let deadline = Instant::now() + linger;
        // A transaction is kept whole in a batch up to this many rows.
        let most = self.config.batch_rows.saturating_mul(8);
        loop {
            let at_commit = self.transaction.is_none();
            let full = self.rows.len() >= self.config.batch_rows;
            if self.rows.len() > 0
                && (at_commit && (full || Instant::now() >= deadline) || self.rows.len() >= most)
            {
                return self.finish_batch().map(Poll::Batch);
            }
            if self.ended || self.failure.is_some() {
                if self.rows.len() > 0 {
                    return self.finish_batch().map(Poll::Batch);
                }
                self.sent = self.gathered;
                return match self.failure.take() {
                    Some(error) => Err(error),
                    None => Ok(Poll::Done),
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .stream
                .events
                .recv_timeout(left.max(Duration::from_millis(1)))
            {
                Ok(Message::Event(event)) => self.take(*event, bad)?,
                Ok(Message::Failed(error)) => {
                    return Err(self.config.error("the replication stream failed", error));
                }
                Ok(Message::Ready { .. }) => {}
                Err(RecvTimeoutError::Timeout) => {
                    if self.rows.len() == 0 {
                        if self.transaction.is_none() && self.gathered.lsn > self.sent.lsn {
                            // Only other tables' changes: move the position on.
                            self.sent = self.gathered;
                        }
                        return Ok(Poll::Wait(Duration::ZERO));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ConnectorError::Upstream(format!(
                        "the replication stream of slot {} ended",
                        self.config.slot
                    )));
                }
            }
        }
    }

    fn position(&self) -> Option<serde_json::Value> {
        Some(serde_json::to_value(self.sent).expect("serializes"))
    }

    fn part(&self) -> String {
        String::new()
    }

    /// Confirms to the slot that everything up to `position` is durable.
    fn commit(&mut self, position: &serde_json::Value) -> Result<(), ConnectorError> {
        let position = Position::deserialize(position).map_err(|e| ConnectorError::Config {
            field: "slot".into(),
            message: format!("unreadable position {position}: {e}"),
        })?;
        if position.snapshot_done {
            self.stream.feedback.update_flushed_lsn(position.lsn);
            self.stream.feedback.update_applied_lsn(position.lsn);
        }
        Ok(())
    }
}

/// Starts the stream's thread: it connects, creates the slot (exporting a
/// snapshot when `export`) and waits for `go` before streaming. Answers it
/// and the exported snapshot's name.
fn start_stream(config: &Config, export: bool) -> Result<(Stream, Option<String>), ConnectorError> {
    let (sender, events) = std::sync::mpsc::sync_channel(CHANNEL_EVENTS);
    let (go, started) = tokio::sync::oneshot::channel();
    let cancel = CancellationToken::new();
    let conninfo = config.conninfo(true);
    let stream_config = ReplicationStreamConfig::new(
        config.slot.clone(),
        config.publication.clone(),
        2,
        StreamingMode::Off,
        // Confirmations are sent when they change, at most this often: the
        // slot trails the last checkpoint by this much.
        Duration::from_millis(200),
        Duration::from_secs(30),
        Duration::from_secs(60),
        RetryConfig::default(),
    )
    .with_messages(true)
    .with_slot_options(ReplicationSlotOptions {
        temporary: false,
        snapshot: Some(if export { "export" } else { "nothing" }.into()),
        ..Default::default()
    });
    let thread_cancel = cancel.clone();
    let thread = std::thread::Builder::new()
        .name(format!("postgres-cdc {}", config.slot))
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = sender.send(Message::Failed(ReplicationError::protocol(e.to_string())));
                    return;
                }
            };
            runtime.block_on(stream(
                conninfo,
                stream_config,
                sender,
                started,
                thread_cancel,
            ));
        })
        .map_err(|e| ConnectorError::Io {
            path: "postgres-cdc thread".into(),
            source: e,
        })?;
    match events.recv() {
        Ok(Message::Ready { snapshot, feedback }) => {
            let stream = Stream {
                events,
                go: Some(go),
                feedback,
                cancel,
                thread: Some(thread),
            };
            Ok((stream, snapshot))
        }
        Ok(Message::Failed(error)) => Err(config.error("cannot open the replication slot", error)),
        _ => Err(ConnectorError::Upstream(format!(
            "the replication stream of slot {} ended before it started",
            config.slot
        ))),
    }
}

/// The stream's thread: see [`start_stream`].
async fn stream(
    conninfo: String,
    config: ReplicationStreamConfig,
    sender: SyncSender<Message>,
    started: tokio::sync::oneshot::Receiver<()>,
    cancel: CancellationToken,
) {
    let opened = async {
        let mut stream = LogicalReplicationStream::new(&conninfo, config).await?;
        stream.ensure_replication_slot().await?;
        Ok::<_, ReplicationError>(stream)
    };
    let mut stream = match opened.await {
        Ok(stream) => stream,
        Err(error) => {
            let _ = sender.send(Message::Failed(error));
            return;
        }
    };
    let ready = Message::Ready {
        snapshot: stream.exported_snapshot_name().map(str::to_string),
        feedback: stream.shared_lsn_feedback.clone(),
    };
    if sender.send(ready).is_err() || started.await.is_err() {
        return;
    }
    if let Err(error) = stream.start(None).await {
        let _ = sender.send(Message::Failed(error));
        return;
    }
    let mut confirmed = Instant::now();
    'events: loop {
        let event = match stream.next_event(&cancel).await {
            Ok(event) => event,
            Err(ReplicationError::Cancelled(_)) => break,
            Err(error) => {
                let _ = sender.send(Message::Failed(error));
                break;
            }
        };
        let mut message = Message::Event(Box::new(event));
        loop {
            match sender.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    message = back;
                    if confirmed.elapsed() >= KEEPALIVE_EVERY {
                        confirmed = Instant::now();
                        if let Err(error) = stream.send_feedback().await {
                            tracing::warn!(%error, "postgres-cdc: cannot send a status update");
                        }
                    }
                    if cancel.is_cancelled() {
                        break 'events;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(TrySendError::Disconnected(_)) => break 'events,
            }
        }
    }
    // Confirm the last position the source committed before leaving.
    if let Err(error) = stream.send_feedback().await {
        tracing::debug!(%error, "postgres-cdc: cannot send the last status update");
    }
    let _ = stream.stop().await;
}

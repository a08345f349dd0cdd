//! Dead letters: one JSON-lines file per node, holding every record or row
//! the node could not process, with the node, the error, the time and the
//! run that wrote it (a re-run appends; `run` tells the runs apart).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;

use super::RecentLetters;

/// The dead-letter file of one node, created at the first letter.
pub struct DeadLetters {
    node: String,
    /// The run's id (when it started, RFC 3339), as a JSON string.
    run: String,
    path: PathBuf,
    file: Mutex<Option<BufWriter<File>>>,
    /// The last few letters, for the admin API's live view.
    recent: Arc<RecentLetters>,
}

impl DeadLetters {
    /// Dead letters of `node` in run `run`, written to `<dir>/<node>.jsonl`,
    /// the last few also kept in `recent`.
    pub fn new(dir: &std::path::Path, node: &str, run: &str, recent: Arc<RecentLetters>) -> Self {
        Self {
            node: node.to_string(),
            run: json_string(run),
            path: dir.join(format!("{node}.jsonl")),
            file: Mutex::new(None),
            recent,
        }
    }

    /// Records a raw record (a line a source could not parse).
    pub fn record(&self, record: &str, error: &str) -> std::io::Result<()> {
        self.write(&[format!(
            "{{\"time\":{},\"run\":{},\"node\":{},\"error\":{},\"record\":{}}}",
            json_string(&now()),
            self.run,
            json_string(&self.node),
            json_string(error),
            json_string(record)
        )])
    }

    /// Records rows of `batch` (by index) with their errors. Only the disk
    /// can make it fail: rows the JSON writer cannot render are written
    /// column by column as text (see `rows_as_text`).
    pub fn rows(&self, batch: &RecordBatch, rows: &[(usize, String)]) -> std::io::Result<()> {
        let indices = UInt32Array::from_iter_values(rows.iter().map(|(row, _)| *row as u32));
        let rendered = take_record_batch(batch, &indices).and_then(|picked| {
            let mut writer = crate::connectors::json_lines(Vec::new());
            writer.write(&picked)?;
            writer.finish()?;
            Ok(String::from_utf8_lossy(&writer.into_inner()).into_owned())
        });
        let json = rendered.unwrap_or_else(|error| rows_as_text(batch, rows, &error.to_string()));
        let (time, node) = (json_string(&now()), json_string(&self.node));
        let lines: Vec<String> = rows
            .iter()
            .zip(json.lines())
            .map(|((_, error), row)| {
                format!(
                    "{{\"time\":{time},\"run\":{},\"node\":{node},\"error\":{},\"row\":{row}}}",
                    self.run,
                    json_string(error)
                )
            })
            .collect();
        self.write(&lines)?;
        // The batch may be acknowledged right after: its letters go to disk.
        self.flush()
    }

    /// Flushes what was written.
    pub fn flush(&self) -> std::io::Result<()> {
        match self.file.lock().expect("dead-letter lock").as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Appends `lines` to the file (under one lock) and keeps the last few
    /// for the live view.
    fn write(&self, lines: &[String]) -> std::io::Result<()> {
        self.recent.keep_last(lines);
        let mut file = self.file.lock().expect("dead-letter lock");
        if file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let opened = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            *file = Some(BufWriter::new(opened));
        }
        let file = file.as_mut().expect("opened above");
        for line in lines {
            file.write_all(line.as_bytes())?;
            file.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// `rows` of `batch` as JSON lines: objects of each column's value as text
/// (null where even that fails), with `_unrendered`: why the JSON writer
/// could not write them.
fn rows_as_text(batch: &RecordBatch, rows: &[(usize, String)], why: &str) -> String {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default();
    let formatters: Vec<_> = batch
        .columns()
        .iter()
        .map(|column| ArrayFormatter::try_new(column.as_ref(), &options).ok())
        .collect();
    rows.iter()
        .map(|(row, _)| {
            let mut object = serde_json::Map::new();
            for (field, formatter) in batch.schema().fields().iter().zip(&formatters) {
                let text = formatter
                    .as_ref()
                    .and_then(|f| f.value(*row).try_to_string().ok());
                object.insert(
                    field.name().clone(),
                    text.map_or(serde_json::Value::Null, serde_json::Value::String),
                );
            }
            object.insert("_unrendered".into(), why.into());
            serde_json::Value::Object(object).to_string() + "\n"
        })
        .collect()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    fn batch(zone: &str) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Millisecond, Some(zone.into())),
                false,
            ),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(
                    TimestampMillisecondArray::from(vec![0, 1_800_000_000_000]).with_timezone(zone),
                ),
            ],
        )
        .unwrap()
    }

    fn letters(batch: &RecordBatch) -> Vec<serde_json::Value> {
        let dir = tempfile::tempdir().unwrap();
        let letters = DeadLetters::new(
            dir.path(),
            "node",
            "2026-12-06T18:00:00.000Z",
            Arc::default(),
        );
        letters
            .rows(batch, &[(1, "bad row".into())])
            .expect("a dead letter is written whatever the row holds");
        std::fs::read_to_string(letters.path())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn rows_in_named_time_zones_are_written_as_json() {
        for zone in ["UTC", "Europe/Berlin", "+02:00"] {
            let letters = letters(&batch(zone));
            assert_eq!(letters[0]["row"]["id"], 2, "{zone}");
            assert!(
                letters[0]["row"]["at"]
                    .as_str()
                    .unwrap()
                    .starts_with("2027-01-15T"),
                "{zone}: {:?}",
                letters[0]
            );
        }
    }

    #[test]
    fn a_row_the_json_writer_refuses_is_still_recorded_as_text() {
        let letters = letters(&batch("Mars/Olympus_Mons"));
        let row = &letters[0]["row"];
        assert_eq!(row["id"], "2");
        assert!(
            row["_unrendered"]
                .as_str()
                .unwrap()
                .contains("Mars/Olympus_Mons"),
            "{row}"
        );
        assert_eq!(letters[0]["error"], "bad row");
    }
}

//! Dead letters: one JSON-lines file per node, holding every record or row
//! the node could not process, with the node, the error and the time.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;

/// The dead-letter file of one node, created at the first letter.
pub struct DeadLetters {
    node: String,
    path: PathBuf,
    file: Mutex<Option<BufWriter<File>>>,
}

impl DeadLetters {
    /// Dead letters of `node`, written to `<dir>/<node>.jsonl`.
    pub fn new(dir: &std::path::Path, node: &str) -> Self {
        Self {
            node: node.to_string(),
            path: dir.join(format!("{node}.jsonl")),
            file: Mutex::new(None),
        }
    }

    /// Records a raw record (a line a source could not parse).
    pub fn record(&self, record: &str, error: &str) -> std::io::Result<()> {
        self.write(&format!(
            "{{\"time\":{},\"node\":{},\"error\":{},\"record\":{}}}",
            json_string(&now()),
            json_string(&self.node),
            json_string(error),
            json_string(record)
        ))
    }

    /// Records rows of `batch` (by index) with their errors.
    pub fn rows(&self, batch: &RecordBatch, rows: &[(usize, String)]) -> std::io::Result<()> {
        let indices = UInt32Array::from_iter_values(rows.iter().map(|(row, _)| *row as u32));
        let picked = take_record_batch(batch, &indices).map_err(std::io::Error::other)?;
        let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
        writer
            .write(&picked)
            .and_then(|()| writer.finish())
            .map_err(std::io::Error::other)?;
        let json = String::from_utf8(writer.into_inner()).map_err(std::io::Error::other)?;
        let (time, node) = (json_string(&now()), json_string(&self.node));
        for ((_, error), row) in rows.iter().zip(json.lines()) {
            self.write(&format!(
                "{{\"time\":{time},\"node\":{node},\"error\":{},\"row\":{row}}}",
                json_string(error)
            ))?;
        }
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

    fn write(&self, line: &str) -> std::io::Result<()> {
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
        file.write_all(line.as_bytes())?;
        file.write_all(b"\n")
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

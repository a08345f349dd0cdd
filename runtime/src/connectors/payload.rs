//! A pushed payload (an HTTP request's body, an MQTT message) as rows of
//! the source's schema: JSON lines, a JSON array, CSV with a header or an
//! Arrow IPC stream, gzip-compressed or not. All or nothing: one bad line
//! refuses the whole payload, naming it, so a sender never has to find out
//! which of its rows were taken.

use std::io::Read;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;

use crate::connectors::lines::{CsvColumns, LineDecoder, Lines, TextPosition};
use crate::connectors::{BadRecord, Format};

/// Why a body was refused: the HTTP status and what to tell the client.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    /// 400, 413 or 415.
    pub status: u16,
    /// Names the line (or element) and column at fault.
    pub message: String,
}

impl Refused {
    fn bad(message: String) -> Self {
        Self {
            status: 400,
            message,
        }
    }
}

/// What a payload holds (an HTTP body: by its `Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BodyFormat {
    /// `application/x-ndjson`, `application/jsonl`, `application/json-lines`;
    /// also no `Content-Type`, and `application/x-www-form-urlencoded`,
    /// which `curl --data-binary` sends unless told otherwise.
    JsonLines,
    /// `application/json`: an array of objects (or one object).
    #[serde(rename = "json")]
    JsonArray,
    /// `text/csv`: a header line naming the columns, then rows.
    Csv,
    /// `application/vnd.apache.arrow.stream`.
    #[serde(rename = "arrow-ipc")]
    ArrowStream,
}

impl BodyFormat {
    /// The format a `Content-Type` names (parameters such as `charset`
    /// ignored); none names JSON lines.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, Refused> {
        let Some(content_type) = content_type else {
            return Ok(Self::JsonLines);
        };
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-ndjson"
            | "application/jsonl"
            | "application/json-lines"
            | "application/x-jsonlines"
            | "application/x-www-form-urlencoded" => Ok(Self::JsonLines),
            "application/json" => Ok(Self::JsonArray),
            "text/csv" => Ok(Self::Csv),
            "application/vnd.apache.arrow.stream" => Ok(Self::ArrowStream),
            other => Err(Refused {
                status: 415,
                message: format!(
                    "Content-Type {other:?} is not taken: send application/x-ndjson (JSON lines), application/json (an array), text/csv or application/vnd.apache.arrow.stream"
                ),
            }),
        }
    }
}

#[cfg_attr(not(feature = "http"), allow(dead_code))]
/// `body` gunzipped, refused once it grows past `limit` bytes (a small
/// body can unpack to gigabytes).
pub fn gunzip(body: &[u8], limit: usize) -> Result<Bytes, Refused> {
    let mut out = Vec::new();
    let read = flate2::read::GzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out);
    match read {
        Err(error) => Err(Refused::bad(format!("the body is not valid gzip: {error}"))),
        Ok(_) if out.len() > limit => Err(Refused {
            status: 413,
            message: format!("the body unpacks to more than max_body_bytes ({limit} bytes)"),
        }),
        Ok(_) => Ok(out.into()),
    }
}

/// The rows of `body`, in batches of at most `batch_rows`, of `schema`.
pub fn decode(
    format: BodyFormat,
    body: Bytes,
    schema: &SchemaRef,
    batch_rows: usize,
) -> Result<Vec<RecordBatch>, Refused> {
    match format {
        BodyFormat::JsonLines => lines(body, Format::Json, "line", schema, batch_rows),
        BodyFormat::Csv => lines(body, Format::Csv, "line", schema, batch_rows),
        BodyFormat::JsonArray => {
            let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                Refused::bad(format!(
                    "the body is not JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ))
            })?;
            let elements = match value {
                serde_json::Value::Array(elements) => elements,
                object @ serde_json::Value::Object(_) => vec![object],
                _ => {
                    let message = "a JSON body must be an array of objects, or one object";
                    return Err(Refused::bad(message.into()));
                }
            };
            let mut text = Vec::with_capacity(body.len());
            for element in &elements {
                serde_json::to_writer(&mut text, element).expect("a JSON value writes");
                text.push(b'\n');
            }
            lines(text.into(), Format::Json, "element", schema, batch_rows)
        }
        BodyFormat::ArrowStream => arrow_stream(body, schema, batch_rows),
    }
}

/// Text lines through the file source's decoder; `unit` names a line in
/// errors (`line`, or `element` of a JSON array).
fn lines(
    body: Bytes,
    format: Format,
    unit: &str,
    schema: &SchemaRef,
    batch_rows: usize,
) -> Result<Vec<RecordBatch>, Refused> {
    let columns = CsvColumns {
        header: true,
        extra_is_error: true,
    };
    let input = Box::new(std::io::Cursor::new(body));
    let refused = |e: crate::connectors::ConnectorError| Refused::bad(e.to_string());
    let mut decoder = LineDecoder::new(
        unit.to_string(),
        input,
        format,
        schema.clone(),
        batch_rows,
        false,
        TextPosition::default(),
        columns,
        None,
    )
    .map_err(refused)?;
    let mut bad: Vec<BadRecord> = Vec::new();
    let mut batches = Vec::new();
    while let Lines::Batch(batch) = decoder
        .next_batch(&mut |record| bad.push(record))
        .map_err(refused)?
    {
        batches.push(batch);
    }
    match bad.first() {
        None => Ok(batches),
        Some(first) => {
            // `line:3: ...` reads better as `line 3: ...`.
            let error = first
                .error
                .replacen(&format!("{unit}:"), &format!("{unit} "), 1);
            let others = match bad.len() {
                1 => String::new(),
                n => format!(" ({n} bad {unit}s in all)"),
            };
            Err(Refused::bad(format!(
                "{error}{others}; none of its rows was taken"
            )))
        }
    }
}

/// An Arrow IPC stream whose columns are the schema's, by name (in any
/// order; types cast when they can be without loss).
fn arrow_stream(
    body: Bytes,
    schema: &SchemaRef,
    batch_rows: usize,
) -> Result<Vec<RecordBatch>, Refused> {
    let bad_stream = |e: arrow::error::ArrowError| {
        Refused::bad(format!("the body is not an Arrow IPC stream: {e}"))
    };
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None)
        .map_err(bad_stream)?;
    let sent = reader.schema();
    let mut positions = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let Some((at, _)) = sent.column_with_name(field.name()) else {
            return Err(Refused::bad(format!(
                "the stream has no column {:?} (it has {})",
                field.name(),
                names(&sent)
            )));
        };
        positions.push(at);
    }
    if let Some(extra) = sent
        .fields()
        .iter()
        .find(|f| schema.column_with_name(f.name()).is_none())
    {
        return Err(Refused::bad(format!(
            "the stream's column {:?} is not in the source's schema ({})",
            extra.name(),
            names(schema)
        )));
    }
    let options = arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut batches = Vec::new();
    for batch in reader {
        let batch = batch.map_err(bad_stream)?;
        let mut columns = Vec::with_capacity(positions.len());
        for (field, &at) in schema.fields().iter().zip(&positions) {
            let column = batch.column(at);
            let cast = arrow::compute::cast_with_options(column, field.data_type(), &options)
                .map_err(|e| {
                    Refused::bad(format!(
                        "column {:?} is {}, the source's schema says {}: {e}",
                        field.name(),
                        column.data_type(),
                        field.data_type()
                    ))
                })?;
            columns.push(cast);
        }
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| Refused::bad(format!("the stream's rows do not fit the schema: {e}")))?;
        let mut offset = 0;
        while offset < batch.num_rows() {
            let length = batch_rows.min(batch.num_rows() - offset);
            batches.push(batch.slice(offset, length));
            offset += length;
        }
    }
    Ok(batches)
}

fn names(schema: &Schema) -> String {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    names.join(", ")
}

/// `schema` with a text column `name` appended (the tenant or the path).
pub fn with_text_column(schema: &SchemaRef, name: &str) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(name, DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// A text column of `rows` times `value`.
pub fn text_column(value: &str, rows: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
        value, rows,
    )))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::Int64Type;

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    fn ids(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect()
    }

    #[test]
    fn every_format_gives_the_same_rows() {
        let schema = schema();
        let jsonl = b"{\"id\": 1, \"name\": \"a\"}\n\n{\"id\": 2, \"name\": \"b\"}\n".to_vec();
        let array = br#"[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]"#.to_vec();
        let csv = b"name,id\na,1\nb,2\n".to_vec();
        let mut ipc = Vec::new();
        let sent = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("id", DataType::Int32, true),
        ]));
        let batch = RecordBatch::try_new(
            sent.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a", "b"])),
                Arc::new(arrow::array::Int32Array::from(vec![1, 2])),
            ],
        )
        .unwrap();
        let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut ipc, &sent).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        drop(writer);
        for (format, body) in [
            (BodyFormat::JsonLines, jsonl),
            (BodyFormat::JsonArray, array),
            (BodyFormat::Csv, csv),
            (BodyFormat::ArrowStream, ipc),
        ] {
            let batches = decode(format, body.into(), &schema, 1).unwrap();
            assert_eq!(batches.len(), 2, "{format:?}: batches of one row");
            assert_eq!(ids(&batches), [1, 2], "{format:?}");
            assert_eq!(batches[1].column(1).as_string::<i32>().value(0), "b");
        }
    }

    #[test]
    fn a_bad_line_refuses_the_request_naming_line_and_column() {
        let body = b"{\"id\": 1}\n{\"id\": \"x\"}\n{\"id\": 3}\n{\"id\": [4]}\n".to_vec();
        let refused = decode(BodyFormat::JsonLines, body.into(), &schema(), 100).unwrap_err();
        assert_eq!(refused.status, 400);
        assert!(
            refused.message.starts_with("line 2: "),
            "{}",
            refused.message
        );
        assert!(refused.message.contains("id"), "{}", refused.message);
        assert!(
            refused.message.contains("2 bad lines in all"),
            "{}",
            refused.message
        );
        assert!(refused.message.ends_with("none of its rows was taken"));

        let csv = b"id,name\n1,a\nseven,b\n".to_vec();
        let refused = decode(BodyFormat::Csv, csv.into(), &schema(), 100).unwrap_err();
        assert!(
            refused.message.starts_with("line 3: "),
            "{}",
            refused.message
        );
        assert!(refused.message.contains("\"id\""), "{}", refused.message);

        let array = br#"[{"id": 1}, {"id": true}]"#.to_vec();
        let refused = decode(BodyFormat::JsonArray, array.into(), &schema(), 100).unwrap_err();
        assert!(
            refused.message.starts_with("element 2: "),
            "{}",
            refused.message
        );
        let broken = br#"[{"id": 1},"#.to_vec();
        let refused = decode(BodyFormat::JsonArray, broken.into(), &schema(), 100).unwrap_err();
        assert!(
            refused.message.contains("line 1, column"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn an_arrow_stream_must_have_the_schemas_columns() {
        let sent = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let batch =
            RecordBatch::try_new(sent.clone(), vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
        let mut ipc = Vec::new();
        let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut ipc, &sent).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        drop(writer);
        let refused = decode(BodyFormat::ArrowStream, ipc.into(), &schema(), 10).unwrap_err();
        assert!(
            refused.message.contains("no column \"name\""),
            "{}",
            refused.message
        );
        let refused = decode(
            BodyFormat::ArrowStream,
            b"junk".to_vec().into(),
            &schema(),
            10,
        )
        .unwrap_err();
        assert!(
            refused.message.contains("not an Arrow IPC stream"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn content_types_and_gzip() {
        assert_eq!(
            BodyFormat::from_content_type(Some("text/csv; charset=utf-8")),
            Ok(BodyFormat::Csv)
        );
        assert_eq!(
            BodyFormat::from_content_type(None),
            Ok(BodyFormat::JsonLines)
        );
        assert_eq!(
            BodyFormat::from_content_type(Some("text/plain"))
                .unwrap_err()
                .status,
            415
        );
        let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        packed.write_all(&vec![b'{'; 100_000]).unwrap();
        let packed = packed.finish().unwrap();
        assert!(packed.len() < 1000);
        assert_eq!(gunzip(&packed, 200_000).unwrap().len(), 100_000);
        assert_eq!(
            gunzip(&packed, 99_999).unwrap_err().status,
            413,
            "a zip bomb is cut off"
        );
        assert_eq!(gunzip(b"not gzip", 100).unwrap_err().status, 400);
    }
}

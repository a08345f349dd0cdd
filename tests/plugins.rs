//! End-to-end tests of every plugin in `plugins/`, run as real Wasm
//! components in the Weir host. A plugin without a module here is a compile
//! error (`foreach_plugin!(assert_test_exists)`).

mod common;
#[path = "common/per_record.rs"]
mod per_record;

use std::sync::Arc;

use arrow::array::RecordBatch;
use common::*;
use weir::plugin::{
    GuestErrorKind, Limits, OutputMode, PluginError, Poll, SinkInstance, SourceInstance,
    TransformInstance,
};

macro_rules! assert_test_exists {
    ($name:ident) => {
        #[allow(unused_imports)]
        use self::$name as _;
    };
}
weir_plugin_artifacts::foreach_plugin!(assert_test_exists);

fn transform(
    path: &str,
    config: &str,
    input: &RecordBatch,
) -> Result<TransformInstance, PluginError> {
    let plugin = load(path);
    let mut instance = TransformInstance::new(engine(), &plugin, "test-node", &Limits::default())?;
    instance.open(config, &input.schema())?;
    Ok(instance)
}

fn run(instance: &mut TransformInstance, batch: &RecordBatch) -> RecordBatch {
    let processed = instance.process(batch).unwrap();
    assert!(processed.rejected.is_empty(), "{:?}", processed.rejected);
    concat(&processed.batches)
}

mod filter {
    use super::*;

    const FILTER: &str = weir_plugin_artifacts::FILTER;

    #[test]
    fn keeps_matching_rows_with_sql_null_semantics() {
        let input = mixed_batch();
        let mut f = transform(
            FILTER,
            r#"{"predicate": "amount > 0 and name != 'eve' or id is null"}"#,
            &input,
        )
        .unwrap();
        let out = run(&mut f, &input);
        // Row 2 (amount null) is dropped: null > 0 is null, not true.
        assert_eq!(ints(&out, "id"), [Some(1), None]);
        assert_eq!(out.schema(), input.schema());
    }

    /// An arrow comparison kernel.
    type Kernel = fn(
        &dyn arrow::array::Datum,
        &dyn arrow::array::Datum,
    ) -> Result<arrow::array::BooleanArray, arrow::error::ArrowError>;

    /// The plugin compares 64-bit integer columns with a literal in its own
    /// SIMD loop; it must agree with arrow's kernels on every operator, at
    /// lengths around the 64-row word, with nulls and extreme values.
    #[test]
    fn integer_and_timestamp_comparisons_agree_with_arrow() {
        use arrow::array::{Int64Array, TimestampMillisecondArray};
        use arrow::compute::kernels::cmp;
        for len in [0, 1, 2, 63, 64, 65, 130] {
            let values: Vec<Option<i64>> = (0..len)
                .map(|i| match i % 7 {
                    3 => None,
                    5 => Some(i64::MIN),
                    6 => Some(i64::MAX),
                    _ => Some((i as i64 * 37) % 11 - 5),
                })
                .collect();
            let times = TimestampMillisecondArray::from(values.clone()).with_timezone("+00:00");
            let input = RecordBatch::try_from_iter([
                (
                    "n",
                    Arc::new(Int64Array::from(values.clone())) as arrow::array::ArrayRef,
                ),
                ("t", Arc::new(times.clone()) as arrow::array::ArrayRef),
            ])
            .unwrap();
            let ops: [(&str, Kernel); 6] = [
                ("=", cmp::eq),
                ("!=", cmp::neq),
                ("<", cmp::lt),
                ("<=", cmp::lt_eq),
                (">", cmp::gt),
                (">=", cmp::gt_eq),
            ];
            for (op, kernel) in ops {
                for column in ["n", "t"] {
                    let mask = match column {
                        "n" => kernel(
                            &Int64Array::from(values.clone()),
                            &Int64Array::new_scalar(0),
                        ),
                        _ => kernel(
                            &times,
                            &arrow::array::Scalar::new(
                                TimestampMillisecondArray::from(vec![0]).with_timezone("+00:00"),
                            ),
                        ),
                    }
                    .unwrap();
                    let expected = arrow::compute::filter_record_batch(&input, &mask).unwrap();
                    let predicate = format!(r#"{{"predicate": "{column} {op} 0"}}"#);
                    let mut f = transform(FILTER, &predicate, &input).unwrap();
                    let out = concat(&f.process(&input).unwrap().batches);
                    let got = if out.num_columns() == 0 {
                        input.slice(0, 0)
                    } else {
                        out
                    };
                    assert_eq!(got, expected, "{column} {op} 0 on {len} rows");
                }
            }
        }
    }

    #[test]
    fn answers_its_output_schema_and_mode_before_data() {
        let input = mixed_batch();
        let f = transform(
            FILTER,
            r#"{"predicate": "vip", "columns": ["name", "id"]}"#,
            &input,
        )
        .unwrap();
        let schema = f.output_schema().unwrap();
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["name", "id"]);
        assert!(matches!(f.output_mode(), Some(OutputMode::Derived { .. })));
    }

    #[test]
    fn selection_and_whole_batch_outputs_agree() {
        let input = mixed_batch();
        let predicate = r#""predicate": "name in ['ann', 'cid', 'fay'] and not vip is null", "columns": ["id", "name", "at"]"#;
        let mut selection = transform(FILTER, &format!("{{{predicate}}}"), &input).unwrap();
        let mut batches = transform(
            FILTER,
            &format!(r#"{{{predicate}, "output": "batches"}}"#),
            &input,
        )
        .unwrap();
        assert!(matches!(batches.output_mode(), Some(OutputMode::Batches)));
        let (a, b) = (run(&mut selection, &input), run(&mut batches, &input));
        assert_eq!(a, b);
        assert_eq!(
            strings(&a, "name"),
            [Some("ann".into()), Some("cid".into()), Some("fay".into())]
        );
    }

    /// The host frames batches with the arrays' own buffers where it can
    /// (one copy, into the plugin) and through arrow's writer otherwise
    /// (sliced arrays, dictionaries): the plugin must receive the same rows
    /// either way.
    #[test]
    fn sliced_and_dictionary_columns_reach_the_plugin_intact() {
        let mixed = mixed_batch();
        let labels: arrow::array::DictionaryArray<arrow::datatypes::Int32Type> =
            ["x", "y", "x", "z", "y", "x"].into_iter().collect();
        let mut columns = mixed.columns().to_vec();
        columns.push(Arc::new(labels));
        let mut fields = mixed.schema().fields().to_vec();
        fields.push(Arc::new(arrow::datatypes::Field::new(
            "label",
            columns[5].data_type().clone(),
            false,
        )));
        let with_labels =
            RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap();
        let config = r#"{"predicate": "amount is null or amount >= 0", "output": "batches"}"#;
        for input in [
            mixed.slice(1, 4),
            with_labels.clone(),
            with_labels.slice(2, 3),
        ] {
            let mut f = transform(FILTER, config, &input).unwrap();
            let amount = input.column_by_name("amount").unwrap();
            let keep = arrow::compute::kernels::cmp::gt_eq(
                amount,
                &arrow::array::Float64Array::new_scalar(0.0),
            )
            .unwrap();
            let keep = arrow::compute::or_kleene(&keep, &arrow::compute::is_null(amount).unwrap())
                .unwrap();
            let expected = arrow::compute::filter_record_batch(&input, &keep).unwrap();
            assert!(expected.num_rows() > 0);
            assert_eq!(run(&mut f, &input), expected);
        }
    }

    #[test]
    fn empty_batches_and_no_matches_give_empty_output() {
        let input = mixed_batch();
        let mut f = transform(FILTER, r#"{"predicate": "id > 100"}"#, &input).unwrap();
        assert_eq!(run(&mut f, &input).num_rows(), 0);
        assert_eq!(run(&mut f, &input.slice(0, 0)).num_rows(), 0);
    }

    #[test]
    fn bad_config_is_invalid_config_that_says_where() {
        let input = mixed_batch();
        for (config, expected) in [
            (
                r#"{"predicate": "amount > 3 and nme = 'x'"}"#,
                "unknown column \"nme\"",
            ),
            (r#"{"predicate": "amount > "}"#, "offset 9"),
            (r#"{"predicate": "id > 'abc'"}"#, "cannot be compared"),
            (
                r#"{"predicate": "vip", "columns": ["nope"]}"#,
                "field \"columns\"",
            ),
            (r#"{"predicate": "vip", "colums": []}"#, "colums"),
            (r#"{}"#, "predicate"),
        ] {
            let err = transform(FILTER, config, &input).err().expect(config);
            assert_eq!(
                err.guest_kind(),
                Some(GuestErrorKind::InvalidConfig),
                "{config}: {err}"
            );
            assert!(err.to_string().contains(expected), "{config}: {err}");
            assert!(
                err.to_string().contains("test-node"),
                "the error names the node: {err}"
            );
        }
    }
}

mod generate {
    use super::*;

    fn open(config: &str) -> SourceInstance {
        let plugin = load(weir_plugin_artifacts::GENERATE);
        let mut source = SourceInstance::new(engine(), &plugin, "gen", &Limits::default()).unwrap();
        source.open(config).unwrap();
        source
    }

    fn drain(source: &mut SourceInstance, max_rows: u32) -> Vec<RecordBatch> {
        let mut batches = Vec::new();
        loop {
            match source.next(max_rows).unwrap() {
                Poll::Batch(b) => batches.push(b),
                Poll::Wait(_) => panic!("unexpected wait without a rate"),
                Poll::Done => return batches,
            }
        }
    }

    #[test]
    fn a_rate_batches_by_time_not_by_row() {
        // 2000 rows/s: 100 ms worth is 200 rows a batch, however often the
        // host asks (here: as soon as it is told to).
        let mut source = open(r#"{"rows": 1000, "rate": 2000}"#);
        let mut sizes = Vec::new();
        loop {
            match source.next(8192).unwrap() {
                Poll::Batch(b) => sizes.push(b.num_rows()),
                Poll::Wait(wait) => std::thread::sleep(wait),
                Poll::Done => break,
            }
        }
        assert_eq!(sizes.iter().sum::<usize>(), 1000);
        // All but the last, which holds what is left.
        let (_, full) = sizes.split_last().unwrap();
        assert!(full.iter().all(|&rows| rows >= 200), "{sizes:?}");
        assert!(sizes.len() <= 5, "{sizes:?}");
    }

    #[test]
    fn bounded_output_is_deterministic_and_batch_size_independent() {
        for dataset in ["clickstream", "iot", "nexmark"] {
            let config = format!(r#"{{"dataset": "{dataset}", "rows": 2500, "seed": 7}}"#);
            let small = concat(&drain(&mut open(&config), 100));
            let large = concat(&drain(&mut open(&config), 4096));
            assert_eq!(small.num_rows(), 2500);
            assert_eq!(small, large);
        }
    }

    #[test]
    fn the_nexmark_stream_in_wasm_is_the_native_generator_s() {
        let config =
            r#"{"dataset": "nexmark", "rows": 5000, "seed": 3, "start_ms": 0, "step_ms": 1}"#;
        let wasm = concat(&drain(&mut open(config), 1024));
        assert_eq!(wasm, weir_plugin_generate::nexmark::rows(3, 0, 1, 0, 5000));
        let bids = arrow::compute::kernels::cmp::eq(
            wasm.column_by_name("event_type").unwrap(),
            &arrow::array::StringArray::new_scalar("bid"),
        )
        .unwrap();
        assert_eq!(bids.true_count(), 5000 / 50 * 46);
    }

    #[test]
    fn restore_resumes_at_the_snapshot_position() {
        let config = r#"{"rows": 1000}"#;
        let mut first = open(config);
        let Poll::Batch(head) = first.next(300).unwrap() else {
            panic!()
        };
        let position = first.snapshot().unwrap().expect("generate has a position");
        let mut resumed = open(config);
        resumed.restore(&position).unwrap();
        let tail = concat(&drain(&mut resumed, 1000));
        assert_eq!(
            concat(&[head, tail]),
            concat(&drain(&mut open(config), 1000))
        );
    }

    #[test]
    fn a_rate_makes_it_wait() {
        let mut source = open(r#"{"rate": 10}"#);
        let Poll::Batch(batch) = source.next(1000).unwrap() else {
            panic!()
        };
        assert!(batch.num_rows() <= 2);
        assert!(matches!(source.next(1000).unwrap(), Poll::Wait(_)));
    }

    #[test]
    fn bad_rate_is_invalid_config() {
        let plugin = load(weir_plugin_artifacts::GENERATE);
        let mut source = SourceInstance::new(engine(), &plugin, "gen", &Limits::default()).unwrap();
        let err = source.open(r#"{"rate": -1}"#).unwrap_err();
        assert_eq!(err.guest_kind(), Some(GuestErrorKind::InvalidConfig));
        assert!(err.to_string().contains("rate"), "{err}");
    }
}

mod count {
    use super::*;

    fn open(config: &str, input: &RecordBatch) -> SinkInstance {
        let plugin = load(weir_plugin_artifacts::COUNT);
        let mut sink = SinkInstance::new(engine(), &plugin, "sink", &Limits::default()).unwrap();
        sink.open(config, &input.schema()).unwrap();
        sink
    }

    #[test]
    fn counts_rows_and_batches_through_host_metrics() {
        let input = mixed_batch();
        let mut sink = open("{}", &input);
        for batch in [&input, &input.slice(0, 0), &input.slice(1, 2)] {
            sink.write(batch).unwrap();
        }
        sink.flush().unwrap();
        assert_eq!(sink.metrics().counters["rows"], 8);
        assert_eq!(sink.metrics().counters["batches"], 3);
    }

    #[test]
    fn plugin_logs_reach_the_host_log_with_the_node_name() {
        #[derive(Clone, Default)]
        struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let input = mixed_batch();
        tracing::subscriber::with_default(subscriber, || {
            let mut sink = open("{}", &input);
            sink.write(&input).unwrap();
            sink.flush().unwrap();
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains(" weir::plugin: "))
            .unwrap_or_else(|| panic!("no plugin log in:\n{log}"));
        assert!(line.contains("INFO") && line.contains("count"), "{line}");
        assert!(line.contains("node=\"sink\""), "{line}");
        assert!(
            line.contains("rows=6") && line.contains("batches=1"),
            "{line}"
        );
    }

    #[test]
    fn expect_rows_fails_the_flush_on_a_mismatch() {
        let input = mixed_batch();
        let mut sink = open(r#"{"expect_rows": 7}"#, &input);
        sink.write(&input).unwrap();
        let err = sink.flush().unwrap_err();
        assert_eq!(err.guest_kind(), Some(GuestErrorKind::InvalidInput));
        assert!(
            err.to_string().contains("expected 7 rows, received 6"),
            "{err}"
        );
    }
}

mod select {
    use super::*;

    const SELECT: &str = weir_plugin_artifacts::SELECT;

    #[test]
    fn projects_renames_casts_and_computes() {
        let input = mixed_batch();
        let config = r#"{"columns": [
            {"name": "who", "from": "name"},
            {"name": "id"},
            {"name": "amount_int", "from": "amount", "cast": "int64"},
            {"name": "source", "value": "web"},
            {"name": "score", "expr": "id * 2 + amount / 10"}
        ]}"#;
        let mut t = transform(SELECT, config, &input).unwrap();
        let out = run(&mut t, &input);
        assert_eq!(
            column_names(&out),
            ["who", "id", "amount_int", "source", "score"]
        );
        assert_eq!(strings(&out, "who"), strings(&input, "name"));
        assert_eq!(
            ints(&out, "amount_int"),
            [Some(10), None, Some(30), Some(-4), Some(50), Some(0)]
        );
        assert_eq!(strings(&out, "source"), vec![Some("web".to_string()); 6]);
        assert_eq!(
            floats(&out, "score"),
            [Some(3.0), None, None, Some(7.6), Some(15.0), Some(12.0)]
        );
        assert_eq!(run(&mut t, &input.slice(0, 0)).num_rows(), 0);
    }

    #[test]
    fn star_keeps_every_input_column_and_adds_new_ones() {
        let input = mixed_batch();
        let config = r#"{"columns": [{"name": "*"}, {"name": "score", "expr": "id * 2"}]}"#;
        let mut t = transform(SELECT, config, &input).unwrap();
        let out = run(&mut t, &input);
        assert_eq!(
            column_names(&out),
            ["id", "amount", "name", "at", "vip", "score"]
        );
        assert_eq!(strings(&out, "name"), strings(&input, "name"));
        assert_eq!(ints(&out, "score")[0], Some(2));
    }

    #[test]
    fn bad_config_names_the_column_entry() {
        let input = mixed_batch();
        for (config, expected) in [
            (r#"{"columns": [{"name": "nope"}]}"#, "columns[0]"),
            (
                r#"{"columns": [{"name": "x", "expr": "name * 2"}]}"#,
                "not a number",
            ),
            (
                r#"{"columns": [{"name": "x", "from": "id", "cast": "int65"}]}"#,
                "int65",
            ),
            (r#"{"columns": []}"#, "at least one"),
            (
                r#"{"columns": [{"name": "*"}, {"name": "id", "expr": "id + 1"}]}"#,
                "column \"id\" twice",
            ),
            (
                r#"{"columns": [{"name": "*", "cast": "utf8"}]}"#,
                "keeps every input column",
            ),
        ] {
            let err = transform(SELECT, config, &input).err().expect(config);
            assert_eq!(
                err.guest_kind(),
                Some(GuestErrorKind::InvalidConfig),
                "{config}: {err}"
            );
            assert!(err.to_string().contains(expected), "{config}: {err}");
        }
    }
}

mod mask {
    use super::*;

    #[test]
    fn redacts_hashes_and_partially_masks_in_place() {
        let input = mixed_batch();
        let config = r#"{"columns": {
            "name": {"method": "partial", "keep_last": 1},
            "id": {"method": "hash", "salt": "pepper"},
            "amount": {"method": "redact"}
        }}"#;
        let mut t = transform(weir_plugin_artifacts::MASK, config, &input).unwrap();
        let out = run(&mut t, &input);
        assert_eq!(column_names(&out), ["id", "amount", "name", "at", "vip"]);
        assert_eq!(
            strings(&out, "name"),
            [
                Some("**n".into()),
                Some("**b".into()),
                Some("**d".into()),
                None,
                Some("**e".into()),
                Some("**y".into())
            ]
        );
        assert_eq!(strings(&out, "amount")[0].as_deref(), Some("****"));
        assert_eq!(strings(&out, "amount")[1], None, "nulls stay null");
        let hashes = strings(&out, "id");
        assert_eq!(
            hashes[0].as_deref(),
            Some(weir::plugin::sha256_hex(b"pepper1").as_str()),
            "salted SHA-256 of the value"
        );
        assert_eq!(hashes[2], None);
        assert_eq!(
            out.column(3),
            input.column(3),
            "unmasked columns pass through"
        );
    }

    #[test]
    fn hash_needs_a_salt_and_columns_must_exist() {
        let input = mixed_batch();
        let err = transform(
            weir_plugin_artifacts::MASK,
            r#"{"columns": {"name": {"method": "hash"}}}"#,
            &input,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("salt"), "{err}");
        let err = transform(
            weir_plugin_artifacts::MASK,
            r#"{"columns": {"mail": {"method": "redact"}}}"#,
            &input,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("columns.mail"), "{err}");
    }
}

mod json_parse {
    use super::*;
    use arrow::array::{ArrayRef, StringArray};

    fn payloads(rows: &[Option<&str>]) -> RecordBatch {
        let id: ArrayRef = Arc::new(arrow::array::Int64Array::from_iter_values(
            0..rows.len() as i64,
        ));
        let payload: ArrayRef = Arc::new(StringArray::from(rows.to_vec()));
        RecordBatch::try_from_iter([("id", id), ("payload", payload)]).unwrap()
    }

    const CONFIG: &str = r#"{"column": "payload", "fields": [
        {"name": "user", "type": "int64", "required": true},
        {"name": "page", "type": "utf8"},
        {"name": "price", "type": "float64", "path": "cart.price"},
        {"name": "at", "type": "timestamp[ms]"}
    ]}"#;

    #[test]
    fn parses_typed_columns_and_rejects_bad_rows_with_reasons() {
        let input = payloads(&[
            Some(
                r#"{"user": 1, "page": "/", "cart": {"price": 9.5}, "at": "2026-11-25T10:00:00Z"}"#,
            ),
            Some(r#"{"user": "x"}"#),
            Some("not json"),
            None,
            Some(r#"{"page": "/help"}"#),
            Some(r#"{"user": 6, "page": null, "at": 1000}"#),
            Some("[1, 2]"),
        ]);
        let mut t = transform(weir_plugin_artifacts::JSON_PARSE, CONFIG, &input).unwrap();
        let processed = t.process(&input).unwrap();
        let out = concat(&processed.batches);
        assert_eq!(ints(&out, "id"), [Some(0), Some(5)]);
        assert_eq!(ints(&out, "user"), [Some(1), Some(6)]);
        assert_eq!(strings(&out, "page"), [Some("/".into()), None]);
        assert_eq!(floats(&out, "price"), [Some(9.5), None]);
        assert!(out.column_by_name("payload").is_none());
        let rejected: Vec<(usize, &str)> = processed
            .rejected
            .iter()
            .map(|r| (r.row, r.message.as_str()))
            .collect();
        assert_eq!(
            rejected.iter().map(|r| r.0).collect::<Vec<_>>(),
            [1, 2, 3, 4, 6]
        );
        assert!(
            rejected[0]
                .1
                .contains("\"user\": expected Int64, found text"),
            "{rejected:?}"
        );
        assert!(rejected[1].1.contains("not JSON"), "{rejected:?}");
        assert!(rejected[2].1.contains("null"), "{rejected:?}");
        assert!(
            rejected[3].1.contains("required but missing"),
            "{rejected:?}"
        );
        assert!(rejected[4].1.contains("an array"), "{rejected:?}");
        // Every input row is accounted for: output + rejected.
        assert_eq!(out.num_rows() + processed.rejected.len(), input.num_rows());
        assert_eq!(run(&mut t, &input.slice(0, 0)).num_rows(), 0);
    }

    #[test]
    fn the_column_must_be_text() {
        let input = payloads(&[]);
        let err = transform(
            weir_plugin_artifacts::JSON_PARSE,
            r#"{"column": "id", "fields": [{"name": "a", "type": "utf8"}]}"#,
            &input,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("not text"), "{err}");
    }
}

mod window_aggregate {
    use super::*;
    use std::collections::BTreeMap;

    const CONFIG: &str = r#"{"time_column": "event_time", "window": "1m", "keys": ["page"],
        "aggregates": [{"op": "count"}, {"op": "sum", "column": "price", "as": "revenue"}, {"op": "max", "column": "price"}]}"#;

    fn clicks(rows: u64) -> RecordBatch {
        let plugin = load(weir_plugin_artifacts::GENERATE);
        let mut source = SourceInstance::new(engine(), &plugin, "gen", &Limits::default()).unwrap();
        source
            .open(&format!(r#"{{"rows": {rows}, "step_ms": 250}}"#))
            .unwrap();
        let mut batches = Vec::new();
        while let Poll::Batch(b) = source.next(10_000).unwrap() {
            batches.push(b);
        }
        concat(&batches)
    }

    /// Event count and revenue per (window start, page).
    type Totals = std::collections::BTreeMap<(i64, String), (i64, f64)>;

    /// Totals per (window, page) computed in plain Rust.
    fn reference(input: &RecordBatch) -> Totals {
        let times = column::<arrow::array::TimestampMillisecondArray>(input, "event_time");
        let pages = strings(input, "page");
        let prices = floats(input, "price");
        let mut totals = std::collections::BTreeMap::new();
        for row in 0..input.num_rows() {
            let entry = totals
                .entry((
                    times.value(row) / 60_000 * 60_000,
                    pages[row].clone().unwrap(),
                ))
                .or_insert((0, 0.0));
            entry.0 += 1;
            entry.1 += prices[row].unwrap_or(0.0);
        }
        totals
    }

    fn totals(batches: &[RecordBatch]) -> Totals {
        let out = concat(batches);
        let starts = column::<arrow::array::TimestampMillisecondArray>(&out, "window_start");
        let (pages, counts, revenue) = (
            strings(&out, "page"),
            ints(&out, "count"),
            floats(&out, "revenue"),
        );
        (0..out.num_rows())
            .map(|r| {
                (
                    (starts.value(r), pages[r].clone().unwrap()),
                    (counts[r].unwrap(), revenue[r].unwrap_or(0.0)),
                )
            })
            .collect()
    }

    fn assert_same(a: &Totals, b: &Totals) {
        assert_eq!(a.len(), b.len());
        for ((k, (ca, ra)), (kb, (cb, rb))) in a.iter().zip(b) {
            assert_eq!((k, ca), (kb, cb));
            assert!((ra - rb).abs() < 1e-6, "{k:?}: {ra} vs {rb}");
        }
    }

    #[test]
    fn closed_windows_match_a_reference_and_emit_before_the_end() {
        let input = clicks(2000);
        let mut t = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, CONFIG, &input).unwrap();
        let time_column = input.schema().index_of("event_time").ok();
        assert_eq!(t.event_time(), time_column, "the host moves its clock");
        let mut out = run_batches(&mut t, &input.slice(0, 0));
        for start in (0..input.num_rows()).step_by(300) {
            let batch = input.slice(start, 300.min(input.num_rows() - start));
            let processed = run_batches(&mut t, &batch);
            assert!(
                processed.is_empty(),
                "windows close only when the host moves the clock"
            );
            out.extend(advance_past(&mut t, &batch));
        }
        assert!(!out.is_empty(), "windows close while data flows");
        out.extend(t.finish().unwrap());
        assert_same(&totals(&out), &reference(&input));
    }

    /// Moves the clock to `batch`'s newest event time, as the host does
    /// for one input of one part; answers the windows that closes.
    fn advance_past(t: &mut TransformInstance, batch: &RecordBatch) -> Vec<RecordBatch> {
        let times = column::<arrow::array::TimestampMillisecondArray>(batch, "event_time");
        t.advance(arrow::compute::max(times).unwrap()).unwrap()
    }

    fn run_batches(t: &mut TransformInstance, batch: &RecordBatch) -> Vec<RecordBatch> {
        let processed = t.process(batch).unwrap();
        assert!(processed.rejected.is_empty());
        processed.batches
    }

    #[test]
    fn state_moves_to_a_new_instance_mid_window() {
        let input = clicks(2000);
        let mut first = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, CONFIG, &input).unwrap();
        let mut out = run_batches(&mut first, &input.slice(0, 1111));
        let state = first.snapshot().unwrap().expect("stateful");
        let mut second =
            transform(weir_plugin_artifacts::WINDOW_AGGREGATE, CONFIG, &input).unwrap();
        second.restore(&state).unwrap();
        out.extend(run_batches(&mut second, &input.slice(1111, 889)));
        out.extend(second.finish().unwrap());
        assert_same(&totals(&out), &reference(&input));
    }

    #[test]
    fn late_events_are_rejected_not_dropped() {
        let input = clicks(1000);
        let mut t = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, CONFIG, &input).unwrap();
        let later = input.slice(500, 500);
        run_batches(&mut t, &later);
        advance_past(&mut t, &later);
        let processed = t.process(&input.slice(0, 10)).unwrap();
        assert_eq!(processed.rejected.len(), 10);
        assert!(
            processed.rejected[0]
                .message
                .contains("late event at 2026-11-25T00:00:00.000Z: its window starting at 2026-11-25T00:00:00.000Z"),
            "{:?}",
            processed.rejected[0]
        );
    }

    /// Hopping windows of 1 minute every 20 s: per window, the page(s)
    /// with the most events, computed in plain Rust.
    fn top_pages(input: &RecordBatch) -> Vec<(i64, String, i64)> {
        let times = column::<arrow::array::TimestampMillisecondArray>(input, "event_time");
        let pages = strings(input, "page");
        let mut windows = BTreeMap::<i64, BTreeMap<String, i64>>::new();
        for (&time, page) in times.values().iter().zip(&pages) {
            // Every window [start, start + 60 s) holding `time`; one starts every 20 s.
            let mut start = time - time.rem_euclid(20_000);
            while start > time - 60_000 {
                *windows
                    .entry(start)
                    .or_default()
                    .entry(page.clone().unwrap())
                    .or_default() += 1;
                start -= 20_000;
            }
        }
        let mut top = Vec::new();
        for (start, counts) in windows {
            let most = counts.values().copied().max();
            top.extend(
                counts
                    .into_iter()
                    .filter(|(_, c)| Some(*c) == most)
                    .map(|(p, c)| (start, p, c)),
            );
        }
        top
    }

    #[test]
    fn hopping_windows_emit_their_top_groups() {
        let input = clicks(3000);
        let config = r#"{"time_column": "event_time", "window": "1m", "slide": "20s", "keys": ["page"],
            "aggregates": [{"op": "count", "as": "events"}], "top": {"by": "events"}}"#;
        let mut t = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input).unwrap();
        let mut out = Vec::new();
        for start in (0..3000).step_by(250) {
            if start == 1500 {
                // Mid-window, the open panes move to a new instance.
                let state = t.snapshot().unwrap().expect("stateful");
                t = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input).unwrap();
                t.restore(&state).unwrap();
            }
            out.extend(run_batches(&mut t, &input.slice(start, 250)));
        }
        out.extend(t.finish().unwrap());
        let out = concat(&out);
        let starts = column::<arrow::array::TimestampMillisecondArray>(&out, "window_start");
        let got: Vec<(i64, String, i64)> = (0..out.num_rows())
            .map(|r| {
                (
                    starts.value(r),
                    strings(&out, "page")[r].clone().unwrap(),
                    ints(&out, "events")[r].unwrap(),
                )
            })
            .collect();
        let expected = top_pages(&input);
        assert!(expected.len() > 3 * 750 / 60, "every window has a top page");
        assert_eq!(got, expected);
    }

    #[test]
    fn bad_config_says_which_field() {
        let input = clicks(1);
        let config = r#"{"time_column": "page", "window": "1m", "aggregates": [{"op": "count"}]}"#;
        let err = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input)
            .err()
            .unwrap();
        assert!(err.to_string().contains("not a timestamp"), "{err}");
        let config = r#"{"time_column": "event_time", "window": "1 fortnight", "aggregates": [{"op": "count"}]}"#;
        let err = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input)
            .err()
            .unwrap();
        assert!(err.to_string().contains("field \"window\""), "{err}");
        let config = r#"{"time_column": "event_time", "window": "1m", "slide": "2m", "aggregates": [{"op": "count"}]}"#;
        let err = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input)
            .err()
            .unwrap();
        assert!(err.to_string().contains("field \"slide\""), "{err}");
        let config = r#"{"time_column": "event_time", "window": "1m", "aggregates": [{"op": "count"}], "top": {"by": "total"}}"#;
        let err = transform(weir_plugin_artifacts::WINDOW_AGGREGATE, config, &input)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("\"total\" is not an aggregate"),
            "{err}"
        );
    }
}

mod join {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray};

    const CONFIG: &str = r#"{"left": {"key": "person_id", "columns": ["name"]},
        "right": {"key": "seller", "columns": ["auction_id"]}}"#;

    /// A stream of people (`person_id`, `name`) and auctions (`seller`,
    /// `auction_id`) where sellers come before and after their person
    /// record, some never, and one person sells many times.
    fn stream() -> RecordBatch {
        let mut person_id = Vec::new();
        let mut name = Vec::new();
        let mut seller = Vec::new();
        let mut auction_id = Vec::new();
        for n in 0..600_i64 {
            let person = n % 3 == 0;
            person_id.push(person.then_some(n / 3));
            name.push(person.then(|| format!("p{}", n / 3)));
            // Sellers range over ids up to 40 ahead of the newest person.
            seller.push((!person).then_some((n * 7919) % (n / 3 + 40)));
            auction_id.push((!person).then_some(n));
        }
        RecordBatch::try_from_iter([
            (
                "person_id",
                Arc::new(Int64Array::from(person_id)) as ArrayRef,
            ),
            ("name", Arc::new(StringArray::from(name)) as _),
            ("seller", Arc::new(Int64Array::from(seller)) as _),
            ("auction_id", Arc::new(Int64Array::from(auction_id)) as _),
        ])
        .unwrap()
    }

    /// (name, auction) pairs computed in plain Rust.
    fn reference(input: &RecordBatch) -> Vec<(String, i64)> {
        let (people, names) = (ints(input, "person_id"), strings(input, "name"));
        let (sellers, auctions) = (ints(input, "seller"), ints(input, "auction_id"));
        let mut pairs = Vec::new();
        for (p, name) in people.iter().zip(&names) {
            for (s, a) in sellers.iter().zip(&auctions) {
                if p.is_some() && p == s {
                    pairs.push((name.clone().unwrap(), a.unwrap()));
                }
            }
        }
        pairs.sort();
        pairs
    }

    fn pairs(batches: &[RecordBatch]) -> Vec<(String, i64)> {
        let out = concat(batches);
        assert_eq!(column_names(&out), ["name", "auction_id"]);
        let mut pairs: Vec<_> = strings(&out, "name")
            .into_iter()
            .zip(ints(&out, "auction_id"))
            .map(|(n, a)| (n.unwrap(), a.unwrap()))
            .collect();
        pairs.sort();
        pairs
    }

    fn run_in(t: &mut TransformInstance, batch: &RecordBatch) -> Vec<RecordBatch> {
        let processed = t.process(batch).unwrap();
        assert!(processed.rejected.is_empty());
        processed.batches
    }

    #[test]
    fn every_matching_pair_is_emitted_once_whatever_the_order() {
        let input = stream();
        let expected = reference(&input);
        assert!(expected.len() > 300, "the data has many matches");
        for size in [1, 7, 600] {
            let mut t = transform(weir_plugin_artifacts::JOIN, CONFIG, &input).unwrap();
            let mut out = run_in(&mut t, &input.slice(0, 0));
            for start in (0..600).step_by(size) {
                out.extend(run_in(&mut t, &input.slice(start, size.min(600 - start))));
            }
            assert_eq!(pairs(&out), expected, "batches of {size} rows");
        }
    }

    #[test]
    fn kept_rows_move_to_a_new_instance() {
        let input = stream();
        let mut first = transform(weir_plugin_artifacts::JOIN, CONFIG, &input).unwrap();
        let mut out = Vec::new();
        for start in (0..300).step_by(50) {
            out.extend(run_in(&mut first, &input.slice(start, 50)));
        }
        let state = first.snapshot().unwrap().expect("stateful");
        let mut second = transform(weir_plugin_artifacts::JOIN, CONFIG, &input).unwrap();
        second.restore(&state).unwrap();
        out.extend(run_in(&mut second, &input.slice(300, 300)));
        assert_eq!(pairs(&out), reference(&input));
        let err = second.restore(&state[..state.len() - 3]).unwrap_err();
        assert!(err.to_string().contains("join state"), "{err}");
    }

    #[test]
    fn bad_config_says_which_field() {
        let input = stream();
        let cases = [
            (
                r#"{"left": {"key": "person_id", "columns": ["name"]}, "right": {"key": "name", "columns": ["auction_id"]}}"#,
                "join keys must be of one kind",
            ),
            (
                r#"{"left": {"key": "person_id", "columns": ["name"]}, "right": {"key": "seller", "columns": ["name"]}}"#,
                "field \"right.columns[0]\": \"name\" is already an output column; output names must differ",
            ),
            (
                r#"{"left": {"key": "person_id", "columns": ["name", "name"]}, "right": {"key": "seller", "columns": ["auction_id"]}}"#,
                "field \"left.columns[1]\"",
            ),
            (
                r#"{"left": {"key": "person_id", "columns": ["nam"]}, "right": {"key": "seller", "columns": ["auction_id"]}}"#,
                "left.columns[0]",
            ),
        ];
        for (config, expected) in cases {
            let err = transform(weir_plugin_artifacts::JOIN, config, &input)
                .err()
                .unwrap();
            assert!(err.to_string().contains(expected), "{config}: {err}");
        }
    }
}

/// Both builds of the hot-reload fixture tag rows with their own name and
/// carry the sequence across snapshot/restore.
fn check_test_tag(path: &str, name: &str) {
    let input = RecordBatch::try_from_iter([(
        "id",
        Arc::new(arrow::array::Int64Array::from_iter_values(0..5)) as _,
    )])
    .unwrap();
    let mut first = transform(path, "{}", &input).unwrap();
    first.process(&input).unwrap();
    let state = first.snapshot().unwrap().expect("stateful");
    let mut second = transform(path, "{}", &input).unwrap();
    second.restore(&state).unwrap();
    let out = &second.process(&input).unwrap().batches[0];
    let version = out.column_by_name("version").unwrap();
    let version = version
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap();
    assert!(version.iter().all(|v| v == Some(name)));
    let seq = out.column_by_name("seq").unwrap();
    let seq = seq
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap();
    assert_eq!(seq.values().to_vec(), (5..10).collect::<Vec<i64>>());
}

mod sensor_enrich {
    use super::*;
    use arrow::array::{Float64Array, StringArray};

    #[test]
    fn keeps_readings_with_battery_and_appends_si_values() {
        let readings = RecordBatch::try_from_iter([
            (
                "sensor",
                Arc::new(StringArray::from(vec![
                    "temperature",
                    "humidity",
                    "pressure",
                    "wind",
                    "temperature",
                ])) as _,
            ),
            (
                "value",
                Arc::new(Float64Array::from(vec![20.0, 50.0, 1013.0, 3.0, 25.0])) as _,
            ),
            (
                "battery",
                Arc::new(Float64Array::from(vec![
                    Some(90.0),
                    Some(20.0),
                    Some(55.5),
                    Some(80.0),
                    None,
                ])) as _,
            ),
        ])
        .unwrap();
        let mut t = transform(
            weir_plugin_artifacts::SENSOR_ENRICH,
            r#"{"min_battery": 20}"#,
            &readings,
        )
        .unwrap();
        let out = run(&mut t, &readings);
        assert_eq!(
            strings(&out, "sensor"),
            ["temperature", "humidity", "pressure", "wind"].map(|s| Some(s.to_string())),
            "the reading without a battery level is dropped"
        );
        assert_eq!(
            floats(&out, "value_si"),
            [Some(293.15), Some(0.5), Some(101300.0), None]
        );
        assert_eq!(
            strings(&out, "unit"),
            [
                Some("K".to_string()),
                Some("1".into()),
                Some("Pa".into()),
                None
            ]
        );
        let empty = readings.slice(0, 0);
        assert_eq!(run(&mut t, &empty).num_rows(), 0);
        let err = transform(weir_plugin_artifacts::SENSOR_ENRICH, "{}", &mixed_batch())
            .err()
            .expect("an input without the columns is refused");
        assert!(err.to_string().contains("sensor"), "{err}");
    }
}

mod test_tag_v1 {
    #[test]
    fn tags_rows_and_carries_the_sequence_across_restore() {
        super::check_test_tag(
            weir_plugin_artifacts::TEST_TAG_V1,
            "weir-plugin-test-tag-v1",
        );
    }
}

mod test_tag_v2 {
    #[test]
    fn tags_rows_and_carries_the_sequence_across_restore() {
        super::check_test_tag(
            weir_plugin_artifacts::TEST_TAG_V2,
            "weir-plugin-test-tag-v2",
        );
    }
}

mod test_sink_trap {
    use super::*;

    #[test]
    fn accepts_batches_and_traps_on_the_poison_pill() {
        let plugin = load(weir_plugin_artifacts::TEST_SINK_TRAP);
        let ids = |range: std::ops::RangeInclusive<i64>| {
            RecordBatch::try_from_iter([(
                "id",
                Arc::new(arrow::array::Int64Array::from_iter_values(range)) as _,
            )])
            .unwrap()
        };
        let mut sink = SinkInstance::new(engine(), &plugin, "sink", &Limits::default()).unwrap();
        sink.open("{}", &ids(1..=1).schema()).unwrap();
        sink.write(&ids(1..=10)).unwrap();
        let err = sink.write(&ids(11..=20)).unwrap_err();
        assert!(matches!(err, PluginError::Trap { .. }), "{err}");
        assert!(sink.trapped());
    }
}

mod test_misbehave {
    use super::*;

    const MISBEHAVE: &str = weir_plugin_artifacts::TEST_MISBEHAVE;

    fn limited(mode: &str, limits: Limits) -> TransformInstance {
        let input = mixed_batch();
        let plugin = load(MISBEHAVE);
        let mut t = TransformInstance::new(engine(), &plugin, "hungry-node", &limits).unwrap();
        t.open(mode, &input.schema()).unwrap();
        t
    }

    #[test]
    fn a_memory_hog_is_stopped_at_its_limit_with_the_numbers() {
        let limits = Limits {
            max_memory_bytes: 64 << 20,
            ..Limits::default()
        };
        let mut t = limited("hog", limits);
        let err = t.process(&mixed_batch()).unwrap_err();
        match &err {
            PluginError::MemoryLimit {
                plugin,
                call: "process",
                requested,
                limit,
            } => {
                assert_eq!(plugin, "hungry-node");
                assert_eq!(*limit, 64 << 20);
                assert!(*requested > *limit, "{err}");
            }
            other => panic!("expected a memory limit error, got {other}"),
        }
        assert!(err.to_string().contains("limit 67108864 bytes"), "{err}");
        assert!(t.trapped());
        // The same plugin within a generous limit works.
        let mut t = limited("hog", Limits::default());
        assert!(t.process(&mixed_batch()).is_ok());
    }

    #[test]
    fn output_past_the_row_or_byte_limit_is_refused_with_the_numbers() {
        let input = mixed_batch();
        let rows = input.num_rows();
        let mut t = limited(
            "flood",
            Limits {
                max_output_rows: 100 * rows,
                ..Limits::default()
            },
        );
        let err = t.process(&input).unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "process returned {} rows, more than the limit of {} rows",
                1000 * rows,
                100 * rows
            )),
            "{err}"
        );
        assert!(!t.trapped(), "the instance stays usable");
        // A thousand copies of the batch are far past twice 4096 bytes: the
        // copy out of the plugin stops on the way, and the instance, which
        // trapped, must be re-created.
        let mut t = limited(
            "flood",
            Limits {
                max_output_bytes: 4096,
                ..Limits::default()
            },
        );
        let err = t.process(&input).unwrap_err();
        assert!(
            matches!(
                err,
                PluginError::CopyLimit {
                    call: "process",
                    limit: 8192,
                    ..
                }
            ),
            "{err}"
        );
        assert!(t.trapped());
    }

    #[test]
    fn an_endless_loop_or_sleep_is_stopped_at_its_deadline() {
        let deadline = std::time::Duration::from_millis(100);
        for mode in ["spin", "sleep"] {
            let limits = Limits {
                call_timeout: deadline,
                ..Limits::default()
            };
            let mut t = limited(mode, limits);
            let started = std::time::Instant::now();
            let err = t.process(&mixed_batch()).unwrap_err();
            let took = started.elapsed();
            assert!(
                matches!(
                    err,
                    PluginError::Deadline {
                        call: "process",
                        ..
                    }
                ),
                "{mode}: {err}"
            );
            assert!(err.to_string().contains("deadline of 100 ms"), "{err}");
            assert!(took >= deadline, "{mode}: the call ran {took:?}");
            // A loop without end, or a sleep of an hour, was cut short.
            assert!(took < deadline * 10, "{mode}: {took:?}");
            assert!(t.trapped());
        }
    }

    #[test]
    fn a_stack_overflow_is_a_trap() {
        let mut t = limited("recurse", Limits::default());
        let err = t.process(&mixed_batch()).unwrap_err();
        assert!(matches!(err, PluginError::Trap { .. }), "{err}");
        let chain = format!("{:#}", anyhow::Error::from(err));
        assert!(chain.contains("call stack exhausted"), "{chain}");
    }

    #[test]
    fn a_plugin_within_every_limit_works() {
        let input = mixed_batch();
        let rows = input.num_rows();
        // Exactly at the row limit, and well under the byte limit.
        let mut t = limited(
            "flood",
            Limits {
                max_output_rows: 1000 * rows,
                max_output_bytes: 64 << 20,
                ..Limits::default()
            },
        );
        let processed = t.process(&input).unwrap();
        assert_eq!(processed.batches.len(), 1000);
        // Quick work under a short deadline.
        let mut t = limited(
            "pass",
            Limits {
                call_timeout: std::time::Duration::from_millis(100),
                ..Limits::default()
            },
        );
        for _ in 0..20 {
            t.process(&input).unwrap();
        }
        // A Rust component needs a few core instances and tables.
        let plugin = load(MISBEHAVE);
        let few = Limits {
            max_instances: 8,
            max_tables: 8,
            ..Limits::default()
        };
        TransformInstance::new(engine(), &plugin, "node", &few).unwrap();
    }

    #[test]
    fn a_component_needing_more_instances_or_tables_than_allowed_is_refused() {
        let plugin = load(MISBEHAVE);
        for (limits, what) in [
            (
                Limits {
                    max_instances: 1,
                    ..Limits::default()
                },
                // Memories count against the instance limit too.
                ["instances", "memories"],
            ),
            (
                Limits {
                    max_tables: 0,
                    ..Limits::default()
                },
                ["tables", "tables"],
            ),
        ] {
            let err = TransformInstance::new(engine(), &plugin, "node", &limits)
                .err()
                .expect("refused");
            let message = err.to_string();
            assert!(
                matches!(err, PluginError::InstanceLimit { resource, requested, .. } if what.contains(&resource) && requested > 0),
                "{what:?}: {message}"
            );
            assert!(message.contains("more than the limit of"), "{message}");
        }
    }

    #[test]
    fn passes_through_when_well_behaved() {
        let input = mixed_batch();
        let mut t = transform(MISBEHAVE, "pass", &input).unwrap();
        assert_eq!(run(&mut t, &input), input);
    }

    #[test]
    fn malformed_ipc_is_a_typed_error_and_the_instance_keeps_working() {
        let input = mixed_batch();
        let mut t = transform(MISBEHAVE, "malformed-ipc", &input).unwrap();
        for _ in 0..2 {
            let err = t.process(&input).unwrap_err();
            assert!(
                matches!(
                    err,
                    PluginError::MalformedIpc {
                        call: "process",
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("test-node"), "{err}");
        }
    }

    /// The error of the first `process` call of the fixture in `mode`.
    fn process_error(mode: &str) -> PluginError {
        let input = mixed_batch();
        let mut t = transform(MISBEHAVE, mode, &input).unwrap();
        t.process(&input).unwrap_err()
    }

    #[test]
    fn a_batch_in_another_schema_than_announced_is_caught() {
        let err = process_error("wrong-schema");
        assert!(matches!(err, PluginError::MalformedIpc { .. }), "{err}");
        assert!(err.to_string().contains("schema it announced"), "{err}");
    }

    #[test]
    fn a_short_selection_is_a_protocol_error() {
        let err = process_error("short-selection");
        assert!(matches!(err, PluginError::Protocol { .. }), "{err}");
        assert!(
            err.to_string().contains("selection has 0 bytes for 6 rows"),
            "{err}"
        );
    }

    #[test]
    fn a_rejected_row_past_the_batch_is_a_protocol_error() {
        let err = process_error("reject-out-of-range");
        assert!(
            err.to_string()
                .contains("rejected row 4294967295 of a 6-row batch"),
            "{err}"
        );
    }

    #[test]
    fn rejected_rows_are_each_an_input_row_once_and_not_delivered() {
        for (mode, message) in [
            ("reject-twice", "rejected row 0 more than once"),
            ("reject-many", "rejected 100000 rows of a 6-row batch"),
            (
                "reject-kept",
                "rejected row 0 but the answer also delivers it",
            ),
        ] {
            let err = process_error(mode);
            assert!(matches!(err, PluginError::Protocol { .. }), "{mode}: {err}");
            assert!(err.to_string().contains(message), "{mode}: {err}");
        }
    }

    #[test]
    fn every_returned_byte_counts_against_the_output_limit() {
        let limits = || Limits {
            max_output_bytes: 8 << 20,
            ..Limits::default()
        };
        // Appended columns past the limit, refused before decoding ...
        let err = limited("appended:12", limits())
            .process(&mixed_batch())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("process returned 12582912 bytes, more than the limit of 8388608 bytes"),
            "{err}"
        );
        // ... and far past it, stopped while being copied.
        let err = limited("appended:40", limits())
            .process(&mixed_batch())
            .unwrap_err();
        assert!(
            matches!(err, PluginError::CopyLimit { limit, .. } if limit == 16 << 20),
            "{err}"
        );
        assert!(err.is_limit_breach() && err.breaks_contract());
    }

    #[test]
    fn the_default_limits_take_a_200_mib_batch_and_a_512_mib_state() {
        let input = mixed_batch();
        let mut t = limited("big-batch:200", Limits::default());
        let processed = t.process(&input).unwrap();
        let blob = processed.batches[0].column_by_name("blob").unwrap();
        assert!(blob.get_buffer_memory_size() >= 200 << 20);
        let mut t = limited("big-state:512", Limits::default());
        let state = t.snapshot().unwrap().unwrap();
        assert_eq!(state.len(), 512 << 20);
        t.restore(&state).unwrap();
    }

    #[test]
    fn plugin_metrics_of_a_node_are_bounded_and_shared_by_its_instances() {
        let shared = weir::plugin::NodeMetrics::default();
        let limits = || Limits {
            metrics: Some(shared.clone()),
            ..Limits::default()
        };
        for _ in 0..2 {
            let mut t = limited("metric-names:1000", limits());
            t.process(&mixed_batch()).unwrap();
        }
        let metrics = shared.lock().unwrap().clone();
        assert_eq!(metrics.counters.len(), weir::plugin::MAX_METRICS);
        assert_eq!(metrics.counters["batches"], 2, "two instances, one count");
        assert!(metrics.refused > 1000);
    }

    #[test]
    fn a_trap_is_a_typed_error_and_poisons_only_that_instance() {
        let input = mixed_batch();
        let mut t = transform(MISBEHAVE, "trap", &input).unwrap();
        let err = t.process(&input).unwrap_err();
        assert!(
            matches!(
                err,
                PluginError::Trap {
                    call: "process",
                    ..
                }
            ),
            "{err}"
        );
        let again = t.process(&input).unwrap_err();
        let cause = std::error::Error::source(&again)
            .expect("a cause")
            .to_string();
        assert!(cause.contains("trapped earlier"), "{cause}");
        // Another instance of the same component is unaffected.
        let mut other = transform(MISBEHAVE, "pass", &input).unwrap();
        assert_eq!(run(&mut other, &input), input);
    }
}

mod bench_per_record {
    use super::per_record;

    #[test]
    fn filters_and_projects_one_json_record_per_call() {
        let columns = ["id".to_string(), "name".to_string()];
        let mut f =
            per_record::PerRecordFilter::new(weir_plugin_artifacts::BENCH_PER_RECORD, 5, &columns);
        assert_eq!(
            f.filter(r#"{"id": 7, "name": "x", "vip": true}"#)
                .as_deref(),
            Some(r#"{"id":7,"name":"x"}"#)
        );
        assert_eq!(f.filter(r#"{"id": 5, "name": "x"}"#), None);
        assert_eq!(f.filter("not json"), None);
    }
}

mod test_not_a_plugin {
    use super::*;

    #[test]
    fn a_component_of_another_world_is_refused_with_what_was_found() {
        let err = common::engine()
            .load_file(weir_plugin_artifacts::TEST_NOT_A_PLUGIN.as_ref())
            .err()
            .unwrap();
        assert!(matches!(err, PluginError::WrongWorld { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("wasi:cli/run"),
            "says what it found: {message}"
        );
        assert!(
            message.contains("weir:plugin/transform@0.1.0"),
            "says what it expected: {message}"
        );
    }
}

mod loading {
    use super::*;

    #[test]
    fn a_core_module_is_refused() {
        let core_module = b"\0asm\x01\0\0\0";
        let err = engine().load_bytes("core.wasm", core_module).err().unwrap();
        assert!(matches!(err, PluginError::CoreModule { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("core WebAssembly module, not a component"),
            "{err}"
        );
    }

    #[test]
    fn random_bytes_are_refused() {
        let bytes: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let err = engine().load_bytes("random.bin", &bytes).err().unwrap();
        assert!(matches!(err, PluginError::NotWasm { .. }), "{err}");
        assert!(err.to_string().contains("random.bin"), "{err}");
        let truncated = std::fs::read(weir_plugin_artifacts::COUNT).unwrap()[..1000].to_vec();
        let err = engine()
            .load_bytes("truncated.wasm", &truncated)
            .err()
            .unwrap();
        assert!(matches!(err, PluginError::Compile { .. }), "{err}");
    }

    #[test]
    fn a_plugin_used_as_the_wrong_kind_is_refused() {
        let sink = load(weir_plugin_artifacts::COUNT);
        let err = TransformInstance::new(engine(), &sink, "node-x", &Limits::default())
            .err()
            .unwrap();
        let message = err.to_string();
        assert!(
            message.contains("node-x") && message.contains("a transform plugin"),
            "{message}"
        );
        assert!(message.contains("weir:plugin/sink@0.1.0"), "{message}");
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let err = engine()
            .load_file("/nonexistent/plugin.wasm".as_ref())
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("/nonexistent/plugin.wasm"),
            "{err}"
        );
    }

    #[test]
    fn the_disk_cache_is_used_on_the_second_load() {
        let dir = tempfile::tempdir().unwrap();
        let options = weir::plugin::EngineOptions {
            cache_dir: Some(dir.path().to_path_buf()),
            pooling: false,
            ..weir::plugin::EngineOptions::default()
        };
        // Two engines stand for two processes: nothing is shared in memory.
        let first = weir::plugin::PluginEngine::new(&options).unwrap();
        let compiled = first
            .load_file(weir_plugin_artifacts::GENERATE.as_ref())
            .unwrap();
        assert_eq!(compiled.origin(), weir::plugin::Origin::Compiled);
        let second = weir::plugin::PluginEngine::new(&options).unwrap();
        let cached = second
            .load_file(weir_plugin_artifacts::GENERATE.as_ref())
            .unwrap();
        assert_eq!(cached.origin(), weir::plugin::Origin::DiskCache);
        assert_eq!(
            second
                .load_file(weir_plugin_artifacts::GENERATE.as_ref())
                .unwrap()
                .origin(),
            weir::plugin::Origin::Memory
        );
        eprintln!(
            "compile: {:?}, from the disk cache: {:?}",
            compiled.load_time(),
            cached.load_time()
        );
        // The cached component works.
        let mut source = SourceInstance::new(&second, &cached, "gen", &Limits::default()).unwrap();
        let schema = source.open(r#"{"rows": 3}"#).unwrap();
        assert_eq!(schema.field(0).name(), "event_time");
    }

    #[test]
    fn an_unusable_cache_file_is_recompiled() {
        let dir = tempfile::tempdir().unwrap();
        let options = weir::plugin::EngineOptions {
            cache_dir: Some(dir.path().to_path_buf()),
            pooling: false,
            ..weir::plugin::EngineOptions::default()
        };
        weir::plugin::PluginEngine::new(&options)
            .unwrap()
            .load_file(weir_plugin_artifacts::COUNT.as_ref())
            .unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
        }
        let reloaded = weir::plugin::PluginEngine::new(&options)
            .unwrap()
            .load_file(weir_plugin_artifacts::COUNT.as_ref())
            .unwrap();
        assert_eq!(reloaded.origin(), weir::plugin::Origin::Compiled);
    }
}

mod anomaly {
    use super::*;
    use arrow::array::{Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    const CONFIG: &str =
        r#"{"keys": ["device"], "value": "value", "threshold": 4, "min_samples": 10}"#;

    /// Device `a` hovers around 20, device `b` around 100; `spikes` are
    /// (row, value) replacements.
    fn readings(rows: usize, spikes: &[(usize, f64)]) -> RecordBatch {
        let device: Vec<&str> = (0..rows).map(|r| ["a", "b"][r % 2]).collect();
        let value: Vec<Option<f64>> = (0..rows)
            .map(|r| {
                let base = [20.0, 100.0][r % 2];
                let wobble = ((r * 7919) % 11) as f64 / 10.0 - 0.5;
                Some(
                    spikes
                        .iter()
                        .find(|s| s.0 == r)
                        .map_or(base + wobble, |s| s.1),
                )
            })
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("device", DataType::Utf8, false),
                Field::new("value", DataType::Float64, true),
            ])),
            vec![
                Arc::new(StringArray::from(device)),
                Arc::new(Float64Array::from(value)),
            ],
        )
        .unwrap()
    }

    fn flagged(batch: &RecordBatch) -> Vec<usize> {
        let flags = column::<arrow::array::BooleanArray>(batch, "anomaly");
        (0..flags.len()).filter(|&r| flags.value(r)).collect()
    }

    #[test]
    fn flags_a_spike_per_series_and_keeps_every_row() {
        // 100 is normal for b but a spike for a; 20 is a spike for b.
        let input = readings(200, &[(5, 100.0), (60, 100.0), (81, 20.0), (120, f64::NAN)]);
        let mut t = transform(weir_plugin_artifacts::ANOMALY, CONFIG, &input).unwrap();
        let out = run(&mut t, &input);
        assert_eq!(out.num_rows(), 200);
        assert_eq!(column_names(&out), ["device", "value", "zscore", "anomaly"]);
        // Row 5 comes before a has 10 readings: too early to judge.
        assert_eq!(floats(&out, "zscore")[5], None);
        assert_eq!(flagged(&out), [60, 81, 120]);
        let z = floats(&out, "zscore");
        assert!(z[60].unwrap() > 4.0 && z[81].unwrap() < -4.0, "{z:?}");
    }

    #[test]
    fn series_statistics_move_to_a_new_instance() {
        let input = readings(200, &[(150, 30.0)]);
        let mut whole = transform(weir_plugin_artifacts::ANOMALY, CONFIG, &input).unwrap();
        let expected = run(&mut whole, &input);

        let mut first = transform(weir_plugin_artifacts::ANOMALY, CONFIG, &input).unwrap();
        let head = run(&mut first, &input.slice(0, 100));
        let state = first.snapshot().unwrap().expect("stateful");
        let mut second = transform(weir_plugin_artifacts::ANOMALY, CONFIG, &input).unwrap();
        second.restore(&state).unwrap();
        let tail = run(&mut second, &input.slice(100, 100));
        assert_eq!(concat(&[head, tail]), expected);
        assert_eq!(flagged(&expected), [150]);
    }

    #[test]
    fn a_text_value_column_is_refused_naming_it() {
        let input = readings(10, &[]);
        let err = transform(
            weir_plugin_artifacts::ANOMALY,
            r#"{"keys": ["device"], "value": "device"}"#,
            &input,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("\"value\""), "{err}");
        assert!(err.to_string().contains("must be numeric"), "{err}");
    }
}

mod test_files {
    use super::*;
    use weir::plugin::{DirGrant, Grants};

    /// What the fixture managed to do at open with `grants`.
    fn report(grants: &Grants, config: &str) -> String {
        let input = mixed_batch();
        let plugin = load(weir_plugin_artifacts::TEST_FILES);
        let mut t =
            TransformInstance::with_grants(engine(), &plugin, "files", &Limits::default(), grants)
                .unwrap();
        t.open(config, &input.schema()).err().unwrap().to_string()
    }

    fn sandbox(write: bool) -> (tempfile::TempDir, Grants) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("hello.txt"), "hello").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), data.join("link")).unwrap();
        let grants = Grants {
            dirs: vec![DirGrant {
                host: data,
                guest: "/data".into(),
                write,
            }],
            env: Vec::new(),
        };
        (dir, grants)
    }

    #[test]
    fn a_read_only_grant_reads_inside_and_nothing_escapes_it() {
        let (dir, grants) = sandbox(false);
        let report = report(
            &grants,
            r#"{"read": ["/data/hello.txt", "/data/../secret.txt", "/data/link", "/etc/hostname"],
                "write": ["/data/new.txt"], "report": true}"#,
        );
        assert!(report.contains("read /data/hello.txt: hello"), "{report}");
        for escape in ["/data/../secret.txt", "/data/link", "/etc/hostname"] {
            assert!(
                report.contains(&format!("read {escape} failed")),
                "{escape} was readable: {report}"
            );
        }
        assert!(!report.contains("secret;"), "{report}");
        assert!(report.contains("write /data/new.txt failed"), "{report}");
        assert!(!dir.path().join("data/new.txt").exists());
    }

    #[test]
    fn a_write_grant_lets_the_plugin_create_files() {
        let (dir, grants) = sandbox(true);
        let report = report(&grants, r#"{"write": ["/data/new.txt"], "report": true}"#);
        assert!(report.contains("wrote /data/new.txt"), "{report}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("data/new.txt")).unwrap(),
            "written"
        );
    }

    #[test]
    fn without_grants_there_are_no_files_and_only_granted_variables() {
        let grants = Grants {
            dirs: Vec::new(),
            env: vec![("REGION".into(), "eu-west".into())],
        };
        let report = report(
            &grants,
            r#"{"read": ["/etc/hostname"], "env": ["REGION", "HOME", "PATH"], "report": true}"#,
        );
        assert!(report.contains("read /etc/hostname failed"), "{report}");
        assert!(report.contains("env REGION=eu-west"), "{report}");
        assert!(
            report.contains("env HOME unset") && report.contains("env PATH unset"),
            "{report}"
        );
    }
}

mod test_source_flood {
    use super::*;

    #[test]
    fn a_source_batch_past_the_byte_limit_is_refused_before_decoding() {
        let plugin = load(weir_plugin_artifacts::TEST_SOURCE_FLOOD);
        let limits = Limits {
            max_output_bytes: 8 << 20,
            ..Limits::default()
        };
        let mut source = SourceInstance::new(engine(), &plugin, "flood", &limits).unwrap();
        source.open("12").unwrap();
        let err = source.next(1024).unwrap_err();
        assert!(
            err.to_string().contains(
                "flood: next returned 12582912 bytes, more than the limit of 8388608 bytes"
            ),
            "{err}"
        );
        // Within the limit the junk gets as far as the decoder.
        let mut source = SourceInstance::new(engine(), &plugin, "flood", &limits).unwrap();
        source.open("1").unwrap();
        let err = source.next(1024).unwrap_err();
        assert!(matches!(err, PluginError::MalformedIpc { .. }), "{err}");
    }
}

mod test_network {
    use super::*;

    #[test]
    fn connecting_is_denied_even_though_the_host_links_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let input = mixed_batch();
        let config = format!(r#"{{"connect": "{address}"}}"#);
        let err = transform(weir_plugin_artifacts::TEST_NETWORK, &config, &input)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains(&format!("connect {address}")),
            "{err}"
        );
    }
}

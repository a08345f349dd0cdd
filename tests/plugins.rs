//! End-to-end tests of every plugin in `plugins/`, run as real Wasm
//! components in the Weir host. A plugin without a module here is a compile
//! error (`foreach_plugin!(assert_test_exists)`).

mod common;

use arrow::array::RecordBatch;
use common::*;
use weir::plugin::{GuestErrorKind, Limits, OutputMode, PluginError, Poll, SinkInstance, SourceInstance, TransformInstance};

macro_rules! assert_test_exists {
    ($name:ident) => {
        #[allow(unused_imports)]
        use self::$name as _;
    };
}
weir_plugin_artifacts::foreach_plugin!(assert_test_exists);

fn transform(path: &str, config: &str, input: &RecordBatch) -> Result<TransformInstance, PluginError> {
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
        let mut f = transform(FILTER, r#"{"predicate": "amount > 0 and name != 'eve' or id is null"}"#, &input).unwrap();
        let out = run(&mut f, &input);
        // Row 2 (amount null) is dropped: null > 0 is null, not true.
        assert_eq!(ints(&out, "id"), [Some(1), None]);
        assert_eq!(out.schema(), input.schema());
    }

    #[test]
    fn answers_its_output_schema_and_mode_before_data() {
        let input = mixed_batch();
        let f = transform(FILTER, r#"{"predicate": "vip", "columns": ["name", "id"]}"#, &input).unwrap();
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
        let mut batches = transform(FILTER, &format!(r#"{{{predicate}, "output": "batches"}}"#), &input).unwrap();
        assert!(matches!(batches.output_mode(), Some(OutputMode::Batches)));
        let (a, b) = (run(&mut selection, &input), run(&mut batches, &input));
        assert_eq!(a, b);
        assert_eq!(strings(&a, "name"), [Some("ann".into()), Some("cid".into()), Some("fay".into())]);
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
            (r#"{"predicate": "amount > 3 and nme = 'x'"}"#, "unknown column \"nme\""),
            (r#"{"predicate": "amount > "}"#, "offset 9"),
            (r#"{"predicate": "id > 'abc'"}"#, "cannot be compared"),
            (r#"{"predicate": "vip", "columns": ["nope"]}"#, "field \"columns\""),
            (r#"{"predicate": "vip", "colums": []}"#, "colums"),
            (r#"{}"#, "predicate"),
        ] {
            let err = transform(FILTER, config, &input).err().expect(config);
            assert_eq!(err.guest_kind(), Some(GuestErrorKind::InvalidConfig), "{config}: {err}");
            assert!(err.to_string().contains(expected), "{config}: {err}");
            assert!(err.to_string().contains("test-node"), "the error names the node: {err}");
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
    fn bounded_output_is_deterministic_and_batch_size_independent() {
        for dataset in ["clickstream", "iot"] {
            let config = format!(r#"{{"dataset": "{dataset}", "rows": 2500, "seed": 7}}"#);
            let small = concat(&drain(&mut open(&config), 100));
            let large = concat(&drain(&mut open(&config), 4096));
            assert_eq!(small.num_rows(), 2500);
            assert_eq!(small, large);
        }
    }

    #[test]
    fn restore_resumes_at_the_snapshot_position() {
        let config = r#"{"rows": 1000}"#;
        let mut first = open(config);
        let Poll::Batch(head) = first.next(300).unwrap() else { panic!() };
        let position = first.snapshot().unwrap().expect("generate has a position");
        let mut resumed = open(config);
        resumed.restore(&position).unwrap();
        let tail = concat(&drain(&mut resumed, 1000));
        assert_eq!(concat(&[head, tail]), concat(&drain(&mut open(config), 1000)));
    }

    #[test]
    fn a_rate_makes_it_wait() {
        let mut source = open(r#"{"rate": 10}"#);
        let Poll::Batch(batch) = source.next(1000).unwrap() else { panic!() };
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
    fn expect_rows_fails_the_flush_on_a_mismatch() {
        let input = mixed_batch();
        let mut sink = open(r#"{"expect_rows": 7}"#, &input);
        sink.write(&input).unwrap();
        let err = sink.flush().unwrap_err();
        assert_eq!(err.guest_kind(), Some(GuestErrorKind::InvalidInput));
        assert!(err.to_string().contains("expected 7 rows, received 6"), "{err}");
    }
}

mod test_misbehave {
    use super::*;

    const MISBEHAVE: &str = weir_plugin_artifacts::TEST_MISBEHAVE;

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
            assert!(matches!(err, PluginError::MalformedIpc { call: "process", .. }), "{err}");
            assert!(err.to_string().contains("test-node"), "{err}");
        }
    }

    #[test]
    fn a_batch_in_another_schema_than_announced_is_caught() {
        let input = mixed_batch();
        let mut t = transform(MISBEHAVE, "wrong-schema", &input).unwrap();
        let err = t.process(&input).unwrap_err();
        assert!(matches!(err, PluginError::MalformedIpc { .. }), "{err}");
        assert!(err.to_string().contains("schema it announced"), "{err}");
    }

    #[test]
    fn a_short_selection_is_a_protocol_error() {
        let input = mixed_batch();
        let mut t = transform(MISBEHAVE, "short-selection", &input).unwrap();
        let err = t.process(&input).unwrap_err();
        assert!(matches!(err, PluginError::Protocol { .. }), "{err}");
        assert!(err.to_string().contains("selection has 0 bytes for 6 rows"), "{err}");
    }

    #[test]
    fn a_rejected_row_past_the_batch_is_a_protocol_error() {
        let input = mixed_batch();
        let mut t = transform(MISBEHAVE, "reject-out-of-range", &input).unwrap();
        let err = t.process(&input).unwrap_err();
        assert!(err.to_string().contains("rejected row 4294967295 of a 6-row batch"), "{err}");
    }

    #[test]
    fn a_trap_is_a_typed_error_and_poisons_only_that_instance() {
        let input = mixed_batch();
        let mut t = transform(MISBEHAVE, "trap", &input).unwrap();
        let err = t.process(&input).unwrap_err();
        assert!(matches!(err, PluginError::Trap { call: "process", .. }), "{err}");
        let again = t.process(&input).unwrap_err();
        let cause = std::error::Error::source(&again).expect("a cause").to_string();
        assert!(cause.contains("trapped earlier"), "{cause}");
        // Another instance of the same component is unaffected.
        let mut other = transform(MISBEHAVE, "pass", &input).unwrap();
        assert_eq!(run(&mut other, &input), input);
    }
}

mod test_not_a_plugin {
    use super::*;

    #[test]
    fn a_component_of_another_world_is_refused_with_what_was_found() {
        let err = common::engine().load_file(weir_plugin_artifacts::TEST_NOT_A_PLUGIN.as_ref()).err().unwrap();
        assert!(matches!(err, PluginError::WrongWorld { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("wasi:cli/run"), "says what it found: {message}");
        assert!(message.contains("weir:plugin/transform@0.1.0"), "says what it expected: {message}");
    }
}

mod loading {
    use super::*;

    #[test]
    fn a_core_module_is_refused() {
        let core_module = b"\0asm\x01\0\0\0";
        let err = engine().load_bytes("core.wasm", core_module).err().unwrap();
        assert!(matches!(err, PluginError::CoreModule { .. }), "{err}");
        assert!(err.to_string().contains("core WebAssembly module, not a component"), "{err}");
    }

    #[test]
    fn random_bytes_are_refused() {
        let bytes: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let err = engine().load_bytes("random.bin", &bytes).err().unwrap();
        assert!(matches!(err, PluginError::NotWasm { .. }), "{err}");
        assert!(err.to_string().contains("random.bin"), "{err}");
        let truncated = std::fs::read(weir_plugin_artifacts::COUNT).unwrap()[..1000].to_vec();
        let err = engine().load_bytes("truncated.wasm", &truncated).err().unwrap();
        assert!(matches!(err, PluginError::Compile { .. }), "{err}");
    }

    #[test]
    fn a_plugin_used_as_the_wrong_kind_is_refused() {
        let sink = load(weir_plugin_artifacts::COUNT);
        let err = TransformInstance::new(engine(), &sink, "node-x", &Limits::default()).err().unwrap();
        let message = err.to_string();
        assert!(message.contains("node-x") && message.contains("a transform plugin"), "{message}");
        assert!(message.contains("weir:plugin/sink@0.1.0"), "{message}");
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let err = engine().load_file("/nonexistent/plugin.wasm".as_ref()).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/plugin.wasm"), "{err}");
    }

    #[test]
    fn the_disk_cache_is_used_on_the_second_load() {
        let dir = tempfile::tempdir().unwrap();
        let options = weir::plugin::EngineOptions {
            cache_dir: Some(dir.path().to_path_buf()),
            pooling: false,
        };
        // Two engines stand for two processes: nothing is shared in memory.
        let first = weir::plugin::PluginEngine::new(&options).unwrap();
        let compiled = first.load_file(weir_plugin_artifacts::GENERATE.as_ref()).unwrap();
        assert_eq!(compiled.origin(), weir::plugin::Origin::Compiled);
        let second = weir::plugin::PluginEngine::new(&options).unwrap();
        let cached = second.load_file(weir_plugin_artifacts::GENERATE.as_ref()).unwrap();
        assert_eq!(cached.origin(), weir::plugin::Origin::DiskCache);
        assert_eq!(second.load_file(weir_plugin_artifacts::GENERATE.as_ref()).unwrap().origin(), weir::plugin::Origin::Memory);
        eprintln!("compile: {:?}, from the disk cache: {:?}", compiled.load_time(), cached.load_time());
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
        };
        weir::plugin::PluginEngine::new(&options).unwrap().load_file(weir_plugin_artifacts::COUNT.as_ref()).unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
        }
        let reloaded = weir::plugin::PluginEngine::new(&options).unwrap().load_file(weir_plugin_artifacts::COUNT.as_ref()).unwrap();
        assert_eq!(reloaded.origin(), weir::plugin::Origin::Compiled);
    }
}


//! The `test-misbehave` plugin.

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

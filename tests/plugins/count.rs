//! The `count` plugin.

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

/// The plugin's log records reach the host's log as `weir::plugin` events
/// with the node's name. The subscriber is the test binary's global one: a
/// scoped one (`with_default`) races with the other tests' threads over
/// tracing's per-callsite interest cache and may never see the event.
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
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    let captured = CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test of this binary sets a global subscriber");
        captured
    });
    let input = mixed_batch();
    let plugin = load(weir_plugin_artifacts::COUNT);
    // A node name no other test uses: only this test's records match.
    let mut sink = SinkInstance::new(engine(), &plugin, "logged-sink", &Limits::default()).unwrap();
    sink.open("{}", &input.schema()).unwrap();
    sink.write(&input).unwrap();
    sink.flush().unwrap();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains(" weir::plugin: ") && l.contains("logged-sink"))
        .unwrap_or_else(|| panic!("no plugin log in:\n{log}"));
    assert!(line.contains("INFO") && line.contains("count"), "{line}");
    assert!(line.contains("node=\"logged-sink\""), "{line}");
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

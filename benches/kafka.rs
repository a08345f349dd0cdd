//! Kafka → Wasm `filter` → Kafka through Weir against a plain rdkafka
//! consume → produce loop, in the same run against the same broker (tansu,
//! `scripts/kafka-broker.sh install`, with in-memory storage).
//!
//! Both read the same 200,000 JSON messages from one topic and write what
//! they keep to another; the baseline copies every message (an upper bound:
//! no parsing, no filtering), Weir parses, filters in Wasm (keeping all
//! rows) and encodes again. Reported: messages/s of each, best of three, and
//! the ratio.
//!
//! Run: `cargo bench -p weir-e2e --bench kafka`.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use weir::exec::RunOptions;
use weir::graph::Graph;
use weir::plugin::{EngineOptions, PluginEngine};
use weir::spec::Pipeline;

// The tests' broker: started on a free port, killed when dropped.
#[path = "../runtime/tests/support/kafka.rs"]
mod kafka;

use kafka::Broker;

const MESSAGES: usize = 200_000;

fn producer(brokers: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .create()
        .unwrap()
}

/// Sends `count` messages to `topic`, waiting for every delivery.
fn fill(brokers: &str, topic: &str) {
    let producer = producer(brokers);
    for id in 0..MESSAGES {
        let value = format!(
            r#"{{"id": {id}, "page": "/p/{}", "price": {}}}"#,
            id % 7,
            id % 100
        );
        let mut record = BaseRecord::<(), String>::to(topic).payload(&value);
        while let Err((_, returned)) = producer.send(record) {
            record = returned;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

/// The baseline: consume every message of `from` and produce it to `to`.
fn plain_loop(brokers: &str, from: &str, to: &str, group: &str) -> Duration {
    let started = Instant::now();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[from]).unwrap();
    let producer = producer(brokers);
    let mut copied = 0;
    while copied < MESSAGES {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.unwrap();
        let mut record = BaseRecord::<(), [u8]>::to(to).payload(message.payload().unwrap());
        while let Err((_, returned)) = producer.send(record) {
            record = returned;
            std::thread::sleep(Duration::from_millis(1));
        }
        copied += 1;
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    consumer
        .commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
        .unwrap();
    started.elapsed()
}

/// Weir: the same through a Kafka source, the Wasm filter and a Kafka sink.
fn weir_run(brokers: &str, from: &str, to: &str, group: &str, engine: &PluginEngine) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(
        &path,
        format!(
            "sources:
  events:
    type: kafka
    config: {{brokers: \"{brokers}\", topics: [{from}], group_id: {group}, until_end: true,
              schema: {{id: int64, page: utf8, price: float64}}}}
transforms:
  kept: {{plugin: {}, inputs: [events], config: {{predicate: \"price >= 0\"}}}}
sinks:
  out: {{type: kafka, inputs: [kept], config: {{brokers: \"{brokers}\", topic: {to}}}}}
",
            weir_plugin_artifacts::FILTER
        ),
    )
    .unwrap();
    let graph = Graph::build(Pipeline::from_file(&path).unwrap(), engine).unwrap();
    let started = Instant::now();
    let summary = weir::exec::run(
        &graph,
        engine,
        &RunOptions::default(),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(summary.source_rows(), MESSAGES as u64);
    started.elapsed()
}

fn main() {
    let broker = Broker::start();
    let brokers = broker.addr.clone();
    let topic = |name: &str| broker.create_topic(name, 1);
    topic("input");
    fill(&brokers, "input");
    let engine = PluginEngine::new(&EngineOptions::default()).unwrap();
    let (mut plain, mut wasm) = (Duration::MAX, Duration::MAX);
    for round in 0..3 {
        let (base_out, weir_out) = (format!("plain-{round}"), format!("weir-{round}"));
        topic(&base_out);
        topic(&weir_out);
        plain = plain.min(plain_loop(
            &brokers,
            "input",
            &base_out,
            &format!("plain-{round}"),
        ));
        wasm = wasm.min(weir_run(
            &brokers,
            "input",
            &weir_out,
            &format!("weir-{round}"),
            &engine,
        ));
    }
    let rate = |d: Duration| MESSAGES as f64 / d.as_secs_f64();
    println!(
        "plain rdkafka consume->produce: {:.0} messages/s; weir kafka -> wasm filter -> kafka: {:.0} messages/s ({:.0} % of plain)",
        rate(plain),
        rate(wasm),
        100.0 * rate(wasm) / rate(plain)
    );
}

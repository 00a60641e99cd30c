//! Sink layer: records/s through NullSink, the embedded mock cluster, and a real broker
//! when `KAFKA_BROKERS` is set, at payloads of 64 B, 1 KiB and 16 KiB. Each iteration
//! sends a batch of 256 records concurrently and awaits every acknowledgement.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use kafka_sink::{EmbeddedBroker, KafkaSink, NullSink, Record, Sink, SinkConfig};

const BATCH: usize = 256;
const SIZES: [usize; 3] = [64, 1024, 16 * 1024];

async fn send_batch<S: Sink>(sink: &S, topic: &str, payload: &[u8]) {
    let mut pending = Vec::with_capacity(BATCH);
    for _ in 0..BATCH {
        let record = Record::new(topic, payload);
        pending.push(sink.enqueue(&record).await.expect("enqueue"));
    }
    for delivery in pending {
        black_box(delivery.await.expect("delivery"));
    }
}

fn bench_sink<S: Sink>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    topic: &str,
    sink: &S,
) {
    for size in SIZES {
        let payload = bench::corpus::json_payload(size);
        group.bench_function(format!("{name}/{size}B"), |b| {
            b.iter(|| runtime.block_on(send_batch(sink, topic, &payload)))
        });
    }
}

fn sink(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let embedded = EmbeddedBroker::start().expect("mock cluster");
    embedded.create_topic("bench-sink", 3).expect("topic");
    let mock = KafkaSink::new(SinkConfig::new(embedded.brokers())).unwrap();
    let broker = std::env::var("KAFKA_BROKERS").ok().map(|brokers| {
        let topic = format!("bench-sink-{}", std::process::id());
        let sink = KafkaSink::new(SinkConfig::new(brokers)).unwrap();
        sink.create_topic(&topic, 3)
            .expect("topic on the real broker");
        (topic, sink)
    });

    let mut group = c.benchmark_group("sink");
    group.throughput(Throughput::Elements(BATCH as u64));
    bench_sink(
        &mut group,
        &runtime,
        "null",
        "bench-sink",
        &NullSink::default(),
    );
    bench_sink(&mut group, &runtime, "mock", "bench-sink", &mock);
    if let Some((topic, sink)) = &broker {
        bench_sink(&mut group, &runtime, "broker", topic, sink);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short windows keep the whole main job short; these layers are steady.
    config = bench::criterion_config();
    targets = sink
}
criterion_main!(benches);

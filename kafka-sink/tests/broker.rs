//! The sink against a broker from `test-broker`: tansu in CI, the mock elsewhere.

use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use kafka_sink::{KafkaSink, Record, Sink, SinkConfig, SinkError};
use test_broker::{payload_counts, scratch_dir, BrokerKind, TestBroker};

fn sink_for(broker: &TestBroker, tweak: impl FnOnce(&mut SinkConfig)) -> KafkaSink {
    let mut config = SinkConfig::new(broker.brokers());
    tweak(&mut config);
    KafkaSink::new(config).expect("producer")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn concurrent_records_come_back_byte_for_byte_exactly_once() {
    let broker = TestBroker::start();
    eprintln!("broker: {:?}", broker);
    let topic = TestBroker::unique_topic("sink-roundtrip");
    broker.create_topic(&topic, 3);
    let sink = Rc::new(sink_for(&broker, |_| {}));
    assert_eq!(sink.check_topic(&topic).unwrap(), 3);

    const N: usize = 2_000;
    let local = tokio::task::LocalSet::new();
    let deliveries = local.block_on(&runtime(), async {
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let sink = Rc::clone(&sink);
                let topic = topic.clone();
                tokio::task::spawn_local(async move {
                    let payload = format!(r#"{{"n":{i},"pad":"{}"}}"#, "x".repeat(i % 97));
                    let key = format!("key-{}", i % 17);
                    let trace = i.to_string();
                    let headers = [("trace", trace.as_bytes()), ("empty", &b""[..])];
                    let record = Record::new(&topic, payload.as_bytes())
                        .with_key(key.as_bytes())
                        .with_headers(&headers);
                    sink.send(&record).await
                })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            task.await.unwrap().expect("delivery");
            ok += 1;
        }
        ok
    });
    assert_eq!(deliveries, N);
    assert_eq!(sink.stats().delivered, N as u64);
    assert_eq!(sink.stats().in_flight_records, 0);

    let records = broker.consume_all(&topic, N, Duration::from_secs(15));
    assert_eq!(records.len(), N, "every record read back, none duplicated");
    let counts = payload_counts(&records);
    for record in &records {
        let text = String::from_utf8(record.payload.clone()).unwrap();
        let n: usize = text[5..text.find(',').unwrap()].parse().unwrap();
        assert_eq!(
            text,
            format!(r#"{{"n":{n},"pad":"{}"}}"#, "x".repeat(n % 97))
        );
        assert_eq!(
            record.key.as_deref(),
            Some(format!("key-{}", n % 17).as_bytes())
        );
        assert_eq!(
            record.headers,
            vec![
                ("trace".to_owned(), n.to_string().into_bytes()),
                ("empty".to_owned(), vec![])
            ]
        );
        assert_eq!(counts[&record.payload], 1);
    }
    let distinct: HashSet<_> = records.iter().map(|r| r.payload.clone()).collect();
    assert_eq!(distinct.len(), N);
}

#[test]
fn unknown_topic_is_reported_by_the_startup_check_and_not_created() {
    let broker = TestBroker::start();
    let sink = sink_for(&broker, |_| {});
    // Twice: a check that created the topic (as a metadata request naming it does on
    // brokers with auto-creation, the mock cluster among them) would pass the second time.
    for attempt in 1..=2 {
        let error = sink.check_topic("no-such-topic-here").unwrap_err();
        assert!(
            matches!(&error, SinkError::UnknownTopic { topic, .. } if topic == "no-such-topic-here"),
            "attempt {attempt}: {error:?}"
        );
        assert!(
            error.to_string().contains(broker.brokers()),
            "error names the brokers: {error}"
        );
    }
}

#[test]
fn unreachable_broker_is_reported_by_the_startup_check() {
    let mut config = SinkConfig::new("127.0.0.1:1");
    config.metadata_timeout = Duration::from_secs(1);
    let sink = KafkaSink::new(config).unwrap();
    let error = sink.check_topic("any").unwrap_err();
    assert!(
        matches!(error, SinkError::BrokerUnreachable { ref brokers, .. } if brokers == "127.0.0.1:1"),
        "{error:?}"
    );
}

#[test]
fn oversized_record_fails_at_once_as_too_large() {
    let broker = TestBroker::start();
    let topic = TestBroker::unique_topic("sink-large");
    broker.create_topic(&topic, 1);
    let sink = sink_for(&broker, |config| {
        config
            .extra
            .push(("message.max.bytes".into(), "10000".into()));
    });
    let payload = vec![b'x'; 20_000];
    let record = Record::new(&topic, &payload);
    let error = runtime().block_on(sink.send(&record)).unwrap_err();
    assert_eq!(error, SinkError::TooLarge { bytes: 20_000 });
    assert!(!error.is_retriable());
    assert_eq!(sink.stats().in_flight_records, 0);
}

#[test]
fn overload_fails_fast_and_every_accepted_record_is_delivered() {
    let broker = TestBroker::start();
    let topic = TestBroker::unique_topic("sink-overload");
    broker.create_topic(&topic, 1);
    // A linger far longer than the test holds every record in the producer until the
    // flush below, so no delivery can free a slot while the 50 are offered: exactly 8
    // fit, whatever the machine's speed.
    let sink = sink_for(&broker, |config| {
        config.max_in_flight_records = 8;
        config.linger = Duration::from_secs(600);
        config.delivery_timeout = Duration::from_secs(900);
    });
    let (accepted, overloaded) = runtime().block_on(async {
        let mut pending = Vec::new();
        let mut overloaded = 0;
        for i in 0..50 {
            let payload = format!(r#"{{"i":{i}}}"#);
            let record = Record::new(&topic, payload.as_bytes());
            match sink.enqueue(&record).await {
                Ok(delivery) => pending.push((payload, delivery)),
                Err(SinkError::Overloaded {
                    in_flight_records, ..
                }) => {
                    assert_eq!(in_flight_records, 8);
                    overloaded += 1;
                }
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            sink.stats().in_flight_records,
            8,
            "nothing left the producer"
        );
        let report = sink.flush(Duration::from_secs(60));
        assert_eq!(report.undelivered, 0, "{report:?}");
        let mut accepted = Vec::new();
        for (payload, delivery) in pending {
            delivery.await.expect("accepted record delivered");
            accepted.push(payload);
        }
        (accepted, overloaded)
    });
    assert_eq!(accepted.len(), 8, "the bound admits exactly 8 at once");
    assert_eq!(sink.stats().in_flight_records, 0, "every slot freed");
    assert_eq!(overloaded, 42);
    assert_eq!(sink.stats().rejected_overloaded, 42);
    let records = broker.consume_all(&topic, accepted.len(), Duration::from_secs(10));
    let found: HashSet<_> = records
        .iter()
        .map(|r| String::from_utf8(r.payload.clone()).unwrap())
        .collect();
    assert_eq!(found, accepted.into_iter().collect());
}

/// Polls `future` on this thread with a `Waker` of its own, as an event loop without
/// tokio would.
fn wait_without_runtime<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return output;
        }
        std::thread::park();
    }
}

#[test]
fn try_enqueue_needs_no_runtime_and_refuses_at_once_past_the_bound() {
    let broker = TestBroker::start();
    let topic = TestBroker::unique_topic("sink-try");
    broker.create_topic(&topic, 1);
    // Two records fit, and nothing leaves the producer before the flush below. (The
    // local queue is never smaller than the in-flight bound, so the bound refuses
    // first: a full local queue cannot happen before it.)
    let sink = sink_for(&broker, |config| {
        config.max_in_flight_records = 2;
        config.queue_max_records = 2;
        config.linger = Duration::from_secs(600);
        config.delivery_timeout = Duration::from_secs(900);
    });
    // No tokio runtime anywhere in this test.
    let first = sink
        .try_enqueue(&Record::new(&topic, b"1"))
        .expect("queued");
    let second = sink
        .try_enqueue(&Record::new(&topic, b"2"))
        .expect("queued");
    let error = sink.try_enqueue(&Record::new(&topic, b"3")).unwrap_err();
    assert!(
        matches!(
            error,
            SinkError::Overloaded {
                in_flight_records: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retriable());
    assert_eq!(sink.stats().retried, 0, "try_enqueue never retries");
    assert_eq!(
        sink.stats().in_flight_records,
        2,
        "the refused record holds no slot"
    );

    let report = sink.flush(Duration::from_secs(60));
    assert_eq!(report.undelivered, 0, "{report:?}");
    let offsets = [first, second].map(|pending| wait_without_runtime(pending).unwrap().offset);
    assert_eq!(offsets[1], offsets[0] + 1);
    assert_eq!(sink.stats().in_flight_records, 0);
}

#[test]
fn broker_outage_loses_no_accepted_record_silently() {
    let scratch = scratch_dir("sink-outage");
    let mut broker = TestBroker::start_restartable(&scratch);
    eprintln!("broker: {:?}", broker);
    let topic = TestBroker::unique_topic("sink-outage");
    broker.create_topic(&topic, 1);
    let sink = sink_for(&broker, |config| {
        config.delivery_timeout = Duration::from_secs(30)
    });

    let rt = runtime();
    let send = |range: std::ops::Range<usize>| {
        range
            .map(|i| {
                let payload = format!(r#"{{"seq":{i}}}"#);
                let record = Record::new(&topic, payload.as_bytes());
                let pending = rt.block_on(sink.enqueue(&record)).expect("queued");
                (payload, pending)
            })
            .collect::<Vec<_>>()
    };
    let mut pending = send(0..100);
    broker.outage_start();
    pending.extend(send(100..200));
    std::thread::sleep(Duration::from_secs(2));
    broker.outage_end();
    pending.extend(send(200..300));

    let mut delivered = HashSet::new();
    let mut failed = 0;
    for (payload, delivery) in pending {
        match rt.block_on(delivery) {
            Ok(_) => {
                delivered.insert(payload);
            }
            Err(error) => {
                eprintln!("reported failure: {error}");
                failed += 1;
            }
        }
    }
    // The outage (2 s) is far inside the delivery timeout (30 s): librdkafka must
    // carry every queued record across it, so none may fail.
    assert_eq!(failed, 0, "records failed across a short outage");
    assert_eq!(delivered.len(), 300, "every accepted record delivered");
    let records = broker.consume_all(&topic, delivered.len(), Duration::from_secs(15));
    let found: HashSet<_> = records
        .iter()
        .map(|r| String::from_utf8(r.payload.clone()).unwrap())
        .collect();
    let missing: Vec<_> = delivered.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not in the topic: {missing:?}"
    );
    let counts = payload_counts(&records);
    assert!(
        counts.values().all(|&n| n == 1),
        "no duplicates after the outage"
    );
    eprintln!(
        "outage on {:?}: {} delivered, {failed} reported failed",
        broker.kind(),
        delivered.len()
    );
    if broker.kind() == BrokerKind::Tansu {
        let _ = std::fs::remove_dir_all(&scratch);
    }
}

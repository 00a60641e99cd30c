//! Finds a Kafka broker for tests: `KAFKA_BROKERS` if set; else a `tansu` binary on
//! PATH, started on a free loopback port and stopped when dropped; else kafka-sink's
//! embedded mock, with a printed notice. With `REQUIRE_REAL_BROKER=1` (CI) the mock is
//! refused.
//!
//! Also creates topics and reads records back, because tansu reports wrong end offsets:
//! the only honest count is the records one can consume. Test support for kafka-sink's
//! own tests, the end-to-end suites and the benches: an unpublished crate, so that none
//! of it is part of kafka-sink's published surface.
//!
//! ```no_run
//! use test_broker::TestBroker;
//!
//! let broker = TestBroker::start();
//! let topic = TestBroker::unique_topic("doc");
//! broker.create_topic(&topic, 1);
//! // ... produce to broker.brokers() ...
//! let records = broker.consume_all(&topic, 1, std::time::Duration::from_secs(5));
//! # let _ = records;
//! ```
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use kafka_sink::{EmbeddedBroker, KafkaSink, SinkConfig};

/// Which kind of broker a [`TestBroker`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// Given by `KAFKA_BROKERS`.
    External,
    /// A tansu child process of this test.
    Tansu,
    /// librdkafka's mock cluster.
    Mock,
}

enum Storage {
    Memory,
    Sqlite(PathBuf),
}

enum Guard {
    None,
    Tansu {
        child: Child,
        storage: Storage,
        port: u16,
    },
    Mock(EmbeddedBroker),
}

/// A broker for one test (or test binary).
pub struct TestBroker {
    kind: BrokerKind,
    brokers: String,
    guard: Guard,
}

impl std::fmt::Debug for TestBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBroker")
            .field("kind", &self.kind)
            .field("brokers", &self.brokers)
            .finish()
    }
}

/// A record read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// Partition it was read from.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub payload: Vec<u8>,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

fn real_broker_required() -> bool {
    std::env::var("REQUIRE_REAL_BROKER").is_ok_and(|value| value == "1")
}

/// Whether a `tansu` binary can be run.
pub fn tansu_available() -> bool {
    Command::new("tansu")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("no free loopback port")
}

fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn spawn_tansu(port: u16, storage: &Storage) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new("tansu");
    let engine = match storage {
        Storage::Memory => "memory://tansu/".to_owned(),
        // tansu resolves sqlite paths against its working directory and wants the
        // directory to exist: run it inside the scratch dir with a relative path.
        Storage::Sqlite(dir) => {
            command.current_dir(dir);
            "sqlite://./tansu.db".to_owned()
        }
    };
    let child = command
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", &engine])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start tansu");
    assert!(
        wait_for_port(port, Duration::from_secs(20)),
        "tansu did not listen on {port}"
    );
    child
}

/// Sends `signal` (a name such as `STOP`) to `child` with `kill`, which spares this
/// crate `unsafe` for one test-only call.
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {}", child.id());
}

impl TestBroker {
    /// The broker this environment offers (see the module docs for the order).
    pub fn start() -> Self {
        if let Ok(brokers) = std::env::var("KAFKA_BROKERS") {
            return Self {
                kind: BrokerKind::External,
                brokers,
                guard: Guard::None,
            };
        }
        if tansu_available() {
            return Self::start_tansu(None);
        }
        assert!(
            !real_broker_required(),
            "REQUIRE_REAL_BROKER=1 but neither KAFKA_BROKERS nor a tansu binary is available"
        );
        eprintln!(
            "NOTICE: no KAFKA_BROKERS and no tansu on PATH: testing against librdkafka's MOCK \
             cluster, not a real broker"
        );
        let mock = EmbeddedBroker::start().expect("mock cluster");
        Self {
            kind: BrokerKind::Mock,
            brokers: mock.brokers().to_owned(),
            guard: Guard::Mock(mock),
        }
    }

    /// A tansu child process of this test, with in-memory storage, or sqlite storage in
    /// `sqlite_dir` so that records survive an outage ([`TestBroker::outage_start`],
    /// [`TestBroker::outage_end`]).
    /// Panics if tansu is not available.
    pub fn start_tansu(sqlite_dir: Option<&Path>) -> Self {
        let storage = match sqlite_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).expect("sqlite dir");
                Storage::Sqlite(dir.to_owned())
            }
            None => Storage::Memory,
        };
        let port = free_port();
        let child = spawn_tansu(port, &storage);
        Self {
            kind: BrokerKind::Tansu,
            brokers: format!("127.0.0.1:{port}"),
            guard: Guard::Tansu {
                child,
                storage,
                port,
            },
        }
    }

    /// The kind of broker.
    pub fn kind(&self) -> BrokerKind {
        self.kind
    }

    /// Bootstrap servers.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Starts an outage: SIGKILLs a tansu child (as a crash would) or takes the mock's
    /// broker down. Panics for an external broker, which the test does not own.
    pub fn outage_start(&mut self) {
        match &mut self.guard {
            Guard::Tansu { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Guard::Mock(mock) => mock.broker_down().expect("mock broker down"),
            Guard::None => panic!("cannot stop an external broker"),
        }
    }

    /// Ends the outage: tansu starts again on the same port and storage.
    pub fn outage_end(&mut self) {
        match &mut self.guard {
            Guard::Tansu {
                child,
                storage,
                port,
            } => *child = spawn_tansu(*port, storage),
            Guard::Mock(mock) => mock.broker_up().expect("mock broker up"),
            Guard::None => panic!("cannot restart an external broker"),
        }
    }

    /// Pauses the broker without closing its connections, as a stalled broker would:
    /// SIGSTOP to a tansu child (requests are accepted by the kernel and never
    /// answered), or the mock's broker down (the mock cannot stall; down is the nearest
    /// it has). Panics for an external broker, which the test does not own.
    pub fn pause(&mut self) {
        match &self.guard {
            Guard::Tansu { child, .. } => signal(child, "STOP"),
            Guard::Mock(mock) => mock.broker_down().expect("mock broker down"),
            Guard::None => panic!("cannot pause an external broker"),
        }
    }

    /// Resumes a broker paused by [`TestBroker::pause`]: SIGCONT, or the mock's broker up.
    pub fn resume(&mut self) {
        match &self.guard {
            Guard::Tansu { child, .. } => signal(child, "CONT"),
            Guard::Mock(mock) => mock.broker_up().expect("mock broker up"),
            Guard::None => panic!("cannot resume an external broker"),
        }
    }

    /// A broker this test may stop and restart without losing data: tansu with sqlite
    /// storage when tansu is available, else the mock (refused under
    /// `REQUIRE_REAL_BROKER=1`).
    pub fn start_restartable(scratch: &Path) -> Self {
        if tansu_available() {
            return Self::start_tansu(Some(scratch));
        }
        assert!(
            !real_broker_required(),
            "REQUIRE_REAL_BROKER=1 but tansu is not available"
        );
        eprintln!("NOTICE: no tansu on PATH: the outage is simulated on librdkafka's MOCK cluster");
        let mock = EmbeddedBroker::start().expect("mock cluster");
        Self {
            kind: BrokerKind::Mock,
            brokers: mock.brokers().to_owned(),
            guard: Guard::Mock(mock),
        }
    }

    /// A topic name no other test uses.
    pub fn unique_topic(prefix: &str) -> String {
        format!(
            "{prefix}-{}-{}",
            std::process::id(),
            fastrand::u64(..) % 1_000_000_000
        )
    }

    /// Creates `topic` and waits until its metadata is visible.
    pub fn create_topic(&self, topic: &str, partitions: i32) {
        match &self.guard {
            Guard::Mock(mock) => mock.create_topic(topic, partitions).expect("mock topic"),
            Guard::None | Guard::Tansu { .. } => self
                .metadata_client(Duration::from_secs(10))
                .create_topic(topic, partitions)
                .expect("create topic"),
        }
        let client = self.metadata_client(Duration::from_secs(2));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = client.check_topic(topic);
            match ready {
                Ok(count) if count == partitions as usize => return,
                _ if Instant::now() > deadline => panic!("topic {topic} never appeared: {ready:?}"),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// A sink that is only asked about the cluster (topics, creation), never produces
    /// through: the sink's own start-up check is the one that decides whether a topic
    /// is there.
    fn metadata_client(&self, metadata_timeout: Duration) -> KafkaSink {
        let mut config = SinkConfig::new(&self.brokers);
        config.metadata_timeout = metadata_timeout;
        KafkaSink::new(config).expect("metadata client")
    }

    fn consumer(&self) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", format!("harness-{}", fastrand::u64(..)))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer")
    }

    /// Reads `topic` from the beginning until `expected` records arrived or nothing new
    /// came for `idle`; returns everything read, in per-partition order.
    pub fn consume_all(&self, topic: &str, expected: usize, idle: Duration) -> Vec<ConsumedRecord> {
        let partitions = self
            .metadata_client(Duration::from_secs(10))
            .check_topic(topic)
            .expect("topic metadata");
        let consumer = self.consumer();
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions as i32 {
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .expect("assignment");
        }
        consumer.assign(&assignment).expect("assign");
        let mut records = Vec::new();
        let mut last_record = Instant::now();
        while records.len() < expected && last_record.elapsed() < idle {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    last_record = Instant::now();
                    records.push(ConsumedRecord {
                        partition: message.partition(),
                        offset: message.offset(),
                        key: message.key().map(<[u8]>::to_vec),
                        payload: message.payload().unwrap_or_default().to_vec(),
                        headers: message
                            .headers()
                            .map(|headers| {
                                headers
                                    .iter()
                                    .map(|h| {
                                        (h.key.to_owned(), h.value.unwrap_or_default().to_vec())
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    });
                }
                Some(Err(error)) => eprintln!("harness consumer: {error}"),
                None => {}
            }
        }
        records
    }
}

/// Counts how often each payload occurs: the test's view of "exactly once".
pub fn payload_counts(records: &[ConsumedRecord]) -> HashMap<Vec<u8>, usize> {
    let mut counts = HashMap::new();
    for record in records {
        *counts.entry(record.payload.clone()).or_insert(0) += 1;
    }
    counts
}

/// A fresh directory under the system temp dir, for sqlite storage.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "{name}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Guard::Tansu { child, .. } = &mut self.guard {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

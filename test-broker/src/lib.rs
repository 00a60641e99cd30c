//! Finds a Kafka broker for tests: `KAFKA_BROKERS` if set; else a `tansu` binary on
//! PATH, started on a free loopback port and stopped when dropped; else kafka-sink's
//! embedded mock, with a printed notice. With `REQUIRE_REAL_BROKER=1` (CI) the mock is
//! refused.
//!
//! Also starts a secured broker ([`TestBroker::start_secured`]): tansu with SASL SCRAM
//! users, behind stunnel for TLS and mutual TLS, with a CA, certificates and a password
//! made at test time (see [`Secured`] for what tansu itself can and cannot do). Its
//! [`gateway_flags`](TestBroker::gateway_flags) are the flags that reach it, and the
//! harness's own clients (topic creation, reading back) use the same security. A test
//! binary whose tests call [`secure_every_broker`] first gets it from every
//! [`TestBroker::start`], so that the end-to-end suites run unchanged against it.
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
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use kafka_sink::{EmbeddedBroker, KafkaSink, SinkConfig};

mod secured;

use secured::{ClientSide, Files};
pub use secured::{Mistake, Secured, Tls};

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

#[derive(Clone)]
enum Storage {
    Memory,
    Sqlite(PathBuf),
}

/// How a tansu child is started, again the same way after an outage.
struct Tansu {
    port: u16,
    /// The port clients are told about: stunnel's when TLS is in front, else `port`.
    advertised_port: u16,
    storage: Storage,
    authentication: bool,
}

/// A child process of this test, killed when dropped: also when a test (or the start
/// of a broker) panics half-way.
struct Process(Child);

impl Process {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A scratch directory of this test, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a secured broker owns besides tansu. Field order is drop order: stunnel stops
/// before the directory its configuration is in goes.
struct SecuredParts {
    /// Held for its drop: it stops stunnel.
    _stunnel: Option<Process>,
    files: Files,
    client: ClientSide,
    /// Certificates, keys, the password file, sqlite storage.
    scratch: Scratch,
}

enum Guard {
    None,
    Tansu {
        child: Process,
        tansu: Tansu,
        secured: Option<Box<SecuredParts>>,
    },
    Mock(EmbeddedBroker),
}

/// A broker for one test (or test binary).
pub struct TestBroker {
    kind: BrokerKind,
    brokers: String,
    guard: Guard,
    /// `--brokers` and, for a secured broker, the security flags that reach it.
    gateway_flags: Vec<String>,
}

impl std::fmt::Debug for TestBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBroker")
            .field("kind", &self.kind)
            .field("brokers", &self.brokers)
            .field("secured", &self.secured())
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

fn spawn_tansu(tansu: &Tansu) -> Process {
    let Tansu {
        port,
        advertised_port,
        storage,
        authentication,
    } = tansu;
    let url = format!("tcp://127.0.0.1:{port}");
    let advertised = format!("tcp://127.0.0.1:{advertised_port}");
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
            &advertised,
        ])
        .args(["--storage-engine", &engine])
        .args(authentication.then_some("--authentication"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start tansu");
    let child = Process(child);
    assert!(
        wait_for_port(*port, Duration::from_secs(20)),
        "tansu did not listen on {port}"
    );
    child
}

/// Which secured broker [`TestBroker::start`] starts, once [`secure_every_broker`] said.
static SECURE_EVERY_BROKER: OnceLock<Secured> = OnceLock::new();

/// From now on, every [`TestBroker::start`] of this process starts a secured broker of
/// `secured` (see [`TestBroker::start_secured`]) instead of the plaintext one: for a
/// test binary that runs the end-to-end suites against a secured broker, each of whose
/// tests calls this first. The suites then reach it through
/// [`TestBroker::gateway_flags`]. Suites that start a broker another way
/// ([`TestBroker::start_restartable`]) or pass `--brokers` themselves stay plaintext:
/// leave them out of such a binary.
///
/// # Panics
///
/// If a test of the same process already asked for other settings.
pub fn secure_every_broker(secured: Secured) {
    let chosen = SECURE_EVERY_BROKER.get_or_init(|| secured);
    assert_eq!(
        *chosen, secured,
        "this test binary already secures its brokers otherwise"
    );
}

/// Creates the SCRAM user of `client` in `storage` by running tansu without
/// authentication on it for a moment: `tansu user create` speaks to the broker
/// unauthenticated, which a broker with `--authentication` refuses.
fn create_scram_user(storage: &Storage, client: &ClientSide) {
    let Some(mechanism) = client.secured.scram else {
        return;
    };
    let port = free_port();
    let setup = Tansu {
        port,
        advertised_port: port,
        storage: storage.clone(),
        authentication: false,
    };
    let mut setup_broker = spawn_tansu(&setup);
    let mechanism = match mechanism {
        kafka_sink::SaslMechanism::ScramSha256 => "scram256",
        kafka_sink::SaslMechanism::ScramSha512 => "scram512",
        other => panic!("tansu offers no {other:?}"),
    };
    // The password goes on tansu's command line: its only way in. It is made for this
    // test, and the gateway under test never takes one on its own.
    let status = Command::new("tansu")
        .args([
            "user",
            "create",
            "--broker",
            &format!("tcp://127.0.0.1:{port}"),
        ])
        .args(["--mechanism", mechanism, &client.username, &client.password])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("tansu user create");
    setup_broker.stop();
    assert!(status.success(), "tansu user create failed: {status}");
}

/// Why a secured broker cannot be started here, if it cannot.
fn secured_unavailable(secured: Secured) -> Option<String> {
    if !tansu_available() {
        return Some("no tansu on PATH".to_owned());
    }
    if secured.tls != Tls::Off && secured::stunnel_binary().is_none() {
        return Some("no stunnel4 (or stunnel) on PATH (Debian: apt-get install stunnel4)".into());
    }
    None
}

/// Sends `signal` (a name such as `STOP`) to `child` with `kill`, which spares this
/// crate `unsafe` for one test-only call.
fn signal(child: &Process, signal: &str) {
    let child = &child.0;
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {}", child.id());
}

impl TestBroker {
    /// The broker this environment offers (see the module docs for the order), or the
    /// secured one [`secure_every_broker`] asked for.
    pub fn start() -> Self {
        if let Some(secured) = SECURE_EVERY_BROKER.get() {
            if let Some(broker) = Self::start_secured(*secured) {
                return broker;
            }
        }
        if let Ok(brokers) = std::env::var("KAFKA_BROKERS") {
            return Self::plain(BrokerKind::External, brokers, Guard::None);
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
        Self::plain(
            BrokerKind::Mock,
            mock.brokers().to_owned(),
            Guard::Mock(mock),
        )
    }

    fn plain(kind: BrokerKind, brokers: String, guard: Guard) -> Self {
        Self {
            kind,
            gateway_flags: vec!["--brokers".to_owned(), brokers.clone()],
            brokers,
            guard,
        }
    }

    /// A secured broker of this test: tansu on sqlite storage in a scratch directory,
    /// with a SCRAM user for [`Secured::scram`], behind stunnel for [`Secured::tls`],
    /// with a fresh CA, certificates and password; all stopped and removed when
    /// dropped. It is always a child of this test, never `KAFKA_BROKERS` (which is
    /// plaintext).
    ///
    /// `None`, with a printed notice, where tansu (or, for TLS, stunnel) is missing;
    /// under `REQUIRE_REAL_BROKER=1` that is a panic instead.
    pub fn start_secured(secured: Secured) -> Option<Self> {
        if let Some(missing) = secured_unavailable(secured) {
            assert!(
                !real_broker_required(),
                "REQUIRE_REAL_BROKER=1 but no secured broker can be started: {missing}"
            );
            eprintln!("NOTICE: no secured broker ({missing}): testing against a plaintext one");
            return None;
        }
        let scratch = Scratch(scratch_dir("secured-broker"));
        let files = Files::generate(&scratch.0);
        let client = ClientSide::new(secured, &files, &scratch.0);
        let storage = Storage::Sqlite(scratch.0.clone());
        create_scram_user(&storage, &client);
        let port = free_port();
        let tls_port = (secured.tls != Tls::Off).then(free_port);
        let tansu = Tansu {
            port,
            advertised_port: tls_port.unwrap_or(port),
            storage,
            authentication: secured.scram.is_some(),
        };
        let child = spawn_tansu(&tansu);
        let stunnel = tls_port.map(|tls_port| {
            let binary = secured::stunnel_binary().expect("checked above");
            let mutual = secured.tls == Tls::Mutual;
            let stunnel = Process(secured::spawn_stunnel(
                binary, &scratch.0, &files, mutual, tls_port, port,
            ));
            let log = scratch.0.join("stunnel.log");
            assert!(
                wait_for_port(tls_port, Duration::from_secs(20)),
                "stunnel did not listen on {tls_port}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            stunnel
        });
        let brokers = format!("127.0.0.1:{}", tansu.advertised_port);
        let mut gateway_flags = vec!["--brokers".to_owned(), brokers.clone()];
        gateway_flags.extend(client.gateway_flags());
        Some(Self {
            kind: BrokerKind::Tansu,
            brokers,
            guard: Guard::Tansu {
                child,
                tansu,
                secured: Some(Box::new(SecuredParts {
                    _stunnel: stunnel,
                    scratch,
                    files,
                    client,
                })),
            },
            gateway_flags,
        })
    }

    /// What a secured broker asks of its clients; `None` for a plaintext one.
    pub fn secured(&self) -> Option<Secured> {
        self.secured_parts().map(|parts| parts.client.secured)
    }

    fn secured_parts(&self) -> Option<&SecuredParts> {
        match &self.guard {
            Guard::Tansu {
                secured: Some(parts),
                ..
            } => Some(parts),
            _ => None,
        }
    }

    /// The gateway flags that reach this broker: `--brokers ADDRESS`, and for a secured
    /// broker the `--kafka-*` security flags, the password by file
    /// (`--kafka-sasl-password-file`), never on the command line.
    pub fn gateway_flags(&self) -> Vec<&str> {
        self.gateway_flags.iter().map(String::as_str).collect()
    }

    /// The gateway flags of a client of this secured broker that makes `mistake`, and
    /// the secrets that must not appear in what the gateway prints: the password it
    /// was given and the right one.
    ///
    /// # Panics
    ///
    /// For a plaintext broker, or a mistake this broker does not check (a wrong
    /// password without SCRAM, ...).
    pub fn mistaken_gateway_flags(&self, mistake: Mistake) -> (Vec<String>, Vec<String>) {
        let parts = self.secured_parts().expect("a secured broker");
        let wrong = parts.client.with(mistake, &parts.files, &parts.scratch.0);
        let mut flags = vec!["--brokers".to_owned(), self.brokers.clone()];
        flags.extend(wrong.gateway_flags());
        (flags, vec![wrong.password, parts.client.password.clone()])
    }

    /// Runs the gateway `binary` against this secured broker with the flags of a client
    /// making `mistake`, and checks what an operator sees: the process stops on its own
    /// with a failure status, one line of its output names the broker and `cause`, and
    /// nothing it prints holds the password it was given or the right one. The
    /// end-to-end suites' kind of check, for every server binary; `--listen` is on
    /// port 0, so no port is taken.
    ///
    /// # Panics
    ///
    /// When any of that does not hold, and as
    /// [`mistaken_gateway_flags`](Self::mistaken_gateway_flags).
    pub fn assert_gateway_refuses(&self, binary: &str, mistake: Mistake, cause: &str) {
        let (flags, secrets) = self.mistaken_gateway_flags(mistake);
        let parts = self.secured_parts().expect("a secured broker");
        // Into a file, not a pipe: nothing need read it while the gateway runs.
        let log_path = parts.scratch.0.join(format!("gateway-{mistake:?}.log"));
        let log = std::fs::File::create(&log_path).expect("gateway log");
        let mut child = Command::new(binary)
            .args(&flags)
            .args(["--topic", "any-topic", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("gateway log"))
            .stderr(log)
            .spawn()
            .expect("run the gateway");
        // A hang guard only: start-up gives up after its metadata timeout.
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = child.try_wait().expect("gateway status") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{mistake:?}: the gateway did not stop on its own");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let printed = std::fs::read_to_string(&log_path).expect("gateway log");
        assert!(!status.success(), "{mistake:?}: {status}\n{printed}");
        assert!(
            printed
                .lines()
                .any(|line| line.contains(&self.brokers) && line.contains(cause)),
            "{mistake:?}: no line names {} and `{cause}`:\n{printed}",
            self.brokers
        );
        for secret in &secrets {
            assert!(
                !printed.contains(secret.as_str()),
                "a secret in:\n{printed}"
            );
        }
    }

    /// A producer configuration that reaches this broker: its address and, for a
    /// secured broker, its security settings.
    pub fn sink_config(&self) -> SinkConfig {
        let mut config = SinkConfig::new(&self.brokers);
        if let Some(parts) = self.secured_parts() {
            config.security = parts.client.security();
        }
        config
    }

    /// Like [`sink_config`](Self::sink_config), for a client making `mistake`, with the
    /// secrets that must not appear in any error (as for
    /// [`mistaken_gateway_flags`](Self::mistaken_gateway_flags)).
    ///
    /// # Panics
    ///
    /// As [`mistaken_gateway_flags`](Self::mistaken_gateway_flags).
    pub fn mistaken_sink_config(&self, mistake: Mistake) -> (SinkConfig, Vec<String>) {
        let parts = self.secured_parts().expect("a secured broker");
        let wrong = parts.client.with(mistake, &parts.files, &parts.scratch.0);
        let mut config = SinkConfig::new(&self.brokers);
        config.security = wrong.security();
        (config, vec![wrong.password, parts.client.password.clone()])
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
        let tansu = Tansu {
            port,
            advertised_port: port,
            storage,
            authentication: false,
        };
        let child = spawn_tansu(&tansu);
        Self::plain(
            BrokerKind::Tansu,
            format!("127.0.0.1:{port}"),
            Guard::Tansu {
                child,
                tansu,
                secured: None,
            },
        )
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
            Guard::Tansu { child, .. } => child.stop(),
            Guard::Mock(mock) => mock.broker_down().expect("mock broker down"),
            Guard::None => panic!("cannot stop an external broker"),
        }
    }

    /// Ends the outage: tansu starts again on the same port and storage.
    pub fn outage_end(&mut self) {
        match &mut self.guard {
            Guard::Tansu { child, tansu, .. } => *child = spawn_tansu(tansu),
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
        Self::plain(
            BrokerKind::Mock,
            mock.brokers().to_owned(),
            Guard::Mock(mock),
        )
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
        let mut config = self.sink_config();
        config.metadata_timeout = metadata_timeout;
        KafkaSink::new(config).expect("metadata client")
    }

    fn consumer(&self) -> BaseConsumer {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", format!("harness-{}", fastrand::u64(..)))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest");
        if let Some(parts) = self.secured_parts() {
            for (property, value) in parts.client.consumer_properties() {
                config.set(property, value);
            }
        }
        config.create().expect("consumer")
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

// Dropping a `TestBroker` stops its children (`Process`) and removes a secured broker's
// scratch directory (`Scratch`).

//! [`GatewaySink`]: the sinks a gateway can produce through, as one type.

/// Where the gateway's records go: `--sink kafka` (the producer), `--sink null`
/// (acknowledged at once, kept nowhere), or memory for tests. kafka-sink's
/// [`AnySink`](kafka_sink::AnySink): one type every server shares, whose calls (the
/// [`Sink`](kafka_sink::Sink) interface, written once there) are a `match`, with no
/// boxing or dynamic dispatch per record, and whose shape does not depend on features.
pub type GatewaySink = kafka_sink::AnySink;

//! Produces one record and prints where Kafka stored it.
//!
//! ```sh
//! cargo run -p kafka-sink --example produce                       # embedded MOCK broker
//! cargo run -p kafka-sink --example produce -- --brokers HOST:9092 --topic events [--create-topic]
//! ```

use std::process::ExitCode;

use kafka_sink::{EmbeddedBroker, KafkaSink, Record, Sink, SinkConfig, SinkError};

struct Args {
    brokers: Option<String>,
    topic: String,
    create_topic: bool,
    payload: String,
}

const USAGE: &str =
    "usage: produce [--brokers HOST:PORT] [--topic NAME] [--create-topic] [--payload JSON]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        brokers: None,
        topic: "example".to_owned(),
        create_topic: false,
        payload: r#"{"hello":"kafka"}"#.to_owned(),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || given.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--brokers" => args.brokers = Some(value()?),
            "--topic" => args.topic = value()?,
            "--payload" => args.payload = value()?,
            "--create-topic" => args.create_topic = true,
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    match produce(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("produce: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn produce(args: &Args) -> Result<(), SinkError> {
    // Without --brokers: librdkafka's in-process mock cluster (not a real Kafka).
    let embedded = match &args.brokers {
        Some(_) => None,
        None => {
            let broker = EmbeddedBroker::start()?;
            broker.create_topic(&args.topic, 1)?;
            println!("embedded MOCK broker at {}", broker.brokers());
            Some(broker)
        }
    };
    let brokers = match (&args.brokers, &embedded) {
        (Some(brokers), _) => brokers.clone(),
        (None, Some(broker)) => broker.brokers().to_owned(),
        (None, None) => unreachable!("a broker was started above"),
    };

    let sink = KafkaSink::new(SinkConfig::new(brokers))?;
    if args.create_topic && embedded.is_none() {
        sink.create_topic(&args.topic, 1)?;
    }
    sink.check_topic(&args.topic)?;

    let record = Record::new(&args.topic, args.payload.as_bytes()).with_key(b"example");
    let delivery = sink.send(&record).await?;
    println!(
        "delivered to topic {} partition {} offset {}",
        args.topic, delivery.partition, delivery.offset
    );
    Ok(())
}

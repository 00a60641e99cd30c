//! Topic creation through the Kafka admin API (real brokers; the mock has none), as a
//! blocking call like the start-up metadata check.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use crate::{SinkConfig, SinkError};

/// A topic needs a partition: checked before anything asks the cluster.
pub(crate) fn check_partitions(topic: &str, partitions: i32) -> Result<(), SinkError> {
    if partitions < 1 {
        return Err(SinkError::Config {
            reason: format!("cannot create topic `{topic}` with {partitions} partitions"),
        });
    }
    Ok(())
}

/// Creates `topic` with `partitions` partitions (replication 1) unless it exists,
/// blocking the calling thread until the cluster answered.
pub(crate) fn create_topic(
    config: &SinkConfig,
    topic: &str,
    partitions: i32,
) -> Result<(), SinkError> {
    check_partitions(topic, partitions)?;
    let admin: AdminClient<DefaultClientContext> =
        config
            .admin_client_config()
            .create()
            .map_err(|error| SinkError::Config {
                reason: error.to_string(),
            })?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = wait(admin.create_topics([&new_topic], &options)).map_err(|error| {
        SinkError::BrokerUnreachable {
            brokers: config.brokers.clone(),
            reason: error.to_string(),
        }
    })?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(SinkError::Rejected {
                    reason: format!("cannot create topic `{name}`: {code}"),
                })
            }
        }
    }
    Ok(())
}

/// Waits on this thread for a future that something else completes.
///
/// rdkafka's admin futures are channel receivers completed by the admin client's own
/// polling thread; they need no runtime, only a waker. This is the `block_on` of the
/// standard library's `std::task::Wake` documentation: park until woken, poll again. It
/// spares every caller an executor (and this crate a dependency) for one start-up call.
fn wait<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        // A spurious wake-up only costs another poll.
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_returns_what_another_thread_completes() {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let completer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.send(7).unwrap();
        });
        assert_eq!(wait(receiver), Ok(7));
        completer.join().unwrap();
    }

    #[test]
    fn a_topic_needs_a_partition() {
        let error = create_topic(&SinkConfig::new("127.0.0.1:1"), "t", 0).unwrap_err();
        assert!(matches!(error, SinkError::Config { .. }), "{error:?}");
    }
}

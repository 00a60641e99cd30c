//! The retry policy for records that could not enter librdkafka's queue.
//!
//! librdkafka already retries transient broker errors itself, within
//! `message.timeout.ms`, idempotently. The sink retries only what happens before that:
//! a full local queue. Anything that fails after queueing is reported, never resent,
//! because a resend could duplicate a record that did reach the broker.

use std::time::Duration;

/// How [`Sink::enqueue`](crate::Sink::enqueue) retries a full local queue:
/// bounded exponential backoff with jitter. ([`Sink::try_enqueue`](crate::Sink::try_enqueue)
/// never retries.)
///
/// Only a record that never entered librdkafka's queue is retried; one that failed
/// after queueing is reported, never resent, because a second copy could duplicate a
/// record the broker did write.
///
/// ```
/// use std::time::Duration;
/// use kafka_sink::RetryPolicy;
///
/// let patient = RetryPolicy::new(Duration::from_millis(1), Duration::from_millis(100), Duration::from_secs(5));
/// let never = RetryPolicy::new(Duration::ZERO, Duration::ZERO, Duration::ZERO);
/// # let _ = (patient, never);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Backoff before the first retry.
    pub initial_backoff: Duration,
    /// Upper bound of any single backoff.
    pub max_backoff: Duration,
    /// Longest total time spent retrying one enqueue; also capped by the delivery
    /// timeout. Zero: no retry.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    /// 1 ms doubling up to 50 ms, for at most 1 s.
    fn default() -> Self {
        Self::new(
            Duration::from_millis(1),
            Duration::from_millis(50),
            Duration::from_secs(1),
        )
    }
}

impl RetryPolicy {
    /// Backoff starting at `initial_backoff`, doubling up to `max_backoff`, for at most
    /// `max_wait` in all.
    pub const fn new(initial_backoff: Duration, max_backoff: Duration, max_wait: Duration) -> Self {
        Self {
            initial_backoff,
            max_backoff,
            max_wait,
        }
    }

    /// The backoff before retry number `attempt` (0-based): `initial * 2^attempt`, capped,
    /// then "equal jitter": uniformly in `[d/2, d]`, so retries of many clients spread
    /// out but never collapse to zero.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        let capped = exponential.min(self.max_backoff);
        let half = capped / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps_and_stays_within_jitter_bounds() {
        let policy = RetryPolicy::new(
            Duration::from_millis(2),
            Duration::from_millis(16),
            Duration::from_secs(1),
        );
        for attempt in 0..40 {
            let nominal = Duration::from_millis(2 << attempt.min(3)).min(Duration::from_millis(16));
            let backoff = policy.backoff(attempt);
            assert!(
                backoff >= nominal / 2 && backoff <= nominal,
                "{attempt}: {backoff:?}"
            );
        }
    }
}

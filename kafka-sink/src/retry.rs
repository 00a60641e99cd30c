//! The retry policy for records that could not enter librdkafka's queue.
//!
//! librdkafka already retries transient broker errors itself, within
//! `message.timeout.ms`, idempotently. The sink retries only what happens before that:
//! a full local queue. Anything that fails after queueing is reported, never resent,
//! because a resend could duplicate a record that did reach the broker.

use std::time::Duration;

/// Bounded exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Backoff before the first retry.
    pub initial_backoff: Duration,
    /// Upper bound of any single backoff.
    pub max_backoff: Duration,
    /// Longest total time spent retrying one send; also capped by the delivery timeout.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(50),
            max_wait: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `attempt` (0-based): `initial * 2^attempt`, capped,
    /// then "equal jitter": uniformly in `[d/2, d]`, so retries of many clients spread
    /// out but never collapse to zero.
    pub fn backoff(&self, attempt: u32) -> Duration {
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
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(2),
            max_backoff: Duration::from_millis(16),
            max_wait: Duration::from_secs(1),
        };
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

//! The shutdown every server follows, ordered so that no acknowledged record loses its
//! answer: [`Shutdown`], the signal its workers and connections watch, and
//! [`shut_down`], the sequence the thread that owns the gateway runs.
//!
//! 1. Stop accepting; new records are answered `503` ([`ingest::Gateway::begin_shutdown`]).
//! 2. Drain: requests in flight finish, their Kafka deliveries included, are answered,
//!    and their connections close; up to the grace period.
//! 3. If the grace period ends with requests still waiting for Kafka: records the
//!    producer has not sent yet fail at once (answered `503`: never sent, so a retry
//!    elsewhere cannot duplicate them), and records already sent get up to another
//!    grace period for their acknowledgements, answered as they come
//!    ([`ingest::Gateway::settle_in_flight`]).
//! 4. Stop: whatever is still open is closed, and the producer is flushed (what
//!    `--ack-mode queued` answered before delivery).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Duration;

use ingest::Gateway;
use tokio::sync::watch;

/// How long, after the last acknowledgement of step 3, the workers get to write the
/// answers before everything still open is closed (one linger's worth).
pub const ANSWER_WINDOW: Duration = Duration::from_secs(2);

/// How far a shutdown has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
enum Stage {
    Running = 0,
    /// Stop accepting, finish what is in flight.
    Draining = 1,
    /// Close everything still open, now.
    Stopping = 2,
}

/// The shutdown signal every worker and connection watches. Cheap to clone.
///
/// An async engine awaits [`Shutdown::requested`] (drain) and
/// [`Shutdown::stop_requested`] (close what is left); a loop without a runtime checks
/// [`Shutdown::is_requested`] and [`Shutdown::is_stop_requested`] each iteration and
/// registers a [`Waker`] with [`Shutdown::wake_on_request`] that interrupts its wait,
/// woken at each stage.
#[derive(Debug, Clone)]
pub struct Shutdown {
    receiver: watch::Receiver<Stage>,
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    stage: AtomicU8,
    wakers: Mutex<Vec<Waker>>,
}

/// Moves a [`Shutdown`] on, stage by stage: held by whoever runs [`shut_down`].
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<Stage>,
    state: Arc<State>,
}

impl ShutdownTrigger {
    /// Asks every holder of the signal to stop accepting and drain.
    pub fn drain(&self) {
        self.advance(Stage::Draining);
    }

    /// Asks every holder of the signal to close what is still open.
    pub fn stop(&self) {
        self.advance(Stage::Stopping);
    }

    fn advance(&self, stage: Stage) {
        self.state.stage.fetch_max(stage as u8, Ordering::AcqRel);
        self.sender.send_if_modified(|current| {
            let moved = *current < stage;
            *current = (*current).max(stage);
            moved
        });
        let wakers = self
            .state
            .wakers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for waker in wakers.iter() {
            waker.wake_by_ref();
        }
    }
}

impl Shutdown {
    /// A signal and the trigger that moves it on.
    pub fn channel() -> (ShutdownTrigger, Self) {
        let (sender, receiver) = watch::channel(Stage::Running);
        let state = Arc::new(State {
            stage: AtomicU8::new(Stage::Running as u8),
            wakers: Mutex::new(Vec::new()),
        });
        (
            ShutdownTrigger {
                sender,
                state: Arc::clone(&state),
            },
            Self { receiver, state },
        )
    }

    fn stage(&self) -> u8 {
        self.state.stage.load(Ordering::Acquire)
    }

    /// Completes once shutdown was asked for (at once if it already was): stop
    /// accepting, finish what is in flight. Cancel-safe.
    pub async fn requested(&mut self) {
        // An error means the trigger is gone, which also means stop.
        let _ = self
            .receiver
            .wait_for(|&stage| stage >= Stage::Draining)
            .await;
    }

    /// Completes once the drain is over (at once if it already is): close what is
    /// still open. Cancel-safe.
    pub async fn stop_requested(&mut self) {
        let _ = self
            .receiver
            .wait_for(|&stage| stage >= Stage::Stopping)
            .await;
    }

    /// Whether shutdown was asked for. A load of one atomic: cheap enough for every
    /// iteration of a loop.
    pub fn is_requested(&self) -> bool {
        self.stage() >= Stage::Draining as u8
    }

    /// Whether the drain is over and what is still open must close.
    pub fn is_stop_requested(&self) -> bool {
        self.stage() >= Stage::Stopping as u8
    }

    /// Wakes `waker` at each stage of the shutdown (at once if one was already
    /// reached), from the thread that moves it on: how a runtime-less loop learns of
    /// it while it sleeps.
    pub fn wake_on_request(&self, waker: Waker) {
        let mut wakers = self
            .state
            .wakers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Checked under the lock `advance` takes after moving the stage: either it sees
        // this waker or this sees the stage.
        if self.is_requested() {
            waker.wake_by_ref();
        }
        wakers.push(waker);
    }
}

/// Steps 1 to 4 of the shutdown, for the thread (or task) that owns the gateway:
/// `drained(timeout)` waits up to `timeout` for every connection to close and says
/// whether they did; `settle(timeout)` runs [`Gateway::settle_in_flight`] (blocking:
/// from a thread of its own where that matters) while the connections keep being
/// served. Returns whether everything drained within the grace period.
pub async fn shut_down(
    gateway: &Gateway,
    trigger: &ShutdownTrigger,
    grace: Duration,
    mut drained: impl AsyncFnMut(Duration) -> bool,
    settle: impl AsyncFnOnce(Duration),
) -> bool {
    gateway.begin_shutdown();
    trigger.drain();
    let in_time = drained(grace).await;
    if !in_time {
        settle(grace).await;
        drained(ANSWER_WINDOW).await;
    }
    trigger.stop();
    in_time
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_runtime_less_loop_is_woken_at_each_stage() {
        let (trigger, shutdown) = Shutdown::channel();
        let before = Arc::new(Count(AtomicUsize::new(0)));
        shutdown.wake_on_request(Waker::from(Arc::clone(&before)));
        assert!(!shutdown.is_requested());
        assert_eq!(before.0.load(Ordering::SeqCst), 0);
        trigger.drain();
        assert!(shutdown.is_requested() && !shutdown.is_stop_requested());
        assert_eq!(before.0.load(Ordering::SeqCst), 1, "woken to drain");
        trigger.stop();
        assert!(shutdown.is_stop_requested());
        assert_eq!(before.0.load(Ordering::SeqCst), 2, "woken to stop");
        let late = Arc::new(Count(AtomicUsize::new(0)));
        shutdown.wake_on_request(Waker::from(Arc::clone(&late)));
        assert_eq!(
            late.0.load(Ordering::SeqCst),
            1,
            "a late waker is woken at once"
        );
    }

    #[test]
    fn stages_only_move_forward() {
        let (trigger, mut shutdown) = Shutdown::channel();
        trigger.stop();
        trigger.drain();
        assert!(shutdown.is_stop_requested());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            shutdown.requested().await;
            shutdown.stop_requested().await;
        });
    }
}

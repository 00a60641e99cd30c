//! How a Kafka delivery reaches a sleeping loop: the [`Waker`] of a pending reply puts
//! its connection's token on the worker's ready queue and writes the worker's eventfd
//! only if the loop announced that it is about to sleep. A busy loop therefore takes
//! deliveries in batches from the queue at its next iteration, without a system call
//! per delivery.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

use crate::sys::EventFd;

/// One worker's wake-up channel, shared with every waker it hands out and with the
/// main thread (shutdown).
#[derive(Debug)]
pub(crate) struct Notifier {
    ready: Mutex<Vec<u64>>,
    sleeping: AtomicBool,
    eventfd: EventFd,
}

impl Notifier {
    pub(crate) fn new() -> std::io::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            ready: Mutex::new(Vec::with_capacity(256)),
            sleeping: AtomicBool::new(false),
            eventfd: EventFd::new()?,
        }))
    }

    /// The eventfd the loop waits on.
    pub(crate) fn eventfd(&self) -> &EventFd {
        &self.eventfd
    }

    /// A waker that marks connection `token` ready.
    pub(crate) fn waker(self: &Arc<Self>, token: u64) -> Waker {
        Waker::from(Arc::new(ConnWaker {
            notifier: Arc::clone(self),
            token,
        }))
    }

    /// A waker that rings the doorbell whether or not the loop announced sleep: for
    /// shutdown, raised from the main thread (see `runtime_common::Shutdown`).
    pub(crate) fn shutdown_waker(self: &Arc<Self>) -> Waker {
        Waker::from(Arc::new(Doorbell(Arc::clone(self))))
    }

    /// Marks `token` ready and wakes the loop if it sleeps.
    pub(crate) fn notify(&self, token: u64) {
        self.ready
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(token);
        self.wake_if_sleeping();
    }

    /// Wakes the loop whether or not it announced sleep (shutdown, from another thread).
    pub(crate) fn wake_now(&self) {
        self.eventfd.notify();
    }

    fn wake_if_sleeping(&self) {
        // SeqCst pairs with `prepare_sleep`: either the loop sees our queue entry after
        // announcing sleep, or we see its announcement and write the eventfd.
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            self.eventfd.notify();
        }
    }

    /// Moves the ready tokens into `into` (a reused vector), oldest first.
    pub(crate) fn take_ready(&self, into: &mut Vec<u64>) {
        let mut ready = self
            .ready
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        into.append(&mut ready);
    }

    /// Announces that the loop is about to sleep. Returns `false` if tokens are already
    /// queued: then the loop must not block.
    pub(crate) fn prepare_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        let empty = self
            .ready
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_empty();
        if !empty {
            self.sleeping.store(false, Ordering::SeqCst);
        }
        empty
    }

    /// The loop is awake again: wakers need not write the eventfd.
    pub(crate) fn awake(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }
}

struct Doorbell(Arc<Notifier>);

impl Wake for Doorbell {
    fn wake(self: Arc<Self>) {
        self.0.wake_now();
    }
}

struct ConnWaker {
    notifier: Arc<Notifier>,
    token: u64,
}

impl Wake for ConnWaker {
    fn wake(self: Arc<Self>) {
        self.notifier.notify(self.token);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notifier.notify(self.token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakers_write_the_eventfd_only_while_the_loop_sleeps() {
        let notifier = Notifier::new().unwrap();
        let waker = notifier.waker(7);
        waker.wake_by_ref();
        assert_eq!(notifier.eventfd().take(), 0, "awake loop: no system call");
        assert!(!notifier.prepare_sleep(), "a queued token forbids sleeping");
        let mut ready = Vec::new();
        notifier.take_ready(&mut ready);
        assert_eq!(ready, [7]);
        assert!(notifier.prepare_sleep());
        waker.wake_by_ref();
        waker.wake_by_ref();
        assert_eq!(notifier.eventfd().take(), 1, "one write per sleep");
        notifier.awake();
    }
}

//! A condition tasks wait for and others change, where the change wakes
//! anyone only while someone waits: the common path (nobody waiting)
//! takes no lock. Used by a connection's request order and the request
//! memory budget.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

#[derive(Default)]
pub struct Signal {
    /// Tasks in [`Signal::wait_until`].
    waiting: AtomicUsize,
    notify: Notify,
}

/// Counts a waiter in and out, also when its wait is cancelled.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Signal {
    /// Waits until `check` gives a value. `check` must read what a changer
    /// stores (SeqCst) before it calls [`Signal::wake`]: the waiter is
    /// counted before its check and the changer reads the count after its
    /// store, so either the changer sees the waiter or the check sees the
    /// change.
    pub async fn wait_until<T>(&self, mut check: impl FnMut() -> Option<T>) -> T {
        if let Some(v) = check() {
            return v;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        loop {
            let changed = self.notify.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(v) = check() {
                return v;
            }
            changed.await;
        }
    }

    /// Wakes every waiter, if there is one, to check again.
    pub fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.notify.notify_waiters();
        }
    }

    /// How many tasks wait now.
    pub fn waiters(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

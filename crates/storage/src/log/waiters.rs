//! Group commit for callers that must not block: [`Log::sync_to_then`]
//! queues a callback for an offset instead of waiting in `sync_to`, and
//! at most one blocking caller runs fsync rounds ([`Log::run_syncs`])
//! until every queued offset is durable. Each waiter is called once, with
//! no lock held, so waking it costs one hand-off, not a thread per waiter.

use std::sync::atomic::Ordering;

use super::Log;

/// Called once the offset it waits for is durable, or with the reason it
/// cannot become so (an fsync failed, the log is offline or closed).
pub type SyncDone = Box<dyn FnOnce(Result<(), String>) + Send>;

impl Log {
    /// Calls `done` once every offset below `offset` (clamped to the log
    /// end) is durable: at once if it already is, else after a sync round.
    /// Returns true when the caller must call [`Log::run_syncs`] from a
    /// blocking context (nobody else is syncing); false when `done` was
    /// called or a running sync will call it.
    pub fn sync_to_then(&self, offset: i64, done: SyncDone) -> bool {
        let target = offset.min(self.log_end_offset());
        if self.durable.load(Ordering::Acquire) >= target {
            done(Ok(()));
            return false;
        }
        let mut st = self.sync_state.lock();
        if self.durable.load(Ordering::Acquire) >= target {
            drop(st);
            done(Ok(()));
            return false;
        }
        let offline = self.offline.lock().clone();
        if let Some(reason) = offline {
            drop(st);
            done(Err(reason));
            return false;
        }
        st.waiters.push((target, done));
        if st.in_progress {
            return false;
        }
        st.in_progress = true;
        true
    }

    /// Runs fsync rounds until no queued waiter is left (see
    /// [`Log::sync_to_then`]). Blocking.
    pub fn run_syncs(&self) {
        let failed = self.sync_round().err().map(|e| e.to_string());
        self.release_sync(failed);
    }

    /// Ends the sync-state hold of a caller that set `in_progress` (a
    /// sync round, a truncation): calls the waiters now served (all of
    /// them with `failed`'s reason if set), and runs further rounds while
    /// any wait beyond what is durable, so no waiter is left without a
    /// syncer. Blocking.
    pub(crate) fn release_sync(&self, mut failed: Option<String>) {
        loop {
            let mut st = self.sync_state.lock();
            // Blocking `sync_to` callers recheck after every round, so a
            // stream of queued waiters never starves them.
            self.sync_cond.notify_all();
            if st.waiters.is_empty() {
                st.in_progress = false;
                return;
            }
            let durable = self.durable.load(Ordering::Acquire);
            let end = self.log_end_offset();
            let offline = self.offline.lock().clone();
            let failure = failed.take().or(offline);
            let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut st.waiters)
                .into_iter()
                .partition(|(target, _)| failure.is_some() || (*target).min(end) <= durable);
            st.waiters = waiting;
            let more = !st.waiters.is_empty();
            if !more {
                st.in_progress = false;
            }
            drop(st);
            for (_, done) in ready {
                done(match &failure {
                    None => Ok(()),
                    Some(reason) => Err(reason.clone()),
                });
            }
            if !more {
                return;
            }
            failed = self.sync_round().err().map(|e| e.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use crate::test_util::simple_batch;
    use crate::{Log, LogConfig};

    #[test]
    fn queued_waiters_are_called_once_their_offsets_are_durable() {
        let d = tempfile::tempdir().expect("tempdir");
        let log = Log::open(d.path(), LogConfig::default()).expect("open");
        let (tx, rx) = mpsc::channel();
        let waiter = |tag: &'static str| {
            let tx = tx.clone();
            Box::new(move |r: Result<(), String>| {
                let _ = tx.send((tag, r));
            }) as super::SyncDone
        };
        // Nothing to sync: called at once, nobody needs to run syncs.
        assert!(!log.sync_to_then(0, waiter("empty")));
        assert_eq!(rx.try_recv().expect("called"), ("empty", Ok(())));
        log.append(&mut simple_batch(2, 1, 10), 0, 0)
            .expect("append");
        // The first waiter must run the syncs; a second one queues.
        assert!(log.sync_to_then(2, waiter("a")));
        log.append(&mut simple_batch(3, 1, 10), 0, 0)
            .expect("append");
        assert!(!log.sync_to_then(5, waiter("b")));
        assert!(rx.try_recv().is_err(), "nobody is called before a sync");
        assert_eq!(log.durable_offset(), 0);
        log.run_syncs();
        let mut got: Vec<_> = rx.try_iter().collect();
        got.sort();
        assert_eq!(got, vec![("a", Ok(())), ("b", Ok(()))]);
        assert_eq!(log.durable_offset(), 5);
        // A blocking sync_to after it finds nothing left to do.
        log.sync_to(5).expect("sync");
        assert!(!log.sync_to_then(5, waiter("c")));
        assert_eq!(rx.try_recv().expect("called"), ("c", Ok(())));
    }

    #[test]
    fn a_blocking_sync_serves_the_waiters_queued_during_it() {
        let d = tempfile::tempdir().expect("tempdir");
        let log = std::sync::Arc::new(Log::open(d.path(), LogConfig::default()).expect("open"));
        log.append(&mut simple_batch(2, 1, 10), 0, 0)
            .expect("append");
        // Hold the sync like a blocking sync_to in flight would.
        log.sync_state.lock().in_progress = true;
        let (tx, rx) = mpsc::channel();
        assert!(!log.sync_to_then(
            2,
            Box::new(move |r| {
                let _ = tx.send(r);
            })
        ));
        assert!(rx.try_recv().is_err());
        // The holder ends its round: the waiter must not be stranded.
        log.release_sync(None);
        assert_eq!(rx.try_recv().expect("served"), Ok(()));
        assert_eq!(log.durable_offset(), 2);
        assert!(!log.sync_state.lock().in_progress);
    }
}

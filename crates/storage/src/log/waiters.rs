//! Group commit for callers that must not block: [`Log::sync_to_then`]
//! queues a callback for an offset instead of waiting in `sync_to`, and
//! one dedicated runner ([`Log::run_syncs`], on a blocking thread) does
//! fsync rounds until no callback is left. Each waiter is called once,
//! with no lock held. Blocking callers (`sync_to`, `truncate_to`) take
//! the sync between the runner's rounds and never run rounds for anyone
//! else, so a stream of producers cannot hold them up; the runner lets
//! them go first.

use std::sync::atomic::Ordering;

use parking_lot::MutexGuard;

use super::{Log, SyncState};

/// Called once the offset it waits for is durable, or with the reason it
/// cannot become so (an fsync failed, the log is offline or closed).
pub type SyncDone = Box<dyn FnOnce(Result<(), String>) + Send>;

impl Log {
    /// Calls `done` once every offset below `offset` (clamped to the log
    /// end) is durable: at once if it already is, else after a sync round.
    /// Returns true when the caller must call [`Log::run_syncs`] from a
    /// blocking context (no runner is active); false when `done` was
    /// called or the active runner will call it.
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
        if st.runner {
            return false;
        }
        st.runner = true;
        true
    }

    /// The runner of the queued waiters (see [`Log::sync_to_then`]): fsync
    /// rounds until none is left, each after any blocking caller waiting
    /// for the sync has had it. Blocking.
    pub fn run_syncs(&self) {
        let mut st = self.sync_state.lock();
        loop {
            while st.in_progress || st.blocked > 0 {
                self.sync_cond.wait(&mut st);
            }
            if st.waiters.is_empty() {
                st.runner = false;
                return;
            }
            st = self.held_round(st);
        }
    }

    /// One fsync round by the runner, the sync being free: takes it, runs
    /// the round without the lock, and ends the hold (serving the
    /// waiters the round covered). Returns the lock.
    fn held_round<'a>(&'a self, mut st: MutexGuard<'a, SyncState>) -> MutexGuard<'a, SyncState> {
        st.in_progress = true;
        drop(st);
        let failed = self.sync_round().err().map(|e| e.to_string());
        let st = self.sync_state.lock();
        self.end_sync_hold(st, failed)
    }

    /// The runner's work from a thread that must not wait long (an async
    /// worker, answering a small request): at most one fsync round, and
    /// only if the sync is free and this log's rounds have been quick
    /// lately (no longer than `quick`). Returns true when the caller is
    /// still the runner and must hand the rest to [`Log::run_syncs`] on a
    /// blocking thread; false when no waiter is left.
    pub fn run_sync_inline(&self, quick: std::time::Duration) -> bool {
        if self.recent_sync_time() > quick {
            return true;
        }
        let mut st = self.sync_state.lock();
        if st.in_progress || st.blocked > 0 {
            return true;
        }
        if st.waiters.is_empty() {
            st.runner = false;
            return false;
        }
        st = self.held_round(st);
        if st.waiters.is_empty() {
            st.runner = false;
            return false;
        }
        true
    }

    /// Ends a hold of the sync (a round or a truncation): lets the next
    /// holder in, and calls the waiters now served (all of them with
    /// `failed`'s reason if set), without the lock. Returns the lock.
    pub(crate) fn end_sync_hold<'a>(
        &'a self,
        mut st: MutexGuard<'a, SyncState>,
        failed: Option<String>,
    ) -> MutexGuard<'a, SyncState> {
        st.in_progress = false;
        self.sync_cond.notify_all();
        if st.waiters.is_empty() {
            return st;
        }
        let durable = self.durable.load(Ordering::Acquire);
        let end = self.log_end_offset();
        let offline = self.offline.lock().clone();
        let failure = failed.or(offline);
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut st.waiters)
            .into_iter()
            .partition(|(target, _)| failure.is_some() || (*target).min(end) <= durable);
        st.waiters = waiting;
        if ready.is_empty() {
            return st;
        }
        drop(st);
        for (_, done) in ready {
            done(match &failure {
                None => Ok(()),
                Some(reason) => Err(reason.clone()),
            });
        }
        self.sync_state.lock()
    }

    /// Waits until no one holds the sync, then takes it, for a blocking
    /// caller; counted as waiting meanwhile so the runner lets it go
    /// first. Returns None (sync not taken) once `satisfied` holds.
    pub(crate) fn take_sync_hold(
        &self,
        satisfied: impl Fn(&Log) -> Option<super::Result<()>>,
    ) -> Option<super::Result<()>> {
        let mut st = self.sync_state.lock();
        st.blocked += 1;
        let outcome = loop {
            if let Some(r) = satisfied(self) {
                break Some(r);
            }
            if !st.in_progress {
                st.in_progress = true;
                break None;
            }
            self.sync_cond.wait(&mut st);
        };
        st.blocked -= 1;
        // The runner waits for no blocked caller; tell it.
        self.sync_cond.notify_all();
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use crate::test_util::simple_batch;
    use crate::{Log, LogConfig};

    /// What a recorded waiter reports: its tag and the outcome.
    type Called = (&'static str, Result<(), String>);

    /// Waiters that report what they were called with on the receiver.
    fn recorder() -> (
        impl Fn(&'static str) -> super::SyncDone,
        mpsc::Receiver<Called>,
    ) {
        let (tx, rx) = mpsc::channel();
        let waiter = move |tag: &'static str| {
            let tx = tx.clone();
            Box::new(move |r: Result<(), String>| {
                let _ = tx.send((tag, r));
            }) as super::SyncDone
        };
        (waiter, rx)
    }

    #[test]
    fn queued_waiters_are_called_once_their_offsets_are_durable() {
        let d = tempfile::tempdir().expect("tempdir");
        let log = Log::open(d.path(), LogConfig::default()).expect("open");
        let (waiter, rx) = recorder();
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
    fn an_inline_round_runs_only_when_the_sync_is_free_and_quick() {
        use std::sync::atomic::Ordering;
        use std::time::Duration;
        let d = tempfile::tempdir().expect("tempdir");
        let log = Log::open(d.path(), LogConfig::default()).expect("open");
        let (waiter, rx) = recorder();
        assert_eq!(log.recent_sync_time(), Duration::ZERO);
        // Quick disk, free sync: one round here serves the waiter.
        log.append(&mut simple_batch(2, 1, 10), 0, 0)
            .expect("append");
        assert!(log.sync_to_then(2, waiter("a")));
        assert!(!log.run_sync_inline(Duration::from_secs(1)));
        assert_eq!(rx.try_recv().expect("served"), ("a", Ok(())));
        assert_eq!(log.durable_offset(), 2);
        assert!(!log.sync_state.lock().runner);
        // Slow rounds lately: the caller must hand the work on.
        log.sync_micros.store(5_000, Ordering::Relaxed);
        log.append(&mut simple_batch(1, 1, 10), 0, 0)
            .expect("append");
        assert!(log.sync_to_then(3, waiter("b")));
        assert!(log.run_sync_inline(Duration::from_millis(1)));
        assert!(rx.try_recv().is_err(), "no round for a slow disk");
        assert_eq!(log.durable_offset(), 2);
        // Held sync (a blocking sync_to in flight): hand on, no waiting.
        log.sync_micros.store(0, Ordering::Relaxed);
        log.sync_state.lock().in_progress = true;
        assert!(log.run_sync_inline(Duration::from_secs(1)));
        assert!(rx.try_recv().is_err(), "no round while the sync is held");
        log.sync_state.lock().in_progress = false;
        // The blocking runner finishes it; a round records its time.
        log.run_syncs();
        assert_eq!(rx.try_recv().expect("served"), ("b", Ok(())));
        assert_eq!(log.durable_offset(), 3);
        assert!(!log.sync_state.lock().runner);
    }

    #[test]
    fn recent_sync_time_keeps_a_slow_round_and_forgets_it_by_an_eighth() {
        use std::sync::atomic::Ordering;
        use std::time::Duration;
        let d = tempfile::tempdir().expect("tempdir");
        let log = Log::open(d.path(), LogConfig::default()).expect("open");
        log.append(&mut simple_batch(1, 1, 10), 0, 0)
            .expect("append");
        log.sync_micros.store(8_000_000, Ordering::Relaxed);
        log.sync_to(1).expect("sync");
        // An fsync of one small batch takes far less than 7 s, so the
        // figure is the old maximum less an eighth.
        assert_eq!(log.recent_sync_time(), Duration::from_secs(7));
        log.append(&mut simple_batch(1, 1, 10), 0, 0)
            .expect("append");
        log.sync_to(2).expect("sync");
        assert_eq!(log.recent_sync_time(), Duration::from_micros(6_125_000));
    }

    #[test]
    fn the_runner_waits_for_a_blocking_holder_and_then_serves_the_waiters() {
        let d = tempfile::tempdir().expect("tempdir");
        let log = std::sync::Arc::new(Log::open(d.path(), LogConfig::default()).expect("open"));
        log.append(&mut simple_batch(2, 1, 10), 0, 0)
            .expect("append");
        // Hold the sync as a blocking sync_to in flight would.
        log.sync_state.lock().in_progress = true;
        let (tx, rx) = mpsc::channel();
        // No runner yet: this waiter must start one.
        assert!(log.sync_to_then(
            2,
            Box::new(move |r| {
                let _ = tx.send(r);
            })
        ));
        let runner = {
            let log = log.clone();
            std::thread::spawn(move || log.run_syncs())
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(rx.try_recv().is_err(), "no round while the sync is held");
        // The holder ends its hold: the runner takes over.
        let st = log.sync_state.lock();
        drop(log.end_sync_hold(st, None));
        runner.join().expect("runner");
        assert_eq!(rx.try_recv().expect("served"), Ok(()));
        assert_eq!(log.durable_offset(), 2);
        let st = log.sync_state.lock();
        assert!(!st.in_progress && !st.runner && st.waiters.is_empty());
    }

    #[test]
    fn a_blocking_sync_returns_while_producers_keep_queueing() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        use std::time::{Duration, Instant};
        let d = tempfile::tempdir().expect("tempdir");
        let log = Arc::new(Log::open(d.path(), LogConfig::default()).expect("open"));
        let stop = Arc::new(AtomicBool::new(false));
        // A producer that appends and queues a waiter as fast as it can,
        // starting a runner thread whenever it is told to.
        let producer = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut runners = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    log.append(&mut simple_batch(1, 1, 10), 0, 0)
                        .expect("append");
                    let next = log.log_end_offset();
                    if log.sync_to_then(next, Box::new(|_| {})) {
                        let log = log.clone();
                        runners.push(std::thread::spawn(move || log.run_syncs()));
                    }
                }
                for r in runners {
                    r.join().expect("runner");
                }
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..20 {
            let started = Instant::now();
            log.sync_to(log.log_end_offset()).expect("sync");
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "a blocking sync waited {:?} behind the producers",
                started.elapsed()
            );
        }
        stop.store(true, Ordering::Relaxed);
        producer.join().expect("producer");
        let st = log.sync_state.lock();
        assert!(!st.in_progress && st.blocked == 0);
    }
}

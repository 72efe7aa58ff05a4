//! The background pool: `max_background_jobs` threads fed through two channels, one
//! for flush requests and one for compaction requests. Every worker takes a waiting
//! flush request before a compaction request, so a memtable never waits behind the
//! compaction backlog while a worker is free; and at most `max_background_jobs - 1`
//! compactions run at once (`DbOptions::max_compactions`), so a worker is always free
//! for a flush (and with it, every writer waiting for memtable space).
//!
//! A job that panics latches the database failed (`Error::Background(Panicked)`) and
//! wakes every waiter, as fjall's `PoisonDart` does, and the worker goes on serving
//! requests (each of which now finds the latch set and returns). The latch must be set
//! before the job's counters and marks are released: a waiter that saw them released
//! with no failure latched would take the database for idle and healthy, and another
//! worker could take the half-done work again. So the flush and compaction steps run
//! under `catch` (the panic becomes their error, latched before they let go), and
//! their drop guards latch a generic failure themselves when they find the thread
//! unwinding from anywhere else.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use crate::engine::queue::{Job, JobReceivers};
use crate::engine::tree::Tree;
use crate::engine::Shared;
use crate::{Error, Result};

/// The handles the database keeps to its workers.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `workers` threads. They hold only weak references, so they never keep a
    /// closed database alive.
    pub fn start(
        shared: &Arc<Shared>,
        receivers: JobReceivers,
        workers: usize,
    ) -> std::io::Result<Pool> {
        let mut pool = Pool { threads: Vec::new() };
        for i in 0..workers {
            let weak = Arc::downgrade(shared);
            let flush = receivers.flush.clone();
            let compaction = receivers.compaction.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("mylsm-bg-{i}"))
                .spawn(move || run(&weak, &JobReceivers { flush, compaction }));
            match spawned {
                Ok(t) => pool.threads.push(t),
                Err(e) => {
                    pool.stop(shared);
                    return Err(e);
                }
            }
        }
        Ok(pool)
    }

    /// Stops the workers after their current jobs and waits for them.
    pub fn stop(&mut self, shared: &Shared) {
        shared.jobs().shutdown(self.threads.len());
        for t in self.threads.drain(..) {
            // A job's panic was caught in `run`; a join error would be a panic in the
            // loop itself, and the database is closing anyway.
            let _ = t.join();
        }
    }
}

type Work = fn(&Shared, &Arc<Tree>);

/// One worker: flush requests first, then whichever channel has a request.
/// A worker idle for `expiry_check_interval` looks for tables whose entries have all
/// expired (see `compact::pick_expired`).
fn run(shared: &Weak<Shared>, rx: &JobReceivers) {
    let Some(interval) = shared.upgrade().map(|s| s.opts().expiry_check_interval) else { return };
    loop {
        let (job, work): (Job, Work) = match rx.flush.try_recv() {
            Ok(job) => (job, super::flush::flush_pending),
            Err(_) => crossbeam_channel::select! {
                recv(rx.flush) -> job => match job {
                    Ok(job) => (job, super::flush::flush_pending),
                    Err(_) => return,
                },
                recv(rx.compaction) -> job => match job {
                    Ok(job) => (job, super::compact::compact_pending),
                    Err(_) => return,
                },
                default(interval) => {
                    let Some(shared) = shared.upgrade() else { return };
                    super::compact::schedule_expired(&shared);
                    continue;
                },
            },
        };
        let Job::Run(tree) = job else { return };
        let Some(shared) = shared.upgrade() else { return };
        // A request for a keyspace dropped since has nothing left to do.
        if let Some(tree) = tree.upgrade().filter(|t| !t.is_dropped()) {
            run_guarded(&shared, &tree, work);
        }
    }
}

/// Runs `work`, turning a panic that escaped the job's own `catch` into the database's
/// latched failure.
pub(crate) fn run_guarded(shared: &Shared, tree: &Arc<Tree>, work: Work) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| work(shared, tree))) {
        tree.fail(shared, &Error::Panicked(message(payload.as_ref())));
    }
}

/// Runs one step of a job, turning a panic into `Error::Panicked`.
pub(crate) fn catch<T>(step: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(step))
        .unwrap_or_else(|payload| Err(Error::Panicked(message(payload.as_ref()))))
}

/// For a drop guard: if the thread is unwinding, latches the failure before the guard
/// releases what it holds.
pub(crate) fn latch_if_panicking(shared: &Shared, what: &str) {
    if std::thread::panicking() {
        shared.latch().fail(&Error::Panicked(format!("a {what} panicked")));
    }
}

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_string())
}

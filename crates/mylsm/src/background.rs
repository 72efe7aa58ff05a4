//! The background pool: `max_background_jobs` threads fed through two channels, one
//! for flush requests and one for compaction requests. Every worker takes a waiting
//! flush request before a compaction request, so a memtable never waits behind the
//! compaction backlog while a worker is free; and at most `max_background_jobs - 1`
//! compactions run at once (`DbCore::max_compactions`), so a worker is always free for
//! a flush (and with it, every writer waiting for memtable space).

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::core::DbCore;

/// Work a background thread can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    /// Do whatever work of the channel's kind is pending: flush every waiting memtable,
    /// or compact until nothing scores above 1 that no other worker is compacting.
    Run,
    /// Finish the current job and exit (sent on the flush channel, once per worker).
    Shutdown,
}

/// The handles the database keeps to its workers.
#[derive(Debug)]
pub(crate) struct Background {
    flush_jobs: Sender<Job>,
    threads: Vec<JoinHandle<()>>,
}

/// The two channels, created before the core so it can hold the senders.
#[derive(Debug)]
pub(crate) struct Channels {
    pub flush: (Sender<Job>, Receiver<Job>),
    pub compaction: (Sender<Job>, Receiver<Job>),
}

impl Channels {
    pub fn new() -> Self {
        Channels {
            flush: crossbeam_channel::unbounded(),
            compaction: crossbeam_channel::unbounded(),
        }
    }
}

impl Background {
    /// Starts `workers` threads (at least 2). They hold only weak references, so they
    /// never keep a closed database alive.
    pub fn start(
        core: &Arc<DbCore>,
        channels: Channels,
        workers: usize,
    ) -> std::io::Result<Background> {
        let mut bg = Background { flush_jobs: channels.flush.0.clone(), threads: Vec::new() };
        for i in 0..workers.max(2) {
            let weak = Arc::downgrade(core);
            let flush = channels.flush.1.clone();
            let compaction = channels.compaction.1.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("mylsm-bg-{i}"))
                .spawn(move || run(weak, flush, compaction));
            match spawned {
                Ok(t) => bg.threads.push(t),
                Err(e) => {
                    bg.stop();
                    return Err(e);
                }
            }
        }
        Ok(bg)
    }

    /// Stops the workers after their current jobs and waits for them.
    pub fn stop(&mut self) {
        for _ in &self.threads {
            let _ = self.flush_jobs.send(Job::Shutdown);
        }
        for t in self.threads.drain(..) {
            // A panic in a worker has already been reported on stderr; there is
            // nothing more to do with it here.
            let _ = t.join();
        }
    }
}

/// One worker: flush requests first, then whichever channel has a request.
fn run(core: Weak<DbCore>, flush: Receiver<Job>, compaction: Receiver<Job>) {
    loop {
        let (job, work): (Job, fn(&DbCore)) = match flush.try_recv() {
            Ok(job) => (job, DbCore::flush_pending),
            Err(_) => crossbeam_channel::select! {
                recv(flush) -> job => match job {
                    Ok(job) => (job, DbCore::flush_pending),
                    Err(_) => return,
                },
                recv(compaction) -> job => match job {
                    Ok(job) => (job, DbCore::compact_pending),
                    Err(_) => return,
                },
            },
        };
        if job == Job::Shutdown {
            return;
        }
        match core.upgrade() {
            Some(core) => work(&core),
            None => return,
        }
    }
}

//! The background workers: one thread for flushes and one for compactions, each fed
//! through its own channel, so a long compaction never delays a flush (and with it,
//! every writer waiting for memtable space).

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::core::DbCore;

/// Work a background thread can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    /// Do whatever work is pending: flush every waiting memtable (flush thread), or
    /// compact until nothing scores above 1 (compaction thread).
    Run,
    /// Finish the current job and exit.
    Shutdown,
}

/// One channel and the thread that drains it.
#[derive(Debug)]
struct Worker {
    jobs: Sender<Job>,
    thread: Option<JoinHandle<()>>,
}

/// The handles the database keeps to its workers.
#[derive(Debug)]
pub(crate) struct Background {
    workers: Vec<Worker>,
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
    /// Starts both workers. They hold only weak references, so they never keep a
    /// closed database alive.
    pub fn start(core: &Arc<DbCore>, channels: Channels) -> std::io::Result<Background> {
        let flush = spawn(core, "mylsm-flush", channels.flush, DbCore::flush_pending)?;
        let compaction =
            spawn(core, "mylsm-compact", channels.compaction, DbCore::compact_pending)?;
        Ok(Background { workers: vec![flush, compaction] })
    }

    /// Stops the workers after their current jobs and waits for them.
    pub fn stop(&mut self) {
        for w in &self.workers {
            let _ = w.jobs.send(Job::Shutdown);
        }
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                // A panic in a worker has already been reported on stderr; there is
                // nothing more to do with it here.
                let _ = t.join();
            }
        }
    }
}

fn spawn(
    core: &Arc<DbCore>,
    name: &str,
    (jobs, rx): (Sender<Job>, Receiver<Job>),
    work: fn(&DbCore),
) -> std::io::Result<Worker> {
    let weak = Arc::downgrade(core);
    let thread =
        std::thread::Builder::new().name(name.into()).spawn(move || run(weak, rx, work))?;
    Ok(Worker { jobs, thread: Some(thread) })
}

fn run(core: Weak<DbCore>, rx: Receiver<Job>, work: fn(&DbCore)) {
    while let Ok(job) = rx.recv() {
        if job == Job::Shutdown {
            return;
        }
        // Requests that queued up while this one ran are satisfied by this run.
        while let Ok(next) = rx.try_recv() {
            if next == Job::Shutdown {
                return;
            }
        }
        match core.upgrade() {
            Some(core) => work(&core),
            None => return,
        }
    }
}

//! The job queue: the two channels (flush requests, compaction requests) through which
//! writers and jobs ask the background pool (`crate::jobs::pool`) for work. A request
//! names the tree it is for by a weak reference, so a queued request never keeps a
//! closed database's tree alive.

use std::sync::{Arc, Weak};

use crossbeam_channel::{Receiver, Sender};

use super::tree::Tree;

/// Work a background thread can be asked to do.
#[derive(Debug, Clone)]
pub(crate) enum Job {
    /// Do whatever work of the channel's kind the tree has pending: flush every waiting
    /// memtable, or compact until nothing scores above 1 that no other worker is
    /// compacting.
    Run(Weak<Tree>),
    /// Finish the current job and exit (sent on the flush channel, once per worker).
    Shutdown,
}

/// The sending ends of the two request channels, flushes and compactions.
#[derive(Debug)]
pub(crate) struct JobQueue {
    flush: Sender<Job>,
    compaction: Sender<Job>,
}

/// The receiving ends, handed to the pool.
#[derive(Debug)]
pub(crate) struct JobReceivers {
    pub flush: Receiver<Job>,
    pub compaction: Receiver<Job>,
}

impl JobQueue {
    pub fn new() -> (JobQueue, JobReceivers) {
        let (flush, flush_rx) = crossbeam_channel::unbounded();
        let (compaction, compaction_rx) = crossbeam_channel::unbounded();
        (
            JobQueue { flush, compaction },
            JobReceivers { flush: flush_rx, compaction: compaction_rx },
        )
    }

    /// Asks the pool to flush `tree`'s waiting memtables.
    pub fn schedule_flush(&self, tree: &Arc<Tree>) {
        // Workers stop only when the database closes; a flush asked for after that has
        // nothing to do.
        let _ = self.flush.send(Job::Run(Arc::downgrade(tree)));
    }

    /// Asks the pool to look for compaction work in `tree`.
    pub fn schedule_compaction(&self, tree: &Arc<Tree>) {
        let _ = self.compaction.send(Job::Run(Arc::downgrade(tree)));
    }

    /// Asks `workers` workers to exit after their current job.
    pub fn shutdown(&self, workers: usize) {
        for _ in 0..workers {
            let _ = self.flush.send(Job::Shutdown);
        }
    }
}

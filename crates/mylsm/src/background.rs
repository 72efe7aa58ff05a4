//! The background worker: a thread fed through a channel that runs flushes (and,
//! later, compactions) so writers never do them.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::core::DbCore;

/// Work the background thread can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    /// Flush every memtable waiting for it.
    Flush,
    /// Finish the current job and exit.
    Shutdown,
}

/// The handle the database keeps to its worker.
#[derive(Debug)]
pub(crate) struct Background {
    jobs: Sender<Job>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts the worker. It holds only a weak reference, so it never keeps a closed
    /// database alive.
    pub fn start(
        core: &Arc<DbCore>,
        jobs: Sender<Job>,
        rx: Receiver<Job>,
    ) -> std::io::Result<Background> {
        let weak = Arc::downgrade(core);
        let thread =
            std::thread::Builder::new().name("mylsm-bg".into()).spawn(move || run(weak, rx))?;
        Ok(Background { jobs, thread: Some(thread) })
    }

    /// Stops the worker after its current job and waits for it.
    pub fn stop(&mut self) {
        let _ = self.jobs.send(Job::Shutdown);
        if let Some(t) = self.thread.take() {
            // A panic in the worker has already been reported on stderr; there is
            // nothing more to do with it here.
            let _ = t.join();
        }
    }
}

fn run(core: Weak<DbCore>, rx: Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        match job {
            Job::Shutdown => return,
            Job::Flush => match core.upgrade() {
                Some(core) => core.flush_pending(),
                None => return,
            },
        }
    }
}

//! `SyncGroup`: concurrent `Db::sync` calls coalesced into as few fsyncs as possible.
//!
//! `Db::sync` fsyncs under the WAL lock, one call after another; fifty connections
//! that each finish a pipeline and ask for a sync would pay fifty fsyncs in a row. Here
//! a caller takes a ticket: the number of the first sync that will *start* after its
//! request, and so covers every write it made before asking. If a sync is running, the
//! caller waits for it to end and then starts (or joins) the next one, which covers
//! every waiter at once: the engine's group commit, for syncs.

use std::sync::{Condvar, Mutex};

#[derive(Debug, Default)]
struct State {
    /// Syncs started so far; the running one, if any, is number `started`.
    started: u64,
    /// The number of the last sync that ended, and its failure.
    done: u64,
    failed: Option<mylsm::Error>,
    running: bool,
}

#[derive(Debug, Default)]
pub struct SyncGroup {
    state: Mutex<State>,
    ended: Condvar,
}

impl SyncGroup {
    /// Returns once a sync that started after this call has ended.
    pub fn sync(&self, db: &mylsm::Db) -> mylsm::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = st.started + 1;
        loop {
            if st.done >= ticket {
                return st.failed.clone().map_or(Ok(()), Err);
            }
            if !st.running {
                st.running = true;
                st.started += 1;
                let number = st.started;
                drop(st);
                let result = db.sync();
                st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.running = false;
                st.done = number;
                st.failed = result.as_ref().err().cloned();
                self.ended.notify_all();
                continue;
            }
            st = self.ended.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_callers_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let db = mylsm::Db::open(dir.path(), mylsm::Options::default()).unwrap();
        let group = SyncGroup::default();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..20 {
                        group.sync(&db).unwrap();
                    }
                });
            }
        });
        let st = group.state.lock().unwrap();
        assert!(st.started <= 160 && st.started >= 20, "{} syncs", st.started);
        assert!(!st.running);
    }
}

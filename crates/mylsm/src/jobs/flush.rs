//! The flush job: writing a tree's immutable memtables out as L0 tables recorded in the
//! manifest, oldest first.
//!
//! Order of a flush, each step durable before the next, so a crash at any point
//! loses nothing: write and fsync the table; fsync the directory (its entry); append
//! and fsync the manifest edit that adds it and moves the log number past the
//! memtable's WAL; install the new view; delete the WALs the edit made obsolete (after
//! the manifest lock is let go).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::engine::tree::Tree;
use crate::engine::Shared;
use crate::jobs::pool::{catch, latch_if_panicking};
use crate::memtable::MemTable;
use crate::version::VersionEdit;
use crate::Result;

/// Flushes every waiting memtable of `tree`, oldest first. Runs on the background
/// pool: one worker flushes a tree while the others compact. A worker that finds
/// another flushing returns at once; the flusher looks for new memtables again before
/// it lets go, so one queued while it was finishing is not left behind.
pub(crate) fn flush_pending(shared: &Shared, tree: &Arc<Tree>) {
    loop {
        {
            let mut st = tree.state();
            if st.flushing {
                return;
            }
            st.flushing = true;
        }
        // Clears `flushing` however the flushes end, a panic included.
        let flushing = FlushingGuard(shared, tree);
        if !flush_waiting(shared, tree) {
            return;
        }
        drop(flushing);
        // A memtable queued while this worker was finishing found it flushing and was
        // left to it: look again now that `flushing` is clear.
        let st = tree.state();
        if st.imms.is_empty() || shared.latch().failure().is_some() {
            return;
        }
    }
}

/// Flushes memtables until none waits; false if a flush failed.
fn flush_waiting(shared: &Shared, tree: &Arc<Tree>) -> bool {
    loop {
        let (mem, log_number) = {
            let st = tree.state();
            if shared.latch().failure().is_some() {
                return false;
            }
            match st.imms.front() {
                Some(imm) => (Arc::clone(&imm.mem), imm.log_number),
                None => return true,
            }
        };
        // A panic becomes the flush's error, latched before `flushing` is cleared.
        if let Err(e) = catch(|| flush_one(shared, tree, &mem, log_number)) {
            tree.fail(shared, &e);
            return false;
        }
    }
}

struct FlushingGuard<'a>(&'a Shared, &'a Tree);

impl Drop for FlushingGuard<'_> {
    fn drop(&mut self) {
        latch_if_panicking(self.0, "flush");
        self.1.state().flushing = false;
        self.1.notify();
    }
}

fn flush_one(shared: &Shared, tree: &Arc<Tree>, mem: &MemTable, log_number: u64) -> Result<()> {
    let mut edit = VersionEdit {
        keyspace: tree.id(),
        log_number: Some(log_number + 1),
        ..VersionEdit::default()
    };
    let number = shared.new_file_number();
    let view = tree.current_view();
    let mems = std::iter::once(&view.mem).chain(&view.imms).map(|m| m.as_ref());
    let limit = crate::engine::table_file::max_user_key(&view.version, mems);
    drop(view);
    if let Some(meta) = crate::engine::table_file::write_table(
        shared.fs(),
        shared.dir(),
        number,
        &tree.opts().table,
        mem,
        limit,
        crate::engine::table_file::keyspace_tag(tree.id(), tree.name(), tree.opts()).as_ref(),
    )? {
        tree.counters().flushed_bytes.fetch_add(meta.size, Ordering::Relaxed);
        edit.last_seqno = Some(meta.largest_seqno);
        edit.added.push((0, meta));
    }
    let needed = {
        // The new version is installed before the manifest lock is released, so
        // versions are installed in the order they were logged: a flush and a
        // compaction finishing together cannot install an older version last.
        let mut versions = shared.versions();
        if tree.is_dropped() {
            // Dropped while the table was written (a drop holds this lock too): the
            // table belongs to nothing.
            drop(versions);
            let _ = shared.fs().remove_file(&crate::filename::table_file(shared.dir(), number));
            tree.state().imms.clear();
            tree.notify();
            return Ok(());
        }
        let version = versions.log_and_apply(edit, shared.next_file_number(), shared.latch())?;
        let mut st = tree.state();
        st.imms.pop_front();
        st.version = version;
        st.flushes += 1;
        tree.refresh_view(&st);
        versions.log_number()
    };
    // Not under the manifest lock: deleting files there would hold up every concurrent
    // install. The WALs go once no keyspace needs them.
    shared.delete_wals_below(needed);
    tree.notify();
    shared.jobs().schedule_compaction(tree);
    super::compact::delete_obsolete_tables(shared, tree);
    Ok(())
}

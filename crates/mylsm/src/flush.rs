//! Flush: cutting a full memtable loose (with a new WAL), and writing an immutable
//! memtable out as an L0 table recorded in the manifest.
//!
//! Order of a flush, each step durable before the next, so a crash at any point
//! loses nothing: write and fsync the table; fsync the directory (its entry); append
//! and fsync the manifest edit that adds it and moves the log number past the
//! memtable's WAL; delete the WALs the edit made obsolete; install the new view.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::core::{lock, DbCore, Imm, StallCause};
use crate::filename;
use crate::iter::InternalIterator;
use crate::memtable::MemTable;
use crate::sstable::TableBuilder;
use crate::version::{FileMeta, VersionEdit};
use crate::wal::LogWriter;
use crate::write::LogState;
use crate::Result;

impl DbCore {
    /// Called by the write leader before each group of `bytes`: slows down or stops
    /// while L0 has too many tables, and if the memtable is full, stalls while too many
    /// memtables wait for flush, then cuts a new memtable and WAL. Holding the log lock
    /// while stalled is the point: every writer waits behind the leader.
    pub fn make_room(&self, log: &mut LogState, bytes: usize) -> Result<()> {
        // Which causes this group has already been counted under.
        let mut counted = [false; 3];
        let mut slowed = false;
        let mut st = lock(&self.state);
        loop {
            if let Some(e) = &st.bg_error {
                return Err(crate::Error::Background(Box::new(e.clone())));
            }
            // `close` stops the workers a stall waits for, then wakes it.
            if self.closed.load(Ordering::Acquire) {
                return Err(crate::Error::Closed);
            }
            let l0 = st.version.num_files(0);
            let full = log.mem.approximate_memory_usage() >= self.opts.write_buffer_size;
            let cause = if l0 >= self.opts.l0_stop_writes_trigger {
                StallCause::L0Stop
            } else if full && st.imms.len() >= self.opts.max_immutable_memtables.max(1) {
                StallCause::Memtables
            } else if l0 >= self.opts.l0_slowdown_writes_trigger && !slowed {
                StallCause::L0Slowdown
            } else {
                break;
            };
            let started = Instant::now();
            if cause == StallCause::L0Slowdown {
                // Delay this group, once, by the time its bytes take at
                // `delayed_write_rate`, so compaction can catch up before writers hit
                // the hard stop (RocksDB's delayed write rate; LevelDB sleeps 1 ms).
                drop(st);
                slowed = true;
                self.schedule_compaction();
                std::thread::sleep(slowdown_delay(bytes, self.opts.delayed_write_rate));
                st = lock(&self.state);
            } else {
                // Stop until a flush or compaction changes the picture.
                self.schedule_compaction();
                st = self.state_changed.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            let c = cause as usize;
            if !std::mem::replace(&mut counted[c], true) {
                self.counters.stalls[c].fetch_add(1, Ordering::Relaxed);
            }
            self.counters.stall_micros[c]
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
        drop(st);
        if log.mem.approximate_memory_usage() < self.opts.write_buffer_size {
            return Ok(());
        }
        self.rotate(log)
    }

    /// Makes the active memtable immutable and starts a new memtable and WAL. The old
    /// WAL is fsynced first: otherwise a power loss could keep a synced write in the new
    /// WAL while losing unsynced ones before it in the old — a hole in the history.
    /// A failure marks the log failed before the log lock is let go, so no writer
    /// waiting for it appends after the hole a failed fsync left.
    pub fn rotate(&self, log: &mut LogState) -> Result<()> {
        log.check()?;
        let number = self.new_file_number();
        let created = log.wal.sync().and_then(|()| {
            let file = self.fs.create(&filename::log_file(&self.dir, number))?;
            self.fs.sync_dir(&self.dir)?;
            Ok(file)
        });
        let file = match created {
            Ok(file) => file,
            Err(e) => {
                log.record_failure(&e);
                return Err(e);
            }
        };
        let old_mem = std::mem::replace(&mut log.mem, Arc::new(MemTable::new()));
        let old_log = std::mem::replace(&mut log.log_number, number);
        log.wal = LogWriter::new(file);
        let mut st = lock(&self.state);
        st.imms.push_back(Imm { mem: old_mem, log_number: old_log });
        self.install_view(&st, Arc::clone(&log.mem));
        drop(st);
        self.schedule_flush();
        Ok(())
    }

    /// Flushes every waiting memtable, oldest first. Runs on the background pool: one
    /// worker flushes while the others compact. A worker that finds another flushing
    /// returns at once; the flusher looks for new memtables again after letting go, so
    /// one queued while it was finishing is not left behind.
    pub fn flush_pending(&self) {
        loop {
            let Ok(_flushing) = self.flushing.try_lock() else { return };
            if !self.flush_waiting() {
                return;
            }
            drop(_flushing);
            let st = lock(&self.state);
            if st.imms.is_empty() || st.bg_error.is_some() {
                return;
            }
        }
    }

    /// Flushes memtables until none waits; false if a flush failed.
    fn flush_waiting(&self) -> bool {
        loop {
            let (mem, log_number) = {
                let st = lock(&self.state);
                if st.bg_error.is_some() {
                    return false;
                }
                match st.imms.front() {
                    Some(imm) => (Arc::clone(&imm.mem), imm.log_number),
                    None => return true,
                }
            };
            if let Err(e) = self.flush_one(&mem, log_number) {
                self.set_bg_error(e);
                return false;
            }
        }
    }

    fn flush_one(&self, mem: &MemTable, log_number: u64) -> Result<()> {
        let mut edit = VersionEdit { log_number: Some(log_number + 1), ..VersionEdit::default() };
        if let Some(meta) = self.write_table(mem)? {
            edit.last_seqno = Some(meta.largest_seqno);
            edit.added.push((0, meta));
        }
        {
            // The new version is installed before the manifest lock is released, so
            // versions are installed in the order they were logged: a flush and a
            // compaction finishing together cannot install an older version last.
            let mut versions = lock(&self.versions);
            let version = versions.log_and_apply(edit, self.next_file.load(Ordering::Relaxed))?;
            // The WALs the edit made obsolete go before the flush is seen to finish, so
            // `Db::flush` returning means they are gone. A failure here only wastes
            // space: the next open deletes every WAL below the manifest's log number.
            for name in self.fs.list_dir(&self.dir).unwrap_or_default() {
                if let Some(filename::FileKind::Log(n)) = filename::parse(&name) {
                    if n <= log_number {
                        let _ = self.fs.remove_file(&self.dir.join(name));
                    }
                }
            }
            let mut st = lock(&self.state);
            st.imms.pop_front();
            st.version = version;
            st.flushes += 1;
            let active = self.current_view().mem.clone();
            self.install_view(&st, active);
        }
        self.state_changed.notify_all();
        self.schedule_compaction();
        self.delete_obsolete_tables();
        Ok(())
    }

    /// Writes `mem` as a new table; `None` if it holds nothing.
    fn write_table(&self, mem: &MemTable) -> Result<Option<FileMeta>> {
        let mut it = mem.iter();
        it.seek_to_first();
        if !it.valid() {
            return Ok(None);
        }
        let number = self.new_file_number();
        let path = filename::table_file(&self.dir, number);
        let mut builder =
            TableBuilder::new(self.fs.create(&path)?, path.clone(), self.table_opts.clone());
        let mut added = Ok(());
        while it.valid() && added.is_ok() {
            added = builder.add(it.key(), it.value());
            it.next();
        }
        let finished = match added {
            Ok(()) => builder.finish(),
            Err(e) => {
                builder.abandon();
                Err(e)
            }
        };
        let props = match finished {
            Ok(p) => p,
            Err(e) => {
                // No manifest names the partial table; removing it only saves space
                // (open would remove it too), so a failure to remove is not reported.
                let _ = self.fs.remove_file(&path);
                return Err(e);
            }
        };
        self.fs.sync_dir(&self.dir)?;
        self.counters.flushed_bytes.fetch_add(props.file_size, Ordering::Relaxed);
        Ok(Some(FileMeta::from_properties(number, props)))
    }
}

/// How long a write group of `bytes` sleeps while L0 is over the slowdown trigger:
/// its bytes at `rate` bytes per second, at least 1 µs and at most 1 s.
fn slowdown_delay(bytes: usize, rate: u64) -> Duration {
    let micros = (bytes as u64).saturating_mul(1_000_000) / rate.max(1);
    Duration::from_micros(micros.clamp(1, 1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slowed_group_sleeps_for_its_bytes_at_the_delayed_rate() {
        let mib = 1 << 20;
        assert_eq!(slowdown_delay(mib, 16 * mib as u64), Duration::from_micros(62_500));
        assert_eq!(slowdown_delay(100, 16 << 20), Duration::from_micros(5));
        assert_eq!(slowdown_delay(0, 16 << 20), Duration::from_micros(1), "never zero");
        assert_eq!(slowdown_delay(1 << 30, 1), Duration::from_secs(1), "at most 1 s");
        assert_eq!(slowdown_delay(1, 0), Duration::from_secs(1), "a zero rate is the slowest");
    }
}

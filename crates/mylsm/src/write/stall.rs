//! Keeping the memtable within bounds before each write group: slowing down or
//! stopping writes while L0 or the flush queue is too long (RocksDB's write stalls),
//! and rotating a full memtable and its WAL out to the flush queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::group::{LogState, WritePath};
use crate::engine::tree::{Imm, StallCause, Tree};
use crate::engine::Shared;
use crate::filename;
use crate::memtable::MemTable;
use crate::version::VersionEdit;
use crate::wal::LogWriter;
use crate::Result;

/// Called by the write leader before each group of `bytes`: for each keyspace, slows
/// down or stops while its L0 has too many tables, and if its memtable is full, stalls
/// while too many of its memtables wait for flush; then, if any memtable is full or the
/// WAL has reached `max_total_wal_size`, cuts new memtables and a new WAL. Holding the log lock while stalled is the point: every
/// writer waits behind the leader. (`Db::sync` takes only the WAL lock, so it is not
/// held up.) Stalls are database-wide, as RocksDB's write controller is: one keyspace
/// with a full L0 holds up every write. A group that may not wait (`no_slowdown`)
/// fails with `WouldStall` where it would have waited, before anything is written.
pub(crate) fn make_room(
    shared: &Shared,
    wp: &WritePath,
    log: &mut LogState,
    bytes: usize,
    may_wait: bool,
) -> Result<()> {
    let mut slowed = false;
    let mut any_full = false;
    for live in &log.live {
        stall(shared, &live.tree, &live.mem, bytes, &mut slowed, may_wait, &wp.stalled)?;
        any_full |= live.mem.approximate_memory_usage() >= live.tree.opts().write_buffer_size;
    }
    let wal_full = log.wal_len >= shared.opts().max_total_wal_size;
    if !any_full && !wal_full {
        return Ok(());
    }
    rotate(shared, wp, log)
}

/// Waits while `tree` is over its limits; `slowed` says whether this group was already
/// delayed once (it is delayed at most once, whatever the keyspaces).
fn stall(
    shared: &Shared,
    tree: &Arc<Tree>,
    mem: &MemTable,
    bytes: usize,
    slowed: &mut bool,
    may_wait: bool,
    stalled: &std::sync::atomic::AtomicUsize,
) -> Result<()> {
    let opts = tree.opts();
    // Which causes this group has already been counted under.
    let mut counted = [false; 3];
    let mut st = tree.state();
    loop {
        // `close` (and a failure) wakes a stall; it must not wait for workers that
        // have stopped.
        shared.latch().check()?;
        let l0 = st.version.num_files(0);
        let full = mem.approximate_memory_usage() >= opts.write_buffer_size;
        let cause = if l0 >= opts.l0_stop_writes_trigger {
            StallCause::L0Stop
        } else if full && st.imms.len() >= opts.max_immutable_memtables {
            StallCause::Memtables
        } else if l0 >= opts.l0_slowdown_writes_trigger && !*slowed {
            StallCause::L0Slowdown
        } else {
            return Ok(());
        };
        if !may_wait {
            let name = tree.name();
            let why = match cause {
                StallCause::Memtables => {
                    format!("keyspace {name:?} has too many memtables waiting for flush")
                }
                _ => format!("keyspace {name:?} has {l0} tables in L0"),
            };
            shared.jobs().schedule_compaction(tree);
            return Err(crate::Error::WouldStall(why));
        }
        // A group is counted when its stall begins, so a stall in progress shows.
        let first = !std::mem::replace(&mut counted[cause as usize], true);
        tree.count_stall(cause, first, 0);
        let started = Instant::now();
        // Counted while waiting, so `no_slowdown` writers need not queue behind it.
        let _waiting = Waiting::new(stalled);
        if cause == StallCause::L0Slowdown {
            // Delay this group, once, by the time its bytes take at
            // `delayed_write_rate`, so compaction can catch up before writers hit the
            // hard stop (RocksDB's delayed write rate; LevelDB sleeps 1 ms).
            drop(st);
            *slowed = true;
            shared.jobs().schedule_compaction(tree);
            std::thread::sleep(slowdown_delay(bytes, opts.delayed_write_rate));
            st = tree.state();
        } else {
            // Stop until a flush or compaction changes the picture.
            shared.jobs().schedule_compaction(tree);
            st = tree.wait(st, None);
        }
        tree.count_stall(cause, false, started.elapsed().as_micros() as u64);
    }
}

/// Counts a group in a stall while it lives.
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a std::sync::atomic::AtomicUsize) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Makes every keyspace's non-empty memtable immutable and starts new memtables and a
/// new WAL, so that each memtable's data lies in exactly one WAL; the caller holds the
/// log lock (`log`), so no group is half committed. The old WAL is fsynced first:
/// otherwise a power loss could keep a synced write in the new WAL while losing
/// unsynced ones before it in the old — a hole in the history. The new WAL is named in
/// the manifest before any write goes to it, so an open can tell a missing live WAL
/// from one that was never written; the same edit moves the log number of every
/// keyspace with nothing left to flush to the new WAL, so a quiet keyspace never pins
/// old WALs. A failure is latched before the WAL lock is let go.
pub(crate) fn rotate(shared: &Shared, wp: &WritePath, log: &mut LogState) -> Result<()> {
    shared.latch().check()?;
    let number = shared.new_file_number();
    let idle: Vec<(u32, u64)> = log
        .live
        .iter()
        .filter(|l| l.mem.len() == 0 && l.tree.state().imms.is_empty())
        .map(|l| (l.tree.id(), number))
        .collect();
    let mut wal = wp.wal();
    let created = wal.writer.sync().and_then(|()| {
        let file = shared.fs().create(&filename::log_file(shared.dir(), number))?;
        shared.add_wal(number);
        shared.fs().sync_dir(shared.dir())?;
        let edit =
            VersionEdit { new_wals: vec![number], keyspace_logs: idle, ..VersionEdit::default() };
        shared.versions().log_and_apply(edit, shared.next_file_number(), shared.latch())?;
        Ok(file)
    });
    let file = match created {
        Ok(file) => file,
        Err(e) => {
            shared.fail(&e);
            return Err(e);
        }
    };
    let old_log = std::mem::replace(&mut wal.number, number);
    wal.writer = LogWriter::new(file);
    log.wal_len = 0;
    drop(wal);
    for live in log.live.iter_mut().filter(|l| l.mem.len() > 0) {
        let old_mem = std::mem::replace(&mut live.mem, Arc::new(MemTable::new()));
        let mut st = live.tree.state();
        st.imms.push_back(Imm { mem: old_mem, log_number: old_log });
        live.tree.install_view(&st, Arc::clone(&live.mem));
        drop(st);
        shared.jobs().schedule_flush(&live.tree);
    }
    // WALs no keyspace needs any more (a quiet keyspace's log number just moved).
    let needed = shared.versions().log_number();
    shared.delete_wals_below(needed);
    Ok(())
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

//! The write path: group commit of concurrent writers into one WAL append and at most
//! one fsync, then memtable insertion and in-order publication of the new seqno.
//!
//! Protocol (LevelDB's `DBImpl::Write`, with tickets instead of writer nodes):
//!
//! 1. A writer takes a ticket and queues its batch under the queue lock.
//! 2. If no leader is active, the writer becomes the leader: it takes a group from the
//!    front of the queue (up to `max_write_group_bytes`), releases the queue lock and,
//!    holding only the log lock, assigns the group consecutive seqnos, appends it to
//!    the WAL as one record, fsyncs once if any member asked for `sync`, inserts it
//!    into the memtable, and publishes the group's last seqno.
//! 3. The leader marks every ticket of the group done and wakes the waiters; one of
//!    those still queued becomes the next leader.
//!
//! Invariants: at most one leader at a time, so seqnos are assigned, logged, inserted
//! and published in one order; a ticket is marked done only after its data is
//! published, so a write returns only once every later read sees it; groups leave the
//! queue from the front, so tickets complete in order (`done_below` suffices). A failed
//! WAL append or fsync is latched (`crate::latch`) before the WAL lock is let go, and
//! every append, fsync and rotation checks the latch under that lock, so nothing is ever
//! appended after the hole a failed fsync may have left: every later write fails with
//! `Error::Background` until the database is reopened.
//!
//! Two locks: `log`, held by the leader for its whole group (the stall, the seqnos,
//! the memtable inserts) and by a memtable rotation; and `wal`, held only across WAL
//! I/O. `Db::sync` needs only `wal`, so it never waits behind a stalled leader.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::batch::WriteBatch;
use crate::engine::tree::Tree;
use crate::engine::{lock, Shared};
use crate::key::{Kind, MAX_SEQNO};
use crate::memtable::MemTable;
use crate::wal::LogWriter;
use crate::{Error, Result};

/// What the leader owns for its group; guarded by the log lock.
#[derive(Debug)]
pub(crate) struct LogState {
    pub last_seqno: u64,
    /// Every live keyspace with its active memtable, the default one first. Memtables
    /// change only under this lock (a rotation), and keyspaces join and leave only under
    /// it: kept here so the leader need not take a view per record.
    pub live: Vec<LiveTree>,
    /// Bytes in the live WAL, as of the leader's last append (only the leader and a
    /// rotation, both under this lock, change the WAL), so the size cap needs no WAL lock.
    pub wal_len: u64,
    scratch: Vec<u8>,
}

/// A live keyspace and the memtable its writes go to.
#[derive(Debug)]
pub(crate) struct LiveTree {
    pub tree: Arc<Tree>,
    pub mem: Arc<MemTable>,
}

impl LogState {
    /// Starts taking writes for `tree`.
    pub fn add_tree(&mut self, tree: Arc<Tree>) {
        let mem = tree.active_memtable();
        self.live.push(LiveTree { tree, mem });
    }

    /// Stops taking writes for keyspace `id` (dropped).
    pub fn remove_tree(&mut self, id: u32) {
        self.live.retain(|l| l.tree.id() != id);
    }
}

/// The live WAL; guarded by the WAL lock, the only lock held across WAL I/O.
#[derive(Debug)]
pub(crate) struct Wal {
    pub writer: LogWriter,
    /// The number of the live WAL, the one `writer` appends to.
    pub number: u64,
}

/// A check a transaction's batch must pass, run by the leader under the log lock just
/// before the batch gets its seqnos (see `txn.rs`).
pub(crate) type Check = Box<dyn FnOnce() -> Result<()> + Send>;

struct Pending {
    ticket: u64,
    batch: WriteBatch,
    sync: bool,
    /// Fail rather than wait in a stall; such batches form groups of their own.
    no_slowdown: bool,
    check: Option<Check>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("ticket", &self.ticket).field("sync", &self.sync).finish()
    }
}

#[derive(Debug, Default)]
struct Queue {
    pending: VecDeque<Pending>,
    next_ticket: u64,
    /// Every ticket below this has completed.
    done_below: u64,
    /// Completed tickets whose group failed, with the error each gets.
    failed: HashMap<u64, Error>,
    leader_active: bool,
    /// Writers blocked on `wake`. With none, the leader skips `notify_all`, which is a
    /// `futex` system call even when nobody waits: one per synced write of a lone
    /// writer.
    waiting: usize,
}

/// Coalesces concurrent writes. Shared by every handle of one `Db`.
#[derive(Debug)]
pub(crate) struct WritePath {
    queue: Mutex<Queue>,
    wake: Condvar,
    log: Mutex<LogState>,
    wal: Mutex<Wal>,
    max_group_bytes: usize,
    /// Counters for `Stats`.
    pub groups: AtomicU64,
    pub batches: AtomicU64,
    /// Key and value bytes of every record committed.
    pub user_bytes: AtomicU64,
    pub wal_syncs: AtomicU64,
    /// Write groups waiting in a stall right now: a `no_slowdown` write fails at once
    /// rather than queue behind one.
    pub stalled: std::sync::atomic::AtomicUsize,
}

impl WritePath {
    pub fn new(
        wal: LogWriter,
        wal_number: u64,
        trees: &[Arc<Tree>],
        last_seqno: u64,
        max_group_bytes: usize,
    ) -> Self {
        let wal_len = wal.len();
        let mut log = LogState { last_seqno, live: Vec::new(), wal_len, scratch: Vec::new() };
        for tree in trees {
            log.add_tree(Arc::clone(tree));
        }
        WritePath {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            log: Mutex::new(log),
            wal: Mutex::new(Wal { writer: wal, number: wal_number }),
            max_group_bytes: max_group_bytes.max(1),
            groups: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            user_bytes: AtomicU64::new(0),
            wal_syncs: AtomicU64::new(0),
            stalled: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Applies `batch` atomically, to whichever keyspaces its records name; returns once
    /// it is logged (and fsynced if `sync`) and visible to every later read.
    ///
    /// Before appending, the leader makes room (`stall.rs`): it may cut a new memtable
    /// and WAL, slow the group down, or stall while too many memtables or L0 tables
    /// wait.
    ///
    /// A batch with a `check` (a transaction's commit) commits as a group of its own,
    /// after every earlier group is in the memtables, and `check` runs under the log
    /// lock, so nothing commits between the check and the batch. A failed check fails
    /// this write alone, with the check's error.
    pub fn write_checked(
        &self,
        shared: &Shared,
        batch: WriteBatch,
        options: &crate::WriteOptions,
        check: Option<Check>,
    ) -> Result<()> {
        let (sync, no_slowdown) = (options.sync, options.no_slowdown);
        batch.validate()?;
        shared.latch().check()?;
        if no_slowdown && self.stalled.load(Ordering::Acquire) > 0 {
            return Err(Error::WouldStall("another write is waiting in a write stall".into()));
        }
        if batch.is_empty() {
            return Ok(());
        }
        let mut q = lock(&self.queue);
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.pending.push_back(Pending { ticket, batch, sync, no_slowdown, check });
        loop {
            if ticket < q.done_below {
                return q.failed.remove(&ticket).map_or(Ok(()), Err);
            }
            if q.leader_active {
                q.waiting += 1;
                q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
                q.waiting -= 1;
                continue;
            }
            q.leader_active = true;
            let mut group = self.take_group(&mut q);
            drop(q);
            let result = self.commit(shared, &mut group);
            q = lock(&self.queue);
            q.leader_active = false;
            if let Err(e) = result {
                for p in &group {
                    q.failed.insert(p.ticket, e.clone());
                }
            }
            q.done_below = group.last().map_or(q.done_below, |p| p.ticket + 1);
            // `waiting` changes only under the queue lock, and a waiter counts itself
            // before `wait` lets that lock go, so no wakeup is lost.
            if q.waiting > 0 {
                self.wake.notify_all();
            }
        }
    }

    fn take_group(&self, q: &mut Queue) -> Vec<Pending> {
        let mut group = Vec::new();
        let mut bytes = 0;
        while let Some(p) = q.pending.front() {
            let size = p.batch.encoded_len();
            if !group.is_empty() && bytes + size > self.max_group_bytes {
                break;
            }
            // A checked batch goes alone: the groups before it must be in the memtables
            // for its check to see them.
            if !group.is_empty() && p.check.is_some() {
                break;
            }
            // Whether the group may wait in a stall is one answer for all of it.
            if group.first().is_some_and(|g: &Pending| g.no_slowdown != p.no_slowdown) {
                break;
            }
            let alone = p.check.is_some();
            bytes += size;
            group.extend(q.pending.pop_front());
            if alone {
                break;
            }
        }
        group
    }

    /// The leader's work for one group, holding the log lock throughout.
    fn commit(&self, shared: &Shared, group: &mut [Pending]) -> Result<()> {
        let mut log = lock(&self.log);
        // The database may have failed or closed while this group waited.
        shared.latch().check()?;
        let bytes = group.iter().map(|p| p.batch.encoded_len()).sum();
        let may_wait = !group.first().is_some_and(|p| p.no_slowdown);
        super::stall::make_room(shared, self, &mut log, bytes, may_wait)?;
        // A checked batch is alone in its group (`take_group`).
        if let Some(check) = group.first_mut().and_then(|p| p.check.take()) {
            check()?;
        }
        let sync = group.iter().any(|p| p.sync);
        // The group is ours: merge the later batches into the first, copying only them.
        let Some((head, rest)) = group.split_first_mut() else { return Ok(()) };
        for p in rest.iter() {
            head.batch.append(&p.batch);
        }
        let batch = &mut head.batch;
        let first = log.last_seqno + 1;
        let last = log.last_seqno + batch.len() as u64;
        if last > MAX_SEQNO {
            return Err(Error::SeqnoExhausted);
        }
        batch.set_seqno(first);
        log.wal_len = self.append(shared, batch.encoded(), sync)?;
        let LogState { live, scratch, .. } = &mut *log;
        let mut bytes = 0;
        // Records of one keyspace come in runs: look the memtable up once per run.
        let mut run: Option<(u32, &LiveTree)> = None;
        for (i, rec) in batch.records().enumerate() {
            let target = match run {
                Some((id, l)) if id == rec.keyspace => Some(l),
                _ => {
                    let l = live.iter().find(|l| l.tree.id() == rec.keyspace);
                    run = l.map(|l| (rec.keyspace, l));
                    l
                }
            };
            // A keyspace dropped after the batch was checked: its records go with it
            // (replay skips them too).
            if let Some(l) = target {
                let seqno = first + i as u64;
                let collapsed = (rec.kind == Kind::Merge)
                    .then(|| collapse(shared, l, rec.key, rec.value, seqno))
                    .flatten();
                match collapsed {
                    Some((kind, value)) => l.mem.add(scratch, seqno, kind, rec.key, &value),
                    None => l.mem.add(scratch, seqno, rec.kind, rec.key, rec.value),
                }
            }
            bytes += rec.key.len() + rec.value.len();
        }
        self.user_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        log.last_seqno = last;
        shared.publish_seqno(last);
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.batches.fetch_add(group.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Appends one record to the live WAL (and fsyncs it if `sync`); returns the WAL's
    /// length after it. A failure is latched before the WAL lock is let go.
    fn append(&self, shared: &Shared, record: &[u8], sync: bool) -> Result<u64> {
        let mut wal = lock(&self.wal);
        shared.latch().check()?;
        let mut result = wal.writer.add_record(record);
        if result.is_ok() && sync {
            result = wal.writer.sync_preallocating();
            self.wal_syncs.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = &result {
            shared.fail(e);
        }
        result.map(|()| wal.writer.len())
    }

    /// Makes every acknowledged write durable by fsyncing the live WAL (older logs were
    /// fsynced when they were cut loose). Takes only the WAL lock, so it never waits for
    /// a stalled writer.
    ///
    /// After a failed write, sync or flush it fails too: the failure may have lost
    /// acknowledged writes (a failed fsync drops the pages it covered), and syncing what
    /// is left would promise durability for them. The failure stands until reopen.
    pub fn sync(&self, shared: &Shared) -> Result<()> {
        let mut wal = lock(&self.wal);
        shared.latch().check()?;
        let result = wal.writer.sync();
        self.wal_syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = &result {
            shared.fail(e);
        }
        result
    }

    /// Logs the marker of an ingest whose tables take the next seqnos, fsynced (with
    /// every write before it), while the caller holds the log lock (`log`); returns the
    /// first of those seqnos. The caller moves `last_seqno` once the tables are in.
    pub(crate) fn log_ingest(
        &self,
        shared: &Shared,
        log: &mut LogState,
        tables: &[u64],
    ) -> Result<u64> {
        let first = log.last_seqno + 1;
        if log.last_seqno + tables.len() as u64 > MAX_SEQNO {
            return Err(Error::SeqnoExhausted);
        }
        let mut marker = WriteBatch::ingest_marker(first, tables);
        log.wal_len = self.append(shared, marker.encoded(), true)?;
        Ok(first)
    }

    /// Runs `f` with the log state while no group is being committed (to cut a new
    /// memtable on demand, say).
    pub fn with_log<T>(&self, f: impl FnOnce(&mut LogState) -> T) -> T {
        f(&mut lock(&self.log))
    }

    /// The WAL, for a rotation (the caller holds the log lock).
    pub(crate) fn wal(&self) -> std::sync::MutexGuard<'_, Wal> {
        lock(&self.wal)
    }

    /// Makes what was written durable at close (the latch is already closed, so no
    /// group appends after this). After a failure it syncs nothing and returns that
    /// failure, as `sync` does: writes the failure dropped cannot be promised.
    pub fn close(&self, shared: &Shared) -> Result<()> {
        // Waits for a leader in the middle of its group.
        let _log = lock(&self.log);
        let mut wal = lock(&self.wal);
        shared.latch().check_failed()?;
        wal.writer.sync()
    }
}

/// The merged value to write in place of merge `operand` of `key` at `seqno` when the
/// key already has `max_merge_operands - 1` operands on top in the memtable, so no read
/// walks a longer chain; `None` to write the operand as it is (also when the merge
/// fails: the read that needs it will report that, and over an expiring value). The
/// WAL keeps the operand; the two read the same.
fn collapse(
    shared: &Shared,
    l: &LiveTree,
    key: &[u8],
    operand: &[u8],
    seqno: u64,
) -> Option<(Kind, Vec<u8>)> {
    let opts = l.tree.opts();
    let op = opts.merge.as_ref()?;
    let limit = opts.max_merge_operands.max(1);
    let mut chain = 0;
    l.mem.for_each_version(key, seqno - 1, |_, kind, _| {
        chain += usize::from(kind == Kind::Merge);
        kind == Kind::Merge && chain < limit
    });
    if chain + 1 < limit {
        return None;
    }
    // Under the log lock the view's memtable is `l.mem`, holding every earlier record.
    let ctx = l.tree.read_ctx(seqno - 1, shared.now());
    let (base, expiry) = l.tree.current_view().get_with_expiry(key, &ctx).ok()?;
    // Operands over an expiring value apply to it only while it lives, which a value
    // merged now could not express: such a chain is left as it is.
    if expiry.is_some() {
        return None;
    }
    let merged = op.full_merge(key, base.as_deref(), &[operand]).ok()?;
    Some((Kind::Put, merged))
}

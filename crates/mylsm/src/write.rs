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
//! WAL append or fsync latches the error: every later write fails with
//! `Error::Background` until the database is reopened.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::batch::WriteBatch;
use crate::key::MAX_SEQNO;
use crate::memtable::MemTable;
use crate::wal::LogWriter;
use crate::{Error, Result};

/// Everything the leader touches while it does I/O; guarded by the log lock, the only
/// lock held across I/O.
#[derive(Debug)]
pub(crate) struct LogState {
    pub wal: LogWriter,
    /// The number of the live WAL, the one `wal` appends to.
    pub log_number: u64,
    pub mem: Arc<MemTable>,
    pub last_seqno: u64,
    /// Set by `close`; a leader that finds it set writes nothing.
    closed: bool,
    /// The first failure of the WAL (append, fsync, or the switch to a new one), set
    /// under the log lock by whoever saw it. The queue's latch is set only after the
    /// log lock is let go, so a leader that passed that check must look here too:
    /// otherwise it could append after the hole a failed fsync left.
    failed: Option<Error>,
    scratch: Vec<u8>,
}

impl LogState {
    pub fn new(wal: LogWriter, log_number: u64, mem: Arc<MemTable>, last_seqno: u64) -> Self {
        LogState {
            wal,
            log_number,
            mem,
            last_seqno,
            closed: false,
            failed: None,
            scratch: Vec::new(),
        }
    }

    /// `Error::Background` if the WAL has failed since open, `Error::Closed` after
    /// `close`.
    pub fn check(&self) -> Result<()> {
        match &self.failed {
            Some(e) => Err(Error::Background(Box::new(e.clone()))),
            None if self.closed => Err(Error::Closed),
            None => Ok(()),
        }
    }

    /// Notes that the WAL failed with `e`: nothing more may be appended or synced.
    pub fn record_failure(&mut self, e: &Error) {
        if self.failed.is_none() && !matches!(e, Error::Closed) {
            self.failed = Some(e.clone());
        }
    }
}

#[derive(Debug)]
struct Pending {
    ticket: u64,
    batch: WriteBatch,
    sync: bool,
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
    /// The first failure of the WAL; once set, every write fails.
    latched: Option<Error>,
}

/// What the leader calls before each group to keep the memtable within bounds.
pub(crate) type MakeRoom<'a> = dyn Fn(&mut LogState, usize) -> Result<()> + 'a;

/// Coalesces concurrent writes. Shared by every handle of one `Db`.
#[derive(Debug)]
pub(crate) struct WritePath {
    queue: Mutex<Queue>,
    wake: Condvar,
    log: Mutex<LogState>,
    /// The last seqno whose data every reader may see.
    visible: AtomicU64,
    max_group_bytes: usize,
    /// Counters for `Stats`.
    pub groups: AtomicU64,
    pub batches: AtomicU64,
    /// Key and value bytes of every record committed.
    pub user_bytes: AtomicU64,
    pub wal_syncs: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the queue or the log state
    // half-updated in a way later code relies on (the latched error covers I/O), so a
    // poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl WritePath {
    pub fn new(log: LogState, max_group_bytes: usize) -> Self {
        let visible = AtomicU64::new(log.last_seqno);
        WritePath {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            log: Mutex::new(log),
            visible,
            max_group_bytes: max_group_bytes.max(1),
            groups: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            user_bytes: AtomicU64::new(0),
            wal_syncs: AtomicU64::new(0),
        }
    }

    /// The seqno a new read should use: everything at or below it is in the memtable.
    pub fn visible_seqno(&self) -> u64 {
        self.visible.load(Ordering::Acquire)
    }

    /// Applies `batch` atomically; returns once it is logged (and fsynced if `sync`)
    /// and visible to every later read.
    ///
    /// Before appending, the leader calls `make_room` with the log state and the
    /// group's encoded bytes: it may cut a new memtable and WAL, slow the group down,
    /// or stall while too many memtables or L0 tables wait.
    pub fn write(&self, batch: WriteBatch, sync: bool, make_room: &MakeRoom<'_>) -> Result<()> {
        batch.validate()?;
        let mut q = lock(&self.queue);
        if let Some(e) = &q.latched {
            return Err(Error::Background(Box::new(e.clone())));
        }
        if batch.is_empty() {
            return Ok(());
        }
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.pending.push_back(Pending { ticket, batch, sync });
        loop {
            if ticket < q.done_below {
                return q.failed.remove(&ticket).map_or(Ok(()), Err);
            }
            if q.leader_active {
                q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            q.leader_active = true;
            let mut group = self.take_group(&mut q);
            let latched = q.latched.clone();
            drop(q);
            let result = match latched {
                Some(e) => Err(Error::Background(Box::new(e))),
                None => self.commit(&mut group, make_room),
            };
            q = lock(&self.queue);
            q.leader_active = false;
            if let Err(e) = result {
                if q.latched.is_none() && !matches!(e, Error::Closed) {
                    q.latched = Some(e.clone());
                }
                for p in &group {
                    q.failed.insert(p.ticket, e.clone());
                }
            }
            q.done_below = group.last().map_or(q.done_below, |p| p.ticket + 1);
            self.wake.notify_all();
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
            bytes += size;
            group.extend(q.pending.pop_front());
        }
        group
    }

    /// The leader's I/O: one WAL record for the whole group, one fsync if asked for.
    fn commit(&self, group: &mut [Pending], make_room: &MakeRoom<'_>) -> Result<()> {
        let mut log = lock(&self.log);
        if log.closed {
            return Err(Error::Closed);
        }
        // A `sync` or a memtable switch may have failed while this group waited.
        log.check()?;
        let result = self.append_group(&mut log, group, make_room);
        if let Err(e) = &result {
            log.record_failure(e);
        }
        result
    }

    fn append_group(
        &self,
        log: &mut LogState,
        group: &mut [Pending],
        make_room: &MakeRoom<'_>,
    ) -> Result<()> {
        let bytes = group.iter().map(|p| p.batch.encoded_len()).sum();
        make_room(log, bytes)?;
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
            return Err(Error::InvalidArgument("sequence numbers exhausted".into()));
        }
        batch.set_seqno(first);
        log.wal.add_record(batch.encoded())?;
        if sync {
            log.wal.sync()?;
            self.wal_syncs.fetch_add(1, Ordering::Relaxed);
        }
        let LogState { mem, scratch, .. } = log;
        let mut bytes = 0;
        for (i, rec) in batch.records().enumerate() {
            mem.add(scratch, first + i as u64, rec.kind, rec.key, rec.value);
            bytes += rec.key.len() + rec.value.len();
        }
        self.user_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        log.last_seqno = last;
        self.visible.store(last, Ordering::Release);
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.batches.fetch_add(group.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Makes every acknowledged write durable by fsyncing the live WAL. Older logs
    /// were fsynced when they were replayed at open.
    pub fn sync(&self) -> Result<()> {
        // After a failed write, sync or flush the log may have lost acknowledged
        // writes (a failed fsync drops the pages it covered): syncing what is left
        // would promise durability for them. The failure stands until reopen.
        if let Some(e) = &lock(&self.queue).latched {
            return Err(Error::Background(Box::new(e.clone())));
        }
        let result = {
            let mut log = lock(&self.log);
            log.check()?;
            let r = log.wal.sync();
            self.wal_syncs.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = &r {
                log.record_failure(e);
            }
            r
        };
        if let Err(e) = &result {
            let mut q = lock(&self.queue);
            if q.latched.is_none() {
                q.latched = Some(e.clone());
            }
        }
        result
    }

    /// Runs `f` with the log state while no group is being committed (to cut a new
    /// memtable on demand, say).
    pub fn with_log<T>(&self, f: impl FnOnce(&mut LogState) -> T) -> T {
        f(&mut lock(&self.log))
    }

    /// Makes every later write fail with `e` (a background failure).
    pub fn latch(&self, e: Error) {
        let mut q = lock(&self.queue);
        if q.latched.is_none() {
            q.latched = Some(e);
        }
    }

    /// Stops all further WAL writes and makes what was written durable. After a
    /// failure it syncs nothing and returns that failure, as `sync` does: writes the
    /// failure dropped cannot be promised.
    pub fn close(&self) -> Result<()> {
        let mut log = lock(&self.log);
        let failed = log.check();
        log.closed = true;
        failed?;
        if let Some(e) = &lock(&self.queue).latched {
            return Err(Error::Background(Box::new(e.clone())));
        }
        log.wal.sync()
    }
}

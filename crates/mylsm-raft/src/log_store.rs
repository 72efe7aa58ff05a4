//! The Raft log and vote on a mylsm [`Db`]: openraft's [`RaftLogStorage`].
//!
//! Layout (two keyspaces of the given database):
//!
//! ```text
//! raft_log   index (u64 BE)   -> postcard(Entry)       one key per entry
//! raft_meta  "vote"           -> postcard(Vote)
//!            "committed"      -> postcard(Option<LogId>)
//!            "last_purged"    -> postcard(LogId)
//! ```
//!
//! Invariants, kept through any crash by the engine's atomic batches and its prefix
//! guarantee (docs/durability.md §4–5):
//!
//! - The entries present are exactly the indexes `last_purged + 1 ..= last`: every
//!   change to the log is one `WriteBatch` (an append's puts; a truncate's range
//!   delete; a purge's range delete together with the new `last_purged`), so no crash
//!   can leave a hole.
//! - A vote, an append, a truncate or a purge is synced before its method returns (an
//!   append before its flush callback fires), so what openraft was told is durable, is.
//!   Only `committed` is written without a sync: openraft re-derives it, and any later
//!   synced write makes it durable too. Purges are synced although losing one looks
//!   harmless, because after a snapshot install the purged entries may conflict with
//!   the installed state; purges are rare (once per snapshot), so the fsync is cheap.
//!
//! Follows openraft's `rocksstore-v2` example; what differs is that the engine groups
//! concurrent syncs itself, and a purge is one atomic batch rather than two writes.
//! Every engine call runs on tokio's blocking pool (`codec::blocking`), so an fsync
//! never stalls a runtime worker.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};

use mylsm::{Db, Keyspace, KeyspaceOptions, WriteBatch, WriteOptions};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, StorageIOError, Vote};

use crate::codec::{any, blocking, decode, encode, index_key, sto};
use crate::types::{Entry, LogId, NodeId, StorageError, TypeConfig};

/// The keyspace holding the log entries.
pub const LOG_KEYSPACE: &str = "raft_log";
/// The keyspace holding the vote, the committed log id and the last purged log id.
pub const LOG_META_KEYSPACE: &str = "raft_meta";

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";

/// The Raft log storage of one node, on keyspaces [`LOG_KEYSPACE`] and
/// [`LOG_META_KEYSPACE`] of a mylsm database. Cloning it gives another handle on the
/// same log (openraft's log reader is such a clone).
#[derive(Clone)]
pub struct LogStore {
    db: Db,
    log: Keyspace,
    meta: Keyspace,
}

impl Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore").finish_non_exhaustive()
    }
}

impl LogStore {
    /// The log store kept in `db`, creating its keyspaces if they do not exist yet. The
    /// database may also hold a [`StateMachine`](crate::StateMachine) or anything else.
    pub fn open(db: &Db) -> mylsm::Result<Self> {
        Ok(Self {
            db: db.clone(),
            log: db.keyspace_or_create(LOG_KEYSPACE, KeyspaceOptions::default)?,
            meta: db.keyspace_or_create(LOG_META_KEYSPACE, KeyspaceOptions::default)?,
        })
    }

    fn read_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        make: fn(openraft::AnyError) -> StorageIOError<NodeId>,
    ) -> Result<Option<T>, StorageError> {
        match self.meta.get(key).map_err(|e| sto(make, any(e)))? {
            None => Ok(None),
            Some(v) => decode(&v, "raft meta value").map(Some).map_err(|e| sto(make, e)),
        }
    }

    fn last_entry_id(&self) -> Result<Option<LogId>, StorageError> {
        match self.log.iter().next_back() {
            None => Ok(None),
            Some(item) => {
                let (_, v) = item.map_err(|e| sto(StorageIOError::read_logs, any(e)))?;
                let entry: Entry =
                    decode(&v, "log entry").map_err(|e| sto(StorageIOError::read_logs, e))?;
                Ok(Some(entry.log_id))
            }
        }
    }

    fn write(&self, batch: WriteBatch, sync: bool) -> mylsm::Result<()> {
        self.db.write_opt(batch, &WriteOptions::new().with_sync(sync))
    }
}

/// Turns a range of log indexes into the matching range of keys.
fn key_bounds<RB: RangeBounds<u64>>(range: &RB) -> (Bound<[u8; 8]>, Bound<[u8; 8]>) {
    let map = |b: Bound<&u64>| match b {
        Bound::Included(&i) => Bound::Included(index_key(i)),
        Bound::Excluded(&i) => Bound::Excluded(index_key(i)),
        Bound::Unbounded => Bound::Unbounded,
    };
    (map(range.start_bound()), map(range.end_bound()))
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        // A reversed or empty range (openraft asks for `a..a`) reads nothing; the engine
        // would refuse a reversed one.
        let (lo, hi) = key_bounds(&range);
        let empty = match (lo, hi) {
            (Bound::Included(a), Bound::Excluded(b)) => a >= b,
            (Bound::Included(a), Bound::Included(b)) | (Bound::Excluded(a), Bound::Excluded(b)) => {
                a > b
            }
            (Bound::Excluded(a), Bound::Included(b)) => a >= b,
            _ => false,
        };
        if empty {
            return Ok(Vec::new());
        }
        let log = self.log.clone();
        blocking(move || {
            let mut out = Vec::new();
            for item in log.range((lo, hi)) {
                let (_, v) = item.map_err(|e| sto(StorageIOError::read_logs, any(e)))?;
                out.push(decode(&v, "log entry").map_err(|e| sto(StorageIOError::read_logs, e))?);
            }
            Ok(out)
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let this = self.clone();
        blocking(move || {
            let last_purged_log_id: Option<LogId> =
                this.read_meta(LAST_PURGED, StorageIOError::read_logs)?;
            let last_log_id = this.last_entry_id()?.or(last_purged_log_id);
            Ok(LogState { last_purged_log_id, last_log_id })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let mut batch = WriteBatch::new();
        batch.put_in(&self.meta, VOTE, encode(vote));
        let this = self.clone();
        blocking(move || {
            this.write(batch, true).map_err(|e| sto(StorageIOError::write_vote, any(e)))
        })
        .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        let this = self.clone();
        blocking(move || this.read_meta(VOTE, StorageIOError::read_vote)).await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let mut batch = WriteBatch::new();
        batch.put_in(&self.meta, COMMITTED, encode(&committed));
        let this = self.clone();
        blocking(move || this.write(batch, false).map_err(|e| sto(StorageIOError::write, any(e))))
            .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let this = self.clone();
        blocking(move || {
            Ok(this.read_meta::<Option<LogId>>(COMMITTED, StorageIOError::read)?.flatten())
        })
        .await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        // One batch and one fsync for the whole call: openraft hands over every entry it
        // has ready, so this is the group commit of the log.
        let mut batch = WriteBatch::new();
        for entry in entries {
            batch.put_in(&self.log, index_key(entry.log_id.index), encode(&entry));
        }
        let this = self.clone();
        blocking(move || match this.write(batch, true) {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::other(e.to_string())));
                Err(sto(StorageIOError::write_logs, any(e)))
            }
        })
        .await
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Synced: a truncated (conflicting) entry must not come back after a crash.
        let mut batch = WriteBatch::new();
        batch
            .delete_range_in(&self.log, index_key(log_id.index)..)
            .map_err(|e| sto(StorageIOError::write_logs, any(e)))?;
        let this = self.clone();
        blocking(move || {
            this.write(batch, true).map_err(|e| sto(StorageIOError::write_logs, any(e)))
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // The new `last_purged` and the deletion in one batch: after any crash both or
        // neither are there, so `last_purged + 1 ..= last` never has a hole.
        let mut batch = WriteBatch::new();
        batch.put_in(&self.meta, LAST_PURGED, encode(&log_id));
        batch
            .delete_range_in(&self.log, ..=index_key(log_id.index))
            .map_err(|e| sto(StorageIOError::write_logs, any(e)))?;
        let this = self.clone();
        blocking(move || {
            this.write(batch, true).map_err(|e| sto(StorageIOError::write_logs, any(e)))
        })
        .await
    }
}

//! The replicated state machine on a mylsm [`Db`]: openraft's [`RaftStateMachine`] and
//! [`RaftSnapshotBuilder`].
//!
//! Layout (two keyspaces of the given database):
//!
//! ```text
//! sm_data   user key        -> user value          what Request::Set / Del change
//! sm_meta   "applied"       -> postcard(Option<LogId>)
//!           "membership"    -> postcard(StoredMembership)
//!           "snapshot_meta" -> postcard(SnapshotMeta)   the current snapshot ...
//!           "snapshot_data" -> snapshot bytes            ... (snapshot_format.rs)
//! ```
//!
//! Invariants:
//!
//! - `applied` and `membership` always describe exactly the data present: `apply`
//!   writes one call's data changes and the new `applied` / `membership` in one
//!   `WriteBatch` across both keyspaces, and `install_snapshot` replaces the data and
//!   both keys in one batch. A crash therefore rolls data and `applied` back together
//!   (applies are not synced; openraft re-applies the lost suffix from the log).
//! - The current snapshot is durable, and so is every apply before it: storing it is a
//!   synced write, which makes every earlier write of the database durable too
//!   (docs/durability.md §1). So after any crash `applied` ≥ the current snapshot's last
//!   log id ≥ the log's `last_purged` (openraft purges only up to a snapshot).

use std::collections::HashMap;
use std::fmt::Debug;
use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use mylsm::{Db, Keyspace, KeyspaceOptions, WriteBatch, WriteOptions};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};

use crate::codec::{any, blocking, decode, encode, sto};
use crate::snapshot_format::{decode_snapshot, SnapshotEncoder};
use crate::types::{Entry, LogId, NodeId, Request, Response, SnapshotMeta, StorageError};
use crate::types::{StoredMembership, TypeConfig};

/// The keyspace holding the replicated data.
pub const DATA_KEYSPACE: &str = "sm_data";
/// The keyspace holding the applied log id, the membership and the current snapshot.
pub const SM_META_KEYSPACE: &str = "sm_meta";

const APPLIED: &[u8] = b"applied";
const MEMBERSHIP: &[u8] = b"membership";
const SNAPSHOT_META: &[u8] = b"snapshot_meta";
const SNAPSHOT_DATA: &[u8] = b"snapshot_data";

/// The state machine of one node, on keyspaces [`DATA_KEYSPACE`] and
/// [`SM_META_KEYSPACE`] of a mylsm database. Cloning it gives another handle on the
/// same state (a [`SnapshotBuilder`] is one).
#[derive(Clone)]
pub struct StateMachine {
    db: Db,
    data: Keyspace,
    meta: Keyspace,
    /// Serializes replacing the current snapshot, so that a builder that finishes late
    /// never replaces a newer snapshot (one built later or installed meanwhile).
    snapshot_lock: Arc<Mutex<()>>,
}

impl Debug for StateMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachine").finish_non_exhaustive()
    }
}

/// Builds snapshots of a [`StateMachine`] from an engine snapshot, so building does not
/// hold up `apply`.
#[derive(Debug)]
pub struct SnapshotBuilder {
    sm: StateMachine,
}

impl StateMachine {
    /// The state machine kept in `db`, creating its keyspaces if they do not exist yet.
    /// The database may also hold a [`LogStore`](crate::LogStore).
    pub fn open(db: &Db) -> mylsm::Result<Self> {
        Ok(Self {
            db: db.clone(),
            data: db.keyspace_or_create(DATA_KEYSPACE, KeyspaceOptions::default)?,
            meta: db.keyspace_or_create(SM_META_KEYSPACE, KeyspaceOptions::default)?,
            snapshot_lock: Arc::new(Mutex::new(())),
        })
    }

    /// The keyspace of the replicated data, for local reads. Writing to it directly
    /// would make this replica diverge from the others.
    pub fn data(&self) -> &Keyspace {
        &self.data
    }

    /// The applied log id and a 64-bit FNV-1a hash of every key and value of the data
    /// keyspace (each length-prefixed, in key order), read through one engine snapshot
    /// so both are of the same instant. Replicas with equal digests at equal applied
    /// ids hold the same data (up to hash collisions).
    ///
    /// # Errors
    /// The engine's read errors (`Closed` after the database is closed); undecodable
    /// metadata as `Corruption`.
    pub fn digest(&self) -> mylsm::Result<(Option<LogId>, u64)> {
        let view = self.db.snapshot();
        let applied = match view.get_in(&self.meta, APPLIED)? {
            None => None,
            Some(v) => {
                decode::<Option<LogId>>(&v, "applied").map_err(|e| mylsm::Error::Corruption {
                    file: "sm_meta".into(),
                    offset: 0,
                    detail: e.to_string(),
                })?
            }
        };
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
                hash = (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for item in view.iter_in(&self.data) {
            let (k, v) = item?;
            feed(&k);
            feed(&v);
        }
        Ok((applied, hash))
    }

    fn read_meta<T: serde::de::DeserializeOwned>(
        &self,
        view: &mylsm::Snapshot,
        key: &[u8],
    ) -> Result<Option<T>, StorageError> {
        let read = |e| sto(StorageIOError::read_state_machine, e);
        match view.get_in(&self.meta, key).map_err(|e| read(any(e)))? {
            None => Ok(None),
            Some(v) => decode(&v, "state machine meta").map(Some).map_err(read),
        }
    }

    fn applied_from(
        &self,
        view: &mylsm::Snapshot,
    ) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.read_meta::<Option<LogId>>(view, APPLIED)?.flatten();
        let membership = self.read_meta(view, MEMBERSHIP)?.unwrap_or_default();
        Ok((applied, membership))
    }

    /// Stores `meta` and `bytes` as the current snapshot, synced, unless the current one
    /// is newer. `extra` is written in the same batch.
    fn store_snapshot(
        &self,
        meta: &SnapshotMeta,
        bytes: &[u8],
        mut batch: WriteBatch,
    ) -> Result<(), StorageError> {
        let write = |e| sto(StorageIOError::write_snapshot_any, e);
        let _guard = self.snapshot_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current: Option<SnapshotMeta> = self.read_meta(&self.db.snapshot(), SNAPSHOT_META)?;
        if batch.is_empty() && current.is_some_and(|c| c.last_log_id > meta.last_log_id) {
            return Ok(());
        }
        batch.put_in(&self.meta, SNAPSHOT_META, encode(meta));
        batch.put_in(&self.meta, SNAPSHOT_DATA, bytes);
        self.db.write_opt(batch, &WriteOptions::synced()).map_err(|e| write(any(e)))
    }
}

/// `StorageIOError::write_snapshot` without a signature, as a plain constructor.
trait WriteSnapshotAny {
    fn write_snapshot_any(e: openraft::AnyError) -> Self;
}

impl WriteSnapshotAny for StorageIOError<NodeId> {
    fn write_snapshot_any(e: openraft::AnyError) -> Self {
        StorageIOError::write_snapshot(None, e)
    }
}

/// The value `key` has for a request being applied: the change this batch already makes
/// to it (`pending`), else the database's.
fn current(
    data: &Keyspace,
    pending: &HashMap<Vec<u8>, Option<Vec<u8>>>,
    key: &[u8],
) -> mylsm::Result<Option<Vec<u8>>> {
    match pending.get(key) {
        Some(v) => Ok(v.clone()),
        None => Ok(data.get(key)?.map(|v| v.to_vec())),
    }
}

/// Applies one request into `batch`, reading keys through `pending` (the values this
/// batch already gives them; `None` = deleted) and then the database.
fn apply_request(
    data: &Keyspace,
    batch: &mut WriteBatch,
    pending: &mut HashMap<Vec<u8>, Option<Vec<u8>>>,
    req: Request,
) -> mylsm::Result<Response> {
    Ok(match req {
        Request::Set { key, value } => {
            if key.len() > mylsm::MAX_KEY_LEN || value.len() > mylsm::MAX_VALUE_LEN {
                return Ok(Response::Invalid("key or value too long".into()));
            }
            batch.put_in(data, &key, &value);
            pending.insert(key, Some(value));
            Response::Ok
        }
        Request::Del { key } => {
            if key.len() > mylsm::MAX_KEY_LEN {
                return Ok(Response::Invalid("key too long".into()));
            }
            let existed = match pending.get(&key) {
                Some(v) => v.is_some(),
                None => data.contains_key(&key)?,
            };
            batch.delete_in(data, &key);
            pending.insert(key, None);
            Response::Deleted(existed)
        }
        Request::IncrBy { key, by } => {
            if key.len() > mylsm::MAX_KEY_LEN {
                return Ok(Response::Invalid("key too long".into()));
            }
            let old = match current(data, pending, &key)? {
                None => 0,
                Some(v) => match std::str::from_utf8(&v).ok().and_then(|s| s.parse::<i64>().ok()) {
                    Some(n) => n,
                    None => return Ok(Response::Invalid("value is not an integer".into())),
                },
            };
            let Some(new) = old.checked_add(by) else {
                return Ok(Response::Invalid("increment or decrement would overflow".into()));
            };
            let text = new.to_string().into_bytes();
            batch.put_in(data, &key, &text);
            pending.insert(key, Some(text));
            Response::Int(new)
        }
        Request::Batch(reqs) => Response::Batch(
            reqs.into_iter()
                .map(|r| apply_request(data, batch, pending, r))
                .collect::<mylsm::Result<_>>()?,
        ),
    })
}

impl StateMachine {
    /// Applies `entries` in one batch (see [`RaftStateMachine::apply`]); synchronous.
    fn apply_now(&self, entries: Vec<Entry>) -> Result<Vec<Response>, StorageError> {
        // The whole call is one batch: its entries' data, then `applied` and any new
        // membership. Not synced (see the module invariants).
        let mut batch = WriteBatch::new();
        let mut pending = HashMap::new();
        let mut responses = Vec::new();
        let mut last = None;
        let mut membership = None;
        for entry in entries {
            last = Some(entry.log_id);
            responses.push(match entry.payload {
                EntryPayload::Blank => Response::None,
                EntryPayload::Normal(req) => {
                    apply_request(&self.data, &mut batch, &mut pending, req)
                        .map_err(|e| sto(|a| StorageIOError::apply(entry.log_id, a), any(e)))?
                }
                EntryPayload::Membership(m) => {
                    membership = Some(StoredMembership::new(Some(entry.log_id), m));
                    Response::None
                }
            });
        }
        let Some(last) = last else { return Ok(responses) };
        batch.put_in(&self.meta, APPLIED, encode(&Some(last)));
        if let Some(m) = membership {
            batch.put_in(&self.meta, MEMBERSHIP, encode(&m));
        }
        self.db
            .write_opt(batch, &WriteOptions::new())
            .map_err(|e| sto(|a| StorageIOError::apply(last, a), any(e)))?;
        Ok(responses)
    }

    /// Replaces the whole state with a snapshot (see
    /// [`RaftStateMachine::install_snapshot`]); synchronous.
    fn install_now(&self, meta: &SnapshotMeta, bytes: &[u8]) -> Result<(), StorageError> {
        // One synced batch replaces everything: a range delete of the whole data
        // keyspace, the snapshot's keys, `applied`, `membership` and the current
        // snapshot. The engine applies a batch entirely or not at all through any crash,
        // so a crash leaves the old state or the new one, never a mix. (Building into a
        // fresh keyspace and swapping would keep the batch small, but needs a pointer
        // to the live keyspace and a cleanup of the loser after a crash; openraft 0.9
        // already holds the whole snapshot in memory, so one batch costs no more.)
        let content = decode_snapshot(bytes)
            .map_err(|e| sto(|a| StorageIOError::read_snapshot(Some(meta.signature()), a), e))?;
        let mut batch = WriteBatch::with_capacity(bytes.len() * 2);
        batch.delete_prefix_in(&self.data, b"");
        for (k, v) in &content.records {
            batch.put_in(&self.data, k, v);
        }
        batch.put_in(&self.meta, APPLIED, encode(&meta.last_log_id));
        batch.put_in(&self.meta, MEMBERSHIP, encode(&meta.last_membership));
        self.store_snapshot(meta, bytes, batch)
    }

    /// The current snapshot, if any; synchronous.
    fn current_snapshot(&self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let view = self.db.snapshot();
        let Some(meta) = self.read_meta::<SnapshotMeta>(&view, SNAPSHOT_META)? else {
            return Ok(None);
        };
        let data = view
            .get_in(&self.meta, SNAPSHOT_DATA)
            .map_err(|e| sto(|a| StorageIOError::read_snapshot(Some(meta.signature()), a), any(e)))?
            .map(|v| v.to_vec())
            .unwrap_or_default();
        Ok(Some(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) }))
    }
}

// Every engine call below runs on tokio's blocking pool (`codec::blocking`): applies
// and snapshot writes must not stall the runtime workers that run openraft and the
// transport.
impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let sm = self.clone();
        blocking(move || sm.applied_from(&sm.db.snapshot())).await
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let sm = self.clone();
        blocking(move || sm.apply_now(entries)).await
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { sm: self.clone() }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let (sm, meta) = (self.clone(), meta.clone());
        blocking(move || sm.install_now(&meta, &snapshot.into_inner())).await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let sm = self.clone();
        blocking(move || sm.current_snapshot()).await
    }
}

/// Makes snapshot ids unique within a process even when two builds share a clock tick.
static BUILDS: AtomicU64 = AtomicU64::new(0);

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let sm = self.sm.clone();
        blocking(move || build_snapshot_now(&sm)).await
    }
}

/// Builds, stores and returns a snapshot of `sm`; synchronous.
fn build_snapshot_now(sm: &StateMachine) -> Result<Snapshot<TypeConfig>, StorageError> {
    // Everything is read through one engine snapshot, so the data, `applied` and
    // `membership` are of the same instant even while `apply` goes on.
    let view = sm.db.snapshot();
    let (applied, membership) = sm.applied_from(&view)?;
    let mut enc = SnapshotEncoder::new(&applied, &membership);
    for item in view.iter_in(&sm.data) {
        let (k, v) = item.map_err(|e| sto(StorageIOError::read_state_machine, any(e)))?;
        enc.record(&k, &v);
    }
    let bytes = enc.finish();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = BUILDS.fetch_add(1, Ordering::Relaxed);
    let snapshot_id = match &applied {
        Some(l) => format!("{}-{}-{nanos:x}-{n}", l.leader_id, l.index),
        None => format!("none-{nanos:x}-{n}"),
    };
    let meta = SnapshotMeta { last_log_id: applied, last_membership: membership, snapshot_id };
    sm.store_snapshot(&meta, &bytes, WriteBatch::new())?;
    Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(bytes)) })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn apply_one(sm: &StateMachine, req: Request) -> Response {
        let mut batch = WriteBatch::new();
        let resp = apply_request(&sm.data, &mut batch, &mut HashMap::new(), req).unwrap();
        sm.db.write(batch).unwrap();
        resp
    }

    #[test]
    fn incr_by_counts_from_zero_and_refuses_non_integers_and_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), mylsm::Options::default()).unwrap();
        let sm = StateMachine::open(&db).unwrap();
        let incr = |key: &[u8], by| Request::IncrBy { key: key.to_vec(), by };
        assert_eq!(apply_one(&sm, incr(b"n", 5)), Response::Int(5));
        assert_eq!(apply_one(&sm, incr(b"n", -7)), Response::Int(-2));
        assert_eq!(sm.data.get(b"n").unwrap().as_deref(), Some(&b"-2"[..]));
        let set = |value: &[u8]| Request::Set { key: b"n".to_vec(), value: value.to_vec() };
        for bad in [&b"abc"[..], b"", b" 1", b"1.5", b"99999999999999999999"] {
            apply_one(&sm, set(bad));
            assert!(matches!(apply_one(&sm, incr(b"n", 1)), Response::Invalid(_)), "{bad:?}");
            assert_eq!(sm.data.get(b"n").unwrap().as_deref(), Some(bad), "unchanged");
        }
        apply_one(&sm, set(i64::MAX.to_string().as_bytes()));
        assert!(matches!(apply_one(&sm, incr(b"n", 1)), Response::Invalid(_)));
        // Within one batch, an increment sees the requests before it.
        let batch =
            Request::Batch(vec![Request::Del { key: b"m".to_vec() }, incr(b"m", 2), incr(b"m", 3)]);
        let want =
            Response::Batch(vec![Response::Deleted(false), Response::Int(2), Response::Int(5)]);
        assert_eq!(apply_one(&sm, batch), want);
        db.close().unwrap();
    }
}

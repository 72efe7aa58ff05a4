//! Optimistic transactions, serializable by default.
//!
//! A [`Transaction`] reads a snapshot taken when it began, with its own writes laid over
//! it, and buffers its writes. [`Transaction::commit`] validates and writes in one step
//! of the write path: the transaction goes through group commit as a group of its own,
//! and while the write leader holds the log lock (so nothing else commits meanwhile) it
//! checks that nothing written after the snapshot touched what the transaction read
//! (serializable: every key and range it read) or wrote (snapshot isolation); if
//! something did, the commit fails with [`Error::Conflict`] and writes nothing;
//! otherwise its batch gets the next sequence numbers like any other write.
//!
//! Validation asks the data itself, not a log of committed write sets: a key changed
//! since the snapshot has a version (or a covering range tombstone) with a newer
//! seqno, and compaction keeps it, because the transaction's snapshot keeps every
//! version newer than it readable. So writes made outside transactions conflict too,
//! no write set is kept, and nothing needs collecting. Only transactional commits go
//! alone; ordinary writes keep group committing.

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::time::Duration;

use crate::db_iter::owned_bounds;
use crate::engine::tree::Tree;
use crate::keyspace::Keyspace;
mod iter;
mod reads;
mod writes;
pub use iter::TxIter;

use crate::{Db, Error, Result, Snapshot, Value, WriteBatch, WriteOptions};

/// What a commit checks for conflicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Isolation {
    /// Every key and range the transaction read (through the tracked reads) must be
    /// unchanged since its snapshot: the transactions that commit behave as if run one
    /// after another. Forbids write skew and phantoms. The default.
    #[default]
    Serializable,
    /// Only the keys (and ranges) the transaction wrote must be unchanged since its
    /// snapshot: no lost updates, but write skew and phantoms are possible.
    Snapshot,
}

/// How a transaction runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOptions {
    /// What a commit validates. Default: [`Isolation::Serializable`].
    pub isolation: Isolation,
    /// How the commit is made durable. Default: not synced.
    pub write: WriteOptions,
}

/// One key's state in the transaction's own writes.
#[derive(Debug, Clone)]
enum Own {
    Put(Vec<u8>),
    Delete,
    /// Merge operands (oldest first) over the snapshot's value, or over nothing when
    /// `on_nothing` (a delete or range delete of the transaction came before them).
    Merge {
        operands: Vec<Vec<u8>>,
        on_nothing: bool,
    },
}

/// A range the transaction deleted or read, in one keyspace.
pub(crate) type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

pub(crate) fn contains(r: &KeyRange, k: &[u8]) -> bool {
    let lo = match &r.0 {
        Bound::Included(l) => k >= l.as_slice(),
        Bound::Excluded(l) => k > l.as_slice(),
        Bound::Unbounded => true,
    };
    let hi = match &r.1 {
        Bound::Included(h) => k <= h.as_slice(),
        Bound::Excluded(h) => k < h.as_slice(),
        Bound::Unbounded => true,
    };
    lo && hi
}

/// The transaction's state in one keyspace.
#[derive(Debug, Default)]
struct Space {
    own: BTreeMap<Vec<u8>, Own>,
    /// Ranges deleted (their keys in `own` written before the delete are gone from it).
    deleted: Vec<KeyRange>,
    /// Keys read through tracked reads.
    read_keys: Vec<Vec<u8>>,
    read_ranges: Vec<KeyRange>,
}

/// A read-write transaction; see the module docs. It holds no borrow of the [`Db`] and
/// is `Send`, so it can move between threads. Dropping it without committing discards
/// its writes.
pub struct Transaction {
    db: Db,
    snapshot: Snapshot,
    opts: TxOptions,
    /// Per keyspace id.
    spaces: BTreeMap<u32, Space>,
    trees: BTreeMap<u32, Arc<Tree>>,
    /// The writes in order, as they will be committed.
    batch: WriteBatch,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("snapshot", &self.snapshot.seqno())
            .field("writes", &self.batch.len())
            .finish()
    }
}

impl Db {
    /// Begins a serializable transaction (see [`crate::txn`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut tx = db.transaction();
    /// tx.put("k", "v");
    /// assert_eq!(db.get("k")?, None, "not before the commit");
    /// tx.commit()?;
    /// assert_eq!(db.get("k")?.unwrap(), "v");
    /// # Ok(()) }
    /// ```
    pub fn transaction(&self) -> Transaction {
        self.transaction_opt(TxOptions::default())
    }

    /// Begins a transaction with `opts`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let opts = mylsm::TxOptions { isolation: mylsm::Isolation::Snapshot, ..Default::default() };
    /// let mut tx = db.transaction_opt(opts);
    /// tx.get("k")?;
    /// db.put("k", "theirs")?;
    /// tx.put("j", "mine"); // only write-write conflicts count
    /// tx.commit()?;
    /// # Ok(()) }
    /// ```
    pub fn transaction_opt(&self, opts: TxOptions) -> Transaction {
        let mut trees = BTreeMap::new();
        trees.insert(0, Arc::clone(self.default_tree()));
        Transaction {
            db: self.clone(),
            snapshot: self.snapshot(),
            opts,
            spaces: BTreeMap::new(),
            trees,
            batch: WriteBatch::new(),
        }
    }

    /// Runs `f` in a transaction and commits it, retrying on [`Error::Conflict`] up to
    /// 16 times with a randomized, growing pause between tries (from 1 ms up to 64 ms).
    /// Any other error from `f` or the commit ends it. Returns what `f` returned for
    /// the transaction that committed; the last conflict when every try conflicted.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("n", "1")?;
    /// let old = db.run_transaction(|tx| {
    ///     let old = tx.get("n")?;
    ///     tx.put("n", "2");
    ///     Ok(old)
    /// })?;
    /// assert_eq!((old.unwrap(), db.get("n")?.unwrap()), ("1".into(), "2".into()));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The first error `f` returns, which ends the retries; [`Error::Conflict`] if all
    /// 16 tries conflicted; any other error of [`Transaction::commit`].
    pub fn run_transaction<T>(
        &self,
        mut f: impl FnMut(&mut Transaction) -> Result<T>,
    ) -> Result<T> {
        const TRIES: u32 = 16;
        let mut last = None;
        for attempt in 0..TRIES {
            let mut tx = self.transaction();
            let out = f(&mut tx)?;
            match tx.commit() {
                Ok(()) => return Ok(out),
                Err(e @ Error::Conflict { .. }) => {
                    last = Some(e);
                    let cap = 1u64 << attempt.min(6);
                    // Jitter from the clock's low bits: enough to split retrying rivals.
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| u64::from(d.subsec_nanos()));
                    let jitter = nanos % (cap * 1000 + 1);
                    std::thread::sleep(Duration::from_micros(jitter));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(Error::Closed))
    }
}

impl Transaction {
    /// The sequence number of the snapshot the transaction reads.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// let tx = db.transaction();
    /// assert_eq!(tx.snapshot_seqno(), db.snapshot().seqno());
    /// # Ok(()) }
    /// ```
    pub fn snapshot_seqno(&self) -> u64 {
        self.snapshot.seqno()
    }

    fn tree_of(&mut self, ks: Option<&Keyspace>) -> Result<u32> {
        match ks {
            None => Ok(0),
            Some(ks) => {
                ks.check()?;
                self.trees.entry(ks.id()).or_insert_with(|| Arc::clone(ks.tree()));
                Ok(ks.id())
            }
        }
    }

    fn space(&mut self, id: u32) -> &mut Space {
        self.spaces.entry(id).or_default()
    }

    /// Validates and writes the transaction as one atomic batch (see the module docs).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut tx = db.transaction();
    /// tx.get("k")?;
    /// db.put("k", "theirs")?;
    /// tx.put("k", "mine");
    /// assert!(tx.commit().unwrap_err().is_conflict());
    /// assert_eq!(db.get("k")?.unwrap(), "theirs");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Conflict`] if another commit changed what the transaction read
    /// (serializable) or wrote (snapshot isolation) after its snapshot; nothing is
    /// written then. Any error [`Db::write_opt`] returns.
    pub fn commit(self) -> Result<()> {
        let Transaction { db, snapshot, opts, spaces, trees, batch } = self;
        if batch.is_empty() {
            // Nothing to write, and a read-only transaction read one consistent snapshot.
            return Ok(());
        }
        let seqno = snapshot.seqno();
        let mut checks: Vec<(Arc<Tree>, Check)> = Vec::new();
        for (id, space) in spaces {
            let tree = Arc::clone(&trees[&id]);
            let check = match opts.isolation {
                Isolation::Serializable => {
                    Check { keys: space.read_keys, ranges: space.read_ranges }
                }
                Isolation::Snapshot => {
                    Check { keys: space.own.into_keys().collect(), ranges: space.deleted }
                }
            };
            checks.push((tree, check));
        }
        let validate = move || -> Result<()> {
            for (tree, check) in &checks {
                check.run(tree, seqno)?;
            }
            Ok(())
        };
        let result = db.write_validated(batch, &opts.write, Box::new(validate));
        // The snapshot stays registered until the check ran, so every version newer
        // than it is still there to be found.
        drop(snapshot);
        result
    }

    /// Discards the transaction's writes (as dropping it does).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut tx = db.transaction();
    /// tx.put("k", "v");
    /// tx.rollback();
    /// assert_eq!(db.get("k")?, None);
    /// # Ok(()) }
    /// ```
    pub fn rollback(self) {}
}

/// What a commit checks in one keyspace: these keys and ranges must hold no version
/// (and no range tombstone) newer than the snapshot.
#[derive(Debug)]
struct Check {
    keys: Vec<Vec<u8>>,
    ranges: Vec<KeyRange>,
}

impl Check {
    fn run(&self, tree: &Tree, seqno: u64) -> Result<()> {
        let view = tree.current_view();
        for k in &self.keys {
            if view.newest_seqno(k)? > seqno {
                return Err(Error::Conflict { keyspace: tree.name().to_string(), key: k.clone() });
            }
        }
        for (lo, hi) in &self.ranges {
            if let Some(k) = view.changed_in_range(lo, hi, seqno)? {
                return Err(Error::Conflict { keyspace: tree.name().to_string(), key: k });
            }
        }
        Ok(())
    }
}

//! Where a command reads and writes: straight to the engine, or into the one engine
//! transaction of the EXEC it runs in ([`Target`]), and the reads that follow it
//! ([`View`], [`Rows`]).
//!
//! An EXEC runs its commands one after another through one `mylsm::Transaction`
//! ([`ExecTx`]): each command's writes join the transaction when the command ends (as
//! they would join the engine), the next command reads them back over the
//! transaction's snapshot, and the transaction commits once, after the last command,
//! as one engine batch. A crash or a failed write therefore applies all of an EXEC or
//! none of it. EXEC holds `exec_lock` exclusively, and every other writer (commands,
//! the sweeper) holds it shared, so nothing commits between the snapshot and the
//! commit, and the commit cannot conflict; snapshot isolation is asked for all the
//! same, since it checks less (the written keys) than serializable (every read).

use std::cell::{Cell, RefCell};
use std::ops::RangeBounds;

use mylsm::{Db, Isolation, Keyspace, Transaction, TxOptions, Value, WriteOptions};

/// The open transaction of one EXEC. Lives on the stack of the thread that runs the
/// EXEC; `RefCell` because every command of it reads and writes through a shared
/// reference.
#[derive(Debug)]
pub struct ExecTx {
    txn: RefCell<Transaction>,
    wrote: Cell<bool>,
}

impl ExecTx {
    /// Begins the transaction of an EXEC; its commit is synced if `sync`.
    pub fn begin(db: &Db, sync: bool) -> ExecTx {
        let opts = TxOptions {
            isolation: Isolation::Snapshot,
            write: WriteOptions::default().with_sync(sync),
        };
        ExecTx { txn: RefCell::new(db.transaction_opt(opts)), wrote: Cell::new(false) }
    }

    /// Whether any command of the EXEC wrote.
    pub fn wrote(&self) -> bool {
        self.wrote.get()
    }

    /// Adds one command's writes, in order.
    pub fn apply(&self, ks: &Keyspace, ops: Vec<Op>) -> mylsm::Result<()> {
        let mut txn = self.txn.borrow_mut();
        for op in ops {
            match op {
                Op::Put(k, v) => txn.put_in(ks, k, v)?,
                Op::Delete(k) => txn.delete_in(ks, k)?,
                Op::DeleteAll => txn.delete_range_in::<&[u8], _>(ks, ..)?,
            }
            self.wrote.set(true);
        }
        Ok(())
    }

    /// Commits every command's writes as one engine batch.
    pub fn commit(self) -> mylsm::Result<()> {
        self.txn.into_inner().commit()
    }
}

/// One write of a command inside EXEC, kept until the command ends.
#[derive(Debug)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// Every row of the keyspace (FLUSHDB).
    DeleteAll,
}

/// Where a command's reads come from and its writes go.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The engine: each command commits its own batch.
    Engine,
    /// The transaction of the EXEC the command runs in.
    Exec(&'a ExecTx),
}

/// Reads of one database as a command's [`Target`] sees it.
#[derive(Debug, Clone)]
pub struct View<'a> {
    pub ks: Keyspace,
    pub target: Target<'a>,
}

impl View<'_> {
    pub fn get(&self, row: impl AsRef<[u8]>) -> mylsm::Result<Option<Value>> {
        match self.target {
            Target::Engine => self.ks.get(row),
            Target::Exec(x) => x.txn.borrow_mut().get_untracked_in(&self.ks, row),
        }
    }

    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Rows {
        match self.target {
            Target::Engine => Rows::Engine(self.ks.range(range)),
            Target::Exec(x) => Rows::Exec(Box::new(x.txn.borrow_mut().range_in(&self.ks, range))),
        }
    }

    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Rows {
        match self.target {
            Target::Engine => Rows::Engine(self.ks.prefix(prefix)),
            Target::Exec(x) => Rows::Exec(Box::new(x.txn.borrow_mut().prefix_in(&self.ks, prefix))),
        }
    }
}

/// Rows in key order (both directions), from the engine or from an EXEC's transaction.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "the engine's iterator, the common case, stays unboxed as it was before EXEC had a variant"
)]
pub enum Rows {
    Engine(mylsm::Iter),
    /// Boxed, so that the engine variant sets the size.
    Exec(Box<mylsm::TxIter>),
}

impl Iterator for Rows {
    type Item = mylsm::Result<(mylsm::Key, Value)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Rows::Engine(it) => it.next(),
            Rows::Exec(it) => it.next(),
        }
    }
}

impl DoubleEndedIterator for Rows {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Rows::Engine(it) => it.next_back(),
            Rows::Exec(it) => it.next_back(),
        }
    }
}

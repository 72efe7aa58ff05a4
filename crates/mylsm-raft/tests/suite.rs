//! openraft's storage conformance suite (`openraft::testing::Suite`, 35 cases) run on
//! the stores, on a real directory and on the in-memory file system.

#![expect(clippy::result_large_err, reason = "openraft's Suite returns its StorageError")]

use std::sync::Arc;

use mylsm::fs::MemFs;
use mylsm::{Db, Options};
use mylsm_raft::{LogStore, StateMachine, StorageError, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{AnyError, StorageIOError};

/// Small memtables and two background jobs (the least allowed): the suite opens 40-odd databases.
fn small(options: Options) -> Options {
    Options { write_buffer_size: 256 << 10, max_background_jobs: 2, ..options }
}

fn open_stores(db: &Db) -> Result<(LogStore, StateMachine), StorageError> {
    let fail = |e: mylsm::Error| StorageError::from(StorageIOError::write(AnyError::new(&e)));
    Ok((LogStore::open(db).map_err(fail)?, StateMachine::open(db).map_err(fail)?))
}

/// Each store on a fresh temporary directory, removed when the case ends.
struct OnDisk;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for OnDisk {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(dir.path(), small(Options::default()))
            .map_err(|e| StorageIOError::write(AnyError::new(&e)))?;
        let (log, sm) = open_stores(&db)?;
        Ok((dir, log, sm))
    }
}

/// Each store on a fresh in-memory file system.
struct InMemory;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, ()> for InMemory {
    async fn build(&self) -> Result<((), LogStore, StateMachine), StorageError> {
        let options = small(Options { fs: Arc::new(MemFs::new()), ..Options::default() });
        let db =
            Db::open("/node", options).map_err(|e| StorageIOError::write(AnyError::new(&e)))?;
        let (log, sm) = open_stores(&db)?;
        Ok(((), log, sm))
    }
}

#[test]
fn openraft_suite_passes_on_disk() -> Result<(), StorageError> {
    Suite::test_all(OnDisk)
}

#[test]
fn openraft_suite_passes_on_memfs() -> Result<(), StorageError> {
    Suite::test_all(InMemory)
}

//! `TableCache`: a bounded cache of open tables (`max_open_files`), so a lookup does not
//! reopen and re-verify a table's footer, index and filter every time.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cache::BlockCache;
use crate::filename;
use crate::fs::FileSystem;
use crate::sstable::FileMeta;
use crate::sstable::{FilterCounters, Table};
use crate::Result;

/// Open tables keyed by file number, shared by every reader.
pub(crate) struct TableCache {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    open: quick_cache::sync::Cache<u64, Arc<Table>>,
    blocks: Arc<BlockCache>,
    /// What the tables' bloom filters did for lookups through this cache.
    pub filter: FilterCounters,
}

impl std::fmt::Debug for TableCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableCache").field("open", &self.open.len()).finish_non_exhaustive()
    }
}

impl TableCache {
    pub fn new(
        fs: Arc<dyn FileSystem>,
        dir: PathBuf,
        max_open_files: usize,
        blocks: Arc<BlockCache>,
    ) -> Self {
        TableCache {
            fs,
            dir,
            open: quick_cache::sync::Cache::new(max_open_files.max(1)),
            blocks,
            filter: FilterCounters::default(),
        }
    }

    /// The open table for `meta`, opening (and verifying) it on a miss.
    pub fn get(&self, meta: &FileMeta) -> Result<Arc<Table>> {
        self.open.get_or_insert_with(&meta.number, || {
            let path = filename::table_file(&self.dir, meta.number);
            let file = self.fs.open(&path)?;
            let table = Table::open(file, path, meta.number, meta.size, Arc::clone(&self.blocks))?;
            Ok(Arc::new(match meta.global_seqno {
                0 => table,
                g => table.with_global_seqno(g),
            }))
        })
    }

    /// Forgets table `number` (its file is about to be deleted).
    pub fn evict(&self, number: u64) {
        self.open.remove(&number);
    }

    /// The block cache the tables share.
    pub fn blocks(&self) -> &Arc<BlockCache> {
        &self.blocks
    }
}

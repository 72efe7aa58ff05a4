//! Writing a memtable out as one table file: what a flush job does for each immutable
//! memtable, and what open does with the memtable it replayed from the logs.

use std::path::Path;

use crate::filename;
use crate::fs::FileSystem;
use crate::iter::InternalIterator;
use crate::memtable::MemTable;
use crate::sstable::{TableBuilder, TableOptions};
use crate::version::FileMeta;
use crate::Result;

/// Writes `mem` as table `number` of `dir`; `None` if it holds nothing. The table and
/// its directory entry are durable on return.
pub(crate) fn write_table(
    fs: &dyn FileSystem,
    dir: &Path,
    number: u64,
    opts: &TableOptions,
    mem: &MemTable,
) -> Result<Option<FileMeta>> {
    let mut it = mem.iter();
    it.seek_to_first();
    if !it.valid() {
        return Ok(None);
    }
    let path = filename::table_file(dir, number);
    let mut builder = TableBuilder::new(fs.create(&path)?, path.clone(), opts.clone());
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
            let _ = fs.remove_file(&path);
            return Err(e);
        }
    };
    fs.sync_dir(dir)?;
    Ok(Some(FileMeta::from_properties(number, props)))
}

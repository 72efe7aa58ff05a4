//! Writing a memtable out as one table file: what a flush job does for each immutable
//! memtable, and what open does with the memtable it replayed from the logs.

use std::path::Path;

use crate::filename;
use crate::fs::FileSystem;
use crate::iter::InternalIterator;
use crate::memtable::MemTable;
use crate::options::{KeyspaceOptions, TreeOptions};
use crate::sstable::{KeyspaceTag, TableBuilder, TableOptions};
use crate::version::FileMeta;
use crate::Result;

/// Writes `mem` as table `number` of `dir`, recording that it belongs to `keyspace`
/// (see [`keyspace_tag`]); `None` if it holds nothing. The table and its directory
/// entry are durable on return.
///
/// A range tombstone without an end is cut at `limit`, the largest user key the tree
/// holds (memtables and tables; `None`: none): everything it can delete was written
/// before it and is in the tree now, so nothing at or past the limit is lost, and no
/// table bound has to stand for "no end". A tombstone that then holds no key is
/// dropped.
pub(crate) fn write_table(
    fs: &dyn FileSystem,
    dir: &Path,
    number: u64,
    opts: &TableOptions,
    mem: &MemTable,
    limit: Option<Vec<u8>>,
    keyspace: Option<&KeyspaceTag>,
) -> Result<Option<FileMeta>> {
    let mut it = mem.iter();
    it.seek_to_first();
    let tombstones = mem.range_tombstones().map(|t| {
        // Past the largest key: `limit‖0x00` ends just after it.
        let end = limit.map(|mut l| {
            l.push(0);
            l
        });
        crate::range_del::Fragments::new(t.tombstones().filter_map(|mut ts| {
            if ts.end.is_none() {
                ts.end = Some(end.clone()?);
            }
            Some(ts)
        }))
    });
    let tombstones = tombstones.filter(|t| !t.is_empty());
    if !it.valid() && tombstones.is_none() {
        return Ok(None);
    }
    let path = filename::table_file(dir, number);
    let mut builder = TableBuilder::new(fs.create(&path)?, path.clone(), opts.clone());
    builder.set_keyspace(keyspace);
    if let Some(t) = tombstones {
        builder.set_range_tombstones(t);
    }
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

/// What the tables of keyspace `id` (named `name`, tuned by `opts`) record about it,
/// so that `repair` can put them back in their keyspace when the manifest is lost;
/// `None` for the default keyspace, whose tables record nothing.
pub(crate) fn keyspace_tag(id: u32, name: &str, opts: &TreeOptions) -> Option<KeyspaceTag> {
    if id == 0 {
        return None;
    }
    let options = KeyspaceOptions {
        write_buffer_size: opts.write_buffer_size,
        block_size: opts.table.block_size,
        bloom_bits_per_key: opts.table.bloom_bits_per_key,
        compression: opts.table.compression,
        target_file_size: opts.compaction.target_file_size,
        merge_operator: opts.merge.clone(),
        max_merge_operands: opts.max_merge_operands,
    };
    Some(KeyspaceTag { id, name: name.to_string(), options: options.encode() })
}

/// The largest user key in `version`'s tables and in `mems` (a table bounded by a
/// tombstone's end sentinel counts that end, which is at least its largest key).
pub(crate) fn max_user_key<'a>(
    version: &crate::version::Version,
    mems: impl IntoIterator<Item = &'a MemTable>,
) -> Option<Vec<u8>> {
    let mut max: Option<Vec<u8>> = None;
    let mut note = |k: &[u8]| {
        if max.as_deref().is_none_or(|m| k > m) {
            max = Some(k.to_vec());
        }
    };
    for (_, f) in version.files() {
        note(crate::key::user_key(&f.largest));
    }
    for mem in mems {
        if let Some(k) = mem.last_user_key() {
            note(&k);
        }
        if let Some(t) = mem.range_tombstones() {
            for ts in t.tombstones() {
                note(&ts.start);
                if let Some(e) = &ts.end {
                    note(e);
                }
            }
        }
    }
    max
}

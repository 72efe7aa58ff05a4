//! `FileMeta`: what the manifest records about one table file, and what the table
//! cache, iterators and compaction hold to keep the file alive.

/// What the manifest knows about one table file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The table's file number (`NNNNNN.sst`).
    pub number: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Smallest and largest internal keys in the table.
    pub smallest: Vec<u8>,
    /// (See `smallest`.)
    pub largest: Vec<u8>,
    /// Smallest and largest seqnos in the table (an ingested table: its global seqno).
    pub smallest_seqno: u64,
    /// (See `smallest_seqno`.)
    pub largest_seqno: u64,
    /// Whether the table holds range tombstones.
    pub has_range_dels: bool,
    /// When every entry of the table is an expiring value: the latest expiry
    /// (milliseconds since the Unix epoch), after which the table holds nothing live.
    /// 0 otherwise.
    pub expires_by: u64,
    /// For an ingested table: the sequence number every entry is read at (its file
    /// holds them at 0; `docs/ingest.md`). 0 for every other table.
    pub global_seqno: u64,
    /// Entries in the table, and how many of them are deletes (point deletes and range
    /// tombstones): a hint for compaction scoring, which counts a table full of
    /// deletes as bigger than its bytes (`compensated_size`). 0 and 0 when unknown
    /// (tables from manifests before the hint).
    pub num_entries: u64,
    /// (See `num_entries`.)
    pub num_deletes: u64,
}

impl FileMeta {
    /// The size compaction scoring counts (RocksDB's compensated file size): the bytes,
    /// plus twice `avg_entry` (the average entry size of the whole tree) for each
    /// delete, since a delete stands for an older entry it will remove once compacted
    /// down. A level of tombstones then asks for compaction like the data it hides, so
    /// deleted space is given back instead of waiting under a level of small entries.
    pub fn compensated_size(&self, avg_entry: u64) -> u64 {
        self.size.saturating_add(self.num_deletes.saturating_mul(avg_entry).saturating_mul(2))
    }

    /// The metadata of table `number`, as its builder reported it when it finished.
    pub(crate) fn from_properties(number: u64, props: super::TableProperties) -> Self {
        FileMeta {
            number,
            size: props.file_size,
            smallest: props.smallest_key,
            largest: props.largest_key,
            smallest_seqno: props.smallest_seqno,
            largest_seqno: props.largest_seqno,
            has_range_dels: props.num_range_deletes > 0,
            expires_by: if props.num_unexpiring == 0 && props.num_range_deletes == 0 {
                props.max_expiry
            } else {
                0
            },
            global_seqno: 0,
            num_entries: props.num_entries + props.num_range_deletes,
            num_deletes: props.num_deletes + props.num_range_deletes,
        }
    }
}

//! Compaction filters: let the application drop or rewrite entries as compaction
//! passes over them (expiring data by its own rules, removing what a schema change made
//! obsolete, rewriting old encodings).
//!
//! A [`CompactionFilterFactory`] set in [`crate::Options::compaction_filter`] makes one
//! [`CompactionFilter`] per compaction (it may decline, per keyspace or per level). The
//! filter sees only the newest version of a key, only when it is a value (never a
//! tombstone; merge operands only after they are merged into a value), and only when no
//! live snapshot can see that version, so no snapshot ever notices it. `Remove` writes
//! a tombstone in the entry's place, so older versions never reappear.
//!
//! A snapshot taken while a filtering compaction runs keeps reading the tables as they
//! were when it was taken, so even a filter decision made on a version that snapshot
//! can see changes nothing it reads.

/// What a compaction filter decides for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Keep the entry as it is.
    Keep,
    /// Delete the key (a tombstone takes the entry's place).
    Remove,
    /// Keep the key with this value instead (an expiring value keeps its expiry).
    ChangeValue(Vec<u8>),
}

/// Where a compaction filter runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterContext {
    /// The keyspace's name (`"default"` for the default keyspace).
    pub keyspace: String,
    /// The level the compaction writes.
    pub output_level: usize,
    /// Whether no older data lies below the compaction's output.
    pub bottommost: bool,
    /// Whether the compaction was asked for (`compact_range`) rather than scheduled.
    pub manual: bool,
}

/// Decides, entry by entry, what a compaction keeps. One filter serves one compaction,
/// on one thread, so it may keep state across calls.
pub trait CompactionFilter: Send {
    /// The decision for the newest version of `key`, whose value is `value`.
    fn filter(&mut self, key: &[u8], value: &[u8]) -> Decision;
}

/// Makes the filter for each compaction.
pub trait CompactionFilterFactory: Send + Sync + 'static {
    /// A name for logs and statistics.
    fn name(&self) -> &str;
    /// The filter for a compaction in `ctx`, or `None` to filter nothing there.
    fn create(&self, ctx: &FilterContext) -> Option<Box<dyn CompactionFilter>>;
}

impl std::fmt::Debug for dyn CompactionFilterFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CompactionFilterFactory").field(&self.name()).finish()
    }
}

/// A factory from a closure, for filters without state:
/// `filter::from_fn("drop-tmp", |_key, value| ...)`.
pub fn from_fn<F>(name: &str, f: F) -> std::sync::Arc<dyn CompactionFilterFactory>
where
    F: Fn(&[u8], &[u8]) -> Decision + Send + Sync + Clone + 'static,
{
    std::sync::Arc::new(FnFactory { name: name.to_string(), f })
}

struct FnFactory<F> {
    name: String,
    f: F,
}

struct FnFilter<F>(F);

impl<F: Fn(&[u8], &[u8]) -> Decision + Send> CompactionFilter for FnFilter<F> {
    fn filter(&mut self, key: &[u8], value: &[u8]) -> Decision {
        (self.0)(key, value)
    }
}

impl<F> CompactionFilterFactory for FnFactory<F>
where
    F: Fn(&[u8], &[u8]) -> Decision + Send + Sync + Clone + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn create(&self, _ctx: &FilterContext) -> Option<Box<dyn CompactionFilter>> {
        Some(Box::new(FnFilter(self.f.clone())))
    }
}

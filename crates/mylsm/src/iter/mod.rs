//! The internal iterator contract every sorted source of entries implements, and the
//! heap merge of many such sources.
//!
//! An internal iterator walks internal keys (user key ‖ seqno ‖ kind) in
//! [`crate::key::InternalKeyComparator`] order, all versions included. The DB
//! iterator (`crate::db_iter::Iter`) turns that into the user's view at one sequence number.

#[cfg(test)]
pub(crate) mod conformance;
pub(crate) mod merge;

use crate::Result;

/// A cursor over internal entries (LevelDB's `Iterator`). It starts unpositioned;
/// `key` and `value` may only be called while `valid()`. An error (a damaged block,
/// say) makes the cursor invalid and is reported by `status`.
pub(crate) trait InternalIterator: Send {
    fn valid(&self) -> bool;
    /// Positions at the first entry at or after `target`.
    fn seek(&mut self, target: &[u8]);
    /// Positions at the last entry at or before `target`.
    fn seek_for_prev(&mut self, target: &[u8]);
    fn seek_to_first(&mut self);
    fn seek_to_last(&mut self);
    fn next(&mut self);
    fn prev(&mut self);
    fn key(&self) -> &[u8];
    fn value(&self) -> &[u8];
    /// The current value as a shared view of the memory it lies in, when the source
    /// can give one without a copy (a table block); `None` otherwise.
    fn value_view(&self) -> Option<crate::Value> {
        None
    }
    /// The first error met, if any.
    fn status(&self) -> Result<()>;
}

//! Expiring values and the clock that decides when they expire.
//!
//! [`crate::Db::put_with_ttl`] writes a `PutExpiring` entry whose value is the expiry
//! time (fixed64 little-endian, milliseconds since the Unix epoch) followed by the
//! user's value. A read at time `now` treats an entry with `expiry <= now` as a delete,
//! so it hides older versions too. A [`crate::Snapshot`] fixes its `now` when it is
//! taken, so its reads repeat. Compaction rewrites an expired entry as a tombstone once
//! every reader that can see it would find it expired (it uses the oldest `now` among
//! the live snapshots), and files whose entries have all expired are compacted on a
//! timer rather than waiting for ordinary compaction to reach them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where mylsm reads the time for expiring values. Tests inject a [`ManualClock`].
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock reading `millis`.
    pub fn new(millis: u64) -> Arc<ManualClock> {
        Arc::new(ManualClock(AtomicU64::new(millis)))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Sets the clock to `millis`.
    pub fn set(&self, millis: u64) {
        self.0.store(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Length of the expiry prefix of a `PutExpiring` value.
pub(crate) const EXPIRY_LEN: usize = 8;

/// The stored value of an expiring put.
pub(crate) fn encode(expiry: u64, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(EXPIRY_LEN + value.len());
    v.extend_from_slice(&expiry.to_le_bytes());
    v.extend_from_slice(value);
    v
}

/// Splits a stored expiring value into (expiry, user value); `None` if it is too short.
pub(crate) fn decode(stored: &[u8]) -> Option<(u64, &[u8])> {
    let head = stored.get(..EXPIRY_LEN)?;
    Some((crate::coding::fixed64(head), &stored[EXPIRY_LEN..]))
}

/// The expiry time of a value written at `now` that lives for `ttl`.
pub(crate) fn expiry_after(now: u64, ttl: Duration) -> u64 {
    now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
}

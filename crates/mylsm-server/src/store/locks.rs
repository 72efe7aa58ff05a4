//! Striped key locks and the per-stripe modification counters WATCH compares.
//!
//! A command that reads and then writes (INCR, APPEND, LPUSH, ...) holds the stripes
//! of all its keys for the whole read-modify-write, so such commands are atomic with
//! respect to each other. Stripes are taken in ascending index order, each once, so
//! two multi-key commands cannot deadlock. A write command bumps the counter of each of
//! its stripes while it still holds them; WATCH remembers the counters, and EXEC aborts
//! if any moved. Two keys that share a stripe share a counter, so a write to an
//! unrelated key can abort a transaction (one chance in [`STRIPES`] per such write);
//! Redis itself never does this, but clients must handle aborts anyway.
//! (Kvrocks' `src/common/lock_manager.h` is the model for the striping.)

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The number of stripes: a power of two.
pub const STRIPES: usize = 4096;

#[derive(Debug)]
pub struct Locks {
    stripes: Vec<Mutex<()>>,
    counters: Vec<AtomicU64>,
}

impl Default for Locks {
    fn default() -> Self {
        Locks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            counters: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The stripes a command holds; dropping it releases them.
#[derive(Debug)]
pub struct Held<'a> {
    pub stripes: Vec<usize>,
    _guards: Vec<MutexGuard<'a, ()>>,
}

impl Locks {
    /// The stripe of `key` in database `db`.
    pub fn stripe(db: usize, key: &[u8]) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        db.hash(&mut h);
        key.hash(&mut h);
        (h.finish() as usize) & (STRIPES - 1)
    }

    /// Locks the stripes of `keys` in database `db`.
    pub fn lock<'a>(&'a self, db: usize, keys: &[&[u8]]) -> Held<'a> {
        self.lock_stripes(keys.iter().map(|k| Self::stripe(db, k)).collect())
    }

    /// Locks `stripes` (in any order, repeats allowed).
    pub fn lock_stripes(&self, mut stripes: Vec<usize>) -> Held<'_> {
        stripes.sort_unstable();
        stripes.dedup();
        // A panic while holding a stripe poisons it; the data it guards is in the
        // engine, which a panic cannot leave half written, so the lock stays usable.
        let guards = stripes
            .iter()
            .map(|&s| self.stripes[s].lock().unwrap_or_else(|p| p.into_inner()))
            .collect();
        Held { stripes, _guards: guards }
    }

    /// Marks the stripes as modified (the caller holds them).
    pub fn touch(&self, stripes: &[usize]) {
        for &s in stripes {
            self.counters[s].fetch_add(1, Ordering::Release);
        }
    }

    pub fn counter(&self, stripe: usize) -> u64 {
        self.counters[stripe].load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_lock_once() {
        let locks = Locks::default();
        let held = locks.lock(0, &[b"a", b"a", b"b"]);
        assert!(held.stripes.len() <= 2);
        assert!(held.stripes.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn touching_moves_the_counter() {
        let locks = Locks::default();
        let s = Locks::stripe(3, b"k");
        let before = locks.counter(s);
        locks.touch(&[s]);
        assert_eq!(locks.counter(s), before + 1);
    }
}

//! The expiry sweeper: deletes keys whose time has passed even if no command touches
//! them again, so their rows do not stay on disk forever.
//!
//! Reads already treat an expired key as absent; the sweeper only reclaims space. It
//! walks each database's metadata rows a page at a time from a remembered position
//! (one full pass over the keys takes `keys / SWEEP_PAGE` steps), and deletes each
//! expired key it finds under that key's stripe lock and `exec_lock`, as a command
//! would, bumping the stripe's WATCH counter as Redis touches a watched key that
//! expires. (Redis samples keys that carry a TTL instead; without a TTL index we walk
//! them all, slowly.)

use super::{Store, DATABASES};

/// Metadata rows examined per step.
pub const SWEEP_PAGE: usize = 1000;

/// Expired keys of a page, and the key the next page starts at (`None`: the end).
type ExpiredPage = (Vec<Vec<u8>>, Option<Vec<u8>>);

/// Where the sweep resumes: a database and a key in it.
#[derive(Debug, Default)]
pub struct SweepCursor {
    db: usize,
    next: Vec<u8>,
}

impl Store {
    /// One step of the sweep: examines up to [`SWEEP_PAGE`] keys from `cursor` on and
    /// deletes the expired ones; returns how many it deleted.
    pub fn sweep_step(&self, cursor: &mut SweepCursor) -> mylsm::Result<usize> {
        // Databases never written have no keyspace: skip them in the same step.
        for _ in 0..DATABASES {
            if self.keyspace(cursor.db).is_some() {
                break;
            }
            cursor.db = (cursor.db + 1) % DATABASES;
            cursor.next.clear();
        }
        let now = self.now_ms();
        let db = cursor.db;
        // Expired keys come back from `scan` filtered out, so read the raw page here.
        let (expired, next) = self.expired_page(db, &cursor.next, SWEEP_PAGE, now)?;
        match next {
            Some(k) => cursor.next = k,
            None => {
                cursor.db = (db + 1) % DATABASES;
                cursor.next.clear();
            }
        }
        let mut deleted = 0;
        for key in expired {
            let _shared = self.exec_lock.read().unwrap_or_else(|p| p.into_inner());
            let held = self.locks.lock(db, &[&key]);
            let mut tx = self.tx(super::Target::Engine, db, self.now_ms())?;
            // `Tx::meta` deletes a key it finds expired (and reads it as absent).
            if tx.meta(&key)?.is_none() && !tx.is_empty() {
                tx.commit()?;
                self.locks.touch(&held.stripes);
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// The expired keys among up to `limit` metadata rows of `db` from `start` on.
    fn expired_page(
        &self,
        db: usize,
        start: &[u8],
        limit: usize,
        now: u64,
    ) -> mylsm::Result<ExpiredPage> {
        let Some(ks) = self.keyspace(db) else { return Ok((Vec::new(), None)) };
        let mut out = Vec::new();
        for (seen, item) in ks.range(super::meta::meta_key(start)..).enumerate() {
            let (k, v) = item?;
            if !k.starts_with(super::meta::META_PREFIX) {
                return Ok((out, None));
            }
            let user = k[super::meta::META_PREFIX.len()..].to_vec();
            if seen == limit {
                return Ok((out, Some(user)));
            }
            if super::meta::Meta::decode(&v).is_some_and(|m| m.is_expired(now)) {
                out.push(user);
            }
        }
        Ok((out, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweeper_deletes_expired_keys_and_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let db = mylsm::Db::open(dir.path(), mylsm::Options::default()).unwrap();
        let store = Store::new(db, false);
        let now = store.now_ms();
        let mut tx = store.tx(crate::store::Target::Engine, 2, now).unwrap();
        for i in 0..2500u32 {
            let at = if i % 2 == 0 { Some(now + 1000) } else { None };
            tx.put_meta(
                format!("k{i}").as_bytes(),
                &super::super::meta::Meta::string(b"v".to_vec(), at),
            );
        }
        tx.commit().unwrap();
        store.advance_clock(5000);
        let mut cursor = SweepCursor::default();
        let mut deleted = 0;
        for _ in 0..4 {
            deleted += store.sweep_step(&mut cursor).unwrap();
        }
        assert_eq!(deleted, 1250);
        let ks = store.keyspace(2).unwrap();
        assert_eq!(ks.prefix(super::super::meta::META_PREFIX).count(), 1250);
    }
}

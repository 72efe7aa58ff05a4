//! mylsm behind the benchmark's `Engine` trait: one keyspace, or keys spread over several.

use mylsm::{Db, Keyspace, KeyspaceOptions, WriteBatch, WriteOptions};

use crate::engine::{Engine, EngineConfig, Entry};

/// An open mylsm database.
#[derive(Debug, Clone)]
pub struct MylsmEngine {
    pub db: Db,
}

impl MylsmEngine {
    /// mylsm's options for `config`; everything else stays at the engine's defaults.
    pub fn options(config: &EngineConfig) -> mylsm::Options {
        mylsm::Options {
            write_buffer_size: config.memtable_bytes,
            block_cache_bytes: config.cache_bytes,
            compression: config.compression,
            bloom_bits_per_key: config.bloom_bits_per_key,
            max_background_jobs: config.background_jobs,
            // For mergerandom's counters.
            merge_operator: Some(std::sync::Arc::new(mylsm::merge::U64Add)),
            ..mylsm::Options::default()
        }
    }
}

impl Engine for MylsmEngine {
    type Error = mylsm::Error;

    fn write(&self, entries: &[Entry<'_>], sync: bool) -> mylsm::Result<()> {
        let mut batch = WriteBatch::new();
        for e in entries {
            match e.value {
                Some(v) => batch.put(e.key, v),
                None => batch.delete(e.key),
            }
        }
        self.db.write_opt(batch, &WriteOptions::default().with_sync(sync))
    }

    fn get(&self, key: &[u8]) -> mylsm::Result<Option<usize>> {
        Ok(self.db.get(key)?.map(|v| v.len()))
    }

    fn delete_range(&self, start: &[u8], end: &[u8]) -> mylsm::Result<bool> {
        self.db.delete_range(start..end)?;
        Ok(true)
    }

    fn merge_add(&self, key: &[u8], n: u64) -> mylsm::Result<bool> {
        self.db.merge(key, n.to_le_bytes())?;
        Ok(true)
    }

    fn txn_swap(&self, a: &[u8], b: &[u8]) -> mylsm::Result<Option<bool>> {
        let mut tx = self.db.transaction();
        let va = tx.get(a)?.map_or_else(|| a.to_vec(), |v| v.to_vec());
        let vb = tx.get(b)?.map_or_else(|| a.to_vec(), |v| v.to_vec());
        tx.put(a, vb);
        tx.put(b, va);
        match tx.commit() {
            Ok(()) => Ok(Some(true)),
            Err(mylsm::Error::Conflict { .. }) => Ok(Some(false)),
            Err(e) => Err(e),
        }
    }

    fn update_add(&self, key: &[u8], n: u64) -> mylsm::Result<bool> {
        let old = self.db.get(key)?.and_then(|v| <[u8; 8]>::try_from(&v[..]).ok());
        let sum = old.map_or(0, u64::from_le_bytes).wrapping_add(n);
        self.db.put(key, sum.to_le_bytes())?;
        Ok(true)
    }

    fn seek(
        &self,
        key: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> mylsm::Result<()> {
        // A new iterator per seek, as db_bench does: its creation (pinning the current
        // version) is part of what a short range scan costs.
        let mut iter = self.db.iter();
        iter.seek(key);
        for entry in iter.take(limit) {
            let (k, v) = entry?;
            visit(&k, &v);
        }
        Ok(())
    }

    fn scan(&self, reverse: bool, visit: &mut dyn FnMut(&[u8], &[u8])) -> mylsm::Result<()> {
        let mut iter = self.db.iter();
        loop {
            let entry = if reverse { iter.next_back() } else { iter.next() };
            let Some(entry) = entry else { return Ok(()) };
            let (k, v) = entry?;
            visit(&k, &v);
        }
    }

    fn settle(&self) -> mylsm::Result<()> {
        self.db.wait_for_compactions()
    }
}

/// An open mylsm database whose keys are spread over keyspaces `bench-0` to
/// `bench-{N-1}`: key number `i` lives in keyspace `i % N`, so that the workloads
/// exercise N trees sharing one WAL, one write path and one block cache.
///
/// The key number is read back from the key's bytes, which the benchmark spells as
/// zero-padded decimal digits (`gen::KeyFormat`); `readmissing`'s keys, with a dot
/// appended, go to the keyspace of the key they sort next to. A batch spanning several
/// keyspaces is written atomically, as one batch. Scans visit the keyspaces one after
/// the other, each in key order, and a seek reads on within the key's keyspace only.
/// Every keyspace gets the whole `EngineConfig::memtable_bytes`, so the memtables may
/// take N times the memory of one.
#[derive(Debug, Clone)]
pub struct MylsmKeyspacesEngine {
    pub db: Db,
    keyspaces: Vec<Keyspace>,
}

impl MylsmKeyspacesEngine {
    /// Spreads keys over `n` keyspaces of `db` (at least one), creating those missing
    /// with the settings of `options`.
    pub fn open(db: Db, options: &mylsm::Options, n: usize) -> mylsm::Result<Self> {
        let keyspaces = (0..n.max(1))
            .map(|i| {
                db.keyspace_or_create(&format!("bench-{i}"), || KeyspaceOptions::from(options))
            })
            .collect::<mylsm::Result<_>>()?;
        Ok(MylsmKeyspacesEngine { db, keyspaces })
    }

    /// The keyspaces the keys are spread over, `bench-0` first.
    pub fn keyspaces(&self) -> &[Keyspace] {
        &self.keyspaces
    }

    /// The keyspace that holds `key`.
    fn keyspace_of(&self, key: &[u8]) -> &Keyspace {
        let n = self.keyspaces.len() as u64;
        &self.keyspaces[(key_number(key) % n) as usize]
    }
}

/// The number a benchmark key spells in its leading decimal digits (0 for none).
fn key_number(key: &[u8]) -> u64 {
    key.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, b| n.wrapping_mul(10).wrapping_add(u64::from(b - b'0')))
}

impl Engine for MylsmKeyspacesEngine {
    type Error = mylsm::Error;

    fn write(&self, entries: &[Entry<'_>], sync: bool) -> mylsm::Result<()> {
        let mut batch = WriteBatch::new();
        for e in entries {
            let ks = self.keyspace_of(e.key);
            match e.value {
                Some(v) => batch.put_in(ks, e.key, v),
                None => batch.delete_in(ks, e.key),
            }
        }
        self.db.write_opt(batch, &WriteOptions::default().with_sync(sync))
    }

    fn get(&self, key: &[u8]) -> mylsm::Result<Option<usize>> {
        Ok(self.keyspace_of(key).get(key)?.map(|v| v.len()))
    }

    fn seek(
        &self,
        key: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> mylsm::Result<()> {
        let mut iter = self.keyspace_of(key).iter();
        iter.seek(key);
        for entry in iter.take(limit) {
            let (k, v) = entry?;
            visit(&k, &v);
        }
        Ok(())
    }

    fn scan(&self, reverse: bool, visit: &mut dyn FnMut(&[u8], &[u8])) -> mylsm::Result<()> {
        let mut keyspaces: Vec<&Keyspace> = self.keyspaces.iter().collect();
        if reverse {
            keyspaces.reverse();
        }
        for ks in keyspaces {
            let mut iter = ks.iter();
            loop {
                let entry = if reverse { iter.next_back() } else { iter.next() };
                let Some(entry) = entry else { break };
                let (k, v) = entry?;
                visit(&k, &v);
            }
        }
        Ok(())
    }

    fn settle(&self) -> mylsm::Result<()> {
        self.db.wait_for_compactions()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_and_its_missing_neighbour_share_a_keyspace() {
        let keys = crate::gen::KeyFormat::new(16, 1000).unwrap();
        assert_eq!(key_number(keys.key(997).as_bytes()), 997);
        assert_eq!(key_number(keys.missing_key(997).as_bytes()), 997);
        assert_eq!(key_number(b"x"), 0);
    }
}

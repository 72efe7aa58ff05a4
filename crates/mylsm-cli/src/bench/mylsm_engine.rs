//! mylsm behind the benchmark's `Engine` trait.

use mylsm::{Db, WriteBatch, WriteOptions};

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
        self.db.write_opt(batch, &WriteOptions { sync })
    }

    fn get(&self, key: &[u8]) -> mylsm::Result<Option<usize>> {
        Ok(self.db.get(key)?.map(|v| v.len()))
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

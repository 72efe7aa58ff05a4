//! RocksDB, fjall, sled and redb behind the benchmark's `Engine` trait, each opened
//! with the budget of an `EngineConfig` as closely as its options allow
//! (docs/benchmarks.md says where they cannot match).

use std::path::Path;
use std::time::Duration;

use mylsm::Compression;
use mylsm_bench::{Engine, EngineConfig, Entry};
use redb::{ReadableDatabase, ReadableTable};

/// How often `settle` polls an engine whose background work has no "wait" call.
const POLL: Duration = Duration::from_millis(10);

/// RocksDB through the `rocksdb` crate (the C++ library, statically linked).
pub struct Rocks {
    db: rocksdb::DB,
}

impl Rocks {
    pub fn open(dir: &Path, c: &EngineConfig) -> Result<Self, rocksdb::Error> {
        let defaults = mylsm::Options::default();
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_block_cache(&rocksdb::Cache::new_lru_cache(c.cache_bytes));
        table.set_bloom_filter(c.bloom_bits_per_key as f64, false);
        table.set_block_size(defaults.block_size);
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        o.set_block_based_table_factory(&table);
        o.set_write_buffer_size(c.memtable_bytes);
        // mylsm keeps one active and up to `max_immutable_memtables` full memtables.
        o.set_max_write_buffer_number(1 + defaults.max_immutable_memtables as i32);
        o.set_level_zero_file_num_compaction_trigger(defaults.l0_compaction_trigger as i32);
        o.set_level_zero_slowdown_writes_trigger(defaults.l0_slowdown_writes_trigger as i32);
        o.set_level_zero_stop_writes_trigger(defaults.l0_stop_writes_trigger as i32);
        o.set_max_bytes_for_level_base(defaults.max_bytes_for_level_base);
        o.set_max_bytes_for_level_multiplier(defaults.level_multiplier as f64);
        o.set_target_file_size_base(defaults.target_file_size);
        o.set_max_background_jobs(c.background_jobs as i32);
        o.set_level_compaction_dynamic_level_bytes(true);
        o.set_compression_type(match c.compression {
            Compression::None => rocksdb::DBCompressionType::None,
            Compression::Lz4 => rocksdb::DBCompressionType::Lz4,
            Compression::Zstd => rocksdb::DBCompressionType::Zstd,
        });
        Ok(Rocks { db: rocksdb::DB::open(&o, dir)? })
    }

    fn busy(&self) -> Result<bool, rocksdb::Error> {
        for p in [
            "rocksdb.mem-table-flush-pending",
            "rocksdb.num-running-flushes",
            "rocksdb.compaction-pending",
            "rocksdb.num-running-compactions",
        ] {
            if self.db.property_int_value(p)?.unwrap_or(0) > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl Engine for Rocks {
    type Error = rocksdb::Error;

    fn write(&self, entries: &[Entry<'_>], sync: bool) -> Result<(), Self::Error> {
        let mut batch = rocksdb::WriteBatch::default();
        for e in entries {
            match e.value {
                Some(v) => batch.put(e.key, v),
                None => batch.delete(e.key),
            }
        }
        let mut w = rocksdb::WriteOptions::default();
        w.set_sync(sync);
        self.db.write_opt(batch, &w)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>, Self::Error> {
        Ok(self.db.get_pinned(key)?.map(|v| v.len()))
    }

    fn seek(
        &self,
        key: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), Self::Error> {
        let mut it = self.db.raw_iterator();
        it.seek(key);
        let mut n = 0;
        while n < limit {
            let (Some(k), Some(v)) = (it.key(), it.value()) else { break };
            visit(k, v);
            n += 1;
            it.next();
        }
        it.status()
    }

    fn scan(&self, reverse: bool, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<(), Self::Error> {
        let mut it = self.db.raw_iterator();
        if reverse {
            it.seek_to_last();
        } else {
            it.seek_to_first();
        }
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            visit(k, v);
            if reverse {
                it.prev();
            } else {
                it.next();
            }
        }
        it.status()
    }

    fn settle(&self) -> Result<(), Self::Error> {
        while self.busy()? {
            std::thread::sleep(POLL);
        }
        Ok(())
    }
}

/// fjall, one keyspace in one database.
pub struct Fjall {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

impl Fjall {
    pub fn open(dir: &Path, c: &EngineConfig) -> Result<Self, fjall::Error> {
        use fjall::config::{
            BloomConstructionPolicy, CompressionPolicy, FilterPolicy, FilterPolicyEntry,
        };
        let db = fjall::Database::builder(dir).cache_size(c.cache_bytes as u64).open()?;
        // fjall has LZ4 only: Zstd runs as LZ4 (reported in the settings).
        let codec = match c.compression {
            Compression::None => fjall::CompressionType::None,
            Compression::Lz4 | Compression::Zstd => fjall::CompressionType::Lz4,
        };
        let bits = c.bloom_bits_per_key as f32;
        let ks = db.keyspace("bench", || {
            fjall::KeyspaceCreateOptions::default()
                .max_memtable_size(c.memtable_bytes as u64)
                .filter_policy(FilterPolicy::all(FilterPolicyEntry::Bloom(
                    BloomConstructionPolicy::BitsPerKey(bits),
                )))
                .data_block_compression_policy(CompressionPolicy::all(codec))
        })?;
        Ok(Fjall { db, ks })
    }
}

impl Engine for Fjall {
    type Error = fjall::Error;

    fn write(&self, entries: &[Entry<'_>], sync: bool) -> Result<(), Self::Error> {
        let mut batch = self.db.batch();
        if sync {
            batch = batch.durability(Some(fjall::PersistMode::SyncAll));
        }
        for e in entries {
            match e.value {
                Some(v) => batch.insert(&self.ks, e.key, v),
                None => batch.remove(&self.ks, e.key),
            }
        }
        batch.commit()
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>, Self::Error> {
        Ok(self.ks.get(key)?.map(|v| v.len()))
    }

    fn seek(
        &self,
        key: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), Self::Error> {
        for guard in self.ks.range(key..).take(limit) {
            let (k, v) = guard.into_inner()?;
            visit(&k, &v);
        }
        Ok(())
    }

    fn scan(&self, reverse: bool, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<(), Self::Error> {
        let mut it = self.ks.iter();
        loop {
            let guard = if reverse { it.next_back() } else { it.next() };
            let Some(guard) = guard else { return Ok(()) };
            let (k, v) = guard.into_inner()?;
            visit(&k, &v);
        }
    }

    fn settle(&self) -> Result<(), Self::Error> {
        while self.db.outstanding_flushes() > 0 || self.db.active_compactions() > 0 {
            std::thread::sleep(POLL);
        }
        Ok(())
    }
}

/// sled 0.34, its default tree.
pub struct Sled {
    db: sled::Db,
}

impl Sled {
    pub fn open(dir: &Path, c: &EngineConfig) -> Result<Self, sled::Error> {
        // sled flushes its log in the background every 500 ms (its default); there is
        // no memtable or bloom filter to size, and compression is a build feature
        // left off here (it would be zstd only).
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(c.btree_cache_bytes() as u64)
            .flush_every_ms(Some(500))
            .open()?;
        Ok(Sled { db })
    }
}

impl Engine for Sled {
    type Error = sled::Error;

    fn write(&self, entries: &[Entry<'_>], sync: bool) -> Result<(), Self::Error> {
        if let [e] = entries {
            // A single write needs no batch, as a sled user would write it.
            match e.value {
                Some(v) => self.db.insert(e.key, v).map(drop)?,
                None => self.db.remove(e.key).map(drop)?,
            }
        } else {
            let mut batch = sled::Batch::default();
            for e in entries {
                match e.value {
                    Some(v) => batch.insert(e.key, v),
                    None => batch.remove(e.key),
                }
            }
            self.db.apply_batch(batch)?;
        }
        if sync {
            self.db.flush()?;
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>, Self::Error> {
        Ok(self.db.get(key)?.map(|v| v.len()))
    }

    fn seek(
        &self,
        key: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), Self::Error> {
        for item in self.db.range(key..).take(limit) {
            let (k, v) = item?;
            visit(&k, &v);
        }
        Ok(())
    }

    fn scan(&self, reverse: bool, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<(), Self::Error> {
        let mut it = self.db.iter();
        loop {
            let item = if reverse { it.next_back() } else { it.next() };
            let Some(item) = item else { return Ok(()) };
            let (k, v) = item?;
            visit(&k, &v);
        }
    }

    fn settle(&self) -> Result<(), Self::Error> {
        self.db.flush().map(drop)
    }
}

const REDB_TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("bench");

/// redb, one table.
pub struct Redb {
    db: redb::Database,
}

impl Redb {
    pub fn open(dir: &Path, c: &EngineConfig) -> Result<Self, redb::Error> {
        let db = redb::Database::builder()
            .set_cache_size(c.btree_cache_bytes())
            .create(dir.join("bench.redb"))?;
        // The table is created up front so that reads never meet a missing table.
        let tx = db.begin_write()?;
        tx.open_table(REDB_TABLE)?;
        tx.commit()?;
        Ok(Redb { db })
    }
}

impl Engine for Redb {
    type Error = redb::Error;

    fn write(&self, entries: &[Entry<'_>], sync: bool) -> Result<(), Self::Error> {
        let mut tx = self.db.begin_write()?;
        // `None` neither fsyncs nor is durable until a later durable commit (`settle`
        // makes one): redb has no log, so this is its only commit without an fsync.
        tx.set_durability(if sync { redb::Durability::Immediate } else { redb::Durability::None })?;
        {
            let mut table = tx.open_table(REDB_TABLE)?;
            for e in entries {
                match e.value {
                    Some(v) => drop(table.insert(e.key, v)?),
                    None => drop(table.remove(e.key)?),
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>, Self::Error> {
        // One read transaction per read: each read sees the latest commit, as the
        // other engines' reads do.
        let tx = self.db.begin_read()?;
        let table = tx.open_table(REDB_TABLE)?;
        Ok(table.get(key)?.map(|v| v.value().len()))
    }

    fn seek(
        &self,
        key: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), Self::Error> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(REDB_TABLE)?;
        for item in table.range(key..)?.take(limit) {
            let (k, v) = item?;
            visit(k.value(), v.value());
        }
        Ok(())
    }

    fn scan(&self, reverse: bool, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<(), Self::Error> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(REDB_TABLE)?;
        let mut it = table.iter()?;
        loop {
            let item = if reverse { it.next_back() } else { it.next() };
            let Some(item) = item else { return Ok(()) };
            let (k, v) = item?;
            visit(k.value(), v.value());
        }
    }

    fn settle(&self) -> Result<(), Self::Error> {
        // A durable empty commit makes every earlier `Durability::None` commit durable.
        let mut tx = self.db.begin_write()?;
        tx.set_durability(redb::Durability::Immediate)?;
        tx.commit()?;
        Ok(())
    }
}

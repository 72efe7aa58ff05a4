//! The corruption matrix: every kind of file a database holds (WAL, table data, index,
//! filter, properties, meta-index and footer, manifest, CURRENT), damaged by a flipped byte, a
//! zeroed 4 KiB page or a truncation at many positions, gives `Error::Corruption` naming
//! that file, or the documented torn-tail recovery, from open, scan, get and verify;
//! never a panic, never a wrong value.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use common::*;
use mylsm::fs::MemFs;
use mylsm::{Compression, Db, Error, Options};

/// How many positions of each region each kind of damage is tried at (plus the
/// region's first and last byte): enough to hit headers, payloads and trailers while
/// the whole matrix runs in seconds.
const POSITIONS: usize = 12;

fn opts(fs: &MemFs) -> Options {
    Options {
        write_buffer_size: 8 << 10,
        target_file_size: 8 << 10,
        max_bytes_for_level_base: 16 << 10,
        level_multiplier: 4,
        block_size: 512,
        compression: Compression::None,
        block_cache_bytes: 0,
        fs: Arc::new(fs.clone()),
        ..Options::default()
    }
}

/// A closed database with tables in L0 and deeper levels, a manifest, CURRENT and a WAL
/// holding the last writes; the model of its tables, and the writes in its WAL.
struct Fixture {
    fs: MemFs,
    tables_model: Model,
    wal_writes: Vec<(Vec<u8>, Vec<u8>)>,
    l0_table: PathBuf,
    deep_table: PathBuf,
    manifest: PathBuf,
    log: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let fs = MemFs::new();
        let mut model = Model::new();
        let db = Db::open(DIR, opts(&fs)).unwrap();
        for i in 0..800 {
            let (k, v) = (format!("key{i:05}"), format!("v{i}-{}", "x".repeat(i % 60)));
            db.put(&k, &v).unwrap();
            model.insert(k.into_bytes(), v.into_bytes());
        }
        db.flush().unwrap();
        db.compact_range::<&[u8], _>(..).unwrap();
        for i in (0..800).step_by(3) {
            let (k, v) = (format!("key{i:05}"), format!("new{i}"));
            db.put(&k, &v).unwrap();
            model.insert(k.into_bytes(), v.into_bytes());
        }
        db.flush().unwrap();
        let s = db.stats();
        assert!(s.levels[0].files >= 1 && s.levels.iter().skip(1).any(|l| l.files > 0), "{s:?}");
        db.close().unwrap();
        // A second life leaves its writes in the WAL only.
        let db = Db::open(DIR, opts(&fs)).unwrap();
        let mut wal_writes = Vec::new();
        for i in 0..120 {
            let (k, v) = (format!("key{:05}", i * 7 + 1), format!("wal{i}"));
            db.put(&k, &v).unwrap();
            wal_writes.push((k.into_bytes(), v.into_bytes()));
        }
        assert_eq!(db.verify().unwrap().tables as usize, ssts(&fs).len(), "stray tables");
        db.close().unwrap();
        let find = |pred: &dyn Fn(&str) -> bool| {
            let found: Vec<_> =
                fs.paths().into_iter().filter(|p| pred(&p.to_string_lossy())).collect();
            assert_eq!(found.len(), 1, "{found:?}");
            found.into_iter().next().unwrap()
        };
        let manifest = find(&|p| p.contains("MANIFEST-"));
        let log =
            find(&|p| p.ends_with(".log") && !fs.file_contents(Path::new(p)).unwrap().is_empty());
        // Tables are numbered in creation order: the last flush made the highest, in
        // L0; the lowest was written by the compaction into a deeper level.
        let tables = ssts(&fs);
        Fixture {
            fs,
            tables_model: model,
            wal_writes,
            l0_table: tables[tables.len() - 1].clone(),
            deep_table: tables[0].clone(),
            manifest,
            log,
        }
    })
}

fn ssts(fs: &MemFs) -> Vec<PathBuf> {
    fs.paths().into_iter().filter(|p| p.extension().is_some_and(|e| e == "sst")).collect()
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Flip(usize),
    ZeroPage(usize),
    Truncate(usize),
}

impl Damage {
    fn apply(self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        match self {
            Damage::Flip(at) => out[at] ^= 0x40,
            Damage::ZeroPage(at) => {
                let start = at / 4096 * 4096;
                let end = (start + 4096).min(out.len());
                out[start..end].fill(0);
            }
            Damage::Truncate(at) => out.truncate(at),
        }
        out
    }
}

/// What a table's footer says, through the meta-index for format 2: `(offset, size)`
/// of the index, filter (size 0: none), properties and meta-index (size 0: format 1).
fn handles(table: &[u8]) -> [(usize, usize); 4] {
    let f = &table[table.len() - 64..];
    let u = |at: usize| u64::from_le_bytes(f[at..at + 8].try_into().unwrap()) as usize;
    let index = (u(0), u(8));
    if u32::from_le_bytes(f[48..52].try_into().unwrap()) == 1 {
        return [index, (u(16), u(24)), (u(32), u(40)), (0, 0)];
    }
    let meta = (u(16), u(24));
    let (mut filter, mut props) = ((0, 0), (0, 0));
    for (name, handle) in meta_index_entries(&table[meta.0..meta.0 + meta.1]) {
        match &name[..] {
            b"mylsm.filter" => filter = handle,
            b"mylsm.properties" => props = handle,
            _ => {}
        }
    }
    [index, filter, props, meta]
}

/// The names and handles in an (uncompressed) meta-index block. It is written with
/// restart interval 1, so every key is whole.
fn meta_index_entries(block: &[u8]) -> Vec<(Vec<u8>, (usize, usize))> {
    fn varint(b: &[u8], pos: &mut usize) -> usize {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let byte = b[*pos];
            *pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v as usize;
            }
            shift += 7;
        }
    }
    let restarts = u32::from_le_bytes(block[block.len() - 4..].try_into().unwrap()) as usize;
    let end = block.len() - 4 - 4 * restarts;
    let (mut pos, mut out) = (0, Vec::new());
    while pos < end {
        let (_shared, name_len) = (varint(block, &mut pos), varint(block, &mut pos));
        let value_len = varint(block, &mut pos);
        let name = block[pos..pos + name_len].to_vec();
        let mut value = pos + name_len;
        pos = value + value_len;
        out.push((name, (varint(block, &mut value), varint(block, &mut value))));
    }
    out
}

/// The byte range of `region` in table `bytes` (block contents plus its trailer).
fn table_region(bytes: &[u8], region: &str) -> std::ops::Range<usize> {
    let [index, filter, props, meta] = handles(bytes);
    let block = |(off, size): (usize, usize)| off..off + size + 5;
    match region {
        "data" => {
            0..[index, props, filter, meta]
                .into_iter()
                .filter(|&(_, size)| size > 0)
                .map(|(offset, _)| offset)
                .min()
                .unwrap()
        }
        "index" => block(index),
        "filter" => block(filter),
        "properties" => block(props),
        "meta-index" => block(meta),
        "footer" => bytes.len() - 64..bytes.len(),
        _ => unreachable!("{region}"),
    }
}

/// Positions spread over `range`, its ends included.
fn positions(range: std::ops::Range<usize>) -> Vec<usize> {
    let len = range.end - range.start;
    let mut out: Vec<usize> = (0..POSITIONS).map(|i| range.start + i * len / POSITIONS).collect();
    out.push(range.end - 1);
    out.dedup();
    out
}

/// What a damaged case may legitimately yield, besides `Corruption` naming the file.
#[derive(Clone, Copy, PartialEq)]
enum Allowed {
    /// Every answer must be the full, exact model.
    Exact,
    /// The WAL's torn-tail rule: the tables plus a prefix of the WAL's writes.
    WalPrefix,
}

/// Runs one damaged case; returns `Err(reason)` for any wrong answer.
fn run_case(path: &Path, damage: Damage, allowed: Allowed) -> Result<(), String> {
    let fx = fixture();
    let fs = fx.fs.crash_process();
    let bytes = fx.fs.file_contents(path).unwrap();
    let bad = damage.apply(&bytes);
    let changed = bad != bytes;
    fs.write_file(path, &bad);
    let named = |e: &Error| matches!(e, Error::Corruption { file, .. } if file == path);
    let db = match Db::open(DIR, opts(&fs)) {
        Err(e) if named(&e) => return Ok(()),
        Err(e) => return Err(format!("open: {e}")),
        Ok(db) => db,
    };
    // The states an open may recover: the model, or with a damaged WAL tail the tables
    // plus a prefix of the WAL's writes.
    let mut full = fx.tables_model.clone();
    let mut states = vec![full.clone()];
    for (k, v) in &fx.wal_writes {
        full.insert(k.clone(), v.clone());
        states.push(full.clone());
    }
    let states: Vec<Model> = match allowed {
        Allowed::Exact => vec![full],
        Allowed::WalPrefix => states,
    };
    let mut detected = false;
    // A full scan: entries in order up to the first error, and that error is damage
    // in this file.
    let mut scanned = Model::new();
    let mut scan_failed = false;
    for item in db.iter() {
        match item {
            Ok((k, v)) => drop(scanned.insert(k.to_vec(), v.to_vec())),
            Err(e) if named(&e) => {
                scan_failed = true;
                break;
            }
            Err(e) => return Err(format!("scan: {e}")),
        }
    }
    detected |= scan_failed;
    let state = if scan_failed {
        // What came before the error is a prefix of an allowed state: every entry up to
        // the last one yielded, each with its newest value, and no hole (a failed table
        // ends the merge; older versions from deeper tables never stand in for it).
        let prefix_of = |m: &Model| match scanned.keys().next_back() {
            Some(last) => m.range(..=last.clone()).eq(scanned.iter()),
            None => true,
        };
        if !states.iter().any(prefix_of) {
            let last = &states[states.len() - 1];
            return Err(format!("scan before its error: {}", diff(&scanned, last)));
        }
        None
    } else {
        match states.iter().find(|m| **m == scanned) {
            Some(m) => Some(m.clone()),
            None => {
                return Err(format!("scan: {}", diff(&scanned, &states[states.len() - 1])));
            }
        }
    };
    // Point reads: the value of the state the scan showed (or of any allowed state
    // if the scan stopped at the damage), or corruption in this file.
    let keys: std::collections::BTreeSet<&Vec<u8>> = full_keys(&states);
    for k in keys {
        match db.get(k) {
            Ok(got) => {
                let got = got.map(|v| v.to_vec());
                let ok = match &state {
                    Some(m) => m.get(k) == got.as_ref(),
                    None => states.iter().any(|m| m.get(k) == got.as_ref()),
                };
                if !ok {
                    return Err(format!("get {}: wrong answer {got:?}", k.escape_ascii()));
                }
            }
            Err(e) if named(&e) => detected = true,
            Err(e) => return Err(format!("get {}: {e}", k.escape_ascii())),
        }
    }
    match db.verify() {
        Ok(_) => {}
        Err(e) if named(&e) => detected = true,
        Err(e) => return Err(format!("verify: {e}")),
    }
    // Every byte of a table and the manifest is under a checksum and CURRENT must name
    // the manifest exactly, so damage there that changed a byte must be reported by
    // one of open, scan, get or verify, unless the full state came back anyway.
    let recovered_exact = state.as_ref().is_some_and(|m| *m == states[states.len() - 1]);
    if allowed == Allowed::Exact && changed && !detected && !recovered_exact {
        return Err("damage went unreported".into());
    }
    Ok(())
}

fn full_keys(states: &[Model]) -> std::collections::BTreeSet<&Vec<u8>> {
    states.iter().flat_map(|m| m.keys()).collect()
}

/// Runs every damage at every position of `range` in `path`, reporting all failures
/// (panics included) with their case.
fn matrix(path: &Path, range: std::ops::Range<usize>, allowed: Allowed) {
    let mut cases = Vec::new();
    for at in positions(range) {
        cases.push(Damage::Flip(at));
        cases.push(Damage::ZeroPage(at));
        cases.push(Damage::Truncate(at));
    }
    let mut failures = Vec::new();
    for damage in &cases {
        let result = panic::catch_unwind(AssertUnwindSafe(|| run_case(path, *damage, allowed)));
        let why = match result {
            Ok(Ok(())) => continue,
            Ok(Err(why)) => why,
            Err(p) => format!(
                "PANIC: {}",
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            ),
        };
        failures.push(format!("{} {damage:?}: {why}", path.display()));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn table_matrix(region: &str) {
    let fx = fixture();
    for table in [&fx.l0_table, &fx.deep_table] {
        let bytes = fx.fs.file_contents(table).unwrap();
        matrix(table, table_region(&bytes, region), Allowed::Exact);
    }
}

#[test]
fn damage_to_the_wal_is_corruption_or_a_torn_tail_prefix() {
    let fx = fixture();
    let len = fx.fs.file_contents(&fx.log).unwrap().len();
    matrix(&fx.log, 0..len, Allowed::WalPrefix);
}

#[test]
fn damage_to_table_data_blocks_is_corruption_naming_the_table() {
    table_matrix("data");
}

#[test]
fn damage_to_table_index_blocks_is_corruption_naming_the_table() {
    table_matrix("index");
}

#[test]
fn damage_to_table_filter_blocks_is_corruption_naming_the_table() {
    table_matrix("filter");
}

#[test]
fn damage_to_table_properties_is_corruption_naming_the_table() {
    table_matrix("properties");
}

#[test]
fn damage_to_table_meta_index_blocks_is_corruption_naming_the_table() {
    table_matrix("meta-index");
}

#[test]
fn damage_to_table_footers_is_corruption_naming_the_table() {
    table_matrix("footer");
}

#[test]
fn damage_to_the_manifest_is_corruption_naming_it() {
    let fx = fixture();
    let len = fx.fs.file_contents(&fx.manifest).unwrap().len();
    matrix(&fx.manifest, 0..len, Allowed::Exact);
}

#[test]
fn damage_to_current_is_corruption_naming_it() {
    let current = Path::new(DIR).join("CURRENT");
    let len = fixture().fs.file_contents(&current).unwrap().len();
    matrix(&current, 0..len, Allowed::Exact);
}

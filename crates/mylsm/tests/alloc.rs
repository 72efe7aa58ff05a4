//! Allocations per iterator step, counted by a global allocator: what a scan costs the
//! heap, with values and with `keys()`, forwards and backwards (past older versions).

use std::alloc::System;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn per_item(it: impl Iterator) -> f64 {
    let region = Region::new(GLOBAL);
    let n = it.count() as f64;
    region.change().allocations as f64 / n
}

#[test]
fn a_step_allocates_its_key_and_value_and_keys_only_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = mylsm::Db::open(dir.path(), mylsm::Options::default()).unwrap();
    for i in 0..2000u32 {
        db.put(format!("k{i:05}"), [7u8; 100]).unwrap();
        if i % 3 == 0 {
            db.put(format!("k{i:05}"), [8u8; 100]).unwrap(); // an older version to skip
        }
    }
    for (name, flush) in [("memtable", false), ("tables", true)] {
        if flush {
            db.flush().unwrap();
        }
        // The count is process-wide: let background work settle first.
        db.wait_for_compactions().unwrap();
        let full = per_item(db.iter());
        let keys = per_item(db.iter().keys());
        let rev = per_item(db.iter().rev());
        eprintln!(
            "{name}: {full:.2} allocations per item, {keys:.2} with keys(), {rev:.2} in reverse"
        );
        // One key and one value per item (the cursor's own buffers are reused), plus
        // the blocks a table scan reads; a table's values are views of their blocks,
        // so a table scan allocates only the key (2.18 per item before they were).
        assert!(full <= 2.2, "{name}: {full}");
        if flush {
            assert!(full <= 1.2, "{name}: {full}: table values were copied");
            assert!(rev <= 1.2, "{name}: {rev} in reverse: table values were copied");
        }
        assert!(keys <= 1.2, "{name}: {keys}");
        assert!(keys < full);
        // Reverse steps reuse the cursor's buffers for the key and the versions met
        // (5.3 allocations per item before they did).
        assert!(rev <= 2.2, "{name}: {rev} in reverse");
        assert!(per_item(db.iter().keys().rev()) <= 1.2);
    }
}

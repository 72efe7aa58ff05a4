//! Allocations per iterator step, counted by a global allocator: what a scan costs the
//! heap, with values and with `keys()`, forwards and backwards (past older versions).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to `System` unchanged; the counter is a side effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn per_item(it: impl Iterator) -> f64 {
    let before = ALLOCS.load(Ordering::Relaxed);
    let n = it.count() as f64;
    (ALLOCS.load(Ordering::Relaxed) - before) as f64 / n
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
        let full = per_item(db.iter());
        let keys = per_item(db.iter().keys());
        let rev = per_item(db.iter().rev());
        eprintln!(
            "{name}: {full:.2} allocations per item, {keys:.2} with keys(), {rev:.2} in reverse"
        );
        // One key and one value per item (the cursor's own buffers are reused), plus
        // the blocks a table scan reads.
        assert!(full <= 2.2, "{name}: {full}");
        assert!(keys <= 1.2, "{name}: {keys}");
        assert!(keys < full);
        // Reverse steps reuse the cursor's buffers for the key and the versions met
        // (5.3 allocations per item before they did).
        assert!(rev <= 2.2, "{name}: {rev} in reverse");
        assert!(per_item(db.iter().keys().rev()) <= 1.2);
    }
}

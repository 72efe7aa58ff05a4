//! Iterators and snapshots: ordered reads at a point in time, seeking, pinning, and
//! atomic visibility of batches under concurrent writers and flushes.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use common::*;
use mylsm::fs::MemFs;
use mylsm::{Db, Options, WriteBatch};

fn small(fs: &MemFs) -> Options {
    Options { write_buffer_size: 8 << 10, ..options(fs) }
}

fn keys(it: mylsm::Iter) -> Vec<String> {
    it.map(|r| String::from_utf8(r.unwrap().0.to_vec()).unwrap()).collect()
}

/// Found by a black-box suite: after the front ran past the range, `seek_for_prev`
/// still remembered the key the front had stepped onto (beyond the range) and
/// `next_back` stopped there, returning `None` instead of `b`.
#[test]
fn seek_for_prev_after_the_front_ran_out_still_finds_the_keys() {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    for k in ["a", "b", "c", "z"] {
        db.put(k, k).unwrap();
    }
    let mut it = db.range("a".."c");
    it.seek("x");
    assert!(it.next().is_none());
    it.seek_for_prev("x");
    assert_eq!(it.next_back().unwrap().unwrap().0, &b"b"[..]);
    assert_eq!(it.next_back().unwrap().unwrap().0, &b"a"[..]);
    assert!(it.next_back().is_none());
    // And the other way round: the back ran out, then the front seeks.
    let mut it = db.range("b"..);
    it.seek_for_prev("a");
    assert!(it.next_back().is_none());
    it.seek("a");
    assert_eq!(keys(it), ["b", "c", "z"]);
}

#[test]
fn seek_moves_either_end_within_the_range() {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    for k in ["a", "c", "e", "g", "i"] {
        db.put(k, k).unwrap();
    }
    db.flush().unwrap();
    db.put("d", "d").unwrap();
    let mut it = db.range("b".."h");
    it.seek("d");
    assert_eq!(it.next().unwrap().unwrap().0, &b"d"[..]);
    it.seek("a"); // before the range: clamps to the lower bound
    assert_eq!(it.next().unwrap().unwrap().0, &b"c"[..]);
    it.seek_for_prev("f");
    assert_eq!(it.next_back().unwrap().unwrap().0, &b"e"[..]);
    it.seek_for_prev("z"); // past the range: clamps to the upper bound
    assert_eq!(keys(it), vec!["d", "e", "g"]);
    let mut it = db.iter();
    it.seek("zz");
    assert!(it.next().is_none());
}

#[test]
fn an_iterator_reads_a_frozen_view_while_writes_and_flushes_go_on() {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    for i in 0..500 {
        db.put(format!("k{i:04}"), "old").unwrap();
    }
    let mut it = db.iter();
    let first = it.next().unwrap().unwrap();
    // The live iterator blocks neither writes nor flushes.
    for i in 0..3000 {
        db.put(format!("k{i:04}"), "new").unwrap();
    }
    db.flush().unwrap();
    assert!(db.stats().flushes > 0);
    let rest: Vec<_> = it.map(|r| r.unwrap()).collect();
    assert_eq!(first.1, &b"old"[..]);
    assert_eq!(rest.len(), 499);
    assert!(rest.iter().all(|(_, v)| v == &b"old"[..]));
    assert_eq!(db.iter().count(), 3000);
}

#[test]
fn a_snapshot_outlives_flushes_and_sees_exactly_its_moment() {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    let mut model = Model::new();
    let mut snaps = Vec::new();
    let mut rng = rng(5);
    for round in 0..20 {
        for _ in 0..50 {
            let ops = random_batch(&mut rng, 40);
            db.write(to_batch(&ops)).unwrap();
            apply(&mut model, &ops);
        }
        if round % 3 == 0 {
            db.flush().unwrap();
        }
        snaps.push((db.snapshot(), model.clone()));
    }
    for (i, (snap, want)) in snaps.iter().enumerate() {
        let got: Model =
            snap.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
        assert_eq!(&got, want, "snapshot {i}");
        let rev: Vec<_> = snap.iter().rev().map(|r| r.unwrap().0.to_vec()).collect();
        assert!(rev.iter().rev().eq(want.keys()), "snapshot {i} reverse");
        for (k, v) in want.iter().take(20) {
            assert_eq!(snap.get(k).unwrap().as_deref(), Some(v.as_slice()));
        }
    }
}

#[test]
fn readers_never_see_half_a_batch_while_writers_and_flushes_run() {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            thread::spawn(move || {
                for i in 0..1500u32 {
                    // Every batch sets all of its writer's keys to one value.
                    let mut b = WriteBatch::new();
                    for k in 0..4 {
                        b.put(format!("w{w}-k{k}"), i.to_le_bytes());
                    }
                    db.write(b).unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, stop) = (db.clone(), Arc::clone(&stop));
            thread::spawn(move || {
                let mut checks = 0;
                while !stop.load(Ordering::Relaxed) {
                    let snap = db.snapshot();
                    let all: Vec<_> = snap.iter().map(|r| r.unwrap()).collect();
                    for w in 0..2 {
                        let vals: Vec<_> = all
                            .iter()
                            .filter(|(k, _)| k.starts_with(format!("w{w}-").as_bytes()))
                            .map(|(_, v)| v.clone())
                            .collect();
                        assert!(vals.windows(2).all(|p| p[0] == p[1]), "torn batch seen: {vals:?}");
                        let got: Vec<_> =
                            (0..4).map(|k| snap.get(format!("w{w}-k{k}")).unwrap()).collect();
                        assert!(got.windows(2).all(|p| p[0] == p[1]), "torn batch via get");
                    }
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert!(db.stats().flushes > 0, "the test meant to overlap flushes");
}

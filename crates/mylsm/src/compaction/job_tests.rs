//! Compaction job tests on `MemFs`: what survives a merge, snapshots and tombstones,
//! where outputs are cut, damaged inputs, and trivial moves.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use mylsm_skiplist::Comparator;
use rand::{Rng, SeedableRng};

use super::job::JobOutput;
use super::testing::{entry, meta, TestTables, DIR};
use super::{pick, pick_range, run, Compaction, CompactionOptions, JobContext};
use crate::filename;
use crate::iter::conformance::Entry;
use crate::key::{self, InternalKeyComparator, Kind};
use crate::version::{FileMeta, Version, VersionEdit};
use crate::Result;

fn version(files: &[(usize, Arc<FileMeta>)]) -> Version {
    let added = files.iter().map(|(l, f)| (*l, FileMeta::clone(f))).collect();
    Version::default().apply(&VersionEdit { added, ..VersionEdit::default() }).unwrap()
}

fn run_job(t: &TestTables, c: &Compaction, target: u64, snapshots: &[u64]) -> Result<JobOutput> {
    let next = || t.new_file_number();
    let ctx = JobContext {
        fs: &t.fs,
        dir: Path::new(DIR),
        tables: &t.cache,
        table_opts: &t.opts,
        target_file_size: target,
        snapshots,
        new_file_number: &next,
        merge: None,
        now: 0,
        filter: None,
        keyspace: None,
    };
    run(c, &ctx)
}

/// The outputs' entries in key order, checking the outputs are sorted by key.
fn output_entries(t: &TestTables, out: &JobOutput) -> Vec<Entry> {
    let files: Vec<&FileMeta> = out.edit.added.iter().map(|(_, f)| f).collect();
    files.iter().flat_map(|f| t.read(f)).collect()
}

fn sorted(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by(|a, b| InternalKeyComparator.compare(&a.0, &b.0));
    entries
}

/// (user key, seqno) of each entry, for readable assertions.
fn versions(entries: &[Entry]) -> Vec<(String, u64)> {
    let parse = |k: &[u8]| key::parse_internal_key(k).map(|p| (p.user_key.to_vec(), p.seqno));
    let names = entries.iter().filter_map(|(k, _)| parse(k));
    names.map(|(u, s)| (String::from_utf8(u).unwrap(), s)).collect()
}

#[test]
fn merging_l0_and_l1_keeps_only_the_newest_live_version_of_each_key() {
    let t = TestTables::new();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let name = |i: u64| format!("k{i:03}").into_bytes();
    let older = |range: std::ops::Range<u64>| -> Vec<Entry> {
        range.map(|i| entry(&name(i), i + 1, Kind::Put, b"old")).collect()
    };
    let l1 = [t.table(&older(0..50)), t.table(&older(50..100))];
    let mut all: Vec<Entry> = older(0..100);
    let mut seqno = 100;
    let mut l0 = Vec::new();
    for _ in 0..3 {
        let mut table = Vec::new();
        for i in 0..100 {
            if rng.random_bool(0.6) {
                continue;
            }
            seqno += 1;
            let kind = if rng.random_bool(0.3) { Kind::Delete } else { Kind::Put };
            table.push(entry(&name(i), seqno, kind, format!("v{seqno}").as_bytes()));
        }
        all.extend(table.iter().cloned());
        l0.push(t.table(&table));
    }
    let mut files: Vec<_> = l1.iter().map(|f| (1, Arc::clone(f))).collect();
    files.extend(l0.iter().map(|f| (0, Arc::clone(f))));
    let v = version(&files);
    let opts = CompactionOptions { l0_compaction_trigger: 3, ..CompactionOptions::default() };
    let c = pick(&v, &opts).unwrap();
    assert_eq!((c.inputs.len(), c.next_inputs.len(), c.bottommost), (3, 2, true));

    let out = run_job(&t, &c, 512, &[]).unwrap();
    let mut newest: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
    for e in sorted(all.clone()).into_iter().rev() {
        newest.insert(key::user_key(&e.0).to_vec(), e);
    }
    let live =
        newest.into_values().filter(|(k, _)| key::parse_internal_key(k).unwrap().kind == Kind::Put);
    let want: Vec<Entry> = live.collect();
    assert_eq!(output_entries(&t, &out), want);
    assert!(out.edit.added.len() > 1, "a 512-byte target splits the output");
    assert_eq!(out.entries_dropped, (all.len() - want.len()) as u64);
    let input_bytes: u64 = l0.iter().chain(&l1).map(|f| f.size).sum();
    assert_eq!(out.bytes_read, input_bytes);
    assert_eq!(out.bytes_written, out.edit.added.iter().map(|(_, f)| f.size).sum::<u64>());
    // The edit installs: inputs gone, outputs a valid sorted L1, each durable.
    let after = v.apply(&out.edit).unwrap();
    assert_eq!((after.num_files(0), after.num_files(1)), (0, out.edit.added.len()));
    for (level, f) in &out.edit.added {
        let path = filename::table_file(Path::new(DIR), f.number);
        assert_eq!((*level, t.fs.synced_len(&path)), (1, Some(f.size)));
        assert!(t.fs.durable_paths().contains(&path));
    }
}

#[test]
fn versions_survive_exactly_while_a_snapshot_reads_them() {
    let cases: [(&[u64], &[u64]); 5] = [
        (&[], &[40]),
        (&[5], &[40]),
        (&[25], &[40, 20]),
        (&[20, 25], &[40, 20]),
        (&[10, 25, 35], &[40, 30, 20, 10]),
    ];
    for (snapshots, kept) in cases {
        let t = TestTables::new();
        let k = |s| entry(b"k", s, Kind::Put, b"v");
        let f = t.table(&[entry(b"j", 50, Kind::Put, b"v"), k(40), k(30), k(20), k(10)]);
        let c = pick_range(&version(&[(0, f)]), 0, None, None).unwrap();
        let out = run_job(&t, &c, 1 << 20, snapshots).unwrap();
        let mut want = vec![("j".to_string(), 50)];
        want.extend(kept.iter().map(|&s| ("k".to_string(), s)));
        assert_eq!(versions(&output_entries(&t, &out)), want, "snapshots {snapshots:?}");
    }
}

#[test]
fn tombstones_drop_at_the_bottommost_level_only_when_no_snapshot_needs_them() {
    let run_case = |deeper: bool, snapshots: &[u64]| -> Vec<(String, u64)> {
        let t = TestTables::new();
        let l1 = t.table(&[entry(b"a", 1, Kind::Put, b"v")]);
        let l0 = t.table(&[entry(b"a", 5, Kind::Delete, b""), entry(b"b", 7, Kind::Put, b"v")]);
        let mut files = vec![(1, l1), (0, l0)];
        if deeper {
            files.push((2, meta(99, b"a", b"a", 100)));
        }
        let c = pick_range(&version(&files), 0, None, None).unwrap();
        assert_eq!(c.bottommost, !deeper);
        versions(&output_entries(&t, &run_job(&t, &c, 1 << 20, snapshots).unwrap()))
    };
    let s = |k: &str, n| (k.to_string(), n);
    assert_eq!(run_case(true, &[]), [s("a", 5), s("b", 7)], "a deeper level may hold a");
    assert_eq!(run_case(false, &[]), [s("b", 7)], "nothing below: a is gone");
    assert_eq!(run_case(false, &[3]), [s("a", 5), s("a", 1), s("b", 7)], "snapshot 3 reads a@1");
}

#[test]
fn outputs_are_cut_at_the_target_size_but_never_inside_a_user_key() {
    let t = TestTables::new();
    let value = [b'x'; 64];
    let mut entries: Vec<Entry> = (0..60u64)
        .map(|i| entry(format!("k{i:03}").as_bytes(), i + 1, Kind::Put, &value))
        .collect();
    // 60 versions of k030, each read by its own snapshot, span several target sizes.
    let snapshots: Vec<u64> = (100..160).collect();
    entries.retain(|(k, _)| key::user_key(k) != b"k030");
    entries.extend(snapshots.iter().map(|&s| entry(b"k030", s, Kind::Put, &value)));
    let entries = sorted(entries);
    let f = t.table(&entries);
    let v = version(&[(0, f)]);
    let c = pick_range(&v, 0, None, None).unwrap();
    let target = 1024;
    let out = run_job(&t, &c, target, &snapshots).unwrap();

    assert_eq!(output_entries(&t, &out), entries, "every version is kept");
    let files: Vec<&FileMeta> = out.edit.added.iter().map(|(_, f)| f).collect();
    assert!(files.len() > 3, "{} outputs", files.len());
    for pair in files.windows(2) {
        assert!(pair[0].size >= target, "only the last output may be short");
        let (end, start) = (key::user_key(&pair[0].largest), key::user_key(&pair[1].smallest));
        assert_eq!(end.cmp(start), Ordering::Less, "outputs share no user key");
    }
    let holding = files.iter().filter(|f| versions(&t.read(f)).iter().any(|(k, _)| k == "k030"));
    assert_eq!(holding.count(), 1, "one table holds every version of k030");
    v.apply(&out.edit).unwrap();
}

#[test]
fn a_damaged_input_fails_the_compaction_and_leaves_no_outputs() {
    let t = TestTables::new();
    let table = |keys: std::ops::Range<u64>, base: u64| -> Arc<FileMeta> {
        let e: Vec<Entry> = keys
            .map(|i| entry(format!("k{i:04}").as_bytes(), base + i, Kind::Put, b"value"))
            .collect();
        t.table(&e)
    };
    let l1 = [table(0..300, 1), table(300..600, 1)];
    let l0 = table(0..600, 1000);
    let damaged = filename::table_file(Path::new(DIR), l1[0].number);
    let mut bytes = t.fs.file_contents(&damaged).unwrap();
    bytes[10] ^= 0x40;
    t.fs.write_file(&damaged, &bytes);
    let before = t.fs.paths();

    let v = version(&[(1, Arc::clone(&l1[0])), (1, Arc::clone(&l1[1])), (0, l0)]);
    let c = pick_range(&v, 0, None, None).unwrap();
    let err = run_job(&t, &c, 1024, &[]).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert_eq!(t.fs.paths(), before, "no output file is left behind");
}

#[test]
fn a_trivial_move_does_no_io() {
    let t = TestTables::new();
    let f = t.table(&[entry(b"a", 1, Kind::Put, b"v")]);
    let opts = CompactionOptions { max_bytes_for_level_base: 1, ..CompactionOptions::default() };
    let c = pick(&version(&[(1, Arc::clone(&f))]), &opts).unwrap();
    assert!(c.trivial_move);
    let io = |t: &TestTables| (t.fs.append_count(), t.fs.sync_count(), t.fs.dir_sync_count());
    let (before, next) = (io(&t), t.new_file_number());

    let out = run_job(&t, &c, 1 << 20, &[]).unwrap();
    assert_eq!(io(&t), before);
    assert_eq!(t.new_file_number(), next + 1, "no file number was taken");
    let want = VersionEdit {
        deleted: vec![(1, f.number)],
        added: vec![(2, FileMeta::clone(&f))],
        ..VersionEdit::default()
    };
    assert_eq!((out.edit, out.bytes_read, out.bytes_written), (want, 0, 0));
}

#[test]
fn an_output_is_cut_where_it_would_overlap_too_much_of_the_grandparent_level() {
    let t = TestTables::new();
    let e: Vec<Entry> =
        (0..200u64).map(|i| entry(format!("k{i:03}").as_bytes(), i + 1, Kind::Put, b"v")).collect();
    let mut c = pick_range(&version(&[(0, t.table(&e))]), 0, None, None).unwrap();
    // Grandparents of 3 target sizes each, one per 20 keys: an output may span at most
    // ten target sizes of them, so about every 80 keys it must be cut, though it is
    // far below the target size itself.
    let target = 1 << 20;
    c.grandparents = (0..10u64)
        .map(|g| {
            meta(
                900 + g,
                format!("k{:03}", g * 20).as_bytes(),
                format!("k{:03}", g * 20 + 19).as_bytes(),
                3 * target,
            )
        })
        .collect();
    let out = run_job(&t, &c, target, &[]).unwrap();
    assert_eq!(output_entries(&t, &out), e);
    let files = out.edit.added.len();
    assert!((2..=4).contains(&files), "{files} outputs");
    // Without grandparents the same job writes one table.
    c.grandparents.clear();
    assert_eq!(run_job(&t, &c, target, &[]).unwrap().edit.added.len(), 1);
}

/// The value a reader of everything sees for `k` in `v`.
fn read_key(t: &TestTables, v: &Version, k: &[u8]) -> Option<Vec<u8>> {
    let ctx = crate::resolve::ReadCtx { seqno: key::MAX_SEQNO - 1, now: 0, merge: None };
    let mut r = crate::resolve::Resolver::new(&ctx, k);
    v.get(&t.cache, k, &mut r).unwrap();
    r.finish().unwrap().map(|v| v.to_vec())
}

/// Pitfalls the anchors shipped (RocksDB #4476, the lsm-tree fork's #137): a range
/// tombstone cut where a compaction cuts its outputs, or lying wholly in the gap
/// between two outputs' points, must still delete what lies in deeper levels.
#[test]
fn a_range_tombstone_at_an_output_boundary_and_in_the_gap_between_two_outputs_deletes_what_lies_below(
) {
    let name = |i: u64| format!("k{i:03}").into_bytes();
    for newer_inside in [false, true] {
        let t = TestTables::new();
        // L2: the old version of every key; L1: something, so L0 compacts into L1 and
        // the compaction is not bottommost.
        let old: Vec<Entry> = (0..200).map(|i| entry(&name(i), i + 1, Kind::Put, b"old")).collect();
        let l2 = t.table(&old);
        let l1 = t.table(&[entry(b"z", 250, Kind::Put, b"z")]);
        // L0: points outside [k040, k160) (and, in one case, newer points inside), and
        // the tombstone [k040, k160)#500.
        let mut points: Vec<Entry> = Vec::new();
        for i in (0..40).chain(160..200) {
            points.push(entry(&name(i), 300 + i, Kind::Put, &[b'n'; 40]));
        }
        if newer_inside {
            for i in 100..120 {
                points.push(entry(&name(i), 600 + i, Kind::Put, &[b'm'; 40]));
            }
        }
        let points = sorted(points);
        let start = name(40);
        let tomb = crate::range_del::Tombstone { start, end: Some(name(160)), seqno: 500 };
        let l0 = t.table_with_tombstones(&points, vec![tomb]);
        let v = version(&[(2, l2), (1, l1), (0, l0)]);
        let c = pick_range(&v, 0, None, None).unwrap();
        assert_eq!((c.output_level, c.bottommost), (1, false));
        let out = run_job(&t, &c, 256, &[]).unwrap();
        assert!(out.edit.added.len() > 3, "a 256-byte target cuts many outputs");
        let after = v.apply(&out.edit).unwrap();
        for i in 0..200 {
            let got = read_key(&t, &after, &name(i));
            let want: Option<Vec<u8>> = match i {
                40..100 | 120..160 => None,
                100..120 if !newer_inside => None,
                100..120 => Some(vec![b'm'; 40]),
                _ => Some(vec![b'n'; 40]),
            };
            assert_eq!(got, want, "k{i:03} (newer points inside: {newer_inside})");
        }
        // Each piece of the tombstone is in exactly one output.
        let covering = |k: &[u8]| {
            out.edit
                .added
                .iter()
                .filter(|(_, f)| {
                    let table = t.cache.get(f).unwrap();
                    table.range_tombstones().is_some_and(|r| r.max_cover(k, u64::MAX >> 8) == 500)
                })
                .count()
        };
        for i in 0..200 {
            let want = usize::from((40..160).contains(&i));
            assert_eq!(
                covering(&name(i)),
                want,
                "k{i:03} covered by {} outputs",
                covering(&name(i))
            );
        }
    }
}

//! Power loss at every step of a random history of votes, appends, truncates, applies,
//! snapshots, installs and purges: the reopened stores hold exactly what openraft was
//! told is durable, the log has no hole, and the state machine equals a replay of the
//! log up to its applied index.
//!
//! The story: one node's stores live on a `MemFs`. A seeded random history runs against
//! them, and a model records what each call promised. After every step the test takes
//! the image a power loss would leave (`MemFs::crash`), reopens the stores on it and
//! compares them with the model. An image taken after step `n` is also the image of a
//! crash in the middle of step `n + 1` before its first sync, so this covers crashes
//! "during" each operation too.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::Arc;

use mylsm::fs::{CrashMode, MemFs};
use mylsm::{Db, Options, RecoveryMode};
use mylsm_raft::snapshot_format::{decode_snapshot, SnapshotEncoder};
use mylsm_raft::{Entry, LogId, LogStore, Request, SnapshotMeta, StateMachine, StoredMembership};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::{
    CommittedLeaderId, EntryPayload, Membership, RaftLogReader, RaftSnapshotBuilder, Vote,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const PATH: &str = "/node";

fn options(fs: &MemFs, mode: CrashMode) -> Options {
    // Small memtables, so the history also goes through flushes and compactions.
    Options {
        fs: Arc::new(fs.clone()),
        // A torn page inside a log's unsynced tail is damage, not a torn tail; the
        // documented way to open after such a power loss is point-in-time recovery,
        // which stops at the damage (it is past every synced byte).
        wal_recovery_mode: if mode == CrashMode::TornPages {
            RecoveryMode::PointInTime
        } else {
            RecoveryMode::TolerateTornTail
        },
        write_buffer_size: 32 << 10,
        max_background_jobs: 2,
        ..Options::default()
    }
}

fn open(fs: &MemFs, mode: CrashMode) -> (Db, LogStore, StateMachine) {
    let db = Db::open(PATH, options(fs, mode)).expect("open");
    let log = LogStore::open(&db).expect("log store");
    let sm = StateMachine::open(&db).expect("state machine");
    (db, log, sm)
}

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

/// What the calls so far promised, and the entries applied in order.
#[derive(Default)]
struct Model {
    vote: Option<Vote<u64>>,
    term: u64,
    /// Every entry present in the log, by index.
    log: BTreeMap<u64, Entry>,
    last_purged: Option<LogId>,
    /// The entries applied to the state machine, in order (installs included).
    applied: Vec<Entry>,
    /// The last log id of the newest durable snapshot: applied never falls below it.
    snapshot: Option<LogId>,
}

impl Model {
    fn last_index(&self) -> u64 {
        self.log.keys().next_back().copied().or(self.last_purged.map(|l| l.index)).unwrap_or(0)
    }

    fn applied_index(&self) -> u64 {
        self.applied.last().map_or(0, |e| e.log_id.index)
    }
}

/// The data and membership a replay of `entries` gives.
fn replay(entries: &[Entry]) -> (BTreeMap<Vec<u8>, Vec<u8>>, StoredMembership) {
    fn run(data: &mut BTreeMap<Vec<u8>, Vec<u8>>, req: &Request) {
        match req {
            Request::Set { key, value } => {
                data.insert(key.clone(), value.clone());
            }
            Request::Del { key } => {
                data.remove(key);
            }
            Request::IncrBy { key, by } => {
                let old = match data.get(key) {
                    None => Some(0),
                    Some(v) => std::str::from_utf8(v).ok().and_then(|s| s.parse::<i64>().ok()),
                };
                if let Some(new) = old.and_then(|o| o.checked_add(*by)) {
                    data.insert(key.clone(), new.to_string().into_bytes());
                }
            }
            Request::Batch(reqs) => reqs.iter().for_each(|r| run(data, r)),
        }
    }
    let mut data = BTreeMap::new();
    let mut membership = StoredMembership::default();
    for e in entries {
        match &e.payload {
            EntryPayload::Blank => {}
            EntryPayload::Normal(req) => run(&mut data, req),
            EntryPayload::Membership(m) => {
                membership = StoredMembership::new(Some(e.log_id), m.clone())
            }
        }
    }
    (data, membership)
}

fn random_request(rng: &mut SmallRng) -> Request {
    let key = |rng: &mut SmallRng| format!("key{:02}", rng.random_range(0..20)).into_bytes();
    match rng.random_range(0..10) {
        0..=5 => Request::Set { key: key(rng), value: vec![b'v'; rng.random_range(0..600)] },
        6 => Request::Del { key: key(rng) },
        7 => Request::IncrBy { key: key(rng), by: rng.random_range(-3..=3) },
        _ => Request::Batch((0..rng.random_range(1..4)).map(|_| random_request(rng)).collect()),
    }
}

fn random_entry(rng: &mut SmallRng, id: LogId) -> Entry {
    let payload = match rng.random_range(0..20) {
        0 => EntryPayload::Blank,
        1 => {
            let voters: BTreeSet<u64> = (1..=rng.random_range(1..4u64)).collect();
            EntryPayload::Membership(Membership::new(vec![voters], None))
        }
        _ => EntryPayload::Normal(random_request(rng)),
    };
    Entry { log_id: id, payload }
}

/// One random step against the stores, recorded in the model once the call returns.
async fn step(rng: &mut SmallRng, m: &mut Model, log: &mut LogStore, sm: &mut StateMachine) {
    match rng.random_range(0..100) {
        0..=9 => {
            if rng.random_bool(0.5) {
                m.term += 1;
            }
            let vote = Vote::new(m.term, rng.random_range(1..4));
            log.save_vote(&vote).await.expect("save_vote");
            m.vote = Some(vote);
        }
        10..=49 => {
            let first = m.last_index() + 1;
            let entries: Vec<Entry> = (first..first + rng.random_range(1..6))
                .map(|i| random_entry(rng, log_id(m.term, i)))
                .collect();
            // Returns once the flush callback fired: from here on they must survive.
            log.blocking_append(entries.clone()).await.expect("append");
            m.log.extend(entries.into_iter().map(|e| (e.log_id.index, e)));
        }
        50..=57 => {
            // Only entries past the applied (hence committed) index are ever truncated.
            let (lo, hi) = (m.applied_index() + 1, m.last_index());
            if lo <= hi && m.log.contains_key(&lo) {
                let at = rng.random_range(lo..=hi);
                log.truncate(m.log[&at].log_id).await.expect("truncate");
                m.log.retain(|&i, _| i < at);
            }
        }
        58..=84 => {
            let next: Vec<Entry> = m
                .log
                .range(m.applied_index() + 1..)
                .take(rng.random_range(1..8))
                .map(|(_, e)| e.clone())
                .collect();
            if !next.is_empty() {
                let responses = sm.apply(next.clone()).await.expect("apply");
                assert_eq!(responses.len(), next.len(), "one response per entry");
                m.applied.extend(next);
            }
        }
        85..=92 => {
            // Snapshot, then purge up to it, as openraft does.
            let snap = sm.get_snapshot_builder().await.build_snapshot().await.expect("build");
            assert_eq!(snap.meta.last_log_id.map_or(0, |l| l.index), m.applied_index());
            m.snapshot = snap.meta.last_log_id;
            let floor = m.last_purged.map_or(0, |l| l.index);
            if let Some(top) = m.snapshot.filter(|s| s.index > floor) {
                let upto = rng.random_range(floor + 1..=top.index);
                let id = m.log[&upto].log_id;
                log.purge(id).await.expect("purge");
                m.log.retain(|&i, _| i > upto);
                m.last_purged = Some(id);
            }
        }
        _ => {
            // Install a snapshot "from the leader" of the log up to a later index, then
            // purge everything it covers, as a lagging follower does.
            let Some((&upto, _)) = m.log.range(m.applied_index() + 1..).next_back() else {
                return;
            };
            let mut entries = m.applied.clone();
            entries.extend(m.log.range(m.applied_index() + 1..=upto).map(|(_, e)| e.clone()));
            let (data, membership) = replay(&entries);
            let last = Some(m.log[&upto].log_id);
            let mut enc = SnapshotEncoder::new(&last, &membership);
            data.iter().for_each(|(k, v)| enc.record(k, v));
            let meta = SnapshotMeta {
                last_log_id: last,
                last_membership: membership,
                snapshot_id: format!("installed-{upto}"),
            };
            sm.install_snapshot(&meta, Box::new(Cursor::new(enc.finish()))).await.expect("install");
            m.applied = entries;
            m.snapshot = last;
            log.purge(m.log[&upto].log_id).await.expect("purge");
            m.log.retain(|&i, _| i > upto);
            m.last_purged = last;
        }
    }
}

/// Reopens the stores on `image` and checks them against the model.
async fn check(image: &MemFs, mode: CrashMode, m: &Model, what: &str) {
    let (db, mut log, mut sm) = open(image, mode);
    assert_eq!(log.read_vote().await.expect("read_vote"), m.vote, "{what}: vote");

    let state = log.get_log_state().await.expect("log state");
    assert_eq!(state.last_purged_log_id, m.last_purged, "{what}: last purged");
    let last = m.log.values().next_back().map(|e| e.log_id).or(m.last_purged);
    assert_eq!(state.last_log_id, last, "{what}: last log id");
    let got = log.try_get_log_entries(..).await.expect("read log");
    let first = m.last_purged.map_or(0, |l| l.index) + 1;
    for (n, e) in got.iter().enumerate() {
        // Consecutive from just past the last purged entry: no hole.
        assert_eq!(e.log_id.index, first + n as u64, "{what}: hole in the log");
    }
    let want: Vec<&Entry> = m.log.values().collect();
    assert_eq!(got.iter().collect::<Vec<_>>(), want, "{what}: log entries");

    let (applied, membership) = sm.applied_state().await.expect("applied state");
    let applied_index = applied.map_or(0, |l| l.index);
    assert!(applied_index <= m.applied_index(), "{what}: applied beyond what was applied");
    assert!(applied >= m.snapshot, "{what}: applied below the durable snapshot");
    assert!(applied >= m.last_purged, "{what}: applied below the purged log");
    let upto: Vec<Entry> =
        m.applied.iter().take_while(|e| e.log_id.index <= applied_index).cloned().collect();
    assert_eq!(upto.last().map(|e| e.log_id), applied, "{what}: applied id");
    let (data, want_membership) = replay(&upto);
    let got: BTreeMap<Vec<u8>, Vec<u8>> = sm
        .data()
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<mylsm::Result<_>>()
        .expect("read data");
    assert_eq!(got, data, "{what}: state machine != replay of the log to {applied_index}");
    assert_eq!(membership, want_membership, "{what}: membership");

    if let Some(snap) = sm.get_current_snapshot().await.expect("current snapshot") {
        let content = decode_snapshot(snap.snapshot.get_ref()).expect("snapshot decodes");
        assert!(snap.meta.last_log_id <= applied, "{what}: snapshot ahead of applied");
        assert_eq!(content.membership, snap.meta.last_membership, "{what}: snapshot membership");
    }
    db.close().expect("close");
}

fn run_history(seed: u64, steps: usize, mode: CrashMode) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    rt.block_on(async {
        let mut rng = SmallRng::seed_from_u64(seed);
        let fs = MemFs::new();
        let (db, mut log, mut sm) = open(&fs, mode);
        let mut m = Model::default();
        for n in 0..steps {
            step(&mut rng, &mut m, &mut log, &mut sm).await;
            let image = fs.crash(mode, rng.random());
            check(&image, mode, &m, &format!("seed {seed} {mode:?} after step {n}")).await;
        }
        db.close().expect("close");
    });
}

#[test]
fn power_loss_at_every_step_keeps_what_raft_was_promised() {
    for seed in 0..8 {
        run_history(seed, 150, CrashMode::DropUnsynced);
    }
}

#[test]
fn torn_unsynced_tails_keep_what_raft_was_promised() {
    for seed in 100..105 {
        run_history(seed, 150, CrashMode::KeepRandomPrefix);
        run_history(seed + 50, 100, CrashMode::TornPages);
    }
}

//! `stress --verify`: checks a database reopened after a crash against the history of
//! the run that crashed, and prints the verified state as the next run's history.
//!
//! Per writer, the database must hold exactly the state its acknowledged batches
//! leave, or that state with its one in-flight batch applied in full (after a `window`,
//! with any prefix of its in-flight batches applied). Comparing whole
//! states rather than single keys is what checks the prefix property and atomicity: a
//! lost acknowledged write, a partly applied batch, a deleted key come back, or a
//! value from a version never written each make the state match neither.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;

use mylsm::Db;

use super::history::{self, Batch, State};
use super::value::{self, KeyId};
use crate::error::CliError;

/// How many differing keys a violation lists per writer before it summarizes.
const LIST_MAX: usize = 10;

/// What the check found, before it is printed.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The state the database holds (every entry well formed).
    pub state: State,
    /// The first version the next run may use.
    pub next_version: u64,
    /// In-flight batches found applied, and found absent.
    pub applied: Vec<(u32, u64)>,
    pub dropped: Vec<(u32, u64)>,
    pub acks: u64,
    pub synced_acks: u64,
    pub violations: Vec<String>,
}

/// Checks `db` against the history `text` and prints the outcome: the verified state
/// as `base` lines and the `next` version on stdout, violations on stderr.
pub fn verify(db: &Db, text: &str) -> Result<(), CliError> {
    let outcome = check(db, text)?;
    if !outcome.violations.is_empty() {
        for v in &outcome.violations {
            eprintln!("violation: {v}");
        }
        return Err(CliError::Input(format!(
            "stress verify: {} violations (listed above)",
            outcome.violations.len()
        )));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# verified: {} keys present; {} acknowledged batches ({} synced) all there; \
         in flight: {} applied, {} not applied",
        outcome.state.len(),
        outcome.acks,
        outcome.synced_acks,
        outcome.applied.len(),
        outcome.dropped.len()
    );
    for (what, list) in [("applied", &outcome.applied), ("not applied", &outcome.dropped)] {
        for (w, v) in list {
            let _ = writeln!(out, "# writer {w} version {v}: in flight, {what}");
        }
    }
    for (id, v) in &outcome.state {
        let _ = writeln!(out, "base {} {} {v}", id.writer, id.index);
    }
    let _ = writeln!(out, "next {}", outcome.next_version);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()).map_err(CliError::Output)
}

/// Checks `db` against the history `text`.
pub fn check(db: &Db, text: &str) -> Result<Outcome, CliError> {
    let h = history::parse(text).map_err(|e| CliError::Input(format!("stress history: {e}")))?;
    let mut o = Outcome { acks: h.acks, synced_acks: h.synced_acks, ..Outcome::default() };

    for item in db.iter() {
        let (key, bytes) = item?;
        let Some(id) = KeyId::parse(&key) else {
            let key = String::from_utf8_lossy(&key);
            o.violations.push(format!("key {key:?} was never written by stress"));
            continue;
        };
        match value::check(id, &bytes) {
            Ok(v) => {
                o.state.insert(id, v);
            }
            Err(e) => o.violations.push(format!("{id}: {e}")),
        }
    }

    // Point lookups take a different path (filters, index, one block) than the scan
    // (merging iterator): they must agree on every key either could know of.
    let mut known: BTreeSet<KeyId> = o.state.keys().chain(h.acked.keys()).copied().collect();
    for b in h.pending.values().flatten() {
        known.extend(b.ops.iter().map(|op| KeyId { writer: b.writer, index: op.index }));
    }
    for &id in &known {
        let got = db.get(id.key())?;
        let got = got.as_deref().map(|bytes| value::check(id, bytes));
        let scanned = o.state.get(&id).copied();
        let agrees = match &got {
            None => scanned.is_none(),
            Some(Ok(v)) => scanned == Some(*v),
            // The scan has reported a malformed value already.
            Some(Err(_)) => true,
        };
        if !agrees {
            o.violations.push(format!("{id}: get found {got:?}, the scan {}", show(scanned)));
        }
    }

    let writers: BTreeSet<u32> = known.iter().map(|id| id.writer).collect();
    for w in writers {
        let of = |s: &State| -> State {
            s.range(KeyId { writer: w, index: 0 }..=KeyId { writer: w, index: u32::MAX })
                .map(|(k, v)| (*k, *v))
                .collect()
        };
        let (actual, acked) = (of(&o.state), of(&h.acked));
        let pending = h.pending.get(&w).map_or(&[][..], Vec::as_slice);
        // The acknowledged state with the first `j` in-flight batches applied.
        let mut with = acked.clone();
        let mut matched = None;
        for j in 0..=pending.len() {
            if j > 0 {
                pending[j - 1].apply(&mut with);
            }
            if actual == with {
                matched = Some(j);
                break;
            }
        }
        match matched {
            Some(j) => {
                o.applied.extend(pending[..j].iter().map(|b| (w, b.version)));
                o.dropped.extend(pending[j..].iter().map(|b| (w, b.version)));
            }
            None => o.violations.push(describe(w, &acked, pending.last(), &actual)),
        }
    }

    let found_max = o.state.values().copied().max().unwrap_or(0);
    o.next_version = h.max_version.max(found_max) + 1;
    Ok(o)
}

fn show(v: Option<u64>) -> String {
    v.map_or_else(|| "absent".to_string(), |v| format!("version {v}"))
}

/// Says how writer `w`'s keys in the database differ from its acknowledged state.
fn describe(w: u32, acked: &State, pending: Option<&Batch>, actual: &State) -> String {
    let in_flight: BTreeMap<KeyId, Option<u64>> = pending
        .map(|b| {
            b.ops
                .iter()
                .map(|op| (KeyId { writer: w, index: op.index }, op.put.then_some(b.version)))
                .collect()
        })
        .unwrap_or_default();
    let keys: BTreeSet<KeyId> =
        acked.keys().chain(actual.keys()).chain(in_flight.keys()).copied().collect();
    let mut msg = match pending {
        Some(b) => format!(
            "writer {w}: the database holds neither its acknowledged state nor that state \
             plus its in-flight batch (version {})",
            b.version
        ),
        None => format!(
            "writer {w}: the database does not hold its acknowledged state (nothing was in flight)"
        ),
    };
    let mut differing = 0;
    for id in keys {
        let (a, e) = (actual.get(&id).copied(), acked.get(&id).copied());
        if a == e {
            continue;
        }
        differing += 1;
        if differing <= LIST_MAX {
            let flight = match in_flight.get(&id) {
                Some(f) => format!(", in flight {}", show(*f)),
                None => String::new(),
            };
            let _ = write!(msg, "\n  {id}: acknowledged {}{flight}, found {}", show(e), show(a));
        }
    }
    if differing > LIST_MAX {
        let _ = write!(msg, "\n  ... {} more keys differ", differing - LIST_MAX);
    }
    if let Some(b) = pending {
        let matched = in_flight.iter().filter(|(id, f)| actual.get(id).copied() == **f).count();
        if matched > 0 && matched < in_flight.len() && differing <= in_flight.len() {
            let _ = write!(
                msg,
                "\n  (batch version {} looks partly applied: {matched} of {} operations)",
                b.version,
                in_flight.len()
            );
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(writer: u32, index: u32) -> KeyId {
        KeyId { writer, index }
    }

    fn put(db: &Db, id: KeyId, version: u64) {
        db.put(id.key(), value::value(id, version, 3)).unwrap();
    }

    fn open() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), mylsm::Options::default()).unwrap();
        (dir, db)
    }

    /// Writer 0 put keys 1 and 2 at version 1 and deleted key 1 at 2; writer 1 put
    /// key 1 at version 1 and had version 2 (put key 1, put key 2) in flight.
    const HISTORY: &str = "try 0 1 0 p1,p2\nack 0 1\ntry 1 1 1 p1\nack 1 1\n\
                           try 0 2 0 d1\nack 0 2\ntry 1 2 0 p1,p2\n";

    #[test]
    fn the_acknowledged_state_passes_and_becomes_the_next_base() {
        let (_dir, db) = open();
        put(&db, id(0, 2), 1);
        put(&db, id(1, 1), 1);
        let o = check(&db, HISTORY).unwrap();
        assert_eq!(o.violations, Vec::<String>::new());
        assert_eq!(o.state, State::from([(id(0, 2), 1), (id(1, 1), 1)]));
        assert_eq!((o.applied, o.dropped, o.next_version), (vec![], vec![(1, 2)], 3));
    }

    #[test]
    fn an_in_flight_batch_applied_in_full_passes() {
        let (_dir, db) = open();
        put(&db, id(0, 2), 1);
        put(&db, id(1, 1), 2);
        put(&db, id(1, 2), 2);
        let o = check(&db, HISTORY).unwrap();
        assert_eq!(o.violations, Vec::<String>::new());
        assert_eq!(o.applied, vec![(1, 2)]);
    }

    #[test]
    fn a_partly_applied_batch_is_a_violation() {
        let (_dir, db) = open();
        put(&db, id(0, 2), 1);
        put(&db, id(1, 1), 2);
        let o = check(&db, HISTORY).unwrap();
        assert_eq!(o.violations.len(), 1, "{:?}", o.violations);
        assert!(o.violations[0].contains("partly applied"), "{}", o.violations[0]);
    }

    #[test]
    fn a_lost_acknowledged_write_is_a_violation() {
        let (_dir, db) = open();
        put(&db, id(1, 1), 1);
        let o = check(&db, HISTORY).unwrap();
        assert_eq!(o.violations.len(), 1, "{:?}", o.violations);
        assert!(o.violations[0].contains("w000-k0000002: acknowledged version 1, found absent"));
    }

    #[test]
    fn a_deleted_key_come_back_is_a_violation() {
        let (_dir, db) = open();
        put(&db, id(0, 1), 1);
        put(&db, id(0, 2), 1);
        put(&db, id(1, 1), 1);
        let o = check(&db, HISTORY).unwrap();
        assert_eq!(o.violations.len(), 1, "{:?}", o.violations);
        assert!(o.violations[0].contains("w000-k0000001: acknowledged absent, found version 1"));
    }

    #[test]
    fn garbled_values_and_foreign_keys_are_violations() {
        let (_dir, db) = open();
        put(&db, id(0, 2), 1);
        let mut torn = value::value(id(1, 1), 1, 3);
        torn.pop();
        db.put(id(1, 1).key(), torn).unwrap();
        db.put(b"stranger", b"x").unwrap();
        let o = check(&db, HISTORY).unwrap();
        let all = o.violations.join("\n");
        assert!(all.contains("checksum mismatch"), "{all}");
        assert!(all.contains("\"stranger\" was never written"), "{all}");
    }

    #[test]
    fn the_verified_state_checks_against_itself() {
        let (_dir, db) = open();
        put(&db, id(0, 2), 1);
        put(&db, id(1, 1), 1);
        let o = check(&db, HISTORY).unwrap();
        let base: String =
            o.state.iter().map(|(k, v)| format!("base {} {} {v}\n", k.writer, k.index)).collect();
        let again = check(&db, &base).unwrap();
        assert_eq!(again.violations, Vec::<String>::new());
        // A key lost after the base was verified is still caught.
        db.delete(id(0, 2).key()).unwrap();
        assert_eq!(check(&db, &base).unwrap().violations.len(), 1);
    }
}

//! The acknowledgement history `stress` prints and `stress --verify` reads: its line
//! format, and the state it says the database must hold.
//!
//! ```text
//! history := line*
//! line    := "base" writer index version    a key present in the last verified state
//!          | "try" writer version sync ops  printed (and flushed) before the write
//!          | "ack" writer version            printed after the write returned Ok
//!          | "next" version                  the first version a new run should use
//!          | "window"                        acks from here on are unknown (see below)
//!          | "#" comment | ""
//! ops     := op ("," op)*      op := "p" index | "d" index     (put / delete)
//! sync    := "0" | "1"
//! ```
//!
//! Every key belongs to one writer, and a writer has at most one write in flight, so
//! per writer the history is a total order of batches: all `ack`ed ones must be in
//! the database; the one `try` without an `ack` (if any) may be, entirely or not at
//! all. A final line without its newline was cut by the kill and is ignored: a `try`
//! is flushed before its write starts, so a cut `try` was never issued, and a cut
//! `ack` leaves its batch in flight, which is what it was.
//!
//! A `window` line says the state was captured at some instant between it and the end
//! of the history (a checkpoint or backup taken while the writers ran): `ack` lines
//! after it are ignored, and each writer's batches tried before the capture, in order,
//! may be in the state up to any point: the state holds a prefix of them.

use std::collections::BTreeMap;

use super::value::KeyId;

/// One put or delete of a batch, on key `index` of the batch's writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub index: u32,
    pub put: bool,
}

/// One write batch of one writer; every put writes [`super::value::value`] of its key
/// at `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub writer: u32,
    pub version: u64,
    pub sync: bool,
    pub ops: Vec<Op>,
}

/// The keys present and the version of the value each holds.
pub type State = BTreeMap<KeyId, u64>;

impl Batch {
    /// The `try` line announcing this batch.
    pub fn try_line(&self) -> String {
        let ops: Vec<String> = self
            .ops
            .iter()
            .map(|op| format!("{}{}", if op.put { 'p' } else { 'd' }, op.index))
            .collect();
        format!("try {} {} {} {}\n", self.writer, self.version, u8::from(self.sync), ops.join(","))
    }

    /// The `ack` line acknowledging this batch.
    pub fn ack_line(&self) -> String {
        format!("ack {} {}\n", self.writer, self.version)
    }

    /// Applies the batch to `state`.
    pub fn apply(&self, state: &mut State) {
        for op in &self.ops {
            let id = KeyId { writer: self.writer, index: op.index };
            if op.put {
                state.insert(id, self.version);
            } else {
                state.remove(&id);
            }
        }
    }
}

/// What a history says about the database.
#[derive(Debug, Default)]
pub struct History {
    /// The state after every acknowledged batch: the least the database may hold.
    pub acked: State,
    /// Per writer, the batches in flight when the run ended, oldest first: at most
    /// one, except after a `window` line.
    pub pending: BTreeMap<u32, Vec<Batch>>,
    /// The highest version anywhere in the history.
    pub max_version: u64,
    /// Acknowledged batches, and how many of them were synced.
    pub acks: u64,
    pub synced_acks: u64,
}

/// Parses a history; the error names the line.
pub fn parse(text: &str) -> Result<History, String> {
    let mut h = History::default();
    let mut last_version: BTreeMap<u32, u64> = BTreeMap::new();
    let mut tried = false;
    let mut window = false;
    // The last line is complete only if the text ends with a newline.
    let complete = text.rsplit_once('\n').map_or("", |(head, _)| head);
    for (n, line) in complete.split('\n').enumerate() {
        let err = |what: &str| format!("line {}: {what}: {line:?}", n + 1);
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        let num = |i: usize| -> Result<u64, String> {
            words.get(i).and_then(|w| w.parse().ok()).ok_or_else(|| err("bad number"))
        };
        let writer = |i: usize| -> Result<u32, String> {
            u32::try_from(num(i)?).map_err(|_| err("bad writer"))
        };
        match words.first().copied() {
            None => {}
            Some(w) if w.starts_with('#') => {}
            Some("next") => {}
            Some("window") if words.len() == 1 => window = true,
            Some("base") if words.len() == 4 => {
                if tried {
                    return Err(err("base after try"));
                }
                let id = KeyId {
                    writer: writer(1)?,
                    index: u32::try_from(num(2)?).map_err(|_| err("bad index"))?,
                };
                let version = num(3)?;
                h.acked.insert(id, version);
                h.max_version = h.max_version.max(version);
                let last = last_version.entry(id.writer).or_default();
                *last = (*last).max(version);
            }
            Some("try") if words.len() == 5 => {
                tried = true;
                let b = Batch {
                    writer: writer(1)?,
                    version: num(2)?,
                    sync: match words[3] {
                        "0" => false,
                        "1" => true,
                        _ => return Err(err("bad sync flag")),
                    },
                    ops: parse_ops(words[4]).ok_or_else(|| err("bad op list"))?,
                };
                if let Some(p) = h.pending.get(&b.writer).and_then(|p| p.last()) {
                    if !window {
                        let v = p.version;
                        return Err(err(&format!("try before version {v} was acknowledged")));
                    }
                }
                let last = last_version.entry(b.writer).or_default();
                if b.version <= *last {
                    return Err(err(&format!("version not above the writer's last, {last}")));
                }
                *last = b.version;
                h.max_version = h.max_version.max(b.version);
                h.pending.entry(b.writer).or_default().push(b);
            }
            Some("ack") if words.len() == 3 && window => {}
            Some("ack") if words.len() == 3 => {
                let (w, v) = (writer(1)?, num(2)?);
                match h.pending.remove(&w).and_then(|mut p| p.pop()) {
                    Some(b) if b.version == v => {
                        b.apply(&mut h.acked);
                        h.acks += 1;
                        h.synced_acks += u64::from(b.sync);
                    }
                    _ => return Err(err("ack without its try")),
                }
            }
            Some(_) => return Err(err("unknown line")),
        }
    }
    Ok(h)
}

fn parse_ops(list: &str) -> Option<Vec<Op>> {
    list.split(',')
        .map(|op| {
            let put = match op.as_bytes().first()? {
                b'p' => true,
                b'd' => false,
                _ => return None,
            };
            Some(Op { index: op[1..].parse().ok()?, put })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(writer: u32, index: u32) -> KeyId {
        KeyId { writer, index }
    }

    #[test]
    fn batch_lines_round_trip() {
        let b = Batch {
            writer: 3,
            version: 17,
            sync: true,
            ops: vec![Op { index: 5, put: true }, Op { index: 9, put: false }],
        };
        assert_eq!(b.try_line(), "try 3 17 1 p5,d9\n");
        let h = parse(&b.try_line()).unwrap();
        assert_eq!(h.pending.get(&3), Some(&vec![b]));
        assert!(h.acked.is_empty());
    }

    #[test]
    fn acked_batches_apply_in_order_and_the_unacked_one_is_pending() {
        let text = "# stress\nbase 0 1 4\nbase 1 2 4\n\
                    try 0 5 0 p1,p3\nack 0 5\ntry 1 5 1 d2\nack 1 5\n\
                    try 0 6 0 d1\nack 0 6\ntry 0 7 0 p1\nnext 8\n";
        let h = parse(text).unwrap();
        assert_eq!(h.acked, State::from([(id(0, 3), 5)]));
        assert_eq!(h.pending.len(), 1);
        assert_eq!(h.pending[&0][0].version, 7);
        assert_eq!((h.max_version, h.acks, h.synced_acks), (7, 3, 1));
    }

    #[test]
    fn a_line_cut_by_the_kill_is_ignored() {
        let h = parse("try 0 1 0 p1\nack 0 1\ntry 0 2 0 p").unwrap();
        assert!(h.pending.is_empty());
        assert_eq!(h.acked, State::from([(id(0, 1), 1)]));
        let h = parse("try 0 1 0 p1\nack 0").unwrap();
        assert_eq!(h.pending[&0][0].version, 1);
    }

    #[test]
    fn after_a_window_acks_are_unknown_and_batches_stack_up() {
        let h =
            parse("try 0 1 0 p1\nack 0 1\ntry 0 2 0 p1\nwindow\nack 0 2\ntry 0 3 0 d1\n").unwrap();
        assert_eq!(h.acked, State::from([(id(0, 1), 1)]));
        let versions: Vec<u64> = h.pending[&0].iter().map(|b| b.version).collect();
        assert_eq!(versions, [2, 3]);
    }

    #[test]
    fn inconsistent_histories_are_rejected() {
        for bad in [
            "try 0 1 0 p1\ntry 0 2 0 p1\n",
            "ack 0 1\n",
            "try 0 2 0 p1\nack 0 1\n",
            "try 0 2 0 p1\nack 0 2\ntry 0 2 0 p1\n",
            "base 0 1 9\ntry 0 9 0 p1\n",
            "try 0 1 0 p1\nbase 0 2 1\n",
            "try 0 1 2 p1\n",
            "try 0 1 0 x1\n",
            "bogus\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}

//! `mylsm lsm`: the shape of every keyspace's tree, for an incident: per level the
//! files, bytes, key range, how many bytes of the next level its files overlap, the
//! level's target and compaction score, and a bar per level to see the shape at a
//! glance; with `--svg`, a picture with one rectangle per table placed by key range.
//! The tables come from the manifest, the targets and scores from a read-only open, so
//! it works on a live database.

use std::io::Write;
use std::path::Path;

use mylsm::inspect::{self, TableEntry};
use mylsm::Db;
use serde_json::{json, Value};

use crate::error::CliError;
use crate::hex;
use crate::stats::human;

/// One level as `lsm` shows it.
struct Level {
    files: usize,
    bytes: u64,
    smallest: Option<Vec<u8>>,
    largest: Option<Vec<u8>>,
    /// Bytes of the next non-empty level's tables that this level's tables overlap.
    overlap_next: u64,
    target: u64,
    score: f64,
}

/// One keyspace's tree: its name, its live tables per level, its sizes and scores.
type Tree = (String, Vec<Vec<TableEntry>>, mylsm::Stats);

fn user_key(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(8)]
}

fn levels(tables: &[Vec<TableEntry>], stats: &mylsm::Stats) -> Vec<Level> {
    (0..tables.len())
        .map(|l| {
            let files = &tables[l];
            let next = tables[l + 1..].iter().find(|t| !t.is_empty());
            let overlap_next = next.map_or(0, |next| {
                next.iter()
                    .filter(|n| {
                        files.iter().any(|f| {
                            user_key(&f.smallest) <= user_key(&n.largest)
                                && user_key(&n.smallest) <= user_key(&f.largest)
                        })
                    })
                    .map(|n| n.size)
                    .sum()
            });
            let st = stats.levels.get(l);
            Level {
                files: files.len(),
                bytes: files.iter().map(|f| f.size).sum(),
                smallest: files.iter().map(|f| user_key(&f.smallest).to_vec()).min(),
                largest: files.iter().map(|f| user_key(&f.largest).to_vec()).max(),
                overlap_next,
                target: st.map_or(0, |s| s.target_bytes),
                score: st.map_or(0.0, |s| s.score),
            }
        })
        .collect()
}

/// A key for the table, cut to 24 characters.
fn show(k: &Option<Vec<u8>>) -> String {
    k.as_deref().map_or_else(
        || "-".to_string(),
        |k| {
            let s = hex::show(k);
            if s.len() > 24 {
                format!("{}…", &s[..24])
            } else {
                s
            }
        },
    )
}

/// Prints the shape of every keyspace's tree (as JSON when `json`) and, given `svg`,
/// writes its picture there.
pub fn run(db: &Db, json: bool, svg: Option<std::path::PathBuf>) -> Result<(), CliError> {
    let report = inspect::manifest(&mylsm::fs::OsFs, db.path())?;
    let mut trees: Vec<Tree> = vec![(String::from("default"), report.levels.clone(), db.stats())];
    for (_, name, tables) in &report.keyspaces {
        let stats = db.keyspace(name)?.stats();
        trees.push((name.clone(), tables.clone(), stats));
    }
    if let Some(path) = svg {
        write_svg(&path, &trees)?;
    }
    let mut out = std::io::stdout().lock();
    let text = if json { format!("{:#}\n", to_json(&trees)) } else { to_text(&trees) };
    out.write_all(text.as_bytes()).map_err(CliError::Output)
}

fn to_json(trees: &[Tree]) -> Value {
    let value: Vec<Value> = trees
        .iter()
        .map(|(name, tables, stats)| {
            let lv: Vec<Value> = levels(tables, stats)
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    json!({
                        "level": i, "files": l.files, "bytes": l.bytes,
                        "smallest": l.smallest.as_deref().map(hex::show),
                        "largest": l.largest.as_deref().map(hex::show),
                        "overlap_next_bytes": l.overlap_next,
                        // L0 is scored by file count, so it has no byte target.
                        "target_bytes": (i > 0).then_some(l.target),
                        "score": l.score,
                    })
                })
                .collect();
            json!({ "keyspace": name, "levels": lv })
        })
        .collect();
    Value::Array(value)
}

fn to_text(trees: &[Tree]) -> String {
    let mut text = String::new();
    for (name, tables, stats) in trees {
        let lv = levels(tables, stats);
        let widest = lv.iter().map(|l| l.bytes).max().unwrap_or(0).max(1);
        text += &format!("keyspace {name}\n");
        text += "level files      bytes     target  score  overlap-next  keys\n";
        for (i, l) in lv.iter().enumerate().filter(|(_, l)| l.files > 0) {
            let bar = "#".repeat(((l.bytes * 30).div_ceil(widest)) as usize);
            text += &format!(
                "L{i:<4} {:>5} {:>10} {:>10} {:>6.2} {:>13}  {} .. {}  {bar}\n",
                l.files,
                human(l.bytes),
                if i == 0 { "-".to_string() } else { human(l.target) },
                l.score,
                human(l.overlap_next),
                show(&l.smallest),
                show(&l.largest),
            );
        }
        if lv.iter().all(|l| l.files == 0) {
            text += "(no tables)\n";
        }
    }
    text
}

/// The SVG picture's geometry, in pixels.
const WIDTH: f64 = 960.0;
const LABEL: f64 = 220.0;
const ROW: f64 = 22.0;
const GAP: f64 = 6.0;

/// Writes the trees as an SVG picture to `path`: per keyspace a heading, then one row
/// per level down to the deepest with tables, one rectangle per table spanning its key
/// range (with a tooltip naming it), and the level's files, bytes and score at the left.
fn write_svg(path: &Path, trees: &[Tree]) -> Result<(), CliError> {
    let mut body = String::new();
    let mut y = 0.0;
    for (name, tables, stats) in trees {
        y += 24.0;
        body += &format!(
            "<text x=\"4\" y=\"{y}\" font-weight=\"bold\">keyspace {}</text>\n",
            xml(name)
        );
        y += GAP;
        let deepest = tables.iter().rposition(|t| !t.is_empty());
        let Some(deepest) = deepest else {
            body += &format!("<text x=\"{LABEL}\" y=\"{}\">(no tables)</text>\n", y + 15.0);
            y += ROW + GAP;
            continue;
        };
        let place = KeyScale::new(tables.iter().flatten());
        let lv = levels(tables, stats);
        for (i, files) in tables.iter().enumerate().take(deepest + 1) {
            let l = &lv[i];
            body += &format!(
                "<text x=\"4\" y=\"{}\">L{i}  {} files, {}, score {:.2}</text>\n",
                y + 15.0,
                l.files,
                human(l.bytes),
                l.score
            );
            body += &format!(
                "<rect class=\"level\" x=\"{LABEL}\" y=\"{y}\" width=\"{}\" height=\"{ROW}\" \
                 fill=\"#f4f4f4\"/>\n",
                WIDTH - LABEL - 4.0
            );
            for t in files {
                let x0 = place.x(user_key(&t.smallest));
                let x1 = place.x(user_key(&t.largest)).max(x0 + 2.0);
                let color = if i == 0 { "#e6550d" } else { "#3182bd" };
                body += &format!(
                    "<rect class=\"table\" x=\"{x0:.1}\" y=\"{}\" width=\"{:.1}\" \
                     height=\"{}\" fill=\"{color}\" fill-opacity=\"0.45\" stroke=\"{color}\">\
                     <title>{:06}.sst L{i}: {}, {} .. {}, seqnos {}..{}</title></rect>\n",
                    y + 2.0,
                    x1 - x0,
                    ROW - 4.0,
                    t.number,
                    human(t.size),
                    xml(&hex::show(user_key(&t.smallest))),
                    xml(&hex::show(user_key(&t.largest))),
                    t.smallest_seqno,
                    t.largest_seqno
                );
            }
            y += ROW + GAP;
        }
    }
    let svg = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{}\" \
         font-family=\"monospace\" font-size=\"12\">\n{body}</svg>\n",
        y + GAP
    );
    std::fs::write(path, svg).map_err(CliError::io(format!("cannot write {}", path.display())))
}

/// Places keys along the x axis of one keyspace's picture, in key order.
///
/// Keys are compared as bytes, so a key's position is its first eight bytes after the
/// prefix all of the keyspace's table bounds share, read as a big-endian number and
/// scaled between the smallest and the largest bound. That keeps the order, and spaces
/// keys like `user0001 .. user9999` by their distance rather than by their rank.
struct KeyScale {
    /// The length of the shared prefix.
    prefix: usize,
    low: f64,
    high: f64,
}

impl KeyScale {
    fn new<'a>(tables: impl Iterator<Item = &'a TableEntry> + Clone) -> KeyScale {
        let keys = || tables.clone().flat_map(|t| [user_key(&t.smallest), user_key(&t.largest)]);
        let first = keys().next().unwrap_or_default();
        let prefix = keys()
            .map(|k| k.iter().zip(first).take_while(|(a, b)| a == b).count())
            .min()
            .unwrap_or(0);
        let mut scale = KeyScale { prefix, low: 0.0, high: 0.0 };
        scale.low = keys().map(|k| scale.number(k)).fold(f64::INFINITY, f64::min);
        scale.high = keys().map(|k| scale.number(k)).fold(f64::NEG_INFINITY, f64::max);
        scale
    }

    fn number(&self, key: &[u8]) -> f64 {
        let mut eight = [0u8; 8];
        let rest = key.get(self.prefix..).unwrap_or_default();
        let n = rest.len().min(8);
        eight[..n].copy_from_slice(&rest[..n]);
        u64::from_be_bytes(eight) as f64
    }

    /// The x coordinate of `key`.
    fn x(&self, key: &[u8]) -> f64 {
        let span = (self.high - self.low).max(1.0);
        let usable = WIDTH - LABEL - 8.0;
        LABEL + 2.0 + (self.number(key) - self.low) / span * usable
    }
}

/// `text` with the characters XML gives meaning to escaped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&apos;",
            c => out.push(c),
        }
    }
    out
}

//! Manifest edits for `inspect manifest`: the engine renders each edit as Rust `Debug`
//! text (`VersionEdit { log_number: Some(6), added: [(0, FileMeta { .. })], .. }`);
//! this module parses that text and gives it back as JSON, or as one readable line.
//!
//! The engine keeps `VersionEdit` private and hands out only that rendering, so the
//! parser reads the general `Debug` grammar (structs, tuples, lists, strings, numbers,
//! identifiers) rather than one struct's layout. A few fields are then given meaning:
//! `Some(x)` becomes `x`; absent (`None`) and empty fields are left out, as the edit
//! did not set them; `smallest`/`largest` byte lists become internal keys; `added`,
//! `deleted` and `keyspace_logs` pairs become objects with named members. Text that
//! does not parse (a future engine's rendering) is kept whole under `"unparsed"`, so
//! the output stays JSON, if less useful.

use serde_json::{json, Map, Value};

use crate::hex;
use crate::inspect::internal_key_json;

/// One value of `Debug` text.
#[derive(Debug, Clone, PartialEq)]
enum Dbg {
    /// `Name { field: value, .. }`.
    Struct(Vec<(String, Dbg)>),
    /// `Name(a, b)` or `(a, b)`, with the name (empty for a plain tuple).
    Tuple(String, Vec<Dbg>),
    /// `[a, b]`.
    List(Vec<Dbg>),
    Str(String),
    /// A number, as written.
    Num(String),
    /// A bare identifier: `true`, `false`, `None`, a unit variant.
    Ident(String),
}

/// The edit `text` as a JSON object (or `{"unparsed": text}`).
pub fn to_json(text: &str) -> Value {
    match parse(text) {
        Some(value) => convert(&value, ""),
        None => json!({ "unparsed": text }),
    }
}

/// The edit `text` as one line: the fields it sets, `name value` separated by two
/// spaces, tables as `L0 000005.sst`.
pub fn to_text(text: &str) -> String {
    // The fields in the edit's own order, which the JSON object (sorted) loses.
    let Some(Dbg::Struct(fields)) = parse(text) else {
        return text.to_string();
    };
    let value = convert(&Dbg::Struct(fields.clone()), "");
    let fields = fields.iter().filter_map(|(name, _)| Some((name, value.get(name)?)));
    let table = |t: &Value| {
        let mut s = format!("L{} {:06}.sst", t["level"], t["number"].as_u64().unwrap_or(0));
        if let Some(size) = t["size"].as_u64() {
            let key = |k: &Value| k["key"].as_str().unwrap_or("").to_string();
            s += &format!(" ({size} bytes, {} .. {})", key(&t["smallest"]), key(&t["largest"]));
        }
        s
    };
    let parts: Vec<String> = fields
        .map(|(name, v)| match (name.as_str(), v.as_array()) {
            ("added" | "deleted", Some(list)) => {
                let tables: Vec<String> = list.iter().map(table).collect();
                format!("{name} {}", tables.join(", "))
            }
            (_, _) if v.is_string() => format!("{name} {}", v.as_str().unwrap_or("")),
            _ => format!("{name} {v}"),
        })
        .collect();
    parts.join("  ")
}

/// Parses all of `text` as one value; `None` if it is not `Debug` text.
fn parse(text: &str) -> Option<Dbg> {
    let mut p = Parser { s: text.as_bytes(), at: 0 };
    let value = p.value()?;
    p.ws();
    (p.at == p.s.len()).then_some(value)
}

/// A cursor over `Debug` text.
struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        self.at += usize::from(found);
        found
    }

    fn value(&mut self) -> Option<Dbg> {
        match self.peek()? {
            b'"' => self.string().map(Dbg::Str),
            b'[' => self.seq(b'[', b']').map(Dbg::List),
            b'(' => self.seq(b'(', b')').map(|items| Dbg::Tuple(String::new(), items)),
            c if c == b'-' || c.is_ascii_digit() => {
                Some(Dbg::Num(self.token(|c| c.is_ascii_alphanumeric() || b"-+.".contains(&c))))
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let name = self.token(|c| c == b'_' || c == b':' || c.is_ascii_alphanumeric());
                match self.peek() {
                    Some(b'{') => self.fields().map(Dbg::Struct),
                    Some(b'(') => self.seq(b'(', b')').map(|items| Dbg::Tuple(name, items)),
                    _ => Some(Dbg::Ident(name)),
                }
            }
            _ => None,
        }
    }

    fn token(&mut self, part: impl Fn(u8) -> bool) -> String {
        let start = self.at;
        while self.s.get(self.at).is_some_and(|&c| part(c)) {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.at]).into_owned()
    }

    /// `open a, b, close`, a trailing comma allowed.
    fn seq(&mut self, open: u8, close: u8) -> Option<Vec<Dbg>> {
        self.eat(open).then_some(())?;
        let mut items = Vec::new();
        while !self.eat(close) {
            items.push(self.value()?);
            if !self.eat(b',') && self.peek() != Some(close) {
                return None;
            }
        }
        Some(items)
    }

    /// `{ name: value, .. }`.
    fn fields(&mut self) -> Option<Vec<(String, Dbg)>> {
        self.eat(b'{').then_some(())?;
        let mut fields = Vec::new();
        while !self.eat(b'}') {
            self.ws();
            let name = self.token(|c| c == b'_' || c.is_ascii_alphanumeric());
            if name.is_empty() || !self.eat(b':') {
                return None;
            }
            fields.push((name, self.value()?));
            if !self.eat(b',') && self.peek() != Some(b'}') {
                return None;
            }
        }
        Some(fields)
    }

    /// A string literal with Rust's `Debug` escapes.
    fn string(&mut self) -> Option<String> {
        self.eat(b'"').then_some(())?;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.at)?;
            self.at += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.s.get(self.at)?;
                    self.at += 1;
                    let ch = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'0' => '\0',
                        b'\\' | b'"' | b'\'' => char::from(e),
                        b'u' => {
                            self.eat(b'{').then_some(())?;
                            let digits = self.token(|c| c.is_ascii_hexdigit());
                            self.eat(b'}').then_some(())?;
                            char::from_u32(u32::from_str_radix(&digits, 16).ok()?)?
                        }
                        _ => return None,
                    };
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }
}

/// The bytes a list of numbers spells, if every item is a byte.
fn bytes(items: &[Dbg]) -> Option<Vec<u8>> {
    items.iter().map(|i| if let Dbg::Num(n) = i { n.parse().ok() } else { None }).collect()
}

/// Converts `v`, the value of the field `field` (empty at the top), to JSON.
fn convert(v: &Dbg, field: &str) -> Value {
    match v {
        Dbg::Struct(fields) => {
            let mut object = Map::new();
            for (name, value) in fields {
                let unset = matches!(value, Dbg::Ident(i) if i == "None")
                    || matches!(value, Dbg::List(l) if l.is_empty());
                if !unset {
                    object.insert(name.clone(), convert(value, name));
                }
            }
            Value::Object(object)
        }
        Dbg::Tuple(name, items) if name == "Some" && items.len() == 1 => convert(&items[0], field),
        Dbg::Tuple(_, items) => items.iter().map(|i| convert(i, "")).collect(),
        Dbg::List(items) => list(items, field),
        Dbg::Str(s) => json!(s),
        Dbg::Num(n) => n
            .parse::<u64>()
            .map(Value::from)
            .or_else(|_| n.parse::<i64>().map(Value::from))
            .or_else(|_| n.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| json!(n)),
        Dbg::Ident(i) => match i.as_str() {
            "true" => json!(true),
            "false" => json!(false),
            "None" => Value::Null,
            other => json!(other),
        },
    }
}

/// A list field: byte lists as keys or hex, pairs as objects, else an array.
fn list(items: &[Dbg], field: &str) -> Value {
    // The names of the two members of each pair in the edit's pair lists.
    let pair_names = match field {
        "deleted" => Some(("level", "number")),
        "keyspace_logs" => Some(("keyspace", "log_number")),
        _ => None,
    };
    match (field, bytes(items)) {
        ("smallest" | "largest", Some(b)) => return internal_key_json(&b),
        (_, Some(b)) if field == "options" => return json!(hex::encode(&b)),
        _ => {}
    }
    items
        .iter()
        .map(|item| match (pair(item), field, pair_names) {
            // `added` pairs a level with a table: the table's fields, and its level.
            (Some((level, table)), "added", _) => match convert(table, "") {
                Value::Object(mut t) => {
                    let mut object = Map::from_iter([("level".to_string(), convert(level, ""))]);
                    object.append(&mut t);
                    Value::Object(object)
                }
                other => json!([convert(level, ""), other]),
            },
            (Some((a, b)), _, Some((name_a, name_b))) => {
                json!({ name_a: convert(a, ""), name_b: convert(b, "") })
            }
            _ => convert(item, ""),
        })
        .collect()
}

/// The two items of a plain tuple `(a, b)`.
fn pair(item: &Dbg) -> Option<(&Dbg, &Dbg)> {
    match item {
        Dbg::Tuple(name, pair) if name.is_empty() && pair.len() == 2 => Some((&pair[0], &pair[1])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDIT: &str = "VersionEdit { keyspace: 0, log_number: Some(6), next_file_number: \
        Some(9), last_seqno: Some(1), deleted: [(1, 4)], added: [(0, FileMeta { number: 5, \
        size: 306, smallest: [97, 1, 1, 0, 0, 0, 0, 0, 0], largest: [97, 1, 1, 0, 0, 0, 0, 0, \
        0], smallest_seqno: 1, largest_seqno: 1, has_range_dels: false, expires_by: 0, \
        global_seqno: 0 })], new_wals: [6], db_format: Some(2), keyspaces_added: \
        [KeyspaceDef { id: 1, name: \"us\\\"ers\", log_number: 6, options: [1, 255] }], \
        keyspaces_dropped: [], max_keyspace_id: None, keyspace_logs: [(1, 6)], \
        default_merge_operator: None }";

    #[test]
    fn an_edit_becomes_json_without_debug_text() {
        let v = to_json(EDIT);
        assert_eq!(v["log_number"], 6);
        assert_eq!(v["deleted"], json!([{ "level": 1, "number": 4 }]));
        let added = &v["added"][0];
        assert_eq!(added["level"], 0);
        assert_eq!(added["number"], 5);
        assert_eq!(added["smallest"], json!({ "key": "a", "seqno": 1, "kind": "put" }));
        assert_eq!(added["has_range_dels"], false);
        assert_eq!(v["keyspaces_added"][0]["name"], "us\"ers");
        assert_eq!(v["keyspaces_added"][0]["options"], "01ff");
        assert_eq!(v["keyspace_logs"], json!([{ "keyspace": 1, "log_number": 6 }]));
        assert!(v.get("max_keyspace_id").is_none() && v.get("keyspaces_dropped").is_none());
        let text = v.to_string();
        assert!(!text.contains("Some(") && !text.contains("FileMeta"), "{text}");
    }

    #[test]
    fn an_edit_reads_as_one_line() {
        let line = to_text(EDIT);
        assert!(line.contains("log_number 6"), "{line}");
        assert!(line.contains("added L0 000005.sst (306 bytes, a .. a)"), "{line}");
        assert!(line.contains("deleted L1 000004.sst"), "{line}");
    }

    #[test]
    fn text_that_is_not_debug_is_kept_whole() {
        assert_eq!(to_json("VersionEdit { x: }"), json!({ "unparsed": "VersionEdit { x: }" }));
        assert_eq!(
            parse("Some(\"a\\u{e9}\")"),
            Some(Dbg::Tuple("Some".into(), vec![Dbg::Str("aé".into())]))
        );
    }
}

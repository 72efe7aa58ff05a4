//! Generic key commands (tier 1: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, RANDOMKEY)
//! and expiry (tier 2: the EXPIRE family, TTL, PTTL, EXPIRETIME, PERSIST).

use bytes::Bytes;

use super::{int_arg, is, CmdResult, Ctx, NOT_INT, SYNTAX};
use crate::resp::{parse_int, Reply};
use crate::store::meta::{self, Meta};
use crate::store::Tx;

pub fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut tx = ctx.tx()?;
    let mut n = 0;
    let mut seen = std::collections::HashSet::new();
    for key in &args[1..] {
        if !seen.insert(&key[..]) {
            continue;
        }
        if let Some(m) = tx.meta(key)? {
            tx.delete(key, &m)?;
            n += 1;
        }
    }
    tx.commit()?;
    Ok(Reply::Int(n))
}

pub fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for key in &args[1..] {
        n += i64::from(ctx.meta(key)?.is_some());
    }
    Ok(Reply::Int(n))
}

pub fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::simple(ctx.meta(&args[1])?.map_or("none", |m| m.kind.name())))
}

pub fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pattern = &args[1];
    let mut out = Vec::new();
    let mut start = literal_prefix(pattern);
    let prefix = start.clone();
    loop {
        let (batch, next) = ctx.store.scan(ctx.target, ctx.db(), &start, 10_000, ctx.now)?;
        let past_prefix = batch.last().is_some_and(|(k, _)| !k.starts_with(&prefix));
        out.extend(
            batch.into_iter().filter(|(k, _)| glob_match(pattern, k)).map(|(k, _)| Reply::Bulk(k)),
        );
        match next {
            Some(k) if !past_prefix => start = k,
            _ => return Ok(Reply::Array(out)),
        }
    }
}

/// The bytes every key matching `pattern` starts with (up to its first wildcard).
fn literal_prefix(pattern: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' | b'?' | b'[' => break,
            b'\\' if i + 1 < pattern.len() => {
                out.push(pattern[i + 1]);
                i += 2;
            }
            b'\\' => break,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

pub fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let cursor = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(Reply::err("ERR invalid cursor"))?;
    let mut pattern = None;
    let mut count = 10usize;
    let mut kind = None;
    let mut i = 2;
    while i < args.len() {
        let value = args.get(i + 1).ok_or(Reply::err(SYNTAX))?;
        if is(&args[i], "MATCH") {
            pattern = Some(value.clone());
        } else if is(&args[i], "COUNT") {
            count = match parse_int(value) {
                Some(n) if n >= 1 => n as usize,
                Some(_) => return Err(Reply::err(SYNTAX)),
                None => return Err(Reply::err(NOT_INT)),
            };
        } else if is(&args[i], "TYPE") {
            kind = Some(String::from_utf8_lossy(value).to_ascii_lowercase());
        } else {
            return Err(Reply::err(SYNTAX));
        }
        i += 2;
    }
    let start = if cursor == 0 { Vec::new() } else { ctx.shared.cursor_key(ctx.db(), cursor) };
    let (batch, next) =
        ctx.store.scan(ctx.target, ctx.db(), &start, count.min(1 << 20), ctx.now)?;
    let keys = batch
        .into_iter()
        .filter(|(k, m)| {
            pattern.as_ref().is_none_or(|p| glob_match(p, k))
                && kind.as_deref().is_none_or(|t| t == m.kind.name())
        })
        .map(|(k, _)| Reply::Bulk(k))
        .collect();
    let next = next.map_or(0, |k| ctx.shared.save_cursor(ctx.db(), k));
    Ok(Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(keys)]))
}

fn rename_with(ctx: &mut Ctx<'_>, args: &[Bytes], nx: bool) -> CmdResult {
    let (src, dst) = (&args[1][..], &args[2][..]);
    let mut tx = ctx.tx()?;
    let Some(m) = tx.meta(src)? else {
        return Err(Reply::err("ERR no such key"));
    };
    let old_dst = tx.meta(dst)?;
    if src == dst {
        tx.commit()?;
        return Ok(if nx { Reply::Int(0) } else { Reply::OK });
    }
    if nx && old_dst.is_some() {
        tx.commit()?;
        return Ok(Reply::Int(0));
    }
    if let Some(old) = &old_dst {
        tx.delete(dst, old)?;
    }
    let moved = clone_rows(&mut tx, src, &m, dst)?;
    tx.delete(src, &m)?;
    tx.put_meta(dst, &moved);
    tx.commit()?;
    Ok(if nx { Reply::Int(1) } else { Reply::OK })
}

/// Copies the rows of collection `src` (metadata `m`) to `dst` under a new version, as
/// a collection's rows are keyed by its name; returns the metadata for `dst`, which the
/// caller writes. A string has no rows: its metadata is the copy.
fn clone_rows(tx: &mut Tx<'_>, src: &[u8], m: &Meta, dst: &[u8]) -> Result<Meta, Reply> {
    let mut copy = m.clone();
    let Some(c) = m.coll() else { return Ok(copy) };
    let version = tx.store.new_version();
    if let Some(nc) = copy.coll_mut() {
        nc.version = version;
    }
    let from = meta::sub_prefix_all(src, c.version);
    let to = meta::sub_prefix_all(dst, version);
    let rows: Vec<(Vec<u8>, Vec<u8>)> = tx
        .prefix(&from)
        .map(|r| r.map(|(k, v)| ([&to[..], &k[from.len()..]].concat(), v.to_vec())))
        .collect::<mylsm::Result<_>>()?;
    for (k, v) in rows {
        tx.put(&k, &v);
    }
    Ok(copy)
}

pub fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rename_with(ctx, args, false)
}

pub fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rename_with(ctx, args, true)
}

pub fn randomkey(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let Some(ks) = ctx.view() else { return Ok(Reply::Null) };
    // Seek to a random point among the keys and take the next live one: cheap, though
    // not uniform (a key after a wide gap is picked more often).
    for _ in 0..8 {
        let mut probe = meta::META_PREFIX.to_vec();
        probe.extend_from_slice(&rand::random::<[u8; 8]>());
        let after = ks.range(probe..).next();
        let first = || ks.prefix(meta::META_PREFIX).next();
        let Some(item) = after
            .filter(|r| r.as_ref().map_or(true, |(k, _)| k.starts_with(meta::META_PREFIX)))
            .or_else(first)
        else {
            return Ok(Reply::Null);
        };
        let (k, v) = item?;
        if Meta::decode(&v).is_some_and(|m| !m.is_expired(ctx.now)) {
            return Ok(Reply::bulk(&k[meta::META_PREFIX.len()..]));
        }
    }
    // Mostly expired keys: fall back to the first live one.
    let (keys, _) = ctx.store.scan(ctx.target, ctx.db(), b"", usize::MAX, ctx.now)?;
    Ok(keys.into_iter().next().map_or(Reply::Null, |(k, _)| Reply::Bulk(k)))
}

/// Writes `m` back with a new expiry (`None`: persistent).
fn set_expiry(tx: &mut Tx<'_>, key: &[u8], mut m: Meta, at: Option<u64>) -> Result<(), Reply> {
    if at.is_some_and(|t| t <= tx.now) {
        tx.delete(key, &m)?;
    } else {
        m.expire_at_ms = at;
        tx.put_meta(key, &m);
    }
    Ok(())
}

fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    unit_ms: i64,
    absolute: bool,
    cmd: &str,
) -> CmdResult {
    let n = int_arg(&args[2])?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        if is(a, "NX") {
            nx = true;
        } else if is(a, "XX") {
            xx = true;
        } else if is(a, "GT") {
            gt = true;
        } else if is(a, "LT") {
            lt = true;
        } else {
            return Err(Reply::error(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Reply::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Reply::err("ERR GT and LT options at the same time are not compatible"));
    }
    let invalid = || Reply::error(format!("ERR invalid expire time in '{cmd}' command"));
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if absolute { ms } else { ms.checked_add(ctx.now as i64).ok_or_else(invalid)? };
    let at = at.max(0) as u64;
    let mut tx = ctx.tx()?;
    let Some(m) = tx.meta(&args[1])? else {
        tx.commit()?;
        return Ok(Reply::Int(0));
    };
    let current = m.expire_at_ms;
    let ok = match current {
        None => !xx && !gt,
        Some(cur) => !nx && (!gt || at > cur) && (!lt || at < cur),
    };
    if ok {
        set_expiry(&mut tx, &args[1], m, Some(at))?;
    }
    tx.commit()?;
    Ok(Reply::Int(i64::from(ok)))
}

pub fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1000, false, "expire")
}

pub fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1, false, "pexpire")
}

pub fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1000, true, "expireat")
}

pub fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1, true, "pexpireat")
}

/// TTL and friends: -2 for a missing key, -1 for a persistent one.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], f: impl Fn(u64, u64) -> i64) -> CmdResult {
    Ok(Reply::Int(match ctx.meta(key)? {
        None => -2,
        Some(Meta { expire_at_ms: None, .. }) => -1,
        Some(Meta { expire_at_ms: Some(at), .. }) => f(at, ctx.now),
    }))
}

pub fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], |at, now| ((at.saturating_sub(now) + 500) / 1000) as i64)
}

pub fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], |at, now| at.saturating_sub(now) as i64)
}

pub fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], |at, _| (at / 1000) as i64)
}

pub fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], |at, _| at as i64)
}

pub fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut tx = ctx.tx()?;
    let m = tx.meta(&args[1])?;
    let changed = match m {
        Some(m) if m.expire_at_ms.is_some() => {
            set_expiry(&mut tx, &args[1], m, None)?;
            true
        }
        _ => false,
    };
    tx.commit()?;
    Ok(Reply::Int(i64::from(changed)))
}

/// Glob matching as Redis's `stringmatchlen`: `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and
/// `\` escapes.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    // Iterative with one backtrack point for the last `*`: linear in practice and
    // never recursive, so a hostile pattern cannot exhaust the stack.
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class_match(pattern, p, s[i]) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if pattern[p + 1] == s[i] {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[i] {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[p] == '['`; returns whether it
/// matched and the index after the class.
fn class_match(pattern: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = pattern.get(j) == Some(&b'^');
    if negate {
        j += 1;
    }
    let mut matched = false;
    loop {
        let b = *pattern.get(j)?;
        if b == b']' {
            break;
        }
        if b == b'\\' && j + 1 < pattern.len() {
            matched |= pattern[j + 1] == c;
            j += 2;
        } else if pattern.get(j + 1) == Some(&b'-')
            && pattern.get(j + 2).is_some_and(|&e| e != b']')
        {
            let (lo, hi) = (b.min(pattern[j + 2]), b.max(pattern[j + 2]));
            matched |= (lo..=hi).contains(&c);
            j += 3;
        } else {
            matched |= b == c;
            j += 1;
        }
    }
    Some((matched != negate, j + 1))
}

pub fn touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    exists(ctx, args)
}

/// COPY src dst [REPLACE] (DB is not supported: it would take another database's
/// key locks out of order).
pub fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let replace = match &args[3..] {
        [] => false,
        [r] if is(r, "REPLACE") => true,
        _ => return Err(Reply::err(SYNTAX)),
    };
    let (src, dst) = (&args[1][..], &args[2][..]);
    if src == dst {
        return Err(Reply::err("ERR source and destination objects are the same"));
    }
    let mut tx = ctx.tx()?;
    let Some(m) = tx.meta(src)? else {
        tx.commit()?;
        return Ok(Reply::Int(0));
    };
    let old_dst = tx.meta(dst)?;
    if old_dst.is_some() && !replace {
        tx.commit()?;
        return Ok(Reply::Int(0));
    }
    if let Some(old) = &old_dst {
        tx.delete(dst, old)?;
    }
    let copied = clone_rows(&mut tx, src, &m, dst)?;
    tx.put_meta(dst, &copied);
    tx.commit()?;
    Ok(Reply::Int(1))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn glob_matches_like_redis() {
        for (p, s, want) in [
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("key:*:x", "key:1:x", true),
            ("key:*:x", "key:1:y", false),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("", "", true),
            ("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaa", false),
        ] {
            assert_eq!(glob_match(p.as_bytes(), s.as_bytes()), want, "{p} ~ {s}");
        }
    }
}

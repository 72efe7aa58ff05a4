//! Set commands (tier 4): SADD, SREM, SPOP, SMEMBERS, SCARD, SISMEMBER. Each member is
//! one row with an empty value.

use std::collections::HashSet;

use bytes::Bytes;

use super::hashes::finish_removal;
use super::{count_arg, is, typed_tx, CmdResult, Ctx};
use crate::resp::Reply;
use crate::store::meta::{self, Kind, Meta};

pub fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let mut tx = ctx.tx()?;
    let mut m = typed_tx(&mut tx, key, Kind::Set)?
        .unwrap_or_else(|| Meta::collection(Kind::Set, tx.store.new_version()));
    let version = m.coll().map_or(0, |c| c.version);
    let mut seen = HashSet::new();
    let mut added = 0u64;
    for member in &args[2..] {
        let row = meta::field_key(key, version, member);
        if seen.insert(&member[..]) && tx.get(&row)?.is_none() {
            tx.put(&row, b"");
            added += 1;
            if let Some(c) = m.coll_mut() {
                if member[..] < c.low[..] {
                    c.low = member.to_vec();
                }
            }
        }
    }
    if added > 0 {
        if let Some(c) = m.coll_mut() {
            c.size += added;
        }
        tx.put_meta(key, &m);
    }
    tx.commit()?;
    Ok(Reply::Int(added as i64))
}

pub fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let mut tx = ctx.tx()?;
    let Some(mut m) = typed_tx(&mut tx, key, Kind::Set)? else {
        tx.commit()?;
        return Ok(Reply::Int(0));
    };
    let version = m.coll().map_or(0, |c| c.version);
    let mut seen = HashSet::new();
    let mut removed = 0u64;
    for member in &args[2..] {
        let row = meta::field_key(key, version, member);
        if seen.insert(&member[..]) && tx.get(&row)?.is_some() {
            tx.del(&row);
            removed += 1;
        }
    }
    finish_removal(&mut tx, key, &mut m, removed)?;
    tx.commit()?;
    Ok(Reply::Int(removed as i64))
}

pub fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(Reply::err(super::SYNTAX));
    }
    let count = args.get(2).map(|a| count_arg(a)).transpose()?;
    let key = &args[1];
    let mut tx = ctx.tx()?;
    let Some(mut m) = typed_tx(&mut tx, key, Kind::Set)? else {
        tx.commit()?;
        return Ok(if count.is_some() { Reply::Set(Vec::new()) } else { Reply::Null });
    };
    let Some(c) = m.coll().cloned() else { return Err(Reply::err(super::WRONGTYPE)) };
    let n = count.unwrap_or(1).min(c.size as usize);
    let prefix = meta::sub_prefix(key, c.version, meta::TAG_FIELD);
    // The smallest members, found from the set's low mark: not random, but each pop
    // costs one seek, where a random probe would wade through the tombstones that
    // earlier pops left behind (until compaction drops them).
    let mut from = prefix.clone();
    from.extend_from_slice(&c.low);
    let end = meta::prefix_end(&prefix);
    let rows: Vec<mylsm::Key> =
        tx.range(from..end).take(n).map(|r| r.map(|(k, _)| k)).collect::<mylsm::Result<_>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        tx.del(row);
        out.push(Reply::bulk(&row[prefix.len()..]));
    }
    if let (Some(last), Some(cm)) = (rows.last(), m.coll_mut()) {
        cm.low = last[prefix.len()..].to_vec();
    }
    finish_removal(&mut tx, key, &mut m, rows.len() as u64)?;
    tx.commit()?;
    match count {
        Some(_) => Ok(Reply::Set(out)),
        None => Ok(out.pop().unwrap_or(Reply::Null)),
    }
}

/// The members of a set, for reading.
fn members(ctx: &Ctx<'_>, key: &[u8]) -> Result<Vec<Vec<u8>>, Reply> {
    let Some(m) = ctx.typed(key, Kind::Set)? else { return Ok(Vec::new()) };
    let Some(ks) = ctx.view() else { return Ok(Vec::new()) };
    let prefix = meta::sub_prefix(key, m.coll().map_or(0, |c| c.version), meta::TAG_FIELD);
    let out = ks
        .prefix(&prefix)
        .map(|r| r.map(|(k, _)| k[prefix.len()..].to_vec()))
        .collect::<mylsm::Result<_>>()?;
    Ok(out)
}

pub fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Set(members(ctx, &args[1])?.into_iter().map(Reply::Bulk).collect()))
}

pub fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = ctx.typed(&args[1], Kind::Set)?;
    Ok(Reply::Int(m.and_then(|m| m.coll().map(|c| c.size)).unwrap_or(0) as i64))
}

pub fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(m) = ctx.typed(&args[1], Kind::Set)? else { return Ok(Reply::Int(0)) };
    let Some(ks) = ctx.view() else { return Ok(Reply::Int(0)) };
    let row = meta::field_key(&args[1], m.coll().map_or(0, |c| c.version), &args[2]);
    Ok(Reply::Int(i64::from(ks.get(row)?.is_some())))
}

pub fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let set: HashSet<Vec<u8>> = members(ctx, &args[1])?.into_iter().collect();
    Ok(Reply::Array(
        args[2..].iter().map(|m| Reply::Int(i64::from(set.contains(&m[..])))).collect(),
    ))
}

/// SRANDMEMBER: like SPOP, the smallest members rather than random ones; a negative
/// count repeats the first member as Redis allows repeats.
pub fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(Reply::err(super::SYNTAX));
    }
    let all = members(ctx, &args[1])?;
    let Some(count) = args.get(2) else {
        return Ok(Reply::opt_bulk(all.into_iter().next()));
    };
    let n = super::int_arg(count)?;
    let picked: Vec<Reply> = if n >= 0 {
        all.into_iter().take(n as usize).map(Reply::Bulk).collect()
    } else {
        all.first().map_or(Vec::new(), |m| vec![Reply::bulk(m.clone()); n.unsigned_abs() as usize])
    };
    Ok(Reply::Array(picked))
}

pub fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (src, dst, member) = (&args[1][..], &args[2][..], &args[3][..]);
    let mut tx = ctx.tx()?;
    // Redis's order: a missing source answers 0 before any type check.
    let Some(mut sm) = typed_tx(&mut tx, src, Kind::Set)? else {
        tx.commit()?;
        return Ok(Reply::Int(0));
    };
    let dm = typed_tx(&mut tx, dst, Kind::Set)?;
    let src_row = meta::field_key(src, sm.coll().map_or(0, |c| c.version), member);
    let present = tx.get(&src_row)?.is_some();
    if src == dst || !present {
        tx.commit()?;
        return Ok(Reply::Int(i64::from(present)));
    }
    // One batch: the member leaves the source and joins the destination together.
    tx.del(&src_row);
    finish_removal(&mut tx, src, &mut sm, 1)?;
    let mut dm = dm.unwrap_or_else(|| Meta::collection(Kind::Set, tx.store.new_version()));
    let dst_row = meta::field_key(dst, dm.coll().map_or(0, |c| c.version), member);
    if tx.get(&dst_row)?.is_none() {
        tx.put(&dst_row, b"");
        if let Some(c) = dm.coll_mut() {
            c.size += 1;
            if member < &c.low[..] {
                c.low = member.to_vec();
            }
        }
        tx.put_meta(dst, &dm);
    }
    tx.commit()?;
    Ok(Reply::Int(1))
}

/// The members of the intersection, union or difference of the sets `keys`, sorted.
fn combine(ctx: &Ctx<'_>, op: &str, keys: &[Bytes]) -> Result<Vec<Vec<u8>>, Reply> {
    let mut sets = Vec::with_capacity(keys.len());
    for k in keys {
        sets.push(members(ctx, k)?.into_iter().collect::<std::collections::BTreeSet<_>>());
    }
    let mut iter = sets.into_iter();
    let first = iter.next().unwrap_or_default();
    let out = iter.fold(first, |acc, s| match op {
        "inter" => acc.intersection(&s).cloned().collect(),
        "union" => acc.union(&s).cloned().collect(),
        _ => acc.difference(&s).cloned().collect(),
    });
    Ok(out.into_iter().collect())
}

fn combine_reply(ctx: &mut Ctx<'_>, op: &str, keys: &[Bytes]) -> CmdResult {
    Ok(Reply::Set(combine(ctx, op, keys)?.into_iter().map(Reply::Bulk).collect()))
}

pub fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_reply(ctx, "inter", &args[1..])
}

pub fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_reply(ctx, "union", &args[1..])
}

pub fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_reply(ctx, "diff", &args[1..])
}

/// Replaces `dst` with the result of `op` on `keys`; returns its size.
fn combine_store(ctx: &mut Ctx<'_>, op: &str, dst: &[u8], keys: &[Bytes]) -> CmdResult {
    let result = combine(ctx, op, keys)?;
    let mut tx = ctx.tx()?;
    if let Some(old) = tx.meta(dst)? {
        tx.delete(dst, &old)?;
    }
    if !result.is_empty() {
        let mut m = Meta::collection(Kind::Set, tx.store.new_version());
        let version = m.coll().map_or(0, |c| c.version);
        for member in &result {
            tx.put(&meta::field_key(dst, version, member), b"");
        }
        if let Some(c) = m.coll_mut() {
            c.size = result.len() as u64;
        }
        tx.put_meta(dst, &m);
    }
    tx.commit()?;
    Ok(Reply::Int(result.len() as i64))
}

pub fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_store(ctx, "inter", &args[1], &args[2..])
}

pub fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_store(ctx, "union", &args[1], &args[2..])
}

pub fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_store(ctx, "diff", &args[1], &args[2..])
}

pub fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = super::int_arg(&args[1])?;
    if n <= 0 {
        return Err(Reply::err("ERR numkeys should be greater than 0"));
    }
    let n = n as usize;
    if args.len() < 2 + n {
        return Err(Reply::err("ERR Number of keys can't be greater than number of args"));
    }
    let mut limit = 0usize;
    match &args[2 + n..] {
        [] => {}
        [l, v] if is(l, "LIMIT") => {
            limit = count_arg(v).map_err(|_| Reply::err("ERR LIMIT can't be negative"))?;
        }
        _ => return Err(Reply::err(super::SYNTAX)),
    }
    let card = combine(ctx, "inter", &args[2..2 + n])?.len();
    Ok(Reply::Int(if limit > 0 { card.min(limit) } else { card } as i64))
}

/// The MATCH pattern of SSCAN, HSCAN and ZSCAN (`key cursor [MATCH p] [COUNT n]`),
/// which answer everything in one call with cursor 0.
pub fn scan_pattern(args: &[Bytes]) -> Result<Option<Bytes>, Reply> {
    std::str::from_utf8(&args[2])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(Reply::err("ERR invalid cursor"))?;
    let mut pattern = None;
    for pair in args[3..].chunks(2) {
        match pair {
            [opt, v] if is(opt, "MATCH") => pattern = Some(v.clone()),
            [opt, v] if is(opt, "COUNT") => {
                super::int_arg(v)?;
            }
            _ => return Err(Reply::err(super::SYNTAX)),
        }
    }
    Ok(pattern)
}

pub fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pattern = scan_pattern(args)?;
    let found = members(ctx, &args[1])?
        .into_iter()
        .filter(|m| pattern.as_ref().is_none_or(|p| super::glob_match(p, m)))
        .map(Reply::Bulk)
        .collect();
    Ok(Reply::Array(vec![Reply::bulk("0"), Reply::Array(found)]))
}

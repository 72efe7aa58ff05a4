//! Set commands (tier 4): SADD, SREM, SPOP, SMEMBERS, SCARD, SISMEMBER. Each member is
//! one row with an empty value.

use std::collections::HashSet;

use bytes::Bytes;

use super::hashes::finish_removal;
use super::{count_arg, typed_tx, CmdResult, Ctx};
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
        tx.ks.range(from..end).take(n).map(|r| r.map(|(k, _)| k)).collect::<mylsm::Result<_>>()?;
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
    let Some(ks) = ctx.shared.store.keyspace(ctx.db()) else { return Ok(Vec::new()) };
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
    let Some(ks) = ctx.shared.store.keyspace(ctx.db()) else { return Ok(Reply::Int(0)) };
    let row = meta::field_key(&args[1], m.coll().map_or(0, |c| c.version), &args[2]);
    Ok(Reply::Int(i64::from(ks.get(row)?.is_some())))
}

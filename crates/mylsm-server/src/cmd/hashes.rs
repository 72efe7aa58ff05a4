//! Hash commands (tier 4): HSET, HMSET, HSETNX, HGET, HMGET, HGETALL, HKEYS, HVALS,
//! HDEL, HLEN, HEXISTS, HINCRBY. Each field is one row.

use std::collections::HashMap;

use bytes::Bytes;

use super::{int_arg, typed_tx, wrong_args, CmdResult, Ctx};
use crate::resp::{parse_int, Reply};
use crate::store::meta::{self, Kind, Meta};
use crate::store::Tx;

/// Sets fields; returns how many were new.
fn set_fields(tx: &mut Tx<'_>, key: &[u8], pairs: &[Bytes], only_new: bool) -> Result<i64, Reply> {
    let mut m = typed_tx(tx, key, Kind::Hash)?
        .unwrap_or_else(|| Meta::collection(Kind::Hash, tx.store.new_version()));
    let version = m.coll().map_or(0, |c| c.version);
    // The last value of a field repeated in one command wins.
    let mut latest: HashMap<&[u8], &[u8]> = HashMap::new();
    let mut order = Vec::new();
    for pair in pairs.chunks(2) {
        if latest.insert(&pair[0], &pair[1]).is_none() {
            order.push(&pair[0][..]);
        }
    }
    let mut added = 0;
    for field in order {
        let row = meta::field_key(key, version, field);
        let exists = tx.get(&row)?.is_some();
        if exists && only_new {
            continue;
        }
        added += i64::from(!exists);
        tx.put(&row, latest[field]);
    }
    if let Some(c) = m.coll_mut() {
        c.size += added as u64;
    }
    if added > 0 || !only_new {
        tx.put_meta(key, &m);
    }
    Ok(added)
}

pub fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(wrong_args("hset"));
    }
    let mut tx = ctx.tx()?;
    let n = set_fields(&mut tx, &args[1], &args[2..], false)?;
    tx.commit()?;
    Ok(Reply::Int(n))
}

pub fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(wrong_args("hmset"));
    }
    hset(ctx, args).map(|_| Reply::OK)
}

pub fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut tx = ctx.tx()?;
    let n = set_fields(&mut tx, &args[1], &args[2..], true)?;
    tx.commit()?;
    Ok(Reply::Int(n))
}

/// The metadata of a hash key for reading, and its version.
fn hash_version(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<(u64, u64)>, Reply> {
    Ok(ctx.typed(key, Kind::Hash)?.and_then(|m| m.coll().map(|c| (c.version, c.size))))
}

pub fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some((version, _)) = hash_version(ctx, &args[1])? else { return Ok(Reply::Null) };
    let Some(ks) = ctx.view() else { return Ok(Reply::Null) };
    Ok(Reply::opt_bulk(ks.get(meta::field_key(&args[1], version, &args[2]))?.map(|v| v.to_vec())))
}

pub fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let hv = hash_version(ctx, &args[1])?;
    let mut out = Vec::with_capacity(args.len() - 2);
    for field in &args[2..] {
        let v = match (hv, ctx.view()) {
            (Some((version, _)), Some(ks)) => {
                ks.get(meta::field_key(&args[1], version, field))?.map(|v| v.to_vec())
            }
            _ => None,
        };
        out.push(Reply::opt_bulk(v));
    }
    Ok(Reply::Array(out))
}

/// Every field and value of a hash, in field order.
/// A field and its value.
type Field = (Vec<u8>, Vec<u8>);

fn all_fields(ctx: &Ctx<'_>, key: &[u8]) -> Result<Vec<Field>, Reply> {
    let Some((version, _)) = hash_version(ctx, key)? else { return Ok(Vec::new()) };
    let Some(ks) = ctx.view() else { return Ok(Vec::new()) };
    let prefix = meta::sub_prefix(key, version, meta::TAG_FIELD);
    let rows = ks
        .prefix(&prefix)
        .map(|r| r.map(|(k, v)| (k[prefix.len()..].to_vec(), v.to_vec())))
        .collect::<mylsm::Result<_>>()?;
    Ok(rows)
}

pub fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let rows = all_fields(ctx, &args[1])?;
    Ok(Reply::Map(rows.into_iter().map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v))).collect()))
}

pub fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(all_fields(ctx, &args[1])?.into_iter().map(|(f, _)| Reply::Bulk(f)).collect()))
}

pub fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(all_fields(ctx, &args[1])?.into_iter().map(|(_, v)| Reply::Bulk(v)).collect()))
}

pub fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut tx = ctx.tx()?;
    let Some(mut m) = typed_tx(&mut tx, &args[1], Kind::Hash)? else {
        tx.commit()?;
        return Ok(Reply::Int(0));
    };
    let version = m.coll().map_or(0, |c| c.version);
    let mut removed = 0u64;
    let mut seen = std::collections::HashSet::new();
    for field in &args[2..] {
        let row = meta::field_key(&args[1], version, field);
        if seen.insert(&field[..]) && tx.get(&row)?.is_some() {
            tx.del(&row);
            removed += 1;
        }
    }
    finish_removal(&mut tx, &args[1], &mut m, removed)?;
    tx.commit()?;
    Ok(Reply::Int(removed as i64))
}

/// Lowers a collection's size by `removed`, deleting the key when it empties.
pub fn finish_removal(
    tx: &mut Tx<'_>,
    key: &[u8],
    m: &mut Meta,
    removed: u64,
) -> Result<(), Reply> {
    if removed == 0 {
        return Ok(());
    }
    let Some(c) = m.coll_mut() else { return Ok(()) };
    c.size = c.size.saturating_sub(removed);
    if c.size == 0 {
        tx.delete(key, m)?;
    } else {
        tx.put_meta(key, m);
    }
    Ok(())
}

pub fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(hash_version(ctx, &args[1])?.map_or(0, |(_, n)| n as i64)))
}

pub fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some((version, _)) = hash_version(ctx, &args[1])? else { return Ok(Reply::Int(0)) };
    let Some(ks) = ctx.view() else { return Ok(Reply::Int(0)) };
    Ok(Reply::Int(i64::from(ks.get(meta::field_key(&args[1], version, &args[2]))?.is_some())))
}

pub fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let delta = int_arg(&args[3])?;
    let mut tx = ctx.tx()?;
    let mut m = typed_tx(&mut tx, &args[1], Kind::Hash)?
        .unwrap_or_else(|| Meta::collection(Kind::Hash, tx.store.new_version()));
    let version = m.coll().map_or(0, |c| c.version);
    let row = meta::field_key(&args[1], version, &args[2]);
    let old = tx.get(&row)?;
    let n = match &old {
        Some(v) => parse_int(v).ok_or(Reply::err("ERR hash value is not an integer"))?,
        None => 0,
    };
    let n = n.checked_add(delta).ok_or(Reply::err("ERR increment or decrement would overflow"))?;
    tx.put(&row, n.to_string().as_bytes());
    if old.is_none() {
        if let Some(c) = m.coll_mut() {
            c.size += 1;
        }
        tx.put_meta(&args[1], &m);
    }
    tx.commit()?;
    Ok(Reply::Int(n))
}

pub fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some((version, _)) = hash_version(ctx, &args[1])? else { return Ok(Reply::Int(0)) };
    let Some(ks) = ctx.view() else { return Ok(Reply::Int(0)) };
    let v = ks.get(meta::field_key(&args[1], version, &args[2]))?;
    Ok(Reply::Int(v.map_or(0, |v| v.len() as i64)))
}

pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let delta = super::float_arg(&args[3])?;
    let mut tx = ctx.tx()?;
    let mut m = typed_tx(&mut tx, &args[1], Kind::Hash)?
        .unwrap_or_else(|| Meta::collection(Kind::Hash, tx.store.new_version()));
    let version = m.coll().map_or(0, |c| c.version);
    let row = meta::field_key(&args[1], version, &args[2]);
    let old = tx.get(&row)?;
    let n = match &old {
        Some(v) => super::parse_float(v).ok_or(Reply::err("ERR hash value is not a float"))?,
        None => 0.0,
    };
    let sum = n + delta;
    if !sum.is_finite() {
        return Err(Reply::err("ERR increment would produce NaN or Infinity"));
    }
    let text = crate::resp::format_double(sum);
    tx.put(&row, text.as_bytes());
    if old.is_none() {
        if let Some(c) = m.coll_mut() {
            c.size += 1;
        }
        tx.put_meta(&args[1], &m);
    }
    tx.commit()?;
    Ok(Reply::bulk(text))
}

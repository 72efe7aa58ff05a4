//! List commands (tier 4): LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LRANGE, LLEN,
//! LINDEX. Elements are rows indexed by a u64 that grows at the tail and shrinks at the
//! head, so every push and pop touches one row plus the metadata.

use bytes::Bytes;

use super::{clamp_range, count_arg, int_arg, typed_tx, CmdResult, Ctx};
use crate::resp::Reply;
use crate::store::meta::{self, Kind, Meta};

fn push(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool, only_existing: bool) -> CmdResult {
    let key = &args[1];
    let mut tx = ctx.tx()?;
    let m = typed_tx(&mut tx, key, Kind::List)?;
    if m.is_none() && only_existing {
        tx.commit()?;
        return Ok(Reply::Int(0));
    }
    let mut m = m.unwrap_or_else(|| Meta::collection(Kind::List, tx.store.new_version()));
    let Some(c) = m.coll_mut() else { return Err(Reply::err(super::WRONGTYPE)) };
    let mut rows = Vec::with_capacity(args.len() - 2);
    for e in &args[2..] {
        let index = if left {
            c.head -= 1;
            c.head
        } else {
            c.tail += 1;
            c.tail - 1
        };
        rows.push((meta::list_key(key, c.version, index), e));
    }
    c.size += (args.len() - 2) as u64;
    let size = c.size;
    for (k, e) in rows {
        tx.put(&k, e);
    }
    tx.put_meta(key, &m);
    tx.commit()?;
    Ok(Reply::Int(size as i64))
}

pub fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, true, false)
}

pub fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, false, false)
}

pub fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, true, true)
}

pub fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, false, true)
}

fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(super::wrong_args(if left { "lpop" } else { "rpop" }));
    }
    let count = args.get(2).map(|a| count_arg(a)).transpose()?;
    let key = &args[1];
    let mut tx = ctx.tx()?;
    let Some(mut m) = typed_tx(&mut tx, key, Kind::List)? else {
        tx.commit()?;
        return Ok(if count.is_some() { Reply::NullArray } else { Reply::Null });
    };
    let Some(c) = m.coll_mut() else { return Err(Reply::err(super::WRONGTYPE)) };
    let n = count.unwrap_or(1).min(c.size as usize);
    let range =
        tx.ks.range(meta::list_key(key, c.version, c.head)..meta::list_key(key, c.version, c.tail));
    let rows: Vec<(mylsm::Key, mylsm::Value)> = if left {
        range.take(n).collect::<mylsm::Result<_>>()?
    } else {
        range.rev().take(n).collect::<mylsm::Result<_>>()?
    };
    let mut out = Vec::with_capacity(n);
    for (k, v) in rows {
        tx.del(&k);
        out.push(Reply::Bulk(v.to_vec()));
    }
    if left {
        c.head += n as u64;
    } else {
        c.tail -= n as u64;
    }
    c.size -= n as u64;
    if c.size == 0 {
        tx.delete(key, &m)?;
    } else {
        tx.put_meta(key, &m);
    }
    tx.commit()?;
    if count.is_some() {
        Ok(Reply::Array(out))
    } else {
        Ok(out.pop().unwrap_or(Reply::Null))
    }
}

pub fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, true)
}

pub fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, false)
}

pub fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let start = int_arg(&args[2])?;
    let stop = int_arg(&args[3])?;
    let Some(m) = ctx.typed(&args[1], Kind::List)? else { return Ok(Reply::Array(Vec::new())) };
    let Some(c) = m.coll() else { return Ok(Reply::Array(Vec::new())) };
    let Some((from, to)) = clamp_range(start, stop, c.size) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some(ks) = ctx.shared.store.keyspace(ctx.db()) else { return Ok(Reply::Array(Vec::new())) };
    let lo = meta::list_key(&args[1], c.version, c.head + from);
    let hi = meta::list_key(&args[1], c.version, c.head + to + 1);
    let out = ks
        .range(lo..hi)
        .map(|r| r.map(|(_, v)| Reply::Bulk(v.to_vec())))
        .collect::<mylsm::Result<_>>()?;
    Ok(Reply::Array(out))
}

pub fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = ctx.typed(&args[1], Kind::List)?;
    Ok(Reply::Int(m.and_then(|m| m.coll().map(|c| c.size)).unwrap_or(0) as i64))
}

pub fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let index = int_arg(&args[2])?;
    let Some(m) = ctx.typed(&args[1], Kind::List)? else { return Ok(Reply::Null) };
    let Some(c) = m.coll() else { return Ok(Reply::Null) };
    let Some((i, _)) = clamp_range(index, index, c.size)
        .filter(|_| index < c.size as i64 && -index <= c.size as i64)
    else {
        return Ok(Reply::Null);
    };
    let Some(ks) = ctx.shared.store.keyspace(ctx.db()) else { return Ok(Reply::Null) };
    Ok(Reply::opt_bulk(
        ks.get(meta::list_key(&args[1], c.version, c.head + i))?.map(|v| v.to_vec()),
    ))
}

//! List commands (tier 4): LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LRANGE, LLEN,
//! LINDEX. Elements are rows indexed by a u64 that grows at the tail and shrinks at the
//! head, so every push and pop touches one row plus the metadata.

use bytes::Bytes;

use super::{clamp_range, count_arg, int_arg, is, typed_tx, CmdResult, Ctx};
use crate::resp::Reply;
use crate::store::meta::{self, Kind, Meta};
use crate::store::Tx;

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
        tx.range(meta::list_key(key, c.version, c.head)..meta::list_key(key, c.version, c.tail));
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
    let Some(ks) = ctx.view() else { return Ok(Reply::Array(Vec::new())) };
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
    let Some(ks) = ctx.view() else { return Ok(Reply::Null) };
    Ok(Reply::opt_bulk(
        ks.get(meta::list_key(&args[1], c.version, c.head + i))?.map(|v| v.to_vec()),
    ))
}

/// Every element of a list, in order (for the commands that rewrite it).
fn elements(tx: &Tx<'_>, key: &[u8], m: &Meta) -> Result<Vec<Vec<u8>>, Reply> {
    let Some(c) = m.coll() else { return Ok(Vec::new()) };
    let rows =
        tx.range(meta::list_key(key, c.version, c.head)..meta::list_key(key, c.version, c.tail));
    Ok(rows.map(|r| r.map(|(_, v)| v.to_vec())).collect::<mylsm::Result<_>>()?)
}

/// Replaces the list `key` with `items` (deleting it when empty), under a new version
/// so that the new rows are contiguous from the middle index again; keeps its expiry.
fn rewrite(tx: &mut Tx<'_>, key: &[u8], old: &Meta, items: &[Vec<u8>]) -> Result<(), Reply> {
    tx.delete(key, old)?;
    if items.is_empty() {
        return Ok(());
    }
    let mut m = Meta::collection(Kind::List, tx.store.new_version());
    m.expire_at_ms = old.expire_at_ms;
    if let Some(c) = m.coll_mut() {
        for item in items {
            tx.put(&meta::list_key(key, c.version, c.tail), item);
            c.tail += 1;
        }
        c.size = items.len() as u64;
    }
    tx.put_meta(key, &m);
    Ok(())
}

pub fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let index = int_arg(&args[2])?;
    let mut tx = ctx.tx()?;
    let Some(m) = typed_tx(&mut tx, &args[1], Kind::List)? else {
        return Err(Reply::err("ERR no such key"));
    };
    let Some(c) = m.coll() else { return Err(Reply::err(super::WRONGTYPE)) };
    let size = c.size as i64;
    let i = if index < 0 { size + index } else { index };
    if !(0..size).contains(&i) {
        return Err(Reply::err("ERR index out of range"));
    }
    tx.put(&meta::list_key(&args[1], c.version, c.head + i as u64), &args[3]);
    tx.commit()?;
    Ok(Reply::OK)
}

pub fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, stop) = (int_arg(&args[2])?, int_arg(&args[3])?);
    let mut tx = ctx.tx()?;
    let Some(mut m) = typed_tx(&mut tx, &args[1], Kind::List)? else {
        tx.commit()?;
        return Ok(Reply::OK);
    };
    let Some(c) = m.coll_mut() else { return Err(Reply::err(super::WRONGTYPE)) };
    let Some((from, to)) = clamp_range(start, stop, c.size) else {
        tx.delete(&args[1], &m)?;
        tx.commit()?;
        return Ok(Reply::OK);
    };
    let (version, head, tail) = (c.version, c.head, c.tail);
    for i in (head..head + from).chain(head + to + 1..tail) {
        tx.del(&meta::list_key(&args[1], version, i));
    }
    c.tail = head + to + 1;
    c.head = head + from;
    c.size = to - from + 1;
    tx.put_meta(&args[1], &m);
    tx.commit()?;
    Ok(Reply::OK)
}

pub fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = int_arg(&args[2])?;
    let mut tx = ctx.tx()?;
    let Some(m) = typed_tx(&mut tx, &args[1], Kind::List)? else {
        tx.commit()?;
        return Ok(Reply::Int(0));
    };
    let mut items = elements(&tx, &args[1], &m)?;
    let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
    let mut removed = 0;
    let matches: Vec<usize> =
        items.iter().enumerate().filter(|(_, e)| e[..] == args[3][..]).map(|(i, _)| i).collect();
    let chosen: Vec<usize> = if count < 0 {
        matches.into_iter().rev().take(limit).collect()
    } else {
        matches.into_iter().take(limit).collect()
    };
    let mut keep = vec![true; items.len()];
    for i in chosen {
        keep[i] = false;
        removed += 1;
    }
    if removed > 0 {
        let mut k = keep.iter();
        items.retain(|_| *k.next().unwrap_or(&true));
        rewrite(&mut tx, &args[1], &m, &items)?;
    }
    tx.commit()?;
    Ok(Reply::Int(removed))
}

pub fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let before = if is(&args[2], "BEFORE") {
        true
    } else if is(&args[2], "AFTER") {
        false
    } else {
        return Err(Reply::err(super::SYNTAX));
    };
    let mut tx = ctx.tx()?;
    let Some(m) = typed_tx(&mut tx, &args[1], Kind::List)? else {
        tx.commit()?;
        return Ok(Reply::Int(0));
    };
    let mut items = elements(&tx, &args[1], &m)?;
    let Some(at) = items.iter().position(|e| e[..] == args[3][..]) else {
        tx.commit()?;
        return Ok(Reply::Int(-1));
    };
    items.insert(if before { at } else { at + 1 }, args[4].to_vec());
    rewrite(&mut tx, &args[1], &m, &items)?;
    tx.commit()?;
    Ok(Reply::Int(items.len() as i64))
}

pub fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    for pair in args[3..].chunks(2) {
        match pair {
            [o, v] if is(o, "RANK") => {
                rank = int_arg(v)?;
                if rank == 0 {
                    return Err(Reply::err(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    ));
                }
            }
            [o, v] if is(o, "COUNT") => {
                count = Some(count_arg(v).map_err(|_| Reply::err("ERR COUNT can't be negative"))?)
            }
            [o, v] if is(o, "MAXLEN") => {
                maxlen = count_arg(v).map_err(|_| Reply::err("ERR MAXLEN can't be negative"))?
            }
            _ => return Err(Reply::err(super::SYNTAX)),
        }
    }
    let tx = ctx.tx()?;
    let Some(m) = ctx.typed(&args[1], Kind::List)? else {
        return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Null });
    };
    let items = elements(&tx, &args[1], &m)?;
    let len = items.len();
    let order: Box<dyn Iterator<Item = usize>> =
        if rank > 0 { Box::new(0..len) } else { Box::new((0..len).rev()) };
    let scan = if maxlen > 0 { maxlen } else { usize::MAX };
    let want = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let found: Vec<Reply> = order
        .take(scan)
        .filter(|&i| items[i][..] == args[2][..])
        .skip(rank.unsigned_abs() as usize - 1)
        .take(want)
        .map(|i| Reply::Int(i as i64))
        .collect();
    Ok(match count {
        Some(_) => Reply::Array(found),
        None => found.into_iter().next().unwrap_or(Reply::Null),
    })
}

/// Pops from one end of `src` and pushes onto one end of `dst` (the same list allowed).
fn move_element(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> CmdResult {
    let mut tx = ctx.tx()?;
    let Some(mut sm) = typed_tx(&mut tx, src, Kind::List)? else {
        tx.commit()?;
        return Ok(Reply::Null);
    };
    let dm = if src == dst { None } else { typed_tx(&mut tx, dst, Kind::List)? };
    let Some(c) = sm.coll_mut() else { return Err(Reply::err(super::WRONGTYPE)) };
    let index = if from_left { c.head } else { c.tail - 1 };
    let row = meta::list_key(src, c.version, index);
    let Some(value) = tx.get(&row)?.map(|v| v.to_vec()) else {
        return Err(Reply::err("ERR list row missing"));
    };
    tx.del(&row);
    if from_left {
        c.head += 1;
    } else {
        c.tail -= 1;
    }
    c.size -= 1;
    // The destination's header: the source's own when they are one list.
    let same = src == dst;
    let mut dm = if same {
        sm.clone()
    } else {
        dm.unwrap_or_else(|| Meta::collection(Kind::List, tx.store.new_version()))
    };
    if let Some(d) = dm.coll_mut() {
        let at = if to_left {
            d.head -= 1;
            d.head
        } else {
            d.tail += 1;
            d.tail - 1
        };
        tx.put(&meta::list_key(dst, d.version, at), &value);
        d.size += 1;
    }
    if !same {
        if sm.coll().is_some_and(|c| c.size == 0) {
            tx.delete(src, &sm)?;
        } else {
            tx.put_meta(src, &sm);
        }
    }
    tx.put_meta(dst, &dm);
    tx.commit()?;
    Ok(Reply::bulk(value))
}

pub fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    move_element(ctx, &args[1], &args[2], false, true)
}

pub fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let side = |a: &[u8]| {
        if is(a, "LEFT") {
            Ok(true)
        } else if is(a, "RIGHT") {
            Ok(false)
        } else {
            Err(Reply::err(super::SYNTAX))
        }
    };
    let (from, to) = (side(&args[3])?, side(&args[4])?);
    move_element(ctx, &args[1], &args[2], from, to)
}

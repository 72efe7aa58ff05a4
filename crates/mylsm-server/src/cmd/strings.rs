//! String commands (tier 1): GET, SET and its variants, MGET, MSET, APPEND, ranges and
//! the counters.

use bytes::Bytes;

use super::{
    float_arg, int_arg, is, parse_float, wrong_args, CmdResult, Ctx, NOT_INT, SYNTAX, WRONGTYPE,
};
use crate::resp::{format_double, parse_int, Reply};
use crate::store::meta::{Body, Kind, Meta};
use crate::store::Tx;

/// The largest string SETRANGE, APPEND and SETBIT may build: what the engine can store
/// with the envelope (Redis's limit, `proto-max-bulk-len`, is 512 MiB).
const MAX_STRING: usize = mylsm::MAX_VALUE_LEN - 16;

/// A string's value and expiry.
type StringValue = (Vec<u8>, Option<u64>);

/// The value of a string key; WRONGTYPE for another type.
fn string_of(m: Option<Meta>) -> Result<Option<StringValue>, Reply> {
    match m {
        None => Ok(None),
        Some(Meta { body: Body::String(v), expire_at_ms, .. }) => Ok(Some((v, expire_at_ms))),
        Some(_) => Err(Reply::err(WRONGTYPE)),
    }
}

/// Replaces whatever `key` holds with a string.
fn put_string(
    tx: &mut Tx<'_>,
    key: &[u8],
    old: Option<&Meta>,
    value: Vec<u8>,
    expire_at_ms: Option<u64>,
) -> Result<(), Reply> {
    if let Some(old) = old.filter(|m| m.kind != Kind::String) {
        tx.delete(key, old)?;
    }
    if expire_at_ms.is_some_and(|at| at <= tx.now) {
        // Redis deletes a key given an expiry in the past.
        if let Some(old) = old {
            tx.delete(key, old)?;
        }
        return Ok(());
    }
    tx.put_meta(key, &Meta::string(value, expire_at_ms));
    Ok(())
}

pub fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::opt_bulk(string_of(ctx.meta(&args[1])?)?.map(|(v, _)| v)))
}

/// An expiry option: where it puts the expiry (absolute ms).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expiry {
    At(u64),
    Keep,
    Persist,
}

/// Turns `EX n`, `PX n`, `EXAT n` or `PXAT n` into an absolute time; the error names
/// the command, as Redis's does.
fn expiry_arg(unit: &[u8], n: &[u8], now: u64, cmd: &str) -> Result<u64, Reply> {
    let n = parse_int(n).ok_or(Reply::err(NOT_INT))?;
    let invalid = || Reply::error(format!("ERR invalid expire time in '{cmd}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = if is(unit, "EX") || is(unit, "EXAT") {
        n.checked_mul(1000).ok_or_else(invalid)?
    } else {
        n
    };
    let at = if is(unit, "EX") || is(unit, "PX") {
        ms.checked_add(now as i64).ok_or_else(invalid)?
    } else {
        ms
    };
    Ok(at as u64)
}

pub fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut expiry = None;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i][..];
        let next = args.get(i + 1);
        if is(a, "NX") && !xx {
            nx = true;
        } else if is(a, "XX") && !nx {
            xx = true;
        } else if is(a, "GET") {
            get = true;
        } else if is(a, "KEEPTTL") && expiry.is_none() {
            expiry = Some(Expiry::Keep);
        } else if ["EX", "PX", "EXAT", "PXAT"].iter().any(|u| is(a, u))
            && expiry.is_none()
            && next.is_some()
        {
            let n = next.ok_or(Reply::err(SYNTAX))?;
            expiry = Some(Expiry::At(expiry_arg(a, n, ctx.now, "set")?));
            i += 1;
        } else {
            return Err(Reply::err(SYNTAX));
        }
        i += 1;
    }
    let key = &args[1];
    let mut tx = ctx.tx()?;
    let old = tx.meta(key)?;
    let old_value = if get { string_of(old.clone())? } else { None };
    let reply_old =
        || if get { Reply::opt_bulk(old_value.clone().map(|(v, _)| v)) } else { Reply::Null };
    if (nx && old.is_some()) || (xx && old.is_none()) {
        tx.commit()?;
        return Ok(reply_old());
    }
    let expire_at = match expiry {
        Some(Expiry::At(at)) => Some(at),
        Some(Expiry::Keep) => old.as_ref().and_then(|m| m.expire_at_ms),
        _ => None,
    };
    put_string(&mut tx, key, old.as_ref(), args[2].to_vec(), expire_at)?;
    tx.commit()?;
    Ok(if get { reply_old() } else { Reply::OK })
}

pub fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut tx = ctx.tx()?;
    if tx.meta(&args[1])?.is_some() {
        tx.commit()?;
        return Ok(Reply::Int(0));
    }
    put_string(&mut tx, &args[1], None, args[2].to_vec(), None)?;
    tx.commit()?;
    Ok(Reply::Int(1))
}

fn setex_with(ctx: &mut Ctx<'_>, args: &[Bytes], unit: &str, cmd: &str) -> CmdResult {
    let at = expiry_arg(unit.as_bytes(), &args[2], ctx.now, cmd)?;
    let mut tx = ctx.tx()?;
    let old = tx.meta(&args[1])?;
    put_string(&mut tx, &args[1], old.as_ref(), args[3].to_vec(), Some(at))?;
    tx.commit()?;
    Ok(Reply::OK)
}

pub fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    setex_with(ctx, args, "EX", "setex")
}

pub fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    setex_with(ctx, args, "PX", "psetex")
}

pub fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut tx = ctx.tx()?;
    let old = tx.meta(&args[1])?;
    let value = string_of(old.clone())?;
    put_string(&mut tx, &args[1], old.as_ref(), args[2].to_vec(), None)?;
    tx.commit()?;
    Ok(Reply::opt_bulk(value.map(|(v, _)| v)))
}

pub fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut tx = ctx.tx()?;
    let old = tx.meta(&args[1])?;
    let value = string_of(old.clone())?;
    if let Some(m) = &old {
        tx.delete(&args[1], m)?;
    }
    tx.commit()?;
    Ok(Reply::opt_bulk(value.map(|(v, _)| v)))
}

pub fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut expiry = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i][..];
        if is(a, "PERSIST") && expiry.is_none() {
            expiry = Some(Expiry::Persist);
        } else if ["EX", "PX", "EXAT", "PXAT"].iter().any(|u| is(a, u))
            && expiry.is_none()
            && i + 1 < args.len()
        {
            expiry = Some(Expiry::At(expiry_arg(a, &args[i + 1], ctx.now, "getex")?));
            i += 1;
        } else {
            return Err(Reply::err(SYNTAX));
        }
        i += 1;
    }
    let mut tx = ctx.tx()?;
    let old = tx.meta(&args[1])?;
    let Some((value, at)) = string_of(old.clone())? else {
        tx.commit()?;
        return Ok(Reply::Null);
    };
    let new_at = match expiry {
        None => at,
        Some(Expiry::Persist) => None,
        Some(Expiry::At(t)) => Some(t),
        Some(Expiry::Keep) => at,
    };
    if new_at != at {
        put_string(&mut tx, &args[1], old.as_ref(), value.clone(), new_at)?;
    }
    tx.commit()?;
    Ok(Reply::bulk(value))
}

pub fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut out = Vec::with_capacity(args.len() - 1);
    for key in &args[1..] {
        // MGET answers nil, not WRONGTYPE, for a key of another type.
        let v = match ctx.meta(key)? {
            Some(Meta { body: Body::String(v), .. }) => Reply::Bulk(v),
            _ => Reply::Null,
        };
        out.push(v);
    }
    Ok(Reply::Array(out))
}

pub fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(wrong_args("mset"));
    }
    let mut tx = ctx.tx()?;
    for pair in args[1..].chunks(2) {
        let old = tx.meta(&pair[0])?;
        put_string(&mut tx, &pair[0], old.as_ref(), pair[1].to_vec(), None)?;
    }
    tx.commit()?;
    Ok(Reply::OK)
}

pub fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(wrong_args("msetnx"));
    }
    let mut tx = ctx.tx()?;
    for pair in args[1..].chunks(2) {
        if tx.meta(&pair[0])?.is_some() {
            tx.commit()?;
            return Ok(Reply::Int(0));
        }
    }
    for pair in args[1..].chunks(2) {
        put_string(&mut tx, &pair[0], None, pair[1].to_vec(), None)?;
    }
    tx.commit()?;
    Ok(Reply::Int(1))
}

pub fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut tx = ctx.tx()?;
    let old = tx.meta(&args[1])?;
    let (mut value, at) = string_of(old.clone())?.unwrap_or_default();
    if value.len() + args[2].len() > MAX_STRING {
        return Err(Reply::err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
    }
    value.extend_from_slice(&args[2]);
    let len = value.len();
    put_string(&mut tx, &args[1], old.as_ref(), value, at)?;
    tx.commit()?;
    Ok(Reply::Int(len as i64))
}

pub fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(string_of(ctx.meta(&args[1])?)?.map_or(0, |(v, _)| v.len() as i64)))
}

pub fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let start = int_arg(&args[2])?;
    let end = int_arg(&args[3])?;
    let value = string_of(ctx.meta(&args[1])?)?.map(|(v, _)| v).unwrap_or_default();
    // Redis: an empty result when start > end after normalizing, and `end` clamps.
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::bulk(Vec::new()));
    }
    let len = value.len() as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { (len + end).max(0) } else { end }.min(len - 1);
    if len == 0 || start > end {
        return Ok(Reply::bulk(Vec::new()));
    }
    Ok(Reply::bulk(&value[start as usize..=end as usize]))
}

pub fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = int_arg(&args[2])?;
    if offset < 0 {
        return Err(Reply::err("ERR offset is out of range"));
    }
    let offset = offset as usize;
    let patch = &args[3];
    let mut tx = ctx.tx()?;
    let old = tx.meta(&args[1])?;
    let (mut value, at) = string_of(old.clone())?.unwrap_or_default();
    if patch.is_empty() {
        tx.commit()?;
        return Ok(Reply::Int(value.len() as i64));
    }
    if offset.saturating_add(patch.len()) > MAX_STRING {
        return Err(Reply::err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
    }
    if value.len() < offset + patch.len() {
        value.resize(offset + patch.len(), 0);
    }
    value[offset..offset + patch.len()].copy_from_slice(patch);
    let len = value.len();
    put_string(&mut tx, &args[1], old.as_ref(), value, at)?;
    tx.commit()?;
    Ok(Reply::Int(len as i64))
}

/// Adds `delta` to the integer in `key` (0 if absent), keeping its expiry.
fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> CmdResult {
    let mut tx = ctx.tx()?;
    let old = tx.meta(key)?;
    let (value, at) = string_of(old.clone())?.unwrap_or_else(|| (b"0".to_vec(), None));
    let n = parse_int(&value).ok_or(Reply::err(NOT_INT))?;
    let n = n.checked_add(delta).ok_or(Reply::err("ERR increment or decrement would overflow"))?;
    put_string(&mut tx, key, old.as_ref(), n.to_string().into_bytes(), at)?;
    tx.commit()?;
    Ok(Reply::Int(n))
}

pub fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], 1)
}

pub fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], -1)
}

pub fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let d = int_arg(&args[2])?;
    incr_by(ctx, &args[1], d)
}

pub fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let d = int_arg(&args[2])?;
    let d = d.checked_neg().ok_or(Reply::err("ERR decrement would overflow"))?;
    incr_by(ctx, &args[1], d)
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let delta = float_arg(&args[2])?;
    let mut tx = ctx.tx()?;
    let old = tx.meta(&args[1])?;
    let (value, at) = string_of(old.clone())?.unwrap_or_else(|| (b"0".to_vec(), None));
    let n = parse_float(&value).ok_or(Reply::err(super::NOT_FLOAT))?;
    let sum = n + delta;
    if !sum.is_finite() {
        return Err(Reply::err("ERR increment would produce NaN or Infinity"));
    }
    let text = format_double(sum).into_bytes();
    put_string(&mut tx, &args[1], old.as_ref(), text.clone(), at)?;
    tx.commit()?;
    Ok(Reply::bulk(text))
}

/// A bit offset as SETBIT and GETBIT take it: 0 ..= 2^32 - 1.
fn bit_offset(arg: &[u8]) -> Result<usize, Reply> {
    match parse_int(arg) {
        Some(n) if (0..1 << 32).contains(&n) && (n as usize) / 8 < MAX_STRING => Ok(n as usize),
        _ => Err(Reply::err("ERR bit offset is not an integer or out of range")),
    }
}

pub fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(&args[2])?;
    let value = string_of(ctx.meta(&args[1])?)?.map(|(v, _)| v).unwrap_or_default();
    let bit = value.get(offset / 8).map_or(0, |b| (b >> (7 - offset % 8)) & 1);
    Ok(Reply::Int(i64::from(bit)))
}

pub fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(&args[2])?;
    let on = match &args[3][..] {
        b"0" => false,
        b"1" => true,
        _ => return Err(Reply::err("ERR bit is not an integer or out of range")),
    };
    let mut tx = ctx.tx()?;
    let old = tx.meta(&args[1])?;
    let (mut value, at) = string_of(old.clone())?.unwrap_or_default();
    if value.len() <= offset / 8 {
        value.resize(offset / 8 + 1, 0);
    }
    let mask = 1u8 << (7 - offset % 8);
    let was = value[offset / 8] & mask != 0;
    if on {
        value[offset / 8] |= mask;
    } else {
        value[offset / 8] &= !mask;
    }
    put_string(&mut tx, &args[1], old.as_ref(), value, at)?;
    tx.commit()?;
    Ok(Reply::Int(i64::from(was)))
}

pub fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let value = string_of(ctx.meta(&args[1])?)?.map(|(v, _)| v).unwrap_or_default();
    let ones = |bytes: &[u8]| bytes.iter().map(|b| i64::from(b.count_ones())).sum::<i64>();
    match args.len() {
        2 => Ok(Reply::Int(ones(&value))),
        4 | 5 => {
            let (start, end) = (int_arg(&args[2])?, int_arg(&args[3])?);
            let bits = match args.get(4) {
                None => false,
                Some(u) if is(u, "BYTE") => false,
                Some(u) if is(u, "BIT") => true,
                Some(_) => return Err(Reply::err(SYNTAX)),
            };
            let len = if bits { value.len() as u64 * 8 } else { value.len() as u64 };
            let Some((from, to)) = super::clamp_range(start, end, len) else {
                return Ok(Reply::Int(0));
            };
            if !bits {
                return Ok(Reply::Int(ones(&value[from as usize..=to as usize])));
            }
            let n =
                (from..=to).filter(|&i| (value[(i / 8) as usize] >> (7 - i % 8)) & 1 == 1).count();
            Ok(Reply::Int(n as i64))
        }
        _ => Err(Reply::err(SYNTAX)),
    }
}

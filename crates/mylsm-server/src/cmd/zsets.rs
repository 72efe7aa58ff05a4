//! Sorted-set commands (tier 4): ZADD, ZREM, ZSCORE, ZCARD, ZRANGE (by rank or score),
//! ZPOPMIN, ZPOPMAX. A member has two rows: member → score, and a score-index row
//! (sortable score ‖ member) that keeps members in score order.

use std::collections::HashMap;

use bytes::Bytes;

use super::hashes::finish_removal;
use super::{count_arg, float_arg, int_arg, is, parse_float, typed_tx, CmdResult, Ctx, SYNTAX};
use crate::resp::{format_double, Reply};
use crate::store::meta::{self, Kind, Meta};
use crate::store::Tx;

/// The score stored in a member row.
fn decode_score(v: &[u8]) -> Option<f64> {
    Some(f64::from_bits(u64::from_be_bytes(v.try_into().ok()?)))
}

/// Splits a score-index row (after the index prefix) into score and member.
fn split_index(suffix: &[u8]) -> Option<(f64, &[u8])> {
    let (score, member) = suffix.split_first_chunk::<8>()?;
    Some((meta::score_from_sortable(*score), member))
}

/// Sets `member` to `score` (the caller knows its old score, if any).
fn put_member(
    tx: &mut Tx<'_>,
    key: &[u8],
    m: &mut Meta,
    member: &[u8],
    old: Option<f64>,
    score: f64,
) {
    let Some(c) = m.coll_mut() else { return };
    if let Some(old) = old {
        tx.del(&meta::score_key(key, c.version, old, member));
    } else {
        c.size += 1;
    }
    tx.put(&meta::field_key(key, c.version, member), &score.to_bits().to_be_bytes());
    tx.put(&meta::score_key(key, c.version, score, member), b"");
    let sortable = u64::from_be_bytes(meta::sortable_score(score));
    c.head = c.head.min(sortable);
}

pub fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i][..];
        match () {
            _ if is(a, "NX") => nx = true,
            _ if is(a, "XX") => xx = true,
            _ if is(a, "GT") => gt = true,
            _ if is(a, "LT") => lt = true,
            _ if is(a, "CH") => ch = true,
            _ if is(a, "INCR") => incr = true,
            _ => break,
        }
        i += 1;
    }
    let pairs = &args[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(Reply::err(SYNTAX));
    }
    if nx && xx {
        return Err(Reply::err("ERR XX and NX options at the same time are not compatible"));
    }
    if (gt && lt) || (nx && (gt || lt)) {
        return Err(Reply::err(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && pairs.len() > 2 {
        return Err(Reply::err("ERR INCR option supports a single increment-element pair"));
    }
    let scores: Vec<f64> = pairs.chunks(2).map(|p| float_arg(&p[0])).collect::<Result<_, _>>()?;
    let key = &args[1];
    let mut tx = ctx.tx()?;
    let mut m = typed_tx(&mut tx, key, Kind::ZSet)?
        .unwrap_or_else(|| Meta::collection(Kind::ZSet, tx.store.new_version()));
    let version = m.coll().map_or(0, |c| c.version);
    // Scores set earlier in this command, which the engine does not show yet.
    let mut pending: HashMap<&[u8], f64> = HashMap::new();
    let (mut added, mut changed) = (0, 0);
    let mut incr_result = None;
    for (pair, &score) in pairs.chunks(2).zip(&scores) {
        let member = &pair[1][..];
        let old = match pending.get(member) {
            Some(&s) => Some(s),
            None => tx.get(&meta::field_key(key, version, member))?.and_then(|v| decode_score(&v)),
        };
        let mut new = score;
        if incr {
            new = old.unwrap_or(0.0) + score;
            if new.is_nan() {
                return Err(Reply::err("ERR resulting score is not a number (NaN)"));
            }
        }
        let allowed = match old {
            None => !xx,
            Some(o) => !nx && (!gt || new > o) && (!lt || new < o),
        };
        if !allowed {
            continue;
        }
        incr_result = Some(new);
        if old == Some(new) {
            continue;
        }
        if old.is_none() {
            added += 1;
        } else {
            changed += 1;
        }
        put_member(&mut tx, key, &mut m, member, old, new);
        pending.insert(member, new);
    }
    if added + changed > 0 {
        tx.put_meta(key, &m);
    }
    tx.commit()?;
    if incr {
        return Ok(incr_result.map_or(Reply::Null, Reply::Double));
    }
    Ok(Reply::Int(if ch { added + changed } else { added }))
}

pub fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let mut tx = ctx.tx()?;
    let Some(mut m) = typed_tx(&mut tx, key, Kind::ZSet)? else {
        tx.commit()?;
        return Ok(Reply::Int(0));
    };
    let version = m.coll().map_or(0, |c| c.version);
    let mut removed = 0;
    let mut seen = std::collections::HashSet::new();
    for member in &args[2..] {
        if !seen.insert(&member[..]) {
            continue;
        }
        let row = meta::field_key(key, version, member);
        if let Some(score) = tx.get(&row)?.and_then(|v| decode_score(&v)) {
            tx.del(&row);
            tx.del(&meta::score_key(key, version, score, member));
            removed += 1;
        }
    }
    finish_removal(&mut tx, key, &mut m, removed)?;
    tx.commit()?;
    Ok(Reply::Int(removed as i64))
}

pub fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(m) = ctx.typed(&args[1], Kind::ZSet)? else { return Ok(Reply::Null) };
    let Some(ks) = ctx.view() else { return Ok(Reply::Null) };
    let row = meta::field_key(&args[1], m.coll().map_or(0, |c| c.version), &args[2]);
    Ok(ks.get(row)?.and_then(|v| decode_score(&v)).map_or(Reply::Null, Reply::Double))
}

pub fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = ctx.typed(&args[1], Kind::ZSet)?;
    Ok(Reply::Int(m.and_then(|m| m.coll().map(|c| c.size)).unwrap_or(0) as i64))
}

/// A score bound of ZRANGE BYSCORE: `(` makes it exclusive; `-inf`/`+inf` allowed.
fn score_bound(arg: &[u8]) -> Result<(f64, bool), Reply> {
    let bad = || Reply::err("ERR min or max is not a float");
    match arg.split_first() {
        Some((b'(', rest)) => Ok((parse_float(rest).ok_or_else(bad)?, true)),
        _ => Ok((parse_float(arg).ok_or_else(bad)?, false)),
    }
}

/// A lex bound of ZRANGE BYLEX: `-`, `+`, `[member` (inclusive), `(member`.
#[derive(Debug)]
enum Lex {
    Min,
    Max,
    At(Vec<u8>, bool),
}

fn lex_bound(arg: &[u8]) -> Result<Lex, Reply> {
    match arg {
        b"-" => Ok(Lex::Min),
        b"+" => Ok(Lex::Max),
        [b'[', rest @ ..] => Ok(Lex::At(rest.to_vec(), false)),
        [b'(', rest @ ..] => Ok(Lex::At(rest.to_vec(), true)),
        _ => Err(Reply::err("ERR min or max not valid string range item")),
    }
}

/// The range of ZRANGE BYSCORE or BYLEX, from its low bound to its high one.
#[derive(Debug)]
enum Range {
    Score((f64, bool), (f64, bool)),
    Lex(Lex, Lex),
}

impl Range {
    /// Whether a member lies below the range and whether above it.
    fn place(&self, score: f64, member: &[u8]) -> (bool, bool) {
        match self {
            Range::Score((min, min_ex), (max, max_ex)) => (
                score < *min || (*min_ex && score == *min),
                score > *max || (*max_ex && score == *max),
            ),
            Range::Lex(lo, hi) => {
                let below = match lo {
                    Lex::Min => false,
                    Lex::Max => true,
                    Lex::At(b, ex) => member < &b[..] || (*ex && member == &b[..]),
                };
                let above = match hi {
                    Lex::Min => true,
                    Lex::Max => false,
                    Lex::At(b, ex) => member > &b[..] || (*ex && member == &b[..]),
                };
                (below, above)
            }
        }
    }
}

/// Replies with members (and scores): RESP3 pairs, RESP2 a flat list.
fn scored_reply(v3: bool, items: Vec<(Vec<u8>, f64)>, with_scores: bool) -> Reply {
    if !with_scores {
        return Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect());
    }
    if v3 {
        return Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        );
    }
    Reply::Array(items.into_iter().flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)]).collect())
}

pub fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (items, with_scores) = zrange_items(ctx, args)?;
    Ok(scored_reply(ctx.v3(), items, with_scores))
}

/// A member and its score.
type Scored = (Vec<u8>, f64);

/// The members (with scores) a ZRANGE command names, and whether it asked for scores.
fn zrange_items(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<(Vec<Scored>, bool), Reply> {
    let (mut by_score, mut by_lex, mut rev, mut with_scores) = (false, false, false, false);
    let mut limit: Option<(i64, i64)> = None;
    let mut i = 4;
    while i < args.len() {
        let a = &args[i][..];
        if is(a, "BYSCORE") {
            by_score = true;
        } else if is(a, "REV") {
            rev = true;
        } else if is(a, "WITHSCORES") {
            with_scores = true;
        } else if is(a, "LIMIT") && i + 2 < args.len() {
            limit = Some((int_arg(&args[i + 1])?, int_arg(&args[i + 2])?));
            i += 2;
        } else if is(a, "BYLEX") {
            by_lex = true;
        } else {
            return Err(Reply::err(SYNTAX));
        }
        i += 1;
    }
    if by_score && by_lex {
        return Err(Reply::err(SYNTAX));
    }
    if limit.is_some() && !by_score && !by_lex {
        return Err(Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    let key = &args[1];
    let Some(m) = ctx.typed(key, Kind::ZSet)? else { return Ok((Vec::new(), with_scores)) };
    let Some(c) = m.coll().cloned() else { return Ok((Vec::new(), with_scores)) };
    let Some(ks) = ctx.view() else {
        return Ok((Vec::new(), with_scores));
    };
    let prefix = meta::sub_prefix(key, c.version, meta::TAG_SCORE);
    let mut from = prefix.clone();
    from.extend_from_slice(&c.head.to_be_bytes());
    let end = meta::prefix_end(&prefix);
    let iter = ks.range(from..end);
    let rows: Box<dyn Iterator<Item = mylsm::Result<(mylsm::Key, mylsm::Value)>>> =
        if rev { Box::new(iter.rev()) } else { Box::new(iter) };
    let mut items = Vec::new();
    if by_score || by_lex {
        let (lo, hi) = if rev { (&args[3], &args[2]) } else { (&args[2], &args[3]) };
        let range = if by_score {
            Range::Score(score_bound(lo)?, score_bound(hi)?)
        } else {
            Range::Lex(lex_bound(lo)?, lex_bound(hi)?)
        };
        let (offset, count) = limit.unwrap_or((0, -1));
        let mut skipped = 0;
        for row in rows {
            let (k, _) = row?;
            let Some((score, member)) = split_index(&k[prefix.len()..]) else { continue };
            let (below, above) = range.place(score, member);
            // By score the rows come in order, so the range ends at the first row past
            // it; by lex (meant for equal scores) every row is checked.
            if by_score && ((!rev && above) || (rev && below)) {
                break;
            }
            if below || above {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if count >= 0 && items.len() as i64 >= count {
                break;
            }
            items.push((member.to_vec(), score));
        }
    } else {
        let (start, stop) = (int_arg(&args[2])?, int_arg(&args[3])?);
        let Some((from, to)) = super::clamp_range(start, stop, c.size) else {
            return Ok((Vec::new(), with_scores));
        };
        for row in rows.skip(from as usize).take((to - from + 1) as usize) {
            let (k, _) = row?;
            if let Some((score, member)) = split_index(&k[prefix.len()..]) {
                items.push((member.to_vec(), score));
            }
        }
    }
    Ok((items, with_scores))
}

fn zpop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(Reply::err(SYNTAX));
    }
    let count = args.get(2).map(|a| count_arg(a)).transpose()?;
    let key = &args[1];
    let mut tx = ctx.tx()?;
    let Some(mut m) = typed_tx(&mut tx, key, Kind::ZSet)? else {
        tx.commit()?;
        return Ok(Reply::Array(Vec::new()));
    };
    let Some(c) = m.coll().cloned() else { return Err(Reply::err(super::WRONGTYPE)) };
    let n = count.unwrap_or(1).min(c.size as usize);
    let prefix = meta::sub_prefix(key, c.version, meta::TAG_SCORE);
    let mut from = prefix.clone();
    from.extend_from_slice(&c.head.to_be_bytes());
    let end = meta::prefix_end(&prefix);
    let iter = tx.range(from..end);
    let rows: Vec<(mylsm::Key, mylsm::Value)> = if max {
        iter.rev().take(n).collect::<mylsm::Result<_>>()?
    } else {
        iter.take(n).collect::<mylsm::Result<_>>()?
    };
    let mut items = Vec::with_capacity(n);
    let mut last = None;
    for (k, _) in rows {
        let Some((score, member)) = split_index(&k[prefix.len()..]) else { continue };
        tx.del(&k);
        tx.del(&meta::field_key(key, c.version, member));
        items.push((member.to_vec(), score));
        last = Some(score);
    }
    if let (false, Some(score), Some(cm)) = (max, last, m.coll_mut()) {
        // Every member left scores at least the last one popped.
        cm.head = u64::from_be_bytes(meta::sortable_score(score));
    }
    let popped = items.len() as u64;
    if popped == 0 {
        tx.commit()?;
        return Ok(Reply::Array(Vec::new()));
    }
    finish_removal(&mut tx, key, &mut m, popped)?;
    tx.commit()?;
    if count.is_none() || !ctx.v3() {
        // Without a count RESP3 keeps the flat [member, score] shape too.
        return Ok(Reply::Array(
            items.into_iter().flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)]).collect(),
        ));
    }
    Ok(scored_reply(true, items, true))
}

pub fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, false)
}

pub fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, true)
}

/// `args` with the command name replaced by ZRANGE and `flags` inserted after the
/// key and the two bounds: the older range commands are ZRANGE forms.
fn as_zrange(args: &[Bytes], flags: &[&'static str]) -> Vec<Bytes> {
    let mut out = vec![Bytes::from_static(b"zrange")];
    out.extend_from_slice(&args[1..4]);
    out.extend(flags.iter().map(|f| Bytes::from_static(f.as_bytes())));
    out.extend_from_slice(&args[4..]);
    out
}

pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange(ctx, &as_zrange(args, &["BYSCORE"]))
}

pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange(ctx, &as_zrange(args, &["BYSCORE", "REV"]))
}

pub fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange(ctx, &as_zrange(args, &["REV"]))
}

pub fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange(ctx, &as_zrange(args, &["BYLEX"]))
}

pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zrange(ctx, &as_zrange(args, &["BYLEX", "REV"]))
}

pub fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(zrange_items(ctx, &as_zrange(args, &["BYSCORE"]))?.0.len() as i64))
}

pub fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(zrange_items(ctx, &as_zrange(args, &["BYLEX"]))?.0.len() as i64))
}

fn zremrange(ctx: &mut Ctx<'_>, args: &[Bytes], flags: &[&'static str]) -> CmdResult {
    let (items, _) = zrange_items(ctx, &as_zrange(args, flags))?;
    let mut rem = vec![Bytes::from_static(b"zrem"), args[1].clone()];
    if items.is_empty() {
        return Ok(Reply::Int(0));
    }
    rem.extend(items.into_iter().map(|(m, _)| Bytes::from(m)));
    zrem(ctx, &rem)
}

pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zremrange(ctx, args, &["BYSCORE"])
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zremrange(ctx, args, &[])
}

pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zremrange(ctx, args, &["BYLEX"])
}

pub fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let zadd_args = [
        Bytes::from_static(b"zadd"),
        args[1].clone(),
        Bytes::from_static(b"INCR"),
        args[2].clone(),
        args[3].clone(),
    ];
    zadd(ctx, &zadd_args)
}

pub fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = ctx.typed(&args[1], Kind::ZSet)?;
    let ks = ctx.view();
    let mut out = Vec::with_capacity(args.len() - 2);
    for member in &args[2..] {
        let score = match (&m, &ks) {
            (Some(m), Some(ks)) => {
                let row = meta::field_key(&args[1], m.coll().map_or(0, |c| c.version), member);
                ks.get(row)?.and_then(|v| decode_score(&v))
            }
            _ => None,
        };
        out.push(score.map_or(Reply::Null, Reply::Double));
    }
    Ok(Reply::Array(out))
}

fn rank(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    let with_score = match args.get(3) {
        None => false,
        Some(a) if is(a, "WITHSCORE") && args.len() == 4 => true,
        Some(_) => return Err(Reply::err(SYNTAX)),
    };
    let all =
        [args[0].clone(), args[1].clone(), Bytes::from_static(b"0"), Bytes::from_static(b"-1")];
    let (items, _) = zrange_items(ctx, &all)?;
    let Some(pos) = items.iter().position(|(m, _)| m[..] == args[2][..]) else {
        return Ok(if with_score { Reply::NullArray } else { Reply::Null });
    };
    let r = if rev { items.len() - 1 - pos } else { pos } as i64;
    if with_score {
        return Ok(Reply::Array(vec![Reply::Int(r), Reply::Double(items[pos].1)]));
    }
    Ok(Reply::Int(r))
}

pub fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, false)
}

pub fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, true)
}

pub fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pattern = super::sets::scan_pattern(args)?;
    let all =
        [args[0].clone(), args[1].clone(), Bytes::from_static(b"0"), Bytes::from_static(b"-1")];
    let (items, _) = zrange_items(ctx, &all)?;
    let flat = items
        .into_iter()
        .filter(|(m, _)| pattern.as_ref().is_none_or(|p| super::glob_match(p, m)))
        .flat_map(|(m, s)| [Reply::Bulk(m), Reply::bulk(format_double(s))])
        .collect();
    Ok(Reply::Array(vec![Reply::bulk("0"), Reply::Array(flat)]))
}

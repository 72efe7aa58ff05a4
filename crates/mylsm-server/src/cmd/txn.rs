//! Transactions (tier 3): MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! MULTI queues commands in the session; EXEC runs them holding the store's
//! `exec_lock` exclusively, so no other client's write runs in between, and the
//! stripes of all their keys until its commit, so no read sees part of it. WATCH
//! records the modification counters of its keys' lock stripes and the flush epoch;
//! EXEC aborts (a null reply) if any moved. A stripe is shared by many keys, so a
//! write to an unrelated key can abort a transaction (see `store/locks.rs`); expiry
//! of a watched key does not abort it.
//!
//! The commands of one EXEC read and write through one engine transaction
//! (`store/exec.rs`) committed once at the end, so the engine applies all of them or,
//! after a crash or a failed write, none; each reads the writes of those before it.
//! As in Redis, a command that fails (WRONGTYPE, a bad argument) fails alone: its
//! error is its reply and it writes nothing, and the others still run. If the commit
//! itself fails, EXEC's reply is that error and nothing is applied.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{resolve, run_held, CmdResult, Command, Ctx, Session};
use crate::resp::parse_int;
use crate::resp::Reply;
use crate::shared::Shared;
use crate::store::locks::Locks;
use crate::store::{Store, Target, DATABASES};

pub fn multi(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if ctx.sess.multi.is_some() {
        return Err(Reply::err("ERR MULTI calls can not be nested"));
    }
    ctx.sess.multi = Some(Vec::new());
    ctx.sess.multi_failed = false;
    Ok(Reply::OK)
}

/// The placeholder in the table; the dispatcher calls [`run_exec`].
pub fn exec(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Err(Reply::err("ERR EXEC without MULTI"))
}

pub fn run_exec(shared: &Shared, store: &Store, sess: &mut Session) -> Reply {
    let Some(queued) = sess.multi.take() else {
        return Reply::err("ERR EXEC without MULTI");
    };
    let watched = std::mem::take(&mut sess.watched);
    if std::mem::take(&mut sess.multi_failed) {
        return Reply::err("EXECABORT Transaction discarded because of previous errors.");
    }
    let _exclusive = store.exec_lock.write().unwrap_or_else(|p| p.into_inner());
    let conflict = !watched.is_empty()
        && (store.flush_epoch.load(Ordering::Acquire) != sess.watch_epoch
            || watched.iter().any(|&(stripe, counter)| store.locks.counter(stripe) != counter));
    if conflict {
        return Reply::NullArray;
    }
    // Resolved when queued; resolving again cannot fail, but stays safe if it did.
    let cmds: Vec<Result<&Command, Reply>> = queued.iter().map(|args| resolve(args)).collect();
    // The stripes of every key of every command, each in the database it will run in,
    // held until the commit: reads, which do not take `exec_lock`, thus see all of the
    // EXEC or none of it.
    let mut db = sess.db;
    let mut per_cmd = Vec::with_capacity(queued.len());
    for (cmd, args) in cmds.iter().zip(&queued) {
        let Ok(cmd) = cmd else {
            per_cmd.push(Vec::new());
            continue;
        };
        per_cmd.push(cmd.key_args(args).iter().map(|k| Locks::stripe(db, k)).collect());
        if cmd.name == "select" {
            db = parse_int(&args[1])
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n < DATABASES)
                .unwrap_or(db);
        }
    }
    let _held = store.locks.lock_stripes(per_cmd.concat());
    let exec = store.begin_exec();
    let mut replies = Vec::with_capacity(queued.len());
    for ((cmd, args), stripes) in cmds.into_iter().zip(&queued).zip(&per_cmd) {
        let reply = match cmd {
            Ok(cmd) => run_held(shared, store, sess, cmd, args, Target::Exec(&exec), stripes),
            Err(e) => e,
        };
        replies.push(reply);
    }
    match store.commit_exec(exec) {
        Ok(()) => Reply::Array(replies),
        Err(e) => Reply::from(e),
    }
}

pub fn discard(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    if ctx.sess.multi.take().is_none() {
        return Err(Reply::err("ERR DISCARD without MULTI"));
    }
    ctx.sess.multi_failed = false;
    ctx.sess.watched.clear();
    Ok(Reply::OK)
}

pub fn watch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.sess.multi.is_some() {
        return Err(Reply::err("ERR WATCH inside MULTI is not allowed"));
    }
    if ctx.sess.watched.is_empty() {
        ctx.sess.watch_epoch = ctx.store.flush_epoch.load(Ordering::Acquire);
    }
    for key in &args[1..] {
        let stripe = Locks::stripe(ctx.sess.db, key);
        if !ctx.sess.watched.iter().any(|&(s, _)| s == stripe) {
            ctx.sess.watched.push((stripe, ctx.store.locks.counter(stripe)));
        }
    }
    Ok(Reply::OK)
}

pub fn unwatch(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.sess.watched.clear();
    Ok(Reply::OK)
}

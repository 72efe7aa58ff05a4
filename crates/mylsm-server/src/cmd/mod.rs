//! The command table and the dispatcher: name lookup, arity, authentication, MULTI
//! queueing, key locks and WATCH bookkeeping around each command's handler.
//!
//! Every command runs on a blocking-pool thread (never the reactor) holding the stripes
//! of its keys, and a write command also the store's `exec_lock` shared; EXEC holds
//! `exec_lock` exclusively and the stripes of all its commands' keys.
//! Key positions follow Redis's command table (first key, last key, step).

mod hashes;
mod keys;
mod lists;
pub mod server;
mod sets;
mod strings;
mod txn;
mod zsets;

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::resp::{parse_int, Protocol, Reply};
use crate::shared::Shared;
use crate::store::meta::{Kind, Meta};
use crate::store::{Store, Target, Tx, View};

pub use self::keys::glob_match;

pub type CmdResult = Result<Reply, Reply>;
type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INT: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";

impl From<mylsm::Error> for Reply {
    fn from(e: mylsm::Error) -> Reply {
        Reply::error(format!("ERR storage error: {e}"))
    }
}

/// The state of one connection.
#[derive(Debug, Default)]
pub struct Session {
    pub id: u64,
    pub db: usize,
    pub proto: Protocol,
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    pub addr: String,
    pub authed: bool,
    /// The commands queued since MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command queued since MULTI was refused: EXEC must fail.
    pub multi_failed: bool,
    /// WATCHed stripes with the counters they had, and the flush epoch then.
    pub watched: Vec<(usize, u64)>,
    pub watch_epoch: u64,
    /// Set by QUIT: close after the reply.
    pub close: bool,
}

/// What a handler works with.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    /// The local database (commands of this table run only in single-node mode).
    pub store: &'a Store,
    pub sess: &'a mut Session,
    pub now: u64,
    /// The engine, or the transaction of the EXEC this command runs in.
    pub target: Target<'a>,
}

impl Ctx<'_> {
    pub fn db(&self) -> usize {
        self.sess.db
    }

    pub fn v3(&self) -> bool {
        self.sess.proto == Protocol::Resp3
    }

    /// The live metadata of `key` in the selected database.
    pub fn meta(&self, key: &[u8]) -> Result<Option<Meta>, Reply> {
        Ok(self.store.read_meta(self.target, self.db(), key, self.now)?)
    }

    /// The live metadata of `key`, which must be of `kind` if it exists.
    pub fn typed(&self, key: &[u8], kind: Kind) -> Result<Option<Meta>, Reply> {
        match self.meta(key)? {
            Some(m) if m.kind != kind => Err(Reply::err(WRONGTYPE)),
            m => Ok(m),
        }
    }

    pub fn tx(&self) -> Result<Tx<'_>, Reply> {
        Ok(self.store.tx(self.target, self.db(), self.now)?)
    }

    /// Reads of the selected database, if anything was ever written there.
    pub fn view(&self) -> Option<View<'_>> {
        self.store.view(self.target, self.db())
    }
}

/// `tx.meta(key)`, which must be of `kind` if it exists.
pub fn typed_tx(tx: &mut Tx<'_>, key: &[u8], kind: Kind) -> Result<Option<Meta>, Reply> {
    match tx.meta(key)? {
        Some(m) if m.kind != kind => Err(Reply::err(WRONGTYPE)),
        m => Ok(m),
    }
}

/// How a command is declared: Redis's arity convention (n: exactly n arguments with
/// the name; -n: at least n) and its key positions.
pub struct Command {
    pub name: &'static str,
    pub arity: i32,
    pub write: bool,
    /// First key, last key (negative: from the end) and step; 0 = no keys.
    pub keys: (i32, i32, i32),
    pub run: Handler,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Command {
    /// The keys of this invocation.
    pub fn key_args<'a>(&self, args: &'a [Bytes]) -> Vec<&'a [u8]> {
        let (first, last, step) = self.keys;
        if first <= 0 || args.len() <= first as usize {
            return Vec::new();
        }
        let last =
            if last < 0 { args.len() as i32 + last } else { last.min(args.len() as i32 - 1) };
        (first..=last).step_by(step.max(1) as usize).map(|i| &args[i as usize][..]).collect()
    }
}

macro_rules! commands {
    ($( $name:literal, $arity:expr, $write:expr, $keys:expr, $run:path; )*) => {
        &[ $( Command { name: $name, arity: $arity, write: $write, keys: $keys, run: $run }, )* ]
    };
}

const NONE: (i32, i32, i32) = (0, 0, 0);
const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);
const R: bool = false;
const W: bool = true;

/// Every command, in the order COMMAND lists them.
pub static COMMANDS: &[Command] = commands! {
    // Connection and server (tier 0).
    "ping", -1, R, NONE, server::ping;
    "echo", 2, R, NONE, server::echo;
    "quit", -1, R, NONE, server::quit;
    "hello", -1, R, NONE, server::hello;
    "auth", -2, R, NONE, server::auth;
    "client", -2, R, NONE, server::client;
    "select", 2, R, NONE, server::select;
    "dbsize", 1, R, NONE, server::dbsize;
    "flushdb", -1, W, NONE, server::flushdb;
    "flushall", -1, W, NONE, server::flushall;
    "info", -1, R, NONE, server::info;
    "config", -2, R, NONE, server::config;
    "command", -1, R, NONE, server::command;
    "time", 1, R, NONE, server::time;
    "function", -2, R, NONE, server::function;
    "debug", -2, R, NONE, server::debug;
    // Strings (tier 1).
    "get", 2, R, ONE, strings::get;
    "set", -3, W, ONE, strings::set;
    "setnx", 3, W, ONE, strings::setnx;
    "setex", 4, W, ONE, strings::setex;
    "psetex", 4, W, ONE, strings::psetex;
    "getset", 3, W, ONE, strings::getset;
    "getdel", 2, W, ONE, strings::getdel;
    "getex", -2, W, ONE, strings::getex;
    "mget", -2, R, ALL, strings::mget;
    "mset", -3, W, (1, -1, 2), strings::mset;
    "msetnx", -3, W, (1, -1, 2), strings::msetnx;
    "append", 3, W, ONE, strings::append;
    "strlen", 2, R, ONE, strings::strlen;
    "getrange", 4, R, ONE, strings::getrange;
    "substr", 4, R, ONE, strings::getrange;
    "setrange", 4, W, ONE, strings::setrange;
    "incr", 2, W, ONE, strings::incr;
    "decr", 2, W, ONE, strings::decr;
    "incrby", 3, W, ONE, strings::incrby;
    "decrby", 3, W, ONE, strings::decrby;
    "incrbyfloat", 3, W, ONE, strings::incrbyfloat;
    "getbit", 3, R, ONE, strings::getbit;
    "setbit", 4, W, ONE, strings::setbit;
    "bitcount", -2, R, ONE, strings::bitcount;
    // Keys (tier 1) and expiry (tier 2).
    "del", -2, W, ALL, keys::del;
    "unlink", -2, W, ALL, keys::del;
    "exists", -2, R, ALL, keys::exists;
    "type", 2, R, ONE, keys::type_;
    "keys", 2, R, NONE, keys::keys;
    "scan", -2, R, NONE, keys::scan;
    "rename", 3, W, (1, 2, 1), keys::rename;
    "renamenx", 3, W, (1, 2, 1), keys::renamenx;
    "randomkey", 1, R, NONE, keys::randomkey;
    "touch", -2, R, ALL, keys::touch;
    "copy", -3, W, (1, 2, 1), keys::copy;
    "expire", -3, W, ONE, keys::expire;
    "pexpire", -3, W, ONE, keys::pexpire;
    "expireat", -3, W, ONE, keys::expireat;
    "pexpireat", -3, W, ONE, keys::pexpireat;
    "ttl", 2, R, ONE, keys::ttl;
    "pttl", 2, R, ONE, keys::pttl;
    "expiretime", 2, R, ONE, keys::expiretime;
    "pexpiretime", 2, R, ONE, keys::pexpiretime;
    "persist", 2, W, ONE, keys::persist;
    // Transactions (tier 3).
    "multi", 1, R, NONE, txn::multi;
    "exec", 1, R, NONE, txn::exec;
    "discard", 1, R, NONE, txn::discard;
    "watch", -2, R, ALL, txn::watch;
    "unwatch", 1, R, NONE, txn::unwatch;
    // Collections (tier 4).
    "lpush", -3, W, ONE, lists::lpush;
    "rpush", -3, W, ONE, lists::rpush;
    "lpushx", -3, W, ONE, lists::lpushx;
    "rpushx", -3, W, ONE, lists::rpushx;
    "lpop", -2, W, ONE, lists::lpop;
    "rpop", -2, W, ONE, lists::rpop;
    "lrange", 4, R, ONE, lists::lrange;
    "llen", 2, R, ONE, lists::llen;
    "lindex", 3, R, ONE, lists::lindex;
    "lset", 4, W, ONE, lists::lset;
    "ltrim", 4, W, ONE, lists::ltrim;
    "lrem", 4, W, ONE, lists::lrem;
    "linsert", 5, W, ONE, lists::linsert;
    "lpos", -3, R, ONE, lists::lpos;
    "rpoplpush", 3, W, (1, 2, 1), lists::rpoplpush;
    "lmove", 5, W, (1, 2, 1), lists::lmove;
    "sadd", -3, W, ONE, sets::sadd;
    "srem", -3, W, ONE, sets::srem;
    "spop", -2, W, ONE, sets::spop;
    "smembers", 2, R, ONE, sets::smembers;
    "scard", 2, R, ONE, sets::scard;
    "sismember", 3, R, ONE, sets::sismember;
    "smismember", -3, R, ONE, sets::smismember;
    "srandmember", -2, R, ONE, sets::srandmember;
    "smove", 4, W, (1, 2, 1), sets::smove;
    "sinter", -2, R, ALL, sets::sinter;
    "sunion", -2, R, ALL, sets::sunion;
    "sdiff", -2, R, ALL, sets::sdiff;
    "sinterstore", -3, W, ALL, sets::sinterstore;
    "sunionstore", -3, W, ALL, sets::sunionstore;
    "sdiffstore", -3, W, ALL, sets::sdiffstore;
    "sintercard", -3, R, NONE, sets::sintercard;
    "sscan", -3, R, ONE, sets::sscan;
    "hset", -4, W, ONE, hashes::hset;
    "hmset", -4, W, ONE, hashes::hmset;
    "hsetnx", 4, W, ONE, hashes::hsetnx;
    "hget", 3, R, ONE, hashes::hget;
    "hmget", -3, R, ONE, hashes::hmget;
    "hgetall", 2, R, ONE, hashes::hgetall;
    "hkeys", 2, R, ONE, hashes::hkeys;
    "hvals", 2, R, ONE, hashes::hvals;
    "hdel", -3, W, ONE, hashes::hdel;
    "hlen", 2, R, ONE, hashes::hlen;
    "hexists", 3, R, ONE, hashes::hexists;
    "hincrby", 4, W, ONE, hashes::hincrby;
    "hincrbyfloat", 4, W, ONE, hashes::hincrbyfloat;
    "hstrlen", 3, R, ONE, hashes::hstrlen;
    "zadd", -4, W, ONE, zsets::zadd;
    "zrem", -3, W, ONE, zsets::zrem;
    "zscore", 3, R, ONE, zsets::zscore;
    "zcard", 2, R, ONE, zsets::zcard;
    "zrange", -4, R, ONE, zsets::zrange;
    "zpopmin", -2, W, ONE, zsets::zpopmin;
    "zpopmax", -2, W, ONE, zsets::zpopmax;
    "zrangebyscore", -4, R, ONE, zsets::zrangebyscore;
    "zrevrangebyscore", -4, R, ONE, zsets::zrevrangebyscore;
    "zrevrange", -4, R, ONE, zsets::zrevrange;
    "zrangebylex", -4, R, ONE, zsets::zrangebylex;
    "zrevrangebylex", -4, R, ONE, zsets::zrevrangebylex;
    "zcount", 4, R, ONE, zsets::zcount;
    "zlexcount", 4, R, ONE, zsets::zlexcount;
    "zremrangebyscore", 4, W, ONE, zsets::zremrangebyscore;
    "zremrangebyrank", 4, W, ONE, zsets::zremrangebyrank;
    "zremrangebylex", 4, W, ONE, zsets::zremrangebylex;
    "zincrby", 4, W, ONE, zsets::zincrby;
    "zmscore", -3, R, ONE, zsets::zmscore;
    "zrank", -3, R, ONE, zsets::zrank;
    "zrevrank", -3, R, ONE, zsets::zrevrank;
    "zscan", -3, R, ONE, zsets::zscan;
};

fn table() -> &'static HashMap<&'static str, &'static Command> {
    static TABLE: OnceLock<HashMap<&'static str, &'static Command>> = OnceLock::new();
    TABLE.get_or_init(|| COMMANDS.iter().map(|c| (c.name, c)).collect())
}

/// The command called `name` (any case).
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    // Lower-cased on the stack: this runs for every request.
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    table().get(std::str::from_utf8(lower).ok()?).copied()
}

/// Redis's reply to an unknown command, e.g.
/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `.
pub fn unknown_command(args: &[Bytes]) -> Reply {
    let mut tail = String::new();
    for a in &args[1..] {
        if tail.len() >= 128 {
            break;
        }
        let s = String::from_utf8_lossy(a);
        let room = 128 - tail.len();
        tail.push('\'');
        tail.extend(s.chars().take(room));
        tail.push_str("' ");
    }
    let name: String = String::from_utf8_lossy(&args[0]).chars().take(128).collect();
    Reply::error(format!("ERR unknown command '{name}', with args beginning with: {tail}"))
}

pub fn wrong_args(name: &str) -> Reply {
    Reply::error(format!("ERR wrong number of arguments for '{name}' command"))
}

/// The lookup and arity check every command passes before it runs or is queued.
pub fn resolve(args: &[Bytes]) -> Result<&'static Command, Reply> {
    let cmd = lookup(&args[0]).ok_or_else(|| unknown_command(args))?;
    let n = args.len() as i32;
    if (cmd.arity > 0 && n != cmd.arity) || (cmd.arity < 0 && n < -cmd.arity) {
        return Err(wrong_args(cmd.name));
    }
    Ok(cmd)
}

/// Runs one request of a connection on the local `store` and returns its reply.
pub fn execute(shared: &Shared, store: &Store, sess: &mut Session, args: &[Bytes]) -> Reply {
    if args.is_empty() {
        return Reply::err("ERR empty command");
    }
    shared.count_command();
    let is_any = |names: &[&str]| names.iter().any(|n| is(&args[0], n));
    if !sess.authed && shared.has_password() && !is_any(&["auth", "hello", "quit"]) {
        return Reply::err("NOAUTH Authentication required.");
    }
    if sess.multi.is_some() && !is_any(&["exec", "discard", "multi", "watch", "quit"]) {
        return match resolve(args) {
            Ok(_) => {
                if let Some(q) = sess.multi.as_mut() {
                    q.push(args.to_vec());
                }
                Reply::simple("QUEUED")
            }
            Err(e) => {
                sess.multi_failed = true;
                e
            }
        };
    }
    let cmd = match resolve(args) {
        Ok(c) => c,
        Err(e) => return e,
    };
    if cmd.name == "exec" {
        return txn::run_exec(shared, store, sess);
    }
    // A read takes only its key stripes, not `exec_lock`: an EXEC's writes become
    // visible in one commit and it holds the stripes of all its keys until then, so a
    // read sees all of an EXEC or none of it without waiting for the lock, and so
    // without queueing behind an EXEC that itself waits for a writer in a write stall.
    let _shared_guard =
        cmd.write.then(|| store.exec_lock.read().unwrap_or_else(|p| p.into_inner()));
    let keys = cmd.key_args(args);
    let held = store.locks.lock(sess.db, &keys);
    run_held(shared, store, sess, cmd, args, Target::Engine, &held.stripes)
}

/// Runs `cmd`, reading and writing through `target`; the caller holds `stripes`, the
/// stripes of its keys (and `exec_lock`, if it writes).
fn run_held(
    shared: &Shared,
    store: &Store,
    sess: &mut Session,
    cmd: &Command,
    args: &[Bytes],
    target: Target<'_>,
    stripes: &[usize],
) -> Reply {
    let now = store.now_ms();
    let mut ctx = Ctx { shared, store, sess, now, target };
    let reply = (cmd.run)(&mut ctx, args).unwrap_or_else(|e| e);
    if cmd.write && !reply.is_error() {
        store.locks.touch(stripes);
    }
    reply
}

// Argument helpers shared by the command modules.

/// Whether `arg` is `word` in any case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

pub fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_int(arg).ok_or(Reply::err(NOT_INT))
}

/// A float as Redis's `strtold`-based parsing takes it: no spaces, `inf`/`-inf`
/// allowed, NaN refused.
pub fn parse_float(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => s.parse().ok()?,
    };
    (!v.is_nan()).then_some(v)
}

pub fn float_arg(arg: &[u8]) -> Result<f64, Reply> {
    parse_float(arg).ok_or(Reply::err(NOT_FLOAT))
}

/// A non-negative count argument (LPOP/SPOP/ZPOPMIN count).
pub fn count_arg(arg: &[u8]) -> Result<usize, Reply> {
    match parse_int(arg) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(Reply::err("ERR value is out of range, must be positive")),
    }
}

/// Normalizes Redis `start`/`stop` indexes (negative from the end) against `len`;
/// `None`: the range is empty.
pub fn clamp_range(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop.min(len - 1) };
    (start <= stop && start < len).then_some((start as u64, stop as u64))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::shared::Backend;

    fn local_store(shared: &Shared) -> &Store {
        match &shared.backend {
            Backend::Local(store) => store,
            Backend::Cluster(_) => panic!("a local server"),
        }
    }

    fn run(shared: &Shared, sess: &mut Session, words: &[&str]) -> Reply {
        let args: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
        execute(shared, local_store(shared), sess, &args)
    }

    /// The lock an EXEC takes (and waits for, behind a writer in a write stall) does not
    /// hold up reads: they need only their keys' stripes.
    #[test]
    fn reads_do_not_wait_for_the_exec_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = mylsm::Db::open(dir.path(), mylsm::Options::default()).unwrap();
        let shared = Shared::new(Backend::Local(Store::new(db, false)), crate::Config::default());
        let mut sess = Session::default();
        assert!(!run(&shared, &mut sess, &["SET", "k", "v"]).is_error());
        let exclusive = local_store(&shared).exec_lock.write().unwrap();
        let (done, finished) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut sess = Session::default();
                let replies = [
                    run(&shared, &mut sess, &["GET", "k"]),
                    run(&shared, &mut sess, &["EXISTS", "k", "other"]),
                    run(&shared, &mut sess, &["DBSIZE"]),
                ];
                done.send(replies).unwrap();
            });
            let replies = finished.recv_timeout(Duration::from_secs(30));
            drop(exclusive);
            let replies = replies.expect("a read waited for exec_lock");
            assert!(replies.iter().all(|r| !r.is_error()), "{replies:?}");
        });
    }
}

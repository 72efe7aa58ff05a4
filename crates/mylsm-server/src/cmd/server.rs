//! Connection and server commands (tier 0): PING, ECHO, QUIT, HELLO, AUTH, CLIENT,
//! SELECT, DBSIZE, FLUSHDB, FLUSHALL, INFO, CONFIG, COMMAND, TIME, FUNCTION, DEBUG.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{is, CmdResult, Ctx, COMMANDS, NOT_INT, SYNTAX};
use crate::cmd::Session;
use crate::config::AppendFsync;
use crate::resp::{parse_int, Protocol, Reply};
use crate::shared::Shared;
use crate::store::{Store, DATABASES};

/// The Redis version the server reports, as Kvrocks does: clients gate features on it.
pub const REDIS_VERSION: &str = "7.0.15";

pub fn ping(_: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match args.len() {
        1 => Ok(Reply::simple("PONG")),
        2 => Ok(Reply::bulk(&args[1][..])),
        _ => Err(super::wrong_args("ping")),
    }
}

pub fn echo(_: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::bulk(&args[1][..]))
}

pub fn quit(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    ctx.sess.close = true;
    Ok(Reply::OK)
}

fn check_password(
    shared: &Shared,
    sess: &mut Session,
    user: Option<&[u8]>,
    pass: &[u8],
) -> Result<(), Reply> {
    let Some(expected) = shared.requirepass() else {
        return Err(Reply::err(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        ));
    };
    if user.is_some_and(|u| u != b"default") || pass != expected.as_bytes() {
        return Err(Reply::err("WRONGPASS invalid username-password pair or user is disabled."));
    }
    sess.authed = true;
    Ok(())
}

pub fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    auth_for(ctx.shared, ctx.sess, args)
}

/// AUTH for a connection of any backend.
pub fn auth_for(shared: &Shared, sess: &mut Session, args: &[Bytes]) -> CmdResult {
    match args.len() {
        2 => check_password(shared, sess, None, &args[1]).map(|()| Reply::OK),
        3 => check_password(shared, sess, Some(&args[1]), &args[2]).map(|()| Reply::OK),
        _ => Err(Reply::err(SYNTAX)),
    }
}

pub fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    hello_for(ctx.shared, ctx.sess, args)
}

/// HELLO for a connection of any backend.
pub fn hello_for(shared: &Shared, sess: &mut Session, args: &[Bytes]) -> CmdResult {
    let mut proto = sess.proto;
    let mut i = 1;
    if let Some(v) = args.get(1) {
        proto = match parse_int(v) {
            Some(2) => Protocol::Resp2,
            Some(3) => Protocol::Resp3,
            Some(_) => return Err(Reply::err("NOPROTO unsupported protocol version")),
            None => {
                return Err(Reply::err("ERR Protocol version is not an integer or out of range"))
            }
        };
        i = 2;
    }
    let mut name = None;
    while i < args.len() {
        if is(&args[i], "AUTH") && i + 2 < args.len() {
            check_password(shared, sess, Some(&args[i + 1]), &args[i + 2])?;
            i += 3;
        } else if is(&args[i], "SETNAME") && i + 1 < args.len() {
            name = Some(valid_client_name(&args[i + 1])?);
            i += 2;
        } else {
            return Err(Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            )));
        }
    }
    if !sess.authed && shared.requirepass().is_some() {
        return Err(Reply::err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if name.is_some() {
        sess.name = name;
    }
    sess.proto = proto;
    let s = |t: &str| Reply::bulk(t.as_bytes());
    Ok(Reply::Map(vec![
        (s("server"), s("redis")),
        (s("version"), s(REDIS_VERSION)),
        (s("proto"), Reply::Int(proto.version())),
        (s("id"), Reply::Int(sess.id as i64)),
        (s("mode"), s("standalone")),
        (s("role"), s("master")),
        (s("modules"), Reply::Array(Vec::new())),
    ]))
}

fn valid_client_name(name: &[u8]) -> Result<Vec<u8>, Reply> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Reply::err(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(name.to_vec())
}

pub fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    client_for(ctx.sess, args)
}

/// CLIENT for a connection of any backend.
pub fn client_for(sess: &mut Session, args: &[Bytes]) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let argc = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(super::wrong_args(&format!("client|{sub}")))
        }
    };
    match sub.as_str() {
        "setname" => {
            argc(3)?;
            let name = valid_client_name(&args[2])?;
            sess.name = (!name.is_empty()).then_some(name);
            Ok(Reply::OK)
        }
        "getname" => {
            argc(2)?;
            Ok(Reply::opt_bulk(sess.name.clone()))
        }
        "id" => {
            argc(2)?;
            Ok(Reply::Int(sess.id as i64))
        }
        "setinfo" => {
            argc(4)?;
            let value = args[3].to_vec();
            if value.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
                return Err(Reply::error(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(&args[2]).to_ascii_lowercase()
                )));
            }
            if is(&args[2], "LIB-NAME") {
                sess.lib_name = Some(value);
            } else if is(&args[2], "LIB-VER") {
                sess.lib_ver = Some(value);
            } else {
                return Err(Reply::error(format!(
                    "ERR Unrecognized option '{}'",
                    String::from_utf8_lossy(&args[2])
                )));
            }
            Ok(Reply::OK)
        }
        "info" => {
            argc(2)?;
            Ok(Reply::Verbatim(client_line(sess)))
        }
        "list" => Ok(Reply::Verbatim(client_line(sess))),
        _ => Err(Reply::error(format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&args[1])
        ))),
    }
}

fn client_line(sess: &Session) -> String {
    let name = sess.name.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
    let lib = sess.lib_name.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
    let ver = sess.lib_ver.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
    format!(
        "id={} addr={} name={} db={} resp={} lib-name={} lib-ver={}\n",
        sess.id,
        sess.addr,
        name,
        sess.db,
        sess.proto.version(),
        lib,
        ver
    )
}

pub fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = parse_int(&args[1]).ok_or(Reply::err(NOT_INT))?;
    if !(0..DATABASES as i64).contains(&n) {
        return Err(Reply::err("ERR DB index is out of range"));
    }
    ctx.sess.db = n as usize;
    Ok(Reply::OK)
}

/// The number of live keys of database `db`.
fn count_keys(ctx: &Ctx<'_>, db: usize) -> Result<u64, Reply> {
    let mut start = Vec::new();
    let mut n = 0;
    loop {
        let (keys, next) = ctx.store.scan(ctx.target, db, &start, 10_000, ctx.now)?;
        n += keys.len() as u64;
        match next {
            Some(k) => start = k,
            None => return Ok(n),
        }
    }
}

pub fn dbsize(ctx: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(count_keys(ctx, ctx.db())? as i64))
}

fn flush_mode(args: &[Bytes]) -> Result<(), Reply> {
    match args.get(1) {
        None => Ok(()),
        Some(a) if args.len() == 2 && (is(a, "ASYNC") || is(a, "SYNC")) => Ok(()),
        Some(_) => Err(Reply::err(SYNTAX)),
    }
}

pub fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    ctx.store.flush_db(ctx.target, ctx.db())?;
    ctx.store.flush_epoch.fetch_add(1, Ordering::Release);
    Ok(Reply::OK)
}

pub fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    for db in 0..DATABASES {
        ctx.store.flush_db(ctx.target, db)?;
    }
    ctx.store.flush_epoch.fetch_add(1, Ordering::Release);
    Ok(Reply::OK)
}

/// The INFO sections a request names (none, `all`, `everything`, `default`: all).
#[derive(Debug)]
pub struct Sections {
    all: bool,
    wanted: Vec<String>,
}

impl Sections {
    /// The sections `INFO args[1..]` asks for.
    pub fn of(args: &[Bytes]) -> Sections {
        let wanted: Vec<String> =
            args[1..].iter().map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
        let all = wanted.is_empty()
            || wanted.iter().any(|w| w == "all" || w == "everything" || w == "default");
        Sections { all, wanted }
    }

    /// Whether section `s` (lower case) is asked for.
    pub fn want(&self, s: &str) -> bool {
        self.all || self.wanted.iter().any(|w| w == s)
    }
}

pub fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sections = Sections::of(args);
    let want = |s: &str| sections.want(s);
    let sh = ctx.shared;
    let mut out = String::new();
    info_server_clients(sh, &sections, &mut out);
    if want("persistence") {
        let af = sh.appendfsync();
        let _ = write!(
            out,
            "# Persistence\r\nloading:0\r\naof_enabled:{}\r\nappendfsync:{}\r\n\r\n",
            u8::from(af != AppendFsync::No),
            af.name()
        );
    }
    info_stats(sh, &sections, ctx.store.expired_keys.load(Ordering::Relaxed), &mut out);
    if want("engine") || want("mylsm") {
        let s = ctx.store.db().stats();
        let _ = write!(
            out,
            "# Engine\r\nlast_seqno:{}\r\nmemtable_bytes:{}\r\nimmutable_memtables:{}\r\n\
             flushes:{}\r\ncompactions:{}\r\nwrite_groups:{}\r\nwrite_batches:{}\r\n\
             wal_syncs:{}\r\nwrite_stalls:{}\r\n",
            s.last_seqno,
            s.memtable_bytes,
            s.immutable_memtables,
            s.flushes,
            s.compactions,
            s.write_groups,
            s.write_batches,
            s.wal_syncs,
            s.write_stalls
        );
        for (i, l) in s.levels.iter().enumerate() {
            let _ = write!(out, "level{i}:files={},bytes={}\r\n", l.files, l.bytes);
        }
        out.push_str("\r\n");
    }
    if want("keyspace") {
        out.push_str("# Keyspace\r\n");
        for db in 0..DATABASES {
            if ctx.store.keyspace(db).is_none() {
                continue;
            }
            let keys = count_keys(ctx, db)?;
            if keys > 0 {
                let _ = write!(out, "db{db}:keys={keys},expires=0,avg_ttl=0\r\n");
            }
        }
        out.push_str("\r\n");
    }
    Ok(Reply::Verbatim(out))
}

/// The `# Server` and `# Clients` sections of INFO, as every backend has them.
pub fn info_server_clients(sh: &Shared, sections: &Sections, out: &mut String) {
    if sections.want("server") {
        let _ = write!(
            out,
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\n\
             server_name:mylsm\r\nmylsm_version:{}\r\nos:{}\r\narch_bits:64\r\n\
             multiplexing_api:tokio\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\n\
             mem_allocator:libc\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::process::id(),
            sh.config.port,
            sh.started.elapsed().as_secs(),
        );
    }
    if sections.want("clients") {
        let _ = write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\n\r\n",
            sh.connected_clients.load(Ordering::Relaxed),
            sh.maxclients.load(Ordering::Relaxed)
        );
    }
}

/// The `# Stats` section of INFO.
pub fn info_stats(sh: &Shared, sections: &Sections, expired_keys: u64, out: &mut String) {
    if sections.want("stats") {
        let _ = write!(
            out,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
             rejected_connections:{}\r\nexpired_keys:{}\r\n\r\n",
            sh.total_connections.load(Ordering::Relaxed),
            sh.total_commands.load(Ordering::Relaxed),
            sh.rejected_connections.load(Ordering::Relaxed),
            expired_keys,
        );
    }
}

/// The parameters CONFIG GET knows, with their current values.
fn config_params(sh: &Shared) -> Vec<(&'static str, String)> {
    let af = sh.appendfsync();
    vec![
        ("save", String::new()),
        ("appendonly", if af == AppendFsync::No { "no" } else { "yes" }.into()),
        ("appendfsync", af.name().into()),
        ("databases", DATABASES.to_string()),
        ("maxclients", sh.maxclients.load(Ordering::Relaxed).to_string()),
        ("requirepass", sh.requirepass().unwrap_or_default()),
        ("port", sh.config.port.to_string()),
        ("bind", sh.config.bind.clone()),
        ("timeout", "0".into()),
        ("maxmemory", "0".into()),
        ("proto-max-bulk-len", sh.config.limits.max_bulk_len.to_string()),
        ("dir", sh.config.db_dir.display().to_string()),
    ]
}

pub fn config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    config_for(ctx.shared, Some(ctx.store), args)
}

/// CONFIG for any backend; `store` is the local database (`None` in cluster mode, where
/// CONFIG SET appendfsync is refused: the Raft log decides durability).
pub fn config_for(sh: &Shared, store: Option<&Store>, args: &[Bytes]) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "get" if args.len() >= 3 => {
            let params = config_params(sh);
            let mut out = Vec::new();
            for (name, value) in params {
                if args[2..]
                    .iter()
                    .any(|p| super::glob_match(&p.to_ascii_lowercase(), name.as_bytes()))
                {
                    out.push((Reply::bulk(name.as_bytes()), Reply::bulk(value.into_bytes())));
                }
            }
            Ok(Reply::Map(out))
        }
        "set" if args.len() >= 4 && args.len().is_multiple_of(2) => {
            for pair in args[2..].chunks(2) {
                config_set(sh, store, &pair[0], &pair[1])?;
            }
            Ok(Reply::OK)
        }
        "resetstat" if args.len() == 2 => Ok(Reply::OK),
        "get" | "set" | "resetstat" => Err(super::wrong_args(&format!("config|{sub}"))),
        _ => Err(Reply::error(format!(
            "ERR unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&args[1])
        ))),
    }
}

fn config_set(sh: &Shared, store: Option<&Store>, name: &[u8], value: &[u8]) -> Result<(), Reply> {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    let text = String::from_utf8_lossy(value).into_owned();
    let invalid = || {
        Reply::error(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument couldn't be parsed into an integer"))
    };
    match name.as_str() {
        "appendfsync" => {
            let af = AppendFsync::parse(&text).ok_or_else(|| {
                Reply::err("ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: always, everysec, no")
            })?;
            let Some(store) = store else {
                return Err(Reply::err(
                    "ERR CONFIG SET appendfsync is not supported in cluster mode: \
                     the Raft log decides when writes are durable",
                ));
            };
            *sh.appendfsync.lock().unwrap_or_else(|p| p.into_inner()) = af;
            store.set_sync_writes(af == AppendFsync::Always);
        }
        "requirepass" => {
            *sh.requirepass.write().unwrap_or_else(|p| p.into_inner()) =
                (!text.is_empty()).then_some(text);
        }
        "maxclients" => {
            let n = parse_int(value).filter(|&n| n >= 1).ok_or_else(invalid)?;
            sh.maxclients.store(n as usize, Ordering::Relaxed);
        }
        // Accepted and ignored: mylsm persists through its WAL, not snapshots.
        "save" | "appendonly" | "timeout" | "maxmemory" => {}
        _ => {
            return Err(Reply::error(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )))
        }
    }
    Ok(())
}

pub fn command(_: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let all: Vec<&super::Command> = COMMANDS.iter().collect();
    command_for(&all, args)
}

/// COMMAND over the commands a backend serves, `served`.
pub fn command_for(served: &[&super::Command], args: &[Bytes]) -> CmdResult {
    let info = |c: &super::Command| {
        let flags = if c.write { "write" } else { "readonly" };
        Reply::Array(vec![
            Reply::bulk(c.name.as_bytes()),
            Reply::Int(i64::from(c.arity)),
            Reply::Set(vec![Reply::simple(flags)]),
            Reply::Int(i64::from(c.keys.0)),
            Reply::Int(i64::from(c.keys.1)),
            Reply::Int(i64::from(c.keys.2)),
        ])
    };
    let Some(sub) = args.get(1) else {
        return Ok(Reply::Array(served.iter().map(|c| info(c)).collect()));
    };
    let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
    match sub.as_str() {
        "count" => Ok(Reply::Int(served.len() as i64)),
        // Documentation is optional: redis-cli asks for it only for hints.
        "docs" => Ok(Reply::Map(Vec::new())),
        "info" => Ok(Reply::Array(
            args[2..]
                .iter()
                .map(|n| {
                    super::lookup(n)
                        .filter(|c| served.iter().any(|s| s.name == c.name))
                        .map_or(Reply::Null, info)
                })
                .collect(),
        )),
        "list" => Ok(Reply::Array(served.iter().map(|c| Reply::bulk(c.name.as_bytes())).collect())),
        _ => Err(Reply::error(format!("ERR unknown subcommand '{sub}'. Try COMMAND HELP."))),
    }
}

pub fn time(_: &mut Ctx<'_>, _: &[Bytes]) -> CmdResult {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(Reply::Array(vec![
        Reply::bulk(now.as_secs().to_string()),
        Reply::bulk(now.subsec_micros().to_string()),
    ]))
}

/// FUNCTION FLUSH only, as a no-op: the Redis test harness sends it before each unit.
pub fn function(_: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if is(&args[1], "FLUSH") {
        return Ok(Reply::OK);
    }
    Err(Reply::err("ERR FUNCTION is not supported by mylsm"))
}

/// `DEBUG ADVANCE-CLOCK ms` (tests) when enabled; `DEBUG SLEEP 0` and `DEBUG LOG` as
/// no-ops.
pub fn debug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if is(&args[1], "LOG") {
        return Ok(Reply::OK);
    }
    debug_allowed(ctx.shared)?;
    if is(&args[1], "ADVANCE-CLOCK") && args.len() == 3 {
        let ms = parse_int(&args[2]).ok_or(Reply::err(NOT_INT))?;
        ctx.store.advance_clock(ms);
        return Ok(Reply::OK);
    }
    if is(&args[1], "SLEEP") {
        return Ok(Reply::OK);
    }
    Err(Reply::err("ERR unknown DEBUG subcommand"))
}

/// Refuses DEBUG's test-only subcommands unless `enable_debug_command` allows them.
pub fn debug_allowed(sh: &Shared) -> Result<(), Reply> {
    if sh.config.enable_debug_command {
        return Ok(());
    }
    Err(Reply::err(
        "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"no\", \
         you can't use this command.",
    ))
}

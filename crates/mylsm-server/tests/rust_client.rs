//! The server driven by the `redis` crate, as a Rust application would use it, in
//! RESP2 and in RESP3: every implemented command, its error texts, WATCH conflicts and
//! expiry under a moved clock.

mod common;

use std::collections::{HashMap, HashSet};

use common::TestServer;
use redis::{cmd, Connection, Value};

/// The error a command gets, as `CODE detail`.
fn error_of(con: &mut Connection, c: &mut redis::Cmd) -> String {
    match c.query::<Value>(con) {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
    }
}

/// A connection whose connect and reads give up after a while, so no test can hang.
fn connect(url: &str) -> Connection {
    let con = redis::Client::open(url)
        .unwrap()
        .get_connection_with_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    con.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    con
}

fn both_protocols(f: impl Fn(&mut Connection, bool)) {
    let server = TestServer::start();
    for resp3 in [false, true] {
        let mut con = server.client(resp3);
        let _: () = cmd("FLUSHALL").query(&mut con).unwrap();
        f(&mut con, resp3);
    }
}

#[test]
fn connection_commands_answer_like_redis() {
    both_protocols(|con, resp3| {
        assert_eq!(cmd("PING").query::<String>(con).unwrap(), "PONG");
        assert_eq!(cmd("PING").arg("hi").query::<String>(con).unwrap(), "hi");
        assert_eq!(cmd("ECHO").arg("x y").query::<String>(con).unwrap(), "x y");
        let hello: HashMap<String, Value> = cmd("HELLO").query(con).unwrap();
        assert_eq!(hello["proto"], Value::Int(if resp3 { 3 } else { 2 }));
        assert_eq!(hello["server"], Value::BulkString(b"redis".to_vec()));
        let _: () = cmd("CLIENT").arg("SETNAME").arg("me").query(con).unwrap();
        assert_eq!(cmd("CLIENT").arg("GETNAME").query::<String>(con).unwrap(), "me");
        assert!(cmd("CLIENT").arg("ID").query::<i64>(con).unwrap() > 0);
        assert_eq!(
            error_of(con, cmd("CLIENT").arg("SETNAME").arg("a b")),
            "ERR Client names cannot contain spaces, newlines or special characters."
        );
        assert_eq!(
            error_of(con, cmd("CLIENT").arg("NOPE")),
            "ERR unknown subcommand 'NOPE'. Try CLIENT HELP."
        );
        assert_eq!(
            error_of(con, cmd("NOSUCH").arg("a").arg("b")),
            "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            error_of(con, &mut cmd("GET")),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(error_of(con, cmd("SELECT").arg(16)), "ERR DB index is out of range");
        assert_eq!(
            error_of(con, cmd("SELECT").arg("x")),
            "ERR value is not an integer or out of range"
        );
        let cfg: HashMap<String, String> = cmd("CONFIG").arg("GET").arg("save").query(con).unwrap();
        assert_eq!(cfg.get("save").map(String::as_str), Some(""));
        assert!(cmd("COMMAND").arg("COUNT").query::<i64>(con).unwrap() > 50);
        let time: Vec<String> = cmd("TIME").query(con).unwrap();
        assert_eq!(time.len(), 2);
        let info: String = cmd("INFO").query(con).unwrap();
        assert!(info.contains("redis_version:") && info.contains("mem_allocator:"), "{info}");
        assert_eq!(
            error_of(con, cmd("AUTH").arg("pw")),
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?"
        );
    });
}

#[test]
fn databases_are_separate_and_flushable() {
    both_protocols(|con, _| {
        let _: () = cmd("SET").arg("k").arg("zero").query(con).unwrap();
        let _: () = cmd("SELECT").arg(3).query(con).unwrap();
        assert_eq!(cmd("GET").arg("k").query::<Option<String>>(con).unwrap(), None);
        let _: () = cmd("SET").arg("k").arg("three").query(con).unwrap();
        assert_eq!(cmd("DBSIZE").query::<i64>(con).unwrap(), 1);
        let _: () = cmd("FLUSHDB").query(con).unwrap();
        assert_eq!(cmd("DBSIZE").query::<i64>(con).unwrap(), 0);
        let _: () = cmd("SELECT").arg(0).query(con).unwrap();
        assert_eq!(cmd("GET").arg("k").query::<String>(con).unwrap(), "zero");
        let _: () = cmd("FLUSHALL").query(con).unwrap();
        assert_eq!(cmd("DBSIZE").query::<i64>(con).unwrap(), 0);
    });
}

#[test]
fn strings_set_get_and_count() {
    both_protocols(|con, _| {
        assert_eq!(cmd("GET").arg("missing").query::<Value>(con).unwrap(), Value::Nil);
        let _: () = cmd("SET").arg("a").arg("1").query(con).unwrap();
        assert_eq!(cmd("SET").arg("a").arg("2").arg("NX").query::<Value>(con).unwrap(), Value::Nil);
        assert_eq!(cmd("SET").arg("b").arg("2").arg("XX").query::<Value>(con).unwrap(), Value::Nil);
        assert_eq!(cmd("SET").arg("a").arg("3").arg("GET").query::<String>(con).unwrap(), "1");
        assert_eq!(
            error_of(con, cmd("SET").arg("a").arg("1").arg("NX").arg("XX")),
            "ERR syntax error"
        );
        assert_eq!(
            error_of(con, cmd("SET").arg("a").arg("1").arg("EX").arg(0)),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(cmd("SETNX").arg("a").arg("x").query::<i64>(con).unwrap(), 0);
        assert_eq!(cmd("SETNX").arg("n").arg("x").query::<i64>(con).unwrap(), 1);
        assert_eq!(cmd("GETSET").arg("n").arg("y").query::<String>(con).unwrap(), "x");
        assert_eq!(cmd("GETDEL").arg("n").query::<String>(con).unwrap(), "y");
        assert_eq!(cmd("EXISTS").arg("n").arg("a").arg("a").query::<i64>(con).unwrap(), 2);
        let _: () = cmd("MSET").arg("m1").arg("v1").arg("m2").arg("v2").query(con).unwrap();
        let got: Vec<Option<String>> =
            cmd("MGET").arg("m1").arg("nope").arg("m2").query(con).unwrap();
        assert_eq!(got, vec![Some("v1".into()), None, Some("v2".into())]);
        assert_eq!(
            cmd("MSETNX").arg("m1").arg("x").arg("m3").arg("y").query::<i64>(con).unwrap(),
            0
        );
        assert_eq!(
            cmd("MSETNX").arg("m3").arg("x").arg("m4").arg("y").query::<i64>(con).unwrap(),
            1
        );
        assert_eq!(
            error_of(con, cmd("MSET").arg("a")),
            "ERR wrong number of arguments for 'mset' command"
        );
        assert_eq!(cmd("APPEND").arg("s").arg("Hello").query::<i64>(con).unwrap(), 5);
        assert_eq!(cmd("APPEND").arg("s").arg(" World").query::<i64>(con).unwrap(), 11);
        assert_eq!(cmd("STRLEN").arg("s").query::<i64>(con).unwrap(), 11);
        assert_eq!(cmd("GETRANGE").arg("s").arg(0).arg(4).query::<String>(con).unwrap(), "Hello");
        assert_eq!(cmd("GETRANGE").arg("s").arg(-5).arg(-1).query::<String>(con).unwrap(), "World");
        assert_eq!(cmd("GETRANGE").arg("s").arg(5).arg(3).query::<String>(con).unwrap(), "");
        assert_eq!(cmd("SETRANGE").arg("s").arg(6).arg("Redis").query::<i64>(con).unwrap(), 11);
        assert_eq!(cmd("GET").arg("s").query::<String>(con).unwrap(), "Hello Redis");
        assert_eq!(cmd("SETRANGE").arg("z").arg(3).arg("x").query::<i64>(con).unwrap(), 4);
        assert_eq!(cmd("GET").arg("z").query::<Vec<u8>>(con).unwrap(), b"\0\0\0x");
        assert_eq!(cmd("INCR").arg("c").query::<i64>(con).unwrap(), 1);
        assert_eq!(cmd("INCRBY").arg("c").arg(10).query::<i64>(con).unwrap(), 11);
        assert_eq!(cmd("DECR").arg("c").query::<i64>(con).unwrap(), 10);
        assert_eq!(cmd("DECRBY").arg("c").arg(20).query::<i64>(con).unwrap(), -10);
        assert_eq!(
            error_of(con, cmd("INCR").arg("s")),
            "ERR value is not an integer or out of range"
        );
        let _: () = cmd("SET").arg("big").arg(i64::MAX).query(con).unwrap();
        assert_eq!(
            error_of(con, cmd("INCR").arg("big")),
            "ERR increment or decrement would overflow"
        );
        let _: () = cmd("SET").arg("f").arg("10.50").query(con).unwrap();
        assert_eq!(cmd("INCRBYFLOAT").arg("f").arg("0.1").query::<String>(con).unwrap(), "10.6");
        assert_eq!(
            error_of(con, cmd("INCRBYFLOAT").arg("f").arg("x")),
            "ERR value is not a valid float"
        );
        let _: () = cmd("LPUSH").arg("list").arg("x").query(con).unwrap();
        assert_eq!(
            error_of(con, cmd("GET").arg("list")),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(
            error_of(con, cmd("INCR").arg("list")),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        // SET replaces a key of any type.
        let _: () = cmd("SET").arg("list").arg("now a string").query(con).unwrap();
        assert_eq!(cmd("TYPE").arg("list").query::<String>(con).unwrap(), "string");
    });
}

#[test]
fn keys_scan_rename_and_delete() {
    both_protocols(|con, _| {
        for i in 0..25 {
            let _: () = cmd("SET").arg(format!("user:{i}")).arg(i).query(con).unwrap();
        }
        let _: () = cmd("SADD").arg("aset").arg("m").query(con).unwrap();
        let mut keys: Vec<String> = cmd("KEYS").arg("user:1*").query(con).unwrap();
        keys.sort();
        assert_eq!(
            keys,
            [
                "user:1", "user:10", "user:11", "user:12", "user:13", "user:14", "user:15",
                "user:16", "user:17", "user:18", "user:19"
            ]
        );
        let mut seen = HashSet::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg("user:*")
                .arg("COUNT")
                .arg(7)
                .query(con)
                .unwrap();
            seen.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 25);
        let (_, sets): (u64, Vec<String>) =
            cmd("SCAN").arg(0).arg("COUNT").arg(100).arg("TYPE").arg("set").query(con).unwrap();
        assert_eq!(sets, ["aset"]);
        assert_eq!(error_of(con, cmd("SCAN").arg("abc")), "ERR invalid cursor");
        let _: () = cmd("RENAME").arg("user:0").arg("renamed").query(con).unwrap();
        assert_eq!(cmd("GET").arg("renamed").query::<String>(con).unwrap(), "0");
        assert_eq!(error_of(con, cmd("RENAME").arg("user:0").arg("x")), "ERR no such key");
        assert_eq!(cmd("RENAMENX").arg("user:1").arg("renamed").query::<i64>(con).unwrap(), 0);
        let _: () = cmd("RENAME").arg("aset").arg("bset").query(con).unwrap();
        assert_eq!(cmd("SMEMBERS").arg("bset").query::<Vec<String>>(con).unwrap(), ["m"]);
        assert_eq!(cmd("EXISTS").arg("aset").query::<i64>(con).unwrap(), 0);
        assert!(cmd("RANDOMKEY").query::<Option<String>>(con).unwrap().is_some());
        assert_eq!(
            cmd("DEL").arg("user:1").arg("user:2").arg("nope").query::<i64>(con).unwrap(),
            2
        );
        assert_eq!(cmd("UNLINK").arg("user:3").query::<i64>(con).unwrap(), 1);
        assert_eq!(cmd("DBSIZE").query::<i64>(con).unwrap(), 23);
        assert_eq!(cmd("TYPE").arg("nope").query::<String>(con).unwrap(), "none");
        let _: () = cmd("FLUSHDB").query(con).unwrap();
        assert_eq!(cmd("RANDOMKEY").query::<Value>(con).unwrap(), Value::Nil);
    });
}

#[test]
fn expiry_follows_the_clock() {
    both_protocols(|con, _| {
        let advance = |con: &mut Connection, ms: i64| {
            let _: () = cmd("DEBUG").arg("ADVANCE-CLOCK").arg(ms).query(con).unwrap();
        };
        let _: () = cmd("SET").arg("k").arg("v").arg("EX").arg(100).query(con).unwrap();
        assert_eq!(cmd("TTL").arg("k").query::<i64>(con).unwrap(), 100);
        assert!(cmd("PTTL").arg("k").query::<i64>(con).unwrap() > 99_000);
        assert_eq!(cmd("TTL").arg("nope").query::<i64>(con).unwrap(), -2);
        let _: () = cmd("SET").arg("p").arg("v").query(con).unwrap();
        assert_eq!(cmd("TTL").arg("p").query::<i64>(con).unwrap(), -1);
        assert_eq!(cmd("EXPIRETIME").arg("p").query::<i64>(con).unwrap(), -1);
        // NX/XX/GT/LT.
        assert_eq!(cmd("EXPIRE").arg("k").arg(50).arg("NX").query::<i64>(con).unwrap(), 0);
        assert_eq!(cmd("EXPIRE").arg("k").arg(50).arg("GT").query::<i64>(con).unwrap(), 0);
        assert_eq!(cmd("EXPIRE").arg("k").arg(50).arg("LT").query::<i64>(con).unwrap(), 1);
        assert_eq!(cmd("EXPIRE").arg("p").arg(50).arg("XX").query::<i64>(con).unwrap(), 0);
        assert_eq!(cmd("EXPIRE").arg("p").arg(50).arg("GT").query::<i64>(con).unwrap(), 0);
        assert_eq!(
            error_of(con, cmd("EXPIRE").arg("k").arg(5).arg("NX").arg("XX")),
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        );
        assert_eq!(cmd("TTL").arg("k").query::<i64>(con).unwrap(), 50);
        // SET with KEEPTTL keeps it; plain SET drops it; INCR keeps it.
        let _: () = cmd("SET").arg("k").arg("w").arg("KEEPTTL").query(con).unwrap();
        assert_eq!(cmd("TTL").arg("k").query::<i64>(con).unwrap(), 50);
        let _: () = cmd("SET").arg("n").arg(1).arg("PX").arg(5000).query(con).unwrap();
        assert_eq!(cmd("INCR").arg("n").query::<i64>(con).unwrap(), 2);
        assert!(cmd("PTTL").arg("n").query::<i64>(con).unwrap() > 0);
        assert_eq!(cmd("PERSIST").arg("n").query::<i64>(con).unwrap(), 1);
        assert_eq!(cmd("PERSIST").arg("n").query::<i64>(con).unwrap(), 0);
        // GETEX sets and clears.
        assert_eq!(cmd("GETEX").arg("p").arg("PX").arg(2000).query::<String>(con).unwrap(), "v");
        assert!(cmd("PEXPIRETIME").arg("p").query::<i64>(con).unwrap() > 0);
        assert_eq!(cmd("GETEX").arg("p").arg("PERSIST").query::<String>(con).unwrap(), "v");
        assert_eq!(cmd("TTL").arg("p").query::<i64>(con).unwrap(), -1);
        // Collections expire too.
        let _: () = cmd("RPUSH").arg("l").arg("a").arg("b").query(con).unwrap();
        assert_eq!(cmd("PEXPIRE").arg("l").arg(1000).query::<i64>(con).unwrap(), 1);
        advance(con, 60_000);
        assert_eq!(cmd("GET").arg("k").query::<Value>(con).unwrap(), Value::Nil);
        assert_eq!(cmd("EXISTS").arg("k").arg("l").query::<i64>(con).unwrap(), 0);
        assert_eq!(cmd("LLEN").arg("l").query::<i64>(con).unwrap(), 0);
        assert_eq!(
            cmd("RPUSH").arg("l").arg("c").query::<i64>(con).unwrap(),
            1,
            "a new list, not the old one"
        );
        assert_eq!(cmd("LRANGE").arg("l").arg(0).arg(-1).query::<Vec<String>>(con).unwrap(), ["c"]);
        // A time in the past deletes.
        assert_eq!(cmd("EXPIREAT").arg("l").arg(1).query::<i64>(con).unwrap(), 1);
        assert_eq!(cmd("EXISTS").arg("l").query::<i64>(con).unwrap(), 0);
        let keys: Vec<String> = cmd("KEYS").arg("*").query(con).unwrap();
        assert!(!keys.contains(&"k".to_string()), "{keys:?}");
    });
}

#[test]
fn the_sweeper_deletes_keys_nobody_touches() {
    let server = TestServer::start();
    let mut con = server.client(false);
    for i in 0..300 {
        let _: () =
            cmd("SET").arg(format!("t{i}")).arg("v").arg("PX").arg(500).query(&mut con).unwrap();
        let _: () = cmd("RPUSH").arg(format!("l{i}")).arg("a").query(&mut con).unwrap();
        let _: i64 = cmd("PEXPIRE").arg(format!("l{i}")).arg(500).query(&mut con).unwrap();
    }
    let _: () = cmd("SET").arg("keep").arg("v").query(&mut con).unwrap();
    let _: () = cmd("DEBUG").arg("ADVANCE-CLOCK").arg(10_000).query(&mut con).unwrap();
    let expired = |con: &mut Connection| {
        let info: String = cmd("INFO").arg("stats").query(con).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .and_then(|n| n.trim().parse::<u64>().ok())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while expired(&mut con) != Some(600) {
        assert!(std::time::Instant::now() < deadline, "expired_keys: {:?}", expired(&mut con));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(cmd("DBSIZE").query::<i64>(&mut con).unwrap(), 1);
}

#[test]
fn lists_push_pop_and_range() {
    both_protocols(|con, _| {
        assert_eq!(cmd("LPUSH").arg("l").arg("a").arg("b").arg("c").query::<i64>(con).unwrap(), 3);
        assert_eq!(cmd("RPUSH").arg("l").arg("x").arg("y").query::<i64>(con).unwrap(), 5);
        assert_eq!(
            cmd("LRANGE").arg("l").arg(0).arg(-1).query::<Vec<String>>(con).unwrap(),
            ["c", "b", "a", "x", "y"]
        );
        assert_eq!(
            cmd("LRANGE").arg("l").arg(1).arg(2).query::<Vec<String>>(con).unwrap(),
            ["b", "a"]
        );
        assert_eq!(
            cmd("LRANGE").arg("l").arg(-2).arg(100).query::<Vec<String>>(con).unwrap(),
            ["x", "y"]
        );
        assert_eq!(cmd("LINDEX").arg("l").arg(-1).query::<String>(con).unwrap(), "y");
        assert_eq!(cmd("LLEN").arg("l").query::<i64>(con).unwrap(), 5);
        assert_eq!(cmd("LPOP").arg("l").query::<String>(con).unwrap(), "c");
        assert_eq!(cmd("RPOP").arg("l").arg(2).query::<Vec<String>>(con).unwrap(), ["y", "x"]);
        assert_eq!(cmd("LPOP").arg("l").arg(5).query::<Vec<String>>(con).unwrap(), ["b", "a"]);
        assert_eq!(cmd("EXISTS").arg("l").query::<i64>(con).unwrap(), 0);
        assert_eq!(cmd("LPOP").arg("l").query::<Value>(con).unwrap(), Value::Nil);
        assert_eq!(cmd("LPOP").arg("l").arg(2).query::<Value>(con).unwrap(), Value::Nil);
        assert_eq!(cmd("LPUSHX").arg("l").arg("a").query::<i64>(con).unwrap(), 0);
        let _: () = cmd("SET").arg("s").arg("v").query(con).unwrap();
        assert_eq!(
            error_of(con, cmd("LPUSH").arg("s").arg("v")),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
    });
}

#[test]
fn sets_and_hashes() {
    both_protocols(|con, _| {
        assert_eq!(cmd("SADD").arg("s").arg("a").arg("b").arg("a").query::<i64>(con).unwrap(), 2);
        assert_eq!(cmd("SADD").arg("s").arg("b").arg("c").query::<i64>(con).unwrap(), 1);
        assert_eq!(cmd("SCARD").arg("s").query::<i64>(con).unwrap(), 3);
        assert_eq!(cmd("SISMEMBER").arg("s").arg("b").query::<i64>(con).unwrap(), 1);
        assert_eq!(cmd("SISMEMBER").arg("s").arg("z").query::<i64>(con).unwrap(), 0);
        let members: HashSet<String> = cmd("SMEMBERS").arg("s").query(con).unwrap();
        assert_eq!(members, ["a", "b", "c"].iter().map(|s| s.to_string()).collect());
        assert_eq!(cmd("SREM").arg("s").arg("a").arg("zz").query::<i64>(con).unwrap(), 1);
        let popped: String = cmd("SPOP").arg("s").query(con).unwrap();
        assert!(popped == "b" || popped == "c");
        let rest: Vec<String> = cmd("SPOP").arg("s").arg(10).query(con).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(cmd("SPOP").arg("s").query::<Value>(con).unwrap(), Value::Nil);
        assert_eq!(cmd("EXISTS").arg("s").query::<i64>(con).unwrap(), 0);

        assert_eq!(
            cmd("HSET").arg("h").arg("f1").arg("v1").arg("f2").arg("v2").query::<i64>(con).unwrap(),
            2
        );
        assert_eq!(cmd("HSET").arg("h").arg("f1").arg("w").query::<i64>(con).unwrap(), 0);
        assert_eq!(cmd("HGET").arg("h").arg("f1").query::<String>(con).unwrap(), "w");
        assert_eq!(cmd("HGET").arg("h").arg("nope").query::<Value>(con).unwrap(), Value::Nil);
        let all: HashMap<String, String> = cmd("HGETALL").arg("h").query(con).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all["f2"], "v2");
        assert_eq!(cmd("HLEN").arg("h").query::<i64>(con).unwrap(), 2);
        assert_eq!(cmd("HEXISTS").arg("h").arg("f2").query::<i64>(con).unwrap(), 1);
        assert_eq!(cmd("HINCRBY").arg("h").arg("n").arg(5).query::<i64>(con).unwrap(), 5);
        assert_eq!(cmd("HSETNX").arg("h").arg("n").arg(1).query::<i64>(con).unwrap(), 0);
        let vals: Vec<Option<String>> =
            cmd("HMGET").arg("h").arg("f2").arg("x").query(con).unwrap();
        assert_eq!(vals, vec![Some("v2".into()), None]);
        assert_eq!(cmd("HDEL").arg("h").arg("f1").arg("f2").arg("n").query::<i64>(con).unwrap(), 3);
        assert_eq!(cmd("EXISTS").arg("h").query::<i64>(con).unwrap(), 0);
        assert_eq!(
            error_of(con, cmd("HSET").arg("h").arg("f")),
            "ERR wrong number of arguments for 'hset' command"
        );
    });
}

#[test]
fn sorted_sets() {
    both_protocols(|con, resp3| {
        assert_eq!(
            cmd("ZADD")
                .arg("z")
                .arg(2)
                .arg("b")
                .arg(1)
                .arg("a")
                .arg("3.5")
                .arg("c")
                .query::<i64>(con)
                .unwrap(),
            3
        );
        assert_eq!(
            cmd("ZADD")
                .arg("z")
                .arg("CH")
                .arg(5)
                .arg("a")
                .arg(9)
                .arg("d")
                .query::<i64>(con)
                .unwrap(),
            2
        );
        assert_eq!(cmd("ZADD").arg("z").arg("NX").arg(0).arg("a").query::<i64>(con).unwrap(), 0);
        assert_eq!(cmd("ZSCORE").arg("z").arg("c").query::<f64>(con).unwrap(), 3.5);
        assert_eq!(cmd("ZSCORE").arg("z").arg("zz").query::<Value>(con).unwrap(), Value::Nil);
        assert_eq!(cmd("ZCARD").arg("z").query::<i64>(con).unwrap(), 4);
        assert_eq!(
            cmd("ZRANGE").arg("z").arg(0).arg(-1).query::<Vec<String>>(con).unwrap(),
            ["b", "c", "a", "d"]
        );
        assert_eq!(
            cmd("ZRANGE").arg("z").arg(0).arg(1).arg("REV").query::<Vec<String>>(con).unwrap(),
            ["d", "a"]
        );
        assert_eq!(
            cmd("ZRANGE")
                .arg("z")
                .arg("(2")
                .arg("+inf")
                .arg("BYSCORE")
                .arg("LIMIT")
                .arg(0)
                .arg(2)
                .query::<Vec<String>>(con)
                .unwrap(),
            ["c", "a"]
        );
        let with: Value =
            cmd("ZRANGE").arg("z").arg(0).arg(0).arg("WITHSCORES").query(con).unwrap();
        if resp3 {
            assert_eq!(
                with,
                Value::Array(vec![Value::Array(vec![
                    Value::BulkString(b"b".to_vec()),
                    Value::Double(2.0)
                ])])
            );
        } else {
            assert_eq!(
                with,
                Value::Array(vec![
                    Value::BulkString(b"b".to_vec()),
                    Value::BulkString(b"2".to_vec())
                ])
            );
        }
        let popped: Vec<String> = cmd("ZPOPMIN").arg("z").query(con).unwrap();
        assert_eq!(popped, ["b", "2"]);
        let popped: Vec<String> = cmd("ZPOPMAX").arg("z").query(con).unwrap();
        assert_eq!(popped, ["d", "9"]);
        assert_eq!(cmd("ZADD").arg("z").arg(-1).arg("neg").query::<i64>(con).unwrap(), 1);
        let popped: Vec<String> = cmd("ZPOPMIN").arg("z").query(con).unwrap();
        assert_eq!(popped, ["neg", "-1"], "a score below the popped ones is still found");
        assert_eq!(cmd("ZREM").arg("z").arg("c").arg("a").query::<i64>(con).unwrap(), 2);
        assert_eq!(cmd("EXISTS").arg("z").query::<i64>(con).unwrap(), 0);
        assert_eq!(
            cmd("ZPOPMIN").arg("z").query::<Vec<String>>(con).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            error_of(con, cmd("ZADD").arg("z").arg("x").arg("m")),
            "ERR value is not a valid float"
        );
        assert_eq!(
            error_of(con, cmd("ZADD").arg("z").arg("NX").arg("XX").arg(1).arg("m")),
            "ERR XX and NX options at the same time are not compatible"
        );
        assert_eq!(
            cmd("ZADD").arg("z").arg("INCR").arg(2).arg("m").query::<f64>(con).unwrap(),
            2.0
        );
    });
}

#[test]
fn transactions_and_watch() {
    both_protocols(|con, _| {
        let _: () = cmd("MULTI").query(con).unwrap();
        assert_eq!(cmd("SET").arg("a").arg(1).query::<String>(con).unwrap(), "QUEUED");
        assert_eq!(cmd("INCR").arg("a").query::<String>(con).unwrap(), "QUEUED");
        let replies: Vec<Value> = cmd("EXEC").query(con).unwrap();
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[1], Value::Int(2));
        assert_eq!(error_of(con, &mut cmd("EXEC")), "ERR EXEC without MULTI");
        assert_eq!(error_of(con, &mut cmd("DISCARD")), "ERR DISCARD without MULTI");
        // A queued error aborts EXEC.
        let _: () = cmd("MULTI").query(con).unwrap();
        assert_eq!(
            error_of(con, &mut cmd("NOSUCH")),
            "ERR unknown command 'NOSUCH', with args beginning with: "
        );
        assert_eq!(
            error_of(con, &mut cmd("EXEC")),
            "EXECABORT Transaction discarded because of previous errors."
        );
        // DISCARD drops the queue.
        let _: () = cmd("MULTI").query(con).unwrap();
        let _: String = cmd("SET").arg("a").arg(100).query(con).unwrap();
        let _: () = cmd("DISCARD").query(con).unwrap();
        assert_eq!(cmd("GET").arg("a").query::<i64>(con).unwrap(), 2);
    });
    let server = TestServer::start();
    let mut a = server.client(false);
    let mut b = server.client(true);
    // A write by another client between WATCH and EXEC aborts the transaction.
    let _: () = cmd("WATCH").arg("w").query(&mut a).unwrap();
    let _: () = cmd("SET").arg("w").arg("other").query(&mut b).unwrap();
    let _: () = cmd("MULTI").query(&mut a).unwrap();
    let _: String = cmd("SET").arg("w").arg("mine").query(&mut a).unwrap();
    assert_eq!(cmd("EXEC").query::<Value>(&mut a).unwrap(), Value::Nil);
    assert_eq!(cmd("GET").arg("w").query::<String>(&mut a).unwrap(), "other");
    // Without a conflict it runs, and EXEC forgets the watch.
    let _: () = cmd("WATCH").arg("w").query(&mut a).unwrap();
    let _: () = cmd("MULTI").query(&mut a).unwrap();
    let _: String = cmd("SET").arg("w").arg("mine").query(&mut a).unwrap();
    assert_eq!(cmd("EXEC").query::<Vec<String>>(&mut a).unwrap(), ["OK"]);
    let _: () = cmd("SET").arg("w").arg("later").query(&mut b).unwrap();
    // UNWATCH forgets, FLUSHALL touches every key.
    let _: () = cmd("WATCH").arg("w").query(&mut a).unwrap();
    let _: () = cmd("UNWATCH").query(&mut a).unwrap();
    let _: () = cmd("SET").arg("w").arg("x").query(&mut b).unwrap();
    let _: () = cmd("MULTI").query(&mut a).unwrap();
    assert_eq!(cmd("EXEC").query::<Vec<String>>(&mut a).unwrap(), Vec::<String>::new());
    let _: () = cmd("WATCH").arg("q").query(&mut a).unwrap();
    let _: () = cmd("FLUSHALL").query(&mut b).unwrap();
    let _: () = cmd("MULTI").query(&mut a).unwrap();
    assert_eq!(cmd("EXEC").query::<Value>(&mut a).unwrap(), Value::Nil);
}

#[test]
fn concurrent_increments_are_atomic() {
    let server = TestServer::start();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = server.url(false);
            std::thread::spawn(move || {
                let mut con = connect(&url);
                for _ in 0..250 {
                    let _: i64 = cmd("INCR").arg("counter").query(&mut con).unwrap();
                    let _: i64 = cmd("APPEND").arg("log").arg("x").query(&mut con).unwrap();
                    let _: i64 = cmd("RPUSH").arg("list").arg("x").query(&mut con).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut con = server.client(false);
    assert_eq!(cmd("GET").arg("counter").query::<i64>(&mut con).unwrap(), 1000);
    assert_eq!(cmd("STRLEN").arg("log").query::<i64>(&mut con).unwrap(), 1000);
    assert_eq!(cmd("LLEN").arg("list").query::<i64>(&mut con).unwrap(), 1000);
    assert_eq!(
        cmd("LRANGE").arg("list").arg(0).arg(-1).query::<Vec<String>>(&mut con).unwrap().len(),
        1000
    );
}

#[test]
fn requirepass_demands_auth() {
    let server = TestServer::start_with(|c| c.requirepass = Some("secret".into()));
    let mut con = connect(&server.url(false));
    assert_eq!(error_of(&mut con, cmd("GET").arg("k")), "NOAUTH Authentication required.");
    assert_eq!(
        error_of(&mut con, cmd("AUTH").arg("wrong")),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    let _: () = cmd("AUTH").arg("secret").query(&mut con).unwrap();
    let _: () = cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let url = format!("redis://:secret@{}/?protocol=resp3", server.addr());
    let mut con3 = connect(&url);
    assert_eq!(cmd("GET").arg("k").query::<String>(&mut con3).unwrap(), "v");
}

#[test]
fn data_survives_a_clean_restart() {
    let mut server = TestServer::start();
    {
        let mut con = server.client(false);
        let _: () = cmd("SET").arg("s").arg("v").query(&mut con).unwrap();
        let _: () = cmd("RPUSH").arg("l").arg("a").arg("b").query(&mut con).unwrap();
        let _: () = cmd("SELECT").arg(5).query(&mut con).unwrap();
        let _: () = cmd("HSET").arg("h").arg("f").arg("v").query(&mut con).unwrap();
    }
    server.server.take().unwrap().shutdown().unwrap();
    let dir = server.dir.path().to_path_buf();
    let again = mylsm_server::Server::start(mylsm_server::Config {
        db_dir: dir,
        port: 0,
        ..mylsm_server::Config::default()
    })
    .unwrap();
    let mut con = connect(&format!("redis://{}/", again.addr()));
    assert_eq!(cmd("GET").arg("s").query::<String>(&mut con).unwrap(), "v");
    assert_eq!(
        cmd("LRANGE").arg("l").arg(0).arg(-1).query::<Vec<String>>(&mut con).unwrap(),
        ["a", "b"]
    );
    let _: () = cmd("SELECT").arg(5).query(&mut con).unwrap();
    assert_eq!(cmd("HGET").arg("h").arg("f").query::<String>(&mut con).unwrap(), "v");
    again.shutdown().unwrap();
}

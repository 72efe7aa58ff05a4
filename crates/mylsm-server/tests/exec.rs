//! EXEC is all or nothing: its commands reach the engine as one write batch (so a
//! crash or a failed write cannot leave a prefix of them applied), each reads the
//! writes of those before it, and a command that fails fails alone, as in Redis.

mod common;

use common::TestServer;
use redis::{cmd, Connection, Value};

/// The engine's count of committed write batches, from INFO.
fn write_batches(con: &mut Connection) -> u64 {
    let info: String = cmd("INFO").arg("engine").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("write_batches:"))
        .unwrap_or_else(|| panic!("no write_batches in {info}"))
        .trim()
        .parse()
        .unwrap()
}

fn queue(con: &mut Connection, c: &mut redis::Cmd) {
    assert_eq!(c.query::<String>(con).unwrap(), "QUEUED");
}

#[test]
fn an_exec_reaches_the_engine_as_one_write_batch() {
    let server = TestServer::start();
    for resp3 in [false, true] {
        let mut con = server.client(resp3);
        let _: () = cmd("FLUSHALL").query(&mut con).unwrap();
        let _: () = cmd("RPUSH").arg("list").arg("a").query(&mut con).unwrap();
        let before = write_batches(&mut con);
        let _: () = cmd("MULTI").query(&mut con).unwrap();
        queue(&mut con, cmd("SET").arg("s").arg("1"));
        queue(&mut con, cmd("INCRBY").arg("s").arg(5));
        queue(&mut con, cmd("RPUSH").arg("list").arg("b").arg("c"));
        queue(&mut con, cmd("HSET").arg("h").arg("f").arg("v"));
        queue(&mut con, cmd("ZADD").arg("z").arg(1).arg("m"));
        queue(&mut con, cmd("SELECT").arg(3));
        queue(&mut con, cmd("SET").arg("other-db").arg("x"));
        queue(&mut con, cmd("SELECT").arg(0));
        queue(&mut con, cmd("DEL").arg("nothing"));
        let replies: Vec<Value> = cmd("EXEC").query(&mut con).unwrap();
        assert_eq!(replies.len(), 9);
        assert_eq!(write_batches(&mut con), before + 1, "one EXEC, one engine batch");
        assert_eq!(cmd("GET").arg("s").query::<i64>(&mut con).unwrap(), 6);
        let list: Vec<String> = cmd("LRANGE").arg("list").arg(0).arg(-1).query(&mut con).unwrap();
        assert_eq!(list, ["a", "b", "c"]);
        assert_eq!(cmd("HGET").arg("h").arg("f").query::<String>(&mut con).unwrap(), "v");
        assert_eq!(cmd("ZSCORE").arg("z").arg("m").query::<f64>(&mut con).unwrap(), 1.0);
        let _: () = cmd("SELECT").arg(3).query(&mut con).unwrap();
        assert_eq!(cmd("GET").arg("other-db").query::<String>(&mut con).unwrap(), "x");
        // A read-only EXEC writes nothing at all.
        let before = write_batches(&mut con);
        let _: () = cmd("MULTI").query(&mut con).unwrap();
        queue(&mut con, cmd("GET").arg("other-db"));
        let _: Vec<Value> = cmd("EXEC").query(&mut con).unwrap();
        assert_eq!(write_batches(&mut con), before);
    }
}

#[test]
fn commands_inside_exec_read_the_writes_before_them() {
    let server = TestServer::start();
    for resp3 in [false, true] {
        let mut con = server.client(resp3);
        let _: () = cmd("FLUSHALL").query(&mut con).unwrap();
        let _: () = cmd("RPUSH").arg("big").arg("x").query(&mut con).unwrap();
        let _: () = cmd("MULTI").query(&mut con).unwrap();
        queue(&mut con, cmd("SET").arg("k").arg(1));
        queue(&mut con, cmd("INCR").arg("k"));
        queue(&mut con, cmd("GET").arg("k"));
        queue(&mut con, cmd("RPUSH").arg("l").arg("a").arg("b"));
        queue(&mut con, cmd("LPOP").arg("l"));
        queue(&mut con, cmd("LRANGE").arg("l").arg(0).arg(-1));
        queue(&mut con, cmd("DEL").arg("big"));
        queue(&mut con, cmd("EXISTS").arg("big"));
        queue(&mut con, cmd("KEYS").arg("*"));
        queue(&mut con, &mut cmd("FLUSHDB"));
        queue(&mut con, &mut cmd("DBSIZE"));
        queue(&mut con, cmd("SET").arg("after").arg("flush"));
        let r: Vec<Value> = cmd("EXEC").query(&mut con).unwrap();
        assert_eq!(r[0], Value::Okay);
        assert_eq!(r[1], Value::Int(2));
        assert_eq!(r[2], Value::BulkString(b"2".to_vec()));
        assert_eq!(r[3], Value::Int(2));
        assert_eq!(r[4], Value::BulkString(b"a".to_vec()));
        assert_eq!(r[5], Value::Array(vec![Value::BulkString(b"b".to_vec())]));
        assert_eq!(r[6], Value::Int(1));
        assert_eq!(r[7], Value::Int(0));
        let mut keys: Vec<String> = redis::from_redis_value(r[8].clone()).unwrap();
        keys.sort();
        assert_eq!(keys, ["k", "l"]);
        assert_eq!(r[10], Value::Int(0));
        let keys: Vec<String> = cmd("KEYS").arg("*").query(&mut con).unwrap();
        assert_eq!(keys, ["after"]);
    }
}

/// `args` as a RESP2 multibulk request.
fn request(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn a_failing_command_inside_exec_fails_alone() {
    use std::io::{Read, Write};
    let server = TestServer::start();
    let mut con = server.client(false);
    let _: () = cmd("SET").arg("str").arg("v").query(&mut con).unwrap();
    let too_long = vec![b'k'; mylsm::MAX_KEY_LEN + 1];
    // Raw RESP: the client library turns an EXEC reply holding errors into one error.
    let mut raw = std::net::TcpStream::connect(server.addr()).unwrap();
    raw.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let mut wire = Vec::new();
    for args in [
        &[&b"MULTI"[..]][..],
        &[b"SET", b"a", b"1"],
        &[b"LPUSH", b"str", b"x"],
        &[b"SET", &too_long, b"v"],
        &[b"INCR", b"a"],
        &[b"EXEC"],
    ] {
        wire.extend_from_slice(&request(args));
    }
    raw.write_all(&wire).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b":2\r\n") {
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    let exec = text.split("+QUEUED\r\n").last().unwrap();
    assert!(exec.starts_with("*4\r\n+OK\r\n-WRONGTYPE "), "{exec}");
    assert!(
        exec.contains("\r\n-ERR storage error: invalid argument: key of 65538 bytes"),
        "{exec}"
    );
    assert!(exec.ends_with(":2\r\n"), "{exec}");
    assert_eq!(cmd("GET").arg("a").query::<i64>(&mut con).unwrap(), 2);
    assert_eq!(cmd("GET").arg("str").query::<String>(&mut con).unwrap(), "v");
    assert_eq!(cmd("EXISTS").arg(&too_long[..]).query::<i64>(&mut con).unwrap(), 0);
}

#[test]
fn reads_see_all_of_an_exec_or_none_of_it() {
    let server = TestServer::start();
    let mut writer = server.client(false);
    let _: () = cmd("MSET").arg("a").arg(0).arg("b").arg(0).query(&mut writer).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut con = server.client(true);
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (a, b): (i64, i64) = cmd("MGET").arg("a").arg("b").query(&mut con).unwrap();
                assert_eq!(a, b, "a read saw part of an EXEC");
                reads += 1;
            }
            reads
        });
        for i in 1..=300 {
            let _: () = cmd("MULTI").query(&mut writer).unwrap();
            queue(&mut writer, cmd("SET").arg("a").arg(i));
            queue(&mut writer, cmd("SET").arg("b").arg(i));
            let _: Vec<Value> = cmd("EXEC").query(&mut writer).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
}

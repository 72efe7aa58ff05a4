//! redis-cli against the server: one-shot commands in RESP2 and RESP3 (`-3`),
//! `--pipe` and `--scan`. The expected outputs are what redis-cli 7.0.15 prints for
//! redis-server 7.0.15 (recorded from both on one machine).

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{have_tool, TestServer};

/// Runs redis-cli with `args` (at most 30 seconds) and returns its stdout.
fn cli(port: u16, args: &[&str], stdin: Option<&[u8]>) -> String {
    let mut child = Command::new("timeout")
        .arg("30")
        .arg("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli runs");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input).expect("stdin");
    }
    let out = child.wait_with_output().expect("redis-cli ends");
    assert!(
        out.status.success(),
        "redis-cli {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn one_shot_commands_print_what_redis_prints() {
    if !have_tool("redis-cli") {
        return;
    }
    let server = TestServer::start();
    let p = server.port();
    let cases: &[(&[&str], &str)] = &[
        (&["ping"], "PONG\n"),
        (&["set", "k", "v"], "OK\n"),
        (&["get", "k"], "v\n"),
        (&["get", "nokey"], "\n"),
        (&["incr", "c"], "1\n"),
        (&["rpush", "l", "a", "b", "c"], "3\n"),
        (&["lrange", "l", "0", "-1"], "a\nb\nc\n"),
        (&["hset", "h", "f", "v"], "1\n"),
        (&["hgetall", "h"], "f\nv\n"),
        (&["zadd", "z", "1.5", "a", "2", "b"], "2\n"),
        (&["zrange", "z", "0", "-1", "withscores"], "a\n1.5\nb\n2\n"),
        (&["-3", "zrange", "z", "0", "-1", "withscores"], "a\n1.5\nb\n2\n"),
        (&["-3", "hgetall", "h"], "f v\n"),
        (&["-3", "get", "nokey"], "\n"),
        (&["-3", "zscore", "z", "a"], "1.5\n"),
        (&["zscore", "z", "a"], "1.5\n"),
        (&["foo", "bar"], "ERR unknown command 'foo', with args beginning with: 'bar' \n\n"),
        (&["get"], "ERR wrong number of arguments for 'get' command\n\n"),
        (
            &["lpush", "k", "x"],
            "WRONGTYPE Operation against a key holding the wrong kind of value\n\n",
        ),
        (&["ttl", "k"], "-1\n"),
        (&["type", "l"], "list\n"),
        (&["exists", "k", "l", "nope"], "2\n"),
        (&["exec"], "ERR EXEC without MULTI\n\n"),
        (&["zpopmin", "z"], "a\n1.5\n"),
        (&["-3", "zpopmin", "z", "1"], "b\n2\n"),
        (&["set", "a", "1", "ex", "0"], "ERR invalid expire time in 'set' command\n\n"),
        (&["incrbyfloat", "f", "1.5"], "1.5\n"),
        (&["-3", "incrbyfloat", "f", "1e3"], "1001.5\n"),
        (&["getrange", "k", "0", "-1"], "v\n"),
        (&["-3", "config", "get", "save"], "save \n"),
        (&["setrange", "k", "-1", "x"], "ERR offset is out of range\n\n"),
        (&["hello", "4"], "NOPROTO unsupported protocol version\n\n"),
        (&["select", "99"], "ERR DB index is out of range\n\n"),
        (&["dbsize"], "5\n"),
    ];
    for (args, want) in cases {
        assert_eq!(cli(p, args, None), *want, "redis-cli {args:?}");
    }
    let hello = cli(p, &["-3", "hello", "3"], None);
    assert!(hello.starts_with("server redis\nversion 7.0.15\nproto 3\nid "), "{hello}");
    assert!(hello.ends_with("mode standalone\nrole master\nmodules \n"), "{hello}");
}

#[test]
fn pipe_mode_sends_raw_commands_in_order() {
    if !have_tool("redis-cli") {
        return;
    }
    let server = TestServer::start();
    let p = server.port();
    let mut input = Vec::new();
    for i in 0..1000 {
        input.extend_from_slice(format!("SET key:{i} {i}\r\nINCR counter\r\n").as_bytes());
    }
    let out = cli(p, &["--pipe"], Some(&input));
    assert!(out.contains("errors: 0, replies: 2000"), "{out}");
    assert_eq!(cli(p, &["get", "counter"], None), "1000\n");
    assert_eq!(cli(p, &["get", "key:999"], None), "999\n");
}

#[test]
fn scan_mode_lists_every_matching_key() {
    if !have_tool("redis-cli") {
        return;
    }
    let server = TestServer::start();
    let p = server.port();
    let mut input = Vec::new();
    for i in 0..300 {
        input.extend_from_slice(format!("SET user:{i} x\r\nSET other:{i} y\r\n").as_bytes());
    }
    cli(p, &["--pipe"], Some(&input));
    let out = cli(p, &["--scan", "--pattern", "user:*"], None);
    let mut keys: Vec<&str> = out.lines().collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 300);
    assert!(keys.iter().all(|k| k.starts_with("user:")));
    let all = cli(p, &["--scan"], None);
    assert_eq!(all.lines().count(), 600);
}

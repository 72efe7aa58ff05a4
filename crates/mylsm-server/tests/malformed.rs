//! Bad and hostile input over a real socket: each gets Redis's error reply and a
//! closed connection (or just an error reply, for a bad command), never a panic,
//! unbounded memory or a stuck server.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::TestServer;
use mylsm_server::resp::Limits;

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends `bytes` and reads until the server closes the connection.
fn send_and_read_to_close(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = connect(addr);
    // The server may close before it has read everything; that is fine.
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends `bytes` and reads one reply line.
fn roundtrip(s: &mut TcpStream, bytes: &[u8]) -> String {
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        if s.read(&mut byte).unwrap() == 0 {
            break;
        }
        out.push(byte[0]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_still_serves(addr: SocketAddr) {
    let mut s = connect(addr);
    assert_eq!(roundtrip(&mut s, b"PING\r\n"), "+PONG\r\n");
}

#[test]
fn protocol_errors_get_an_error_and_a_closed_connection() {
    let server = TestServer::start_with(|c| {
        c.limits = Limits { max_bulk_len: 1 << 20, max_array_len: 1000, max_inline_len: 1 << 10 }
    });
    let addr = server.addr();
    for (input, want) in [
        (&b"*99999999999\r\n"[..], "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1001\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$2000000\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n:5\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"),
        (b"*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"SET \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
    ] {
        assert_eq!(
            send_and_read_to_close(addr, input),
            want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    // An inline line longer than the limit, with no line end.
    let out = send_and_read_to_close(addr, &vec![b'a'; 4096]);
    assert_eq!(out, "-ERR Protocol error: too big inline request\r\n");
    // Commands before the bad frame in the same packet are answered first.
    let out = send_and_read_to_close(addr, b"PING\r\n*1\r\n$4\r\nPING\r\n*-9x\r\n");
    assert_eq!(out, "+PONG\r\n+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n");
    assert_still_serves(addr);
}

#[test]
fn garbage_is_an_unknown_command_not_a_crash() {
    let server = TestServer::start();
    let addr = server.addr();
    let mut s = connect(addr);
    let reply = roundtrip(&mut s, b"\x00\x01\x02 \xff\xfe\r\n");
    assert!(reply.starts_with("-ERR unknown command"), "{reply}");
    let mut state = 0x1234_5678_u32;
    let mut noise = Vec::new();
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        noise.push(state as u8);
    }
    // Whatever the noise means, the server answers or closes; it does not hang or die.
    let _ = send_and_read_to_close(addr, &[&noise[..], b"\r\nQUIT\r\n"].concat());
    assert_still_serves(addr);
}

#[test]
fn a_declared_but_unsent_bulk_reserves_little_and_a_slow_client_blocks_no_one() {
    let server = TestServer::start();
    let addr = server.addr();
    // 512 MiB declared, never sent: the connection waits, nothing is allocated up front.
    let mut big = connect(addr);
    big.write_all(b"*2\r\n$4\r\nECHO\r\n$536870912\r\nabc").unwrap();
    // A client dribbling a command byte by byte.
    let mut slow = connect(addr);
    let cmd = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
    for &b in &cmd[..cmd.len() - 1] {
        slow.write_all(&[b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    // Meanwhile others are served.
    assert_still_serves(addr);
    assert_eq!(roundtrip(&mut slow, &cmd[cmd.len() - 1..]), "$5\r\n");
    drop(big);
    assert_still_serves(addr);
}

#[test]
fn too_many_clients_are_refused_with_redis_error() {
    let server = TestServer::start_with(|c| c.maxclients = 2);
    let addr = server.addr();
    let mut a = connect(addr);
    let mut b = connect(addr);
    assert_eq!(roundtrip(&mut a, b"PING\r\n"), "+PONG\r\n");
    assert_eq!(roundtrip(&mut b, b"PING\r\n"), "+PONG\r\n");
    assert_eq!(send_and_read_to_close(addr, b"PING\r\n"), "-ERR max number of clients reached\r\n");
    drop(a);
    std::thread::sleep(Duration::from_millis(200));
    assert_still_serves(addr);
}

#[test]
fn metrics_are_served_in_prometheus_text() {
    let server = TestServer::start_with(|c| c.metrics_port = Some(0));
    let mut s = connect(server.addr());
    assert_eq!(roundtrip(&mut s, b"SET k v\r\n"), "+OK\r\n");
    let metrics = server.server.as_ref().and_then(|s| s.metrics_addr()).expect("metrics address");
    let page = send_and_read_to_close(metrics, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("\nmylsm_server_commands_total "), "{page}");
    assert!(page.contains("# TYPE mylsm_wal_syncs_total counter\n"), "{page}");
    assert!(page.contains("mylsm_level_files{level=\"0\"} "), "{page}");
    let other = send_and_read_to_close(metrics, b"GET / HTTP/1.1\r\n\r\n");
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    // Garbage on the metrics port is answered and closed too.
    let junk = send_and_read_to_close(metrics, &[0xff; 9000]);
    assert!(junk.starts_with("HTTP/1.1 404"), "{junk}");
}

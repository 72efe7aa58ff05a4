//! Cluster mode: the commands of a server that is one member of a Raft group, run
//! through its [`RaftNode`] instead of a local store.
//!
//! Only plain string keys are replicated (the state machine of `mylsm-raft` knows SET,
//! DEL and INCRBY), so cluster mode serves GET, MGET, EXISTS, SET (no options), MSET,
//! DEL, UNLINK, INCR, DECR, INCRBY, DECRBY, the connection commands clients send on
//! their own (PING, ECHO, HELLO, AUTH, CLIENT, SELECT 0, CONFIG, COMMAND, INFO, QUIT),
//! MULTI/EXEC/DISCARD of only writes or only reads (`txn.rs`), and the admin commands
//! RAFT.* and DEBUG RAFT-DROP (`admin.rs`); anything else is refused with an error
//! naming cluster mode.
//!
//! A connection's batch of pipelined requests runs in order on the connection's task.
//! Runs of consecutive writes become one Raft entry (one `Request::Batch`, applied
//! atomically, so one round of replication and one fsync for the run) — joined there
//! by the writes other connections are waiting with at that moment (`batcher.rs`, the
//! group commit) — and runs of consecutive reads one `RaftNode::get` (one
//! linearizability check), joined likewise by other connections' reads. Any other
//! command ends the run before it executes, so replies keep the request order and are
//! encoded in the protocol in force when the command ran. Every node call is bounded
//! by [`NODE_CALL_TIMEOUT`]; a write that times out may still be applied later (its
//! outcome is unknown, as with any timed-out write to a replicated store).

mod admin;
mod batcher;
mod txn;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use mylsm_raft::{NodeConfig, NodeError, RaftNode, Request, Response};

use self::batcher::{ReadBatcher, WriteBatcher};
use crate::cmd::server::{auth_for, client_for, command_for, config_for, hello_for};
use crate::cmd::{lookup, resolve, wrong_args, Command, Session, NOT_INT};
use crate::config::ClusterConfig;
use crate::resp::{parse_int, Reply};
use crate::shared::Shared;

/// The longest a client command waits for the Raft node before it answers `-TRYAGAIN`
/// (the node's own bound, `NodeConfig::op_timeout`, is shorter: this one is a backstop).
pub const NODE_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The same for the admin commands: RAFT.ADDLEARNER waits for the learner to catch up,
/// for up to a minute (`NodeConfig::membership_timeout`).
pub const ADMIN_CALL_TIMEOUT: Duration = Duration::from_secs(90);

/// The Redis commands cluster mode serves, as COMMAND lists them.
const SERVED: &[&str] = &[
    "ping", "echo", "quit", "hello", "auth", "client", "select", "info", "config", "command",
    "debug", "get", "mget", "exists", "set", "mset", "del", "unlink", "incr", "decr", "incrby",
    "decrby", "multi", "exec", "discard",
];

/// A server's Raft node and its cluster settings.
pub struct Cluster {
    node: RaftNode,
    writes: WriteBatcher,
    reads: ReadBatcher,
    config: ClusterConfig,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.config.id)
            .field("raft_addr", &self.node.raft_addr())
            .finish_non_exhaustive()
    }
}

/// How the replies of a write command are made from the responses of its requests.
#[derive(Debug, Clone, Copy)]
enum WriteShape {
    /// SET, MSET: `+OK`.
    Ok,
    /// DEL, UNLINK: how many keys existed.
    Deleted,
    /// INCR and friends: the new value.
    Int,
}

/// How the reply of a read command is made from the values of its keys.
#[derive(Debug, Clone, Copy)]
enum ReadShape {
    Get,
    MGet,
    Exists,
}

/// What one request is, for the batching of runs.
enum Step {
    Write(Vec<Request>, WriteShape),
    Read(Vec<Vec<u8>>, ReadShape),
    /// Anything else: it ends the current run, then runs alone.
    Other,
}

/// The current run of consecutive writes or reads of a batch.
#[derive(Default)]
struct Run {
    writes: Vec<(Vec<Request>, WriteShape)>,
    reads: Vec<(Vec<Vec<u8>>, ReadShape)>,
}

impl Cluster {
    /// Starts the Raft node of `cluster` with its data in `dir`.
    pub async fn start(dir: &Path, cluster: &ClusterConfig) -> io::Result<Cluster> {
        let listen: SocketAddr = tokio::net::lookup_host(cluster.raft_addr.as_str())
            .await
            .map_err(|e| io::Error::other(format!("bad --raft-addr {}: {e}", cluster.raft_addr)))?
            .next()
            .ok_or_else(|| {
                io::Error::other(format!("--raft-addr {} names no address", cluster.raft_addr))
            })?;
        let mut config = NodeConfig::new(cluster.id, dir);
        config.listen = listen;
        config.stale_reads = cluster.stale_reads;
        let node = RaftNode::start(config)
            .await
            .map_err(|e| io::Error::other(format!("cannot start the Raft node: {e}")))?;
        let (writes, reads) =
            (WriteBatcher::writes(node.clone()), ReadBatcher::reads(node.clone()));
        Ok(Cluster { node, writes, reads, config: cluster.clone() })
    }

    /// The address the Raft transport listens on.
    pub fn raft_addr(&self) -> SocketAddr {
        self.node.raft_addr()
    }

    /// Shuts the Raft node down (which closes its database).
    pub async fn shutdown(&self) -> io::Result<()> {
        self.node
            .shutdown()
            .await
            .map_err(|e| io::Error::other(format!("shutting the Raft node down: {e}")))
    }

    /// Runs `requests` in order and appends their replies to `out`; stops after QUIT.
    pub async fn run_batch(
        &self,
        shared: &Shared,
        sess: &mut Session,
        requests: &[Vec<Bytes>],
        out: &mut Vec<u8>,
    ) {
        let mut run = Run::default();
        for args in requests {
            shared.count_command();
            // Inside MULTI every command is queued by `other`, one at a time.
            let step = if (!sess.authed && shared.has_password()) || sess.multi.is_some() {
                Step::Other
            } else {
                step(args)
            };
            match step {
                Step::Write(reqs, shape) => {
                    if !run.reads.is_empty() {
                        self.flush(&mut run, sess, out).await;
                    }
                    run.writes.push((reqs, shape));
                }
                Step::Read(keys, shape) => {
                    if !run.writes.is_empty() {
                        self.flush(&mut run, sess, out).await;
                    }
                    run.reads.push((keys, shape));
                }
                Step::Other => {
                    self.flush(&mut run, sess, out).await;
                    let reply = self.other(shared, sess, args).await.unwrap_or_else(|e| e);
                    reply.encode(sess.proto, out);
                    if sess.close {
                        return;
                    }
                }
            }
        }
        self.flush(&mut run, sess, out).await;
    }

    /// Runs the pending run of writes or reads and encodes its replies.
    async fn flush(&self, run: &mut Run, sess: &Session, out: &mut Vec<u8>) {
        if !run.writes.is_empty() {
            let writes = std::mem::take(&mut run.writes);
            for reply in self.write_run(writes).await {
                reply.encode(sess.proto, out);
            }
        }
        if !run.reads.is_empty() {
            let reads = std::mem::take(&mut run.reads);
            for reply in self.read_run(reads).await {
                reply.encode(sess.proto, out);
            }
        }
    }

    /// Proposes every request of `writes` in one entry (with other connections'
    /// waiting writes: `batcher.rs`); one reply per command.
    async fn write_run(&self, writes: Vec<(Vec<Request>, WriteShape)>) -> Vec<Reply> {
        let mut all: Vec<Request> = Vec::new();
        let mut shapes = Vec::with_capacity(writes.len());
        for (reqs, shape) in writes {
            shapes.push((reqs.len(), shape));
            all.extend(reqs);
        }
        let total = all.len();
        let responses = match tokio::time::timeout(NODE_CALL_TIMEOUT, self.writes.submit(all)).await
        {
            Ok(Ok(r)) if r.len() == total => r,
            Ok(Ok(r)) => {
                let e = Reply::error(format!("ERR unexpected Raft response {r:?}"));
                return shapes.iter().map(|_| e.clone()).collect();
            }
            Ok(Err(e)) => return shapes.iter().map(|_| e.clone()).collect(),
            Err(_) => {
                let e = Reply::err("TRYAGAIN the Raft cluster did not answer in time");
                return shapes.iter().map(|_| e.clone()).collect();
            }
        };
        let mut at = 0;
        shapes
            .into_iter()
            .map(|(n, shape)| {
                let part = &responses[at..at + n];
                at += n;
                write_reply(part, shape)
            })
            .collect()
    }

    /// Reads every key of `reads` in one linearizable read (with other connections'
    /// waiting reads: `batcher.rs`); one reply per command.
    async fn read_run(&self, reads: Vec<(Vec<Vec<u8>>, ReadShape)>) -> Vec<Reply> {
        let keys: Vec<Vec<u8>> = reads.iter().flat_map(|(k, _)| k.iter().cloned()).collect();
        let n = keys.len();
        let values = match tokio::time::timeout(NODE_CALL_TIMEOUT, self.reads.submit(keys)).await {
            Ok(Ok(v)) if v.len() == n => v,
            Ok(Ok(_)) => return reads.iter().map(|_| Reply::err("ERR short read")).collect(),
            Ok(Err(e)) => return reads.iter().map(|_| e.clone()).collect(),
            Err(_) => {
                let e = Reply::err("TRYAGAIN the Raft cluster did not answer in time");
                return reads.iter().map(|_| e.clone()).collect();
            }
        };
        let mut values = values.into_iter();
        reads
            .into_iter()
            .map(|(keys, shape)| {
                let mine: Vec<Option<Vec<u8>>> = values.by_ref().take(keys.len()).collect();
                match shape {
                    ReadShape::Get => Reply::opt_bulk(mine.into_iter().next().flatten()),
                    ReadShape::MGet => {
                        Reply::Array(mine.into_iter().map(Reply::opt_bulk).collect())
                    }
                    ReadShape::Exists => {
                        Reply::Int(mine.iter().filter(|v| v.is_some()).count() as i64)
                    }
                }
            })
            .collect()
    }

    /// A command that is neither a replicated write nor a read of keys.
    async fn other(
        &self,
        shared: &Shared,
        sess: &mut Session,
        args: &[Bytes],
    ) -> Result<Reply, Reply> {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let allowed_before_auth = matches!(name.as_str(), "auth" | "hello" | "quit");
        if !sess.authed && shared.has_password() && !allowed_before_auth {
            return Err(Reply::err("NOAUTH Authentication required."));
        }
        if sess.multi.is_some() && !matches!(name.as_str(), "exec" | "discard" | "multi" | "quit") {
            return Cluster::queue(sess, args);
        }
        if name.starts_with("raft.") {
            return self.raft_command(&name, args).await;
        }
        if let Some(refusal) = refused(args) {
            return Err(refusal);
        }
        let cmd = served(args)?;
        match cmd.name {
            "ping" => match args.len() {
                1 => Ok(Reply::simple("PONG")),
                2 => Ok(Reply::bulk(&args[1][..])),
                _ => Err(wrong_args("ping")),
            },
            "echo" => Ok(Reply::bulk(&args[1][..])),
            "quit" => {
                sess.close = true;
                Ok(Reply::OK)
            }
            "hello" => hello_for(shared, sess, args),
            "auth" => auth_for(shared, sess, args),
            "client" => client_for(sess, args),
            "select" => match parse_int(&args[1]) {
                Some(0) => Ok(Reply::OK),
                Some(_) => Err(Reply::err("ERR SELECT is not allowed in cluster mode")),
                None => Err(Reply::err(NOT_INT)),
            },
            "config" => config_for(shared, None, args),
            "command" => {
                let list: Vec<&Command> =
                    SERVED.iter().filter_map(|n| lookup(n.as_bytes())).collect();
                command_for(&list, args)
            }
            "info" => Ok(self.info(shared, args)),
            "multi" => Cluster::multi(sess),
            "exec" => self.exec(sess).await,
            "discard" => Cluster::discard(sess),
            "debug" => self.debug(shared, args),
            _ => Err(Reply::error(format!("ERR '{}' cannot run here in cluster mode", cmd.name))),
        }
    }
}

/// Awaits a node call for at most `limit`, mapping its error to a reply.
async fn bounded<T>(
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, NodeError>>,
) -> Result<T, Reply> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r.map_err(|e| node_error(&e)),
        Err(_) => Err(Reply::err("TRYAGAIN the Raft cluster did not answer in time")),
    }
}

/// The table entry of a command cluster mode serves, with its arity checked.
fn served(args: &[Bytes]) -> Result<&'static Command, Reply> {
    let cmd = resolve(args)?;
    if SERVED.contains(&cmd.name) {
        Ok(cmd)
    } else {
        Err(Reply::error(format!(
            "ERR unknown command '{}' in cluster mode: only plain string keys are replicated \
             (GET, MGET, EXISTS, SET, MSET, DEL, INCR, DECR, INCRBY, DECRBY)",
            cmd.name
        )))
    }
}

/// Classifies a request: a replicated write, a read of keys, or something else.
fn step(args: &[Bytes]) -> Step {
    let Ok(cmd) = resolve(args) else { return Step::Other };
    let key = |i: usize| args[i].to_vec();
    match cmd.name {
        "get" => Step::Read(vec![key(1)], ReadShape::Get),
        "mget" => Step::Read(args[1..].iter().map(|k| k.to_vec()).collect(), ReadShape::MGet),
        "exists" => Step::Read(args[1..].iter().map(|k| k.to_vec()).collect(), ReadShape::Exists),
        "set" if args.len() == 3 => {
            Step::Write(vec![Request::Set { key: key(1), value: key(2) }], WriteShape::Ok)
        }
        "mset" if args.len() % 2 == 1 => Step::Write(
            args[1..]
                .chunks(2)
                .map(|kv| Request::Set { key: kv[0].to_vec(), value: kv[1].to_vec() })
                .collect(),
            WriteShape::Ok,
        ),
        "del" | "unlink" => Step::Write(
            args[1..].iter().map(|k| Request::Del { key: k.to_vec() }).collect(),
            WriteShape::Deleted,
        ),
        "incr" => incr_by(args, Some(1)),
        "decr" => incr_by(args, Some(-1)),
        "incrby" => incr_by(args, parse_int(&args[2])),
        "decrby" => incr_by(args, parse_int(&args[2]).and_then(i64::checked_neg)),
        _ => Step::Other,
    }
}

/// INCR and friends by `by`; a bad increment is left to [`Cluster::other`]'s error.
fn incr_by(args: &[Bytes], by: Option<i64>) -> Step {
    match by {
        Some(by) => {
            Step::Write(vec![Request::IncrBy { key: args[1].to_vec(), by }], WriteShape::Int)
        }
        None => Step::Other,
    }
}

/// The reply of one write command from the responses of its requests.
fn write_reply(responses: &[Response], shape: WriteShape) -> Reply {
    if let Some(why) = responses.iter().find_map(|r| match r {
        Response::Invalid(why) => Some(why),
        _ => None,
    }) {
        return invalid(why);
    }
    match shape {
        WriteShape::Ok if responses.iter().all(|r| matches!(r, Response::Ok)) => Reply::OK,
        WriteShape::Deleted => Reply::Int(
            responses.iter().filter(|r| matches!(r, Response::Deleted(true))).count() as i64,
        ),
        WriteShape::Int => match responses {
            [Response::Int(n)] => Reply::Int(*n),
            _ => Reply::error(format!("ERR unexpected Raft response {responses:?}")),
        },
        WriteShape::Ok => Reply::error(format!("ERR unexpected Raft response {responses:?}")),
    }
}

/// The error reply for a request the state machine refused, in Redis's words where
/// Redis has them.
fn invalid(why: &str) -> Reply {
    if why == "value is not an integer" {
        return Reply::err(NOT_INT);
    }
    let has_code = why
        .split(' ')
        .next()
        .is_some_and(|w| w.len() > 1 && w.bytes().all(|b| b.is_ascii_uppercase()));
    if has_code {
        Reply::error(why.to_string())
    } else {
        Reply::error(format!("ERR {why}"))
    }
}

/// The reply for a failed node call: `-TRYAGAIN` while there is no leader to ask.
fn node_error(e: &NodeError) -> Reply {
    match e {
        NodeError::NoLeader => Reply::err("TRYAGAIN no leader known"),
        NodeError::Timeout => Reply::err("TRYAGAIN timed out waiting for the Raft leader"),
        other => Reply::error(format!("ERR {other}")),
    }
}

/// The errors of commands that look like writes but are refused before Raft sees them:
/// SET with options, MSET with an odd count, a bad increment.
fn refused(args: &[Bytes]) -> Option<Reply> {
    let cmd = resolve(args).ok()?;
    match cmd.name {
        "set" => Some(Reply::err(
            "ERR SET options (EX, PX, NX, XX, GET, KEEPTTL, ...) are not supported in cluster \
             mode: only SET key value is replicated",
        )),
        "mset" => Some(wrong_args("mset")),
        "incrby" => Some(Reply::err(NOT_INT)),
        "decrby" if parse_int(&args[2]).is_some() => {
            Some(Reply::err("ERR decrement would overflow"))
        }
        "decrby" => Some(Reply::err(NOT_INT)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    #[test]
    fn plain_writes_become_requests_and_the_rest_is_refused() {
        assert!(matches!(step(&args(&["SET", "k", "v"])), Step::Write(r, _) if r.len() == 1));
        assert!(
            matches!(step(&args(&["MSET", "a", "1", "b", "2"])), Step::Write(r, _) if r.len() == 2)
        );
        assert!(matches!(step(&args(&["DEL", "a", "b", "c"])), Step::Write(r, _) if r.len() == 3));
        assert!(matches!(step(&args(&["DECRBY", "a", "5"])),
            Step::Write(r, _) if r == vec![Request::IncrBy { key: b"a".to_vec(), by: -5 }]));
        assert!(matches!(step(&args(&["MGET", "a", "b"])), Step::Read(k, _) if k.len() == 2));
        for refused_write in
            [&["SET", "k", "v", "EX", "10"][..], &["MSET", "a", "1", "b"], &["INCRBY", "a", "x"]]
        {
            assert!(matches!(step(&args(refused_write)), Step::Other));
            assert!(refused(&args(refused_write)).is_some_and(|r| r.is_error()));
        }
        assert!(served(&args(&["LPUSH", "l", "x"])).is_err());
        assert!(served(&args(&["NOSUCH"])).is_err());
    }

    #[test]
    fn refusals_keep_their_code_and_others_get_err() {
        assert_eq!(
            invalid("ERR value is not an integer"),
            Reply::err("ERR value is not an integer")
        );
        assert_eq!(invalid("value too large"), Reply::err("ERR value too large"));
    }
}

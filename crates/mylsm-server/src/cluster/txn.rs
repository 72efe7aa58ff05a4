//! MULTI, EXEC and DISCARD in cluster mode. A transaction of writes only is proposed as
//! one Raft entry (one `Request::Batch`, which every replica applies atomically in log
//! order, so nothing runs between its commands); one of reads only is one linearizable
//! `RaftNode::get`, so it reads one state. A transaction that reads and writes would
//! need its reads applied in the state machine, which knows only writes: the first
//! command of the other kind is refused while queueing, so EXEC answers EXECABORT.
//! WATCH is not served.
//!
//! As in Redis, a command refused while queued (unknown, wrong arity, not a read or
//! write of keys) makes EXEC fail with EXECABORT; a write the state machine refuses
//! (an increment of a non-integer) fails alone inside EXEC's reply, and the others are
//! applied.

use bytes::Bytes;

use super::{refused, served, step, Cluster, Step};
use crate::cmd::Session;
use crate::resp::Reply;

impl Cluster {
    /// Queues a command between MULTI and EXEC: `+QUEUED` for a read or write of keys.
    /// A command that would make the transaction both read and write is refused here,
    /// so that EXEC answers EXECABORT as clients expect of a queueing error.
    pub(super) fn queue(sess: &mut Session, args: &[Bytes]) -> Result<Reply, Reply> {
        let kind = step(args);
        if let Step::Write(..) | Step::Read(..) = kind {
            let queued = sess.multi.get_or_insert_with(Vec::new);
            let writes = matches!(kind, Step::Write(..));
            if queued.first().is_none_or(|first| matches!(step(first), Step::Write(..)) == writes) {
                queued.push(args.to_vec());
                return Ok(Reply::simple("QUEUED"));
            }
            sess.multi_failed = true;
            return Err(Reply::err(
                "ERR a transaction that both reads and writes is not supported in cluster \
                 mode (only writes, or only reads)",
            ));
        }
        sess.multi_failed = true;
        if let Some(refusal) = refused(args) {
            return Err(refusal);
        }
        served(args)?;
        Err(Reply::err("ERR only reads and writes of keys can run inside MULTI in cluster mode"))
    }

    /// MULTI.
    pub(super) fn multi(sess: &mut Session) -> Result<Reply, Reply> {
        if sess.multi.is_some() {
            return Err(Reply::err("ERR MULTI calls can not be nested"));
        }
        sess.multi = Some(Vec::new());
        sess.multi_failed = false;
        Ok(Reply::OK)
    }

    /// DISCARD.
    pub(super) fn discard(sess: &mut Session) -> Result<Reply, Reply> {
        if sess.multi.take().is_none() {
            return Err(Reply::err("ERR DISCARD without MULTI"));
        }
        sess.multi_failed = false;
        Ok(Reply::OK)
    }

    /// EXEC: the queued writes as one entry, or the queued reads as one read.
    pub(super) async fn exec(&self, sess: &mut Session) -> Result<Reply, Reply> {
        let Some(queued) = sess.multi.take() else {
            return Err(Reply::err("ERR EXEC without MULTI"));
        };
        if std::mem::take(&mut sess.multi_failed) {
            return Err(Reply::err("EXECABORT Transaction discarded because of previous errors."));
        }
        let (mut writes, mut reads) = (Vec::new(), Vec::new());
        for args in &queued {
            match step(args) {
                Step::Write(reqs, shape) => writes.push((reqs, shape)),
                Step::Read(keys, shape) => reads.push((keys, shape)),
                Step::Other => return Err(Reply::err("ERR EXEC: a queued command changed kind")),
            }
        }
        // `queue` let in only one kind.
        match (writes.is_empty(), reads.is_empty()) {
            (false, _) => Ok(Reply::Array(self.write_run(writes).await)),
            (true, false) => Ok(Reply::Array(self.read_run(reads).await)),
            (true, true) => Ok(Reply::Array(Vec::new())),
        }
    }
}

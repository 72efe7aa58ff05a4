//! `Batcher`: the group commit of cluster mode. The writes of all connections waiting
//! at the same moment are proposed as one Raft entry (one `Request::Batch`), so that
//! concurrent clients share a log append, its fsync, one replication round and one
//! apply, as the engine's write groups share a WAL write; likewise their reads share
//! one linearizable `RaftNode::get` (one quorum check by the leader).
//!
//! One task per batcher takes the jobs from a channel: it waits for the first, then for
//! a free slot among [`MAX_IN_FLIGHT`] calls, then drains whatever else is queued (up
//! to [`MAX_ITEMS`] items or [`MAX_BYTES`] bytes) into one node call, which it starts
//! while it gathers the next. A job is always queued before the call that serves it
//! starts, so a read sees every write acknowledged before it was sent. Jobs of
//! different connections are concurrent, so any order between them is linearizable; a
//! connection sends its next job only after the previous one answered, so its own
//! order is kept. A write entry is applied atomically: its requests all take effect
//! or, if the proposal fails, every caller gets the error (after proposing, the
//! outcome is unknown, as for any write).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use mylsm_raft::{RaftNode, Request, Response};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{invalid, node_error};
use crate::resp::Reply;

/// Node calls in flight at once per batcher: enough for openraft to overlap one
/// entry's fsync with the next one's replication, few enough that waiting jobs gather
/// into big calls.
pub const MAX_IN_FLIGHT: usize = 4;

/// The most items (requests, keys) gathered into one call.
pub const MAX_ITEMS: usize = 4096;

/// The most key and value bytes gathered into one call (one job may exceed it alone).
pub const MAX_BYTES: usize = 4 << 20;

/// What a job's caller gets: one output per item, or the error of the call.
type Answer<O> = Result<Vec<O>, Reply>;

/// A node call in progress.
type Pending<O> = Pin<Box<dyn Future<Output = Answer<O>> + Send>>;

/// One node call over the items of several jobs.
type Call<I, O> = fn(RaftNode, Vec<I>) -> Pending<O>;

struct Job<I, O> {
    items: Vec<I>,
    bytes: usize,
    answer: oneshot::Sender<Answer<O>>,
}

/// The sending side of one batching task; the task ends when it is dropped.
pub struct Batcher<I, O> {
    jobs: mpsc::UnboundedSender<Job<I, O>>,
    size: fn(&I) -> usize,
}

impl<I, O> std::fmt::Debug for Batcher<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

/// Batches writes: requests in, responses out.
pub type WriteBatcher = Batcher<Request, Response>;

/// Batches linearizable reads: keys in, values out.
pub type ReadBatcher = Batcher<Vec<u8>, Option<Vec<u8>>>;

impl WriteBatcher {
    /// Starts the write batching task on the current tokio runtime.
    pub fn writes(node: RaftNode) -> WriteBatcher {
        Batcher::start(node, propose, request_size)
    }
}

impl ReadBatcher {
    /// Starts the read batching task on the current tokio runtime.
    pub fn reads(node: RaftNode) -> ReadBatcher {
        Batcher::start(node, read, Vec::len)
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    fn start(node: RaftNode, call: Call<I, O>, size: fn(&I) -> usize) -> Batcher<I, O> {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(gather(node, rx, call));
        Batcher { jobs, size }
    }

    /// Runs `items` in one node call (with whatever other jobs are waiting) and returns
    /// their outputs, in order.
    pub async fn submit(&self, items: Vec<I>) -> Answer<O> {
        let bytes = items.iter().map(self.size).sum();
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Job { items, bytes, answer })
            .map_err(|_| Reply::err("ERR the server is shutting down"))?;
        answered.await.map_err(|_| Reply::err("ERR the call was dropped (shutting down)"))?
    }
}

async fn gather<I: Send + 'static, O: Send + 'static>(
    node: RaftNode,
    mut rx: mpsc::UnboundedReceiver<Job<I, O>>,
    call: Call<I, O>,
) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // While every slot is busy, more jobs queue up and join this call.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { return };
        let (mut n, mut bytes) = (first.items.len(), first.bytes);
        let mut jobs = vec![first];
        while n < MAX_ITEMS && bytes < MAX_BYTES {
            let Ok(job) = rx.try_recv() else { break };
            n += job.items.len();
            bytes += job.bytes;
            jobs.push(job);
        }
        let node = node.clone();
        tokio::spawn(async move {
            run(node, jobs, call).await;
            drop(slot);
        });
    }
}

/// Runs one call over the items of `jobs` and answers each job with its share.
async fn run<I, O>(node: RaftNode, jobs: Vec<Job<I, O>>, call: Call<I, O>) {
    let lens: Vec<usize> = jobs.iter().map(|j| j.items.len()).collect();
    let total: usize = lens.iter().sum();
    let mut answers = Vec::with_capacity(jobs.len());
    let mut all = Vec::with_capacity(total);
    for job in jobs {
        all.extend(job.items);
        answers.push(job.answer);
    }
    let outputs = match call(node, all).await {
        Ok(v) if v.len() == total => v,
        Ok(_) => return fail(answers, Reply::err("ERR the Raft node answered a different count")),
        Err(e) => return fail(answers, e),
    };
    let mut outputs = outputs.into_iter();
    for (answer, n) in answers.into_iter().zip(lens) {
        let _ = answer.send(Ok(outputs.by_ref().take(n).collect()));
    }
}

/// Answers every job with `e`.
fn fail<O>(answers: Vec<oneshot::Sender<Answer<O>>>, e: Reply) {
    for answer in answers {
        let _ = answer.send(Err(e.clone()));
    }
}

/// The key and value bytes of a request.
fn request_size(r: &Request) -> usize {
    match r {
        Request::Set { key, value } => key.len() + value.len(),
        Request::Del { key } | Request::IncrBy { key, .. } => key.len(),
        Request::Batch(rs) => rs.iter().map(request_size).sum(),
    }
}

/// Proposes `requests` as one entry (a lone request as itself).
fn propose(node: RaftNode, mut requests: Vec<Request>) -> Pending<Response> {
    Box::pin(async move {
        let written = match requests.len() {
            1 => node.write(requests.remove(0)).await.map(|r| vec![r]),
            _ => node.write(Request::Batch(requests)).await.map(|r| match r {
                Response::Batch(v) => v,
                other => vec![other],
            }),
        };
        match written {
            Ok(v) => match v.as_slice() {
                // A refusal of the whole entry (one response for many requests).
                [Response::Invalid(why)] => Err(invalid(why)),
                _ => Ok(v),
            },
            Err(e) => Err(node_error(&e)),
        }
    })
}

/// Reads `keys` with one linearizable get.
fn read(node: RaftNode, keys: Vec<Vec<u8>>) -> Pending<Option<Vec<u8>>> {
    Box::pin(async move { node.get(&keys).await.map_err(|e| node_error(&e)) })
}

//! The cluster's admin commands over RESP: RAFT.INIT, RAFT.ADDLEARNER,
//! RAFT.CHANGEMEMBERSHIP, RAFT.METRICS, RAFT.DIGEST (the state machine's applied index
//! and a hash of its data), `DEBUG RAFT-DROP` (fault injection), and the
//! `# Raft` sections of INFO and of `GET /metrics`.
//!
//! RAFT.METRICS and INFO's `# Raft` section print the same `field:value` lines, so a
//! script reads either the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use bytes::Bytes;

use super::{bounded, Cluster, ADMIN_CALL_TIMEOUT};
use crate::cmd::is;
use crate::cmd::server::{debug_allowed, info_server_clients, info_stats, Sections};
use crate::resp::{parse_int, Reply};
use crate::shared::Shared;

impl Cluster {
    /// RAFT.INIT, RAFT.ADDLEARNER, RAFT.CHANGEMEMBERSHIP, RAFT.METRICS.
    pub(super) async fn raft_command(&self, name: &str, args: &[Bytes]) -> Result<Reply, Reply> {
        match name {
            // This node alone, or the members given as `id raft_addr` pairs.
            "raft.init" => {
                let mut members = BTreeMap::new();
                if args.len() == 1 {
                    members.insert(self.config.id, self.node.raft_addr().to_string());
                } else if args.len() % 2 == 1 {
                    for pair in args[1..].chunks(2) {
                        members.insert(node_id(&pair[0])?, text(&pair[1])?);
                    }
                } else {
                    return Err(usage("RAFT.INIT [id raft_addr ...]"));
                }
                bounded(ADMIN_CALL_TIMEOUT, self.node.initialize(members)).await?;
                Ok(Reply::OK)
            }
            // A trailing RESP address (the research note's form) is accepted and unused.
            "raft.addlearner" if (3..=4).contains(&args.len()) => {
                let id = node_id(&args[1])?;
                bounded(ADMIN_CALL_TIMEOUT, self.node.add_learner(id, text(&args[2])?)).await?;
                Ok(Reply::OK)
            }
            "raft.addlearner" => Err(usage("RAFT.ADDLEARNER id raft_addr")),
            "raft.changemembership" if args.len() >= 2 => {
                let voters =
                    args[1..].iter().map(|a| node_id(a)).collect::<Result<BTreeSet<_>, _>>()?;
                bounded(ADMIN_CALL_TIMEOUT, self.node.change_membership(voters)).await?;
                Ok(Reply::OK)
            }
            "raft.changemembership" => Err(usage("RAFT.CHANGEMEMBERSHIP id [id ...]")),
            "raft.metrics" if args.len() == 1 => Ok(Reply::Verbatim(self.metrics_lines())),
            "raft.metrics" => Err(usage("RAFT.METRICS")),
            // Tests compare replicas with it: equal `applied` must mean equal `digest`.
            "raft.digest" if args.len() == 1 => {
                let node = self.node.clone();
                let (applied, digest) = tokio::task::spawn_blocking(move || node.data_digest())
                    .await
                    .map_err(|e| Reply::error(format!("ERR {e}")))?
                    .map_err(|e| super::node_error(&e))?;
                let applied = applied.map(|l| l.index.to_string()).unwrap_or_default();
                Ok(Reply::Verbatim(format!("applied:{applied}\r\ndigest:{digest:016x}\r\n")))
            }
            "raft.digest" => Err(usage("RAFT.DIGEST")),
            _ => Err(Reply::error(format!(
                "ERR unknown command '{name}': the Raft commands are RAFT.INIT, RAFT.ADDLEARNER, \
                 RAFT.CHANGEMEMBERSHIP, RAFT.METRICS and RAFT.DIGEST"
            ))),
        }
    }

    /// The node's Raft state as `field:value` lines (CRLF, as INFO).
    fn metrics_lines(&self) -> String {
        let m = self.node.metrics();
        let membership = m.membership_config.membership();
        let ids = |it: &mut dyn Iterator<Item = u64>| {
            it.map(|id| id.to_string()).collect::<Vec<_>>().join(",")
        };
        let voters = ids(&mut membership.voter_ids());
        let learners = ids(&mut membership.learner_ids());
        let nodes = membership
            .nodes()
            .map(|(id, node)| format!("{id}={}", node.addr))
            .collect::<Vec<_>>()
            .join(",");
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut out = String::new();
        let _ = write!(
            out,
            "id:{}\r\nraft_addr:{}\r\nstate:{}\r\ncurrent_leader:{}\r\nterm:{}\r\n\
             last_log_index:{}\r\nlast_applied:{}\r\nsnapshot:{}\r\npurged:{}\r\n\
             membership:voters={voters};learners={learners}\r\nnodes:{nodes}\r\n\
             stale_reads:{}\r\n",
            m.id,
            self.node.raft_addr(),
            format!("{:?}", m.state).to_ascii_lowercase(),
            opt(m.current_leader),
            m.current_term,
            opt(m.last_log_index),
            opt(m.last_applied.map(|l| l.index)),
            opt(m.snapshot.map(|l| l.index)),
            opt(m.purged.map(|l| l.index)),
            u8::from(self.config.stale_reads),
        );
        out
    }

    /// INFO in cluster mode: server, clients, stats and raft.
    pub(super) fn info(&self, shared: &Shared, args: &[Bytes]) -> Reply {
        let sections = Sections::of(args);
        let mut out = String::new();
        info_server_clients(shared, &sections, &mut out);
        info_stats(shared, &sections, 0, &mut out);
        if sections.want("raft") {
            out.push_str("# Raft\r\n");
            out.push_str(&self.metrics_lines());
            out.push_str("\r\n");
        }
        Reply::Verbatim(out)
    }

    /// DEBUG in cluster mode: `RAFT-DROP peer|all on|off` (when the debug command is
    /// enabled) drops this node's Raft messages to `peer` or to every peer; LOG and
    /// SLEEP are no-ops as in the single-node server.
    pub(super) fn debug(&self, shared: &Shared, args: &[Bytes]) -> Result<Reply, Reply> {
        if is(&args[1], "LOG") {
            return Ok(Reply::OK);
        }
        debug_allowed(shared)?;
        if is(&args[1], "SLEEP") {
            return Ok(Reply::OK);
        }
        if !is(&args[1], "RAFT-DROP") || args.len() != 4 {
            return Err(Reply::err(
                "ERR unknown DEBUG subcommand (cluster mode: DEBUG RAFT-DROP peer_id|all on|off)",
            ));
        }
        let on = if is(&args[3], "ON") {
            true
        } else if is(&args[3], "OFF") {
            false
        } else {
            return Err(Reply::err("ERR DEBUG RAFT-DROP takes on or off"));
        };
        let faults = self.node.faults();
        match (is(&args[2], "ALL"), on) {
            (true, true) => faults.block_all(),
            (true, false) => faults.heal(),
            (false, true) => faults.block(node_id(&args[2])?),
            (false, false) => faults.unblock(node_id(&args[2])?),
        }
        Ok(Reply::OK)
    }

    /// The Raft gauges of `GET /metrics`.
    pub fn render_metrics(&self, metric: &mut dyn FnMut(&str, &str, &str, String)) {
        let m = self.node.metrics();
        let leader = m.current_leader.map_or(-1, |l| l as i64);
        for (name, help, value) in [
            ("mylsm_raft_term", "The current Raft term.", m.current_term as i64),
            ("mylsm_raft_current_leader", "The leader's node id, -1 if none is known.", leader),
            (
                "mylsm_raft_is_leader",
                "1 if this node is the leader.",
                i64::from(m.current_leader == Some(m.id)),
            ),
            (
                "mylsm_raft_last_log_index",
                "The last log index appended here.",
                m.last_log_index.map_or(-1, |i| i as i64),
            ),
            (
                "mylsm_raft_last_applied_index",
                "The last log index applied to the state machine here.",
                m.last_applied.map_or(-1, |l| l.index as i64),
            ),
        ] {
            metric(name, "gauge", help, value.to_string());
        }
    }
}

/// A node id argument.
fn node_id(arg: &[u8]) -> Result<u64, Reply> {
    parse_int(arg)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(Reply::err("ERR node id must be a non-negative integer"))
}

/// A UTF-8 argument (an address).
fn text(arg: &[u8]) -> Result<String, Reply> {
    String::from_utf8(arg.to_vec()).map_err(|_| Reply::err("ERR address is not UTF-8"))
}

fn usage(form: &str) -> Reply {
    Reply::error(format!("ERR wrong number of arguments: {form}"))
}

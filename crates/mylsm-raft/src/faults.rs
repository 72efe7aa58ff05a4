//! Fault injection in a node's transport: which peers this node's outgoing requests are
//! dropped for, and a delay added before each one.
//!
//! Faults act on the sender only. A blocked request is never sent: the caller gets
//! `RPCError::Unreachable` (or `NodeError::Unreachable` for a forwarded client call),
//! as if the peer were down. A full partition of node X is therefore two-sided: X
//! blocks every peer, and every peer blocks X (the cluster tests do both). One-sided
//! blocks make asymmetric partitions. The server exposes these as `DEBUG RAFT-DROP`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::types::NodeId;

/// The faults a node's transport injects into its outgoing requests. Cloning is cheap
/// and shares the settings (an `Arc` inside); changes apply to the next request.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
}

#[derive(Debug, Default)]
struct FaultState {
    /// Peers whose requests are dropped.
    blocked: BTreeSet<NodeId>,
    /// Drop requests to every peer, whatever `blocked` says.
    all: bool,
    /// Added before sending each request.
    delay: Duration,
}

impl Faults {
    /// No faults.
    pub fn new() -> Faults {
        Faults::default()
    }

    fn state(&self) -> MutexGuard<'_, FaultState> {
        // The state is a few plain fields, valid whatever a panicking holder did.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops this node's requests to `to` from now on.
    pub fn block(&self, to: NodeId) {
        self.state().blocked.insert(to);
    }

    /// Sends this node's requests to `to` again (unless [`Faults::block_all`] is on).
    pub fn unblock(&self, to: NodeId) {
        self.state().blocked.remove(&to);
    }

    /// Drops this node's requests to every peer, including peers added later.
    pub fn block_all(&self) {
        self.state().all = true;
    }

    /// Lifts every block (per peer and [`Faults::block_all`]); the delay stays.
    pub fn heal(&self) {
        let mut st = self.state();
        st.blocked.clear();
        st.all = false;
    }

    /// Delays each outgoing request by `delay` before sending it (zero: no delay).
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// Whether requests to `to` are dropped.
    pub fn is_blocked(&self, to: NodeId) -> bool {
        let st = self.state();
        st.all || st.blocked.contains(&to)
    }

    /// The delay added before each request.
    pub fn delay(&self) -> Duration {
        self.state().delay
    }

    /// The peers blocked one by one, and whether all are (for `DEBUG RAFT-DROP` output).
    pub fn blocked(&self) -> (BTreeSet<NodeId>, bool) {
        let st = self.state();
        (st.blocked.clone(), st.all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_heal_and_block_all() {
        let f = Faults::new();
        let g = f.clone();
        f.block(2);
        assert!(g.is_blocked(2) && !g.is_blocked(3));
        g.block_all();
        assert!(f.is_blocked(3));
        f.unblock(2);
        assert!(f.is_blocked(2), "block_all still holds");
        f.heal();
        assert!(!f.is_blocked(2) && !f.is_blocked(3));
        f.set_delay(Duration::from_millis(5));
        assert_eq!(g.delay(), Duration::from_millis(5));
    }
}

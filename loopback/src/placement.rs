//! Which loopback node hosts which Raft group, who leads it, and leader elections in
//! progress: the multi-node shape of a real cluster (docs/format/50-live-cluster.md §1,
//! §2), so a client has to find each group's hosts and follow leaders that move. One node
//! (the default) hosts every group.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a group has no leader after [`Placement::move_leader`].
pub const ELECTION: Duration = Duration::from_millis(150);

#[derive(Debug, Default)]
struct State {
    /// Group → nodes hosting a replica (the first is the initial leader).
    hosts: BTreeMap<u64, Vec<usize>>,
    /// Group → index into its hosts of the current leader.
    leader: BTreeMap<u64, usize>,
    /// Group → end of the election in progress.
    electing_until: BTreeMap<u64, Instant>,
    /// Node → listener address (set when the node starts).
    addrs: BTreeMap<usize, String>,
}

/// The node layout of the loopback cluster.
#[derive(Debug, Default)]
pub struct Placement {
    state: RwLock<State>,
}

impl Placement {
    /// `groups` groups over `nodes` nodes: group *g* on nodes `(g-1) mod n` and `g mod n`
    /// (two replicas when there are two nodes or more), led by the first.
    pub fn spread(groups: u64, nodes: usize) -> Self {
        let n = nodes.max(1);
        let mut hosts = BTreeMap::new();
        let mut leader = BTreeMap::new();
        for g in 1..=groups {
            let first = (g as usize - 1) % n;
            let mut h = vec![first];
            if n > 1 {
                h.push((first + 1) % n);
            }
            hosts.insert(g, h);
            leader.insert(g, 0);
        }
        Placement {
            state: RwLock::new(State {
                hosts,
                leader,
                ..State::default()
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `node` holds a replica of group `g`.
    pub fn hosts(&self, node: usize, g: u64) -> bool {
        self.read().hosts.get(&g).is_some_and(|h| h.contains(&node))
    }

    /// The groups `node` hosts, ascending.
    pub fn groups_of(&self, node: usize) -> Vec<u64> {
        self.read()
            .hosts
            .iter()
            .filter(|(_, h)| h.contains(&node))
            .map(|(g, _)| *g)
            .collect()
    }

    /// The node leading group `g` (`None` during an election or for an unknown group).
    pub fn leader(&self, g: u64) -> Option<usize> {
        let s = self.read();
        if s.electing_until
            .get(&g)
            .is_some_and(|t| Instant::now() < *t)
        {
            return None;
        }
        let h = s.hosts.get(&g)?;
        h.get(*s.leader.get(&g).unwrap_or(&0) % h.len().max(1))
            .copied()
    }

    /// Fault: group `g`'s leadership moves to its next replica, with [`ELECTION`] of no
    /// leader in between (reads of `g` fail `leader not found` meanwhile).
    pub fn move_leader(&self, g: u64) {
        let mut s = self.write();
        let n = s.hosts.get(&g).map_or(1, |h| h.len().max(1));
        let l = s.leader.entry(g).or_insert(0);
        *l = (*l + 1) % n;
        s.electing_until.insert(g, Instant::now() + ELECTION);
    }

    /// Fault: group `g` is hosted by exactly `nodes` from now on.
    pub fn set_hosts(&self, g: u64, nodes: Vec<usize>) {
        let mut s = self.write();
        s.hosts.insert(g, nodes);
        s.leader.insert(g, 0);
    }

    /// Records node `i`'s listener address.
    pub fn set_addr(&self, i: usize, addr: String) {
        self.write().addrs.insert(i, addr);
    }

    /// Node `i`'s listener address, once started.
    pub fn addr(&self, i: usize) -> Option<String> {
        self.read().addrs.get(&i).cloned()
    }

    /// The node id a node reports (`GetRaftGroups.leader_node_id`).
    pub fn node_id(i: usize) -> String {
        format!("node-{i}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_moves() {
        let p = Placement::spread(4, 3);
        assert_eq!(p.groups_of(0), vec![1, 3, 4]);
        assert!(p.hosts(1, 1) && !p.hosts(2, 1));
        assert_eq!(p.leader(1), Some(0));
        p.move_leader(1);
        assert_eq!(p.leader(1), None, "election in progress");
        std::thread::sleep(ELECTION + Duration::from_millis(10));
        assert_eq!(p.leader(1), Some(1));
        let one = Placement::spread(3, 1);
        assert_eq!(one.groups_of(0), vec![1, 2, 3]);
        p.set_hosts(2, vec![2]);
        assert!(p.hosts(2, 2) && !p.hosts(1, 2));
    }
}

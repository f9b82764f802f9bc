//! The route catalog (`Distribution.ListRoutes`): half-open route-key ranges → Raft groups.
//!
//! The producer takes one snapshot of it at dump start to decide which group owns each key;
//! the loopback server serves it and places keys with it.

use super::route_key::route_key;
use elastickv_backup_proto::wire::{ListRoutesResponse, RouteDescriptor, RouteState};

/// One route: `[start, end)` over route keys (empty `end` = +∞), owned by `group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Durable route id.
    pub route_id: u64,
    /// Inclusive start (empty = −∞).
    pub start: Vec<u8>,
    /// Exclusive end (empty = +∞).
    pub end: Vec<u8>,
    /// Owning Raft group (≥ 1).
    pub group: u64,
}

/// The catalog: routes ordered by `start`, non-overlapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    /// Bumped on every split/merge; a change mid-dump aborts it.
    pub version: u64,
    /// Routes ordered by start.
    pub routes: Vec<Route>,
}

impl RouteTable {
    /// Routes starting at each of `split_points` (sorted, distinct), assigned to groups
    /// `1..=groups` round-robin.
    pub fn split(split_points: &[Vec<u8>], groups: u64) -> Self {
        let groups = groups.max(1);
        let mut starts: Vec<Vec<u8>> = vec![Vec::new()];
        starts.extend(split_points.iter().filter(|p| !p.is_empty()).cloned());
        let routes = starts
            .iter()
            .enumerate()
            .map(|(i, s)| Route {
                route_id: i as u64 + 1,
                start: s.clone(),
                end: starts.get(i + 1).cloned().unwrap_or_default(),
                group: (i as u64 % groups) + 1,
            })
            .collect();
        RouteTable { version: 1, routes }
    }

    /// Split points that spread `route_keys` (any order) evenly over `groups` ranges.
    pub fn quantiles(mut route_keys: Vec<Vec<u8>>, groups: u64) -> Vec<Vec<u8>> {
        route_keys.sort();
        route_keys.dedup();
        let n = route_keys.len() as u64;
        let g = groups.max(1);
        let mut points: Vec<Vec<u8>> = (1..g)
            .filter_map(|i| route_keys.get((i * n / g) as usize).cloned())
            .filter(|p| !p.is_empty())
            .collect();
        points.dedup();
        points
    }

    /// The group owning route key `rk`.
    pub fn owner_of_route_key(&self, rk: &[u8]) -> Option<u64> {
        let i = self.routes.partition_point(|r| r.start.as_slice() <= rk);
        let r = self.routes.get(i.checked_sub(1)?)?;
        (r.end.is_empty() || rk < r.end.as_slice()).then_some(r.group)
    }

    /// The group owning storage key `key` (through its route key).
    pub fn owner(&self, key: &[u8]) -> Option<u64> {
        self.owner_of_route_key(&route_key(key))
    }

    /// The distinct groups, ascending.
    pub fn groups(&self) -> Vec<u64> {
        let mut g: Vec<u64> = self.routes.iter().map(|r| r.group).collect();
        g.sort_unstable();
        g.dedup();
        g
    }

    /// The wire form.
    pub fn to_wire(&self) -> ListRoutesResponse {
        ListRoutesResponse {
            catalog_version: self.version,
            routes: self
                .routes
                .iter()
                .map(|r| RouteDescriptor {
                    route_id: r.route_id,
                    start: r.start.clone(),
                    end: r.end.clone(),
                    raft_group_id: r.group,
                    state: RouteState::Active as i32,
                    parent_route_id: 0,
                    split_at_hlc: 0,
                })
                .collect(),
        }
    }

    /// From the wire form (routes sorted by start).
    pub fn from_wire(resp: &ListRoutesResponse) -> Self {
        let mut routes: Vec<Route> = resp
            .routes
            .iter()
            .map(|r| Route {
                route_id: r.route_id,
                start: r.start.clone(),
                end: r.end.clone(),
                group: r.raft_group_id,
            })
            .collect();
        routes.sort_by(|a, b| a.start.cmp(&b.start));
        RouteTable {
            version: resp.catalog_version,
            routes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_engine::decode::Family as F;

    #[test]
    fn ownership_and_wire_round_trip() {
        let t = RouteTable::split(&[b"m".to_vec(), b"t".to_vec()], 2);
        assert_eq!(t.owner_of_route_key(b""), Some(1));
        assert_eq!(t.owner_of_route_key(b"l"), Some(1));
        assert_eq!(t.owner_of_route_key(b"m"), Some(2));
        assert_eq!(t.owner_of_route_key(b"z"), Some(1));
        assert_eq!(t.groups(), vec![1, 2]);
        assert_eq!(RouteTable::from_wire(&t.to_wire()), t);
        // DynamoDB keys follow their table's route key, not their raw bytes.
        assert_eq!(
            t.owner(&F::DdbItem.key(b"dXNlcnM|1|zz")),
            t.owner(&F::DdbTableMeta.key(b"dXNlcnM"))
        );
    }

    #[test]
    fn quantiles_spread_keys() {
        let keys: Vec<Vec<u8>> = (0..100u8).map(|i| vec![b'a', i]).collect();
        let p = RouteTable::quantiles(keys, 4);
        assert_eq!(p, vec![vec![b'a', 25], vec![b'a', 50], vec![b'a', 75]]);
        assert!(RouteTable::quantiles(vec![], 3).is_empty());
    }
}

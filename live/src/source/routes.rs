//! The route catalog (`Distribution.ListRoutes`): half-open route-key ranges → Raft groups.
//!
//! The producer takes one snapshot of it at dump start to decide which group owns each key;
//! the loopback server serves it and places keys with it.

use super::route_key::{route_key, route_key_parts};
use elastickv_backup_proto::wire::{ListRoutesResponse, RouteDescriptor, RouteState};
use std::cmp::Ordering;

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

/// The route [`RouteTable::owner_hinted`] found last (one per scanning thread or task),
/// and the route key it was found for.
#[derive(Debug, Default, Clone)]
pub struct OwnerHint {
    route: Option<usize>,
    /// The last route key's constant head...
    head: &'static [u8],
    /// ...and a copy of its tail. Runs of keys share a route key (a DynamoDB table's
    /// items, a Redis collection's elements, an S3 object's chunks, every SQS key): the
    /// next key of the run takes the route after one comparison of its tail, where
    /// checking it against the route's bounds took two to four `memcmp` calls (7.6% of
    /// the live client's network thread, and the loopback's `BeginBackup` count).
    tail: Vec<u8>,
}

impl OwnerHint {
    /// Whether `head ++ tail` is the route key remembered. The heads are constants:
    /// the same address and length is the same head (another address only costs the
    /// bounds check).
    fn same_key(&self, head: &[u8], tail: &[u8]) -> bool {
        let same_head = (head.is_empty() && self.head.is_empty()) || std::ptr::eq(head, self.head);
        same_head && tail == self.tail.as_slice()
    }

    fn remember(&mut self, route: usize, head: &'static [u8], tail: &[u8]) {
        self.route = Some(route);
        self.head = head;
        self.tail.clear();
        self.tail.extend_from_slice(tail);
    }
}

/// `head ++ tail` compared with `b`, without joining them.
fn cmp_parts(head: &[u8], tail: &[u8], b: &[u8]) -> Ordering {
    if head.is_empty() {
        return tail.cmp(b);
    }
    let n = head.len().min(b.len());
    match head[..n].cmp(&b[..n]) {
        Ordering::Equal if head.len() > b.len() => Ordering::Greater,
        Ordering::Equal => tail.cmp(&b[head.len()..]),
        o => o,
    }
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

    /// [`RouteTable::owner`], first trying the route that owned the key `hint` last
    /// answered for. A scan meets keys in order, so nearly every key lies in the route of
    /// the key before it (a DynamoDB table's items share one route key), and then neither
    /// the route key is built (an allocation for DynamoDB and S3 keys) nor the table is
    /// searched: this runs once per key of every scan, count and ownership filter.
    pub fn owner_hinted(&self, key: &[u8], hint: &mut OwnerHint) -> Option<u64> {
        let (head, tail) = route_key_parts(key);
        if let Some((i, r)) = hint.route.and_then(|i| Some((i, self.routes.get(i)?))) {
            if hint.same_key(head, tail) {
                return Some(r.group);
            }
            let after_start = cmp_parts(head, tail, &r.start).is_ge();
            if after_start && (r.end.is_empty() || cmp_parts(head, tail, &r.end).is_lt()) {
                hint.remember(i, head, tail);
                return Some(r.group);
            }
        }
        let rk = route_key(key);
        let i = self
            .routes
            .partition_point(|r| r.start.as_slice() <= &*rk)
            .checked_sub(1)?;
        let r = self.routes.get(i)?;
        if r.end.is_empty() || *rk < *r.end {
            hint.remember(i, head, tail);
            Some(r.group)
        } else {
            None
        }
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
    fn cmp_parts_is_the_joined_comparison() {
        let words: Vec<Vec<u8>> = [&b""[..], b"a", b"ab", b"abc", b"b", b"a\xff", b"\x00"]
            .iter()
            .map(|w| w.to_vec())
            .collect();
        for h in &words {
            for t in &words {
                for b in &words {
                    let joined = [h.as_slice(), t.as_slice()].concat();
                    for bb in [b.clone(), [h.as_slice(), b.as_slice()].concat()] {
                        assert_eq!(cmp_parts(h, t, &bb), joined.cmp(&bb), "{h:?} {t:?} {bb:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn hinted_owner_is_the_owner_in_any_order() {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for table in [&b"dGFibGU"[..], b"dXNlcnM", b"b3JkZXJz"] {
            keys.push(F::DdbTableMeta.key(table));
            for i in 0..40u32 {
                keys.push(F::DdbItem.key(&[table, b"|1|", format!("k{i}").as_bytes()].concat()));
            }
        }
        for i in 0..60u32 {
            keys.push(F::RedisString.key(format!("user:{i}").as_bytes()));
            keys.push(F::RedisListMeta.key(format!("q{i}").as_bytes()));
            keys.push(F::SqsQueueMeta.key(format!("cQ{i}").as_bytes()));
            keys.push(format!("plain-{i}").into_bytes());
        }
        for obj in [&b"a"[..], b"b/c", b"zz"] {
            let head = [&b"bkt\x00\x01"[..], &7u64.to_be_bytes(), obj, b"\x00\x01"].concat();
            keys.push(F::S3ObjHead.key(&head));
            keys.push(F::S3Blob.key(&[head.as_slice(), b"chunk"].concat()));
        }
        // Split points inside runs of keys (a table's items, a bucket's objects) and
        // between them, over the route keys the keys map to.
        let rks: Vec<Vec<u8>> = keys.iter().map(|k| route_key(k).into_owned()).collect();
        for groups in [1, 3, 7] {
            let table = RouteTable::split(&RouteTable::quantiles(rks.clone(), groups), groups);
            let mut hint = OwnerHint::default();
            let mut sorted = keys.clone();
            sorted.sort();
            let mut shuffled = keys.clone();
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            for k in sorted.iter().chain(&shuffled).chain(&keys) {
                assert_eq!(table.owner_hinted(k, &mut hint), table.owner(k), "{k:?}");
            }
        }
        // A table whose routes leave a gap: no owner, hinted or not.
        let gap = RouteTable {
            version: 1,
            routes: vec![Route {
                route_id: 1,
                start: b"m".to_vec(),
                end: b"t".to_vec(),
                group: 2,
            }],
        };
        let mut hint = OwnerHint::default();
        for k in [&b"n"[..], b"a", b"s", b"z", b"m", b"t"] {
            assert_eq!(gap.owner_hinted(k, &mut hint), gap.owner(k), "{k:?}");
        }
    }

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

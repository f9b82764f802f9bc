//! Where each Raft group is read from (docs/format/50-live-cluster.md §1.2, §2.8). No upstream RPC maps a group to a
//! listener, so the producer takes seeds (`--address`, several) and optional explicit
//! `--group-endpoint GROUP=HOST:PORT` overrides, and for each group picks a node that hosts
//! it — checked with `Admin.GetRaftGroups`, because a node that does not host a group
//! answers its reads with silent empty pages. An explicit endpoint is asked
//! (`RaftAdmin.Status`) for its group's leader, which is then read directly. Each node gets
//! one channel, shared by every group read from it. A group is resolved again when its node
//! stops answering or loses the leadership.

use super::client::{Conn, Dialer};
use super::error::LiveError;
use super::retry;
use elastickv_backup_proto::wire::{GetRaftGroupsRequest, RaftAdminStatusRequest};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::Code;

/// Deadline of one discovery probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The seeds, the explicit endpoints and one channel per node address.
pub struct Topology {
    seeds: Vec<String>,
    explicit: BTreeMap<u64, String>,
    dialer: Dialer,
    conns: Mutex<HashMap<String, Conn>>,
}

/// Splits `--address` values: each may hold several comma-separated seeds.
pub fn parse_seeds(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
    }
    out
}

/// Parses `--group-endpoint GROUP=HOST:PORT` values.
pub fn parse_group_endpoints(values: &[String]) -> Result<BTreeMap<u64, String>, String> {
    let mut out = BTreeMap::new();
    for v in values {
        let (g, addr) = v
            .split_once('=')
            .ok_or_else(|| format!("--group-endpoint {v}: expected GROUP=HOST:PORT"))?;
        let g: u64 = g
            .trim()
            .parse()
            .ok()
            .filter(|g| *g >= 1)
            .ok_or_else(|| format!("--group-endpoint {v}: GROUP must be a group id ≥ 1"))?;
        let addr = addr.trim();
        if addr.is_empty() {
            return Err(format!("--group-endpoint {v}: HOST:PORT is empty"));
        }
        if out.insert(g, addr.to_string()).is_some() {
            return Err(format!("--group-endpoint: group {g} given twice"));
        }
    }
    Ok(out)
}

impl Topology {
    /// A topology over `seeds` (at least one) and `explicit` group endpoints, every node
    /// dialled by `dialer`.
    pub fn new(seeds: Vec<String>, explicit: BTreeMap<u64, String>, dialer: Dialer) -> Self {
        Topology {
            seeds,
            explicit,
            dialer,
            conns: Mutex::new(HashMap::new()),
        }
    }

    /// The channel to `addr` (made on first use, then shared).
    pub fn conn(&self, addr: &str) -> Result<Conn, LiveError> {
        let mut m = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = m.get(addr) {
            return Ok(c.clone());
        }
        let c = self.dialer.lazy(addr)?;
        m.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// Shares an already connected channel (the seed that answered first).
    pub fn adopt(&self, conn: Conn) {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(conn.address.clone(), conn);
    }

    /// Seed channels, for the cluster-wide calls (catalog, pin) to fail over between.
    pub fn seed_conns(&self) -> Result<Vec<Conn>, LiveError> {
        self.seeds.iter().map(|s| self.conn(s)).collect()
    }

    /// A node to read group `g` from, trying `avoid` (the node that just failed) last.
    ///
    /// Errors: [`LiveError::NoHost`] naming the group and what each candidate answered,
    /// when no reachable candidate hosts it.
    pub async fn resolve(&self, g: u64, avoid: Option<&str>) -> Result<Conn, LiveError> {
        let explicit = self.explicit.get(&g);
        let mut candidates: Vec<String> = match explicit {
            Some(e) => vec![e.clone()],
            None => self.seeds.clone(),
        };
        if let Some(a) = avoid {
            if let Some(pos) = candidates.iter().position(|c| c == a) {
                let c = candidates.remove(pos);
                candidates.push(c);
            }
        }
        let mut tried = Vec::new();
        let mut unverified: Option<Conn> = None;
        for addr in candidates {
            let conn = match self.conn(&addr) {
                Ok(c) => c,
                Err(e) => {
                    tried.push(e.to_string());
                    continue;
                }
            };
            match hosted_groups(&conn).await {
                Ok(groups) if groups.contains(&g) => {
                    if explicit.is_some() {
                        return Ok(self.leader_of(&conn, g).await.unwrap_or(conn));
                    }
                    return Ok(conn);
                }
                Ok(_) => tried.push(format!("{addr}: does not host group {g}")),
                Err(s) if cannot_list(&s) => {
                    tried.push(format!(
                        "{addr}: cannot list its groups ({:?}: {})",
                        s.code(),
                        s.message()
                    ));
                    unverified.get_or_insert(conn);
                }
                Err(s) => tried.push(format!("{addr}: {:?}: {}", s.code(), s.message())),
            }
        }
        if let Some(conn) = unverified {
            tracing::warn!("group {g}: {} does not list the groups it hosts (Admin service unavailable); reading the group through it unverified — a node that does not host it answers empty pages. Pass --group-endpoint {g}=HOST:PORT to be sure",
                conn.address
            );
            return Ok(conn);
        }
        Err(LiveError::NoHost {
            group: g,
            tried: tried.join("; "),
        })
    }

    /// The leader listener an explicit endpoint names for its own group, if it names one
    /// other than itself, it answers, and it hosts group `g` (a listener's `RaftAdmin` is
    /// about its own group, which the caller can only assume is `g`).
    async fn leader_of(&self, conn: &Conn, g: u64) -> Option<Conn> {
        let r = conn.req(RaftAdminStatusRequest {}, PROBE_TIMEOUT);
        let st = tokio::time::timeout(PROBE_TIMEOUT, conn.raft_admin().status(r))
            .await
            .ok()?
            .ok()?
            .into_inner();
        if st.leader_address.is_empty() || st.leader_address == conn.address {
            return None;
        }
        let leader = self.conn(&st.leader_address).ok()?;
        hosted_groups(&leader)
            .await
            .ok()
            .filter(|groups| groups.contains(&g))
            .map(|_| leader)
    }
}

/// Whether a failed `GetRaftGroups` means "cannot tell" rather than "unreachable".
fn cannot_list(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        Code::Unimplemented | Code::Unauthenticated | Code::PermissionDenied
    )
}

/// The groups a node hosts (`Admin.GetRaftGroups`, one row per local replica).
async fn hosted_groups(conn: &Conn) -> Result<Vec<u64>, tonic::Status> {
    let r = conn.req(GetRaftGroupsRequest {}, PROBE_TIMEOUT);
    let resp = tokio::time::timeout(PROBE_TIMEOUT, conn.admin().get_raft_groups(r))
        .await
        .unwrap_or_else(|_| Err(retry::no_answer("GetRaftGroups", PROBE_TIMEOUT)))?;
    Ok(resp
        .into_inner()
        .groups
        .iter()
        .map(|g| g.raft_group_id)
        .collect())
}

/// Group `g`'s current node, re-resolved when it fails.
pub struct GroupRoute {
    /// Group id.
    pub group: u64,
    topo: Arc<Topology>,
    current: Mutex<Conn>,
}

impl GroupRoute {
    /// The route of `group`, starting at `conn`.
    pub fn new(group: u64, topo: Arc<Topology>, conn: Conn) -> Self {
        GroupRoute {
            group,
            topo,
            current: Mutex::new(conn),
        }
    }

    /// The node reads go to now.
    pub fn current(&self) -> Conn {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Looks the group up again after `failed` stopped serving it.
    pub async fn reresolve(&self, failed: &str) -> Result<(), LiveError> {
        let c = self.topo.resolve(self.group, Some(failed)).await?;
        if c.address != failed {
            tracing::info!(
                "group {}: now reading from {} (was {failed})",
                self.group,
                c.address
            );
        }
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = c;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_and_endpoints() {
        assert_eq!(
            parse_seeds(&["a:1, b:2".into(), "c:3".into(), "a:1".into()]),
            vec!["a:1", "b:2", "c:3"]
        );
        let m = parse_group_endpoints(&["3=h:9".into(), "1 = g:8".into()]).unwrap();
        assert_eq!(m.get(&3).map(String::as_str), Some("h:9"));
        assert_eq!(m.get(&1).map(String::as_str), Some("g:8"));
        for bad in ["x=h:1", "0=h:1", "3", "3="] {
            assert!(parse_group_endpoints(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(parse_group_endpoints(&["3=a:1".into(), "3=b:1".into()]).is_err());
    }
}

//! `RawKV` (docs/format/50-live-cluster.md §2) over the loopback cluster: the 1025 page cap with upstream's
//! `UNKNOWN invalid request`, explicit-group scans without route clamping (an unknown group
//! is a silent empty page), `ts = 0` meaning "server chooses", compaction errors, the 64 MiB
//! message budget, and the per-group faults.

use crate::cluster::{compacted, Cluster};
use crate::group::Group;
use bytes::Bytes;
use elastickv_backup_live::source::routes::OwnerHint;
use elastickv_backup_proto::wire::{
    RawGetRequest, RawGetResponse, RawKvPair, RawLatestCommitTsRequest, RawLatestCommitTsResponse,
    RawScanAtRequest, RawScanAtResponse,
};
use elastickv_backup_proto::RawKv;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Largest `limit` a node accepts (`MaxDeltaScanLimit + 1`).
pub const MAX_SCAN_LIMIT: i64 = 1025;
/// Per-pair framing overhead counted against the message budget.
const PAIR_OVERHEAD: usize = 16;

/// The RawKV service.
pub struct RawKvService {
    /// The cluster served.
    pub cluster: Arc<Cluster>,
    /// The node this listener belongs to: an explicit-group read of a group it does not
    /// host is a silent empty answer, as on a real node (§2.1).
    pub node: usize,
}

impl RawKvService {
    async fn before_page(&self, g: Option<&Arc<Group>>) -> Result<(), Status> {
        let delay = self.cluster.faults.scan_delay_ms.load(Ordering::Acquire);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        if let Some(g) = g {
            if !g.serve_page() {
                return Err(Status::unavailable(format!(
                    "group {}: connection refused",
                    g.id
                )));
            }
        }
        self.cluster.stats.pages.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// `Ok(false)`: this node does not host `g` (answer empty); an election in progress
    /// fails as a real node's proxy does when it knows no leader.
    fn serves(&self, g: u64) -> Result<bool, Status> {
        let p = &self.cluster.placement;
        if !p.hosts(self.node, g) {
            return Ok(false);
        }
        if p.leader(g).is_none() {
            return Err(Status::unknown(format!(
                "group {g}: raft: leader not found"
            )));
        }
        Ok(true)
    }

    fn read_ts(&self, ts: u64) -> u64 {
        if ts == 0 {
            self.cluster.default_read_ts()
        } else {
            ts
        }
    }
}

/// The status of a read the `refuse_prefix` fault blocks.
fn refused() -> Status {
    Status::failed_precondition("test fault: reads of this key range are refused")
}

/// Drops a key that is a proper prefix of the next key (the value-scan hazard fault).
fn apply_prefix_hazard(page: &mut Vec<(Bytes, Bytes)>) {
    let keep: Vec<bool> = (0..page.len())
        .map(|i| {
            page.get(i + 1).is_none_or(|next| {
                !(next.0.len() > page[i].0.len() && next.0.starts_with(&page[i].0))
            })
        })
        .collect();
    let mut it = keep.into_iter();
    page.retain(|_| it.next().unwrap_or(true));
}

#[tonic::async_trait]
impl RawKv for RawKvService {
    async fn raw_get(
        &self,
        req: Request<RawGetRequest>,
    ) -> Result<Response<RawGetResponse>, Status> {
        let r = req.into_inner();
        let c = &self.cluster;
        let _reading = c.stats.read_started();
        let gid = if r.group_id == 0 {
            c.routes().owner(&r.key).unwrap_or(1)
        } else {
            r.group_id
        };
        let Some(g) = c.group(gid) else {
            return Ok(Response::new(RawGetResponse::default()));
        };
        if !self.serves(gid)? {
            return Ok(Response::new(RawGetResponse::default()));
        }
        let mut key_end = r.key.clone();
        key_end.push(0);
        if c.faults.refuses_range(&r.key, &key_end) {
            return Err(refused());
        }
        self.before_page(Some(g)).await?;
        let v = g
            .read()
            .get(&r.key, self.read_ts(r.ts))
            .map_err(compacted)?;
        Ok(Response::new(RawGetResponse {
            read_at_index: 0,
            exists: v.is_some(),
            value: v.map(|b| b.to_vec()).unwrap_or_default(),
        }))
    }

    async fn raw_scan_at(
        &self,
        req: Request<RawScanAtRequest>,
    ) -> Result<Response<RawScanAtResponse>, Status> {
        let r = req.into_inner();
        if r.limit < 0 || r.limit > MAX_SCAN_LIMIT {
            return Err(Status::unknown("invalid request"));
        }
        if r.limit == 0 {
            return Ok(Response::new(RawScanAtResponse::default()));
        }
        let c = &self.cluster;
        let _reading = c.stats.read_started();
        if c.faults.refuses_range(&r.start_key, &r.end_key) {
            return Err(refused());
        }
        let ts = self.read_ts(r.ts);
        let limit = r.limit as usize;
        let mut page: Vec<(Bytes, Bytes)> = if r.group_id != 0 {
            let Some(g) = c.group(r.group_id) else {
                return Ok(Response::new(RawScanAtResponse::default()));
            };
            if !self.serves(r.group_id)? {
                return Ok(Response::new(RawScanAtResponse::default()));
            }
            self.before_page(Some(g)).await?;
            let page = g
                .read()
                .scan(&r.start_key, &r.end_key, ts, limit, r.reverse, r.keys_only)
                .map_err(compacted)?;
            page
        } else {
            self.before_page(None).await?;
            let routes = c.routes();
            let mut all = Vec::new();
            for g in c.groups() {
                let mut p = g
                    .read()
                    .scan(&r.start_key, &r.end_key, ts, limit, r.reverse, r.keys_only)
                    .map_err(compacted)?;
                let mut hint = OwnerHint::default();
                p.retain(|(k, _)| c.owns_hinted(&routes, g.id, k, &mut hint));
                all.extend(p);
            }
            all.sort_by(|a, b| {
                if r.reverse {
                    b.0.cmp(&a.0)
                } else {
                    a.0.cmp(&b.0)
                }
            });
            all.dedup_by(|a, b| a.0 == b.0);
            all.truncate(limit);
            all
        };
        if !r.keys_only && c.faults.prefix_hazard.load(Ordering::Acquire) {
            apply_prefix_hazard(&mut page);
        }
        if r.keys_only {
            c.stats
                .keys_listed
                .fetch_add(page.len() as u64, Ordering::AcqRel);
        }
        let bytes: usize = page
            .iter()
            .map(|(k, v)| k.len() + v.len() + PAIR_OVERHEAD)
            .sum();
        if bytes > c.config.max_message_bytes {
            return Err(Status::resource_exhausted(format!(
                "grpc: trying to send message larger than max ({bytes} vs. {})",
                c.config.max_message_bytes
            )));
        }
        c.stats
            .max_page_bytes
            .fetch_max(bytes as u64, Ordering::AcqRel);
        Ok(Response::new(RawScanAtResponse {
            kv: page
                .into_iter()
                .map(|(key, value)| RawKvPair { key, value })
                .collect(),
        }))
    }

    async fn raw_latest_commit_ts(
        &self,
        req: Request<RawLatestCommitTsRequest>,
    ) -> Result<Response<RawLatestCommitTsResponse>, Status> {
        let r = req.into_inner();
        let c = &self.cluster;
        if r.key.is_empty() {
            let ts = c.latest_commit_ts();
            return Ok(Response::new(RawLatestCommitTsResponse {
                ts,
                exists: ts > 0,
            }));
        }
        let gid = c.routes().owner(&r.key).unwrap_or(1);
        let (ts, exists) = match c.group(gid) {
            Some(g) => {
                let s = g.read();
                let v = s.get(&r.key, u64::MAX).map_err(compacted)?;
                (s.last_commit_ts(), v.is_some())
            }
            None => (0, false),
        };
        Ok(Response::new(RawLatestCommitTsResponse { ts, exists }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_ranges() {
        use elastickv_backup_engine::decode::Family;
        use elastickv_backup_format::keys::ns;
        // The first key past every key under `prefix` (its last byte, `|`, becomes `}`).
        let past = |prefix: &[u8]| {
            let mut k = prefix.to_vec();
            *k.last_mut().unwrap() += 1;
            k
        };
        let item = |rest: &[u8]| [Family::DdbItem.prefix(), rest].concat();
        let f = crate::cluster::Faults::default();
        assert!(!f.refuses_range(b"", b""));
        *f.refuse_prefix.lock().unwrap() = Some(ns::DDB.to_vec());
        assert!(f.refuses_range(b"", b""));
        assert!(f.refuses_range(&item(b"x"), &item(b"y")));
        assert!(f.refuses_range(b"!a", &[ns::DDB, b"\x00"].concat()));
        assert!(!f.refuses_range(b"!a", ns::DDB));
        assert!(!f.refuses_range(&past(ns::DDB), b""));
        assert!(!f.refuses_range(ns::S3, &past(ns::S3)));
    }

    #[test]
    fn hazard_drops_proper_prefixes_only() {
        let mut p: Vec<(Bytes, Bytes)> = ["a", "a\0", "ab", "b", "c"]
            .iter()
            .map(|k| (Bytes::copy_from_slice(k.as_bytes()), Bytes::new()))
            .collect();
        apply_prefix_hazard(&mut p);
        let keys: Vec<&[u8]> = p.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, vec![b"a\0".as_slice(), b"ab", b"b", b"c"]);
    }
}

//! `RaftAdmin` (docs/format/50-live-cluster.md) with the documented one-listener-per-node simplification:
//! `Status`/`Configuration` describe the node's lowest hosted group — its leader's listener
//! and its replicas' listeners.

use crate::cluster::Cluster;
use crate::placement::Placement;
use elastickv_backup_proto::wire::{
    RaftAdminConfigurationRequest, RaftAdminConfigurationResponse, RaftAdminMember, RaftAdminState,
    RaftAdminStatusRequest, RaftAdminStatusResponse,
};
use elastickv_backup_proto::RaftAdmin;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The RaftAdmin service.
pub struct RaftAdminService {
    /// The cluster served.
    pub cluster: Arc<Cluster>,
    /// The node this listener belongs to.
    pub node: usize,
}

impl RaftAdminService {
    fn group(&self) -> Result<u64, Status> {
        self.cluster
            .placement
            .groups_of(self.node)
            .first()
            .copied()
            .ok_or_else(|| Status::failed_precondition("raft engine is not configured"))
    }
}

#[tonic::async_trait]
impl RaftAdmin for RaftAdminService {
    async fn status(
        &self,
        _req: Request<RaftAdminStatusRequest>,
    ) -> Result<Response<RaftAdminStatusResponse>, Status> {
        let gid = self.group()?;
        let g = self
            .cluster
            .group(gid)
            .ok_or_else(|| Status::failed_precondition("raft engine is not configured"))?;
        let p = &self.cluster.placement;
        let leader = p.leader(gid);
        Ok(Response::new(RaftAdminStatusResponse {
            state: if leader == Some(self.node) {
                RaftAdminState::Leader as i32
            } else {
                RaftAdminState::Follower as i32
            },
            leader_id: leader.map(Placement::node_id).unwrap_or_default(),
            leader_address: leader.and_then(|l| p.addr(l)).unwrap_or_default(),
            term: 1,
            commit_index: g.commit_index(),
            applied_index: g.applied_index(),
            last_log_index: g.commit_index(),
            last_snapshot_index: g.last_snapshot_index(),
            num_peers: 1,
            ..Default::default()
        }))
    }

    async fn configuration(
        &self,
        _req: Request<RaftAdminConfigurationRequest>,
    ) -> Result<Response<RaftAdminConfigurationResponse>, Status> {
        let gid = self.group()?;
        let p = &self.cluster.placement;
        let nodes = (0..self.cluster.config.nodes.max(1)).filter(|n| p.hosts(*n, gid));
        Ok(Response::new(RaftAdminConfigurationResponse {
            servers: nodes
                .map(|n| RaftAdminMember {
                    id: Placement::node_id(n),
                    address: p.addr(n).unwrap_or_default(),
                    suffrage: "Voter".into(),
                })
                .collect(),
        }))
    }
}

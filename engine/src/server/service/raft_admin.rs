//! `RaftAdmin` (docs/format/50-live-cluster.md §2) with the documented single-listener simplification: one
//! listener serves every group, and `Status`/`Configuration` describe the configured
//! group (group 1 by default): always the leader, reachable at the listener itself.

use crate::server::cluster::Cluster;
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
    /// The group this listener answers for.
    pub group: u64,
    /// The listener address (the leader address of every group).
    pub address: String,
}

#[tonic::async_trait]
impl RaftAdmin for RaftAdminService {
    async fn status(
        &self,
        _req: Request<RaftAdminStatusRequest>,
    ) -> Result<Response<RaftAdminStatusResponse>, Status> {
        let g = self
            .cluster
            .group(self.group)
            .ok_or_else(|| Status::failed_precondition("raft engine is not configured"))?;
        Ok(Response::new(RaftAdminStatusResponse {
            state: RaftAdminState::Leader as i32,
            leader_id: "loopback".into(),
            leader_address: self.address.clone(),
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
        Ok(Response::new(RaftAdminConfigurationResponse {
            servers: vec![RaftAdminMember {
                id: "loopback".into(),
                address: self.address.clone(),
                suffrage: "Voter".into(),
            }],
        }))
    }
}

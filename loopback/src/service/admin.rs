//! `Admin` (docs/format/50-live-cluster.md §2, §5): `GetRaftGroups` and the Phase 1 backup RPCs. Authentication
//! happens in the interceptor ([`super::auth`]) before any of these run.

use crate::cluster::Cluster;
use elastickv_backup_proto::wire::{
    BeginBackupRequest, BeginBackupResponse, EndBackupRequest, EndBackupResponse,
    GetNodeVersionRequest, GetNodeVersionResponse, GetRaftGroupsRequest, GetRaftGroupsResponse,
    ListAdaptersAndScopesRequest, ListAdaptersAndScopesResponse, RaftGroupState,
    RenewBackupRequest, RenewBackupResponse,
};
use elastickv_backup_proto::Admin;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The Admin service.
pub struct AdminService {
    /// The cluster served.
    pub cluster: Arc<Cluster>,
    /// The node this listener belongs to (it lists only the groups it hosts).
    pub node: usize,
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn get_raft_groups(
        &self,
        _req: Request<GetRaftGroupsRequest>,
    ) -> Result<Response<GetRaftGroupsResponse>, Status> {
        let p = &self.cluster.placement;
        Ok(Response::new(GetRaftGroupsResponse {
            groups: self
                .cluster
                .groups()
                .iter()
                .filter(|g| p.hosts(self.node, g.id))
                .map(|g| RaftGroupState {
                    raft_group_id: g.id,
                    leader_node_id: p
                        .leader(g.id)
                        .map(crate::placement::Placement::node_id)
                        .unwrap_or_default(),
                    leader_term: 1,
                    commit_index: g.commit_index(),
                    applied_index: g.applied_index(),
                    last_contact_unix_ms: 0,
                    leader_node_version: self.cluster.config.node_version.clone(),
                })
                .collect(),
        }))
    }

    async fn begin_backup(
        &self,
        req: Request<BeginBackupRequest>,
    ) -> Result<Response<BeginBackupResponse>, Status> {
        let ttl = req.into_inner().ttl_ms;
        Ok(Response::new(self.cluster.begin_backup(ttl).await?))
    }

    async fn renew_backup(
        &self,
        req: Request<RenewBackupRequest>,
    ) -> Result<Response<RenewBackupResponse>, Status> {
        let r = req.into_inner();
        let ttl = self.cluster.renew_backup(&r.pin_token, r.ttl_ms).await?;
        Ok(Response::new(RenewBackupResponse {
            ttl_ms_effective: ttl,
        }))
    }

    async fn end_backup(
        &self,
        req: Request<EndBackupRequest>,
    ) -> Result<Response<EndBackupResponse>, Status> {
        self.cluster.end_backup(&req.into_inner().pin_token)?;
        Ok(Response::new(EndBackupResponse {}))
    }

    async fn list_adapters_and_scopes(
        &self,
        req: Request<ListAdaptersAndScopesRequest>,
    ) -> Result<Response<ListAdaptersAndScopesResponse>, Status> {
        Ok(Response::new(
            self.cluster.list_scopes(&req.into_inner().pin_token)?,
        ))
    }

    async fn get_node_version(
        &self,
        _req: Request<GetNodeVersionRequest>,
    ) -> Result<Response<GetNodeVersionResponse>, Status> {
        if !self.cluster.phase1() {
            return Err(Status::unimplemented("unknown method GetNodeVersion"));
        }
        Ok(Response::new(GetNodeVersionResponse {
            node_version: self.cluster.config.node_version.clone(),
        }))
    }
}

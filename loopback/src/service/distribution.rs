//! `Distribution` (docs/format/50-live-cluster.md §2): the route catalog, the per-key ownership oracle, and the
//! `GetTimestamp` counter that is deliberately not an HLC.

use crate::cluster::Cluster;
use elastickv_backup_live::source::route_key::route_key;
use elastickv_backup_proto::wire::{
    GetRouteRequest, GetRouteResponse, GetTimestampRequest, GetTimestampResponse,
    ListRoutesRequest, ListRoutesResponse,
};
use elastickv_backup_proto::Distribution;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The Distribution service.
pub struct DistributionService {
    /// The cluster served.
    pub cluster: Arc<Cluster>,
}

#[tonic::async_trait]
impl Distribution for DistributionService {
    async fn get_route(
        &self,
        req: Request<GetRouteRequest>,
    ) -> Result<Response<GetRouteResponse>, Status> {
        let key = req.into_inner().key;
        let rk = route_key(&key);
        let table = self.cluster.routes();
        let found = table.routes.iter().find(|r| {
            r.start.as_slice() <= rk.as_ref()
                && (r.end.is_empty() || rk.as_ref() < r.end.as_slice())
        });
        Ok(Response::new(match found {
            Some(r) => GetRouteResponse {
                start: r.start.clone(),
                end: r.end.clone(),
                raft_group_id: r.group,
            },
            None => GetRouteResponse::default(),
        }))
    }

    async fn get_timestamp(
        &self,
        _req: Request<GetTimestampRequest>,
    ) -> Result<Response<GetTimestampResponse>, Status> {
        Ok(Response::new(GetTimestampResponse {
            timestamp: self.cluster.next_counter(),
        }))
    }

    async fn list_routes(
        &self,
        _req: Request<ListRoutesRequest>,
    ) -> Result<Response<ListRoutesResponse>, Status> {
        Ok(Response::new(self.cluster.routes().to_wire()))
    }
}

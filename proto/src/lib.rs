//! Generated gRPC types for the elastickv wire surface (filled in by the live-cluster work).

//! The wire contract of GraveyardDB: the gRPC service generated from `proto/graveyard/v1`, and
//! [`wire`], the one place that converts between it and the core's types and errors.

/// Generated from `proto/graveyard/v1/*.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("graveyard.v1");
}

/// The standard gRPC error envelope (`google.rpc.Status`).
pub mod google {
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub mod wire;

//! Generates the gRPC code from the .proto files with protox (pure Rust: no protoc binary).

const PROTOS: [&str; 5] = [
    "graveyard/v1/model.proto",
    "graveyard/v1/schema.proto",
    "graveyard/v1/errors.proto",
    "graveyard/v1/service.proto",
    "google/rpc/status.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The fds route emits no rerun-if-changed lines of its own.
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["."])?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(descriptors)?;
    Ok(())
}

//! With the `client` feature, generates the gRPC code of `proto/graveyard/v1` with protox (pure
//! Rust: no protoc binary on the machine). Without it, the core builds no wire code at all.

#[cfg(feature = "client")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    const PROTOS: [&str; 5] = [
        "graveyard/v1/model.proto",
        "graveyard/v1/schema.proto",
        "graveyard/v1/errors.proto",
        "graveyard/v1/service.proto",
        "google/rpc/status.proto",
    ];
    // The contract lives at the root of the repository, beside the crates that use it.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    // The fds route emits no rerun-if-changed lines of its own.
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }
    let descriptors = protox::compile(PROTOS, [&root])?;
    // The same descriptors, encoded, for the nodes' gRPC server reflection.
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("graveyard_descriptor_set.bin"), prost::Message::encode_to_vec(&descriptors))?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(descriptors)?;
    Ok(())
}

#[cfg(not(feature = "client"))]
fn main() {}

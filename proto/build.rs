//! Generates the gRPC client/server code from `protos/` without a system `protoc`:
//! `protox` (a pure-Rust protobuf compiler) produces the descriptor set, and
//! `tonic-prost-build` turns it into Rust.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const FILES: [&str; 3] = [
        "protos/service.proto",
        "protos/distribution.proto",
        "protos/admin.proto",
    ];
    for file in FILES {
        println!("cargo:rerun-if-changed={file}");
    }
    let fds = protox::compile(FILES, ["protos"])?;
    tonic_prost_build::configure()
        // Scan pages carry most of a live dump's bytes: as `Bytes`, a pair's key and value
        // are slices of the received message (no allocation and copy per field), and the
        // server hands its stored `Bytes` over without copying them either.
        .bytes(".RawKVPair")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}

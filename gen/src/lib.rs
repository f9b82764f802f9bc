//! elastickv-backup-gen: deterministic sample data — internal KV entries in each adapter's real storage layout
//! (the keys and value encodings the live adapters write, per the adapter specs' key/value
//! tables and "reverse direction" sections). `dump` without `--address` seeds its embedded
//! cluster with it and `serve --generate` serves it.
//!
//! `gen` ([`plan`]) grows the same encodings into a synthetic cluster of any size: per
//! adapter `synth` modules produce key families already in key order, `version::Merge`
//! joins them, [`writer`] cuts the stream into N `.fsm` shard files.
//!
//! A crate of its own because nothing that backs up or restores needs it: it feeds the
//! loopback cluster (`dump --embedded`, `dev serve`), `dev gen`, the `bench` runner and the
//! tests, and writes every storage row through `format` like the real adapters would.

#![warn(missing_docs)]

pub mod dynamodb;
pub mod plan;
pub(crate) mod redis;
pub mod rng;
pub mod s3;
pub mod sqs;
pub(crate) mod synth;
pub(crate) mod version;
pub mod writer;

pub mod enc;

/// One storage key and its value (no MVCC header: the store adds versions).
pub type Pair = (Vec<u8>, Vec<u8>);

/// Records per scope at scale 1.
const BASE: usize = 8;

/// The sample dataset at `scale` (≥ 1): a few scopes per adapter, `8 × scale` records each,
/// sorted by key. The same scale always gives the same bytes.
pub fn sample(scale: usize) -> Vec<Pair> {
    let n = BASE * scale.max(1);
    let mut out = Vec::new();
    dynamodb::generate(n, &mut out);
    s3::generate(n, &mut out);
    redis::generate(n, &mut out);
    sqs::generate(n, &mut out);
    out.sort();
    out
}

/// A fixed "wall clock" for generated timestamps (2024-04-29T14:13:20Z), so output never
/// depends on when it was generated.
pub const EPOCH_MS: u64 = 1_714_400_000_000;

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_engine::decode::routes::route;

    #[test]
    fn deterministic_unique_and_routed() {
        let a = sample(1);
        assert_eq!(a, sample(1));
        let mut keys: Vec<&Vec<u8>> = a.iter().map(|(k, _)| k).collect();
        keys.dedup();
        assert_eq!(keys.len(), a.len(), "duplicate keys");
        for (k, _) in &a {
            assert!(
                route(k).is_some(),
                "unrouted key {:?}",
                String::from_utf8_lossy(k)
            );
        }
        assert!(sample(2).len() > a.len());
    }
}

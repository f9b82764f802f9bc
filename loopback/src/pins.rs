//! Backup pins (docs/format/50-live-cluster.md §5, §5): a `read_ts` that compaction must not pass, with a
//! deadline, registered on every group (each replica keeps its own copy, so losing one — a
//! snapshot install — is a per-group event), extended by renewals, released idempotently.

use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Default TTL when a request carries 0.
pub const DEFAULT_TTL_MS: u64 = 1_800_000;
/// Smallest TTL accepted.
pub const MIN_TTL_MS: u64 = 60_000;
/// Nominal largest TTL; the server's `backup_max_ttl_ms` may lower it.
pub const NOMINAL_MAX_TTL_MS: u64 = 86_400_000;

/// A 16-byte pin id (UUIDv4 layout).
pub type PinId = [u8; 16];

/// One group's record of a pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// The pinned read timestamp.
    pub read_ts: u64,
    /// Absolute Unix-ms deadline.
    pub deadline_ms: u64,
}

/// Wall-clock Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Why a TTL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ttl_ms {ttl_ms} is outside [{min}, {max}]")]
pub struct TtlOutOfRange {
    /// Requested TTL.
    pub ttl_ms: u64,
    /// Lower bound.
    pub min: u64,
    /// Upper bound (min of the nominal maximum and `backup_max_ttl_ms`).
    pub max: u64,
}

/// The TTL granted for a request's `ttl_ms` (0 = default), or why it is refused.
pub fn effective_ttl(ttl_ms: u64, backup_max_ttl_ms: u64) -> Result<u64, TtlOutOfRange> {
    let max = NOMINAL_MAX_TTL_MS.min(backup_max_ttl_ms);
    let ttl = if ttl_ms == 0 {
        DEFAULT_TTL_MS.min(max)
    } else {
        ttl_ms
    };
    if ttl < MIN_TTL_MS.min(max) || ttl > max {
        return Err(TtlOutOfRange {
            ttl_ms,
            min: MIN_TTL_MS.min(max),
            max,
        });
    }
    Ok(ttl)
}

/// A fresh random-looking pin id (SHA-256 of time, process and a counter; version-4 bits).
pub fn new_pin_id() -> PinId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let d = h.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&d[..16]);
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

/// The loopback server's pin token: 16-byte pin id then BE64 group ids (opaque to clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinToken {
    /// Pin id.
    pub pin_id: PinId,
    /// Groups the pin was committed on.
    pub groups: Vec<u64>,
}

impl PinToken {
    /// Wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 8 * self.groups.len());
        out.extend_from_slice(&self.pin_id);
        for g in &self.groups {
            out.extend_from_slice(&g.to_be_bytes());
        }
        out
    }

    /// Parses wire bytes; `None` when malformed.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let (id, rest) = b.split_at_checked(16)?;
        if rest.is_empty() || rest.len() % 8 != 0 {
            return None;
        }
        let pin_id: PinId = id.try_into().ok()?;
        let groups = rest
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap_or_default()))
            .collect();
        Some(PinToken { pin_id, groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rules_match_the_spec_vectors() {
        let max = 3_600_000;
        assert!(effective_ttl(59_999, max).is_err());
        assert_eq!(effective_ttl(0, max), Ok(1_800_000));
        assert!(effective_ttl(3_600_001, max).is_err());
        assert_eq!(effective_ttl(60_000, max), Ok(60_000));
        // A test server with a tiny maximum still grants within it.
        assert_eq!(effective_ttl(0, 500), Ok(500));
    }

    #[test]
    fn token_round_trip_and_rejects() {
        let t = PinToken {
            pin_id: new_pin_id(),
            groups: vec![1, 2, 3],
        };
        assert_eq!(t.pin_id[6] >> 4, 4);
        assert_eq!(PinToken::decode(&t.encode()), Some(t));
        assert_eq!(PinToken::decode(b"short"), None);
        assert_eq!(PinToken::decode(&[0u8; 16]), None);
        assert_eq!(PinToken::decode(&[0u8; 20]), None);
        assert_ne!(new_pin_id(), new_pin_id());
    }
}

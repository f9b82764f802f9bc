//! The sidecar's `last_modified` back to a manifest `last_modified_hlc` (docs/format/20-s3.md §11
//! step 5): the milliseconds of the RFC 3339 instant shifted into the HLC's physical
//! half, logical bits zero; 0 when absent, unparsable or before 1970.
//!
//! The accepted syntax is what Go's `time.Parse(time.RFC3339Nano, …)` takes (see
//! `elastickv_backup_gocompat::rfc3339`: `,` as fraction separator, digits beyond
//! nanoseconds ignored, a one-digit hour, offsets up to ±24:60).

/// Bits of the HLC below the physical milliseconds (the logical counter).
const LOGICAL_BITS: u32 = 16;

/// Unix milliseconds of an RFC 3339 timestamp (floored), or `None` when Go would not
/// parse it (the one parser: `elastickv-backup-gocompat`).
pub(crate) fn parse_ms(s: &str) -> Option<i64> {
    elastickv_backup_gocompat::rfc3339::parse(s).map(|i| i.unix_millis())
}

/// The manifest HLC for a sidecar `last_modified` value.
pub(crate) fn hlc_of(last_modified: &str) -> u64 {
    match parse_ms(last_modified) {
        Some(ms) if ms >= 0 => (ms as u64) << LOGICAL_BITS,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_20_vectors() {
        // TV15 and §7.4.
        assert_eq!(hlc_of("2024-01-26T03:06:56.937Z"), 1_706_238_416_937 << 16);
        assert_eq!(hlc_of("2024-01-26T03:06:56.937Z"), 111_820_040_892_383_232);
        assert_eq!(parse_ms("2024-01-26T03:06:56.9Z"), Some(1_706_238_416_900));
        assert_eq!(parse_ms("1970-01-01T00:00:00.001Z"), Some(1));
        assert_eq!(hlc_of("1970-01-01T00:00:00Z"), 0);
        assert_eq!(hlc_of("1970-01-01T00:00:00.001Z"), 65_536);
        // The golden fixtures' timestamp.
        assert_eq!(hlc_of("2026-04-29T12:34:56.789Z"), 116_488_018_119_163_904);
        // Offsets, long fractions, floor of sub-millisecond parts.
        assert_eq!(parse_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_ms("1970-01-01T00:00:00.0019999999999Z"), Some(1));
        assert_eq!(parse_ms("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        assert_eq!(hlc_of("1969-12-31T23:59:59Z"), 0);
        assert_eq!(hlc_of("1969-12-31T23:59:59.9995Z"), 0);
        // Go's leniencies (the verify side used to reject some, this side others).
        assert_eq!(parse_ms("2024-01-26T03:06:56,9Z"), Some(1_706_238_416_900));
        assert_eq!(parse_ms("2024-01-26T3:06:56.9Z"), Some(1_706_238_416_900));
        for bad in [
            "",
            "2024-01-26",
            "2024-01-26T03:06:56",
            "2024-01-26 03:06:56Z",
            "2023-02-29T00:00:00Z",
            "2024-01-26T24:00:00Z",
            "2024-01-26T03:06:60Z",
            "2024-01-26T03:06:56.Z",
            "2024-01-26T03:06:56Zx",
            "2024-01-26T03:06:56+0100",
            "10000-01-01T00:00:00Z",
        ] {
            assert_eq!(hlc_of(bad), 0, "{bad}");
        }
    }
}

//! The sidecar's `last_modified` back to a manifest `last_modified_hlc` (docs/format/20-s3.md §11
//! step 5): the milliseconds of the RFC 3339 instant shifted into the HLC's physical
//! half, logical bits zero; 0 when absent, unparsable or before 1970.
//!
//! The accepted syntax is what Go's `time.Parse(time.RFC3339Nano, …)` takes:
//! `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, fields range-checked, fraction digits
//! beyond nanoseconds ignored.

/// Bits of the HLC below the physical milliseconds (the logical counter).
const LOGICAL_BITS: u32 = 16;

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let d = b.get(at..at + n)?;
    d.iter().try_fold(0i64, |a, &c| {
        c.is_ascii_digit().then(|| a * 10 + i64::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix milliseconds of an RFC 3339 timestamp (floored), or `None` when Go would not
/// parse it.
pub(crate) fn parse_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let lit = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(lit(4, b'-') && lit(7, b'-') && lit(10, b'T') && lit(13, b':') && lit(16, b':')) {
        return None;
    }
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (hour, min, sec) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let mdays = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > mdays || hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if lit(i, b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let take = (i - start).min(9);
        nanos = digits(b, start, take)? * 10i64.pow(9 - take as u32);
    }
    let offset_s = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && lit(i + 3, b':') => {
            let (oh, om) = (digits(b, i + 1, 2)?, digits(b, i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset_s;
    Some(secs * 1000 + nanos / 1_000_000)
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

//! `wall_time_iso` must parse as Go's `time.Parse(time.RFC3339Nano, …)` would accept it
//! (docs/format/00-container.md §6). A small hand check: the `time` crate's parser is not built into this
//! crate, and the rule is only a dozen lines.

/// True if `s` is `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with every field in range.
pub fn valid(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let d = b.get(r)?;
        if d.iter().all(u8::is_ascii_digit) {
            d.iter().try_fold(0u32, |a, &c| {
                a.checked_mul(10)?.checked_add(u32::from(c - b'0'))
            })
        } else {
            None
        }
    };
    let lit = |i: usize, c: u8| b.get(i) == Some(&c);
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return false;
    };
    if !(lit(4, b'-') && lit(7, b'-') && lit(10, b'T') && lit(13, b':') && lit(16, b':')) {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || min > 59 || sec > 59 {
        return false;
    }
    let mut i = 19;
    if lit(i, b'.') || lit(i, b',') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start || i - start > 9 {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len()
                && lit(i + 3, b':')
                && num(i + 1..i + 3).is_some_and(|h| h < 24)
                && num(i + 4..i + 6).is_some_and(|m| m < 60)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::valid;

    #[test]
    fn accepts_go_rfc3339nano() {
        for s in [
            "2026-04-29T15:42:11.094Z",
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.123456789Z",
            "2024-02-29T00:00:00+09:00",
            "2026-01-02T03:04:05.5-07:30",
        ] {
            assert!(valid(s), "{s}");
        }
    }

    #[test]
    fn rejects_the_rest() {
        for s in [
            "",
            "2026-04-29",
            "2026-04-29 15:42:11Z",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-02T24:00:00Z",
            "2026-01-02T03:04:60Z",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05.1234567890Z",
            "2026-01-02T03:04:05",
            "2026-01-02T03:04:05+0900",
            "2026-01-02T03:04:05Zjunk",
        ] {
            assert!(!valid(s), "{s}");
        }
    }
}

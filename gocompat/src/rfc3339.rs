//! Go's `time.Parse(time.RFC3339Nano, s)`, as far as acceptance and the instant go.
//!
//! Why not a strict RFC 3339 parser: Go's `Parse` first tries a strict fast path and, when
//! that fails, falls back to its general layout parser, which is more lenient. What Go
//! accepts is therefore the general parser's language for the layout
//! `2006-01-02T15:04:05.999999999Z07:00`:
//!
//! - year: exactly 4 digits; month and day: exactly 2 digits, in range for the month;
//! - hour: **1 or 2 digits** (`15` is a non-padded hour in Go layouts), below 24;
//!   minute and second: exactly 2 digits, below 60;
//! - fraction: optional; `.` **or `,`** followed by **any number** of digits (at least
//!   one); only the first 9 count (truncated, never rounded);
//! - zone: `Z`, or `+hh:mm` / `-hh:mm` with 2-digit fields, hours up to **24** and minutes
//!   up to **60** (Go's range check is `>`, not `>=`);
//! - nothing after the zone.

/// A parsed instant: seconds since the Unix epoch and the nanoseconds within that second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before).
    pub unix_secs: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nanos: u32,
}

impl Instant {
    /// Milliseconds since the epoch, floored (as Go's `UnixMilli`).
    pub fn unix_millis(self) -> i64 {
        self.unix_secs * 1000 + i64::from(self.nanos / 1_000_000)
    }
}

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn lit(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    /// Exactly `n` ASCII digits.
    fn fixed(&mut self, n: usize) -> Option<i64> {
        let d = self.b.get(self.i..self.i + n)?;
        let v = d.iter().try_fold(0i64, |a, &c| {
            c.is_ascii_digit().then(|| a * 10 + i64::from(c - b'0'))
        })?;
        self.i += n;
        Some(v)
    }

    /// One or two ASCII digits (Go's `getnum(s, false)`).
    fn one_or_two(&mut self) -> Option<i64> {
        let first = *self.b.get(self.i).filter(|c| c.is_ascii_digit())?;
        self.i += 1;
        match self.b.get(self.i).filter(|c| c.is_ascii_digit()) {
            Some(&second) => {
                self.i += 1;
                Some(i64::from(first - b'0') * 10 + i64::from(second - b'0'))
            }
            None => Some(i64::from(first - b'0')),
        }
    }
}

fn days_in(month: i64, year: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    Some(match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
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

/// The instant `s` denotes, or `None` where Go's `time.Parse(time.RFC3339Nano, s)`
/// returns an error.
pub fn parse(s: &str) -> Option<Instant> {
    let mut c = Cur {
        b: s.as_bytes(),
        i: 0,
    };
    let year = c.fixed(4)?;
    c.lit(b'-')?;
    let month = c.fixed(2)?;
    c.lit(b'-')?;
    let day = c.fixed(2)?;
    c.lit(b'T')?;
    let hour = c.one_or_two()?;
    c.lit(b':')?;
    let min = c.fixed(2)?;
    c.lit(b':')?;
    let sec = c.fixed(2)?;
    if hour >= 24 || min >= 60 || sec >= 60 || day < 1 || day > days_in(month, year)? {
        return None;
    }
    let mut nanos = 0u32;
    let sep = c.b.get(c.i).copied();
    let digit_follows = c.b.get(c.i + 1).is_some_and(u8::is_ascii_digit);
    if matches!(sep, Some(b'.' | b',')) && digit_follows {
        c.i += 1;
        let mut n = 0;
        while c.b.get(c.i).is_some_and(u8::is_ascii_digit) {
            if n < 9 {
                nanos = nanos * 10 + u32::from(c.b[c.i] - b'0');
                n += 1;
            }
            c.i += 1;
        }
        nanos *= 10u32.pow(9 - n);
    }
    let offset = match c.b.get(c.i) {
        Some(b'Z') => {
            c.i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.fixed(2)?;
            c.lit(b':')?;
            let om = c.fixed(2)?;
            if oh > 24 || om > 60 {
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
    if c.i != c.b.len() {
        return None;
    }
    let unix_secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some(Instant { unix_secs, nanos })
}

/// Whether Go's `time.Parse(time.RFC3339Nano, s)` accepts `s`.
pub fn valid(s: &str) -> bool {
    parse(s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Option<i64> {
        parse(s).map(Instant::unix_millis)
    }

    #[test]
    fn accepts_what_go_accepts() {
        for s in [
            "2026-04-29T15:42:11.094Z",
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.123456789Z",
            "2024-02-29T00:00:00+09:00",
            "2026-01-02T03:04:05.5-07:30",
            // Go's leniencies (general-parser fallback):
            "2026-01-02T03:04:05,5Z",          // comma separator
            "2026-01-02T03:04:05.1234567890Z", // more than 9 digits
            "2026-01-02T3:04:05Z",             // one-digit hour
            "2026-01-02T03:04:05+24:00",       // offset hour 24
            "2026-01-02T03:04:05-23:60",       // offset minute 60
        ] {
            assert!(valid(s), "{s}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        for s in [
            "",
            "2026-04-29",
            "2026-04-29 15:42:11Z",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-02T24:00:00Z",
            "2026-01-02T03:04:60Z",
            "2026-01-02T03:4:05Z",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05,Z",
            "2026-01-02T03:04:05",
            "2026-01-02T03:04:05+0900",
            "2026-01-02T03:04:05+25:00",
            "2026-01-02T03:04:05+09:61",
            "2026-01-02T03:04:05Zjunk",
            "2026-01-02T03:04:05z",
            "10000-01-01T00:00:00Z",
            "2026-1-02T03:04:05Z",
        ] {
            assert!(!valid(s), "{s}");
        }
    }

    #[test]
    fn instants() {
        assert_eq!(ms("2024-01-26T03:06:56.937Z"), Some(1_706_238_416_937));
        assert_eq!(ms("2024-01-26T03:06:56,937Z"), Some(1_706_238_416_937));
        assert_eq!(ms("2024-01-26T3:06:56.9Z"), Some(1_706_238_416_900));
        assert_eq!(ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(ms("1970-01-01T00:00:00.0019999999999Z"), Some(1));
        assert_eq!(ms("1969-12-31T23:59:59.9995Z"), Some(-1));
        assert_eq!(
            parse("2026-01-02T03:04:05.1234567891Z").map(|i| i.nanos),
            Some(123_456_789)
        );
        assert_eq!(
            parse("2026-01-02T03:04:05.5Z").map(|i| i.nanos),
            Some(500_000_000)
        );
        // 00:00 at +24:00 is the previous day's midnight.
        assert_eq!(ms("1970-01-02T00:00:00+24:00"), Some(0));
    }
}

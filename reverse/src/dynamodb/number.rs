//! The order-preserving byte encoding of a DynamoDB number used in ordered item and GSI
//! keys (docs/format/10-dynamodb.md §3): numerically equal literals (`1.5`, `1.50`, `15e-1`) get the same
//! bytes, and bytewise order is numeric order, so a range query over keys is a range of
//! the store. The decoder never needs it (it does not parse key payloads); the encoder
//! must rebuild exactly the keys the live adapter writes.

/// The raw key bytes of the number literal `v`, or why it is not a number.
pub fn ordered_number(v: &str) -> Result<Vec<u8>, String> {
    let t = v.trim();
    if t.is_empty() {
        return Err("empty number".into());
    }
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if rest.is_empty() {
        return Err(format!("number {v:?} has no digits"));
    }
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => {
            let x = rest[i + 1..]
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("number {v:?} has an invalid exponent"))?;
            (&rest[..i], x)
        }
        None => (rest, 0),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(format!("number {v:?} is not a decimal literal"));
    }
    let c = format!("{int}{frac}");
    let lead = c.bytes().take_while(|&b| b == b'0').count();
    let digits = c[lead..].trim_end_matches('0');
    if digits.is_empty() {
        return Ok(vec![0x01]); // zero, whatever its sign
    }
    let e = i64::try_from(int.len())
        .ok()
        .and_then(|n| n.checked_add(exp))
        .and_then(|n| n.checked_sub(i64::try_from(lead).ok()?))
        .ok_or_else(|| format!("number {v:?}: exponent out of range"))?;
    let mut body = ord_signed(e);
    body.push(0x00);
    body.extend_from_slice(digits.as_bytes());
    if negative {
        let mut out = Vec::with_capacity(body.len() + 1);
        out.push(0x00);
        out.extend(body.iter().map(|b| !b));
        Ok(out)
    } else {
        let mut out = Vec::with_capacity(body.len() + 1);
        out.push(0x02);
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// `ordSigned(e)`: `01` for 0, `02 ‖ ordU(e)` above, `00 ‖ !ordU(|e|)` below.
fn ord_signed(e: i64) -> Vec<u8> {
    match e.cmp(&0) {
        std::cmp::Ordering::Equal => vec![0x01],
        std::cmp::Ordering::Greater => {
            let mut v = vec![0x02];
            v.extend(ord_unsigned(e.unsigned_abs()));
            v
        }
        std::cmp::Ordering::Less => {
            let mut v = vec![0x00];
            v.extend(ord_unsigned(e.unsigned_abs()).iter().map(|b| !b));
            v
        }
    }
}

/// `ordU(m)`: the big-endian bytes of `m` without leading zero bytes (at least one),
/// preceded by their count.
fn ord_unsigned(m: u64) -> Vec<u8> {
    let be = m.to_be_bytes();
    let skip = be.iter().take_while(|&&b| b == 0).count().min(7);
    let mut v = vec![(8 - skip) as u8];
    v.extend_from_slice(&be[skip..]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_format::keys::seg;

    #[test]
    fn spec_reference_values() {
        // Spec 10 §3.3 table: literal → raw bytes → seg bytes.
        for (lit, raw, segged) in [
            ("0", "01", "010001"),
            ("1", "020201010031", "0202010100ff310001"),
            ("-1", "00fdfefeffce", "00fffdfefeffce0001"),
            ("1.5", "02020101003135", "0202010100ff31350001"),
            ("1.50", "02020101003135", "0202010100ff31350001"),
            ("10", "020201020031", "0202010200ff310001"),
            ("100", "020201030031", "0202010300ff310001"),
            ("0.001", "0200fefd0031", "0200fffefd00ff310001"),
            ("-0.25", "00feffcdca", "00fffeffcdca0001"),
            (
                "12345678901234567890",
                "020201140031323334353637383930313233343536373839",
                "0202011400ff313233343536373839303132333435363738390001",
            ),
            ("1e-130", "0200fe7e0031", "0200fffe7e00ff310001"),
            ("9.99e125", "0202017e00393939", "0202017e00ff3939390001"),
        ] {
            let r = ordered_number(lit).unwrap();
            assert_eq!(hex::encode(&r), raw, "{lit}");
            assert_eq!(hex::encode(seg(&r)), segged, "{lit}");
        }
    }

    #[test]
    fn equal_numbers_equal_bytes_and_order_is_numeric() {
        assert_eq!(ordered_number("15e-1"), ordered_number(" +1.5 "));
        assert_eq!(ordered_number("-0").unwrap(), vec![1]);
        assert_eq!(ordered_number("0.000").unwrap(), vec![1]);
        assert_eq!(ordered_number("1e3"), ordered_number("1000"));
        let lits = [
            "-1e10", "-100", "-10", "-5", "-0.5", "-0.001", "0", "0.001", "0.5", "3", "10", "100",
            "1e3", "1e10",
        ];
        let enc: Vec<Vec<u8>> = lits.iter().map(|l| ordered_number(l).unwrap()).collect();
        for w in enc.windows(2) {
            assert!(w[0] < w[1], "{w:?}");
        }
    }

    #[test]
    fn malformed_literals() {
        for bad in [
            "", " ", "-", "+", ".", "1.2.3", "1e", "1ex", "abc", "1_0", "0x10", "e5",
        ] {
            assert!(ordered_number(bad).is_err(), "{bad:?}");
        }
        assert!(ordered_number(&format!("1e{}", i64::MAX)).is_err());
        assert!(ordered_number(".5").is_ok());
        assert!(ordered_number("5.").is_ok());
        assert!(ordered_number("1E+2").is_ok());
    }
}

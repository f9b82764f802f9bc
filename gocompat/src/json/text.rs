//! JSON text helpers that need Go's scanner but no decoding into fields: UTF-8 sequence
//! length, `json.Compact`, finding the next value of a stream, unquoting one literal.

use super::doc::Doc;
use super::error::JsonError;

/// Length of the valid UTF-8 sequence at the start of `s`, or 0 if the first byte does
/// not start one (Go then substitutes U+FFFD for that single byte).
pub fn utf8_len(s: &[u8]) -> usize {
    let n = match s.first() {
        Some(0x00..=0x7f) => return 1,
        Some(0xc2..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf4) => 4,
        _ => return 0,
    };
    match s.get(..n) {
        Some(seq) if std::str::from_utf8(seq).is_ok() => n,
        _ => 0,
    }
}

/// Length of the leading run of `s` that a JSON string literal carries as it is, read or
/// written: printable ASCII other than `"` and `\`. Go's reader copies such a run without
/// decoding it and its writer without escaping it, so both sides here skip it eight bytes
/// at a time. Ends at the first control byte, `"`, `\` or byte ≥ 0x80.
pub fn plain_run(s: &[u8]) -> usize {
    run::<false>(s)
}

/// [`plain_run`] for Go's default (`json.Marshal`) writer, which also escapes `<`, `>` and
/// `&`: the run ends at those three as well. One scan then finds every byte the HTML
/// dialect treats specially, instead of a search for the three followed by [`plain_run`].
pub fn plain_run_html(s: &[u8]) -> usize {
    run::<true>(s)
}

fn run<const HTML: bool>(s: &[u8]) -> usize {
    let mut i = 0;
    while let Some(word) = s.get(i..i + 8) {
        let mask = attention::<HTML>(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])));
        if mask != 0 {
            // The lowest marked byte is exact: no borrow reaches it from the clean bytes
            // below it (little-endian: lower bytes come first).
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = s.get(i) {
        if !(0x20..0x80).contains(&b)
            || b == b'"'
            || b == b'\\'
            || (HTML && matches!(b, b'<' | b'>' | b'&'))
        {
            break;
        }
        i += 1;
    }
    i
}

/// The high bit of each byte of `w` that is not plain string text (see [`plain_run`], and
/// [`plain_run_html`] with `HTML`), plus possibly bytes above the first such byte (a borrow
/// runs upwards).
fn attention<const HTML: bool>(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte equal to `c` becomes 0 when XORed with it and wraps when 1 is subtracted; with
    // no wrap below it, any other byte below 0x80 keeps its high bit clear.
    let is = |c: u8| (w ^ (ONES * u64::from(c))).wrapping_sub(ONES);
    // A byte below 0x20 wraps when 0x20 is subtracted.
    let control = w.wrapping_sub(ONES * 0x20);
    let mut marks = control | is(b'"') | is(b'\\') | w;
    if HTML {
        marks |= is(b'<') | is(b'>') | is(b'&');
    }
    marks & HIGH
}

/// Go's `json.Compact` without HTML escaping: removes insignificant white space from a
/// valid JSON text and keeps every other byte (string contents verbatim).
pub fn compact_into(out: &mut Vec<u8>, raw: &[u8]) {
    let mut in_str = false;
    let mut escaped = false;
    for &c in raw {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'"' => {
                in_str = true;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
}

/// Finds the JSON value that starts at or after `from` in `s` (white space skipped) and
/// validates it as Go's scanner does: `Ok(Some((start, end)))`, or `Ok(None)` when only
/// white space remains. Lets the reverse encoder read whole documents and value streams
/// (`messages.jsonl`) with the same acceptance rules as the decoder.
pub fn next_value(s: &[u8], from: usize) -> Result<Option<(usize, usize)>, JsonError> {
    let mut d = Doc {
        s,
        pos: from,
        type_err: None,
    };
    d.ws();
    if d.pos >= s.len() {
        return Ok(None);
    }
    let start = d.pos;
    d.skip()?;
    Ok(Some((start, d.pos)))
}

/// Go's unquoting of the string literal at the start of `lit` (which must begin with `"`):
/// the decoded bytes (invalid UTF-8 and lone surrogates → U+FFFD) and the literal's
/// length in bytes.
pub fn unquote(lit: &[u8]) -> Result<(Vec<u8>, usize), JsonError> {
    let mut d = Doc::new(lit);
    if lit.first() != Some(&b'"') {
        return d.syntax("looking for beginning of string");
    }
    let v = d.string()?;
    Ok((v, d.pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `plain_run` and `plain_run_html` against their byte-by-byte definitions, on strings that mix plain text with
    /// every kind of byte that ends a run, at every offset within a word.
    #[test]
    fn plain_run_stops_at_the_first_special_byte() {
        let plain = |b: u8| (0x20..0x80).contains(&b) && b != b'"' && b != b'\\';
        let specials = [
            0u8, 0x1f, b'"', b'\\', 0x80, 0xe2, 0xff, b'\n', b'<', b'>', b'&',
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..4000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let mut v: Vec<u8> = (0..len)
                .map(|k| b' ' + ((seed >> (k % 50)) as u8 % 90))
                .collect();
            if len > 0 && !seed.is_multiple_of(3) {
                let at = (seed >> 20) as usize % len;
                v[at] = specials[(seed >> 40) as usize % specials.len()];
            }
            let want = v.iter().position(|&b| !plain(b)).unwrap_or(v.len());
            assert_eq!(plain_run(&v), want, "{v:?}");
            let html = |b: u8| plain(b) && !matches!(b, b'<' | b'>' | b'&');
            let want = v.iter().position(|&b| !html(b)).unwrap_or(v.len());
            assert_eq!(plain_run_html(&v), want, "{v:?}");
        }
    }

    #[test]
    fn compaction_keeps_strings() {
        let mut o = Vec::new();
        compact_into(&mut o, b"{ \"a b\" : [ 1 , \"x\\\" y\" ] }");
        assert_eq!(o, b"{\"a b\":[1,\"x\\\" y\"]}");
    }
}

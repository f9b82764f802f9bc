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

    #[test]
    fn compaction_keeps_strings() {
        let mut o = Vec::new();
        compact_into(&mut o, b"{ \"a b\" : [ 1 , \"x\\\" y\" ] }");
        assert_eq!(o, b"{\"a b\":[1,\"x\\\" y\"]}");
    }
}

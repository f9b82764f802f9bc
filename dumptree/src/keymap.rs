//! `KEYMAP.jsonl` records (docs/format/00-container.md §5): the one reader of the file
//! for every caller — the S3 rename log check, and the Redis name join
//! ([`super::redis::names`]) that `encode` and `restore redis` share.
//!
//! Records are read with upstream's rules (Go's line scanner, then `encoding/json` into
//! a struct): a line at a time, so a KEYMAP of millions of renames costs one line of
//! memory when streamed with [`each_line`].

use crate::error::TreeError;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use elastickv_backup_gocompat::json::{self as gojson, set_str, JVal};
use std::io::{BufRead, Read};

/// Go's `base64.RawURLEncoding` on decode: no padding, non-zero trailing bits accepted.
pub const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Longest line Go's scanner accepts in a KEYMAP file.
const MAX_LINE: usize = 4 << 20;

/// One KEYMAP record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The name on disk (a segment, or an S3 bucket-relative path).
    pub encoded: String,
    /// The original key bytes.
    pub original: Vec<u8>,
    /// Why the record exists.
    pub kind: String,
}

/// The lines of a JSONL file as Go's line scanner yields them: split at `\n`, one
/// trailing `\r` dropped, no empty token after a final newline. Numbered from 1.
pub fn lines(data: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut it = (!data.is_empty()).then(|| body.split(|&b| b == b'\n'));
    std::iter::from_fn(move || it.as_mut()?.next())
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

/// Parses one record line with upstream's rules: `encoded`, `original` and `kind` present
/// and not null, `encoded` and `kind` non-empty, `original` unpadded base64url.
pub fn parse_line(line: &[u8]) -> Result<Record, String> {
    if line.len() > MAX_LINE {
        return Err(format!("line longer than {MAX_LINE} bytes"));
    }
    let v = gojson::parse(line).map_err(|e| e.to_string())?;
    let JVal::Obj(members) = &v else {
        return Err("a record must be a JSON object".into());
    };
    for name in ["encoded", "original", "kind"] {
        match members.iter().rev().find(|(k, _)| k == name) {
            None => return Err(format!("missing field {name:?}")),
            Some((_, JVal::Null)) => return Err(format!("field {name:?} is null")),
            Some(_) => {}
        }
    }
    let (mut encoded, mut b64, mut kind) = (String::new(), String::new(), String::new());
    gojson::for_fields(
        &v,
        "KeymapRecord",
        &["encoded", "original", "kind"],
        |i, x| match i {
            0 => set_str(&mut encoded, x, "encoded"),
            1 => set_str(&mut b64, x, "original"),
            _ => set_str(&mut kind, x, "kind"),
        },
    )
    .map_err(|e| e.to_string())?;
    if encoded.is_empty() || kind.is_empty() {
        return Err("missing encoded or kind".into());
    }
    let original = RAW_URL
        .decode(b64.as_bytes())
        .map_err(|e| format!("original is not unpadded base64url: {e}"))?;
    Ok(Record {
        encoded,
        original,
        kind,
    })
}

/// Streams the lines of a JSONL file as [`lines`] splits them (one trailing `\r` dropped,
/// no empty token after a final newline), numbered from 1, reading at most one line past
/// `MAX_LINE` into memory (such a line is handed over whole enough for [`parse_line`]
/// to refuse it). `shown` names the file in I/O errors.
pub fn each_line<R: BufRead>(
    mut r: R,
    shown: &str,
    mut each: impl FnMut(usize, &[u8]) -> Result<(), TreeError>,
) -> Result<(), TreeError> {
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        let got = (&mut r)
            .take(MAX_LINE as u64 + 2)
            .read_until(b'\n', &mut buf)
            .map_err(|e| TreeError::io(shown, e))?;
        if got == 0 {
            return Ok(());
        }
        n += 1;
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        each(n, line.strip_suffix(b"\r").unwrap_or(line))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(encoded: &str, original: &[u8], kind: &str) -> Record {
        Record {
            encoded: encoded.into(),
            original: original.to_vec(),
            kind: kind.into(),
        }
    }

    #[test]
    fn line_parsing_tv14() {
        let r = parse_line(
            br#"{"encoded":"a/b.elastickv-leaf-data","original":"YS9i","kind":"s3-leaf-data"}"#,
        )
        .unwrap();
        assert_eq!(r, rec("a/b.elastickv-leaf-data", b"a/b", "s3-leaf-data"));
        assert_eq!(
            parse_line(br#"{"encoded":"x","original":"-_8A","kind":"sha-fallback"}"#)
                .unwrap()
                .original,
            [0xfb, 0xff, 0x00]
        );
        for bad in [
            &br#"{"encoded":"x","original":"YQ","kind":null}"#[..],
            br#"{"encoded":"x","kind":"k"}"#,
            br#"{"encoded":"","original":"YQ","kind":"k"}"#,
            br#"{"encoded":"x","original":"YQ==","kind":"k"}"#,
            br#"{"encoded":"x","original":"Y+","kind":"k"}"#,
            br#"{"encoded":1,"original":"YQ","kind":"k"}"#,
            b"[]",
            b"",
        ] {
            assert!(parse_line(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let got: Vec<_> = lines(b"a\r\nb\n\nc").collect();
        assert_eq!(got, [(1, &b"a"[..]), (2, b"b"), (3, b""), (4, b"c")]);
        assert_eq!(lines(b"a\n").count(), 1);
        assert_eq!(lines(b"").count(), 0);
    }

    #[test]
    fn streamed_lines_match_split_lines() {
        for text in [&b"a\r\nb\n\nc"[..], b"a\n", b"", b"\n\n", b"x\r"] {
            let mut got = Vec::new();
            each_line(text, "k", |n, l| {
                got.push((n, l.to_vec()));
                Ok(())
            })
            .unwrap();
            let want: Vec<_> = lines(text).map(|(n, l)| (n, l.to_vec())).collect();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(text));
        }
        let long = vec![b'a'; MAX_LINE + 10];
        let mut seen = 0;
        let r = each_line(&long[..], "k", |_, l| {
            seen += 1;
            parse_line(l)
                .map(|_| ())
                .map_err(|why| TreeError::invalid("k", why))
        });
        assert!(r.unwrap_err().to_string().contains("line longer than"));
        assert_eq!(seen, 1);
    }
}

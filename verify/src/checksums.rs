//! Reading `CHECKSUMS` (docs/format/00-container.md §7, verification side): `<64 lowercase hex>  <path>` or
//! `<hex> *<path>`; a line starting with `\` has its path unescaped (`\\`, `\n`, `\r`);
//! lines of at most 8 KiB; at least one row; paths must stay inside the dump (no absolute
//! path, no `..`, `.` or empty segment). Every bad line is reported; good lines are kept.

use super::report::Report;
use std::collections::HashMap;

#[cfg(test)]
const PATH: &[u8] = b"CHECKSUMS";

/// Longest accepted line (as upstream's verifier).
const MAX_LINE: usize = 8 << 10;

/// Listed files: path bytes → expected SHA-256.
pub type Listing = HashMap<Vec<u8>, [u8; 32]>;

/// Why a listed path is not acceptable, if it is not.
pub fn unsafe_path(p: &[u8]) -> Option<&'static str> {
    if p.is_empty() {
        return Some("empty path");
    }
    if p.first() == Some(&b'/') {
        return Some("absolute path");
    }
    if p.contains(&0) {
        return Some("NUL byte in path");
    }
    for seg in p.split(|&b| b == b'/') {
        match seg {
            b"" => return Some("empty path segment"),
            b"." => return Some("'.' path segment"),
            b".." => return Some("'..' path segment escapes the dump"),
            _ => {}
        }
    }
    None
}

fn unescape(p: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(p.len());
    let mut it = p.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' {
            match it.next() {
                Some(b'\\') => out.push(b'\\'),
                Some(b'n') => out.push(b'\n'),
                Some(b'r') => out.push(b'\r'),
                _ => return None,
            }
        } else {
            out.push(b);
        }
    }
    Some(out)
}

fn parse_line(line: &[u8]) -> Result<(Vec<u8>, [u8; 32]), String> {
    if line.len() > MAX_LINE {
        return Err(format!("line longer than {MAX_LINE} bytes"));
    }
    let (escaped, rest) = match line.strip_prefix(b"\\") {
        Some(r) => (true, r),
        None => (false, line),
    };
    if rest.len() < 66 {
        return Err("not `<sha256>  <path>`".into());
    }
    let (hex_part, tail) = rest.split_at(64);
    if !hex_part
        .iter()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err("digest is not 64 lowercase hex digits".into());
    }
    let path = match tail {
        [b' ', b' ' | b'*', p @ ..] => p,
        _ => return Err("digest not followed by two spaces (or ' *')".into()),
    };
    let path = if escaped {
        unescape(path).ok_or("bad escape in path")?
    } else {
        path.to_vec()
    };
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut digest).map_err(|e| e.to_string())?;
    Ok((path, digest))
}

/// Parses CHECKSUMS, reporting bad lines, unsafe and duplicate paths; `None` if missing.
#[cfg(test)]
pub fn parse(bytes: Option<&[u8]>, r: &mut Report) -> Option<Listing> {
    parse_named(PATH, bytes, r)
}

/// [`parse`] for the checksum file `name` (`CHECKSUMS` or a BLAKE3 dump's `CHECKSUMS.b3`:
/// the same line format), which problems are reported under.
pub fn parse_named(name: &[u8], bytes: Option<&[u8]>, r: &mut Report) -> Option<Listing> {
    let shown = String::from_utf8_lossy(name).into_owned();
    let Some(bytes) = bytes else {
        r.error(
            name,
            format!(
                "missing: the dump is incomplete ({shown} is written last, after MANIFEST.json)"
            ),
        );
        return None;
    };
    let mut out = Listing::new();
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        r.error(name, "empty: a dump lists at least MANIFEST.json");
        return Some(out);
    }
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        match parse_line(line) {
            Err(why) => r.error(name, format!("line {n}: malformed ({why})")),
            Ok((path, digest)) => {
                if let Some(why) = unsafe_path(&path) {
                    r.error(
                        &path,
                        format!("unsafe path listed in {shown} line {n}: {why}"),
                    );
                } else if super::digest::is_checksums(&path) {
                    r.error(name, format!("line {n}: {shown} lists a checksum file"));
                } else if out.insert(path.clone(), digest).is_some() {
                    r.error(
                        &path,
                        format!("listed twice in {shown} (again on line {n})"),
                    );
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TV-18's CHECKSUMS, including the escaped line.
    const TV18: &str =
        "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356  MANIFEST.json\n\
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a-c\n\
5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a/b\n\
\\2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  we\\\\ird\\nname\n";

    #[test]
    fn reads_tv18() {
        let mut r = Report::default();
        let l = parse(Some(TV18.as_bytes()), &mut r).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(l.len(), 4);
        assert_eq!(
            hex::encode(l[&b"we\\ird\nname".to_vec()]),
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
        assert!(l.contains_key(b"a/b".as_slice()));
    }

    #[test]
    fn reports_each_bad_line() {
        let h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let text = format!(
            "{h}  ok\n{}  upper\n{h} one-space\n{h}  ../escape\n{h}  /abs\n{h}  ok\n{h} *star\n\n{h}  CHECKSUMS\n",
            h.to_uppercase()
        );
        let mut r = Report::default();
        let l = parse(Some(text.as_bytes()), &mut r).unwrap();
        let all: Vec<String> = r
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        let all = all.join("\n");
        for want in [
            "line 2: malformed (digest is not 64 lowercase hex digits)",
            "line 3: malformed",
            "../escape: unsafe path",
            "/abs: unsafe path",
            "ok: listed twice",
            "line 8: malformed",
            "line 9: CHECKSUMS lists a checksum file",
        ] {
            assert!(all.contains(want), "{want} not in\n{all}");
        }
        assert_eq!(r.errors(), 7, "{all}");
        assert!(l.contains_key(b"star".as_slice()));
    }

    #[test]
    fn empty_and_missing() {
        let mut r = Report::default();
        assert!(parse(None, &mut r).is_none());
        assert!(parse(Some(b""), &mut r).unwrap().is_empty());
        assert_eq!(r.errors(), 2);
    }
}

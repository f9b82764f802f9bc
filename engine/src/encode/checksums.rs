//! `CHECKSUMS` (spec 00 §7): `sha256sum` format, sorted by path bytes, GNU escaping for
//! paths containing `\n`, `\r` or `\`. Built from the digests the sinks recorded while
//! writing — the tree is never read back.

use crate::sinks::FileDigest;

/// Renders the CHECKSUMS file for `digests` (any order; `CHECKSUMS` itself excluded).
pub fn render(digests: &[FileDigest]) -> Vec<u8> {
    let mut v: Vec<&FileDigest> = digests
        .iter()
        .filter(|d| d.path.as_str() != "CHECKSUMS")
        .collect();
    v.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    let mut out = Vec::with_capacity(v.len() * 100);
    for d in v {
        line(&mut out, &d.sha256, d.path.as_str());
    }
    out
}

/// One line: `[\]<hex>  <path>\n`.
pub fn line(out: &mut Vec<u8>, sha: &[u8; 32], path: &str) {
    let needs = path.bytes().any(|b| b == b'\n' || b == b'\r' || b == b'\\');
    if needs {
        out.push(b'\\');
    }
    out.extend_from_slice(hex::encode(sha).as_bytes());
    out.extend_from_slice(b"  ");
    if needs {
        for c in path.chars() {
            match c {
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\\' => out.extend_from_slice(b"\\\\"),
                c => {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
    } else {
        out.extend_from_slice(path.as_bytes());
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::RelPath;
    use sha2::{Digest, Sha256};

    fn d(path: &str, content: &[u8]) -> FileDigest {
        FileDigest {
            path: RelPath::parse(path).unwrap(),
            sha256: Sha256::digest(content).into(),
        }
    }

    #[test]
    fn tv18_order_and_escaping() {
        let got = render(&[
            d("we\\ird\nname", b"x"),
            d("a/b", b"hello\n"),
            d("MANIFEST.json", b"{}\n"),
            d("a-c", b""),
            d("CHECKSUMS", b"stale"),
        ]);
        let want =
            "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356  MANIFEST.json\n\
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a-c\n\
5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a/b\n\
\\2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  we\\\\ird\\nname\n";
        assert_eq!(String::from_utf8(got).unwrap(), want);
    }
}

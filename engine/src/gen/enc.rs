//! Encoding helpers shared by the generators: base64url segments, escaped segments, big-endian
//! integers, and a minimal protobuf writer (fields in ascending order, defaults omitted,
//! map entries sorted and fully written — Go's deterministic marshalling).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// Unpadded base64url (table, queue and message-id segments).
pub fn b64url(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// Padded standard base64 (JSON byte fields).
pub fn b64std(raw: &[u8]) -> String {
    STANDARD.encode(raw)
}

/// `00` → `00 FF`, then the `00 01` terminator (S3 segments, DynamoDB ordered key segments):
/// format's segment encoder.
pub use elastickv_backup_format::keys::seg;

/// `BE32(len) ‖ key` (Redis wide-column keys).
pub fn len_prefixed(key: &[u8]) -> Vec<u8> {
    let mut out = (key.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(key);
    out
}

/// Concatenation.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Lower-case hex MD5 (ETags, SQS body digests).
pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}

/// A protobuf message being written.
#[derive(Default)]
pub struct Pb(pub Vec<u8>);

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Pb {
    /// A varint field (written even when 0: callers skip defaults themselves).
    pub fn uint(mut self, field: u32, v: u64) -> Self {
        varint(&mut self.0, u64::from(field) << 3);
        varint(&mut self.0, v);
        self
    }

    /// A length-delimited field.
    pub fn bytes(mut self, field: u32, v: &[u8]) -> Self {
        varint(&mut self.0, (u64::from(field) << 3) | 2);
        varint(&mut self.0, v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }

    /// A map entry `{1: key, 2: value}` (both always written).
    pub fn entry(self, field: u32, key: &str, value: &[u8]) -> Self {
        let e = Pb::default().bytes(1, key.as_bytes()).bytes(2, value);
        self.bytes(field, &e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        assert_eq!(seg(b"u1"), b"u1\x00\x01".to_vec());
        assert_eq!(seg(b"\x00\xff\x10"), b"\x00\xff\xff\x10\x00\x01".to_vec());
        assert_eq!(b64url(b"users"), "dXNlcnM");
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(Pb::default().uint(5, 300).0, vec![0x28, 0xac, 0x02]);
    }
}

//! Encoding helpers shared by the generators: base64url segments, escaped segments, big-endian
//! integers (protobuf values are written with format's `values`).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        assert_eq!(seg(b"u1"), b"u1\x00\x01".to_vec());
        assert_eq!(seg(b"\x00\xff\x10"), b"\x00\xff\xff\x10\x00\x01".to_vec());
        assert_eq!(b64url(b"users"), "dXNlcnM");
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    }
}

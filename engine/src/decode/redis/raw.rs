//! The compact scratch encoding of collection elements. Elements are written to scratch
//! as they stream past (in key order, already in output order) and rendered to JSON only
//! when the collection's file is written, on a worker thread for small files.
//!
//! Layout per element: hash `bytes(name) bytes(value)`; list/set `bytes(item)`; zset
//! `bytes(member) u64(score bits)`; stream `u64(ms) u64(seq) varint(n) n×bytes(field)`,
//! where `bytes` is a LEB128 length and the bytes, and `u64` is 8 little-endian bytes.

use super::error::RedisError;

/// Appends a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-prefixed byte string.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends a fixed 8-byte little-endian integer.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Reads back what the `put_*` functions wrote. Scratch data is ours, but a short or
/// corrupt read (disk trouble) is an error, never a panic.
pub struct Reader<'a> {
    b: &'a [u8],
}

fn corrupt() -> RedisError {
    RedisError::Internal("scratch element data is truncated or corrupt".into())
}

impl<'a> Reader<'a> {
    /// A reader over `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b }
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.b.len()
    }

    /// A LEB128 varint.
    pub fn varint(&mut self) -> Result<u64, RedisError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&c, rest) = self.b.split_first().ok_or_else(corrupt)?;
            self.b = rest;
            v |= u64::from(c & 0x7f) << shift;
            if c & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt())
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], RedisError> {
        let n = usize::try_from(self.varint()?).map_err(|_| corrupt())?;
        if self.b.len() < n {
            return Err(corrupt());
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    /// A fixed 8-byte little-endian integer.
    pub fn u64(&mut self) -> Result<u64, RedisError> {
        let head: [u8; 8] = self
            .b
            .get(..8)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(corrupt)?;
        self.b = &self.b[8..];
        Ok(u64::from_le_bytes(head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = Vec::new();
        put_bytes(&mut b, b"");
        put_bytes(&mut b, &[7u8; 300]);
        put_u64(&mut b, u64::MAX);
        put_varint(&mut b, u64::MAX);
        let mut r = Reader::new(&b);
        assert_eq!(r.bytes().unwrap(), b"");
        assert_eq!(r.bytes().unwrap(), &[7u8; 300][..]);
        assert_eq!(r.u64().unwrap(), u64::MAX);
        assert_eq!(r.varint().unwrap(), u64::MAX);
        assert!(r.is_empty());
        assert!(r.bytes().is_err());
        assert!(Reader::new(&[5, 1]).bytes().is_err());
        assert!(Reader::new(&[1, 2]).u64().is_err());
    }
}

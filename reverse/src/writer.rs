//! Frames staged records as a bare snapshot payload (docs/format/00-container.md §1, §2–2.2).
//!
//! Every record gets the same commit timestamp — the dump's `last_commit_ts` — so the
//! restored store's clock ceiling is at or above every restored row: key
//! `user_key ‖ BE64(!ts)`, value `00 ‖ LE64(0) ‖ body` (no tombstone, no MVCC expiry).
//! The payload is [`MAGIC`] ‖ LE64(last_commit_ts) followed by the records in
//! ascending encoded-key order, which is the order the live store writes and the one
//! upstream's encoder produces, so equal trees give byte-identical files.
//!
//! Records are staged through an external sorter: memory stays within its budget
//! whatever the dump size, sorted runs spill to the system temp dir (never next to the
//! output), and two records with the same key are refused while merging.

use super::{ReverseError, Stage};
use elastickv_backup_engine::decode::dynamodb::error::go_quote;
use elastickv_backup_engine::decode::sqs::ExternalSorter;
use sha2::{Digest, Sha256};
use std::io::Write;

use elastickv_backup_format::container::{MAX_KEY_LEN, MAX_VALUE_LEN, PAYLOAD_MAGIC as MAGIC};

/// Longest encoded key the snapshot reader accepts: the writer refuses what the reader
/// would (one definition, in the format crate).
pub const MAX_KEY_BYTES: usize = MAX_KEY_LEN as usize;
/// Longest encoded value the snapshot reader accepts (see [`MAX_KEY_BYTES`]).
pub const MAX_VALUE_BYTES: usize = MAX_VALUE_LEN as usize;
/// Bytes of the MVCC value header (flags + LE64 expiry).
const VALUE_HEADER: usize = 9;

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteStats {
    /// Records written.
    pub entries: u64,
    /// Payload bytes written.
    pub bytes: u64,
    /// SHA-256 of the payload.
    pub sha256: [u8; 32],
}

/// Collects records and writes them as one sorted payload.
pub struct FsmWriter {
    last_commit_ts: u64,
    suffix: [u8; 8],
    sorter: ExternalSorter,
}

fn shown_key(user_key: &[u8]) -> String {
    let cut = &user_key[..user_key.len().min(200)];
    let mut s = go_quote(cut);
    if cut.len() < user_key.len() {
        s.push('…');
    }
    s
}

impl FsmWriter {
    /// A writer stamping every record with `last_commit_ts`, keeping about `budget` bytes
    /// of records in memory before spilling sorted runs to disk.
    pub fn new(last_commit_ts: u64, budget: usize) -> Self {
        FsmWriter {
            last_commit_ts,
            suffix: (!last_commit_ts).to_be_bytes(),
            sorter: ExternalSorter::new("encode", budget),
        }
    }

    /// Writes the payload to `out` (`out_name` names it in errors).
    pub fn finish<W: Write>(self, out: W, out_name: &str) -> Result<WriteStats, ReverseError> {
        let mut w = Hashing {
            inner: out,
            hash: Sha256::new(),
            bytes: 0,
        };
        let io = |e: std::io::Error| ReverseError::Output {
            path: out_name.to_string(),
            source: e,
        };
        w.write_all(MAGIC).map_err(io)?;
        w.write_all(&self.last_commit_ts.to_le_bytes())
            .map_err(io)?;
        let mut prev: Option<Vec<u8>> = None;
        let mut entries = 0u64;
        self.sorter.drain(|key: &[u8], value: &[u8]| {
            if prev.as_deref() == Some(key) {
                let user = key.get(..key.len().saturating_sub(8)).unwrap_or_default();
                return Err(ReverseError::DuplicateKey {
                    key: shown_key(user),
                });
            }
            w.write_all(&(key.len() as u64).to_le_bytes()).map_err(io)?;
            w.write_all(key).map_err(io)?;
            w.write_all(&((value.len() + VALUE_HEADER) as u64).to_le_bytes())
                .map_err(io)?;
            w.write_all(&[0u8; VALUE_HEADER]).map_err(io)?;
            w.write_all(value).map_err(io)?;
            entries += 1;
            match &mut prev {
                Some(p) => {
                    p.clear();
                    p.extend_from_slice(key);
                }
                None => prev = Some(key.to_vec()),
            }
            Ok(())
        })?;
        w.flush().map_err(io)?;
        Ok(WriteStats {
            entries,
            bytes: w.bytes,
            sha256: w.hash.finalize().into(),
        })
    }
}

impl Stage for FsmWriter {
    fn add(&mut self, user_key: Vec<u8>, value: Vec<u8>) -> Result<(), ReverseError> {
        let klen = user_key.len() + self.suffix.len();
        if klen > MAX_KEY_BYTES {
            return Err(ReverseError::TooLarge {
                what: "key",
                key: shown_key(&user_key),
                len: klen,
                limit: MAX_KEY_BYTES,
            });
        }
        let vlen = value.len() + VALUE_HEADER;
        if vlen > MAX_VALUE_BYTES {
            return Err(ReverseError::TooLarge {
                what: "value",
                key: shown_key(&user_key),
                len: vlen,
                limit: MAX_VALUE_BYTES,
            });
        }
        let mut key = user_key;
        key.extend_from_slice(&self.suffix);
        self.sorter.push(&key, &value)?;
        Ok(())
    }
}

/// A writer that hashes and counts what passes through.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_backup_engine::decode::Family;
    use elastickv_backup_format::container::payload_header;

    fn write(w: FsmWriter) -> Result<Vec<u8>, ReverseError> {
        let mut out = Vec::new();
        let stats = w.finish(&mut out, "out.fsm")?;
        assert_eq!(stats.bytes, out.len() as u64);
        assert_eq!(stats.sha256, <[u8; 32]>::from(Sha256::digest(&out)));
        Ok(out)
    }

    #[test]
    fn spec_one_entry_stream() {
        // Spec 00 §2.1/§1.2: Redis string `k` at ts 5 frames as key ‖ fffffffffffffffa.
        let mut w = FsmWriter::new(5, 1 << 20);
        w.add([Family::RedisString.prefix(), b"k"].concat(), b"v".to_vec())
            .unwrap();
        let out = write(w).unwrap();
        let mut want = MAGIC.to_vec();
        want.extend_from_slice(&5u64.to_le_bytes());
        want.extend_from_slice(&20u64.to_le_bytes());
        want.extend_from_slice(&hex::decode("2172656469737c7374727c6bfffffffffffffffa").unwrap());
        want.extend_from_slice(&10u64.to_le_bytes());
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, b'v']);
        assert_eq!(out, want);
    }

    #[test]
    fn empty_payload_is_the_header() {
        let out = write(FsmWriter::new(1, 1 << 20)).unwrap();
        assert_eq!(out, payload_header(1));
    }

    #[test]
    fn sorts_by_encoded_key_not_user_key() {
        // "a" ‖ ~ts sorts after "ab": the first suffix byte (0xff) is above 'b'.
        let mut w = FsmWriter::new(0x018f_1a2b_3c00_0042, 1 << 20);
        w.add(b"a".to_vec(), vec![]).unwrap();
        w.add(b"ab".to_vec(), vec![]).unwrap();
        w.add(b"!".to_vec(), vec![]).unwrap();
        let out = write(w).unwrap();
        let mut keys = Vec::new();
        let mut p = 16;
        while p < out.len() {
            let kl = u64::from_le_bytes(out[p..p + 8].try_into().unwrap()) as usize;
            keys.push(out[p + 8..p + 8 + kl - 8].to_vec());
            let vp = p + 8 + kl;
            let vl = u64::from_le_bytes(out[vp..vp + 8].try_into().unwrap()) as usize;
            p = vp + 8 + vl;
        }
        assert_eq!(keys, [b"!".to_vec(), b"ab".to_vec(), b"a".to_vec()]);
    }

    #[test]
    fn duplicates_refused_also_across_spilled_runs() {
        let mut w = FsmWriter::new(1, 0);
        for i in 0..20_000u32 {
            w.add(format!("k{i:06}").into_bytes(), vec![7; 16]).unwrap();
        }
        w.add(b"k000123".to_vec(), b"again".to_vec()).unwrap();
        let e = write(w).unwrap_err().to_string();
        assert!(e.contains("duplicate key \"k000123\""), "{e}");
    }

    #[test]
    fn spilled_output_equals_in_memory_output() {
        let fill = |w: &mut FsmWriter| {
            for i in (0..30_000u32).rev() {
                w.add(
                    format!("key-{}", i * 7919 % 30_000).into_bytes(),
                    i.to_le_bytes().to_vec(),
                )
                .unwrap();
            }
        };
        let mut small = FsmWriter::new(9, 0);
        fill(&mut small);
        let mut big = FsmWriter::new(9, 64 << 20);
        fill(&mut big);
        assert_eq!(write(small).unwrap(), write(big).unwrap());
    }

    #[test]
    fn oversized_records_refused() {
        let mut w = FsmWriter::new(1, 1 << 20);
        let e = w.add(vec![b'k'; MAX_KEY_BYTES - 7], vec![]).unwrap_err();
        assert!(
            e.to_string().contains("over the snapshot limit of 1048584"),
            "{e}"
        );
        assert!(w.add(vec![b'k'; MAX_KEY_BYTES - 8], vec![]).is_ok());
    }
}

//! `--include-incomplete-uploads` (docs/format/20-s3.md §8): every upload meta (K4) and part
//! descriptor (K5) record of a bucket, copied raw (base64) into
//! `s3/<bucket>/_incomplete_uploads/records.jsonl`, K4 lines first, in input order.
//!
//! All K4 records of all buckets sort before all K5 records, so a bucket's K4 lines are
//! spilled to scratch (one bucket at a time, sequentially) and copied to the head of the
//! bucket's file when its first K5 record arrives, or at the end. Memory stays bounded by
//! the number of buckets.

use super::plan::bucket_dir;
use super::scratch::Scratch;
use crate::decode::Family;
use crate::encode::json::write_str;
use crate::encode::Emitter;
use crate::error::Error;
use crate::sinks::{RelPath, StreamFile};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;

/// Family label of K4 lines.
pub(crate) const META_PREFIX: &str = Family::S3UploadMeta.prefix_str();
/// Family label of K5 lines.
pub(crate) const PART_PREFIX: &str = Family::S3UploadPart.prefix_str();

/// One `records.jsonl` line: `{"prefix":…,"key":<std b64>,"value":<std b64>}\n`.
pub(crate) fn record_line(out: &mut Vec<u8>, prefix: &str, key: &[u8], value: &[u8]) {
    out.extend_from_slice(b"{\"prefix\":");
    write_str(out, prefix.as_bytes());
    out.extend_from_slice(b",\"key\":\"");
    let mut b = String::new();
    STANDARD.encode_string(key, &mut b);
    out.extend_from_slice(b.as_bytes());
    out.extend_from_slice(b"\",\"value\":\"");
    b.clear();
    STANDARD.encode_string(value, &mut b);
    out.extend_from_slice(b.as_bytes());
    out.extend_from_slice(b"\"}\n");
}

fn records_path(bucket: &[u8]) -> Result<RelPath, Error> {
    Ok(bucket_dir(bucket)?
        .join("_incomplete_uploads")?
        .join("records.jsonl")?)
}

/// Incomplete-upload state.
#[derive(Default)]
pub(crate) struct Uploads {
    meta_run: Option<(Vec<u8>, PathBuf, BufWriter<File>)>,
    meta_spills: BTreeMap<Vec<u8>, PathBuf>,
    part_run: Option<(Vec<u8>, StreamFile)>,
    line: Vec<u8>,
}

impl Uploads {
    fn end_meta_run(&mut self) -> Result<(), Error> {
        if let Some((bucket, path, mut w)) = self.meta_run.take() {
            w.flush().map_err(|e| Error::io(path.display(), e))?;
            self.meta_spills.insert(bucket, path);
        }
        Ok(())
    }

    fn end_part_run(&mut self) -> Result<(), Error> {
        if let Some((_, f)) = self.part_run.take() {
            f.finish()?;
        }
        Ok(())
    }

    /// Opens a bucket's `records.jsonl`, starting with its spilled K4 lines.
    fn open(&mut self, bucket: &[u8], out: &Emitter) -> Result<StreamFile, Error> {
        let mut f = out.stream(&records_path(bucket)?)?;
        if let Some(path) = self.meta_spills.remove(bucket) {
            let mut src = File::open(&path).map_err(|e| Error::io(path.display(), e))?;
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = src
                    .read(&mut buf)
                    .map_err(|e| Error::io(path.display(), e))?;
                if n == 0 {
                    break;
                }
                f.write_all(&buf[..n])?;
            }
            let _ = std::fs::remove_file(&path);
        }
        Ok(f)
    }

    /// A K4 record of `bucket` (`key` is the whole user key).
    pub fn on_meta(
        &mut self,
        bucket: Vec<u8>,
        key: &[u8],
        value: &[u8],
        scratch: &mut Scratch,
    ) -> Result<(), Error> {
        bucket_dir(&bucket)?;
        if self.meta_run.as_ref().is_some_and(|(b, _, _)| *b != bucket) {
            self.end_meta_run()?;
        }
        if self.meta_run.is_none() {
            if self.meta_spills.contains_key(&bucket) {
                return Err(Error::Internal(
                    "s3 upload records of one bucket are not contiguous".into(),
                ));
            }
            let (path, f) = scratch.create("uploads")?;
            self.meta_run = Some((bucket, path, BufWriter::new(f)));
        }
        self.line.clear();
        record_line(&mut self.line, META_PREFIX, key, value);
        if let Some((_, path, w)) = self.meta_run.as_mut() {
            w.write_all(&self.line)
                .map_err(|e| Error::io(path.display(), e))?;
        }
        Ok(())
    }

    /// A K5 record of `bucket`.
    pub fn on_part(
        &mut self,
        bucket: Vec<u8>,
        key: &[u8],
        value: &[u8],
        out: &Emitter,
    ) -> Result<(), Error> {
        self.end_meta_run()?;
        if self.part_run.as_ref().is_some_and(|(b, _)| *b != bucket) {
            self.end_part_run()?;
        }
        if self.part_run.is_none() {
            let f = self.open(&bucket, out)?;
            self.part_run = Some((bucket, f));
        }
        self.line.clear();
        record_line(&mut self.line, PART_PREFIX, key, value);
        if let Some((_, f)) = self.part_run.as_mut() {
            f.write_all(&self.line)?;
        }
        Ok(())
    }

    /// End of input: writes the files of buckets that had no K5 record.
    pub fn finish(&mut self, out: &Emitter) -> Result<(), Error> {
        self.end_meta_run()?;
        self.end_part_run()?;
        let buckets: Vec<Vec<u8>> = self.meta_spills.keys().cloned().collect();
        for b in buckets {
            self.open(&b, out)?.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tv7_lines() {
        let k4 =
            hex::decode("2173337c75706c6f61647c6d6574617c66000100000000000000016f626a000155310001")
                .unwrap();
        let k5 = hex::decode("2173337c75706c6f61647c706172747c66000100000000000000016f626a0001553100010000000000000001").unwrap();
        let mut o = Vec::new();
        record_line(
            &mut o,
            META_PREFIX,
            &k4,
            br#"{"bucket":"f","object":"obj","generation":1,"upload_id":"U1","created_hlc":5}"#,
        );
        record_line(
            &mut o,
            PART_PREFIX,
            &k5,
            br#"{"part_no":1,"etag":"\"e\"","size_bytes":3,"chunk_count":1}"#,
        );
        let want = format!("{{\"prefix\":\"{META_PREFIX}\",\"key\":\"IXMzfHVwbG9hZHxtZXRhfGYAAQAAAAAAAAABb2JqAAFVMQAB\",\"value\":\"eyJidWNrZXQiOiJmIiwib2JqZWN0Ijoib2JqIiwiZ2VuZXJhdGlvbiI6MSwidXBsb2FkX2lkIjoiVTEiLCJjcmVhdGVkX2hsYyI6NX0=\"}}\n{{\"prefix\":\"{PART_PREFIX}\",\"key\":\"IXMzfHVwbG9hZHxwYXJ0fGYAAQAAAAAAAAABb2JqAAFVMQABAAAAAAAAAAE=\",\"value\":\"eyJwYXJ0X25vIjoxLCJldGFnIjoiXCJlXCIiLCJzaXplX2J5dGVzIjozLCJjaHVua19jb3VudCI6MX0=\"}}\n");
        assert_eq!(String::from_utf8(o).unwrap(), want);
        assert_eq!(want.len(), 392);
    }
}

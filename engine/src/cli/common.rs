//! Flags shared by every command that writes a dump (`decode`, `dump`).

use crate::decode::AdapterKind;
use crate::error::Error;
use crate::options::{DdbLayout, DecodeOptions, Scope, DEFAULT_BUNDLE_BYTES};
use crate::sinks::archive::{self, ArchiveSink, Compression, Destination};
use crate::sinks::object::{S3Config, S3Url};
use crate::sinks::{DirSink, ObjectSink, Sink};
use clap::Args;
use std::path::Path;
use std::sync::Arc;

/// Output-shaping flags (upstream's decoder flags plus ours).
#[derive(Args, Debug, Clone)]
pub struct OutputFlags {
    /// Adapters to include, comma-separated: dynamodb,s3,redis,sqs (or "all"). Keys of
    /// other adapters are skipped and no directory is created for them.
    #[arg(long, default_value = "dynamodb,s3,redis,sqs", value_name = "LIST")]
    pub adapter: String,

    /// Restrict to one table/bucket/queue/database: ADAPTER:NAME (e.g. dynamodb:orders,
    /// s3:media, sqs:jobs, redis:0). Repeatable; adapters without a scope are dumped whole.
    #[arg(long, value_name = "ADAPTER:NAME")]
    pub scope: Vec<String>,

    /// S3: also write in-flight multipart uploads under `_incomplete_uploads/`.
    #[arg(long)]
    pub include_incomplete_uploads: bool,

    /// S3: also write blobs that belong to no current object under `_orphans/`.
    #[arg(long)]
    pub include_orphans: bool,

    /// SQS: keep the live visibility fields (receive count, visible-at, receipt token)
    /// instead of zeroing them; restored messages then start out in flight.
    #[arg(long)]
    pub preserve_sqs_visibility: bool,

    /// SQS: also write dedup/group/visibility side records to `_internals/side_records.jsonl`.
    #[arg(long)]
    pub include_sqs_side_records: bool,

    /// DynamoDB layout: per-item (one JSON file per item, upstream's) or jsonl (items
    /// bundled into `items/data-NNNNN.jsonl` parts — far fewer files for huge tables).
    #[arg(long, default_value = "per-item", value_name = "MODE")]
    pub dynamodb_bundle_mode: String,

    /// DynamoDB jsonl part size limit (bytes; K/M/G suffixes accepted). Default 64M.
    #[arg(long, value_name = "BYTES")]
    pub dynamodb_bundle_size: Option<String>,

    /// S3: rename objects whose key ends in `.elastickv-meta.json` to `<key>.user-data`
    /// (recorded in KEYMAP.jsonl) instead of refusing the dump.
    #[arg(long)]
    pub rename_collisions: bool,

    /// Cluster identifier recorded in MANIFEST.json.
    #[arg(long, default_value = "", value_name = "ID")]
    pub cluster_id: String,

    /// Checksum algorithm for CHECKSUMS (only sha256, the `sha256sum -c` format).
    #[arg(long, default_value = "sha256", value_name = "ALGO")]
    pub checksums: String,

    /// Also write values whose MVCC expiry has passed at the read time (upstream's
    /// behaviour; by default they are invisible, as to any reader of the store).
    #[arg(long)]
    pub include_expired: bool,

    /// Busy threads for decode + encode + write (default: the number of CPUs): the decode
    /// thread plus N - 1 workers; the decode thread writes files itself whenever the
    /// workers are behind. 1 = everything on one thread. (Shard readers are extra, light
    /// threads.)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Write into a non-empty output directory (files of the same name are overwritten,
    /// other files stay and are listed in CHECKSUMS); with --archive, replace an existing
    /// archive file.
    #[arg(long)]
    pub force: bool,

    /// Write the dump as one archive instead of a directory, streamed while the dump runs:
    /// tar or tar.zst. --output is then the archive file, or - for standard output.
    /// MANIFEST.json and CHECKSUMS are its last two entries; unpacked, it is the directory
    /// output exactly. A failed run leaves no archive file.
    #[arg(long, value_name = "FORMAT", value_parser = ["tar", "tar.zst"])]
    pub archive: Option<String>,

    /// zstd level for --archive tar.zst, 1 (fastest) to 22 (smallest). Default 3.
    #[arg(long, value_name = "N")]
    pub zstd_level: Option<i32>,

    /// Endpoint URL of an S3-compatible store (MinIO, Ceph, moto, …) for an
    /// `--output s3://BUCKET/PREFIX/` (or, with --archive, `s3://BUCKET/KEY`). Without it,
    /// AWS S3 itself. Credentials and region come from the standard AWS chain
    /// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws/config, SSO, web
    /// identity, instance roles; AWS_REGION).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
}

/// Parses `64M`, `1G`, `4096`.
pub fn parse_size(s: &str) -> Result<u64, Error> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mul = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'B' => 1,
                _ => {
                    return Err(Error::Usage(format!(
                        "{s}: invalid size (use e.g. 4096, 512K, 64M, 1G)"
                    )))
                }
            };
            (&t[..i], mul)
        }
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::Usage(format!("{s}: invalid size (use e.g. 4096, 512K, 64M, 1G)")))
}

/// Upstream's `--adapter` rule: "" or "all" → all; else a CSV of known names.
pub fn parse_adapters(s: &str) -> Result<Vec<AdapterKind>, Error> {
    if s.is_empty() || s == "all" {
        return Ok(AdapterKind::ALL.to_vec());
    }
    let mut v = Vec::new();
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let a = AdapterKind::from_name(item).ok_or_else(|| {
            Error::Usage(format!(
                "{item}: unknown adapter name (expected dynamodb, s3, redis, sqs)"
            ))
        })?;
        if !v.contains(&a) {
            v.push(a);
        }
    }
    if v.is_empty() {
        return Err(Error::Usage("--adapter selected zero adapters".into()));
    }
    Ok(v)
}

impl OutputFlags {
    /// The decode options these flags describe.
    pub fn options(&self) -> Result<DecodeOptions, Error> {
        let adapters = parse_adapters(&self.adapter)?;
        let mut scopes = Vec::new();
        for s in &self.scope {
            let (a, name) = s
                .split_once(':')
                .ok_or_else(|| Error::Usage(format!("--scope {s}: expected ADAPTER:NAME")))?;
            let adapter = AdapterKind::from_name(a)
                .ok_or_else(|| Error::Usage(format!("--scope {s}: unknown adapter {a:?}")))?;
            if !adapters.contains(&adapter) {
                return Err(Error::Usage(format!(
                    "--scope {s}: adapter {a} is not enabled by --adapter"
                )));
            }
            scopes.push(Scope {
                adapter,
                name: name.as_bytes().to_vec(),
            });
        }
        let dynamodb_layout = match self.dynamodb_bundle_mode.as_str() {
            "" | "per-item" => {
                if self.dynamodb_bundle_size.is_some() {
                    return Err(Error::Usage(
                        "--dynamodb-bundle-size needs --dynamodb-bundle-mode jsonl".into(),
                    ));
                }
                DdbLayout::PerItem
            }
            "jsonl" => DdbLayout::Jsonl {
                part_bytes: match &self.dynamodb_bundle_size {
                    Some(s) => parse_size(s)?,
                    None => DEFAULT_BUNDLE_BYTES,
                },
            },
            other => {
                return Err(Error::Usage(format!(
                    "{other}: invalid --dynamodb-bundle-mode (expected per-item or jsonl)"
                )))
            }
        };
        if self.checksums != "sha256" {
            return Err(Error::Usage(format!(
                "--checksums {}: only sha256 is supported",
                self.checksums
            )));
        }
        Ok(DecodeOptions {
            adapters,
            scopes,
            include_incomplete_uploads: self.include_incomplete_uploads,
            include_orphans: self.include_orphans,
            preserve_sqs_visibility: self.preserve_sqs_visibility,
            include_sqs_side_records: self.include_sqs_side_records,
            rename_collisions: self.rename_collisions,
            dynamodb_layout,
            include_expired: self.include_expired,
            cluster_id: self.cluster_id.clone(),
        })
    }

    /// The archive compression these flags ask for; `None` for directory output.
    pub fn archive(&self) -> Result<Option<Compression>, Error> {
        match (self.archive.as_deref(), self.zstd_level) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(Error::Usage("--zstd-level needs --archive tar.zst".into())),
            (Some("tar"), None) => Ok(Some(Compression::None)),
            (Some("tar"), Some(_)) => Err(Error::Usage(
                "--zstd-level applies to --archive tar.zst, not tar".into(),
            )),
            (Some("tar.zst"), level) => {
                let level = level.unwrap_or(archive::DEFAULT_ZSTD_LEVEL);
                if !(1..=archive::MAX_ZSTD_LEVEL).contains(&level) {
                    return Err(Error::Usage(format!(
                        "--zstd-level {level}: expected 1 to {}",
                        archive::MAX_ZSTD_LEVEL
                    )));
                }
                Ok(Some(Compression::Zstd {
                    level,
                    workers: archive::default_zstd_workers(),
                }))
            }
            (Some(other), _) => Err(Error::Usage(format!(
                "--archive {other}: expected tar or tar.zst"
            ))),
        }
    }

    /// The object-storage destination `output` names (`s3://…`), if it names one.
    pub fn s3_output(&self, output: &Path) -> Result<Option<(S3Url, S3Config)>, Error> {
        let arg = output.to_string_lossy();
        if !S3Url::is_s3(&arg) {
            if self.s3_endpoint.is_some() {
                return Err(Error::Usage(
                    "--s3-endpoint needs an --output s3://BUCKET/PREFIX/".into(),
                ));
            }
            return Ok(None);
        }
        let config = S3Config {
            endpoint: self.s3_endpoint.clone(),
        };
        Ok(Some((S3Url::parse(&arg)?, config)))
    }

    /// The sink for `output`: a directory tree, or an archive file / standard output with
    /// `--archive`; `s3://…` writes the tree (or the archive object) to object storage.
    pub fn open_sink(&self, output: &Path) -> Result<Arc<dyn Sink>, Error> {
        let s3 = self.s3_output(output)?;
        Ok(match (self.archive()?, s3) {
            (None, None) => Arc::new(DirSink::create(output, self.force)?),
            (None, Some((url, config))) => Arc::new(ObjectSink::create(&url, &config, self.force)?),
            (Some(c), None) => Arc::new(ArchiveSink::create(
                &Destination::from_arg(output),
                c,
                self.force,
            )?),
            (Some(c), Some((url, config))) => Arc::new(ArchiveSink::create(
                &Destination::Object { url, config },
                c,
                self.force,
            )?),
        })
    }

    /// Worker threads to use.
    pub fn threads(&self) -> usize {
        self.threads
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapters_and_sizes() {
        assert_eq!(parse_adapters("all").unwrap().len(), 4);
        assert_eq!(
            parse_adapters(" redis , sqs,").unwrap(),
            vec![AdapterKind::Redis, AdapterKind::Sqs]
        );
        assert!(parse_adapters("Redis").is_err());
        assert!(parse_adapters(",").is_err());
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("0").is_err());
        assert!(parse_size("12Q").is_err());
    }
}

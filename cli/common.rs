//! Flags shared by every command that writes a dump (`decode`, `dump`).

use clap::Args;
use elastickv_backup_engine::decode::AdapterKind;
use elastickv_backup_engine::error::Error;
use elastickv_backup_engine::options::{DdbLayout, DecodeOptions, Scope, DEFAULT_BUNDLE_BYTES};
use elastickv_backup_engine::sinks::archive::{self, ArchiveSink, Compression, Destination};
use elastickv_backup_engine::sinks::object::{S3Config, S3Url};
use elastickv_backup_engine::sinks::{DigestKind, DirSink, ObjectSink, Sink};
use std::path::Path;
use std::sync::Arc;

/// Help heading for the flags that pick what is dumped.
pub const HEAD_SELECT: &str = "Selection";
/// Help heading for the per-adapter output options.
pub const HEAD_ADAPTERS: &str = "Adapter options";
/// Help heading for where and how the dump is written.
pub const HEAD_OUTPUT: &str = "Output";
/// Help heading for thread and memory controls.
pub const HEAD_PERF: &str = "Performance";
/// Help heading for logs, progress and metrics.
pub const HEAD_OBSERVE: &str = "Logging and metrics";

/// One value of `--adapter`: an adapter name or `all`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterArg {
    /// DynamoDB-compatible tables.
    Dynamodb,
    /// S3-compatible buckets.
    S3,
    /// Redis databases.
    Redis,
    /// SQS-compatible queues.
    Sqs,
    /// Every adapter (also what an empty value means, as upstream).
    All,
}

/// Parses one comma-separated item of `--adapter`: the names are a [`clap::ValueEnum`]
/// (so `--help` lists them and a typo gets clap's error), but an empty item is kept as
/// `None` because upstream's `--adapter ""` means "all" and a trailing comma is ignored.
#[derive(Clone, Copy, Debug, Default)]
pub struct AdapterItemParser;

impl clap::builder::TypedValueParser for AdapterItemParser {
    type Value = Option<AdapterArg>;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let parser = clap::builder::EnumValueParser::<AdapterArg>::new();
        match value.to_str().map(str::trim) {
            Some("") => Ok(None),
            Some(t) => parser
                .parse_ref(cmd, arg, std::ffi::OsStr::new(t))
                .map(Some),
            None => parser.parse_ref(cmd, arg, value).map(Some),
        }
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        use clap::ValueEnum;
        Some(Box::new(
            AdapterArg::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value),
        ))
    }
}

/// DynamoDB output layout (`--dynamodb-bundle-mode`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BundleMode {
    /// One JSON file per item (upstream's layout).
    #[default]
    PerItem,
    /// Items bundled into `items/data-NNNNN.jsonl` parts: far fewer files for huge tables.
    Jsonl,
}

/// CHECKSUMS algorithm (`--checksums`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ChecksumAlgo {
    /// SHA-256 in `CHECKSUMS` (`sha256sum -c CHECKSUMS`): upstream's format.
    #[default]
    Sha256,
    /// BLAKE3 in `CHECKSUMS.b3` (`b3sum -c CHECKSUMS.b3`): ~2.6× faster to compute; for
    /// dumps of large S3 objects, where SHA-256 is most of the work.
    Blake3,
}

impl ChecksumAlgo {
    /// The sinks' digest.
    pub fn kind(self) -> DigestKind {
        match self {
            ChecksumAlgo::Sha256 => DigestKind::Sha256,
            ChecksumAlgo::Blake3 => DigestKind::Blake3,
        }
    }
}

/// Archive format (`--archive`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// Plain POSIX tar.
    Tar,
    /// tar compressed with zstd (see --zstd-level).
    #[value(name = "tar.zst")]
    TarZst,
}

/// `--scope ADAPTER:NAME`, parsed by clap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeArg {
    /// The adapter.
    pub adapter: AdapterKind,
    /// Table, bucket, queue or database name.
    pub name: String,
}

/// Value parser for `--scope`.
pub fn parse_scope(s: &str) -> Result<ScopeArg, String> {
    let (a, name) = s
        .split_once(':')
        .ok_or_else(|| "expected ADAPTER:NAME, e.g. dynamodb:orders".to_string())?;
    let adapter = AdapterKind::from_name(a)
        .ok_or_else(|| format!("unknown adapter {a:?} (expected dynamodb, s3, redis, sqs)"))?;
    Ok(ScopeArg {
        adapter,
        name: name.to_string(),
    })
}

/// Value parser for `--threads`/`-j`: a positive count. 0 is refused rather than read as
/// "default", so a templated `-j $N` with an empty or zero N fails loudly.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1 (omit the flag for one per CPU)".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}")),
    }
}

/// Value parser for byte sizes: `4096`, `512KiB`, `64M`, `1GiB` (binary multiples; see
/// [`parse_size`]).
pub fn size_arg(s: &str) -> Result<u64, String> {
    parse_size(s).map_err(|_| "invalid size (use e.g. 4096, 512KiB, 64M, 1GiB)".to_string())
}

/// Value parser for durations (`500ms`, `5s`, `2m`, `1h 30m`) through `humantime`; a bare
/// number is seconds, as before.
pub fn duration_arg(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(n));
    }
    humantime::parse_duration(t).map_err(|e| format!("{e} (use e.g. 500ms, 5s, 2m)"))
}

/// [`duration_arg`] refusing zero: for timeouts, where zero would fail every call.
pub fn positive_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    match duration_arg(s)? {
        d if d.is_zero() => Err("must be more than zero".into()),
        d => Ok(d),
    }
}

/// The processor count: the default of every `--threads`.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Output-shaping flags (upstream's decoder flags plus ours).
#[derive(Args, Debug, Clone)]
pub struct OutputFlags {
    /// Adapters to include, comma-separated (or "all"). Keys of other adapters are skipped
    /// and no directory is created for them.
    #[arg(long, default_value = "all", value_name = "LIST", value_delimiter = ',',
          value_parser = AdapterItemParser, help_heading = HEAD_SELECT)]
    pub adapter: Vec<Option<AdapterArg>>,

    /// Restrict to one table/bucket/queue/database: ADAPTER:NAME (e.g. dynamodb:orders,
    /// s3:media, sqs:jobs, redis:0). Repeatable; adapters without a scope are dumped whole.
    #[arg(long, value_name = "ADAPTER:NAME", value_parser = parse_scope,
          help_heading = HEAD_SELECT)]
    pub scope: Vec<ScopeArg>,

    /// Also write values whose MVCC expiry has passed at the read time (upstream's
    /// behaviour; by default they are invisible, as to any reader of the store).
    #[arg(long, help_heading = HEAD_SELECT)]
    pub include_expired: bool,

    /// S3: also write in-flight multipart uploads under `_incomplete_uploads/`.
    #[arg(long, help_heading = HEAD_ADAPTERS)]
    pub include_incomplete_uploads: bool,

    /// S3: also write blobs that belong to no current object under `_orphans/`.
    #[arg(long, help_heading = HEAD_ADAPTERS)]
    pub include_orphans: bool,

    /// S3: rename objects whose key ends in `.elastickv-meta.json` to `<key>.user-data`
    /// (recorded in KEYMAP.jsonl) instead of refusing the dump.
    #[arg(long, help_heading = HEAD_ADAPTERS)]
    pub rename_collisions: bool,

    /// SQS: keep the live visibility fields (receive count, visible-at, receipt token)
    /// instead of zeroing them; restored messages then start out in flight.
    #[arg(long, help_heading = HEAD_ADAPTERS)]
    pub preserve_sqs_visibility: bool,

    /// SQS: also write dedup/group/visibility side records to `_internals/side_records.jsonl`.
    #[arg(long, help_heading = HEAD_ADAPTERS)]
    pub include_sqs_side_records: bool,

    /// DynamoDB item layout.
    #[arg(long, value_enum, default_value_t = BundleMode::PerItem, value_name = "MODE",
          help_heading = HEAD_ADAPTERS)]
    pub dynamodb_bundle_mode: BundleMode,

    /// DynamoDB jsonl part size limit (bytes; K/M/G suffixes). Default 64M. Needs
    /// --dynamodb-bundle-mode jsonl.
    #[arg(long, value_name = "BYTES", value_parser = size_arg, help_heading = HEAD_ADAPTERS)]
    pub dynamodb_bundle_size: Option<u64>,

    /// Cluster identifier recorded in MANIFEST.json.
    #[arg(long, default_value = "", value_name = "ID", help_heading = HEAD_OUTPUT)]
    pub cluster_id: String,

    /// Digest of the checksum file: sha256 writes CHECKSUMS (upstream's format, checked by
    /// `sha256sum -c`); blake3 writes CHECKSUMS.b3 instead (checked by `b3sum -c`, and by
    /// `elastickv-backup verify`), for dumps where hashing is the cost (large S3 objects).
    #[arg(long, value_enum, default_value_t = ChecksumAlgo::Sha256, value_name = "ALGO",
          help_heading = HEAD_OUTPUT)]
    pub checksums: ChecksumAlgo,

    /// Write into a non-empty output directory (files of the same name are overwritten,
    /// other files stay and are listed in CHECKSUMS); with --archive, replace an existing
    /// archive file.
    #[arg(long, short = 'f', help_heading = HEAD_OUTPUT)]
    pub force: bool,

    /// Write the dump as one archive instead of a directory, streamed while the dump runs.
    /// --output is then the archive file, or - for standard output. MANIFEST.json and
    /// CHECKSUMS are its last two entries; unpacked, it is the directory output exactly. A
    /// failed run leaves no archive file.
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = HEAD_OUTPUT)]
    pub archive: Option<ArchiveFormat>,

    /// zstd level for --archive tar.zst, 1 (fastest) to 22 (smallest). Default 3.
    #[arg(long, value_name = "N", requires = "archive", help_heading = HEAD_OUTPUT,
          value_parser = clap::value_parser!(i32).range(1..=archive::MAX_ZSTD_LEVEL as i64))]
    pub zstd_level: Option<i32>,

    /// Busy threads for decode + encode + write (default: the number of CPUs): the decode
    /// thread plus N - 1 workers; the decode thread writes files itself whenever the
    /// workers are behind. 1 = everything on one thread.
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_threads,
          help_heading = HEAD_PERF)]
    pub threads: Option<usize>,

    /// Endpoint URL of an S3-compatible store (MinIO, Ceph, moto, …) for an
    /// `--output s3://BUCKET/PREFIX/` (or, with --archive, `s3://BUCKET/KEY`). Without it,
    /// AWS S3 itself. Credentials and region come from the standard AWS chain
    /// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws/config, web
    /// identity, instance roles; AWS_REGION).
    #[arg(long, value_name = "URL", help_heading = HEAD_OUTPUT)]
    pub s3_endpoint: Option<String>,
}

/// Parses a byte size: a number with an optional binary-multiple suffix, `K`/`KiB`,
/// `M`/`MiB`, `G`/`GiB`, `T`/`TiB` (case-insensitive, `KB`-style spellings read as the
/// same binary multiples, since every size here is a buffer or a part size), or `B`.
/// The one size syntax of every flag ([`size_arg`]).
pub fn parse_size(s: &str) -> Result<u64, Error> {
    let bad = || {
        Error::Usage(format!(
            "{s}: invalid size (use e.g. 4096, 512KiB, 64M, 1GiB)"
        ))
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.trim_start().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(bad()),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .filter(|n| *n > 0)
        .ok_or_else(bad)
}

/// Resolves `--adapter` items: `all` or one lone empty value (upstream's `--adapter ""`)
/// select every adapter; otherwise the named ones, in order, without repeats.
pub fn resolve_adapters(items: &[Option<AdapterArg>]) -> Result<Vec<AdapterKind>, Error> {
    if items.is_empty() || items == [None] || items.contains(&Some(AdapterArg::All)) {
        return Ok(AdapterKind::ALL.to_vec());
    }
    let mut v = Vec::new();
    for a in items.iter().flatten() {
        let k = match a {
            AdapterArg::Dynamodb => AdapterKind::DynamoDb,
            AdapterArg::S3 => AdapterKind::S3,
            AdapterArg::Redis => AdapterKind::Redis,
            AdapterArg::Sqs => AdapterKind::Sqs,
            AdapterArg::All => continue,
        };
        if !v.contains(&k) {
            v.push(k);
        }
    }
    if v.is_empty() {
        return Err(Error::Usage("--adapter selected zero adapters".into()));
    }
    Ok(v)
}

impl OutputFlags {
    /// The decode options these flags describe. Checks that clap cannot express (a scope
    /// of an adapter that is not enabled, a bundle size without jsonl) are usage errors.
    pub fn options(&self) -> Result<DecodeOptions, Error> {
        let adapters = resolve_adapters(&self.adapter)?;
        let mut scopes = Vec::new();
        for s in &self.scope {
            if !adapters.contains(&s.adapter) {
                return Err(Error::Usage(format!(
                    "--scope {}:{}: adapter {} is not enabled by --adapter",
                    s.adapter.name(),
                    s.name,
                    s.adapter.name()
                )));
            }
            scopes.push(Scope {
                adapter: s.adapter,
                name: s.name.as_bytes().to_vec(),
            });
        }
        let dynamodb_layout = match self.dynamodb_bundle_mode {
            BundleMode::PerItem => {
                if self.dynamodb_bundle_size.is_some() {
                    return Err(Error::Usage(
                        "--dynamodb-bundle-size needs --dynamodb-bundle-mode jsonl".into(),
                    ));
                }
                DdbLayout::PerItem
            }
            BundleMode::Jsonl => DdbLayout::Jsonl {
                part_bytes: self.dynamodb_bundle_size.unwrap_or(DEFAULT_BUNDLE_BYTES),
            },
        };
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
            checksums: self.checksums.kind(),
        })
    }

    /// The archive compression these flags ask for; `None` for directory output.
    pub fn archive(&self) -> Result<Option<Compression>, Error> {
        match (self.archive, self.zstd_level) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(Error::Usage("--zstd-level needs --archive tar.zst".into())),
            (Some(ArchiveFormat::Tar), None) => Ok(Some(Compression::None)),
            (Some(ArchiveFormat::Tar), Some(_)) => Err(Error::Usage(
                "--zstd-level applies to --archive tar.zst, not tar".into(),
            )),
            (Some(ArchiveFormat::TarZst), level) => Ok(Some(Compression::Zstd {
                level: level.unwrap_or(archive::DEFAULT_ZSTD_LEVEL),
                workers: archive::default_zstd_workers(),
            })),
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
        let kind = self.checksums.kind();
        Ok(match (self.archive()?, s3) {
            (None, None) => Arc::new(DirSink::create(output, self.force)?.with_digest(kind)),
            (None, Some((url, config))) => {
                Arc::new(ObjectSink::create(&url, &config, self.force)?.with_digest(kind))
            }
            (Some(c), None) => Arc::new(
                ArchiveSink::create(&Destination::from_arg(output), c, self.force)?
                    .with_digest(kind),
            ),
            (Some(c), Some((url, config))) => Arc::new(
                ArchiveSink::create(&Destination::Object { url, config }, c, self.force)?
                    .with_digest(kind),
            ),
        })
    }

    /// Worker threads to use (`--threads`, else one per CPU).
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or_else(default_threads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapters_and_sizes() {
        use AdapterArg::*;
        assert_eq!(resolve_adapters(&[Some(All)]).unwrap().len(), 4);
        assert_eq!(resolve_adapters(&[None]).unwrap().len(), 4);
        assert_eq!(
            resolve_adapters(&[Some(Redis), Some(Sqs), Some(Redis), None]).unwrap(),
            vec![AdapterKind::Redis, AdapterKind::Sqs]
        );
        assert!(resolve_adapters(&[None, None]).is_err());
        assert_eq!(parse_threads("3"), Ok(3));
        assert!(parse_threads("0").is_err());
        assert!(parse_threads("x").is_err());
        assert_eq!(
            duration_arg("5s").unwrap(),
            std::time::Duration::from_secs(5)
        );
        assert_eq!(
            duration_arg("3").unwrap(),
            std::time::Duration::from_secs(3)
        );
        assert_eq!(
            duration_arg("1m 30s").unwrap(),
            std::time::Duration::from_secs(90)
        );
        assert!(duration_arg("5x").is_err());
        assert!(parse_scope("dynamodb:orders").is_ok());
        assert!(parse_scope("mongo:x").is_err());
        assert!(parse_scope("orders").is_err());
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("1 GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("512kb").unwrap(), 512 << 10);
        assert_eq!(parse_size("2T").unwrap(), 2 << 40);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("1.5G").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("12Q").is_err());
    }
}

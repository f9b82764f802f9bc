//! `elastickv-backup restore redis|dynamodb|s3|sqs`: replays a dump into a running server.

use crate::common::{positive_duration_arg, size_arg};
use crate::Failure;
use clap::{Args, Subcommand};
use elastickv_backup_restore::aws::{Summary, Target};
use elastickv_backup_restore::redis::{self, Mode, RestoreError, RestoreOptions};
use elastickv_backup_restore::{dynamodb, s3, sqs};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Replay a dump into a running service through its own protocol.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Which service.
    #[command(subcommand)]
    pub target: RestoreTarget,
}

/// Services `restore` can write to.
#[derive(Subcommand, Debug)]
pub enum RestoreTarget {
    /// Replay `redis/db_<n>/` into Redis or elastickv's Redis adapter over RESP, with
    /// pipelined writes: strings (SET), HLLs (PFADD of elastickv's member set, else SET of
    /// the raw body), hashes (HSET), lists (RPUSH), sets (SADD), zsets (ZADD), streams
    /// (XADD with their IDs, XSETID for a last ID past the last entry), then each key's
    /// expiry (PEXPIREAT; PEXPIRE relative to now on servers without it, e.g. elastickv).
    ///
    /// Keys whose expiry has passed are skipped unless --preserve-ttl. Prints a summary
    /// (keys per type: restored, failed, expired, existing, empty). Exit status: 0 when
    /// every key was restored or skipped on purpose, 1 otherwise.
    Redis(RedisArgs),
    /// Replay `dynamodb/<table>/` into DynamoDB or a compatible server (elastickv's
    /// DynamoDB adapter, DynamoDB Local, moto): CreateTable from each `_schema.json` (key
    /// schema, key attribute types, GSIs with projections; on-demand billing), waiting
    /// until it is ACTIVE, then the items (per-item files or jsonl bundles, as the
    /// manifest says) with BatchWriteItem, 25 per request; unprocessed items are resent
    /// with exponential backoff.
    ///
    /// Credentials and region come from the standard AWS chain (AWS_ACCESS_KEY_ID,
    /// AWS_PROFILE, AWS_REGION, …). Prints a summary (tables created, items written), also
    /// when it stops. Exit status 0 when everything was restored, 1 otherwise.
    Dynamodb(DynamodbArgs),
    /// Replay `s3/<bucket>/` into S3 or an S3-compatible store (elastickv's S3 adapter,
    /// MinIO, moto): CreateBucket, then every object with its content type, encoding,
    /// cache control, disposition and user metadata from its sidecar, under its original
    /// key (renames and escapes in the bucket's KEYMAP.jsonl undone). Large objects go up
    /// as multipart uploads (aborted if a part fails). ETags of multipart objects and
    /// last-modified times are assigned by the server.
    ///
    /// Credentials and region from the standard AWS chain. Prints a summary (buckets
    /// created, objects and bytes written), also when it stops.
    S3(S3Args),
    /// Replay `sqs/<queue>/` into SQS or a compatible server (elastickv's SQS adapter,
    /// ElasticMQ, moto): CreateQueue with the standard/FIFO attributes of `_queue.json`,
    /// then every message of messages.jsonl with SendMessage in file (send) order, so
    /// each FIFO group keeps its order, with its attributes, group id and deduplication
    /// id. Redrive policies are set last, pointing at the restored dead-letter queue.
    /// Message ids, send times and receive counts are assigned anew by the server.
    ///
    /// Credentials and region from the standard AWS chain. Prints a summary (queues
    /// created, messages sent), also when it stops.
    Sqs(SqsArgs),
}

/// Flags every AWS-protocol restore takes.
#[derive(Args, Debug)]
pub struct AwsArgs {
    /// The dump directory (the one holding MANIFEST.json). Unpack an archive first; run
    /// `elastickv-backup verify` on it before restoring.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,

    /// The service URL, e.g. http://127.0.0.1:5000 for moto or an elastickv node's
    /// adapter. Default: the AWS endpoint of the region.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// The region (default: AWS_REGION / the profile's, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Write into tables, buckets or queues that already exist instead of stopping
    /// (items and objects with the same key are replaced; messages are added).
    #[arg(long)]
    pub use_existing: bool,

    /// Time allowed for one attempt of one API call (e.g. 30s, 2m; a bare number is
    /// seconds). Each call is tried up to 4 times, with backoff, on throttling and
    /// transient errors.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = positive_duration_arg)]
    pub timeout: Duration,
}

impl AwsArgs {
    fn target(&self) -> Target {
        let mut t = Target::new(self.endpoint.clone());
        t.region = self.region.clone();
        t.timeout = self.timeout;
        t
    }
}

/// `restore dynamodb` flags.
#[derive(Args, Debug)]
pub struct DynamodbArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub aws: AwsArgs,

    /// At most this many items written per second (a token bucket), to stay within a
    /// provisioned table's capacity or beside live traffic.
    #[arg(long, value_name = "ITEMS")]
    pub max_writes_per_second: Option<u64>,

    /// BatchWriteItem requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
}

/// `restore s3` flags.
#[derive(Args, Debug)]
pub struct S3Args {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub aws: AwsArgs,

    /// Objects larger than this are sent as multipart uploads (e.g. 16MiB, 16M, 1G).
    #[arg(long, default_value = "16MiB", value_name = "BYTES", value_parser = size_arg)]
    pub multipart_threshold: u64,

    /// Part size of multipart uploads (at least 5MiB, the S3 minimum).
    #[arg(long, default_value = "8MiB", value_name = "BYTES", value_parser = size_arg)]
    pub part_size: u64,

    /// PutObject requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
}

/// `restore sqs` flags.
#[derive(Args, Debug)]
pub struct SqsArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub aws: AwsArgs,
}

/// `restore redis` flags.
#[derive(Args, Debug)]
pub struct RedisArgs {
    /// The dump directory (the one holding MANIFEST.json and redis/). Unpack an archive
    /// first; run `elastickv-backup verify` on it before restoring.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,

    /// The server: redis://[[user]:password@]host[:port][/db], or host:port.
    #[arg(long, value_name = "URL", value_parser = redis::parse_address)]
    pub address: redis::Target,

    /// Database to write into (SELECT). Default: the URL's /db, else the number of the
    /// dump's redis/db_<n>/ directory.
    #[arg(long, value_name = "N")]
    pub db: Option<u32>,

    /// Restore only redis/db_<N>/ of the dump (default: every database in it).
    #[arg(long, value_name = "N")]
    pub source_db: Option<u32>,

    /// Existing keys: replace (delete, then write the dumped value), merge (write into
    /// what is there: fields/members added, list items appended, strings overwritten),
    /// skip-existing (leave keys that exist alone).
    #[arg(long, default_value = "replace", value_name = "MODE",
          value_parser = ["replace", "merge", "skip-existing"])]
    pub mode: String,

    /// Also restore keys whose expiry has already passed, sending that expiry as it is:
    /// the server then removes them at once (and, with --mode replace, the key already
    /// there is deleted too). Without it such keys are skipped and counted as expired.
    #[arg(long)]
    pub preserve_ttl: bool,

    /// At most this many commands per second (a token bucket; bursts up to a tenth of
    /// a second's worth).
    #[arg(long, value_name = "OPS")]
    pub rate_limit: Option<u64>,

    /// How long to wait for the connection and for each batch of replies (e.g. 30s, 2m;
    /// a bare number is seconds).
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = positive_duration_arg)]
    pub timeout: Duration,

    /// No progress on stderr (a live line on a terminal, else a log line every 10 s).
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `restore`.
pub fn run(args: RestoreArgs) -> Result<(), Failure> {
    match args.target {
        RestoreTarget::Redis(a) => run_redis(a),
        RestoreTarget::Dynamodb(a) => {
            if a.concurrency == 0 || a.max_writes_per_second == Some(0) {
                return Err(Failure::usage(
                    "--concurrency and --max-writes-per-second must be at least 1",
                ));
            }
            let mut o = dynamodb::Options::new(a.aws.input.clone(), a.aws.target());
            o.use_existing = a.aws.use_existing;
            o.max_writes_per_second = a.max_writes_per_second;
            o.concurrency = a.concurrency;
            report(dynamodb::restore(&o))
        }
        RestoreTarget::S3(a) => {
            let mut o = s3::Options::new(a.aws.input.clone(), a.aws.target());
            o.use_existing = a.aws.use_existing;
            o.multipart_threshold = a.multipart_threshold;
            o.part_size = a.part_size;
            if o.part_size < s3::MIN_PART_SIZE {
                return Err(Failure::usage(format!(
                    "--part-size must be at least 5M ({} bytes): S3 refuses smaller parts",
                    s3::MIN_PART_SIZE
                )));
            }
            if a.concurrency == 0 {
                return Err(Failure::usage("--concurrency must be at least 1"));
            }
            o.concurrency = a.concurrency;
            report(s3::restore(&o))
        }
        RestoreTarget::Sqs(a) => {
            let mut o = sqs::Options::new(a.aws.input.clone(), a.aws.target());
            o.use_existing = a.aws.use_existing;
            report(sqs::restore(&o))
        }
    }
}

/// Prints the summary (on success and on failure alike), then passes the result on.
fn report(
    (summary, result): (
        Summary,
        Result<(), elastickv_backup_restore::error::aws::AwsRestoreError>,
    ),
) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(summary.render().as_bytes());
    let _ = out.flush();
    result.map_err(Failure::from)
}

fn run_redis(a: RedisArgs) -> Result<(), Failure> {
    let target = a.address;
    let mode: Mode = a.mode.parse().map_err(Failure::usage)?;
    if a.rate_limit == Some(0) {
        return Err(Failure::usage("--rate-limit must be at least 1"));
    }
    let mut opts = RestoreOptions::new(a.input, target);
    opts.source_db = a.source_db;
    opts.target_db = a.db;
    opts.mode = mode;
    opts.preserve_ttl = a.preserve_ttl;
    opts.rate_limit = a.rate_limit;
    opts.timeout = a.timeout;
    opts.progress = !a.quiet;
    let summary = redis::restore(&opts)?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(summary.render().as_bytes());
    let _ = out.flush();
    match summary.failed_total() {
        0 => Ok(()),
        failed => Err(RestoreError::Incomplete { failed }.into()),
    }
}

//! `restore dynamodb`: replays `dynamodb/<table>/` into DynamoDB or a compatible server
//! (elastickv's DynamoDB adapter, moto, DynamoDB Local) through the AWS SDK.
//!
//! The tree is read by the same walker as `encode` ([`elastickv_backup_reverse::dynamodb::walk`]),
//! so both layouts (per-item files and `items/*.jsonl` bundles, told apart by the
//! manifest's `dynamodb_layout`) restore, and a bad file stops the run naming it. Per
//! table: `CreateTable` from `_schema.json` (waiting until it and its GSIs are active),
//! then the items with `BatchWriteItem`, 25 per request and up to `concurrency` requests
//! in flight; items the server leaves unprocessed are retried with exponential backoff.
//! `max_writes_per_second` caps items written per second.

mod convert;
mod write;

use crate::aws::{self, AwsRestoreError, Summary, Target};
use crate::redis::ratelimit::TokenBucket;
use aws_sdk_dynamodb::types::{PutRequest, TableStatus, WriteRequest};
use aws_sdk_dynamodb::Client;
use elastickv_backup_engine::decode::dynamodb::proto::{DynamoItem, DynamoTableSchema};
use elastickv_backup_reverse::dynamodb::{walk, Options as WalkOptions, TableVisitor};
use elastickv_backup_reverse::ReverseError;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Items per `BatchWriteItem` request (the API's limit).
pub const BATCH_ITEMS: usize = 25;

/// What to restore, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The dump directory (holding MANIFEST.json and dynamodb/).
    pub input: PathBuf,
    /// The server.
    pub target: Target,
    /// Write into tables that already exist instead of stopping.
    pub use_existing: bool,
    /// At most this many items per second (`None`: as fast as the server takes them).
    pub max_writes_per_second: Option<u64>,
    /// `BatchWriteItem` requests in flight at once.
    pub concurrency: usize,
}

impl Options {
    /// Defaults: refuse existing tables, no rate limit, 4 requests in flight.
    pub fn new(input: PathBuf, target: Target) -> Self {
        Options {
            input,
            target,
            use_existing: false,
            max_writes_per_second: None,
            concurrency: 4,
        }
    }
}

/// Restores every table of the dump. The summary lists what was created and written,
/// also when the run stopped with an error.
pub fn restore(opts: &Options) -> (Summary, Result<(), AwsRestoreError>) {
    let mut summary = Summary::new("dynamodb", "table", "item");
    let r = run(opts, &mut summary);
    (summary, r)
}

fn run(opts: &Options, summary: &mut Summary) -> Result<(), AwsRestoreError> {
    let manifest = aws::dump_manifest(&opts.input)?;
    let rt = aws::runtime()?;
    let client = Client::new(&aws::load_config(&rt, &opts.target));
    let mut r = Restorer {
        rt: &rt,
        client,
        opts,
        summary,
        table: None,
        batch: Vec::new(),
        batch_keys: HashSet::new(),
        inflight: JoinSet::new(),
        limit: opts.max_writes_per_second.map(TokenBucket::new),
    };
    let walked = walk(
        &opts.input,
        &WalkOptions {
            jsonl: manifest.dynamodb_jsonl,
        },
        &mut r,
    );
    // Whatever stopped the walk, requests already sent are awaited and counted.
    let drained = r.drain();
    walked.and(drained)
}

/// The walk's visitor: creates tables, batches items.
struct Restorer<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: Client,
    opts: &'a Options,
    summary: &'a mut Summary,
    table: Option<String>,
    batch: Vec<WriteRequest>,
    /// Internal keys in `batch`: a request must not name one item twice.
    batch_keys: HashSet<Vec<u8>>,
    inflight: JoinSet<write::Outcome>,
    limit: Option<TokenBucket>,
}

impl Restorer<'_> {
    fn batch_size(&self) -> usize {
        self.limit
            .as_ref()
            .map_or(BATCH_ITEMS, |l| l.max_batch().clamp(1, BATCH_ITEMS))
    }

    /// Sends the current batch (waiting for a free slot and for the rate limit).
    fn flush(&mut self) -> Result<(), AwsRestoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let Some(table) = self.table.clone() else {
            return Ok(());
        };
        while self.inflight.len() >= self.opts.concurrency.max(1) {
            self.join_one()?;
        }
        let items = std::mem::take(&mut self.batch);
        self.batch_keys.clear();
        if let Some(l) = self.limit.as_mut() {
            std::thread::sleep(l.reserve(items.len(), Instant::now()));
        }
        let client = self.client.clone();
        self.inflight
            .spawn_on(write::batch(client, table, items), self.rt.handle());
        Ok(())
    }

    /// Waits for one request in flight and counts what it wrote.
    fn join_one(&mut self) -> Result<(), AwsRestoreError> {
        let Some(done) = self.rt.block_on(self.inflight.join_next()) else {
            return Ok(());
        };
        let out = done.unwrap_or_else(|e| write::Outcome {
            table: String::new(),
            written: 0,
            result: Err(AwsRestoreError::Runtime(std::io::Error::other(
                e.to_string(),
            ))),
        });
        self.summary.add(&out.table, out.written, 0);
        out.result
    }

    /// Waits for every request in flight; the first error is returned, after all were
    /// counted.
    fn drain(&mut self) -> Result<(), AwsRestoreError> {
        let mut first = Ok(());
        while !self.inflight.is_empty() {
            if let Err(e) = self.join_one() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }

    /// Creates the table (or accepts an existing one) and waits until it is active.
    fn create(&mut self, schema: &DynamoTableSchema, shown: &str) -> Result<(), AwsRestoreError> {
        let name = schema.table_name.clone();
        let shape = convert::create_table(schema)
            .map_err(|why| ReverseError::invalid(shown, format!("cannot be restored: {why}")))?;
        let sent = self.rt.block_on(
            self.client
                .create_table()
                .table_name(&name)
                .set_key_schema(Some(shape.key_schema))
                .set_attribute_definitions(Some(shape.attribute_definitions))
                .set_global_secondary_indexes(
                    Some(shape.global_secondary_indexes).filter(|g| !g.is_empty()),
                )
                .billing_mode(shape.billing_mode)
                .send(),
        );
        let created = match sent {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                if !self.opts.use_existing {
                    return Err(AwsRestoreError::Exists {
                        service: "dynamodb",
                        what: format!("table {name:?}"),
                    });
                }
                false
            }
            Err(e) => return Err(AwsRestoreError::call("dynamodb", "CreateTable", &name, e)),
        };
        self.summary.begin(&name, created);
        self.wait_active(&name)
    }

    /// Polls `DescribeTable` until the table and its indexes are active.
    fn wait_active(&self, name: &str) -> Result<(), AwsRestoreError> {
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut pause = Duration::from_millis(50);
        loop {
            let d = self
                .rt
                .block_on(self.client.describe_table().table_name(name).send())
                .map_err(|e| AwsRestoreError::call("dynamodb", "DescribeTable", name, e))?;
            let t = d.table();
            let active = t.and_then(|t| t.table_status()) == Some(&TableStatus::Active)
                && t.is_none_or(|t| {
                    t.global_secondary_indexes().iter().all(|g| {
                        g.index_status()
                            .is_none_or(|s| *s == aws_sdk_dynamodb::types::IndexStatus::Active)
                    })
                });
            if active {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(AwsRestoreError::Call {
                    service: "dynamodb",
                    call: "DescribeTable",
                    target: name.to_string(),
                    why: "the table did not become ACTIVE within 10 minutes".into(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

impl TableVisitor for Restorer<'_> {
    type Error = AwsRestoreError;

    fn table(&mut self, schema: &DynamoTableSchema, shown: &str) -> Result<(), AwsRestoreError> {
        self.create(schema, shown)?;
        self.table = Some(schema.table_name.clone());
        Ok(())
    }

    fn item(&mut self, it: DynamoItem, key: Vec<u8>, shown: &str) -> Result<(), AwsRestoreError> {
        let attrs = convert::item(&it)
            .map_err(|why| ReverseError::invalid(shown, format!("invalid item json: {why}")))?;
        if self.batch_keys.contains(&key) || self.batch.len() >= self.batch_size() {
            self.flush()?;
        }
        let put = PutRequest::builder()
            .set_item(Some(attrs))
            .build()
            .map_err(|e| ReverseError::invalid(shown, format!("invalid item json: {e}")))?;
        self.batch
            .push(WriteRequest::builder().put_request(put).build());
        self.batch_keys.insert(key);
        Ok(())
    }

    fn table_done(&mut self) -> Result<(), AwsRestoreError> {
        self.flush()?;
        self.drain()
    }
}

//! `restore sqs`: replays `sqs/<queue>/` into SQS or a compatible server (elastickv's
//! SQS adapter, moto, ElasticMQ) through the AWS SDK.
//!
//! The tree is read by the same walker as `encode` ([`elastickv_backup_reverse::sqs::walk`]). Per
//! queue: `CreateQueue` with the standard/FIFO attributes of `_queue.json`, then every
//! message of `messages.jsonl` with `SendMessage`, one at a time in file order (send
//! order), so each FIFO message group keeps its order; FIFO messages keep their group
//! and deduplication ids (a message without one gets its message id, so equal bodies
//! stay two messages under content-based deduplication). Standard-queue messages are sent with no delay:
//! they were due already. When every queue exists, redrive policies are set with the
//! dead-letter ARN of the restored queue. The server assigns new message ids, send
//! times and receive state; those cannot be restored.

mod attrs;

use crate::aws::{self, AwsRestoreError, Summary, Target};
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;
use elastickv_backup_engine::decode::sqs::records::{Message, QueueMeta};
use elastickv_backup_reverse::sqs::{walk, QueueVisitor};
use elastickv_backup_reverse::ReverseError;
use std::path::PathBuf;

/// What to restore, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The dump directory (holding MANIFEST.json and sqs/).
    pub input: PathBuf,
    /// The server.
    pub target: Target,
    /// Send into queues that already exist instead of stopping.
    pub use_existing: bool,
}

impl Options {
    /// Defaults: refuse existing queues.
    pub fn new(input: PathBuf, target: Target) -> Self {
        Options {
            input,
            target,
            use_existing: false,
        }
    }
}

/// Restores every queue of the dump. The summary lists what was created and sent, also
/// when the run stopped with an error.
pub fn restore(opts: &Options) -> (Summary, Result<(), AwsRestoreError>) {
    let mut summary = Summary::new("sqs", "queue", "message");
    let r = run(opts, &mut summary);
    (summary, r)
}

fn run(opts: &Options, summary: &mut Summary) -> Result<(), AwsRestoreError> {
    aws::dump_manifest(&opts.input)?;
    let rt = aws::runtime()?;
    let client = Client::new(&aws::load_config(&rt, &opts.target));
    let mut r = Restorer {
        rt: &rt,
        client,
        opts,
        summary,
        queue: None,
        redrive: Vec::new(),
    };
    walk(&opts.input, &mut r)?;
    r.set_redrive_policies()
}

/// The queue being restored.
struct Current {
    name: String,
    url: String,
    meta: QueueMeta,
}

/// The walk's visitor: creates queues, sends messages.
struct Restorer<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: Client,
    opts: &'a Options,
    summary: &'a mut Summary,
    queue: Option<Current>,
    /// `(queue name, url, redrive policy, redrive allow policy)` to set at the end.
    redrive: Vec<(String, String, String, String)>,
}

impl Restorer<'_> {
    /// The URL of queue `name`, `None` when it does not exist.
    fn url_of(&self, name: &str) -> Result<Option<String>, AwsRestoreError> {
        match self
            .rt
            .block_on(self.client.get_queue_url().queue_name(name).send())
        {
            Ok(o) => Ok(o.queue_url().map(str::to_string)),
            // Servers on the older query protocol name the error by its legacy code.
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_queue_does_not_exist()
                        || s.code().is_some_and(|c| c.contains("NonExistentQueue"))
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(AwsRestoreError::call("sqs", "GetQueueUrl", name, e)),
        }
    }

    /// Points each restored queue's redrive policy at its restored dead-letter queue.
    fn set_redrive_policies(&mut self) -> Result<(), AwsRestoreError> {
        for (name, url, policy, allow) in std::mem::take(&mut self.redrive) {
            let mut set = std::collections::HashMap::new();
            if !policy.is_empty() {
                let rewritten = attrs::dead_letter_queue(&policy).and_then(|dlq| {
                    let arn = self.arn_of(&dlq)?;
                    attrs::redrive_policy(&policy, &arn)
                });
                match rewritten {
                    Ok(p) => {
                        set.insert(QueueAttributeName::RedrivePolicy, p);
                    }
                    Err(why) => self
                        .summary
                        .warnings
                        .push(format!("queue {name}: redrive policy not restored: {why}")),
                }
            }
            if !allow.is_empty() {
                if allow.contains("arn:") {
                    self.summary.warnings.push(format!(
                        "queue {name}: redrive allow policy not restored: it names source queues by ARN"
                    ));
                } else {
                    set.insert(QueueAttributeName::RedriveAllowPolicy, allow);
                }
            }
            if set.is_empty() {
                continue;
            }
            self.rt
                .block_on(
                    self.client
                        .set_queue_attributes()
                        .queue_url(&url)
                        .set_attributes(Some(set))
                        .send(),
                )
                .map_err(|e| AwsRestoreError::call("sqs", "SetQueueAttributes", &name, e))?;
        }
        Ok(())
    }

    /// The ARN of queue `name` on the target (`Err` says why it is unknown).
    fn arn_of(&self, name: &str) -> Result<String, String> {
        let url = self
            .url_of(name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("dead-letter queue {name:?} does not exist on the target"))?;
        let out = self
            .rt
            .block_on(
                self.client
                    .get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .send(),
            )
            .map_err(|e| AwsRestoreError::call("sqs", "GetQueueAttributes", name, e).to_string())?;
        out.attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| format!("the server gave no ARN for queue {name:?}"))
    }
}

impl QueueVisitor for Restorer<'_> {
    type Error = AwsRestoreError;

    fn queue(&mut self, meta: &QueueMeta, shown: &str) -> Result<(), AwsRestoreError> {
        let name = String::from_utf8(meta.name.clone())
            .map_err(|_| ReverseError::invalid(shown, "the queue name is not UTF-8"))?;
        let created;
        let url = match self.url_of(&name)? {
            Some(url) => {
                if !self.opts.use_existing {
                    return Err(AwsRestoreError::Exists {
                        service: "sqs",
                        what: format!("queue {name:?}"),
                    });
                }
                created = false;
                url
            }
            None => {
                let out = self
                    .rt
                    .block_on(
                        self.client
                            .create_queue()
                            .queue_name(&name)
                            .set_attributes(Some(attrs::queue_attributes(meta)))
                            .send(),
                    )
                    .map_err(|e| AwsRestoreError::call("sqs", "CreateQueue", &name, e))?;
                created = true;
                out.queue_url()
                    .map(str::to_string)
                    .ok_or_else(|| AwsRestoreError::Call {
                        service: "sqs",
                        call: "CreateQueue",
                        target: name.clone(),
                        why: "the server returned no queue URL".into(),
                    })?
            }
        };
        self.summary.begin(&name, created);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        if !meta.redrive_policy.is_empty() || !meta.redrive_allow_policy.is_empty() {
            self.redrive.push((
                name.clone(),
                url.clone(),
                text(&meta.redrive_policy),
                text(&meta.redrive_allow_policy),
            ));
        }
        self.queue = Some(Current {
            name,
            url,
            meta: meta.clone(),
        });
        Ok(())
    }

    fn message(
        &mut self,
        m: Message,
        _partition: Option<u32>,
        shown: &str,
        n: u64,
    ) -> Result<(), AwsRestoreError> {
        let Some(q) = self.queue.as_ref() else {
            return Err(ReverseError::invalid(shown, "a message before its queue").into());
        };
        let bad = |why: String| ReverseError::invalid(shown, format!("message {n}: {why}"));
        let body = String::from_utf8(m.body)
            .map_err(|_| bad("the body is not UTF-8 text: SQS cannot carry it".into()))?;
        let mut req = self
            .client
            .send_message()
            .queue_url(&q.url)
            .message_body(body);
        for (k, v) in &m.message_attributes {
            let name = String::from_utf8_lossy(k).into_owned();
            let a = attrs::message_attribute(v)
                .map_err(|e| bad(format!("message attribute {name:?}: {e}")))?;
            req = req.message_attributes(name, a);
        }
        if q.meta.is_fifo {
            if m.message_group_id.is_empty() {
                return Err(bad("a FIFO message without message_group_id".into()).into());
            }
            req = req.message_group_id(String::from_utf8_lossy(&m.message_group_id));
            // Without an id of its own a message is deduplicated by its message id, not
            // by content: two equal bodies sent apart are two messages, and a re-run
            // within SQS's 5-minute window sends nothing twice.
            let dedup = if m.message_deduplication_id.is_empty() {
                &m.message_id
            } else {
                &m.message_deduplication_id
            };
            req = req.message_deduplication_id(String::from_utf8_lossy(dedup));
        } else {
            req = req.delay_seconds(0);
        }
        let name = q.name.clone();
        self.rt
            .block_on(req.send())
            .map_err(|e| AwsRestoreError::call("sqs", "SendMessage", &name, e))?;
        self.summary.add(&name, 1, 0);
        Ok(())
    }

    fn queue_done(&mut self) -> Result<(), AwsRestoreError> {
        self.queue = None;
        Ok(())
    }
}

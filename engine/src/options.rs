//! What the user asked for: the decode options shared by `decode` and `dump`.

use elastickv_backup_format::AdapterKind;

/// DynamoDB output layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdbLayout {
    /// One JSON file per item (upstream's layout).
    PerItem,
    /// Items bundled into `items/data-<NNNNN>.jsonl` parts of at most `part_bytes` each.
    Jsonl {
        /// Size limit of one part.
        part_bytes: u64,
    },
}

/// Default bundle part size (64 MiB).
pub const DEFAULT_BUNDLE_BYTES: u64 = 64 << 20;

/// One `--scope` restriction: only this table/bucket/db/queue of that adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The adapter the scope belongs to.
    pub adapter: AdapterKind,
    /// Table, bucket, queue name, or Redis database number as text.
    pub name: Vec<u8>,
}

/// Options that shape the logical output.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Enabled adapters (in any order; output order is fixed).
    pub adapters: Vec<AdapterKind>,
    /// Optional scope restrictions; empty = everything of the enabled adapters.
    pub scopes: Vec<Scope>,
    /// S3: emit in-flight multipart uploads.
    pub include_incomplete_uploads: bool,
    /// S3: emit orphan blobs.
    pub include_orphans: bool,
    /// SQS: keep live visibility fields.
    pub preserve_sqs_visibility: bool,
    /// SQS: emit `_internals/side_records.jsonl`.
    pub include_sqs_side_records: bool,
    /// S3: rename keys ending in the sidecar suffix instead of failing.
    pub rename_collisions: bool,
    /// DynamoDB layout.
    pub dynamodb_layout: DdbLayout,
    /// Emit values whose MVCC expiry has passed (upstream's behaviour).
    pub include_expired: bool,
    /// `--cluster-id` for MANIFEST.json.
    pub cluster_id: String,
    /// The digest the checksum file lists (`--checksums`): MANIFEST.json's
    /// `checksum_algorithm` says which, and the sink must hash with it.
    pub checksums: crate::sinks::DigestKind,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            adapters: AdapterKind::ALL.to_vec(),
            scopes: Vec::new(),
            include_incomplete_uploads: false,
            include_orphans: false,
            preserve_sqs_visibility: false,
            include_sqs_side_records: false,
            rename_collisions: false,
            dynamodb_layout: DdbLayout::PerItem,
            include_expired: false,
            cluster_id: String::new(),
            checksums: crate::sinks::DigestKind::Sha256,
        }
    }
}

impl DecodeOptions {
    /// Whether `adapter` is enabled.
    pub fn enabled(&self, adapter: AdapterKind) -> bool {
        self.adapters.contains(&adapter)
    }

    /// Whether a scope (table, bucket, queue, db) of `adapter` is selected by `--scope`.
    pub fn scope_allows(&self, adapter: AdapterKind, name: &[u8]) -> bool {
        let mut any = false;
        for s in self.scopes.iter().filter(|s| s.adapter == adapter) {
            any = true;
            if s.name == name {
                return true;
            }
        }
        !any
    }
}

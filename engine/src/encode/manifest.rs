//! `MANIFEST.json` (docs/format/00-container.md §6, docs/format/50-live-cluster.md §5): upstream's fields in upstream's order,
//! then ours (`producer`), rendered exactly as Go's `json.MarshalIndent` would.

use super::json::JsonWriter;
use crate::options::{DdbLayout, DecodeOptions};
use crate::sinks::DigestKind;
use elastickv_backup_format::AdapterKind;
use time::OffsetDateTime;

/// Phase 0: offline snapshot decode.
pub const PHASE_SNAPSHOT: &str = "phase0-snapshot-decode";
/// Phase 1: live dump under a pinned read timestamp.
pub const PHASE_LIVE: &str = "phase1-live-pinned";

/// Live-dump fields (`live` object).
#[derive(Debug, Clone, Default)]
pub struct LiveInfo {
    /// The cluster-wide read timestamp.
    pub read_ts: u64,
    /// Hex SHA-256 of the pin token (absent for unpinned dumps).
    pub pin_token_sha256: Option<String>,
    /// Ours: `Some(false)` marks an unpinned best-effort dump.
    pub pinned: Option<bool>,
}

/// One input shard as recorded in our `producer.inputs` extension.
#[derive(Debug, Clone)]
pub struct InputInfo {
    /// Path or group name.
    pub name: String,
    /// Container format: a snapshot's [`ContainerFormat::name`] (its magic), or `grpc`.
    ///
    /// [`ContainerFormat::name`]: elastickv_backup_format::container::ContainerFormat::name
    pub format: String,
    /// The shard's read timestamp.
    pub read_ts: u64,
    /// Applied index from the file name, if any.
    pub snapshot_index: Option<u64>,
}

/// Everything MANIFEST.json says.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// [`PHASE_SNAPSHOT`] or [`PHASE_LIVE`].
    pub phase: &'static str,
    /// Omitted when empty.
    pub elastickv_version: String,
    /// Omitted when empty.
    pub cluster_id: String,
    /// Omitted when 0.
    pub snapshot_index: u64,
    /// Omitted when 0.
    pub last_commit_ts: u64,
    /// Emission time.
    pub wall_time: OffsetDateTime,
    /// `source.fsm_path` (phase 0).
    pub fsm_path: Option<String>,
    /// `live` (phase 1).
    pub live: Option<LiveInfo>,
    /// Enabled adapters.
    pub adapters: Vec<AdapterKind>,
    /// Flags recorded under `exclusions`.
    pub opts: DecodeOptions,
    /// Ours: top-level `consistency` marker for unpinned live dumps.
    pub consistency: Option<String>,
    /// Ours: the shards that fed the dump.
    pub inputs: Vec<InputInfo>,
}

/// RFC 3339 UTC with nanoseconds, trailing zeros (and an all-zero fraction) dropped, as
/// Go's `time.RFC3339Nano`.
pub fn rfc3339_nano(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let ns = t.nanosecond();
    if ns != 0 {
        let frac = format!("{ns:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

impl Manifest {
    /// Renders the file's bytes (ending in one `\n`).
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        let mut w = JsonWriter::pretty(&mut out);
        w.begin_object();
        w.key("format_version").u64(1);
        w.key("phase").string(self.phase);
        if !self.elastickv_version.is_empty() {
            w.key("elastickv_version").string(&self.elastickv_version);
        }
        if !self.cluster_id.is_empty() {
            w.key("cluster_id").string(&self.cluster_id);
        }
        if self.snapshot_index != 0 {
            w.key("snapshot_index").u64(self.snapshot_index);
        }
        if self.last_commit_ts != 0 {
            w.key("last_commit_ts").u64(self.last_commit_ts);
        }
        w.key("wall_time_iso").string(&rfc3339_nano(self.wall_time));
        if let Some(p) = &self.fsm_path {
            w.key("source").begin_object();
            w.key("fsm_path").string(p);
            w.end_object();
        }
        if let Some(l) = &self.live {
            w.key("live").begin_object();
            w.key("read_ts").u64(l.read_ts);
            if let Some(h) = &l.pin_token_sha256 {
                w.key("pin_token_sha256").string(h);
            }
            if let Some(p) = l.pinned {
                w.key("pinned").bool(p);
            }
            w.end_object();
        }
        w.key("adapters").begin_object();
        for a in AdapterKind::ALL {
            if self.adapters.contains(&a) {
                w.key(a.name()).begin_object().end_object();
            }
        }
        w.end_object();
        let o = &self.opts;
        w.key("exclusions").begin_object();
        w.key("include_incomplete_uploads")
            .bool(o.include_incomplete_uploads);
        w.key("include_orphans").bool(o.include_orphans);
        w.key("preserve_sqs_visibility")
            .bool(o.preserve_sqs_visibility);
        w.key("include_sqs_side_records")
            .bool(o.include_sqs_side_records);
        if o.rename_collisions {
            w.key("rename_s3_collisions").bool(true);
        }
        w.end_object();
        let (algorithm, format) = match self.opts.checksums {
            DigestKind::Sha256 => ("sha256", "sha256sum"),
            DigestKind::Blake3 => ("blake3", "b3sum"),
        };
        w.key("checksum_algorithm").string(algorithm);
        w.key("checksum_format").string(format);
        w.key("encoded_filename_charset")
            .string("rfc3986-unreserved-plus-percent");
        w.key("key_segment_max_bytes").u64(240);
        w.key("s3_meta_suffix").string(".elastickv-meta.json");
        w.key("s3_collision_strategy").string("leaf-data-suffix");
        w.key("dynamodb_layout").string(match o.dynamodb_layout {
            DdbLayout::PerItem => "per-item",
            DdbLayout::Jsonl { .. } => "jsonl",
        });
        // --- our extensions (after every upstream field; upstream readers ignore them) ---
        if let Some(c) = &self.consistency {
            w.key("consistency").string(c);
        }
        w.key("producer").begin_object();
        w.key("name").string("elastickv-backup");
        w.key("version").string(env!("CARGO_PKG_VERSION"));
        w.key("include_expired").bool(o.include_expired);
        if let DdbLayout::Jsonl { part_bytes } = o.dynamodb_layout {
            w.key("dynamodb_bundle_bytes").u64(part_bytes);
        }
        if !o.scopes.is_empty() {
            w.key("scopes").begin_array();
            for s in &o.scopes {
                let mut v = s.adapter.name().as_bytes().to_vec();
                v.push(b':');
                v.extend_from_slice(&s.name);
                w.string_bytes(&v);
            }
            w.end_array();
        }
        if !self.inputs.is_empty() {
            w.key("inputs").begin_array();
            for i in &self.inputs {
                w.begin_object();
                w.key("name").string(&i.name);
                w.key("format").string(&i.format);
                w.key("read_ts").u64(i.read_ts);
                if let Some(x) = i.snapshot_index {
                    w.key("snapshot_index").u64(x);
                }
                w.end_object();
            }
            w.end_array();
        }
        w.end_object();
        w.end_object();
        w.newline();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn wall_time_format() {
        assert_eq!(
            rfc3339_nano(datetime!(2026-04-29 15:42:11.094 UTC)),
            "2026-04-29T15:42:11.094Z"
        );
        assert_eq!(
            rfc3339_nano(datetime!(2026-01-02 03:04:05 UTC)),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(
            rfc3339_nano(datetime!(2026-01-02 03:04:05.123456789 UTC)),
            "2026-01-02T03:04:05.123456789Z"
        );
    }

    fn upstream_part(bytes: &[u8]) -> String {
        // Everything before our extension block, closed as upstream closes the object.
        let s = String::from_utf8(bytes.to_vec()).unwrap();
        let cut = s.find(",\n  \"producer\"").unwrap();
        format!("{}\n}}\n", &s[..cut])
    }

    #[test]
    fn tv15_exact_bytes() {
        let m = Manifest {
            phase: PHASE_SNAPSHOT,
            elastickv_version: "dev".into(),
            cluster_id: String::new(),
            snapshot_index: 64,
            last_commit_ts: 100,
            wall_time: datetime!(2026-04-29 15:42:11.094 UTC),
            fsm_path: Some("/data/fsm-snap/0000000000000064.fsm".into()),
            live: None,
            adapters: AdapterKind::ALL.to_vec(),
            opts: DecodeOptions::default(),
            consistency: None,
            inputs: vec![],
        };
        let up = upstream_part(&m.render());
        assert_eq!(up.len(), 807);
        use sha2::Digest;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(up.as_bytes())),
            "0b2137b48155f8c48fc000d5988cf90c029fed0fcc9ec2d85fafe9c4242ade4f"
        );
    }

    #[test]
    fn tv16_variant() {
        let opts = DecodeOptions {
            adapters: vec![AdapterKind::Redis],
            include_orphans: true,
            rename_collisions: true,
            dynamodb_layout: DdbLayout::Jsonl { part_bytes: 1 },
            ..DecodeOptions::default()
        };
        let m = Manifest {
            phase: PHASE_SNAPSHOT,
            elastickv_version: "v1.2.3".into(),
            cluster_id: "ek<&>\u{2028}\u{1}\u{8}\u{c}\t\"é\\".into(),
            snapshot_index: 0,
            last_commit_ts: 0,
            wall_time: datetime!(2026-05-01 00:00:00 UTC),
            fsm_path: Some("snap.bin".into()),
            live: None,
            adapters: vec![AdapterKind::Redis],
            opts,
            consistency: None,
            inputs: vec![],
        };
        let expected = "{\n  \"format_version\": 1,\n  \"phase\": \"phase0-snapshot-decode\",\n  \"elastickv_version\": \"v1.2.3\",\n  \"cluster_id\": \"ek<&>\\u2028\\u0001\\b\\f\\t\\\"é\\\\\",\n  \"wall_time_iso\": \"2026-05-01T00:00:00Z\",\n  \"source\": {\n    \"fsm_path\": \"snap.bin\"\n  },\n  \"adapters\": {\n    \"redis\": {}\n  },\n  \"exclusions\": {\n    \"include_incomplete_uploads\": false,\n    \"include_orphans\": true,\n    \"preserve_sqs_visibility\": false,\n    \"include_sqs_side_records\": false,\n    \"rename_s3_collisions\": true\n  },\n  \"checksum_algorithm\": \"sha256\",\n  \"checksum_format\": \"sha256sum\",\n  \"encoded_filename_charset\": \"rfc3986-unreserved-plus-percent\",\n  \"key_segment_max_bytes\": 240,\n  \"s3_meta_suffix\": \".elastickv-meta.json\",\n  \"s3_collision_strategy\": \"leaf-data-suffix\",\n  \"dynamodb_layout\": \"jsonl\"\n}\n";
        assert_eq!(upstream_part(&m.render()), expected);
    }
}

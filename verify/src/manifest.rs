//! The MANIFEST.json gate (docs/format/00-container.md §6), reporting every violated rule rather than the
//! first: `format_version` 1; a known `phase`; a parseable `wall_time_iso`; `adapters` and
//! `exclusions` objects with the four exclusion booleans; the policy strings; phase rules
//! (`live` only and always for phase 1, with a non-zero `read_ts`; `source` never for
//! phase 1). Unknown fields are ignored, as upstream's reader ignores them. A JSON type
//! that upstream's typed decoder would reject is reported as such.
//!
//! Beyond upstream: this verifier checks SHA-256 `sha256sum` lists and our BLAKE3 `b3sum`
//! lists (`CHECKSUMS.b3`), so any other `checksum_algorithm`/`checksum_format` is an
//! error here; and a live dump without a pin
//! (`live.pin_token_sha256` absent, or our `live.pinned: false`) is reported as a
//! warning — it is complete, but not a consistent point-in-time copy.

use super::report::Report;
use super::rfc3339;
use serde_json::{Map, Value};

const PATH: &[u8] = b"MANIFEST.json";

/// Phase 0 (snapshot decode).
pub const PHASE0: &str = "phase0-snapshot-decode";
/// Phase 1 (live dump).
pub const PHASE1: &str = "phase1-live-pinned";
/// Adapter names, in MANIFEST order.
pub const ADAPTERS: [&str; 4] = ["dynamodb", "s3", "redis", "sqs"];

/// What the rest of verification needs from a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    /// Adapters listed under `adapters` (present and not null).
    pub adapters: Vec<String>,
    /// `dynamodb_layout`, if valid.
    pub dynamodb_layout: Option<String>,
    /// The digest `checksum_algorithm` names, if it names a known one.
    pub checksums: Option<super::digest::Algo>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Typed field access that reports wrong types once; `Ok(None)` for absent or null.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: &'static str,
}

impl<'a> Fields<'a> {
    fn wrong(&self, r: &mut Report, key: &str, want: &str, v: &Value) {
        r.error(
            PATH,
            format!(
                "{}{key} must be {want}, found {}",
                self.prefix,
                type_name(v)
            ),
        );
    }

    fn str(&self, r: &mut Report, key: &str) -> Result<Option<&'a str>, ()> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => {
                self.wrong(r, key, "a string", v);
                Err(())
            }
        }
    }

    fn uint(&self, r: &mut Report, key: &str, max: u64) -> Result<Option<u64>, ()> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64().filter(|n| *n <= max) {
                Some(n) => Ok(Some(n)),
                None => {
                    let want = if max == u64::from(u32::MAX) {
                        "an unsigned 32-bit integer"
                    } else {
                        "an unsigned 64-bit integer"
                    };
                    self.wrong(r, key, want, v);
                    Err(())
                }
            },
        }
    }

    fn bool(&self, r: &mut Report, key: &str) -> Result<Option<bool>, ()> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => {
                self.wrong(r, key, "a boolean", v);
                Err(())
            }
        }
    }

    fn object(&self, r: &mut Report, key: &str) -> Result<Option<&'a Map<String, Value>>, ()> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(v) => {
                self.wrong(r, key, "an object", v);
                Err(())
            }
        }
    }

    /// A required non-empty string.
    fn required_str(&self, r: &mut Report, key: &str) -> Option<&'a str> {
        match self.str(r, key) {
            Ok(Some(s)) if !s.is_empty() => Some(s),
            Ok(_) => {
                r.error(PATH, format!("{}{key} is missing or empty", self.prefix));
                None
            }
            Err(()) => None,
        }
    }
}

/// Checks the manifest; `None` when it is missing or not a JSON object.
pub fn check(bytes: Option<&[u8]>, r: &mut Report) -> Option<ManifestInfo> {
    let Some(bytes) = bytes else {
        r.error(
            PATH,
            "missing: the dump is incomplete (a failed or interrupted run writes no MANIFEST.json)",
        );
        return None;
    };
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            r.error(PATH, format!("invalid manifest: not one JSON value ({e})"));
            return None;
        }
    };
    let Value::Object(obj) = &value else {
        r.error(
            PATH,
            format!(
                "invalid manifest: {} instead of an object",
                type_name(&value)
            ),
        );
        return None;
    };
    let f = Fields { obj, prefix: "" };

    // format_version first: a newer format's rules are unknown, so stop there.
    match obj.get("format_version") {
        None => r.error(PATH, "invalid manifest: format_version missing"),
        Some(Value::Null) => r.error(PATH, "invalid manifest: format_version is null"),
        Some(v) => match v.as_u64().filter(|n| *n <= u64::from(u32::MAX)) {
            Some(1) => {}
            Some(0) => {
                r.error(PATH, "unsupported format_version 0");
                return None;
            }
            Some(n) => {
                r.error(
                    PATH,
                    format!("unsupported format_version {n} (this build reads version 1; a newer producer wrote it)"),
                );
                return None;
            }
            None => f.wrong(r, "format_version", "an unsigned 32-bit integer", v),
        },
    }

    let phase = f.str(r, "phase").ok().flatten();
    match phase {
        Some(PHASE0 | PHASE1) => {}
        Some(p) => r.error(PATH, format!("invalid manifest: unknown phase {p:?}")),
        None if obj
            .get("phase")
            .is_some_and(|v| !v.is_string() && !v.is_null()) => {}
        None => r.error(PATH, "invalid manifest: phase missing"),
    }
    let _ = f.str(r, "elastickv_version");
    let _ = f.str(r, "cluster_id");
    let _ = f.uint(r, "snapshot_index", u64::MAX);
    let _ = f.uint(r, "last_commit_ts", u64::MAX);
    if let Some(t) = f.required_str(r, "wall_time_iso") {
        if !rfc3339::valid(t) {
            r.error(
                PATH,
                format!("invalid manifest: wall_time_iso {t:?} is not RFC 3339"),
            );
        }
    }

    let source = f.object(r, "source");
    if let Ok(Some(s)) = source {
        let sf = Fields {
            obj: s,
            prefix: "source.",
        };
        let _ = sf.str(r, "fsm_path");
        let _ = sf.str(r, "fsm_crc32c");
    }
    let live = f.object(r, "live");
    let mut live_pin: Option<(Option<&str>, Option<bool>)> = None;
    if let Ok(Some(l)) = live {
        let lf = Fields {
            obj: l,
            prefix: "live.",
        };
        let read_ts = lf.uint(r, "read_ts", u64::MAX);
        let pin = lf.str(r, "pin_token_sha256").ok().flatten();
        let pinned = lf.bool(r, "pinned").ok().flatten();
        live_pin = Some((pin, pinned));
        if phase == Some(PHASE1) && matches!(read_ts, Ok(None) | Ok(Some(0))) {
            r.error(
                PATH,
                "invalid manifest: phase1 live.read_ts must be non-zero",
            );
        }
    }
    match phase {
        Some(PHASE0) if matches!(live, Ok(Some(_))) => {
            r.error(PATH, "invalid manifest: phase0 must not set live")
        }
        Some(PHASE1) => {
            if matches!(source, Ok(Some(_))) {
                r.error(PATH, "invalid manifest: phase1 must not set source");
            }
            if matches!(live, Ok(None)) {
                r.error(PATH, "invalid manifest: phase1 must set live");
            }
        }
        _ => {}
    }
    if phase == Some(PHASE1) {
        if let Some((pin, pinned)) = live_pin {
            if pin.is_none_or(str::is_empty) || pinned == Some(false) {
                r.warn(
                    PATH,
                    "unpinned live dump: no read timestamp was pinned on the cluster, so the dump \
                     is a best-effort copy, not a consistent point-in-time snapshot",
                );
            }
        }
    }

    let mut adapters = Vec::new();
    match f.object(r, "adapters") {
        Ok(Some(a)) => {
            let af = Fields {
                obj: a,
                prefix: "adapters.",
            };
            for name in ADAPTERS {
                if let Ok(Some(_)) = af.object(r, name) {
                    adapters.push(name.to_string());
                }
            }
        }
        Ok(None) => r.error(PATH, "invalid manifest: adapters section missing"),
        Err(()) => {}
    }
    match f.object(r, "exclusions") {
        Ok(Some(e)) => {
            let ef = Fields {
                obj: e,
                prefix: "exclusions.",
            };
            for key in [
                "include_incomplete_uploads",
                "include_orphans",
                "preserve_sqs_visibility",
                "include_sqs_side_records",
            ] {
                if let Ok(None) = ef.bool(r, key) {
                    let why = if e.contains_key(key) {
                        "is null"
                    } else {
                        "missing"
                    };
                    r.error(PATH, format!("invalid manifest: exclusions.{key} {why}"));
                }
            }
            let _ = ef.bool(r, "rename_s3_collisions");
        }
        Ok(None) => r.error(PATH, "invalid manifest: exclusions section missing"),
        Err(()) => {}
    }

    let algo = f.required_str(r, "checksum_algorithm").and_then(|a| {
        let known = super::digest::Algo::from_manifest(a);
        if known.is_none() {
            r.error(
                PATH,
                format!("checksum_algorithm {a:?}: this verifier checks sha256 and blake3"),
            );
        }
        known
    });
    if let Some(fmt) = f.required_str(r, "checksum_format") {
        let want = algo.map(|a| a.manifest_names().1);
        match want {
            Some(w) if fmt != w => r.error(
                PATH,
                format!(
                    "checksum_format {fmt:?} does not go with checksum_algorithm (expected {w:?})"
                ),
            ),
            None if fmt != "sha256sum" && fmt != "b3sum" => r.error(
                PATH,
                format!("checksum_format {fmt:?}: this verifier reads sha256sum and b3sum lists"),
            ),
            _ => {}
        }
    }
    for key in [
        "encoded_filename_charset",
        "s3_meta_suffix",
        "s3_collision_strategy",
    ] {
        f.required_str(r, key);
    }
    match f.uint(r, "key_segment_max_bytes", u64::from(u32::MAX)) {
        Ok(Some(0)) | Ok(None) => r.error(
            PATH,
            "invalid manifest: key_segment_max_bytes is missing or zero",
        ),
        _ => {}
    }
    let layout = match f.str(r, "dynamodb_layout") {
        Ok(Some(l @ ("per-item" | "jsonl"))) => Some(l.to_string()),
        Ok(l) => {
            r.error(
                PATH,
                format!(
                    "invalid manifest: dynamodb_layout {:?} unsupported (per-item or jsonl)",
                    l.unwrap_or("")
                ),
            );
            None
        }
        Err(()) => None,
    };
    Some(ManifestInfo {
        adapters,
        dynamodb_layout: layout,
        checksums: algo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
  "format_version": 1,
  "phase": "phase0-snapshot-decode",
  "elastickv_version": "dev",
  "snapshot_index": 64,
  "last_commit_ts": 100,
  "wall_time_iso": "2026-04-29T15:42:11.094Z",
  "source": {
    "fsm_path": "/data/fsm-snap/0000000000000064.fsm"
  },
  "adapters": {
    "dynamodb": {},
    "s3": {},
    "redis": {},
    "sqs": {}
  },
  "exclusions": {
    "include_incomplete_uploads": false,
    "include_orphans": false,
    "preserve_sqs_visibility": false,
    "include_sqs_side_records": false
  },
  "checksum_algorithm": "sha256",
  "checksum_format": "sha256sum",
  "encoded_filename_charset": "rfc3986-unreserved-plus-percent",
  "key_segment_max_bytes": 240,
  "s3_meta_suffix": ".elastickv-meta.json",
  "s3_collision_strategy": "leaf-data-suffix",
  "dynamodb_layout": "per-item",
  "producer": {"name": "elastickv-backup"}
}
"#;

    fn run(text: &str) -> (Option<ManifestInfo>, Report) {
        let mut r = Report::default();
        let info = check(Some(text.as_bytes()), &mut r);
        (info, r)
    }

    fn edit(f: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut v: Value = serde_json::from_str(GOOD).unwrap();
        f(v.as_object_mut().unwrap());
        serde_json::to_string(&v).unwrap()
    }

    fn messages(r: &Report) -> String {
        r.problems
            .iter()
            .map(|p| p.message.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn tv15_manifest_passes() {
        let (info, r) = run(GOOD);
        assert!(r.problems.is_empty(), "{}", messages(&r));
        let info = info.unwrap();
        assert_eq!(info.adapters, ["dynamodb", "s3", "redis", "sqs"]);
        assert_eq!(info.dynamodb_layout.as_deref(), Some("per-item"));
    }

    #[test]
    fn format_version_gate() {
        for (fv, want) in [
            (None, "format_version missing"),
            (Some(Value::Null), "format_version is null"),
            (Some(0.into()), "unsupported format_version 0"),
            (Some(2.into()), "unsupported format_version 2"),
            (
                Some("1".into()),
                "format_version must be an unsigned 32-bit integer",
            ),
        ] {
            let text = edit(|o| match fv {
                None => {
                    o.remove("format_version");
                }
                Some(v) => {
                    o.insert("format_version".into(), v);
                }
            });
            let (_, r) = run(&text);
            assert!(messages(&r).contains(want), "{want}: {}", messages(&r));
            assert!(!r.ok());
        }
    }

    #[test]
    fn reports_every_violation() {
        let text = edit(|o| {
            o.insert("phase".into(), "phase9".into());
            o.insert("wall_time_iso".into(), "yesterday".into());
            o.remove("adapters");
            o.get_mut("exclusions")
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove("include_orphans");
            o.get_mut("exclusions")
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert("preserve_sqs_visibility".into(), Value::Null);
            o.insert("checksum_algorithm".into(), "".into());
            o.insert("key_segment_max_bytes".into(), 0.into());
            o.insert("dynamodb_layout".into(), "columnar".into());
            o.insert("s3_meta_suffix".into(), 5.into());
        });
        let (_, r) = run(&text);
        let m = messages(&r);
        for want in [
            "unknown phase \"phase9\"",
            "wall_time_iso \"yesterday\" is not RFC 3339",
            "adapters section missing",
            "exclusions.include_orphans missing",
            "exclusions.preserve_sqs_visibility is null",
            "checksum_algorithm is missing or empty",
            "key_segment_max_bytes is missing or zero",
            "dynamodb_layout \"columnar\" unsupported",
            "s3_meta_suffix must be a string, found a number",
        ] {
            assert!(m.contains(want), "{want} not in:\n{m}");
        }
        assert_eq!(r.errors(), 9, "{m}");
    }

    #[test]
    fn phase_rules_and_unpinned_warning() {
        let live = |pin: Option<&str>, pinned: Option<bool>, read_ts: u64| {
            edit(|o| {
                o.insert("phase".into(), PHASE1.into());
                o.remove("source");
                o.remove("snapshot_index");
                let mut l = Map::new();
                l.insert("read_ts".into(), read_ts.into());
                if let Some(p) = pin {
                    l.insert("pin_token_sha256".into(), p.into());
                }
                if let Some(p) = pinned {
                    l.insert("pinned".into(), p.into());
                }
                o.insert("live".into(), Value::Object(l));
            })
        };
        let (_, r) = run(&live(Some("ab"), None, 5));
        assert!(r.problems.is_empty(), "{}", messages(&r));
        for text in [live(None, None, 5), live(Some("ab"), Some(false), 5)] {
            let (_, r) = run(&text);
            assert!(r.ok());
            assert_eq!(r.warnings(), 1);
            assert!(messages(&r).contains("unpinned live dump"));
        }
        let (_, r) = run(&live(Some("ab"), None, 0));
        assert!(messages(&r).contains("live.read_ts must be non-zero"));
        let (_, r) = run(&edit(|o| {
            o.insert("live".into(), serde_json::json!({"read_ts": 1}));
        }));
        assert!(messages(&r).contains("phase0 must not set live"));
        let (_, r) = run(&edit(|o| {
            o.insert("phase".into(), PHASE1.into());
        }));
        let m = messages(&r);
        assert!(
            m.contains("phase1 must not set source") && m.contains("phase1 must set live"),
            "{m}"
        );
    }

    #[test]
    fn trailing_bytes_and_missing_file() {
        let (_, r) = run(&format!("{GOOD}x"));
        assert!(messages(&r).contains("not one JSON value"));
        let (_, r) = run("[1]");
        assert!(messages(&r).contains("an array instead of an object"));
        let mut r = Report::default();
        assert!(check(None, &mut r).is_none());
        assert!(messages(&r).contains("missing"));
    }
}

//! The JSON files of the S3 subtree (docs/format/20-s3.md §7–§7.6): `_bucket.json` and the object
//! sidecar `<body>.elastickv-meta.json`.
//!
//! Both are Go `json.MarshalIndent(v, "", "  ")` output, so unlike the JSONL files they
//! use Go's *HTML-safe* string escaping (`<`, `>`, `&` → `\u003c`, `\u003e`, `\u0026`)
//! and have no trailing newline.

use super::values::{BucketMeta, Manifest};

use crate::encode::json::write_str_html;

/// Writes one `  "key": ` member head (with the separating comma when not first).
struct Members<'a> {
    out: &'a mut Vec<u8>,
    indent: &'static str,
    first: bool,
}

impl<'a> Members<'a> {
    fn open(out: &'a mut Vec<u8>, indent: &'static str) -> Self {
        out.push(b'{');
        Members {
            out,
            indent,
            first: true,
        }
    }

    fn key(&mut self, k: &[u8]) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'\n');
        self.out.extend_from_slice(self.indent.as_bytes());
        write_str_html(self.out, k);
        self.out.extend_from_slice(b": ");
        self.out
    }

    fn str_member(&mut self, k: &str, v: &[u8]) {
        let o = self.key(k.as_bytes());
        write_str_html(o, v);
    }

    fn str_omitempty(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            self.str_member(k, v.as_bytes());
        }
    }

    /// Closes the object; `close_indent` is the parent's indentation.
    fn close(self, close_indent: &str) {
        if !self.first {
            self.out.push(b'\n');
            self.out.extend_from_slice(close_indent.as_bytes());
        }
        self.out.push(b'}');
    }
}

/// `_bucket.json` (§7.5): the name comes from the key, not from the value.
pub(crate) fn bucket_json(out: &mut Vec<u8>, name: &[u8], meta: &BucketMeta) {
    let mut m = Members::open(out, "  ");
    m.key(b"format_version").push(b'1');
    m.str_member("name", name);
    m.str_omitempty("owner", &meta.owner);
    m.str_omitempty("region", &meta.region);
    m.str_omitempty("acl", &meta.acl);
    m.close("");
}

/// The object sidecar (§7.6).
pub(crate) fn sidecar_json(out: &mut Vec<u8>, man: &Manifest) {
    let mut m = Members::open(out, "  ");
    m.key(b"format_version").push(b'1');
    m.str_omitempty("etag", &man.etag);
    let o = m.key(b"size_bytes");
    crate::encode::json::write_i64(o, man.size_bytes);
    if man.last_modified_hlc != 0 {
        let ts = format_hlc(man.last_modified_hlc);
        m.str_member("last_modified", ts.as_bytes());
    }
    m.str_omitempty("content_type", &man.content_type);
    m.str_omitempty("content_encoding", &man.content_encoding);
    m.str_omitempty("cache_control", &man.cache_control);
    m.str_omitempty("content_disposition", &man.content_disposition);
    if !man.user_metadata.is_empty() {
        let o = m.key(b"user_metadata");
        let mut inner = Members::open(o, "    ");
        for (k, v) in &man.user_metadata {
            inner.str_member_bytes(k.as_bytes(), v.as_bytes());
        }
        inner.close("  ");
    }
    m.close("");
}

impl Members<'_> {
    fn str_member_bytes(&mut self, k: &[u8], v: &[u8]) {
        let o = self.key(k);
        write_str_html(o, v);
    }
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `last_modified` (§7.4): the HLC's physical milliseconds as Go's `RFC3339Nano` in UTC,
/// trailing zeros of the fraction trimmed, no fraction when the milliseconds are 0.
pub(crate) fn format_hlc(hlc: u64) -> String {
    let ms = hlc >> 16;
    let secs = (ms / 1000) as i64;
    let frac = (ms % 1000) as u32;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut s = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    if frac != 0 {
        let f = format!("{frac:03}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::s3::values::decode_manifest;

    #[test]
    fn timestamps_spec_7_4() {
        assert_eq!(format_hlc(1), "1970-01-01T00:00:00Z");
        assert_eq!(format_hlc(65536), "1970-01-01T00:00:00.001Z");
        assert_eq!(format_hlc(1706238416937 << 16), "2024-01-26T03:06:56.937Z");
        assert_eq!(format_hlc(1706238416900 << 16), "2024-01-26T03:06:56.9Z");
        assert_eq!(format_hlc(1 << 63), "6429-10-17T02:45:55.328Z");
        assert_eq!(format_hlc(111820040892416123), "2024-01-26T03:06:56.937Z");
        assert!(format_hlc(u64::MAX).starts_with("10889-"));
    }

    #[test]
    fn tv1_sidecar_and_bucket() {
        let m = decode_manifest(br#"{"upload_id":"u1","etag":"\"5d41402abc4b2a76b9719d911017c592\"","size_bytes":5,"last_modified_hlc":111820040892416000,"content_type":"image/jpeg","user_metadata":{"z":"1","camera":"fx<30>&"},"parts":[]}"#).unwrap();
        let mut o = Vec::new();
        sidecar_json(&mut o, &m);
        let want = "{\n  \"format_version\": 1,\n  \"etag\": \"\\\"5d41402abc4b2a76b9719d911017c592\\\"\",\n  \"size_bytes\": 5,\n  \"last_modified\": \"2024-01-26T03:06:56.937Z\",\n  \"content_type\": \"image/jpeg\",\n  \"user_metadata\": {\n    \"camera\": \"fx\\u003c30\\u003e\\u0026\",\n    \"z\": \"1\"\n  }\n}";
        assert_eq!(String::from_utf8(o).unwrap(), want);
        assert_eq!(want.len(), 252);
        let meta = BucketMeta {
            generation: 1,
            owner: "alice".into(),
            region: "us-east-1".into(),
            acl: "private".into(),
        };
        let mut o = Vec::new();
        bucket_json(&mut o, b"photos", &meta);
        assert_eq!(o.len(), 110);
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "{\n  \"format_version\": 1,\n  \"name\": \"photos\",\n  \"owner\": \"alice\",\n  \"region\": \"us-east-1\",\n  \"acl\": \"private\"\n}"
        );
    }

    #[test]
    fn tv11_control_bytes() {
        let m = decode_manifest(br#"{"upload_id":"","size_bytes":0,"content_type":"text/plain\u2028","cache_control":"a\u0008b\u000cc\u001f"}"#).unwrap();
        let mut o = Vec::new();
        sidecar_json(&mut o, &m);
        let want = "{\n  \"format_version\": 1,\n  \"size_bytes\": 0,\n  \"content_type\": \"text/plain\\u2028\",\n  \"cache_control\": \"a\\bb\\fc\\u001f\"\n}";
        assert_eq!(String::from_utf8(o).unwrap(), want);
        assert_eq!(want.len(), 118);
    }
}

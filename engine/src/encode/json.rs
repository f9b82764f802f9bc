//! Byte-exact JSON output in the dialect of Go's `encoding/json` with HTML escaping off.
//!
//! Why not serde_json: the dump must be byte-identical to the upstream Go decoder, which
//! differs from serde_json in string escaping (U+2028/U+2029, invalid UTF-8 → U+FFFD,
//! lowercase `\u00xx`), float formatting and indentation. Everything here writes straight
//! into a caller-owned buffer so the hot path reuses one allocation per worker.

use elastickv_backup_gocompat::json::{plain_run, plain_run_html, utf8_len};

/// Appends `s` as a JSON string literal, Go style: invalid UTF-8 becomes U+FFFD, control
/// bytes use the short escapes where Go has them and `\u00xx` otherwise, U+2028/U+2029 are
/// escaped, `<`, `>`, `&` stay literal (HTML escaping disabled).
pub fn write_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    write_str_body(out, s);
    out.push(b'"');
}

/// Appends `s` as a JSON string literal with Go's *default* escaping (`json.Marshal`
/// without `SetEscapeHTML(false)`): as [`write_str`], plus `<`, `>`, `&` as `\u003c`,
/// `\u003e`, `\u0026`. Upstream writes some files (S3 sidecars, SQS records, Redis
/// collections) that way and others not, so both forms are needed byte for byte.
pub fn write_str_html(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    escape::<true>(out, s);
    out.push(b'"');
}

/// [`write_str_html`] for bytes that upstream writes as a string only when they are UTF-8
/// (and as a base64 envelope otherwise): writes the literal and returns true, or writes
/// nothing and returns false. Checking while escaping saves the separate UTF-8 pass.
pub fn write_utf8_str_html(out: &mut Vec<u8>, s: &[u8]) -> bool {
    let mark = out.len();
    out.push(b'"');
    if escape::<true>(out, s) {
        out.push(b'"');
        true
    } else {
        out.truncate(mark);
        false
    }
}

/// The inside of a JSON string literal (no quotes): the escaping rules of [`write_str`].
pub fn write_str_body(out: &mut Vec<u8>, s: &[u8]) {
    escape::<false>(out, s);
}

/// Escapes `s` into `out` in Go's dialect, HTML escaping on or off; returns false when `s`
/// held invalid UTF-8 (each bad byte was written as U+FFFD, as Go does).
fn escape<const HTML: bool>(out: &mut Vec<u8>, s: &[u8]) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut valid = true;
    let mut i = 0;
    let mut start = 0;
    loop {
        // Plain ASCII, eight bytes at a time: nothing to escape, nothing to validate.
        let rest = s.get(i..).unwrap_or_default();
        i += if HTML {
            plain_run_html(rest)
        } else {
            plain_run(rest)
        };
        let Some(&b) = s.get(i) else {
            break;
        };
        if b < 0x80 {
            // A control byte, `"` or `\`, or with HTML `<`, `>`, `&` (the run stops at
            // nothing else below 0x80).
            out.extend_from_slice(&s[start..i]);
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                _ => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xf) as usize]);
                }
            }
            i += 1;
            start = i;
            continue;
        }
        // Multi-byte: validate one UTF-8 sequence.
        let len = utf8_len(&s[i..]);
        if len == 0 {
            valid = false;
            out.extend_from_slice(&s[start..i]);
            out.extend_from_slice("\u{fffd}".as_bytes());
            i += 1;
            start = i;
            continue;
        }
        if len == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9) {
            out.extend_from_slice(&s[start..i]);
            out.extend_from_slice(if s[i + 2] == 0xa8 {
                b"\\u2028"
            } else {
                b"\\u2029"
            });
            i += 3;
            start = i;
            continue;
        }
        i += len;
    }
    out.extend_from_slice(&s[start..]);
    valid
}

/// Appends an unsigned integer.
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends a signed integer.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Below this magnitude every integer is a float and the float's shortest round-trip digits
/// are the integer's own digits (the rounding interval holds no other integer), so an
/// integral float prints as that integer.
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0; // 2^53

/// Appends a finite float the way Go's `encoding/json` renders a float64: shortest
/// round-trip digits, plain decimal for 1e-6 ≤ |x| < 1e21, otherwise exponent form with
/// `e-7`/`e+21` style exponents. Returns false (writing nothing) for NaN and ±Inf, which
/// Go's encoder refuses; callers decide how to represent those.
pub fn write_f64(out: &mut Vec<u8>, f: f64) -> bool {
    use std::io::Write as _;
    if !f.is_finite() {
        return false;
    }
    let abs = f.abs();
    if abs < EXACT_INTEGERS && f.trunc() == f {
        // Integral scores and numbers are the common case: no float formatting at all.
        if f == 0.0 && f.is_sign_negative() {
            out.extend_from_slice(b"-0");
        } else {
            write_i64(out, f as i64);
        }
        return true;
    }
    let start = out.len();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` gives the shortest digits with a bare exponent, e.g. "1.5e-7",
        // "1e300"; writing to a Vec cannot fail.
        let _ = write!(out, "{f:e}");
        let e = out[start..]
            .iter()
            .rposition(|&c| c == b'e')
            .map_or(out.len(), |p| start + p + 1);
        // Go prints a sign and at least two exponent digits, then its JSON encoder shortens
        // "e-07" to "e-7" (negative exponents only).
        if out.get(e) != Some(&b'-') {
            let digits = out.len() - e;
            let pad: &[u8] = if digits < 2 { b"+0" } else { b"+" };
            out.splice(e..e, pad.iter().copied());
        }
    } else {
        let _ = write!(out, "{f}");
    }
    true
}

/// A small streaming JSON builder producing exactly what Go's `json.Marshal` (compact) or
/// `json.MarshalIndent(v, "", "  ")` (pretty) would for the same sequence of values.
///
/// The caller drives it in document order: `begin_object`, `key`, a value, … `end_object`.
pub struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
    pretty: bool,
    /// Open containers, whether each already holds a member: a bit per level, so the
    /// writer allocates nothing for documents up to [`Levels::INLINE`] deep (every
    /// rendered file builds one writer).
    levels: Levels,
    /// A key was just written; the next value follows it directly.
    after_key: bool,
}

/// The open containers of a [`JsonWriter`]: one "holds a member" flag per level, the first
/// [`Levels::INLINE`] in a word, any deeper ones in a vector that is only allocated when a
/// document nests that far.
#[derive(Default)]
struct Levels {
    depth: usize,
    inline: u64,
    deeper: Vec<bool>,
}

impl Levels {
    const INLINE: usize = 64;

    fn open(&mut self) {
        if self.depth < Self::INLINE {
            self.inline &= !(1 << self.depth);
        } else {
            self.deeper.push(false);
        }
        self.depth += 1;
    }

    /// Closes the innermost level: whether it held a member (`false` at top level).
    fn close(&mut self) -> bool {
        let Some(d) = self.depth.checked_sub(1) else {
            return false;
        };
        self.depth = d;
        if d < Self::INLINE {
            self.inline & (1 << d) != 0
        } else {
            self.deeper.pop().unwrap_or(false)
        }
    }

    /// Marks the innermost level as holding a member: what it held before, `None` at top
    /// level.
    fn mark(&mut self) -> Option<bool> {
        let d = self.depth.checked_sub(1)?;
        if d < Self::INLINE {
            let had = self.inline & (1 << d) != 0;
            self.inline |= 1 << d;
            Some(had)
        } else {
            self.deeper
                .last_mut()
                .map(|has| std::mem::replace(has, true))
        }
    }
}

/// Indentation for the usual depths, written in one fixed-size copy (`newline_indent`).
const INDENT: &[u8; 32] = b"                                ";

impl<'a> JsonWriter<'a> {
    /// Compact output, as `json.Marshal`.
    pub fn compact(out: &'a mut Vec<u8>) -> Self {
        JsonWriter {
            out,
            pretty: false,
            levels: Levels::default(),
            after_key: false,
        }
    }

    /// Two-space indented output, as `json.MarshalIndent(v, "", "  ")`.
    pub fn pretty(out: &'a mut Vec<u8>) -> Self {
        JsonWriter {
            out,
            pretty: true,
            levels: Levels::default(),
            after_key: false,
        }
    }

    fn newline_indent(&mut self, depth: usize) {
        let len = self.out.len();
        if depth <= INDENT.len() / 2 {
            // One copy of a fixed size (a few vector moves, no call), then the excess cut.
            self.out.push(b'\n');
            self.out.extend_from_slice(INDENT);
            self.out.truncate(len + 1 + depth * 2);
            return;
        }
        self.out.push(b'\n');
        for _ in 0..depth {
            self.out.extend_from_slice(b"  ");
        }
    }

    fn before_value(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if let Some(had) = self.levels.mark() {
            if had {
                self.out.push(b',');
            }
            if self.pretty {
                self.newline_indent(self.levels.depth);
            }
        }
    }

    /// Writes an object member name from the code (a field of the format, not data): such
    /// names are plain ASCII and need no escaping, so they are copied as they are. Names
    /// that come from data go through [`JsonWriter::key_bytes`].
    #[inline]
    pub fn key(&mut self, k: &'static str) -> &mut Self {
        self.before_value();
        self.static_name(k);
        self.after_key = true;
        self
    }

    /// `"k":` (`"k": ` when pretty) for a member name from the code, copied as it is.
    #[inline]
    fn static_name(&mut self, k: &'static str) {
        debug_assert!(
            k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "{k:?} is not a plain member name"
        );
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out
            .extend_from_slice(if self.pretty { b"\": " } else { b"\":" });
    }

    /// Like [`JsonWriter::key`] for names that are arbitrary bytes (escaped as Go does).
    pub fn key_bytes(&mut self, k: &[u8]) -> &mut Self {
        self.before_value();
        write_str(self.out, k);
        self.out.push(b':');
        if self.pretty {
            self.out.push(b' ');
        }
        self.after_key = true;
        self
    }

    /// Opens `{`.
    pub fn begin_object(&mut self) -> &mut Self {
        self.before_value();
        self.out.push(b'{');
        self.levels.open();
        self
    }

    /// Closes `}`; an empty object renders as `{}`.
    pub fn end_object(&mut self) -> &mut Self {
        self.end(b'}')
    }

    /// Opens `[`.
    pub fn begin_array(&mut self) -> &mut Self {
        self.before_value();
        self.out.push(b'[');
        self.levels.open();
        self
    }

    /// Closes `]`; an empty array renders as `[]`.
    pub fn end_array(&mut self) -> &mut Self {
        self.end(b']')
    }

    fn end(&mut self, c: u8) -> &mut Self {
        let had = self.levels.close();
        if had && self.pretty {
            self.newline_indent(self.levels.depth);
        }
        self.out.push(c);
        self
    }

    /// A string value from UTF-8 text.
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.string_bytes(s.as_bytes())
    }

    /// A string value from arbitrary bytes (invalid UTF-8 → U+FFFD, as Go).
    pub fn string_bytes(&mut self, s: &[u8]) -> &mut Self {
        self.before_value();
        write_str(self.out, s);
        self
    }

    /// An unsigned integer value.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.before_value();
        write_u64(self.out, v);
        self
    }

    /// A signed integer value.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.before_value();
        write_i64(self.out, v);
        self
    }

    /// `true` / `false`.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.before_value();
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    /// `null`.
    #[cfg(test)]
    pub fn null(&mut self) -> &mut Self {
        self.before_value();
        self.out.extend_from_slice(b"null");
        self
    }

    /// Pre-rendered JSON (e.g. a number kept as its original text). The caller guarantees
    /// it is valid JSON in the right form (compact inside compact output).
    pub fn raw(&mut self, json: &[u8]) -> &mut Self {
        self.before_value();
        self.out.extend_from_slice(json);
        self
    }

    /// An object with exactly one member, `{"key": value}`, where `value` writes a scalar
    /// (string, number, bool) straight into the output: the same bytes as `begin_object`,
    /// `key`, the value and `end_object`, in one call (a DynamoDB attribute value is such
    /// an object, and an item has dozens).
    #[inline]
    pub fn object_of_one(
        &mut self,
        key: &'static str,
        value: impl FnOnce(&mut Vec<u8>),
    ) -> &mut Self {
        self.before_value();
        let depth = self.levels.depth;
        self.out.push(b'{');
        if self.pretty {
            self.newline_indent(depth + 1);
        }
        self.static_name(key);
        value(self.out);
        if self.pretty {
            self.newline_indent(depth);
        }
        self.out.push(b'}');
        self
    }

    /// Pre-rendered JSON written by `f` straight into the output, for values whose text is
    /// produced by an encoder (base64) that would otherwise need a buffer of its own. The
    /// same guarantee as [`JsonWriter::raw`] is the caller's.
    pub fn raw_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.before_value();
        f(self.out);
        self
    }

    /// Finishes a top-level document with Go's trailing newline (`json.Encoder` style).
    pub fn newline(&mut self) -> &mut Self {
        self.out.push(b'\n');
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> String {
        let mut o = Vec::new();
        write_str(&mut o, b);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn escaping_matches_go() {
        assert_eq!(s(b"a<b>&"), "\"a<b>&\"");
        assert_eq!(
            s(b"\"\\\n\r\t\x08\x0c\x01\x1f"),
            r#""\"\\\n\r\t\b\f\u0001\u001f""#
        );
        assert_eq!(s("\u{2028}x\u{2029}".as_bytes()), r#""\u2028x\u2029""#);
        assert_eq!(s(b"a\xffb"), "\"a\u{fffd}b\"");
        assert_eq!(s("é".as_bytes()), "\"é\"");
        // Truncated multi-byte sequence: each byte replaced.
        assert_eq!(s(b"\xe2\x82"), "\"\u{fffd}\u{fffd}\"");
        // Surrogate encoded in UTF-8 is invalid in Go too.
        assert_eq!(s(b"\xed\xa0\x80"), "\"\u{fffd}\u{fffd}\u{fffd}\"");
    }

    /// Go's rules written the slow, obvious way (char by char through std's UTF-8 decoder,
    /// one U+FFFD per invalid byte), to check the word-at-a-time fast path against.
    fn reference(s: &[u8]) -> Vec<u8> {
        reference_with(s, false)
    }

    /// [`reference`], with `html` also `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`.
    fn reference_with(s: &[u8], html: bool) -> Vec<u8> {
        let mut o = b"\"".to_vec();
        for chunk in s.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '<' | '>' | '&' if html => {
                        o.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                    }
                    '"' => o.extend_from_slice(b"\\\""),
                    '\\' => o.extend_from_slice(b"\\\\"),
                    '\n' => o.extend_from_slice(b"\\n"),
                    '\r' => o.extend_from_slice(b"\\r"),
                    '\t' => o.extend_from_slice(b"\\t"),
                    '\u{8}' => o.extend_from_slice(b"\\b"),
                    '\u{c}' => o.extend_from_slice(b"\\f"),
                    '\u{2028}' => o.extend_from_slice(b"\\u2028"),
                    '\u{2029}' => o.extend_from_slice(b"\\u2029"),
                    c if (c as u32) < 0x20 => {
                        o.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                    }
                    c => o.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                }
            }
            for _ in chunk.invalid() {
                o.extend_from_slice("\u{fffd}".as_bytes());
            }
        }
        o.push(b'"');
        o
    }

    #[test]
    fn word_at_a_time_path_matches_the_byte_rules() {
        // Every byte value at every offset of a 19-byte string (two full words and a tail),
        // surrounded by plain text, and pairs of special bytes in one word.
        let specials: Vec<u8> = (0u8..=255).collect();
        for &b in &specials {
            for at in 0..19 {
                let mut v = b"abcdefghijklmnopqrs".to_vec();
                v[at] = b;
                assert_eq!(s(&v).into_bytes(), reference(&v), "byte {b:#04x} at {at}");
            }
        }
        let pieces: [&[u8]; 11] = [
            b"plain text ",
            b"<",
            b"a&b",
            b"\"",
            b"\\",
            b"\x1f",
            "é".as_bytes(),
            "\u{2028}".as_bytes(),
            b"\xe2\x82",
            b"\xff",
            b" ~\x7f ",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5000 {
            let mut v = Vec::new();
            for _ in 0..(seed % 7) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                v.extend_from_slice(pieces[(seed % 11) as usize]);
            }
            seed = seed.wrapping_add(1);
            assert_eq!(s(&v).into_bytes(), reference(&v), "{v:?}");
            let mut html = Vec::new();
            write_str_html(&mut html, &v);
            assert_eq!(html, reference_with(&v, true), "{v:?}");
            // The checked form writes the same literal for UTF-8 and nothing otherwise.
            let mut checked = b"x".to_vec();
            let utf8 = std::str::from_utf8(&v).is_ok();
            assert_eq!(write_utf8_str_html(&mut checked, &v), utf8, "{v:?}");
            if utf8 {
                assert_eq!(checked[1..], html[..], "{v:?}");
            } else {
                assert_eq!(checked, b"x", "{v:?}");
            }
        }
    }

    #[test]
    fn html_variant_escapes_every_occurrence() {
        let mut o = Vec::new();
        write_str_html(&mut o, b"<<a&b>>\xff\"&");
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "\"\\u003c\\u003ca\\u0026b\\u003e\\u003e\u{fffd}\\\"\\u0026\""
        );
    }

    fn f(v: f64) -> String {
        let mut o = Vec::new();
        assert!(write_f64(&mut o, v));
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn html_escaping_variant() {
        let mut o = Vec::new();
        write_str_html(&mut o, "a<b>&\u{2028}\n".as_bytes());
        assert_eq!(
            String::from_utf8(o).unwrap(),
            r#""a\u003cb\u003e\u0026\u2028\n""#
        );
    }

    #[test]
    fn floats_match_go() {
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(0.5), "0.5");
        assert_eq!(f(-1e300), "-1e+300");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(1.5e-7), "1.5e-7");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(1e-10), "1e-10");
        assert_eq!(f(123456789.125), "123456789.125");
        assert_eq!(f(-42.0), "-42");
        assert_eq!(f(9_007_199_254_740_991.0), "9007199254740991");
        assert_eq!(f(9_007_199_254_740_992.0), "9007199254740992");
        assert_eq!(f(1e5), "100000");
    }

    /// The integral fast path and the in-place exponent fix-up against Go's rules applied to
    /// Rust's own shortest formatting (`{}` / `{:e}`), on random finite floats of every
    /// magnitude and on random integral ones.
    #[test]
    fn floats_match_the_formatting_rules_everywhere() {
        fn rules(v: f64) -> String {
            let abs = v.abs();
            if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
                let s = format!("{v:e}");
                let (mant, exp) = s.split_once('e').unwrap();
                match exp.strip_prefix('-') {
                    Some(d) => format!("{mant}e-{d}"),
                    None => format!("{mant}e+{exp:0>2}"),
                }
            } else {
                format!("{v}")
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let any = f64::from_bits(next());
            if any.is_finite() {
                assert_eq!(f(any), rules(any), "{:#x}", any.to_bits());
            }
            let int = (next() >> (next() % 64)) as i64 as f64;
            assert_eq!(f(int), rules(int), "{int}");
            let scaled = int * 1e-3;
            assert_eq!(f(scaled), rules(scaled), "{scaled}");
        }
    }

    /// Nesting past the levels kept in one word and past one copy of indentation, checked
    /// against serde_json's pretty printer (two-space indent, `[]`/`{}` when empty: the
    /// same rules as `json.MarshalIndent`).
    #[test]
    fn deep_nesting_matches_an_independent_printer() {
        for depth in [1, 63, 64, 65, 100] {
            for pretty in [true, false] {
                let mut o = Vec::new();
                let mut w = if pretty {
                    JsonWriter::pretty(&mut o)
                } else {
                    JsonWriter::compact(&mut o)
                };
                let mut want = serde_json::json!([]);
                for level in 0..depth {
                    if level % 2 == 0 {
                        w.begin_array().u64(level as u64);
                    } else {
                        w.begin_object().key("k").u64(level as u64).key("v");
                    }
                }
                w.begin_array().end_array();
                for level in (0..depth).rev() {
                    if level % 2 == 0 {
                        w.string("end").end_array();
                        want = serde_json::json!([level, want, "end"]);
                    } else {
                        w.end_object();
                        want = serde_json::json!({"k": level, "v": want});
                    }
                }
                let want = if pretty {
                    serde_json::to_string_pretty(&want).unwrap()
                } else {
                    serde_json::to_string(&want).unwrap()
                };
                assert_eq!(String::from_utf8(o).unwrap(), want, "depth {depth}");
            }
        }
    }

    /// `object_of_one` writes what the four calls it stands for write, at the top level,
    /// inside an object and inside an array, pretty and compact.
    #[test]
    fn object_of_one_matches_the_long_form() {
        for pretty in [true, false] {
            let render = |short: bool| {
                let mut o = Vec::new();
                let mut w = if pretty {
                    JsonWriter::pretty(&mut o)
                } else {
                    JsonWriter::compact(&mut o)
                };
                let one = |w: &mut JsonWriter<'_>, v: &str| {
                    if short {
                        w.object_of_one("S", |out| write_str(out, v.as_bytes()));
                    } else {
                        w.begin_object().key("S").string(v).end_object();
                    }
                };
                w.begin_object().key("a");
                one(&mut w, "x\"y");
                w.key("l").begin_array();
                one(&mut w, "1");
                one(&mut w, "2");
                w.end_array().key("m").begin_object().key("n");
                one(&mut w, "");
                w.end_object().end_object();
                let mut top = Vec::new();
                let mut t = if pretty {
                    JsonWriter::pretty(&mut top)
                } else {
                    JsonWriter::compact(&mut top)
                };
                one(&mut t, "top");
                o.extend_from_slice(&top);
                String::from_utf8(o).unwrap()
            };
            assert_eq!(render(true), render(false), "pretty {pretty}");
        }
    }

    #[test]
    fn pretty_matches_marshal_indent() {
        let mut o = Vec::new();
        let mut w = JsonWriter::pretty(&mut o);
        w.begin_object();
        w.key("a").u64(1);
        w.key("b").begin_object().end_object();
        w.key("c")
            .begin_array()
            .string("x")
            .begin_object()
            .key("k")
            .null()
            .end_object()
            .end_array();
        w.key("d").begin_array().end_array();
        w.end_object();
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "{\n  \"a\": 1,\n  \"b\": {},\n  \"c\": [\n    \"x\",\n    {\n      \"k\": null\n    }\n  ],\n  \"d\": []\n}"
        );
        let mut o = Vec::new();
        let mut w = JsonWriter::compact(&mut o);
        w.begin_object()
            .key("a")
            .begin_array()
            .i64(-3)
            .bool(true)
            .end_array()
            .key("b")
            .string("q")
            .end_object();
        assert_eq!(String::from_utf8(o).unwrap(), r#"{"a":[-3,true],"b":"q"}"#);
    }
}

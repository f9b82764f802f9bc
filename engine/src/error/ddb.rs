//! The DynamoDB adapter's errors. Each message ends with upstream's error class text
//! (`backup: malformed DynamoDB key`, `backup: invalid !ddb|item value`, …) preceded by
//! upstream's detail, so the golden comparison of messages holds; our context (table,
//! key) is appended in parentheses.

use super::path::PathError;

/// Errors of the DynamoDB adapter.
#[derive(Debug, thiserror::Error)]
pub enum DdbError {
    /// A `!ddb|meta|table|` or `!ddb|item|` key that cannot be parsed.
    #[error("{detail}: backup: malformed DynamoDB key (key {key})")]
    MalformedKey {
        /// The whole user key, Go-quoted.
        key: String,
        /// What is wrong (upstream's wording).
        detail: String,
    },
    /// A table-schema value without the magic prefix or with a broken protobuf body.
    #[error("{detail}: backup: invalid !ddb|meta|table value (table {table})")]
    InvalidSchema {
        /// The table name, Go-quoted.
        table: String,
        /// What is wrong.
        detail: String,
    },
    /// An item value or item content that cannot be dumped.
    #[error("{detail}: backup: invalid !ddb|item value (table {table}, key {key})")]
    InvalidItem {
        /// The table name, Go-quoted.
        table: String,
        /// The item's user key, Go-quoted.
        key: String,
        /// What is wrong (upstream's wording).
        detail: String,
    },
    /// A table name whose encoded form cannot be a directory name (`.` or `..`).
    #[error("table {table}: cannot name its output directory: {source}")]
    UnsafeTableName {
        /// The table name, Go-quoted.
        table: String,
        /// Why the segment is refused.
        #[source]
        source: PathError,
    },
}

/// Quotes bytes the way Go's `%q` / `strconv.Quote` does (close enough for messages):
/// printable UTF-8 kept, the usual short escapes, `\x..` for invalid bytes and controls,
/// `\u....` for other non-printable characters.
pub fn go_quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\x07' => out.push_str("\\a"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x0b' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c if !is_go_printable(c) => {
                    if (c as u32) < 0x10000 {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    } else {
                        out.push_str(&format!("\\U{:08x}", c as u32));
                    }
                }
                c => out.push(c),
            }
        }
        for &x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `unicode.IsPrint` for non-ASCII: controls, non-ASCII white space and
/// the common format characters are not printable.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32, 0xad | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0xfeff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote(b"u1\x00\x01"), r#""u1\x00\x01""#);
        assert_eq!(go_quote(b"\xff\n"), r#""\xff\n""#);
        assert_eq!(go_quote("é\u{2028}".as_bytes()), "\"é\\u2028\"");
    }
}

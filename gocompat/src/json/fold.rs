//! Go's matching of JSON member names to struct fields.
//!
//! `encoding/json` prefers an exact name match and otherwise accepts a case-insensitive one
//! under its own folding, in which a few non-ASCII letters (`ſ`, Kelvin `K`, `ı`, `İ`)
//! equal ASCII ones. Field names here are ASCII, so folding only has to cover what can
//! become ASCII.

/// Go's `foldName` restricted to what can equal an ASCII field name: ASCII letters are
/// lower-cased, and the four non-ASCII runes whose `ToUpper(ToLower(r))` is ASCII map to
/// their ASCII letter (`ſ` → s, `K` (Kelvin) → k, `İ`/`ı` → i). Everything else is kept,
/// so it can never match a field name.
pub fn fold_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let rest = &name[i..];
        let special: Option<(&[u8], u8)> = [
            ("\u{17f}".as_bytes(), b's'),
            ("\u{212a}".as_bytes(), b'k'),
            ("\u{130}".as_bytes(), b'i'),
            ("\u{131}".as_bytes(), b'i'),
        ]
        .into_iter()
        .find(|(seq, _)| rest.starts_with(seq));
        match special {
            Some((seq, c)) => {
                out.push(c);
                i += seq.len();
            }
            None => {
                out.push(name[i].to_ascii_lowercase());
                i += 1;
            }
        }
    }
    out
}

/// Which of `fields` a member name fills: the exact match if any, else the first one equal
/// under [`fold_name`] (Go's rule), else `None` (the member is ignored).
pub fn field_index(key: &str, fields: &[&str]) -> Option<usize> {
    fields.iter().position(|f| *f == key).or_else(|| {
        let k = fold_name(key.as_bytes());
        fields.iter().position(|f| fold_name(f.as_bytes()) == k)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold_name("meſſage_İd".as_bytes()), b"message_id");
        assert_eq!(fold_name("\u{212a}".as_bytes()), b"k");
        assert_eq!(fold_name("é".as_bytes()), "é".as_bytes());
    }

    #[test]
    fn field_matching_prefers_exact_then_folds() {
        let f = ["upload_id", "etag", "size_bytes"];
        assert_eq!(field_index("etag", &f), Some(1));
        assert_eq!(field_index("ETag", &f), Some(1));
        assert_eq!(field_index("UPLOAD_ID", &f), Some(0));
        assert_eq!(field_index("ſize_bytes", &f), Some(2));
        assert_eq!(field_index("etagx", &f), None);
        assert_eq!(field_index("eta", &f), None);
        assert_eq!(field_index("étag", &f), None);
        // Two fields that fold alike: the exact one wins, else the first.
        assert_eq!(field_index("Id", &["id", "Id"]), Some(1));
        assert_eq!(field_index("ID", &["id", "Id"]), Some(0));
    }
}

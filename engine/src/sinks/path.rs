//! Validated relative output paths: the only way the engine names a file.
//!
//! A [`RelPath`] is a list of segments each checked to be a plain name (non-empty, not
//! `.`/`..`, no `/`, no NUL, at most 255 bytes), so no key — however hostile — can make a
//! sink write outside the output root.

use std::fmt;

pub use crate::error::path::{PathError, NAME_MAX};

/// A relative path under the output root, built only from validated segments.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RelPath {
    /// Segments joined by `/` (never leading or trailing `/`).
    joined: String,
}

/// Checks one segment.
pub fn check_segment(seg: &str) -> Result<(), PathError> {
    if seg.is_empty() {
        return Err(PathError::Empty(seg.to_string()));
    }
    if seg == "." || seg == ".." {
        return Err(PathError::Dot(seg.to_string()));
    }
    if seg.bytes().any(|b| b == b'/' || b == 0) {
        return Err(PathError::BadChar(seg.to_string()));
    }
    if seg.len() > NAME_MAX {
        return Err(PathError::TooLong(seg.len()));
    }
    Ok(())
}

impl RelPath {
    /// The parent directory as a string (`""` at the top level), for grouping files by
    /// directory without allocating.
    pub fn parent_str(&self) -> &str {
        // `/` is ASCII, so the byte index is a char boundary.
        self.last_slash().map_or("", |i| &self.joined[..i])
    }

    /// Where the last `/` is: every written file asks (its directory), so the search is the
    /// vectorised one.
    fn last_slash(&self) -> Option<usize> {
        memchr::memrchr(b'/', self.joined.as_bytes())
    }

    /// The path as an owned string (segments joined by `/`).
    pub fn into_string(self) -> String {
        self.joined
    }

    /// The root itself (no segments).
    pub fn root() -> Self {
        RelPath::default()
    }

    /// A path from `/`-separated segments, each validated.
    pub fn parse(s: &str) -> Result<Self, PathError> {
        // Every segment checked, then one allocation (the joined form is `s` itself).
        for seg in s.split('/') {
            check_segment(seg)?;
        }
        Ok(RelPath {
            joined: s.to_string(),
        })
    }

    /// This path with one more validated segment.
    pub fn join(&self, seg: &str) -> Result<Self, PathError> {
        check_segment(seg)?;
        Ok(self.appended(seg))
    }

    /// Like [`RelPath::join`] for a `/`-separated tail (each piece validated).
    pub fn join_path(&self, tail: &str) -> Result<Self, PathError> {
        for seg in tail.split('/') {
            check_segment(seg)?;
        }
        Ok(self.appended(tail))
    }

    /// This path with directory `dir` and in it the file `stem` ‖ `ext`, both segments
    /// validated, in one allocation: how adapters name a file by its key's segment.
    pub fn join_file(&self, dir: &str, stem: &str, ext: &str) -> Result<Self, PathError> {
        check_segment(dir)?;
        let mut joined =
            String::with_capacity(self.joined.len() + dir.len() + stem.len() + ext.len() + 2);
        joined.push_str(&self.joined);
        if !joined.is_empty() {
            joined.push('/');
        }
        joined.push_str(dir);
        joined.push('/');
        let file = joined.len();
        joined.push_str(stem);
        joined.push_str(ext);
        check_segment(&joined[file..])?;
        Ok(RelPath { joined })
    }

    /// This path with `tail` (already validated) after a `/`, in one allocation.
    fn appended(&self, tail: &str) -> Self {
        let mut joined = String::with_capacity(self.joined.len() + 1 + tail.len());
        joined.push_str(&self.joined);
        if !joined.is_empty() {
            joined.push('/');
        }
        joined.push_str(tail);
        RelPath { joined }
    }

    /// `/`-joined form, as written in CHECKSUMS.
    pub fn as_str(&self) -> &str {
        &self.joined
    }

    /// True for the root.
    pub fn is_root(&self) -> bool {
        self.joined.is_empty()
    }

    /// The segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.joined.split('/').filter(|s| !s.is_empty())
    }

    /// Parent directory (as [`RelPath::parent_str`]) and final name, borrowed; `None` for
    /// the root. What a sink needs for every file it creates, without an allocation.
    pub fn split_last_str(&self) -> Option<(&str, &str)> {
        if self.joined.is_empty() {
            return None;
        }
        Some(match self.last_slash() {
            Some(i) => (&self.joined[..i], &self.joined[i + 1..]),
            None => ("", &self.joined),
        })
    }

    /// Parent directory and final name; `None` for the root.
    pub fn split_last(&self) -> Option<(RelPath, &str)> {
        if self.joined.is_empty() {
            return None;
        }
        match self.last_slash() {
            Some(i) => Some((
                RelPath {
                    joined: self.joined[..i].to_string(),
                },
                &self.joined[i + 1..],
            )),
            None => Some((RelPath::root(), &self.joined)),
        }
    }
}

/// A path is looked up by its joined form (the directory-fd cache is keyed by `RelPath` and
/// asked with a borrowed parent string). Hashing and equality are those of `joined`, so they
/// agree with `str`'s.
impl std::borrow::Borrow<str> for RelPath {
    fn borrow(&self) -> &str {
        &self.joined
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined)
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_escapes() {
        assert!(RelPath::parse("a/b/c.json").is_ok());
        assert_eq!(RelPath::parse("a/../b"), Err(PathError::Dot("..".into())));
        assert!(RelPath::parse("/abs").is_err());
        assert!(RelPath::parse("a//b").is_err());
        assert!(RelPath::parse("a/").is_err());
        assert!(RelPath::root().join("x\0y").is_err());
        assert!(RelPath::root().join(&"x".repeat(256)).is_err());
        let p = RelPath::parse("a/b/c").unwrap();
        let (d, n) = p.split_last().unwrap();
        assert_eq!((d.as_str(), n), ("a/b", "c"));
    }

    /// The borrowed split agrees with the owned one, and a map keyed by paths is found by
    /// the borrowed parent (what the directory-fd cache relies on).
    #[test]
    fn borrowed_split_and_lookup() {
        let mut dirs = std::collections::HashMap::new();
        for s in ["a", "a/b", "a/b/c.json", "x/yy/zzz"] {
            let p = RelPath::parse(s).unwrap();
            let (d, n) = p.split_last().unwrap();
            assert_eq!(p.split_last_str(), Some((d.as_str(), n)));
            dirs.insert(d, s);
        }
        assert_eq!(RelPath::root().split_last_str(), None);
        assert_eq!(dirs.get("a/b"), Some(&"a/b/c.json"));
        assert_eq!(dirs.get(""), Some(&"a"));
        assert_eq!(dirs.get("x/yy"), Some(&"x/yy/zzz"));
        assert_eq!(dirs.get("x/y"), None);
    }

    /// `join_file` is `join(dir)` then `join(stem ‖ ext)`, errors included.
    #[test]
    fn join_file_is_two_joins() {
        let db = RelPath::parse("redis/db_0").unwrap();
        for (dir, stem, ext) in [
            ("strings", "k1", ".bin"),
            ("hashes", "h", ".json"),
            ("strings", ".", ""),
            ("strings", "..", ""),
            ("strings", "", ".bin"),
            ("", "k", ".bin"),
            ("a/b", "k", ".bin"),
            ("strings", "x/y", ""),
            ("strings", &"k".repeat(252), ".bin"),
            ("strings", &"k".repeat(251), ".bin"),
        ] {
            let two = db.join(dir).and_then(|d| d.join(&format!("{stem}{ext}")));
            assert_eq!(
                db.join_file(dir, stem, ext),
                two,
                "{dir:?} {stem:?} {ext:?}"
            );
        }
        assert_eq!(
            RelPath::root().join_file("d", "f", ".x").unwrap().as_str(),
            "d/f.x"
        );
    }

    #[test]
    fn parse_and_join_path_agree_with_joining_segment_by_segment() {
        let by_segment = |base: RelPath, s: &str| {
            s.split('/')
                .try_fold(base, |p, seg| p.join(seg))
                .map(|p| p.as_str().to_string())
        };
        for s in [
            "a",
            "a/b",
            "a/b/c.json",
            "a//b",
            "a/",
            "/a",
            "",
            ".",
            "a/./b",
            "x/..",
            "é/ü",
        ] {
            let parsed = RelPath::parse(s).map(|p| p.as_str().to_string());
            assert_eq!(parsed, by_segment(RelPath::root(), s), "parse {s:?}");
            let base = RelPath::parse("d/e").unwrap();
            let joined = base.join_path(s).map(|p| p.as_str().to_string());
            assert_eq!(joined, by_segment(base.clone(), s), "join_path {s:?}");
        }
    }
}

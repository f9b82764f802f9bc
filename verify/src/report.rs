//! The verification report: every problem found, each naming the file it concerns, so an
//! operator sees the whole damage at once rather than the first symptom.

use std::fmt::Write as _;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The dump is incomplete, altered or unsafe: verification fails.
    Error,
    /// Worth knowing, but the dump is complete and intact (e.g. an unpinned live dump).
    Warning,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// The file or directory concerned (relative to the dump root), printable.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Everything `verify` found.
#[derive(Debug, Default)]
pub struct Report {
    /// The findings, in discovery order (sorted when rendered).
    pub problems: Vec<Problem>,
    /// Regular files hashed.
    pub files: u64,
    /// Bytes hashed.
    pub bytes: u64,
}

/// A path for messages: UTF-8 shown as is, control characters and invalid bytes escaped,
/// so a hostile name cannot forge report lines.
pub fn show(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for chunk in path.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

impl Report {
    /// Records an error about `path`.
    pub fn error(&mut self, path: &[u8], message: impl Into<String>) {
        self.problems.push(Problem {
            severity: Severity::Error,
            path: show(path),
            message: message.into(),
        });
    }

    /// Records a warning about `path`.
    pub fn warn(&mut self, path: &[u8], message: impl Into<String>) {
        self.problems.push(Problem {
            severity: Severity::Warning,
            path: show(path),
            message: message.into(),
        });
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.problems.len() - self.errors()
    }

    /// True when the dump is complete and untampered (warnings allowed).
    pub fn ok(&self) -> bool {
        self.errors() == 0
    }

    /// The report as text: one line per problem (errors first, then by path), then a
    /// summary line.
    pub fn render(&self, target: &str) -> String {
        let mut v = self.problems.clone();
        v.sort();
        v.dedup();
        let mut s = String::new();
        for p in &v {
            let tag = match p.severity {
                Severity::Error => "ERROR",
                Severity::Warning => "WARNING",
            };
            let path = if p.path.is_empty() {
                "."
            } else {
                p.path.as_str()
            };
            let _ = writeln!(s, "{tag} {path}: {}", p.message);
        }
        let errors = v.iter().filter(|p| p.severity == Severity::Error).count();
        let warnings = v.len() - errors;
        if errors == 0 {
            let _ = writeln!(
                s,
                "OK {target}: {} files, {} bytes verified{}",
                self.files,
                self.bytes,
                if warnings > 0 {
                    format!(", {warnings} warning(s)")
                } else {
                    String::new()
                }
            );
        } else {
            let _ = writeln!(
                s,
                "FAILED {target}: {errors} error(s), {warnings} warning(s) ({} files, {} bytes read)",
                self.files, self.bytes
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_errors_first_and_escapes_paths() {
        let mut r = Report::default();
        r.warn(b"b", "w");
        r.error(b"a\nb\xff", "bad");
        r.error(b"", "root");
        let s = r.render("dump");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "ERROR .: root");
        assert_eq!(lines[1], "ERROR a\\nb\\xff: bad");
        assert_eq!(lines[2], "WARNING b: w");
        assert!(lines[3].starts_with("FAILED dump: 2 error(s), 1 warning(s)"));
        assert!(!r.ok());
        assert!(Report::default().render("x").starts_with("OK x"));
    }
}

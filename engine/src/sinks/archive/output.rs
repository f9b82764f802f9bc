//! Where the archive's bytes go: a file (written under a temporary name beside it and
//! renamed into place only once complete), standard output, or one S3 object (a multipart
//! upload completed only once the archive is, aborted otherwise); optionally through zstd.

use crate::error::Error;
use crate::sinks::object::upload::{self, ObjectWriter, Registry};
use crate::sinks::object::{ObjectError, S3Config, S3Url, Store};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Compression of the archive stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// tar inside one zstd frame.
    Zstd {
        /// zstd level (1–22).
        level: i32,
        /// zstd worker threads (`zstdmt`); 0 compresses on the writing thread.
        workers: u32,
    },
}

/// Where the archive is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A file path.
    File(PathBuf),
    /// Standard output (`--output -`).
    Stdout,
    /// One object in S3-compatible storage (`--output s3://bucket/key.tar.zst`).
    Object {
        /// The object.
        url: S3Url,
        /// How to reach the store.
        config: S3Config,
    },
}

impl Destination {
    /// `-` is standard output; anything else a file path.
    pub fn from_arg(p: &Path) -> Self {
        if p.as_os_str() == "-" {
            Destination::Stdout
        } else {
            Destination::File(p.to_path_buf())
        }
    }

    /// For messages.
    pub fn display(&self) -> String {
        match self {
            Destination::File(p) => p.display().to_string(),
            Destination::Stdout => "<stdout>".to_string(),
            Destination::Object { url, .. } => url.to_string(),
        }
    }

    /// Directory for spill files of streamed entries: beside the output file (same
    /// filesystem, which has room for the archive anyway), else the system temp dir.
    pub fn spill_dir(&self) -> PathBuf {
        match self {
            Destination::File(p) => match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            },
            Destination::Stdout | Destination::Object { .. } => std::env::temp_dir(),
        }
    }
}

/// The raw byte target.
enum Target {
    /// Hidden temporary file beside the destination; renamed over it on success and
    /// deleted on drop otherwise.
    File {
        tmp: tempfile::NamedTempFile,
        dest: PathBuf,
        force: bool,
    },
    Stdout(io::Stdout),
    /// Completed by [`Output::finish`]; aborted if dropped before.
    Object(ObjectWriter),
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Target::File { tmp, .. } => tmp.write(buf),
            Target::Stdout(s) => s.write(buf),
            Target::Object(w) => w
                .append(buf)
                .map(|()| buf.len())
                .map_err(|e| io::Error::other(e.to_string())),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Target::File { tmp, .. } => tmp.flush(),
            Target::Stdout(s) => s.flush(),
            // Parts go up as they fill; the object is completed only by `finish`.
            Target::Object(_) => Ok(()),
        }
    }
}

/// Connects, refuses an existing object unless `force`, and prepares its upload.
fn open_object(url: &S3Url, config: &S3Config, force: bool) -> Result<Target, Error> {
    if url.key.is_empty() || url.key.ends_with('/') {
        return Err(ObjectError::BadUrl {
            url: url.to_string(),
            why: "--archive writes one object: give its key, e.g. s3://bucket/dumps/x.tar.zst",
        }
        .into());
    }
    let store = Arc::new(Store::connect(config)?);
    let req = store
        .client()
        .head_object()
        .bucket(&url.bucket)
        .key(&url.key);
    match store.run(req.send())? {
        Ok(_) if !force => {
            return Err(Error::UnsafeOutput {
                path: url.to_string(),
                why: "already exists; pass --force to replace it",
            })
        }
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
        Err(e) => return Err(store.request_error(url, "HeadObject", &e).into()),
    }
    Ok(Target::Object(ObjectWriter::new(
        store,
        url.clone(),
        Arc::new(Registry::default()),
        upload::part_size(),
    )))
}

/// Output buffer size: large writes keep syscalls (and pipe wake-ups) few.
const BUF_BYTES: usize = 1 << 20;

/// The byte stream an archive is written into, compressed or not.
pub struct Output {
    enc: Encoder,
    name: String,
    written: u64,
    /// Set by [`Output::abandon`]: every later write fails.
    abandoned: bool,
}

enum Encoder {
    Plain(BufWriter<Target>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<Target>>),
}

impl Output {
    /// Opens the destination. A file that exists is refused unless `force`; a terminal as
    /// standard output is refused (an archive is binary).
    pub fn open(dest: &Destination, compression: Compression, force: bool) -> Result<Self, Error> {
        let name = dest.display();
        let target = match dest {
            Destination::Stdout => {
                if io::stdout().is_terminal() {
                    return Err(Error::Usage(
                        "--output -: standard output is a terminal; redirect it to a file or a pipe".into(),
                    ));
                }
                Target::Stdout(io::stdout())
            }
            Destination::Object { url, config } => open_object(url, config, force)?,
            Destination::File(p) => {
                match std::fs::symlink_metadata(p) {
                    Ok(m) if m.is_dir() => {
                        return Err(Error::UnsafeOutput {
                            path: name,
                            why: "is a directory; --archive writes one file (give a file name, or - for standard output)",
                        })
                    }
                    Ok(_) if !force => {
                        return Err(Error::UnsafeOutput {
                            path: name,
                            why: "already exists; pass --force to replace it",
                        })
                    }
                    _ => {}
                }
                let dir = dest.spill_dir();
                let base = p
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let tmp = tempfile::Builder::new()
                    .prefix(&format!(".{base}."))
                    .suffix(".partial")
                    .tempfile_in(&dir)
                    .map_err(|e| Error::io(dir.display(), e))?;
                Target::File {
                    tmp,
                    dest: p.clone(),
                    force,
                }
            }
        };
        let buffered = BufWriter::with_capacity(BUF_BYTES, target);
        let enc = match compression {
            Compression::None => Encoder::Plain(buffered),
            Compression::Zstd { level, workers } => {
                let io_err = |e| Error::io(&name, e);
                let mut z = zstd::stream::write::Encoder::new(buffered, level).map_err(io_err)?;
                z.include_checksum(true).map_err(io_err)?;
                if workers > 0 {
                    z.multithread(workers).map_err(io_err)?;
                }
                Encoder::Zstd(z)
            }
        };
        Ok(Output {
            enc,
            name,
            written: 0,
            abandoned: false,
        })
    }

    /// Refuses every later write: the run failed, and whatever still holds this output
    /// (the tar builder's drop writes the end-of-archive marker) must not make the partial
    /// archive look complete.
    pub fn abandon(&mut self) {
        self.abandoned = true;
    }

    /// Uncompressed bytes written so far.
    #[cfg(test)]
    pub fn position(&self) -> u64 {
        self.written
    }

    /// Ends the zstd frame, flushes, and (for a file) syncs it and renames it into place.
    pub fn finish(self) -> Result<(), Error> {
        if self.abandoned {
            return Err(Error::Internal(format!(
                "archive {}: finish after the run failed",
                self.name
            )));
        }
        let name = self.name;
        let io_err = |e| Error::io(&name, e);
        let mut buffered = match self.enc {
            Encoder::Plain(w) => w,
            Encoder::Zstd(z) => z.finish().map_err(io_err)?,
        };
        buffered.flush().map_err(io_err)?;
        let target = buffered.into_inner().map_err(|e| io_err(e.into_error()))?;
        match target {
            Target::Stdout(mut s) => s.flush().map_err(io_err),
            Target::Object(mut w) => Ok(w.finish()?),
            Target::File { tmp, dest, force } => {
                tmp.as_file().sync_all().map_err(io_err)?;
                let res = if force {
                    tmp.persist(&dest)
                } else {
                    tmp.persist_noclobber(&dest)
                };
                res.map_err(|e| io_err(e.error))?;
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.abandoned {
            return Err(io::Error::other(format!(
                "archive {}: write after the run failed",
                self.name
            )));
        }
        let n = match &mut self.enc {
            Encoder::Plain(w) => w.write(data),
            Encoder::Zstd(z) => z.write(data),
        }?;
        self.written += n as u64;
        Ok(n)
    }

    /// Flushes nothing to the destination: the archive is made durable (and put in place)
    /// only by [`Output::finish`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoned_output_refuses_writes() {
        let t = tempfile::tempdir().unwrap();
        let dest = Destination::File(t.path().join("x.tar"));
        let mut o = Output::open(&dest, Compression::None, false).unwrap();
        o.write_all(b"abc").unwrap();
        assert_eq!(o.position(), 3);
        o.abandon();
        assert!(o.write_all(b"d").is_err());
        assert!(o.finish().is_err());
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
    }
}

//! `dynamodb/` subtree → internal records (docs/format/10-dynamodb.md §10).
//!
//! Per table directory: the schema record and generation counter, then one item record
//! per item file (per-item layout: `items/<hash>.json`, `items/<hash>/<range>.json`;
//! bundle layout: every line of `items/*.jsonl`) and the GSI rows the item belongs to.
//! Item keys come from the item bodies and the schema, never from file names (a SHA-
//! fallback file name is not reversible). Files are read one at a time, so memory holds
//! one item whatever the table size.

pub(crate) mod item;
mod marshal;
mod number;
pub(crate) mod schema;

use super::{ReverseError, Stage};
use crate::b64url;
use crate::fsutil::{list_dir, open_regular, read_regular, require_dir, shown_join};
use elastickv_backup_dumptree::json::{one_value, ValueStream};
use elastickv_backup_engine::decode::dynamodb::proto::{DynamoItem, DynamoTableSchema};
use elastickv_backup_format::keys::ddb;
use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How the tree was written.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Items are bundled in `items/*.jsonl` parts (`--dynamodb-bundle-mode jsonl`)
    /// rather than one file each.
    pub jsonl: bool,
}

/// Appends the internal entries for `root/dynamodb/` (if present) to `out`
/// (per-item layout).
#[cfg(test)]
pub fn encode_tree(root: &Path, out: &mut super::Entries) -> Result<(), ReverseError> {
    encode_into(root, &Options::default(), out)
}

/// Stages the records of `root/dynamodb/` (nothing when the directory is absent).
pub fn encode_into(root: &Path, opts: &Options, out: &mut dyn Stage) -> Result<(), ReverseError> {
    walk(root, opts, &mut Encoder { out, schema: None })
}

/// What a walk over `dynamodb/` hands on, table by table: shared by `encode` (records)
/// and `restore dynamodb` (API calls), so both read the tree with the same rules.
pub trait TableVisitor {
    /// The caller's error; reading the tree fails with a [`ReverseError`].
    type Error: From<ReverseError>;
    /// A table's parsed `_schema.json`, before any of its items.
    fn table(&mut self, schema: &DynamoTableSchema, shown: &str) -> Result<(), Self::Error>;
    /// One item of the last table; its key attributes were checked against the schema.
    fn item(&mut self, item: DynamoItem, key: Vec<u8>, shown: &str) -> Result<(), Self::Error>;
    /// The last table's items are all handed on.
    fn table_done(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Walks `root/dynamodb/` (nothing when the directory is absent): every table directory's
/// `_schema.json`, then its items in either layout.
pub fn walk<V: TableVisitor + ?Sized>(
    root: &Path,
    opts: &Options,
    v: &mut V,
) -> Result<(), V::Error> {
    let dir = root.join("dynamodb");
    if !require_dir(&dir, "dynamodb")? {
        return Ok(());
    }
    for (name, ft) in list_dir(&dir, "dynamodb")? {
        // Plain files beside the table directories are not part of the format.
        if ft.is_dir() {
            let shown = shown_join("dynamodb", name.as_bytes());
            let mut t = Table::open(&dir.join(&name), shown, name.as_bytes(), opts, &mut *v)?;
            t.encode_items()?;
            v.table_done()?;
        }
    }
    Ok(())
}

/// The encoder's visitor: schema, generation, item and GSI records.
struct Encoder<'a> {
    out: &'a mut dyn Stage,
    schema: Option<DynamoTableSchema>,
}

impl TableVisitor for Encoder<'_> {
    type Error = ReverseError;

    fn table(&mut self, schema: &DynamoTableSchema, _shown: &str) -> Result<(), ReverseError> {
        let t = b64url(schema.table_name.as_bytes());
        self.out
            .add(ddb::table_meta(t.as_bytes()), marshal::schema_value(schema))?;
        self.out.add(
            ddb::table_gen(t.as_bytes()),
            schema::RESTORE_GENERATION.to_string().into_bytes(),
        )?;
        self.schema = Some(schema.clone());
        Ok(())
    }

    fn item(&mut self, it: DynamoItem, key: Vec<u8>, shown: &str) -> Result<(), ReverseError> {
        let Some(schema) = self.schema.as_ref() else {
            return Err(ReverseError::invalid(
                shown,
                "an item before its table's schema",
            ));
        };
        let rows = item::gsi_rows(schema, &it, &key).map_err(|e| invalid_item(shown, e))?;
        self.out.add(key, marshal::item_value(&it))?;
        for (k, v) in rows {
            self.out.add(k, v)?;
        }
        Ok(())
    }
}

/// One table being read.
struct Table<'a, V: ?Sized> {
    dir: std::path::PathBuf,
    shown: String,
    schema: DynamoTableSchema,
    opts: &'a Options,
    out: &'a mut V,
}

impl<'a, V: TableVisitor + ?Sized> Table<'a, V> {
    /// Reads `_schema.json` and hands it on.
    fn open(
        dir: &Path,
        shown: String,
        dir_name: &[u8],
        opts: &'a Options,
        out: &'a mut V,
    ) -> Result<Self, V::Error> {
        let schema_shown = format!("{shown}/_schema.json");
        let text = read_regular(&dir.join("_schema.json"), &schema_shown)?;
        let schema = schema::parse(&text, dir_name).map_err(|why| {
            ReverseError::invalid(&schema_shown, format!("invalid _schema.json: {why}"))
        })?;
        out.table(&schema, &schema_shown)?;
        Ok(Table {
            dir: dir.to_path_buf(),
            shown,
            schema,
            opts,
            out,
        })
    }

    /// Hands on every item under `items/` (absent: a table without rows).
    fn encode_items(&mut self) -> Result<(), V::Error> {
        let items = self.dir.join("items");
        let shown = format!("{}/items", self.shown);
        if !require_dir(&items, &shown)? {
            return Ok(());
        }
        for (name, ft) in list_dir(&items, &shown)? {
            let path = items.join(&name);
            let entry = shown_join(&shown, name.as_bytes());
            let n = name.as_bytes();
            if self.opts.jsonl {
                if ft.is_dir() {
                    return Err(ReverseError::invalid(
                        entry,
                        "a directory in a dump with the jsonl DynamoDB layout",
                    )
                    .into());
                }
                if n.ends_with(b".jsonl") {
                    self.bundle(&path, &entry)?;
                }
            } else if ft.is_dir() {
                self.hash_dir(&path, &entry)?;
            } else if n.ends_with(b".json") {
                self.item_file(&path, &entry)?;
            }
        }
        Ok(())
    }

    /// `items/<hash>/`: every `*.json` file is an item; a nested directory cannot come
    /// from a dump (at most two levels), so it is refused rather than skipped.
    fn hash_dir(&mut self, dir: &Path, shown: &str) -> Result<(), V::Error> {
        for (name, ft) in list_dir(dir, shown)? {
            let entry = shown_join(shown, name.as_bytes());
            if ft.is_dir() {
                return Err(ReverseError::invalid(
                    entry,
                    "unexpected nested directory (the items layout is at most two levels)",
                )
                .into());
            }
            if name.as_bytes().ends_with(b".json") {
                self.item_file(&dir.join(&name), &entry)?;
            }
        }
        Ok(())
    }

    fn item_file(&mut self, path: &Path, shown: &str) -> Result<(), V::Error> {
        let text = read_regular(path, shown)?;
        let raw = one_value(&text).map_err(|e| invalid_item(shown, e))?;
        self.item(raw, shown)
    }

    /// A JSONL part: one item per value.
    fn bundle(&mut self, path: &Path, shown: &str) -> Result<(), V::Error> {
        let Some(f) = open_regular(path, shown)? else {
            return Err(ReverseError::invalid(shown, "vanished while reading").into());
        };
        let mut values = ValueStream::new(BufReader::with_capacity(1 << 16, f));
        let mut n = 0u64;
        loop {
            n += 1;
            let raw = match values.next_value() {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(()),
                Err(Ok(e)) => return Err(ReverseError::io(shown, e).into()),
                Err(Err(e)) => return Err(invalid_item(shown, format!("item {n}: {e}")).into()),
            };
            self.item(&raw, &format!("{shown} (item {n})"))?;
        }
    }

    /// Parses one item, checks its key against the schema and hands it on.
    fn item(&mut self, raw: &[u8], shown: &str) -> Result<(), V::Error> {
        let it = item::parse_item(raw).map_err(|e| invalid_item(shown, e))?;
        let key = item::item_key(&self.schema, &it).map_err(|e| invalid_item(shown, e))?;
        self.out.item(it, key, shown)
    }
}

fn invalid_item(shown: &str, why: impl std::fmt::Display) -> ReverseError {
    ReverseError::invalid(shown, format!("invalid item json: {why}"))
}

#[cfg(test)]
mod tests;

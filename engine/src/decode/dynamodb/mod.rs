//! DynamoDB adapter (docs/format/10-dynamodb.md): `!ddb|…` records → `dynamodb/<table>/_schema.json` and one
//! JSON file per item (`items/<hash>[/<range>].json`), or JSONL bundle parts.
//!
//! Schemas sort after the items they describe (`!ddb|item|` < `!ddb|meta|`), so they come
//! through the index pass; items are then decided one at a time as they stream past, in
//! key order, grouped by table: an item of the schema's active generation (or of the
//! migration source generation) is written, any other generation is counted as stale, and
//! items of a table without a schema are counted as orphans. Item JSON is rendered on the
//! worker pool. Generation counters and GSI rows carry no user data and are skipped.

mod bundle;
pub use crate::error::ddb as error;
mod item_path;
mod keys;
mod number;
pub mod proto;
pub mod render;
#[cfg(test)]
mod tests;
pub mod wire;

pub use error::DdbError;

use super::{Adapter, AdapterKind, Family};
use crate::encode::Emitter;
use crate::error::Error;
use crate::extsort::ExternalSorter as Sorter;
use crate::options::{DdbLayout, DecodeOptions};
use crate::sinks::RelPath;
use bundle::BundleWriter;
use bytes::Bytes;
use elastickv_backup_format::Entry;
use error::go_quote;
use prost::Message;
use proto::{DynamoItem, DynamoTableSchema, ITEM_MAGIC, SCHEMA_MAGIC};
use std::collections::HashMap;
use std::sync::Arc;

/// Environment variable overriding the in-memory budget (bytes) of the sorter that
/// matches a migrating table's two generations (default 32 MiB); tests set it low to
/// force spills.
pub const SORT_BUDGET_ENV: &str = "ELASTICKV_BACKUP_DDB_SORT_BUDGET";

/// Names the migration sorter's temp dir and errors.
const SPILL_WHAT: &str = "dynamodb-migration";

/// Default in-memory budget of the migration sorter.
pub const MIGRATION_SORT_BUDGET: usize = 32 << 20;

/// A table whose schema record was seen (and is in scope).
struct Table {
    /// Decoded table name (for messages and warnings).
    name: Vec<u8>,
    schema: DynamoTableSchema,
    /// `dynamodb/<EncodeSegment(name)>`.
    dir: RelPath,
    /// `dynamodb/<…>/items`.
    items_dir: RelPath,
}

/// A known table and whether its `_schema.json` is already queued.
struct TableSlot {
    table: Arc<Table>,
    emitted: bool,
}

impl Table {
    fn hash_key(&self) -> &str {
        self.schema
            .primary_key
            .as_ref()
            .map_or("", |k| k.hash_key.as_str())
    }

    fn range_key(&self) -> &str {
        self.schema
            .primary_key
            .as_ref()
            .map_or("", |k| k.range_key.as_str())
    }

    /// Generations whose items are dumped, lowest priority first: the migration source
    /// (while a migration is recorded) and the active generation.
    fn emitted_generations(&self) -> (u64, Option<u64>) {
        let active = self.schema.generation;
        let source = self.schema.migrating_from_generation;
        let source = (source != 0 && source != active).then_some(source);
        (active, source)
    }
}

/// Where the items of the table being streamed go.
enum Target {
    /// Out of `--scope`: ignored.
    Skip,
    /// No schema: counted, reported, not written.
    Orphan,
    /// One file per item.
    PerItem,
    /// JSONL parts (boxed: the writer carries its segment queue).
    Bundle(Box<BundleWriter>),
    /// Mid-migration: matched by path across the two generations first.
    Migrating(Sorter),
}

/// The items of one table, which arrive contiguously.
struct Run {
    encoded: Vec<u8>,
    name: Vec<u8>,
    table: Option<Arc<Table>>,
    target: Target,
    /// Items seen (arrival order = key order).
    seq: u64,
    orphans: u64,
    stale: u64,
}

/// DynamoDB decoder.
pub struct DdbAdapter {
    opts: DecodeOptions,
    /// Schemas by encoded table segment (exact bytes), from the index pass.
    tables: HashMap<Vec<u8>, TableSlot>,
    run: Option<Run>,
    /// Reused buffer for bundle lines.
    line: Vec<u8>,
    /// The current item's attributes when it is plainly encoded ([`wire::scan`]): read
    /// once on the decode thread, for the check and the item's path.
    attrs: Vec<wire::Attr>,
    /// Memory budget of the migration sorter.
    spill_budget: usize,
}

impl DdbAdapter {
    /// An adapter honouring `o`'s layout (`--dynamodb-bundle-mode`) and `--scope`.
    pub fn new(o: &DecodeOptions) -> Self {
        DdbAdapter {
            opts: o.clone(),
            tables: HashMap::new(),
            run: None,
            line: Vec::new(),
            attrs: Vec::new(),
            spill_budget: std::env::var(SORT_BUDGET_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(MIGRATION_SORT_BUDGET),
        }
    }

    fn in_scope(&self, name: &[u8]) -> bool {
        self.opts.scope_allows(AdapterKind::DynamoDb, name)
    }

    /// Index pass: parses and keeps one table schema.
    fn index_schema(&mut self, key: &[u8], entry: &Entry) -> Result<(), Error> {
        let meta = keys::parse_meta_key(key, &entry.user_key)?;
        if !self.in_scope(&meta.name) {
            return Ok(());
        }
        let quoted = || go_quote(&meta.name);
        let body =
            entry
                .value
                .strip_prefix(&SCHEMA_MAGIC[..])
                .ok_or_else(|| DdbError::InvalidSchema {
                    table: quoted(),
                    detail: "missing magic prefix".into(),
                })?;
        let schema = DynamoTableSchema::decode(body).map_err(|e| DdbError::InvalidSchema {
            table: quoted(),
            detail: format!("proto: {e}"),
        })?;
        let seg = crate::encode::filename::encode_segment(&meta.name);
        let unsafe_name = |source| DdbError::UnsafeTableName {
            table: quoted(),
            source,
        };
        let dir = RelPath::root()
            .join("dynamodb")?
            .join(&seg)
            .map_err(unsafe_name)?;
        let items_dir = dir.join("items")?;
        let table = Table {
            name: meta.name,
            schema,
            dir,
            items_dir,
        };
        let slot = TableSlot {
            table: Arc::new(table),
            emitted: false,
        };
        self.tables.insert(key.to_vec(), slot);
        Ok(())
    }

    /// Main pass, at the table's schema record: `_schema.json` and `items/`.
    fn emit_schema(&mut self, key: &[u8], out: &Emitter) -> Result<(), Error> {
        let Some(slot) = self.tables.get_mut(key) else {
            return Ok(());
        };
        if slot.emitted {
            return Ok(());
        }
        slot.emitted = true;
        let t = &slot.table;
        let mut body = Vec::new();
        render::render_schema(&t.schema, &mut body);
        out.file(t.dir.join("_schema.json")?, body)?;
        out.dir(&t.items_dir)
    }

    fn start_run(&self, encoded: &[u8], name: Vec<u8>) -> Run {
        let table = self.tables.get(encoded).map(|s| s.table.clone());
        let target = match &table {
            _ if !self.in_scope(&name) => Target::Skip,
            None => Target::Orphan,
            Some(t) if t.emitted_generations().1.is_some() => {
                Target::Migrating(Sorter::new(SPILL_WHAT, self.spill_budget))
            }
            Some(t) => match self.opts.dynamodb_layout {
                DdbLayout::PerItem => Target::PerItem,
                DdbLayout::Jsonl { part_bytes } => {
                    Target::Bundle(Box::new(BundleWriter::for_items(
                        bundle::ItemCtx {
                            items_dir: t.items_dir.clone(),
                            hash_key: t.hash_key().to_string(),
                            range_key: t.range_key().to_string(),
                            table: go_quote(&name),
                        },
                        part_bytes,
                    )))
                }
            },
        };
        Run {
            encoded: encoded.to_vec(),
            name,
            table,
            target,
            seq: 0,
            orphans: 0,
            stale: 0,
        }
    }

    fn handle_item(&mut self, key: &[u8], entry: &Entry, out: &Emitter) -> Result<(), Error> {
        let known = self.run.as_ref().map(|r| r.encoded.as_slice());
        let k = keys::parse_item_key(key, &entry.user_key, known)?;
        // A name is decoded exactly when the segment is not the current run's.
        if let Some(name) = k.name {
            self.close_run(out)?;
            self.run = Some(self.start_run(k.encoded_table, name));
        }
        let Some(run) = self.run.as_mut() else {
            return Ok(());
        };
        if matches!(run.target, Target::Skip) {
            return Ok(());
        }
        let invalid = |detail: String| DdbError::InvalidItem {
            table: go_quote(&run.name),
            key: go_quote(&entry.user_key),
            detail,
        };
        if !entry.value.starts_with(ITEM_MAGIC) {
            return Err(invalid("missing magic prefix".into()).into());
        }
        let body: Bytes = entry.value.slice(ITEM_MAGIC.len()..);
        // Bundle layout: the item is decoded, checked and rendered on the pool.
        if let (Target::Bundle(w), Some(table)) = (&mut run.target, run.table.as_ref()) {
            let (active, source) = table.emitted_generations();
            if k.generation == active || Some(k.generation) == source {
                run.seq += 1;
                return w.write_item(out, &entry.user_key, &body);
            }
        }
        // A plainly encoded item is read straight from its bytes (`wire`); anything else is
        // decoded by prost as before, whose errors are the ones reported.
        let item = if wire::scan(&body, &mut self.attrs) {
            None
        } else {
            Some(DynamoItem::decode(body.clone()).map_err(|e| invalid(format!("proto: {e}")))?)
        };
        let seq = run.seq;
        run.seq += 1;
        let Some(table) = run.table.as_ref() else {
            run.orphans += 1;
            return Ok(());
        };
        let (active, source) = table.emitted_generations();
        let rank: u8 = if k.generation == active {
            0
        } else if Some(k.generation) == source {
            1
        } else {
            run.stale += 1;
            return Ok(());
        };
        let (dir, hash, range) = (&table.items_dir, table.hash_key(), table.range_key());
        let path = match &item {
            Some(item) => item_path::item_path(dir, hash, range, item),
            None => item_path::item_path_wire(dir, hash, range, &body, &self.attrs),
        }
        .map_err(invalid)?;
        match &mut run.target {
            Target::PerItem => {
                // The worker renders from the attributes read here (one small copy
                // instead of a second scan of the body).
                let attrs = if item.is_none() {
                    self.attrs.clone()
                } else {
                    Vec::new()
                };
                out.file_with(path, move |buf| {
                    match &item {
                        Some(item) => render::render_item(item, true, buf),
                        None => wire::render_scanned(&body, &attrs, true, buf),
                    }
                    Ok(())
                })
            }
            // Reached only for generations not emitted above (never, today).
            Target::Bundle(w) => w.write_item(out, &entry.user_key, &body),
            Target::Migrating(sorter) => {
                // Path, then the active generation first, then the latest arrival first
                // (upstream overwrites in arrival order within a generation).
                let mut sort_key = Vec::with_capacity(path.as_str().len() + 10);
                sort_key.extend_from_slice(path.as_str().as_bytes());
                sort_key.push(0);
                sort_key.push(rank);
                sort_key.extend_from_slice(&(!seq).to_be_bytes());
                let mut payload = Vec::with_capacity(8 + body.len());
                payload.extend_from_slice(&seq.to_be_bytes());
                payload.extend_from_slice(&body);
                Ok(sorter.push(&sort_key, &payload)?)
            }
            Target::Skip | Target::Orphan => Ok(()),
        }
    }

    /// Ends the current table's items: warnings, and the migration merge.
    fn close_run(&mut self, out: &Emitter) -> Result<(), Error> {
        let Some(run) = self.run.take() else {
            return Ok(());
        };
        if run.orphans > 0 {
            out.warn(
                "ddb_orphan_items",
                &format!(
                    "encoded_table={} buffered_items={}",
                    String::from_utf8_lossy(&run.encoded),
                    run.orphans
                ),
            );
        }
        if let (Some(t), true) = (&run.table, run.stale > 0) {
            out.warn(
                "ddb_stale_generation_items",
                &format!(
                    "table={} active_generation={} migration_source_generation={} stale_count={} hint=\"stale-gen rows excluded; restore would otherwise emit them under the new schema\"",
                    go_quote(&t.name),
                    t.schema.generation,
                    t.schema.migrating_from_generation,
                    run.stale
                ),
            );
        }
        match run.target {
            Target::Bundle(w) => w.finish(out),
            Target::Migrating(sorter) => match &run.table {
                Some(t) => self.flush_migration(t, sorter, out),
                None => Ok(()),
            },
            Target::Skip | Target::Orphan | Target::PerItem => Ok(()),
        }
    }

    /// Writes a migrating table's items: per output path the active generation's copy
    /// (else the source's), in ascending key order for bundles.
    fn flush_migration(&mut self, t: &Table, sorter: Sorter, out: &Emitter) -> Result<(), Error> {
        let mut by_seq = match self.opts.dynamodb_layout {
            DdbLayout::PerItem => None,
            DdbLayout::Jsonl { part_bytes } => Some((
                Sorter::new(SPILL_WHAT, self.spill_budget),
                BundleWriter::new(t.items_dir.clone(), part_bytes),
            )),
        };
        let mut last_path: Vec<u8> = Vec::new();
        sorter.drain(|key: &[u8], payload: &[u8]| -> Result<(), Error> {
            let path_len = key.iter().position(|&b| b == 0).unwrap_or(key.len());
            let path = key.get(..path_len).unwrap_or_default();
            if path == last_path.as_slice() {
                return Ok(()); // a lower-priority copy of an item already written
            }
            last_path.clear();
            last_path.extend_from_slice(path);
            let (seq, body) = payload.split_at(8.min(payload.len()));
            match by_seq.as_mut() {
                Some((s, _)) => s.push(seq, body)?,
                None => {
                    let rel = RelPath::parse(&String::from_utf8_lossy(path))?;
                    let body = Bytes::copy_from_slice(body);
                    out.file_with(rel, move |buf| {
                        let item = DynamoItem::decode(body).map_err(|e| {
                            Error::Internal(format!("re-decoding a spilled item: {e}"))
                        })?;
                        render::render_item(&item, true, buf);
                        Ok(())
                    })?;
                }
            }
            Ok(())
        })?;
        if let Some((s, mut w)) = by_seq {
            let line = &mut self.line;
            s.drain(|_: &[u8], body: &[u8]| -> Result<(), Error> {
                let item = DynamoItem::decode(body)
                    .map_err(|e| Error::Internal(format!("re-decoding a spilled item: {e}")))?;
                line.clear();
                render::render_item(&item, false, line);
                line.push(b'\n');
                w.write_line(out, line)
            })?;
            w.finish(out)?;
        }
        Ok(())
    }

    /// Test hook: a tiny sorter budget forces spills.
    #[cfg(test)]
    fn with_spill_budget(mut self, b: usize) -> Self {
        self.spill_budget = b;
        self
    }
}

impl Adapter for DdbAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::DynamoDb
    }

    fn index_families(&self) -> &'static [Family] {
        &[Family::DdbTableMeta]
    }

    /// GSI rows carry no user data (docs/format/10-dynamodb.md §2), and they sort before
    /// every item (`!ddb|gsi|` < `!ddb|item|`), so no run of items is open to close when
    /// one arrives: `handle` does nothing with them.
    fn skipped_families(&self) -> &'static [Family] {
        &[Family::DdbGsi]
    }

    fn index(&mut self, family: Family, key: &[u8], entry: &Entry) -> Result<(), Error> {
        match family {
            Family::DdbTableMeta => self.index_schema(key, entry),
            _ => Ok(()),
        }
    }

    fn handle(
        &mut self,
        family: Family,
        key: &[u8],
        entry: &Entry,
        out: &Emitter,
    ) -> Result<(), Error> {
        match family {
            Family::DdbItem => self.handle_item(key, entry, out),
            Family::DdbTableMeta => {
                self.close_run(out)?;
                self.emit_schema(key, out)
            }
            // Generation counters and GSI rows carry no user data (docs/format/10-dynamodb.md §2).
            _ => self.close_run(out),
        }
    }

    fn finish(&mut self, out: &Emitter) -> Result<(), Error> {
        self.close_run(out)?;
        // Schemas the main pass did not reach (it always does; belt and braces).
        let mut pending: Vec<Vec<u8>> = self
            .tables
            .iter()
            .filter(|(_, s)| !s.emitted)
            .map(|(k, _)| k.clone())
            .collect();
        pending.sort();
        for k in pending {
            self.emit_schema(&k, out)?;
        }
        Ok(())
    }
}

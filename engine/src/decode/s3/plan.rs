//! The index pass: every bucket's active generation and every object's assembly plan and
//! final name, known before the first body byte arrives.
//!
//! Blob chunks sort before bucket metadata and manifests (docs/format/20-s3.md §5), so the adapter
//! reads the small families first (bucket meta, manifests) through the index pass and
//! decides here — once, per bucket — which objects are active, where each one lands
//! (docs/format/20-s3.md §8–§8.3 plus our escaping), and how its body is assembled. Per object only
//! the encoded key, upload ID and declared parts are kept; sidecar fields are re-read
//! from the manifest in the main pass.

use super::error::{quote, S3Error};
use super::keys;
use super::naming::{
    classify, flat_name, last_segment_fits, Class, ESCAPED_DIR, LEAF_SUFFIX, META_SUFFIX,
    USER_DATA_SUFFIX,
};
use super::values::{decode_bucket_meta, decode_manifest, Manifest};
use crate::encode::filename::encode_segment;
use crate::encode::keymap::KeymapKind;
use crate::error::Error;
use crate::sinks::RelPath;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

/// One declared part with chunks: a run of the body (docs/format/20-s3.md §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Part number.
    pub part_no: u64,
    /// Part version (plain) or chunk-ref version (offloaded).
    pub version: u64,
    /// Chunks come from chunk refs and content-addressed payloads.
    pub offloaded: bool,
    /// Declared number of chunks (> 0).
    pub chunk_count: u64,
    /// Declared chunk sizes; kept for offloaded parts only (checked per chunk).
    pub chunk_sizes: Box<[u64]>,
    /// Plain parts: the sum of `chunk_sizes` when it lists every chunk.
    pub size_sum: Option<u64>,
}

/// Where an object's body goes, relative to the bucket directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// At its key, plus an optional rename suffix.
    Natural(Suffix),
    /// Flat under `_escaped_keys/`, recorded with this KEYMAP kind.
    Escaped(KeymapKind),
}

/// Upstream's rename suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suffix {
    /// The key as is.
    None,
    /// `.user-data` (key ends in the sidecar suffix).
    UserData,
    /// `.elastickv-leaf-data` (key is also a directory).
    LeafData,
}

impl Suffix {
    fn as_str(self) -> &'static str {
        match self {
            Suffix::None => "",
            Suffix::UserData => USER_DATA_SUFFIX,
            Suffix::LeafData => LEAF_SUFFIX,
        }
    }
}

/// What the adapter knows about one manifest.
#[derive(Debug)]
pub(crate) struct ObjPlan {
    /// The manifest key after its prefix: `seg(bucket) ‖ u64(gen) ‖ seg(object)`.
    pub id: Box<[u8]>,
    /// Offset of the object segment inside `id`.
    name_off: usize,
    /// Index into [`Index::buckets`].
    pub bucket: usize,
    /// Generation.
    pub gen: u64,
    /// Manifest upload ID (empty = chunks of any upload, upstream's rule).
    pub upload_id: Box<[u8]>,
    /// Declared parts with chunks, in body order.
    pub slots: Box<[Slot]>,
    /// Declared size of the body.
    pub size_bytes: i64,
    /// Written (not stale, not shadowed).
    pub active: bool,
    /// Chunks arrive in body order and stream straight into the file (see
    /// [`ObjPlan::direct_eligible`]); otherwise they are spilled and assembled.
    pub direct: bool,
    /// Final location.
    pub placement: Placement,
    /// The body has been written.
    pub done: bool,
    /// The main pass delivered the manifest again.
    pub seen_main: bool,
}

impl ObjPlan {
    /// The object key, decoded.
    pub fn name(&self) -> Cow<'_, [u8]> {
        let enc = self
            .id
            .get(self.name_off..self.id.len().saturating_sub(2))
            .unwrap_or_default();
        if enc.contains(&0) {
            let mut v = Vec::with_capacity(enc.len());
            let mut i = 0;
            while let Some(&b) = enc.get(i) {
                v.push(b);
                i += if b == 0 { 2 } else { 1 };
            }
            Cow::Owned(v)
        } else {
            Cow::Borrowed(enc)
        }
    }

    /// Key order of blob chunks equals body order exactly when one upload is selected,
    /// nothing is offloaded and no part number is declared twice (with two versions):
    /// blob keys sort by (upload, part, chunk, version), the body by (part, version,
    /// chunk).
    fn direct_eligible(&self) -> bool {
        !self.upload_id.is_empty()
            && self.slots.iter().all(|s| !s.offloaded)
            && self.slots.windows(2).all(|w| w[0].part_no != w[1].part_no)
    }

    /// The slot a plain blob chunk belongs to, or `None` when it is not part of the body
    /// (other upload, undeclared part or version) — silently ignored, as upstream.
    pub fn plain_slot(&self, upload: &[u8], part: u64, version: u64) -> Option<usize> {
        if !self.upload_id.is_empty() && *upload != *self.upload_id {
            return None;
        }
        self.slots
            .iter()
            .position(|s| !s.offloaded && s.part_no == part && s.version == version)
    }

    /// The slot a chunk reference belongs to (exact upload match: empty is no wildcard).
    pub fn offloaded_slot(&self, upload: &[u8], part: u64, version: u64) -> Option<usize> {
        if *upload != *self.upload_id {
            return None;
        }
        self.slots
            .iter()
            .position(|s| s.offloaded && s.part_no == part && s.version == version)
    }

    /// Whether any slot needs content-addressed payloads.
    pub fn has_offloaded(&self) -> bool {
        self.slots.iter().any(|s| s.offloaded)
    }
}

/// One bucket.
#[derive(Debug)]
pub(crate) struct BucketInfo {
    /// Name bytes.
    pub name: Vec<u8>,
    /// Generation from bucket meta (0 = none: every generation is active).
    pub active_gen: u64,
    /// `s3/<E(name)>`.
    pub dir: RelPath,
    /// Its manifests in [`Index::plans`].
    pub plans: Range<usize>,
}

/// Builds the bucket directory `s3/E(name)`; empty and dot names cannot be one.
pub(crate) fn bucket_dir(name: &[u8]) -> Result<RelPath, Error> {
    let e = encode_segment(name);
    if e.is_empty() || e == "." || e == ".." {
        return Err(S3Error::MalformedKey {
            what: "bucket name is empty or a dot segment:",
            key: quote(name),
        }
        .into());
    }
    Ok(RelPath::root().join("s3")?.join(&e)?)
}

/// The index: buckets and plans.
#[derive(Debug, Default)]
pub(crate) struct Index {
    metas: BTreeMap<Vec<u8>, u64>,
    /// Buckets by name (after [`Index::finalize`]).
    pub buckets: Vec<BucketInfo>,
    /// Plans sorted by id.
    pub plans: Vec<ObjPlan>,
}

fn manifest_err(o: &keys::ObjKey, detail: String) -> Error {
    S3Error::InvalidManifest {
        bucket: quote(&o.bucket),
        object: quote(&o.object),
        detail,
    }
    .into()
}

/// Turns a manifest's parts into body slots (docs/format/20-s3.md §6 K3): a repeated (part,
/// version, offloaded) key replaces the earlier one; zero-count parts are dropped.
fn slots_of(o: &keys::ObjKey, m: &Manifest) -> Result<Box<[Slot]>, Error> {
    let mut table: BTreeMap<(u64, u64, bool), Slot> = BTreeMap::new();
    for p in &m.parts {
        let version = if p.offloaded {
            if p.chunk_sizes.len() as u64 != p.chunk_count {
                return Err(manifest_err(
                    o,
                    format!(
                        "offloaded part {} declares {} chunks but {} chunk_sizes",
                        p.part_no,
                        p.chunk_count,
                        p.chunk_sizes.len()
                    ),
                ));
            }
            p.chunk_ref_version
        } else {
            p.part_version
        };
        let size_sum = if !p.offloaded && p.chunk_sizes.len() as u64 == p.chunk_count {
            p.chunk_sizes
                .iter()
                .try_fold(0u64, |a, &b| a.checked_add(b))
        } else {
            None
        };
        let slot = Slot {
            part_no: p.part_no,
            version,
            offloaded: p.offloaded,
            chunk_count: p.chunk_count,
            chunk_sizes: if p.offloaded {
                p.chunk_sizes.clone().into_boxed_slice()
            } else {
                Box::default()
            },
            size_sum,
        };
        table.insert((p.part_no, version, p.offloaded), slot);
    }
    Ok(table.into_values().filter(|s| s.chunk_count > 0).collect())
}

impl Index {
    /// Index pass: a bucket meta record (key after its prefix).
    pub fn add_bucket_meta(&mut self, bucket: Vec<u8>, value: &[u8]) -> Result<(), Error> {
        let m = decode_bucket_meta(value).map_err(|detail| S3Error::InvalidBucketMeta {
            bucket: quote(&bucket),
            detail,
        })?;
        self.metas.insert(bucket, m.generation);
        Ok(())
    }

    /// Index pass: a manifest (key after its prefix, already parsed as `o`).
    pub fn add_manifest(
        &mut self,
        key: &[u8],
        o: &keys::ObjKey,
        value: &[u8],
    ) -> Result<(), Error> {
        let m = decode_manifest(value).map_err(|d| manifest_err(o, d.to_string()))?;
        let slots = slots_of(o, &m)?;
        let name_off = o.id_len - keys_object_len(&o.object);
        let mut plan = ObjPlan {
            id: key.into(),
            name_off,
            bucket: 0,
            gen: o.gen,
            upload_id: m.upload_id.into_bytes().into_boxed_slice(),
            slots,
            size_bytes: m.size_bytes,
            active: false,
            direct: false,
            placement: Placement::Natural(Suffix::None),
            done: false,
            seen_main: false,
        };
        plan.direct = plan.direct_eligible();
        self.plans.push(plan);
        Ok(())
    }

    /// The plan of the object whose encoded head is `id`.
    pub fn find(&self, id: &[u8]) -> Option<usize> {
        self.plans.binary_search_by(|p| (*p.id).cmp(id)).ok()
    }

    /// The bucket named `name`.
    pub fn bucket(&self, name: &[u8]) -> Option<&BucketInfo> {
        self.buckets
            .binary_search_by(|b| b.name.as_slice().cmp(name))
            .ok()
            .and_then(|i| self.buckets.get(i))
    }

    /// Quoted bucket and object names of a plan, for error messages.
    pub fn names(&self, p: usize) -> (String, String) {
        match self.plans.get(p) {
            Some(plan) => (
                self.buckets
                    .get(plan.bucket)
                    .map(|b| quote(&b.name))
                    .unwrap_or_default(),
                quote(&plan.name()),
            ),
            None => (String::new(), String::new()),
        }
    }

    /// The body's path relative to the bucket directory (also KEYMAP's `encoded`).
    pub fn rel_name(&self, p: usize) -> String {
        let Some(plan) = self.plans.get(p) else {
            return String::new();
        };
        let name = plan.name();
        match plan.placement {
            Placement::Natural(s) => {
                let mut n = String::from_utf8_lossy(&name).into_owned();
                n.push_str(s.as_str());
                n
            }
            Placement::Escaped(_) => format!("{ESCAPED_DIR}/{}", flat_name(&name)),
        }
    }

    /// The body's path.
    pub fn body_path(&self, p: usize) -> Result<RelPath, Error> {
        let dir = self.plan_bucket_dir(p)?;
        Ok(dir.join_path(&self.rel_name(p))?)
    }

    /// The sidecar's path.
    pub fn sidecar_path(&self, p: usize) -> Result<RelPath, Error> {
        let dir = self.plan_bucket_dir(p)?;
        Ok(dir.join_path(&format!("{}{META_SUFFIX}", self.rel_name(p)))?)
    }

    fn plan_bucket_dir(&self, p: usize) -> Result<&RelPath, Error> {
        self.plans
            .get(p)
            .and_then(|plan| self.buckets.get(plan.bucket))
            .map(|b| &b.dir)
            .ok_or_else(|| Error::Internal(format!("s3 plan {p} has no bucket")))
    }

    /// KEYMAP records of a bucket, sorted by original key bytes:
    /// `(encoded, original, kind)`.
    pub fn keymap(&self, b: usize) -> Vec<(String, Vec<u8>, KeymapKind)> {
        let Some(bucket) = self.buckets.get(b) else {
            return Vec::new();
        };
        let mut v: Vec<(String, Vec<u8>, KeymapKind)> = bucket
            .plans
            .clone()
            .filter_map(|p| {
                let plan = self.plans.get(p)?;
                let kind = match (plan.active, plan.placement) {
                    (false, _) => return None,
                    (true, Placement::Natural(Suffix::None)) => return None,
                    (true, Placement::Natural(Suffix::UserData)) => KeymapKind::MetaSuffixRename,
                    (true, Placement::Natural(Suffix::LeafData)) => KeymapKind::S3LeafData,
                    (true, Placement::Escaped(k)) => k,
                };
                Some((self.rel_name(p), plan.name().into_owned(), kind))
            })
            .collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    }

    /// End of the index pass: buckets, activity, names.
    pub fn finalize(&mut self, rename_collisions: bool) -> Result<(), Error> {
        // Visibility delivers each key once; keep the last of any duplicate anyway.
        self.plans.sort_by(|a, b| a.id.cmp(&b.id));
        self.plans.reverse();
        self.plans.dedup_by(|a, b| a.id == b.id);
        self.plans.reverse();

        let mut names: BTreeMap<Vec<u8>, u64> = std::mem::take(&mut self.metas);
        let mut plan_buckets = Vec::with_capacity(self.plans.len());
        for p in &self.plans {
            let b = keys::parse_manifest(&p.id)
                .map(|o| o.bucket)
                .ok_or_else(|| Error::Internal("s3 plan id does not parse".into()))?;
            names.entry(b.clone()).or_insert(0);
            plan_buckets.push(b);
        }
        let mut buckets = Vec::with_capacity(names.len());
        for (name, active_gen) in names {
            let dir = bucket_dir(&name)?;
            buckets.push(BucketInfo {
                name,
                active_gen,
                dir,
                plans: 0..0,
            });
        }
        // Plans of one bucket are contiguous: the escaped bucket segment is prefix-free.
        let mut start = 0;
        for (i, b) in buckets.iter_mut().enumerate() {
            let mut end = start;
            while plan_buckets.get(end).is_some_and(|n| *n == b.name) {
                if let Some(p) = self.plans.get_mut(end) {
                    p.bucket = i;
                }
                end += 1;
            }
            b.plans = start..end;
            start = end;
        }
        self.buckets = buckets;
        for b in 0..self.buckets.len() {
            self.mark_active(b);
            self.place_bucket(b, rename_collisions)?;
        }
        Ok(())
    }

    /// Spec 20 §8.2: the active generation's objects are written. Without bucket meta
    /// every generation is active; when two generations hold the same key (upstream then
    /// writes both to one path, order undefined) the newest generation wins and the
    /// others are treated as stale.
    fn mark_active(&mut self, b: usize) {
        let Some(bucket) = self.buckets.get(b) else {
            return;
        };
        let (range, active_gen) = (bucket.plans.clone(), bucket.active_gen);
        if active_gen != 0 {
            for p in &mut self.plans[range] {
                p.active = p.gen == active_gen;
            }
            return;
        }
        let mut order: Vec<usize> = range.collect();
        order.sort_by(|&x, &y| {
            let (px, py) = (&self.plans[x], &self.plans[y]);
            px.name().cmp(&py.name()).then(py.gen.cmp(&px.gen))
        });
        let mut prev: Option<usize> = None;
        for &i in &order {
            let shadowed = prev.is_some_and(|j| self.plans[j].name() == self.plans[i].name());
            self.plans[i].active = !shadowed;
            prev = Some(i);
        }
    }

    /// Spec 20 §8.3 plus our escaping: decides every active object's placement.
    fn place_bucket(&mut self, b: usize, rename_collisions: bool) -> Result<(), Error> {
        let Some(bucket) = self.buckets.get(b) else {
            return Ok(());
        };
        let range = bucket.plans.clone();
        let plans = &self.plans;
        // Natural candidates, sorted by name (names are borrowed: no NUL in them).
        let mut cands: Vec<(&str, usize)> = Vec::new();
        let mut decided: Vec<(usize, Placement)> = Vec::new();
        for i in range {
            let p = &plans[i];
            if !p.active {
                continue;
            }
            let name = p.name();
            if name.ends_with(META_SUFFIX.as_bytes()) && !rename_collisions {
                return Err(S3Error::MetaSuffixCollision {
                    bucket: quote(&bucket.name),
                    object: quote(&name),
                }
                .into());
            }
            match classify(&name) {
                Class::Unsafe => decided.push((i, Placement::Escaped(KeymapKind::S3UnsafeKey))),
                Class::Control => decided.push((i, Placement::Escaped(KeymapKind::S3ControlName))),
                Class::Natural => {
                    if let Cow::Borrowed(n) = name {
                        if let Ok(s) = std::str::from_utf8(n) {
                            cands.push((s, i));
                        }
                    }
                }
            }
        }
        cands.sort_unstable();
        let find = |n: &str| cands.binary_search_by(|c| c.0.cmp(n)).ok();
        let is_dir_prefix = |n: &str| {
            let probe = format!("{n}/");
            let at = cands.partition_point(|c| c.0 < probe.as_str());
            cands.get(at).is_some_and(|c| c.0.starts_with(&probe))
        };
        // Upstream's renames, with a colliding target escaped instead of failing.
        let mut first: Vec<Placement> = Vec::with_capacity(cands.len());
        for &(n, _) in &cands {
            let (suffix, extra) = if n.ends_with(META_SUFFIX) {
                (Suffix::UserData, USER_DATA_SUFFIX.len())
            } else if is_dir_prefix(n) {
                (Suffix::LeafData, LEAF_SUFFIX.len())
            } else {
                (Suffix::None, 0)
            };
            let target_taken =
                suffix != Suffix::None && find(&format!("{n}{}", suffix.as_str())).is_some();
            first.push(if target_taken || !last_segment_fits(n, extra) {
                Placement::Escaped(KeymapKind::S3UnsafeKey)
            } else {
                Placement::Natural(suffix)
            });
        }
        // A path that is some object's body or sidecar cannot also be a directory of
        // another object: such objects are escaped (upstream fails with an OS error).
        let is_body = |path: &str| {
            [Suffix::None, Suffix::UserData, Suffix::LeafData]
                .into_iter()
                .any(|s| {
                    path.strip_suffix(s.as_str())
                        .filter(|base| s == Suffix::None || !base.is_empty())
                        .and_then(find)
                        .is_some_and(|j| first.get(j) == Some(&Placement::Natural(s)))
                })
        };
        let is_file =
            |path: &str| is_body(path) || path.strip_suffix(META_SUFFIX).is_some_and(is_body);
        for (j, &(n, i)) in cands.iter().enumerate() {
            let mut placement = first
                .get(j)
                .copied()
                .unwrap_or(Placement::Natural(Suffix::None));
            if matches!(placement, Placement::Natural(_))
                && n.match_indices('/').any(|(at, _)| is_file(&n[..at]))
            {
                placement = Placement::Escaped(KeymapKind::S3UnsafeKey);
            }
            decided.push((i, placement));
        }
        for (i, placement) in decided {
            if let Some(p) = self.plans.get_mut(i) {
                p.placement = placement;
            }
        }
        Ok(())
    }
}

/// Length of the encoded form of an object segment (escapes plus terminator).
fn keys_object_len(object: &[u8]) -> usize {
    object.len() + object.iter().filter(|&&b| b == 0).count() + 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::s3::keys::build;

    fn index_of(
        bucket_meta: Option<u64>,
        objs: &[(u64, &[u8])],
        rename: bool,
    ) -> Result<Index, Error> {
        let mut ix = Index::default();
        if let Some(g) = bucket_meta {
            ix.add_bucket_meta(b"c".to_vec(), format!("{{\"generation\":{g}}}").as_bytes())?;
        }
        for (gen, name) in objs {
            // The manifest key after its prefix.
            let k = &build::object_scope(b"c", *gen, name);
            let o = keys::parse_manifest(k).unwrap();
            ix.add_manifest(
                k,
                &o,
                br#"{"upload_id":"u","parts":[{"part_no":1,"chunk_count":1}]}"#,
            )?;
        }
        ix.finalize(rename)?;
        Ok(ix)
    }

    fn placements(ix: &Index) -> Vec<(String, String)> {
        (0..ix.plans.len())
            .filter(|&p| ix.plans[p].active)
            .map(|p| {
                (
                    String::from_utf8_lossy(&ix.plans[p].name()).into_owned(),
                    ix.rel_name(p),
                )
            })
            .collect()
    }

    #[test]
    fn leaf_rename_tv3() {
        let ix = index_of(Some(1), &[(1, b"a/b"), (1, b"a/b/c")], false).unwrap();
        assert_eq!(
            placements(&ix),
            [
                ("a/b".into(), "a/b.elastickv-leaf-data".into()),
                ("a/b/c".into(), "a/b/c".into())
            ]
        );
        assert_eq!(ix.keymap(0)[0].0, "a/b.elastickv-leaf-data");
        assert_eq!(ix.keymap(0)[0].2, KeymapKind::S3LeafData);
    }

    #[test]
    fn meta_suffix_tv4_tv5() {
        let e = index_of(Some(1), &[(1, b"x.elastickv-meta.json")], false).unwrap_err();
        assert!(e
            .to_string()
            .contains("collides with reserved sidecar suffix"));
        let ix = index_of(Some(1), &[(1, b"x.elastickv-meta.json")], true).unwrap();
        assert_eq!(ix.rel_name(0), "x.elastickv-meta.json.user-data");
        assert_eq!(ix.keymap(0)[0].2, KeymapKind::MetaSuffixRename);
    }

    #[test]
    fn colliding_targets_are_escaped() {
        let ix = index_of(
            Some(1),
            &[
                (1, b"x.elastickv-meta.json"),
                (1, b"x.elastickv-meta.json.user-data"),
                (1, b"k"),
                (1, b"k/z"),
                (1, b"k.elastickv-leaf-data"),
            ],
            true,
        )
        .unwrap();
        let p = placements(&ix);
        assert!(
            p.contains(&(
                "x.elastickv-meta.json".into(),
                "_escaped_keys/x%2Eelastickv-meta%2Ejson".into()
            )),
            "{p:?}"
        );
        assert!(p.contains(&(
            "x.elastickv-meta.json.user-data".into(),
            "x.elastickv-meta.json.user-data".into()
        )));
        assert!(p.contains(&("k".into(), "_escaped_keys/k".into())), "{p:?}");
        assert!(p.contains(&("k/z".into(), "k/z".into())));
    }

    #[test]
    fn sidecar_directory_conflict_is_escaped() {
        // `k`'s sidecar is `k.elastickv-meta.json`; another object needs it as a directory.
        let ix = index_of(Some(1), &[(1, b"k"), (1, b"k.elastickv-meta.json/x")], true).unwrap();
        let p = placements(&ix);
        assert!(p.contains(&("k".into(), "k".into())), "{p:?}");
        assert!(
            p.contains(&(
                "k.elastickv-meta.json/x".into(),
                "_escaped_keys/k%2Eelastickv-meta%2Ejson%2Fx".into()
            )),
            "{p:?}"
        );
        // Without the sidecar owner there is no conflict: written as upstream does.
        let ix = index_of(Some(1), &[(1, b"k.elastickv-meta.json/x")], true).unwrap();
        assert_eq!(placements(&ix)[0].1, "k.elastickv-meta.json/x");
    }

    #[test]
    fn unsafe_and_control_names() {
        let ix = index_of(
            Some(1),
            &[
                (1, b"_bucket.json"),
                (1, b"KEYMAP.jsonl"),
                (1, b"a/../b"),
                (1, b"/lead"),
                (1, b"nul\x00x"),
                (1, b"ok"),
            ],
            false,
        )
        .unwrap();
        let km = ix.keymap(0);
        let kinds: Vec<(&[u8], &str, &str)> = km
            .iter()
            .map(|(e, o, k)| (o.as_slice(), e.as_str(), k.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (&b"/lead"[..], "_escaped_keys/%2Flead", "s3-unsafe-key"),
                (
                    b"KEYMAP.jsonl",
                    "_escaped_keys/KEYMAP%2Ejsonl",
                    "s3-control-name"
                ),
                (
                    b"_bucket.json",
                    "_escaped_keys/_bucket%2Ejson",
                    "s3-control-name"
                ),
                (b"a/../b", "_escaped_keys/a%2F%2E%2E%2Fb", "s3-unsafe-key"),
                (b"nul\x00x", "_escaped_keys/nul%00x", "s3-unsafe-key"),
            ]
        );
        for p in 0..ix.plans.len() {
            let path = ix.body_path(p).unwrap();
            assert!(path.as_str().starts_with("s3/c/"), "{path}");
        }
    }

    #[test]
    fn generations() {
        // Stale generation (TV6).
        let ix = index_of(Some(2), &[(1, b"old.txt"), (2, b"new.txt")], false).unwrap();
        assert_eq!(placements(&ix), [("new.txt".into(), "new.txt".into())]);
        // No bucket meta: all generations active, same key → newest generation.
        let ix = index_of(None, &[(1, b"k"), (3, b"k"), (2, b"j")], false).unwrap();
        let act: Vec<(u64, bool)> = ix.plans.iter().map(|p| (p.gen, p.active)).collect();
        assert_eq!(act, [(1, false), (2, true), (3, true)]);
    }

    #[test]
    fn bucket_dirs() {
        assert_eq!(
            bucket_dir(b"my bucket~").unwrap().as_str(),
            "s3/my%20bucket%7E"
        );
        assert!(bucket_dir(b"").is_err());
        assert!(bucket_dir(b"..").is_err());
    }

    #[test]
    fn slots_and_direct_mode() {
        let o = keys::parse_manifest(&build::object_scope(b"b", 3, b"big.bin")).unwrap();
        let m = decode_manifest(br#"{"upload_id":"up-9","parts":[{"part_no":2,"chunk_count":2,"chunk_sizes":[2,1],"part_version":7},{"part_no":1,"chunk_count":2,"chunk_sizes":[3,2]},{"part_no":3,"chunk_count":0}]}"#).unwrap();
        let s = slots_of(&o, &m).unwrap();
        assert_eq!(
            s.iter()
                .map(|s| (s.part_no, s.version, s.size_sum))
                .collect::<Vec<_>>(),
            [(1, 0, Some(5)), (2, 7, Some(3))]
        );
        let bad = decode_manifest(
            br#"{"parts":[{"part_no":1,"chunk_count":2,"chunk_sizes":[10],"offloaded":true}]}"#,
        )
        .unwrap();
        assert!(slots_of(&o, &bad).is_err());
    }
}

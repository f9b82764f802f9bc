//! Synthetic Redis keys for `gen` (database 0): every type, small and huge.
//!
//! * Strings in four namespaces — `cache:` (JSON-ish text, 30% with TTL), `counter:`
//!   (often updated: older versions), `session:` (binary tokens, all with TTL, 3% already
//!   expired), `user:…:profile` (text, a few deleted). A TTL is written three ways, as the
//!   live adapter does: in the value envelope, as the MVCC expiry, and as a `!redis|ttl|` row.
//! * Small collections — hashes, lists, sets, sorted sets, streams of 2–200 members;
//!   some with an inline TTL in their meta, some hashes with the legacy 8-byte meta and a
//!   `!redis|ttl|` row instead, 1% deleted (tombstones over every row).
//! * One huge collection of each type (a third of the Redis budget between them), produced
//!   in blocks of members so it never sits in memory.
//! * HLL sketches.
//!
//! Names are fixed-width and members are numbered, so every family is in key order by
//! construction (sorted-set scores grow with the member number, for the score index).

use super::{envelope, sortable_f64, sortable_i64, wide};
use crate::enc::cat;
use crate::rng::Rng;
use crate::synth::{count_for, history, stored, ts_ago, Fate, FAR_MS, PAST_MS};
use crate::version::{units, Family, Version};
use elastickv_backup_engine::decode::Family as KeyFamily;
use elastickv_backup_format::values::Pb;

const R: u64 = 0x52;
const BLOCK: u64 = 1024;

fn be(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ns {
    Cache,
    Counter,
    Session,
    User,
}

fn string_key(ns: Ns, i: u64) -> String {
    match ns {
        Ns::Cache => format!("cache:{i:010}"),
        Ns::Counter => format!("counter:{i:010}"),
        Ns::Session => format!("session:{i:010}"),
        Ns::User => format!("user:{i:010}:profile"),
    }
}

/// (versions of the string, its TTL if any).
fn string(seed: u64, ns: Ns, i: u64, out: &mut Vec<Version>) -> Option<(u64, Fate, u64)> {
    let mut rng = Rng::derive(seed, &[R, 1, ns as u64, i]);
    let uk = string_key(ns, i);
    let (fate, ttl, body) = match ns {
        Ns::Cache => {
            let mut b = Vec::new();
            let n = rng.log_uniform(50, 4000) as usize;
            rng.text(&mut b, n);
            let ttl = rng.chance(300).then(|| FAR_MS - rng.below(86_400_000));
            (Fate::draw(&mut rng, 0, 20), ttl, b)
        }
        Ns::Counter => (
            Fate::draw(&mut rng, 300, 0),
            None,
            rng.below(1_000_000).to_string().into_bytes(),
        ),
        Ns::Session => {
            let mut b = Vec::new();
            let n = rng.between(64, 512) as usize;
            rng.bytes(&mut b, n);
            let ttl = if rng.chance(30) {
                PAST_MS - rng.below(86_400_000)
            } else {
                FAR_MS - rng.below(86_400_000)
            };
            (Fate::draw(&mut rng, 0, 30), Some(ttl), b)
        }
        Ns::User => {
            let mut b = Vec::new();
            let n = rng.log_uniform(200, 1500) as usize;
            rng.text(&mut b, n);
            (Fate::draw(&mut rng, 50, 10), None, b)
        }
    };
    let ttl_ms = ttl.unwrap_or(0);
    let ts = ts_ago(1000 + rng.below(30 * 86_400_000), 0);
    let new = envelope(1, ttl_ms, &body);
    let old = envelope(1, ttl_ms, b"0");
    history(
        out,
        &KeyFamily::RedisString.key(uk.as_bytes()),
        fate,
        ts,
        ttl_ms,
        &new,
        &old,
    );
    ttl.map(|t| (t, fate, ts))
}

fn ttl_row(uk: &str, ttl: u64, fate: Fate, ts: u64, out: &mut Vec<Version>) {
    let key = KeyFamily::RedisTtl.key(uk.as_bytes());
    let fate = if fate == Fate::Deleted {
        Fate::Deleted
    } else {
        Fate::Live
    };
    history(out, &key, fate, ts, ttl, &be(ttl), &be(ttl));
}

fn string_families(seed: u64, budget: u64) -> Vec<Family> {
    let shares = [
        (Ns::Cache, 40),
        (Ns::Counter, 10),
        (Ns::Session, 25),
        (Ns::User, 25),
    ];
    let mut out = Vec::new();
    for (ns, p) in shares {
        let count = count_for(budget * p / 100, |i| {
            let mut v = Vec::new();
            string(seed, ns, i, &mut v);
            stored(&v)
        });
        out.push(units(count, move |i, o| {
            string(seed, ns, i, o);
        }));
        if matches!(ns, Ns::Cache | Ns::Session) {
            out.push(units(count, move |i, o| {
                let mut scratch = Vec::new();
                if let Some((ttl, fate, ts)) = string(seed, ns, i, &mut scratch) {
                    ttl_row(&string_key(ns, i), ttl, fate, ts, o);
                }
            }));
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Hash,
    List,
    Set,
    ZSet,
    Stream,
}

const KINDS: [Kind; 5] = [Kind::Hash, Kind::List, Kind::Set, Kind::ZSet, Kind::Stream];

/// A collection: its name, member count, fate, meta TTL style and commit time.
#[derive(Clone)]
struct Coll {
    uk: String,
    n: u64,
    fate: Fate,
    /// 0 = legacy meta without TTL, 1 = inline TTL, 2 = legacy meta + `!redis|ttl|` row.
    ttl_style: u8,
    ttl: u64,
    ts: u64,
    /// Seed of the member contents.
    id: u64,
}

fn small_name(kind: Kind, i: u64) -> String {
    match kind {
        Kind::Hash => format!("hash:{i:09}"),
        Kind::List => format!("list:{i:09}"),
        Kind::Set => format!("set:{i:09}"),
        Kind::ZSet => format!("zset:{i:09}"),
        Kind::Stream => format!("stream:{i:08}"),
    }
}

/// Huge collection names: shorter than the small ones (their length prefix sorts first),
/// except lists (no length prefix: same length, sorting after the small ones).
fn huge_name(kind: Kind, j: u64) -> String {
    match kind {
        Kind::Hash => format!("bighash:{j:02}"),
        Kind::List => format!("list:big{j:05}"),
        Kind::Set => format!("bigset:{j:02}"),
        Kind::ZSet => format!("bigzset:{j:02}"),
        Kind::Stream => format!("bigstream:{j:02}"),
    }
}

fn small(seed: u64, kind: Kind, i: u64) -> Coll {
    let mut rng = Rng::derive(seed, &[R, 2, kind as u64, i]);
    let ttl_style = match rng.below(20) {
        0 | 1 => 1,
        2 if kind == Kind::Hash => 2,
        _ => 0,
    };
    Coll {
        uk: small_name(kind, i),
        n: rng.log_uniform(2, 200),
        fate: Fate::draw(&mut rng, 0, 10),
        ttl_style,
        ttl: FAR_MS - rng.below(86_400_000),
        ts: ts_ago(1000 + rng.below(60 * 86_400_000), 0),
        id: i,
    }
}

fn huge(kind: Kind, n: u64) -> Coll {
    Coll {
        uk: huge_name(kind, 0),
        n,
        fate: Fate::Live,
        ttl_style: 0,
        ttl: 0,
        ts: ts_ago(5000, 0),
        id: u64::MAX,
    }
}

fn zscore(j: u64, rng: &mut Rng) -> f64 {
    -1000.0 + j as f64 * 1.5 + rng.unit()
}

/// The primary rows of member `j` (a second family, `!zs|scr|`, is `secondary`).
fn member(seed: u64, kind: Kind, c: &Coll, j: u64, out: &mut Vec<Version>) {
    let mut rng = Rng::derive(seed, &[R, 3, kind as u64, c.id, j]);
    let uk = c.uk.as_bytes();
    let (key, value) = match kind {
        Kind::Hash => {
            let mut v = Vec::new();
            let n = rng.log_uniform(5, 200) as usize;
            if rng.chance(50) {
                rng.bytes(&mut v, n);
            } else {
                rng.text(&mut v, n);
            }
            (
                wide(KeyFamily::RedisHashField, uk, format!("f{j:09}").as_bytes()),
                v,
            )
        }
        Kind::List => {
            let head = -((c.n / 3) as i64);
            let mut v = Vec::new();
            let n = rng.log_uniform(20, 500) as usize;
            rng.text(&mut v, n);
            (
                cat(&[
                    KeyFamily::RedisListItem.prefix(),
                    uk,
                    &sortable_i64(head + j as i64),
                ]),
                v,
            )
        }
        Kind::Set => (
            wide(
                KeyFamily::RedisSetMember,
                uk,
                format!("member:{j:08}:{}", rng.alnum(6)).as_bytes(),
            ),
            Vec::new(),
        ),
        Kind::ZSet => (
            wide(
                KeyFamily::RedisZsetMember,
                uk,
                format!("player:{j:08}").as_bytes(),
            ),
            zscore(j, &mut rng).to_bits().to_be_bytes().to_vec(),
        ),
        Kind::Stream => {
            let ms = super::EPOCH_MS - 1_000_000 + j * 7;
            let id = format!("{ms}-0");
            let mut pb = Pb::default().bytes(1, id.as_bytes());
            for f in 0..rng.between(1, 4) {
                let mut val = Vec::new();
                let n = rng.log_uniform(4, 200) as usize;
                rng.text(&mut val, n);
                pb = pb.bytes(2, format!("field{f}").as_bytes()).bytes(2, &val);
            }
            (
                wide(KeyFamily::RedisStreamEntry, uk, &cat(&[&be(ms), &be(0)])),
                cat(&[b"\x00RXE\x01", &pb.0]),
            )
        }
    };
    let fate = if c.fate == Fate::Deleted {
        Fate::Deleted
    } else if kind == Kind::Hash && rng.chance(20) {
        Fate::Updated
    } else {
        Fate::Live
    };
    history(out, &key, fate, c.ts, 0, &value, b"old");
}

/// The [`KeyFamily::RedisZsetScore`] row of member `j`.
fn secondary(seed: u64, c: &Coll, j: u64, out: &mut Vec<Version>) {
    let mut rng = Rng::derive(seed, &[R, 3, Kind::ZSet as u64, c.id, j]);
    let member = format!("player:{j:08}");
    let key = wide(
        KeyFamily::RedisZsetScore,
        c.uk.as_bytes(),
        &cat(&[&sortable_f64(zscore(j, &mut rng)), member.as_bytes()]),
    );
    history(out, &key, c.fate, c.ts, 0, b"", b"");
}

fn meta(kind: Kind, c: &Coll, out: &mut Vec<Version>) {
    let uk = c.uk.as_bytes();
    let ttl = if c.ttl_style == 1 { Some(c.ttl) } else { None };
    let (key, mut value) = match kind {
        Kind::Hash => (wide(KeyFamily::RedisHashMeta, uk, b""), be(c.n).to_vec()),
        Kind::Set => (wide(KeyFamily::RedisSetMeta, uk, b""), be(c.n).to_vec()),
        Kind::ZSet => (wide(KeyFamily::RedisZsetMeta, uk, b""), be(c.n).to_vec()),
        Kind::List => {
            let head = -((c.n / 3) as i64);
            (
                cat(&[KeyFamily::RedisListMeta.prefix(), uk]),
                cat(&[
                    &(head as u64).to_be_bytes(),
                    &((head + c.n as i64) as u64).to_be_bytes(),
                    &be(c.n),
                ]),
            )
        }
        Kind::Stream => {
            let last = super::EPOCH_MS - 1_000_000 + c.n.saturating_sub(1) * 7;
            (
                wide(KeyFamily::RedisStreamMeta, uk, b""),
                cat(&[&be(c.n), &be(last), &be(0)]),
            )
        }
    };
    if let Some(t) = ttl {
        value.extend_from_slice(&be(t));
    }
    history(out, &key, c.fate, c.ts, 0, &value, &value);
}

/// Bytes a collection's rows take (sampled members).
fn coll_bytes(seed: u64, kind: Kind, c: &Coll) -> u64 {
    let mut v = Vec::new();
    let probe = c.n.min(8);
    for j in 0..probe {
        member(seed, kind, c, j, &mut v);
        if kind == Kind::ZSet {
            secondary(seed, c, j, &mut v);
        }
    }
    stored(&v) * c.n / probe.max(1) + 64
}

/// Member rows of one kind: the huge collection in blocks, then (or, for lists, after) the
/// small ones, each small collection one unit.
fn members_family(seed: u64, kind: Kind, big: Coll, n_small: u64, zscr: bool) -> Family {
    let blocks = big.n.div_ceil(BLOCK);
    let big2 = big.clone();
    let huge: Family = units(blocks, move |b, out| {
        for j in b * BLOCK..((b + 1) * BLOCK).min(big2.n) {
            if zscr {
                secondary(seed, &big2, j, out);
            } else {
                member(seed, kind, &big2, j, out);
            }
        }
    });
    let smalls: Family = units(n_small, move |i, out| {
        let c = small(seed, kind, i);
        for j in 0..c.n {
            if zscr {
                secondary(seed, &c, j, out);
            } else {
                member(seed, kind, &c, j, out);
            }
        }
    });
    if kind == Kind::List {
        Box::new(smalls.chain(huge))
    } else {
        Box::new(huge.chain(smalls))
    }
}

fn meta_family(seed: u64, kind: Kind, big: Coll, n_small: u64) -> Family {
    let mut big_rows = Vec::new();
    meta(kind, &big, &mut big_rows);
    let huge: Family = Box::new(big_rows.into_iter());
    let smalls: Family = units(n_small, move |i, out| {
        meta(kind, &small(seed, kind, i), out)
    });
    if kind == Kind::List {
        Box::new(smalls.chain(huge))
    } else {
        Box::new(huge.chain(smalls))
    }
}

fn collection_families(seed: u64, small_budget: u64, huge_budget: u64) -> Vec<Family> {
    let mut out = Vec::new();
    for kind in KINDS {
        let n_small = count_for(small_budget / KINDS.len() as u64, |i| {
            coll_bytes(seed, kind, &small(seed, kind, i))
        });
        let per_member = coll_bytes(seed, kind, &huge(kind, 1024)) / 1024;
        let big = huge(
            kind,
            (huge_budget / KINDS.len() as u64 / per_member.max(1)).max(1),
        );
        out.push(members_family(seed, kind, big.clone(), n_small, false));
        if kind == Kind::ZSet {
            out.push(members_family(seed, kind, big.clone(), n_small, true));
        }
        out.push(meta_family(seed, kind, big, n_small));
        if kind == Kind::Hash {
            out.push(units(n_small, move |i, o| {
                let c = small(seed, Kind::Hash, i);
                if c.ttl_style == 2 {
                    ttl_row(&c.uk, c.ttl, c.fate, c.ts, o);
                }
            }));
        }
    }
    out
}

fn hll(seed: u64, i: u64, out: &mut Vec<Version>) {
    let mut rng = Rng::derive(seed, &[R, 4, i]);
    let mut body = b"HYLL\x01\x00\x00\x00".to_vec();
    let n = rng.between(200, 12_304) as usize;
    rng.bytes(&mut body, n);
    let ts = ts_ago(1000 + rng.below(86_400_000), 0);
    let key = KeyFamily::RedisHll.key(format!("hll:{i:06}").as_bytes());
    history(out, &key, Fate::Live, ts, 0, &envelope(2, 0, &body), b"");
}

/// The Redis families for `budget` bytes.
pub fn families(seed: u64, budget: u64) -> Vec<Family> {
    let mut out = string_families(seed, budget * 35 / 100);
    out.extend(collection_families(
        seed,
        budget * 27 / 100,
        budget * 35 / 100,
    ));
    let n_hll = count_for(budget * 3 / 100, |i| {
        let mut v = Vec::new();
        hll(seed, i, &mut v);
        stored(&v)
    });
    out.push(units(n_hll, move |i, o| hll(seed, i, o)));
    out
}

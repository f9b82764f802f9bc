//! Synthetic DynamoDB tables for `gen`: many small items of realistic shape.
//!
//! * `orders` — hash `customer_id` S + range `order_no` N (1–12 orders per customer), a GSI
//!   `by_day` (`day` S, `created_at` N) whose rows are generated too; items with nested
//!   lists/maps, string sets, booleans, nulls. Some updated (older version), some deleted.
//! * `users` — hash `user_id` S; unicode names, maps, number sets, some binary avatars.
//! * `events` — hash `event_id` B (binary keys), append-only, a few TTL deletions.
//! * `sessions` — hash `session_id` S; a tenth expired and deleted (tombstones).
//! * `inventory` — hash `sku` S + range `warehouse` S at generation 2, with leftover
//!   generation-1 items (stale: dropped by the decoder with a warning).
//!
//! Every key is built from its record index with fixed-width numbers, so each family is in
//! key order by construction; record `i`'s content comes from `Rng::derive(seed, [table, i])`.

use super::{item, n, number_raw, s, schema_with, SchemaDef};
use crate::enc::{b64url, cat, seg};
use crate::rng::Rng;
use crate::synth::{count_for, day, history, stored, ts_ago, Fate, SNAP_MS};
use crate::version::{fixed, units, Family, Version};
use elastickv_backup_format::keys::ddb;
use elastickv_backup_format::values::ddb::{self as av, SetKind};

const ORDERS: u64 = 1;
const USERS: u64 = 2;
const EVENTS: u64 = 3;
const SESSIONS: u64 = 4;
const INVENTORY: u64 = 5;

/// Shares of the DynamoDB budget, percent.
const SHARES: [(u64, u64); 5] = [
    (ORDERS, 45),
    (USERS, 25),
    (EVENTS, 17),
    (SESSIONS, 8),
    (INVENTORY, 5),
];

fn bool_av(b: bool) -> Vec<u8> {
    av::boolean(b)
}

fn null_av() -> Vec<u8> {
    av::null(true)
}

fn bin_av(v: &[u8]) -> Vec<u8> {
    av::b(v)
}

fn set_av(kind: SetKind, vals: &[Vec<u8>]) -> Vec<u8> {
    av::set(kind, vals.iter().map(Vec::as_slice))
}

fn list_av(vals: &[Vec<u8>]) -> Vec<u8> {
    av::list(vals.iter().map(Vec::as_slice))
}

fn map_av(attrs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    av::map(attrs.iter().map(|(name, v)| (*name, v.as_slice())))
}

/// Replaces attribute `name` (found by name: `item` writes attributes in name order
/// whatever their order here).
fn replace(attrs: &mut [(&str, Vec<u8>)], name: &str, v: Vec<u8>) {
    if let Some(a) = attrs.iter_mut().find(|a| a.0 == name) {
        a.1 = v;
    }
}

fn money(rng: &mut Rng, max_cents: u64) -> String {
    let c = rng.between(1, max_cents);
    format!("{}.{:02}", c / 100, c % 100)
}

fn text(rng: &mut Rng, lo: u64, hi: u64) -> String {
    let mut t = Vec::new();
    let len = rng.log_uniform(lo, hi) as usize;
    rng.text(&mut t, len);
    String::from_utf8_lossy(&t).into_owned()
}

fn item_key(t: &str, generation: u64, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = ddb::item_prefix(t.as_bytes(), generation);
    for p in parts {
        k.extend_from_slice(&seg(p));
    }
    k
}

/// The walk over `orders`: item `i` is order `r` (1-based) of customer `h`.
#[derive(Clone)]
struct OrdersWalk {
    seed: u64,
    h: u64,
    r: u64,
    per_h: u64,
}

impl OrdersWalk {
    fn new(seed: u64) -> Self {
        let mut w = OrdersWalk {
            seed,
            h: 0,
            r: 0,
            per_h: 0,
        };
        w.per_h = w.orders_of(0);
        w
    }

    fn orders_of(&self, h: u64) -> u64 {
        Rng::derive(self.seed, &[ORDERS, 0, h]).between(1, 12)
    }

    /// (customer, order number) of the next item.
    fn step(&mut self) -> (u64, u64) {
        if self.r == self.per_h {
            self.h += 1;
            self.r = 0;
            self.per_h = self.orders_of(self.h);
        }
        self.r += 1;
        (self.h, self.r)
    }
}

const STATUSES: &[&str] = &["pending", "paid", "shipped", "delivered", "returned"];
const ORDER_STEP_MS: u64 = 1_500;

struct OrderRow {
    fate: Fate,
    key: Vec<u8>,
    ts: u64,
    created: u64,
    new: Vec<u8>,
    old: Vec<u8>,
}

fn order(seed: u64, t: &str, count: u64, i: u64, h: u64, r: u64) -> OrderRow {
    let mut rng = Rng::derive(seed, &[ORDERS, 1, i]);
    let fate = Fate::draw(&mut rng, 40, 15);
    let created = SNAP_MS - (count - i) * ORDER_STEP_MS - 60_000;
    let cust = format!("cust-{h:08}");
    let key = item_key(t, 1, &[cust.as_bytes(), &number_raw(r)]);
    let lines: Vec<Vec<u8>> = (0..rng.between(1, 5))
        .map(|_| {
            let sku = format!("SKU-{:06}", rng.below(1_000_000));
            map_av(&[
                ("sku", s(&sku)),
                ("qty", n(&rng.between(1, 9).to_string())),
                ("price", n(&money(&mut rng, 50_000))),
            ])
        })
        .collect();
    let tags: Vec<Vec<u8>> = ["gift", "express", "b2b", "promo"]
        .iter()
        .filter(|_| rng.chance(300))
        .map(|t| t.as_bytes().to_vec())
        .collect();
    let status = *rng.pick(STATUSES);
    let note = if rng.chance(700) {
        null_av()
    } else {
        s(&text(&mut rng, 20, 300))
    };
    let amount = money(&mut rng, 500_000);
    let mut attrs = vec![
        ("customer_id", s(&cust)),
        ("order_no", n(&r.to_string())),
        ("status", s(status)),
        ("amount", n(&amount)),
        ("currency", s(if rng.chance(600) { "EUR" } else { "USD" })),
        ("created_at", n(&created.to_string())),
        ("day", s(&day(created))),
        ("lines", list_av(&lines)),
        ("paid", bool_av(status != "pending")),
        ("note", note),
    ];
    if !tags.is_empty() {
        attrs.push(("tags", set_av(SetKind::Strings, &tags)));
    }
    let new = item(&attrs);
    replace(&mut attrs, "status", s("pending"));
    replace(&mut attrs, "paid", bool_av(false));
    let old = item(&attrs);
    OrderRow {
        fate,
        key,
        ts: (created + 60_000) << 16,
        created,
        new,
        old,
    }
}

fn order_item(o: &OrderRow, out: &mut Vec<Version>) {
    history(out, &o.key, o.fate, o.ts, 0, &o.new, &o.old);
}

fn order_gsi(o: &OrderRow, t: &str, h: u64, r: u64, out: &mut Vec<Version>) {
    let idx = b64url(b"by_day");
    let key = cat(&[
        &ddb::gsi_prefix(t.as_bytes(), 1, idx.as_bytes()),
        &seg(day(o.created).as_bytes()),
        &seg(&number_raw(o.created)),
        &seg(format!("cust-{h:08}").as_bytes()),
        &seg(&number_raw(r)),
    ]);
    let fate = if o.fate == Fate::Deleted {
        Fate::Deleted
    } else {
        Fate::Live
    };
    history(out, &key, fate, o.ts, 0, &o.key, &o.key);
}

fn orders_families(seed: u64, budget: u64) -> (Vec<Family>, Vec<Version>) {
    let t = b64url(b"orders");
    let count = count_for(budget, {
        let mut w = OrdersWalk::new(seed);
        let t = t.clone();
        move |i| {
            let (h, r) = w.step();
            let o = order(seed, &t, 1_000_000, i, h, r);
            let mut v = Vec::new();
            order_item(&o, &mut v);
            order_gsi(&o, &t, h, r, &mut v);
            stored(&v)
        }
    });
    let items = {
        let mut w = OrdersWalk::new(seed);
        let t = t.clone();
        units(count, move |i, out| {
            let (h, r) = w.step();
            order_item(&order(seed, &t, count, i, h, r), out);
        })
    };
    let gsi = {
        let mut w = OrdersWalk::new(seed);
        let t = t.clone();
        units(count, move |i, out| {
            let (h, r) = w.step();
            order_gsi(&order(seed, &t, count, i, h, r), &t, h, r, out);
        })
    };
    let schema = schema_with(&SchemaDef {
        table: "orders",
        defs: &[
            ("customer_id", "S"),
            ("order_no", "N"),
            ("day", "S"),
            ("created_at", "N"),
        ],
        hash: "customer_id",
        range: Some("order_no"),
        gsis: &[("by_day", "day", Some("created_at"))],
        generation: 1,
    });
    (vec![items, gsi], meta("orders", schema, 1))
}

fn meta(table: &str, schema: Vec<u8>, generation: u64) -> Vec<Version> {
    let t = b64url(table.as_bytes());
    let ts = ts_ago(400 * 86_400_000, 0);
    vec![
        Version::put(&ddb::table_meta(t.as_bytes()), ts, 0, &schema),
        Version::put(
            &ddb::table_gen(t.as_bytes()),
            ts,
            0,
            generation.to_string().as_bytes(),
        ),
    ]
}

const LANGS: &[&str] = &["en", "de", "ja", "fr", "pt-BR"];

const FIRST: &[&str] = &[
    "Ana",
    "Björn",
    "Chloé",
    "Dmitri",
    "Eun-ji",
    "François",
    "Grace",
    "Hiroshi",
    "Ingrid",
    "José",
    "Kwame",
    "Łucja",
    "Mía",
    "Nikolai",
    "Olu",
    "Priya",
    "Zoë",
    "王芳",
];

fn user(seed: u64, t: &str, i: u64, out: &mut Vec<Version>) {
    let mut rng = Rng::derive(seed, &[USERS, i]);
    let fate = Fate::draw(&mut rng, 100, 5);
    let id = format!("usr_{i:09}");
    let first = *rng.pick(FIRST);
    let len = rng.between(4, 10) as usize;
    let name = format!("{first} {}", rng.alnum(len));
    let scores: Vec<Vec<u8>> = (0..rng.between(0, 6))
        .map(|_| rng.between(0, 10_000).to_string().into_bytes())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut attrs = vec![
        ("user_id", s(&id)),
        (
            "email",
            s(&format!("{}.{i}@example.com", first.to_lowercase())),
        ),
        ("name", s(&name)),
        ("age", n(&rng.between(16, 90).to_string())),
        (
            "prefs",
            map_av(&[
                ("theme", s(if rng.chance(500) { "dark" } else { "light" })),
                ("lang", s(rng.pick::<&str>(LANGS))),
                ("notifications", bool_av(rng.chance(700))),
            ]),
        ),
        ("bio", s(&text(&mut rng, 1, 600))),
    ];
    if !scores.is_empty() {
        attrs.push(("scores", set_av(SetKind::Numbers, &scores)));
    }
    if rng.chance(100) {
        let mut avatar = Vec::new();
        let len = rng.between(512, 8192) as usize;
        rng.bytes(&mut avatar, len);
        attrs.push(("avatar", bin_av(&avatar)));
    }
    let new = item(&attrs);
    replace(&mut attrs, "age", n("0"));
    let old = item(&attrs);
    let ts = ts_ago(rng.below(180 * 86_400_000) + 1000, 0);
    history(
        out,
        &item_key(t, 1, &[id.as_bytes()]),
        fate,
        ts,
        0,
        &new,
        &old,
    );
}

fn event(seed: u64, t: &str, i: u64, out: &mut Vec<Version>) {
    let mut rng = Rng::derive(seed, &[EVENTS, i]);
    let fate = Fate::draw(&mut rng, 0, 20);
    let mut id = i.to_be_bytes().to_vec();
    rng.bytes(&mut id, 8);
    let kind = *rng.pick(&["click", "view", "purchase", "signup", "error"]);
    let blobs: Vec<Vec<u8>> = (0..rng.between(0, 3))
        .map(|k| {
            let mut b = vec![k as u8];
            rng.bytes(&mut b, 15);
            b
        })
        .collect();
    let mut attrs = vec![
        ("event_id", bin_av(&id)),
        ("type", s(kind)),
        ("at", n(&(SNAP_MS - 1000 - i).to_string())),
        ("source", s(&format!("svc-{:02}", rng.below(40)))),
        (
            "detail",
            map_av(&[
                ("path", s(&format!("/p/{}", rng.alnum(12)))),
                ("ms", n(&format!("{:.3}", rng.unit() * 900.0))),
                (
                    "ctx",
                    map_av(&[
                        ("ip", s(&format!("10.{}.{}.{}", i % 256, i / 256 % 256, 7))),
                        ("ua", s(&text(&mut rng, 10, 120))),
                    ]),
                ),
            ]),
        ),
    ];
    if !blobs.is_empty() {
        attrs.push(("digests", set_av(SetKind::Binaries, &blobs)));
    }
    let body = item(&attrs);
    let ts = ts_ago(1000 + i % 86_400_000, (i % 65_536) as u16);
    history(out, &item_key(t, 1, &[&id]), fate, ts, 0, &body, &body);
}

fn session(seed: u64, t: &str, i: u64, out: &mut Vec<Version>) {
    let mut rng = Rng::derive(seed, &[SESSIONS, i]);
    let fate = Fate::draw(&mut rng, 50, 100);
    let id = format!("sess_{i:010}");
    let mut blob = Vec::new();
    let len = rng.between(32, 400) as usize;
    rng.bytes(&mut blob, len);
    let mut attrs = vec![
        ("session_id", s(&id)),
        ("user_id", s(&format!("usr_{:09}", rng.below(1_000_000)))),
        (
            "expires_at",
            n(&((SNAP_MS / 1000) + rng.below(86_400)).to_string()),
        ),
        ("data", bin_av(&blob)),
    ];
    let new = item(&attrs);
    replace(&mut attrs, "expires_at", n(&(SNAP_MS / 1000).to_string()));
    let old = item(&attrs);
    let ts = ts_ago(rng.below(3_600_000) + 1000, 0);
    history(
        out,
        &item_key(t, 1, &[id.as_bytes()]),
        fate,
        ts,
        0,
        &new,
        &old,
    );
}

const WAREHOUSES: &[&str] = &["ams", "fra", "iad", "nrt", "sfo"];

fn stock(seed: u64, t: &str, generation: u64, i: u64, out: &mut Vec<Version>) {
    let mut rng = Rng::derive(seed, &[INVENTORY, generation, i]);
    let sku = format!("sku-{:07}", i / WAREHOUSES.len() as u64);
    let wh = WAREHOUSES[(i % WAREHOUSES.len() as u64) as usize];
    let attrs = vec![
        ("sku", s(&sku)),
        ("warehouse", s(wh)),
        ("on_hand", n(&rng.below(10_000).to_string())),
        ("reserved", n(&rng.below(100).to_string())),
        ("discontinued", bool_av(rng.chance(30))),
    ];
    let body = item(&attrs);
    let ts = ts_ago(if generation == 1 { 200 } else { 10 } * 86_400_000 + i, 0);
    let key = item_key(t, generation, &[sku.as_bytes(), wh.as_bytes()]);
    history(out, &key, Fate::Live, ts, 0, &body, &body);
}

type Unit = fn(u64, &str, u64, &mut Vec<Version>);

/// A hash-only table: name, id, item generator, attribute definitions, hash key.
type SimpleTable = (
    &'static str,
    u64,
    Unit,
    &'static [(&'static str, &'static str)],
    &'static str,
);

fn simple(seed: u64, budget: u64, table: &str, f: Unit) -> Family {
    let t = b64url(table.as_bytes());
    let count = count_for(budget, |i| {
        let mut v = Vec::new();
        f(seed, &t, i, &mut v);
        stored(&v)
    });
    units(count, move |i, out| f(seed, &t, i, out))
}

/// The DynamoDB families for `budget` bytes.
pub fn families(seed: u64, budget: u64) -> Vec<Family> {
    let share = |k: u64| {
        SHARES
            .iter()
            .find(|(t, _)| *t == k)
            .map_or(0, |(_, p)| budget * p / 100)
    };
    let mut out = Vec::new();
    let mut metas = Vec::new();
    let (f, m) = orders_families(seed, share(ORDERS));
    out.extend(f);
    metas.extend(m);
    let tables: [SimpleTable; 3] = [
        ("users", USERS, user, &[("user_id", "S")], "user_id"),
        ("events", EVENTS, event, &[("event_id", "B")], "event_id"),
        (
            "sessions",
            SESSIONS,
            session,
            &[("session_id", "S")],
            "session_id",
        ),
    ];
    for (name, k, f, defs, hash) in tables {
        out.push(simple(seed, share(k), name, f));
        let schema = schema_with(&SchemaDef {
            table: name,
            defs,
            hash,
            range: None,
            gsis: &[],
            generation: 1,
        });
        metas.extend(meta(name, schema, 1));
    }
    // inventory: generation 2 active, a twentieth as many generation-1 leftovers.
    let t = b64url(b"inventory");
    let b = share(INVENTORY);
    let count = count_for(b, |i| {
        let mut v = Vec::new();
        stock(seed, &t, 2, i, &mut v);
        stored(&v)
    });
    for (generation, n) in [(1, count / 20), (2, count)] {
        let t = t.clone();
        out.push(units(n, move |i, o| stock(seed, &t, generation, i, o)));
    }
    let schema = schema_with(&SchemaDef {
        table: "inventory",
        defs: &[("sku", "S"), ("warehouse", "S")],
        hash: "sku",
        range: Some("warehouse"),
        gsis: &[],
        generation: 2,
    });
    metas.extend(meta("inventory", schema, 2));
    out.push(fixed(metas));
    out
}

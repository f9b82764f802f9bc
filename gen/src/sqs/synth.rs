//! Synthetic SQS queues for `gen`: standard and FIFO, classic and partitioned.
//!
//! * `orders-events` — standard; JSON bodies of 200 B – 8 KiB, a third with attributes,
//!   a redrive policy to `dead-letters`.
//! * `payments.fifo` — FIFO with 64 message groups, dedup ids, sequence numbers, dedup rows
//!   for the last five minutes and group-lock rows.
//! * `notifications` — standard with a 60 s delay and large bodies (1 KiB – 200 KiB).
//! * `ht-orders.fifo` — partitioned FIFO (4 partitions: the `p|` key shapes).
//! * `legacy-jobs` — generation 3, with leftover generation-2 messages (stale: dropped by
//!   the decoder with a warning) and the queue-tombstone row of generation 2.
//! * `dead-letters`, `idle` — empty.
//!
//! 5% of messages were deleted (tombstones over the data, visibility and age rows), 1% are
//! in flight (received: an older version, a receipt token, a later visibility). A queue
//! holds at most [`MAX_PER_QUEUE`] messages; a class that needs more becomes several queues
//! (`orders-events-00`, ...). Each family of a queue is sorted in memory by key (bounded by
//! that cap): message ids are UUIDs, whose base64url forms are not in numeric order.

use super::super::enc::{b64std, b64url, cat, md5_hex};
use crate::rng::Rng;
use crate::synth::{count_for, history, ts_ago, Fate, SNAP_MS};
use crate::version::{fixed, Family, Version};
use elastickv_backup_engine::decode::Family as KeyFamily;
use elastickv_backup_format::keys::sqs_partition_for;
use std::collections::VecDeque;

/// Largest number of messages one generated queue holds (bounds the per-queue sort).
pub const MAX_PER_QUEUE: u64 = 100_000;

const Q: u64 = 0x51;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Orders,
    Payments,
    Notifications,
    HtOrders,
    Legacy,
}

struct ClassDef {
    class: Class,
    name: &'static str,
    share: u64,
    fifo: bool,
    partitions: u32,
    generation: u64,
}

const CLASSES: &[ClassDef] = &[
    ClassDef {
        class: Class::Orders,
        name: "orders-events",
        share: 35,
        fifo: false,
        partitions: 0,
        generation: 1,
    },
    ClassDef {
        class: Class::Payments,
        name: "payments.fifo",
        share: 25,
        fifo: true,
        partitions: 0,
        generation: 1,
    },
    ClassDef {
        class: Class::Notifications,
        name: "notifications",
        share: 25,
        fifo: false,
        partitions: 0,
        generation: 1,
    },
    ClassDef {
        class: Class::HtOrders,
        name: "ht-orders.fifo",
        share: 10,
        fifo: true,
        partitions: 4,
        generation: 1,
    },
    ClassDef {
        class: Class::Legacy,
        name: "legacy-jobs",
        share: 5,
        fifo: false,
        partitions: 0,
        generation: 3,
    },
];

/// One generated queue.
#[derive(Clone)]
struct Queue {
    def: &'static ClassDef,
    name: String,
    /// Instance number within the class.
    k: u64,
    n: u64,
}

impl Queue {
    fn seg(&self) -> String {
        b64url(self.name.as_bytes())
    }
}

/// What a message is, without its body (enough for every key).
struct Light {
    id: String,
    fate: Fate,
    in_flight: bool,
    send: u64,
    available: u64,
    visible: u64,
    group: u64,
    partition: u32,
    generation: u64,
}

const SEND_STEP_MS: u64 = 250;

/// The message group id of group number `g`.
fn group_id(g: u64) -> String {
    format!("g-{g:02}")
}

fn light(seed: u64, q: &Queue, j: u64) -> Light {
    let mut rng = Rng::derive(seed, &[Q, q.def.class as u64, q.k, j]);
    let id = {
        let (a, b) = (rng.next_u64(), rng.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    };
    let fate = Fate::draw(&mut rng, 0, 50);
    let in_flight = fate == Fate::Live && rng.chance(10);
    let send = SNAP_MS - (q.n - j) * SEND_STEP_MS - 1000;
    let delay = if q.def.class == Class::Notifications {
        60_000
    } else {
        0
    };
    let available = send + delay;
    let visible = if in_flight {
        SNAP_MS + 30_000 + j
    } else {
        available
    };
    let group = rng.below(64);
    // Where elastickv puts the group (its queues here are limited per message group), so
    // that `encode` takes a dump of this data back.
    let partition = sqs_partition_for(q.def.partitions, false, group_id(group).as_bytes());
    let generation = if q.def.class == Class::Legacy && j < q.n / 10 {
        q.def.generation - 1
    } else {
        q.def.generation
    };
    Light {
        id,
        fate,
        in_flight,
        send,
        available,
        visible,
        group,
        partition,
        generation,
    }
}

fn body(seed: u64, q: &Queue, j: u64) -> Vec<u8> {
    let mut rng = Rng::derive(seed, &[Q, 1, q.def.class as u64, q.k, j]);
    let n = match q.def.class {
        Class::Notifications => rng.log_uniform(1024, 200 << 10),
        Class::Payments | Class::HtOrders => rng.between(300, 1500),
        _ => rng.log_uniform(200, 8 << 10),
    } as usize;
    let mut b = format!(r#"{{"seq":{j},"text":""#).into_bytes();
    let start = b.len();
    rng.text(&mut b, n.saturating_sub(20));
    // One line of JSON: the text's newlines become spaces.
    for c in &mut b[start..] {
        if *c == b'\n' {
            *c = b' ';
        }
    }
    b.extend_from_slice(b"\"}");
    b
}

fn record(seed: u64, q: &Queue, j: u64, l: &Light, received: bool) -> Vec<u8> {
    let b = body(seed, q, j);
    let mut r = format!(
        r#"{{"message_id":"{}","body":"{}","md5_of_body":"{}""#,
        l.id,
        b64std(&b),
        md5_hex(&b)
    );
    if j.is_multiple_of(3) {
        r.push_str(&format!(
            r#","md5_of_message_attributes":"{}","message_attributes":{{"source":{{"DataType":"String","StringValue":"svc-{}"}},"trace":{{"DataType":"Binary","BinaryValue":"{}"}}}}"#,
            md5_hex(l.id.as_bytes()),
            j % 11,
            b64std(&j.to_be_bytes())
        ));
    }
    let (visible, count, token) = if received {
        (
            l.visible,
            1,
            format!("\"{}\"", b64std(format!("rcpt-{}", l.id).as_bytes())),
        )
    } else {
        (l.available, 0, "null".to_string())
    };
    r.push_str(&format!(
        r#","send_timestamp_millis":{},"available_at_millis":{},"visible_at_millis":{visible},"receive_count":{count}"#,
        l.send, l.available
    ));
    if received {
        r.push_str(&format!(r#","first_receive_millis":{}"#, SNAP_MS - 500));
    }
    r.push_str(&format!(
        r#","current_receipt_token":{token},"queue_generation":{}"#,
        l.generation
    ));
    if q.def.fifo {
        r.push_str(&format!(
            r#","message_group_id":"{}","message_deduplication_id":"d-{}","sequence_number":{}"#,
            group_id(l.group),
            l.id,
            j + 1
        ));
    }
    r.push('}');
    cat(&[b"\x00SM\x01", r.as_bytes()])
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fam {
    Data,
    ByAge,
    Vis,
    Dedup,
    Group,
}

fn family_prefix(f: Fam) -> &'static str {
    match f {
        Fam::Data => KeyFamily::SqsMsgData,
        Fam::ByAge => KeyFamily::SqsMsgByAge,
        Fam::Vis => KeyFamily::SqsMsgVis,
        Fam::Dedup => KeyFamily::SqsMsgDedup,
        Fam::Group => KeyFamily::SqsMsgGroup,
    }
    .prefix_str()
}

/// The key of row `fam` for message `l` (`None`: the message has no such row).
fn row_key(f: Fam, q: &Queue, l: &Light) -> Option<Vec<u8>> {
    let head = if q.def.partitions > 1 {
        cat(&[
            family_prefix(f).as_bytes(),
            b"p|",
            q.seg().as_bytes(),
            b"|",
            &l.partition.to_be_bytes(),
        ])
    } else {
        cat(&[family_prefix(f).as_bytes(), q.seg().as_bytes()])
    };
    let g = l.generation.to_be_bytes();
    let m = b64url(l.id.as_bytes());
    Some(match f {
        Fam::Data => cat(&[&head, &g, m.as_bytes()]),
        Fam::ByAge => cat(&[&head, &g, &l.send.to_be_bytes(), m.as_bytes()]),
        Fam::Vis => cat(&[&head, &g, &l.visible.to_be_bytes(), m.as_bytes()]),
        Fam::Dedup => {
            if !q.def.fifo || l.send + 300_000 < SNAP_MS || !l.fate.visible() {
                return None;
            }
            let d = b64url(format!("d-{}", l.id).as_bytes());
            if q.def.partitions > 1 {
                let grp = b64url(group_id(l.group).as_bytes());
                cat(&[&head, &g, grp.as_bytes(), b"|", d.as_bytes()])
            } else {
                cat(&[&head, &g, d.as_bytes()])
            }
        }
        Fam::Group => {
            if !q.def.fifo || !l.in_flight {
                return None;
            }
            let grp = b64url(group_id(l.group).as_bytes());
            cat(&[&head, &g, grp.as_bytes()])
        }
    })
}

fn rows(seed: u64, f: Fam, q: &Queue, j: u64, key: &[u8], out: &mut Vec<Version>) {
    let l = light(seed, q, j);
    let ts = l.send << 16;
    match f {
        Fam::Data => {
            if l.in_flight {
                let new = record(seed, q, j, &l, true);
                out.push(Version::put(key, (SNAP_MS - 500) << 16, 0, &new));
                out.push(Version::put(key, ts, 0, &record(seed, q, j, &l, false)));
            } else {
                let v = record(seed, q, j, &l, false);
                history(out, key, l.fate, later(l.fate, ts), 0, &v, &v);
            }
        }
        Fam::ByAge | Fam::Vis => {
            let ts = if l.in_flight && f == Fam::Vis {
                (SNAP_MS - 500) << 16
            } else {
                ts
            };
            history(
                out,
                key,
                l.fate,
                later(l.fate, ts),
                0,
                l.id.as_bytes(),
                l.id.as_bytes(),
            );
        }
        Fam::Dedup => {
            let v = format!(
                r#"{{"message_id":"{}","send_timestamp_ms":{},"expires_at_millis":{},"original_sequence":{}}}"#,
                l.id,
                l.send,
                l.send + 300_000,
                j + 1
            );
            out.push(Version::put(key, ts, 0, v.as_bytes()));
        }
        Fam::Group => {
            let v = format!(
                r#"{{"message_id":"{}","acquired_at_ms":{},"visible_at_ms":{}}}"#,
                l.id,
                SNAP_MS - 500,
                l.visible
            );
            out.push(Version::put(key, (SNAP_MS - 500) << 16, 0, v.as_bytes()));
        }
    }
}

/// The commit time of the newest version: a deletion happens after the send.
fn later(fate: Fate, ts: u64) -> u64 {
    if fate == Fate::Deleted {
        (ts + (30_000 << 16)).min((SNAP_MS - 1) << 16)
    } else {
        ts
    }
}

/// One row family over a set of queues (already in key order), each queue's rows sorted
/// in memory (at most [`MAX_PER_QUEUE`] keys).
struct QueueRows {
    seed: u64,
    fam: Fam,
    queues: VecDeque<Queue>,
    order: std::vec::IntoIter<(Vec<u8>, u32)>,
    current: Option<Queue>,
    buf: VecDeque<Version>,
}

impl Iterator for QueueRows {
    type Item = Version;

    fn next(&mut self) -> Option<Version> {
        loop {
            if let Some(v) = self.buf.pop_front() {
                return Some(v);
            }
            if let (Some(q), Some((key, j))) = (&self.current, self.order.next()) {
                let mut out = Vec::new();
                rows(self.seed, self.fam, q, u64::from(j), &key, &mut out);
                self.buf.extend(out);
                continue;
            }
            let q = self.queues.pop_front()?;
            let mut keys: Vec<(Vec<u8>, u32)> = (0..q.n)
                .filter_map(|j| {
                    row_key(self.fam, &q, &light(self.seed, &q, j)).map(|k| (k, j as u32))
                })
                .collect();
            keys.sort();
            // One group-lock row per group (the first in-flight message holds it).
            keys.dedup_by(|a, b| a.0 == b.0);
            self.order = keys.into_iter();
            self.current = Some(q);
        }
    }
}

fn queue_meta(q: &Queue) -> Vec<u8> {
    let d = q.def;
    let mut m = format!(r#"{{"name":"{}","generation":{}"#, q.name, d.generation);
    m.push_str(&format!(
        r#","created_at_hlc":{}"#,
        ts_ago(400 * 86_400_000, 0)
    ));
    if d.fifo {
        m.push_str(r#","is_fifo":true"#);
    }
    let delay = if d.class == Class::Notifications {
        60
    } else {
        0
    };
    m.push_str(&format!(
        r#","visibility_timeout_seconds":30,"message_retention_seconds":1209600,"delay_seconds":{delay},"receive_message_wait_seconds":{},"maximum_message_size":262144"#,
        if d.class == Class::Orders { 20 } else { 0 }
    ));
    if d.class == Class::Orders {
        m.push_str(r#","redrive_policy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:dead-letters\",\"maxReceiveCount\":5}""#);
    }
    m.push_str(r#","tags":{"team":"gen"}"#);
    if d.partitions > 1 {
        m.push_str(&format!(
            r#","partition_count":{},"fifo_throughput_limit":"perMessageGroupId","deduplication_scope":"messageGroup""#,
            d.partitions
        ));
    }
    m.push('}');
    cat(&[b"\x00SQ\x01", m.as_bytes()])
}

const EMPTY: &[ClassDef] = &[
    ClassDef {
        class: Class::Orders,
        name: "dead-letters",
        share: 0,
        fifo: false,
        partitions: 0,
        generation: 1,
    },
    ClassDef {
        class: Class::Orders,
        name: "idle",
        share: 0,
        fifo: false,
        partitions: 0,
        generation: 1,
    },
];

fn instance_name(d: &ClassDef, k: u64, of: u64) -> String {
    if of <= 1 {
        return d.name.to_string();
    }
    match d.name.strip_suffix(".fifo") {
        Some(base) => format!("{base}-{k:02}.fifo"),
        None => format!("{}-{k:02}", d.name),
    }
}

/// The SQS families for `budget` bytes.
pub fn families(seed: u64, budget: u64) -> Vec<Family> {
    let mut queues = Vec::new();
    for d in CLASSES {
        let probe = Queue {
            def: d,
            name: d.name.to_string(),
            k: 0,
            n: 1_000_000,
        };
        let total = count_for(budget * d.share / 100, |j| {
            let l = light(seed, &probe, j);
            let rec = record(seed, &probe, j, &l, false).len() as u64;
            rec + 3 * (40 + 2 * l.id.len() as u64) + 60
        });
        let of = total.div_ceil(MAX_PER_QUEUE).max(1);
        for k in 0..of {
            queues.push(Queue {
                def: d,
                name: instance_name(d, k, of),
                k,
                n: total / of + u64::from(k < total % of),
            });
        }
    }
    for d in EMPTY {
        queues.push(Queue {
            def: d,
            name: d.name.to_string(),
            k: 0,
            n: 0,
        });
    }
    let mut metas = Vec::new();
    let created = ts_ago(400 * 86_400_000, 0);
    for q in &queues {
        let s = q.seg();
        metas.push(Version::put(
            &KeyFamily::SqsQueueMeta.key(s.as_bytes()),
            created,
            0,
            &queue_meta(q),
        ));
        metas.push(Version::put(
            &KeyFamily::SqsQueueGen.key(s.as_bytes()),
            created,
            0,
            q.def.generation.to_string().as_bytes(),
        ));
        if q.def.fifo {
            metas.push(Version::put(
                &KeyFamily::SqsQueueSeq.key(s.as_bytes()),
                (SNAP_MS - 1000) << 16,
                0,
                q.n.to_string().as_bytes(),
            ));
        }
        if q.def.generation > 1 {
            let key = cat(&[
                KeyFamily::SqsQueueTombstone.prefix(),
                s.as_bytes(),
                &(q.def.generation - 1).to_be_bytes(),
            ]);
            metas.push(Version::put(&key, created, 0, b"\x01"));
        }
    }
    let mut out: Vec<Family> = vec![fixed(metas)];
    for fam in [Fam::Data, Fam::ByAge, Fam::Vis, Fam::Dedup, Fam::Group] {
        for partitioned in [false, true] {
            let mut qs: Vec<(Vec<u8>, Queue)> = queues
                .iter()
                .filter(|q| (q.def.partitions > 1) == partitioned && q.n > 0)
                .map(|q| {
                    let sep: &[u8] = if partitioned { b"|" } else { b"\x00" };
                    (cat(&[q.seg().as_bytes(), sep]), q.clone())
                })
                .collect();
            qs.sort_by(|a, b| a.0.cmp(&b.0));
            out.push(Box::new(QueueRows {
                seed,
                fam,
                queues: qs.into_iter().map(|(_, q)| q).collect(),
                order: Vec::new().into_iter(),
                current: None,
                buf: VecDeque::new(),
            }));
        }
    }
    out
}

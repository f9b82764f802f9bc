//! Criterion benches of the per-record renderers.
//!
//! - DynamoDB, old and new side by side so one run gives the ratio: an item rendered from its
//!   stored protobuf bytes through prost (`DynamoItem::decode` + `render_item`, the path before
//!   the fast path) and straight from the bytes (`wire::render`).
//! - Redis hash and zset elements, rendered from the scratch encoding into their indented
//!   collection files (`redis::render::chunk`), and SQS `messages.jsonl` lines
//!   (`sqs::render::message_line`). Their older versions are not kept in the code, so their
//!   before/after figures come from two builds of this same bench run alternately
//!   (docs/PERFORMANCE.md, "Twelfth pass").
//!
//! `cargo bench --bench renderers` (add `-- --quick` for a short run).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use elastickv_backup_engine::decode::dynamodb::proto::{
    DynamoAttributeValue, DynamoAttributeValueList, DynamoAttributeValueMap, DynamoItem,
    DynamoStringSet, Value,
};
use elastickv_backup_engine::decode::dynamodb::{render::render_item, wire};
use elastickv_backup_engine::decode::redis::raw::{put_bytes, put_u64};
use elastickv_backup_engine::decode::redis::render::{chunk, CollKind};
use elastickv_backup_engine::decode::sqs::records::Message as SqsMessage;
use elastickv_backup_engine::decode::sqs::render::message_line;
use prost::Message;

/// A typical item of the generated datasets: keys, a few strings and numbers, a binary, a
/// small list and a small map.
fn item(i: u64) -> Vec<u8> {
    let v = |x: Value| DynamoAttributeValue { value: Some(x) };
    let mut item = DynamoItem::default();
    let a = &mut item.attributes;
    a.insert("pk".into(), v(Value::S(format!("user#{:08}", i / 7))));
    a.insert("sk".into(), v(Value::S(format!("order#{i:010}"))));
    a.insert("status".into(), v(Value::S("shipped".into())));
    a.insert(
        "amount".into(),
        v(Value::N(format!("{}.{:02}", i % 997, i % 100))),
    );
    a.insert("qty".into(), v(Value::N((i % 13).to_string())));
    a.insert(
        "note".into(),
        v(Value::S("fragile <handle> with care & love".into())),
    );
    a.insert("blob".into(), v(Value::B(vec![i as u8; 24].into())));
    a.insert("gift".into(), v(Value::Bool(i.is_multiple_of(2))));
    a.insert(
        "tags".into(),
        v(Value::Ss(DynamoStringSet {
            values: vec!["a".into(), "bb".into(), "ccc".into()],
        })),
    );
    a.insert(
        "lines".into(),
        v(Value::L(DynamoAttributeValueList {
            values: (0..3).map(|j| v(Value::N((i + j).to_string()))).collect(),
        })),
    );
    let mut addr = DynamoAttributeValueMap::default();
    addr.values
        .insert("city".into(), v(Value::S("Tokyo".into())));
    addr.values
        .insert("zip".into(), v(Value::S("100-0001".into())));
    a.insert("address".into(), v(Value::M(addr)));
    item.encode_to_vec()
}

fn renderers(c: &mut Criterion) {
    let items: Vec<Vec<u8>> = (0..1000).map(item).collect();
    let mut g = c.benchmark_group("dynamodb_item_pretty");
    g.throughput(Throughput::Elements(items.len() as u64));
    let mut out = Vec::with_capacity(1 << 20);
    g.bench_function("prost_decode_then_render", |b| {
        b.iter(|| {
            for body in &items {
                out.clear();
                let item = DynamoItem::decode(body.as_slice()).expect("valid item");
                render_item(&item, true, &mut out);
                black_box(&out);
            }
        })
    });
    g.bench_function("wire_render", |b| {
        b.iter(|| {
            for body in &items {
                out.clear();
                assert!(wire::render(body, true, &mut out));
                black_box(&out);
            }
        })
    });
    g.finish();
}

/// Hash fields in scratch encoding: short names, values that are mostly plain text, one in
/// eight with characters Go escapes, one in 64 binary (the base64 envelope).
fn hash_scratch(n: u64) -> Vec<u8> {
    let mut raw = Vec::new();
    for i in 0..n {
        put_bytes(&mut raw, format!("field:{i:06}").as_bytes());
        let value = match i % 64 {
            0 => vec![0xff, 0xfe, i as u8, 0x80],
            x if x % 8 == 1 => format!("<b>{i}</b> & \"quoted\"\n").into_bytes(),
            _ => format!("value number {i} of the hash, plain text").into_bytes(),
        };
        put_bytes(&mut raw, &value);
    }
    raw
}

/// Zset members in scratch encoding with scores of every shape Go formats differently:
/// integers, short decimals, exponents, infinities.
fn zset_scratch(n: u64) -> Vec<u8> {
    let mut raw = Vec::new();
    for i in 0..n {
        put_bytes(&mut raw, format!("member:{i:06}").as_bytes());
        let score = match i % 16 {
            0 => f64::INFINITY,
            1 => 1e21 + i as f64,
            2 => 1e-7 * i as f64,
            x if x % 2 == 0 => i as f64,
            _ => i as f64 * 1.5 - 3.25,
        };
        put_u64(&mut raw, score.to_bits());
    }
    raw
}

/// An SQS message as the generated datasets store them, plus attributes on one in four
/// and a FIFO group on one in two.
fn sqs_message(i: u64) -> SqsMessage {
    let mut m = SqsMessage {
        message_id: format!("6f1c2a0e-{i:08x}-4b7d-9c3e-2a1b0c9d8e7f").into_bytes(),
        body: format!(
            "job payload {i}: {{\"task\":\"resize\",\"size\":{}}}",
            i % 977
        )
        .into_bytes(),
        md5_of_body: b"9e107d9d372bb6826bd81d3542a419d6".to_vec(),
        send_timestamp_millis: 1_714_400_000_000 + i as i64,
        available_at_millis: 1_714_400_000_000 + i as i64,
        queue_generation: 1,
        ..SqsMessage::default()
    };
    if i.is_multiple_of(4) {
        m.md5_of_message_attributes = b"d41d8cd98f00b204e9800998ecf8427e".to_vec();
        m.message_attributes = vec![(
            b"kind".to_vec(),
            br#"{"DataType":"String","StringValue":"thumb"}"#.to_vec(),
        )];
    }
    if i.is_multiple_of(2) {
        m.message_group_id = format!("group-{}", i % 10).into_bytes();
        m.message_deduplication_id = format!("dedup-{i}").into_bytes();
        m.sequence_number = 18_000_000_000_000_000_000 + i;
    }
    m
}

fn collections(c: &mut Criterion) {
    const N: u64 = 1000;
    let mut out = Vec::with_capacity(1 << 20);
    for (name, kind, raw) in [
        ("redis_hash_field_pretty", CollKind::Hash, hash_scratch(N)),
        ("redis_zset_member_pretty", CollKind::Zset, zset_scratch(N)),
    ] {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(N));
        g.bench_function("chunk", |b| {
            b.iter(|| {
                out.clear();
                let mut first = true;
                let n = chunk(kind, &raw, &mut first, &mut out).expect("valid scratch");
                assert_eq!(n, N);
                black_box(&out);
            })
        });
        g.finish();
    }
    let messages: Vec<SqsMessage> = (0..N).map(sqs_message).collect();
    let mut g = c.benchmark_group("sqs_message_line");
    g.throughput(Throughput::Elements(N));
    g.bench_function("message_line", |b| {
        b.iter(|| {
            out.clear();
            for m in &messages {
                message_line(&mut out, m);
            }
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, renderers, collections);
criterion_main!(benches);

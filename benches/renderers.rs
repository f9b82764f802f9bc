//! Criterion benches of the per-record renderers, old and new side by side so one run gives
//! the ratio: a DynamoDB item rendered from its stored protobuf bytes through prost
//! (`DynamoItem::decode` + `render_item`, the path before the fast path) and straight from the
//! bytes (`wire::render`).
//!
//! `cargo bench --bench renderers` (add `-- --quick` for a short run).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use elastickv_backup_engine::decode::dynamodb::proto::{
    DynamoAttributeValue, DynamoAttributeValueList, DynamoAttributeValueMap, DynamoItem,
    DynamoStringSet, Value,
};
use elastickv_backup_engine::decode::dynamodb::{render::render_item, wire};
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

criterion_group!(benches, renderers);
criterion_main!(benches);

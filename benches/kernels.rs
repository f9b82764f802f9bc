//! Criterion benches of the hot kernels below the pipeline: snapshot container parsing,
//! filename encoding, SHA-256 over many small files, and zstd on dump-shaped bytes.
//!
//! `cargo bench --bench kernels` (add `-- --quick` for a short run). Inputs come from the
//! deterministic generator, so every run measures the same bytes.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use elastickv_backup_engine::encode::filename::{encode_binary_segment, encode_segment};
use elastickv_backup_engine::sinks::sha_pair::sha256_many;
use elastickv_backup_engine::sources::snapshot::container::{
    locate, payload_header, push_frame, FrameReader,
};
use elastickv_backup_engine::sources::snapshot::mvcc::decode_row;
use elastickv_backup_gen::plan::{stream, GenConfig, Mix};
use sha2::{Digest, Sha256};

/// A bare snapshot payload of about `size` bytes of generated data.
fn payload(size: u64, mix: Mix) -> Vec<u8> {
    let mut out = payload_header(u64::MAX).to_vec();
    let cfg = GenConfig {
        size,
        shards: 1,
        seed: 11,
        mix,
    };
    for v in stream(&cfg) {
        push_frame(&mut out, &v.key, &v.value);
    }
    out
}

fn container(c: &mut Criterion) {
    // Small values (DynamoDB + Redis): framing cost per entry dominates.
    let small = bytes::Bytes::from(payload(
        16 << 20,
        Mix::parse("dynamodb=1,redis=1").expect("mix"),
    ));
    let mut g = c.benchmark_group("container");
    g.throughput(Throughput::Bytes(small.len() as u64));
    g.bench_function("frame+decode_row/small-values", |b| {
        b.iter(|| {
            let p = locate(small.clone()).expect("payload");
            for f in FrameReader::new(&p) {
                black_box(decode_row(f.expect("frame")).expect("row"));
            }
        })
    });
    g.finish();
}

fn filenames(c: &mut Criterion) {
    let names: Vec<Vec<u8>> = (0..10_000u32)
        .map(|i| match i % 4 {
            0 => format!("cust-{i:08}").into_bytes(),
            1 => format!("user {i}/ü:ß?").into_bytes(),
            2 => format!("albums/{i:06}/IMG_{i:08} copy (2).jpg").into_bytes(),
            _ => {
                let mut v = i.to_be_bytes().to_vec();
                v.extend_from_slice(b"\x00\xff binary");
                v
            }
        })
        .collect();
    let bytes: u64 = names.iter().map(|n| n.len() as u64).sum();
    let mut g = c.benchmark_group("filename");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("encode_segment/10k-names", |b| {
        b.iter(|| {
            names
                .iter()
                .map(|n| encode_segment(black_box(n)).len())
                .sum::<usize>()
        })
    });
    g.bench_function("encode_binary_segment/10k-names", |b| {
        b.iter(|| {
            names
                .iter()
                .map(|n| encode_binary_segment(black_box(n)).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn sha256_small_files(c: &mut Criterion) {
    // 20k files of 200 B - 4 KiB (the per-item layout), vs the same bytes as one stream.
    let mut rng = elastickv_backup_gen::rng::Rng::new(5);
    let files: Vec<Vec<u8>> = (0..20_000)
        .map(|_| {
            let mut v = Vec::new();
            let n = rng.log_uniform(200, 4096) as usize;
            rng.text(&mut v, n);
            v
        })
        .collect();
    let total: u64 = files.iter().map(|f| f.len() as u64).sum();
    let joined: Vec<u8> = files.concat();
    let mut g = c.benchmark_group("sha256");
    g.throughput(Throughput::Bytes(total));
    g.bench_function("20k-small-files", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|f| Sha256::digest(black_box(f))[0] as usize)
                .sum::<usize>()
        })
    });
    g.bench_function("one-stream-same-bytes", |b| {
        b.iter(|| Sha256::digest(black_box(&joined)))
    });
    // What a worker does with the small files it renders one after the other: groups of
    // 16 hashed two lanes at a time.
    g.bench_function("20k-small-files-in-groups", |b| {
        let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        b.iter(|| {
            refs.chunks(16)
                .map(|g| sha256_many(black_box(g))[0][0] as usize)
                .sum::<usize>()
        })
    });
    g.finish();
}

fn digest_choice(c: &mut Criterion) {
    // The `--checksums blake3` question of docs/PERFORMANCE.md ("Hashing"): SHA-256 (SHA-NI)
    // against BLAKE3 on one thread and on all cores, over a 64 MiB large-object stream.
    let mut rng = elastickv_backup_gen::rng::Rng::new(11);
    let mut data = Vec::with_capacity(64 << 20);
    rng.bytes(&mut data, 64 << 20);
    let mut g = c.benchmark_group("digest-64MiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("sha256", |b| b.iter(|| Sha256::digest(black_box(&data))));
    g.bench_function("blake3-1-thread", |b| {
        b.iter(|| blake3::hash(black_box(&data)))
    });
    g.bench_function("blake3-rayon", |b| {
        b.iter(|| {
            blake3::Hasher::new()
                .update_rayon(black_box(&data))
                .finalize()
        })
    });
    g.finish();
}

fn zstd_levels(c: &mut Criterion) {
    // Dump-shaped bytes: JSON-ish text with a share of incompressible binary.
    let mut rng = elastickv_backup_gen::rng::Rng::new(9);
    let mut data = Vec::new();
    while data.len() < 8 << 20 {
        let n = rng.log_uniform(100, 8192) as usize;
        if rng.chance(150) {
            rng.bytes(&mut data, n);
        } else {
            rng.text(&mut data, n);
        }
    }
    let mut g = c.benchmark_group("zstd");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    for level in [1, 3] {
        g.bench_function(format!("compress/level-{level}"), |b| {
            b.iter_batched(
                || Vec::with_capacity(data.len()),
                |mut out| {
                    let mut enc = zstd::stream::write::Encoder::new(&mut out, level).expect("zstd");
                    std::io::Write::write_all(&mut enc, &data).expect("write");
                    enc.finish().expect("finish");
                    out.len()
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(
    kernels,
    container,
    filenames,
    sha256_small_files,
    digest_choice,
    zstd_levels
);
criterion_main!(kernels);

//! Parse layer: raw `httparse` framing vs `http-parse` on the same corpus.
//!
//! Throughput is in requests, so `http-parse / httparse` is the framing overhead ratio.

use std::hint::black_box;

use bench::{corpus, raw_httparse};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http_parse::{Decoder, Limits, Status};

fn frame_all(decoder: &mut Decoder, stream: &[u8]) -> (usize, usize) {
    let mut rest = stream;
    let (mut requests, mut body_bytes) = (0, 0);
    // Same stopping rule as the baseline: stop when the stream is used up.
    while !rest.is_empty() {
        let Ok(Status::Complete(request)) = decoder.decode(rest) else {
            panic!("corpus must decode completely");
        };
        body_bytes += request.body().len();
        requests += 1;
        rest = &rest[request.len()..];
    }
    (requests, body_bytes)
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for case in corpus::all() {
        group.throughput(Throughput::Elements(case.requests as u64));
        group.bench_function(format!("httparse/{}", case.name), |b| {
            b.iter(|| raw_httparse::frame_all(black_box(&case.bytes)))
        });
        let mut decoder = Decoder::new(Limits::default());
        group.bench_function(format!("http-parse/{}", case.name), |b| {
            b.iter(|| frame_all(&mut decoder, black_box(&case.bytes)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short windows keep the whole main job short; these layers are steady.
    config = bench::criterion_config();
    targets = parse
}
criterion_main!(benches);

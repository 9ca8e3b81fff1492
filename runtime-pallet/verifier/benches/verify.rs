//! Native verification time per fixture: `cargo bench -p zkpot-verifier --bench verify`.
//!
//! `verify` is the per-proof cost with a parsed VKA (what the chain pays per submission
//! once VKAs are cached); `parse+verify` includes parsing the VKA words.

use criterion::{criterion_group, criterion_main, Criterion};
use zkpot_verifier::{verify, Instances, Proof, Vka};

#[path = "../tests/common/mod.rs"]
mod common;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("zkpot-verifier");
    g.sample_size(30);
    for fx in common::all() {
        let vka = Vka::parse(&fx.words).unwrap();
        let proof = Proof::parse(&fx.proof).unwrap();
        let inst = Instances::parse(&fx.instances).unwrap();
        assert_eq!(verify(&vka, &proof, &inst), Ok(()));
        g.bench_function(format!("verify/{}", fx.name), |b| b.iter(|| verify(&vka, &proof, &inst)));
        g.bench_function(format!("parse_vka/{}", fx.name), |b| b.iter(|| Vka::parse(&fx.words)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The attention language model: forward pass, training step (forward, backward,
//! clipping, Adam) and per-token generation with the KV cache, at
//! (V, T, D, DK) = (64, 32, 32, 32) and (256, 64, 64, 64) on full-length sequences.
//!
//! Also the safetensors path: export, import (validate + copy) and opening the weights
//! in place (validate only), in bytes per second of file, and one generation step on
//! weights read in place, which should cost what a step on the owned model costs.
//!
//! Run: `cargo bench -p edgegrad-bench --bench attention`. Throughput is in tokens per second (the
//! sequence's `T` tokens for forward and training, one token per generation step).
use std::hint::black_box;

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgegrad::attention::{
    AttentionCache, AttentionLm, AttentionOptState, AttentionWeights, Decoder, Optimizer,
    TrainConfig,
};
use edgegrad::kernels::Adam;
use edgegrad::safetensors::Aligned;
use rand_core::SeedableRng;

fn bench_size<const V: usize, const T: usize, const D: usize, const DK: usize>(c: &mut Criterion) {
    let label = format!("{V}x{T}x{D}x{DK}");
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let mut model = Box::new(AttentionLm::<V, T, D, DK>::ZERO);
    model.init(&mut rng);
    let mut grads = Box::new(AttentionLm::<V, T, D, DK>::ZERO);
    let mut cache = Box::new(AttentionCache::<V, T, D, DK>::ZERO);
    let mut state = Box::new(AttentionOptState::<V, T, D, DK>::ZERO);
    let mut dec = Box::new(Decoder::<V, T, D, DK>::ZERO);
    let tokens: Vec<u16> = (0..T).map(|i| ((i * 7 + 3) % V) as u16).collect();
    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(Adam::with_lr(1e-3)),
        max_grad_norm: Some(1.0),
    };

    let mut g = c.benchmark_group("attention");
    g.throughput(Throughput::Elements(T as u64));
    g.bench_function(format!("forward/{label}"), |b| {
        b.iter(|| model.forward(black_box(&tokens), &mut cache).unwrap())
    });
    g.bench_function(format!("train_step/{label}"), |b| {
        b.iter(|| {
            model
                .train_step(black_box(&tokens), &mut cache, &mut grads, &mut state, &cfg)
                .unwrap()
        })
    });
    // One generation step at the middle of the context, from the same prefix each time.
    g.throughput(Throughput::Elements(1));
    dec.prefill(model.weights(), &tokens[..T / 2]).unwrap();
    g.bench_function(format!("generate_token/{label}"), |b| {
        b.iter(|| {
            dec.truncate(T / 2);
            dec.step(model.weights(), black_box(tokens[T / 2])).unwrap()[0]
        })
    });

    let mut file = Box::new(Aligned([0_u8; 1 << 20]));
    let file = &mut file.0[..AttentionLm::<V, T, D, DK>::SAFETENSORS_BYTES];
    model.to_safetensors(file).unwrap();
    let in_place = AttentionWeights::<V, T, D, DK>::from_safetensors(file).unwrap();
    g.bench_function(format!("generate_token_in_place/{label}"), |b| {
        b.iter(|| {
            dec.truncate(T / 2);
            dec.step(in_place, black_box(tokens[T / 2])).unwrap()[0]
        })
    });
    g.throughput(Throughput::Bytes(file.len() as u64));
    g.bench_function(format!("safetensors_export/{label}"), |b| {
        b.iter(|| model.to_safetensors(black_box(&mut *file)).unwrap())
    });
    let file = &*file;
    g.bench_function(format!("safetensors_import/{label}"), |b| {
        b.iter(|| grads.load_safetensors(black_box(file)).unwrap())
    });
    g.bench_function(format!("safetensors_open_in_place/{label}"), |b| {
        b.iter(|| {
            AttentionWeights::<V, T, D, DK>::from_safetensors(black_box(file))
                .unwrap()
                .b_out[0]
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_size::<64, 32, 32, 32>(c);
    bench_size::<256, 64, 64, 64>(c);
}

criterion_group! { name = attention; config = common::config(300, 1000, 20); targets = benches }
criterion_main!(attention);

//! The GPT: forward pass, training step (forward, backward, clipping, Adam) and one
//! generated token with the KV cache, on full-length sequences, at the sizes
//! (V, T, D, N, F, L) = (64, 32, 32, 1, 128, 1), (256, 64, 64, 1, 256, 1) and
//! (256, 64, 64, 4, 256, 2), the sizes at which llm.c's CPU trainer (`train_gpt2.c`,
//! one thread, `-Ofast -march=native`) was measured for comparison.
//!
//! Run: `cargo bench -p edgegrad-bench --bench gpt`. Throughput is in tokens per second (the sequence's
//! `T` tokens for forward and training, one token per generation step).
use std::hint::black_box;

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgegrad::gpt::{Gpt, GptCache, GptDecoder, GptOptState, Optimizer, TrainConfig};
use edgegrad::kernels::Adam;
use rand_core::SeedableRng;

fn bench_size<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
>(
    c: &mut Criterion,
) {
    let label = format!("{V}x{T}x{D}x{N}x{F}x{L}");
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let mut model = Box::new(Gpt::<V, T, D, N, F, L>::ZERO);
    model.init(&mut rng);
    let mut grads = Box::new(Gpt::<V, T, D, N, F, L>::ZERO);
    let mut cache = Box::new(GptCache::<V, T, D, N, F, L>::ZERO);
    let mut state = Box::new(GptOptState::<V, T, D, N, F, L>::ZERO);
    let mut dec = Box::new(GptDecoder::<V, T, D, N, F, L>::ZERO);
    let tokens: Vec<u16> = (0..T).map(|i| ((i * 7 + 3) % V) as u16).collect();
    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(Adam::with_lr(1e-3)),
        max_grad_norm: Some(1.0),
    };

    let mut g = c.benchmark_group("gpt");
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
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_size::<64, 32, 32, 1, 128, 1>(c);
    bench_size::<256, 64, 64, 1, 256, 1>(c);
    bench_size::<256, 64, 64, 4, 256, 2>(c);
}

criterion_group! { name = gpt; config = common::config(300, 1000, 20); targets = benches }
criterion_main!(gpt);

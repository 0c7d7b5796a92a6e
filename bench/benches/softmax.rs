//! Softmax family, cross-entropy and the bare `exp`, against plain scalar versions
//! that call `libm::expf` per element (and, for `exp`, against `wide`'s own `exp`).
//!
//! Run: `cargo bench -p edgegrad-bench --bench softmax`. Throughput is reported in elements per second.
use std::hint::black_box;

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use edgegrad::kernels as k;
use edgegrad::simd::{self, LANES};
use edgegrad::{MatMut, MatRef};

const LENS: [usize; 5] = [16, 64, 256, 1024, 4096];

fn data(n: usize) -> Vec<f32> {
    // deterministic logits with a realistic spread
    (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 12.0)
        .collect()
}

/// The scalar baselines: three passes with `libm::expf`, as a straightforward port of
/// the textbook formulas would be written.
mod scalar {
    pub fn max(x: &[f32]) -> f32 {
        x.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b))
    }
    pub fn softmax(x: &[f32], y: &mut [f32]) {
        let m = max(x);
        let mut s = 0.0;
        for (o, &v) in y.iter_mut().zip(x) {
            *o = libm::expf(v - m);
            s += *o;
        }
        let inv = 1.0 / s;
        y.iter_mut().for_each(|o| *o *= inv);
    }
    pub fn logsumexp(x: &[f32]) -> f32 {
        let m = max(x);
        m + libm::logf(x.iter().map(|&v| libm::expf(v - m)).sum::<f32>())
    }
    pub fn log_softmax(x: &[f32], y: &mut [f32]) {
        let l = logsumexp(x);
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v - l;
        }
    }
    pub fn cross_entropy(z: &[f32], t: usize, g: &mut [f32]) -> f32 {
        softmax(z, g);
        let loss = -libm::logf(g[t]);
        g[t] -= 1.0;
        loss
    }
}

fn bench_exp(c: &mut Criterion) {
    let mut g = c.benchmark_group("exp");
    let n = 4096;
    let x = data(n);
    let mut y = vec![0.0; n];
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("edgegrad", |b| {
        b.iter(|| k::exp(black_box(&x), &mut y).unwrap())
    });
    g.bench_function("wide_f32x8_exp", |b| {
        b.iter(|| {
            for (o, i) in y
                .as_chunks_mut::<LANES>()
                .0
                .iter_mut()
                .zip(black_box(&x).as_chunks::<LANES>().0)
            {
                *o = simd::load(i).exp().to_array();
            }
        })
    });
    g.bench_function("scalar_libm", |b| {
        b.iter(|| {
            for (o, &i) in y.iter_mut().zip(black_box(&x)) {
                *o = libm::expf(i);
            }
        })
    });
    g.finish();
}

fn bench_rows(c: &mut Criterion) {
    type Kernel = fn(&[f32], &mut [f32]);
    let cases: [(&str, Kernel, Kernel); 4] = [
        ("softmax", |x, y| k::softmax(x, y).unwrap(), scalar::softmax),
        (
            "log_softmax",
            |x, y| k::log_softmax(x, y).unwrap(),
            scalar::log_softmax,
        ),
        (
            "logsumexp",
            |x, _| {
                black_box(k::logsumexp(x).unwrap());
            },
            |x, _| {
                black_box(scalar::logsumexp(x));
            },
        ),
        (
            "cross_entropy_grad",
            |x, y| {
                black_box(k::cross_entropy(x, 3, y).unwrap());
            },
            |x, y| {
                black_box(scalar::cross_entropy(x, 3, y));
            },
        ),
    ];
    for (name, fast, slow) in cases {
        let mut g = c.benchmark_group(name);
        for n in LENS {
            let x = data(n);
            let mut y = vec![0.0; n];
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new("edgegrad", n), &n, |b, _| {
                b.iter(|| fast(black_box(&x), &mut y))
            });
            g.bench_with_input(BenchmarkId::new("scalar_libm", n), &n, |b, _| {
                b.iter(|| slow(black_box(&x), &mut y))
            });
        }
        g.finish();
    }
}

/// Row kernels over a `256 × cols` matrix of short rows (attention scores of short
/// contexts, small vocabularies): the matrix kernels (which take short rows in blocks),
/// the one-row kernel called on each row, and the scalar baseline on each row.
fn bench_short_rows(c: &mut Criterion) {
    const ROWS: usize = 256;
    type Matrix = fn(&[f32], usize, &mut [f32], &[u16]);
    type Row = fn(&[f32], &mut [f32], u16);
    let cases: [(&str, Matrix, Row, Row); 4] = [
        (
            "softmax_rows",
            |x, cols, y, _| {
                let (x, y) = (MatRef::new(x, ROWS, cols), MatMut::new(y, ROWS, cols));
                k::softmax_rows(x.unwrap(), y.unwrap()).unwrap();
            },
            |x, y, _| k::softmax(x, y).unwrap(),
            |x, y, _| scalar::softmax(x, y),
        ),
        (
            "logsumexp_rows",
            |x, cols, y, _| {
                let x = MatRef::new(x, ROWS, cols).unwrap();
                k::logsumexp_rows(x, &mut y[..ROWS]).unwrap();
            },
            |x, y, _| y[0] = k::logsumexp(x).unwrap(),
            |x, y, _| y[0] = scalar::logsumexp(x),
        ),
        (
            "cross_entropy_batch",
            |x, cols, y, t| {
                let (x, y) = (MatRef::new(x, ROWS, cols), MatMut::new(y, ROWS, cols));
                black_box(k::cross_entropy_batch(x.unwrap(), t, None, y.unwrap()).unwrap());
            },
            |x, y, t| {
                black_box(k::cross_entropy(x, usize::from(t), y).unwrap());
            },
            |x, y, t| {
                black_box(scalar::cross_entropy(x, usize::from(t), y));
            },
        ),
        (
            "cross_entropy_batch_loss",
            |x, cols, _, t| {
                let x = MatRef::new(x, ROWS, cols).unwrap();
                black_box(k::cross_entropy_batch_loss(x, t, None).unwrap());
            },
            |x, y, t| y[0] = k::cross_entropy_loss(x, usize::from(t)).unwrap(),
            |x, y, t| y[0] = scalar::logsumexp(x) - x[usize::from(t)],
        ),
    ];
    for (name, matrix, row, slow) in cases {
        let mut g = c.benchmark_group(name);
        for cols in [8, 16, 32, 64] {
            let x = data(ROWS * cols);
            let mut y = vec![0.0; ROWS * cols];
            let targets: Vec<u16> = (0..ROWS).map(|r| (r * 5 % cols) as u16).collect();
            let targets = &targets;
            g.throughput(Throughput::Elements((ROWS * cols) as u64));
            g.bench_with_input(BenchmarkId::new("edgegrad", cols), &cols, |b, _| {
                b.iter(|| matrix(black_box(&x), cols, &mut y, targets))
            });
            let by_row = |f: Row| {
                move |x: &[f32], y: &mut [f32]| {
                    let rows = x.chunks_exact(cols).zip(y.chunks_exact_mut(cols));
                    for ((x, y), &t) in rows.zip(targets) {
                        f(x, y, t);
                    }
                }
            };
            let (one, scalar) = (by_row(row), by_row(slow));
            g.bench_with_input(
                BenchmarkId::new("edgegrad_each_row", cols),
                &cols,
                |b, _| b.iter(|| one(black_box(&x), &mut y)),
            );
            g.bench_with_input(BenchmarkId::new("scalar_libm", cols), &cols, |b, _| {
                b.iter(|| scalar(black_box(&x), &mut y))
            });
        }
        g.finish();
    }
}

criterion_group! { name = benches; config = common::config(300, 800, 20); targets = bench_exp, bench_rows, bench_short_rows }
criterion_main!(benches);

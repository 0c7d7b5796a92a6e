//! Matrix products NN (`A·B`), NT (`A·Bᵀ`) and TN (`Aᵀ·B`) on row-major data, against
//! faer, `gemm`, `matrixmultiply`, nalgebra and a plain i-k-j loop (see `peers/`), with
//! criterion. Throughput is reported in elements of `C` per second; GFLOP/s = 2·k ·
//! elements/s.
//!
//! Run: `cargo bench -p edgegrad-bench --bench matmul`. On a shared machine, whose speed
//! drifts within minutes, `--bench products` (interleaved rounds, one table) gives the
//! ratios.
mod common;
mod peers;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use peers::{Case, Op};

fn bench_all(cr: &mut Criterion) {
    for op in Op::ALL {
        let mut g = cr.benchmark_group(op.name());
        for (label, m, kk, n) in peers::shapes() {
            let case = Case::new(op, m, kk, n);
            g.throughput(Throughput::Elements((m * n) as u64));
            let mut products = case.products();
            let mut expect = vec![f32::NAN; m * n];
            (products[0].1)(&mut expect);
            for (name, product) in &mut products {
                case.check(name, product, &expect);
                let mut c = vec![0.0_f32; m * n];
                g.bench_with_input(BenchmarkId::new(*name, &label), &(), |bch, _| {
                    bch.iter(|| product(&mut c))
                });
            }
        }
        g.finish();
    }
}

criterion_group! { name = benches; config = common::config(300, 800, 20); targets = bench_all }
criterion_main!(benches);

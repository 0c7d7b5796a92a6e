//! Matrix products NN (`A·B`), NT (`A·Bᵀ`) and TN (`Aᵀ·B`) on row-major data, against
//! faer, `gemm` (faer's former matrix-product crate, which stays at 256-bit vectors
//! without its `x86-v4` feature), `matrixmultiply::sgemm`, `nalgebra` and a plain i-k-j
//! loop, all on one thread.
//!
//! Run: `cargo bench -p edgegrad-bench --bench matmul`. Throughput is reported in elements of `C` per
//! second; GFLOP/s = 2·k · elements/s. nalgebra is column-major: a row-major product is
//! computed on the same buffers as the transposed product (NN as `Bᵀ·Aᵀ` with
//! `gemm`, NT as `gemm_tr`); it has no kernel for the row-major TN layout without a
//! copy, so it is not run there.
use std::hint::black_box;

mod common;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use edgegrad::kernels::{self as k, Accum};
use edgegrad::{MatMut, MatRef};
use nalgebra::DMatrix;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    NN,
    NT,
    TN,
}

/// (label, m, k, n)
fn shapes() -> Vec<(String, usize, usize, usize)> {
    let mut v: Vec<_> = [8, 16, 32, 64, 128, 256, 512]
        .iter()
        .map(|&s| (format!("{s}"), s, s, s))
        .collect();
    v.push(("64x64*64x256".into(), 64, 64, 256));
    v.push(("32x32*32x64".into(), 32, 32, 64));
    v
}

fn fill(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 2654435761 + seed) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn plain_loop(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    c.fill(0.0);
    for i in 0..m {
        for p in 0..k {
            let av = a[i * k + p];
            for j in 0..n {
                c[i * n + j] += av * b[p * n + j];
            }
        }
    }
}

/// Panics unless `got` is `expect` within `tol`: a peer called with a wrong stride must
/// not time the wrong product.
fn check(name: &str, got: &[f32], expect: &[f32], tol: f32) {
    if let Some(i) = (0..got.len()).find(|&i| (got[i] - expect[i]).abs() > tol) {
        panic!("{name} differs at {i}: {} against {}", got[i], expect[i]);
    }
}

/// Runs `product` once into a zeroed `C`, checks it against `expect`, then benches it.
fn peer(
    g: &mut BenchmarkGroup<'_, WallTime>,
    (name, label): (&str, &str),
    expect: &[f32],
    tol: f32,
    mut product: impl FnMut(&mut [f32]),
) {
    let mut c = vec![0.0_f32; expect.len()];
    product(&mut c);
    check(name, &c, expect, tol);
    g.bench_with_input(BenchmarkId::new(name, label), &(), |bch, _| {
        bch.iter(|| product(&mut c))
    });
}

fn bench_op(cr: &mut Criterion, op: Op, name: &str) {
    let mut g = cr.benchmark_group(name);
    for (label, m, kk, n) in shapes() {
        let a = fill(m * kk, 1);
        let b = fill(kk * n, 2);
        g.throughput(Throughput::Elements((m * n) as u64));
        // operand shapes as stored
        let (ar, ac) = if op == Op::TN { (kk, m) } else { (m, kk) };
        let (br, bc) = if op == Op::NT { (n, kk) } else { (kk, n) };
        let edgegrad = |c: &mut [f32]| {
            let (am, bm) = (
                MatRef::new(black_box(&a), ar, ac).unwrap(),
                MatRef::new(black_box(&b), br, bc).unwrap(),
            );
            let cm = MatMut::new(c, m, n).unwrap();
            match op {
                Op::NN => k::matmul(am, bm, cm, Accum::Overwrite),
                Op::NT => k::matmul_nt(am, bm, cm, Accum::Overwrite),
                Op::TN => k::matmul_tn(am, bm, cm, Accum::Overwrite),
            }
            .unwrap()
        };
        let mut expect = vec![0.0_f32; m * n];
        edgegrad(&mut expect);
        let tol = 1e-4 * kk as f32;
        let id = |peer_name| (peer_name, label.as_str());
        peer(&mut g, id("edgegrad"), &expect, tol, edgegrad);
        // strides (row, column) of op(A) and op(B) in the stored buffers
        let (rsa, csa) = if op == Op::TN {
            (1, m as isize)
        } else {
            (kk as isize, 1)
        };
        let (rsb, csb) = if op == Op::NT {
            (1, kk as isize)
        } else {
            (n as isize, 1)
        };
        peer(&mut g, id("faer"), &expect, tol, |c| {
            let am = faer::MatRef::from_row_major_slice(black_box(&a), ar, ac);
            let bm = faer::MatRef::from_row_major_slice(black_box(&b), br, bc);
            let cm = faer::MatMut::from_row_major_slice_mut(c, m, n);
            let (am, bm) = match op {
                Op::NN => (am, bm),
                Op::NT => (am, bm.transpose()),
                Op::TN => (am.transpose(), bm),
            };
            faer::linalg::matmul::matmul(cm, faer::Accum::Replace, am, bm, 1.0, faer::Par::Seq);
        });
        peer(&mut g, id("gemm"), &expect, tol, |c| {
            // SAFETY: the pointers and strides describe the live buffers a, b, c.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    kk,
                    c.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    black_box(a.as_ptr()),
                    csa,
                    rsa,
                    black_box(b.as_ptr()),
                    csb,
                    rsb,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        });
        peer(&mut g, id("matrixmultiply"), &expect, tol, |c| {
            // SAFETY: the pointers and strides describe the live buffers a, b, c.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    kk,
                    n,
                    1.0,
                    black_box(a.as_ptr()),
                    rsa,
                    csa,
                    black_box(b.as_ptr()),
                    rsb,
                    csb,
                    0.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            }
        });
        if op != Op::TN {
            // Column-major views of the same row-major buffers are the transposes.
            let a_t = DMatrix::from_column_slice(ac, ar, &a);
            let b_t = DMatrix::from_column_slice(bc, br, &b);
            let mut c_t = DMatrix::<f32>::zeros(n, m);
            let nalgebra = |c_t: &mut DMatrix<f32>| match op {
                Op::NN => c_t.gemm(1.0, black_box(&b_t), black_box(&a_t), 0.0),
                _ => c_t.gemm_tr(1.0, black_box(&b_t), black_box(&a_t), 0.0),
            };
            nalgebra(&mut c_t);
            check("nalgebra", c_t.as_slice(), &expect, tol);
            g.bench_with_input(BenchmarkId::new("nalgebra", &label), &(), |bch, _| {
                bch.iter(|| nalgebra(&mut c_t))
            });
        }
        if op == Op::NN {
            peer(&mut g, id("plain_loop"), &expect, tol, |c| {
                plain_loop(m, kk, n, black_box(&a), black_box(&b), c)
            });
        }
    }
    g.finish();
}

fn bench_all(c: &mut Criterion) {
    bench_op(c, Op::NN, "matmul_nn");
    bench_op(c, Op::NT, "matmul_nt");
    bench_op(c, Op::TN, "matmul_tn");
}

criterion_group! { name = benches; config = common::config(300, 800, 20); targets = bench_all }
criterion_main!(benches);

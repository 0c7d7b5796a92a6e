#![allow(dead_code)] // each bench uses a part
//! The matrix products the `matmul` and `products` benches time: edgegrad's and its
//! peers' (faer, `gemm` — faer's former product crate, without its `x86-v4` feature, so
//! at 256-bit vectors —, `matrixmultiply::sgemm`, nalgebra, and a plain i-k-j loop), all
//! on one thread, on the same row-major buffers.
//!
//! nalgebra is column-major: a row-major product is computed on the same buffers as the
//! transposed product (NN as `Bᵀ·Aᵀ` with `gemm`, NT as `gemm_tr`); it has no kernel for
//! the row-major TN layout without a copy, so it is not run there.
use std::hint::black_box;

use edgegrad::kernels::{self as k, Accum};
use edgegrad::{MatMut, MatRef};
use nalgebra::DMatrix;

/// Which product: `A·B`, `A·Bᵀ` or `Aᵀ·B`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    NN,
    NT,
    TN,
}

impl Op {
    pub const ALL: [Op; 3] = [Op::NN, Op::NT, Op::TN];

    pub fn name(self) -> &'static str {
        match self {
            Op::NN => "matmul_nn",
            Op::NT => "matmul_nt",
            Op::TN => "matmul_tn",
        }
    }

    pub fn formula(self) -> &'static str {
        match self {
            Op::NN => "A·B",
            Op::NT => "A·Bᵀ",
            Op::TN => "Aᵀ·B",
        }
    }
}

/// (label, m, k, n): squares from 8 to 512 and two shapes of the models' layers.
pub fn shapes() -> Vec<(String, usize, usize, usize)> {
    let mut v: Vec<_> = [8, 16, 32, 64, 128, 256, 512]
        .iter()
        .map(|&s| (format!("{s}"), s, s, s))
        .collect();
    v.push(("64x64*64x256".into(), 64, 64, 256));
    v.push(("32x32*32x64".into(), 32, 32, 64));
    v
}

pub fn fill(n: usize, seed: usize) -> Vec<f32> {
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

/// One product: writes `C` (`m × n`, row-major).
pub type Product<'a> = Box<dyn FnMut(&mut [f32]) + 'a>;

/// The operands of one case and every implementation of its product.
pub struct Case {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    op: Op,
}

impl Case {
    pub fn new(op: Op, m: usize, k: usize, n: usize) -> Self {
        Case {
            m,
            k,
            n,
            a: fill(m * k, 1),
            b: fill(k * n, 2),
            op,
        }
    }

    /// Floating-point operations of one product.
    pub fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }

    /// `(name, product)` for edgegrad and each peer that has this layout; the plain
    /// loop only for `A·B`.
    pub fn products(&self) -> Vec<(&'static str, Product<'_>)> {
        let (op, m, kk, n) = (self.op, self.m, self.k, self.n);
        let (a, b) = (&self.a[..], &self.b[..]);
        // operand shapes as stored
        let (ar, ac) = if op == Op::TN { (kk, m) } else { (m, kk) };
        let (br, bc) = if op == Op::NT { (n, kk) } else { (kk, n) };
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
        let mut v: Vec<(&'static str, Product<'_>)> = vec![
            (
                "edgegrad",
                Box::new(move |c: &mut [f32]| {
                    let (am, bm) = (
                        MatRef::new(black_box(a), ar, ac).unwrap(),
                        MatRef::new(black_box(b), br, bc).unwrap(),
                    );
                    let cm = MatMut::new(c, m, n).unwrap();
                    match op {
                        Op::NN => k::matmul(am, bm, cm, Accum::Overwrite),
                        Op::NT => k::matmul_nt(am, bm, cm, Accum::Overwrite),
                        Op::TN => k::matmul_tn(am, bm, cm, Accum::Overwrite),
                    }
                    .unwrap()
                }),
            ),
            (
                "faer",
                Box::new(move |c: &mut [f32]| {
                    let am = faer::MatRef::from_row_major_slice(black_box(a), ar, ac);
                    let bm = faer::MatRef::from_row_major_slice(black_box(b), br, bc);
                    let cm = faer::MatMut::from_row_major_slice_mut(c, m, n);
                    let (am, bm) = match op {
                        Op::NN => (am, bm),
                        Op::NT => (am, bm.transpose()),
                        Op::TN => (am.transpose(), bm),
                    };
                    faer::linalg::matmul::matmul(
                        cm,
                        faer::Accum::Replace,
                        am,
                        bm,
                        1.0,
                        faer::Par::Seq,
                    );
                }),
            ),
            (
                "gemm",
                Box::new(move |c: &mut [f32]| {
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
                }),
            ),
            (
                "matrixmultiply",
                Box::new(move |c: &mut [f32]| {
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
                }),
            ),
        ];
        if op != Op::TN {
            // Column-major views of the same row-major buffers are the transposes;
            // the product lands in its own matrix, copied out only for the check.
            let a_t = DMatrix::from_column_slice(ac, ar, a);
            let b_t = DMatrix::from_column_slice(bc, br, b);
            let mut c_t = DMatrix::<f32>::zeros(n, m);
            v.push((
                "nalgebra",
                Box::new(move |c: &mut [f32]| {
                    match op {
                        Op::NN => c_t.gemm(1.0, black_box(&b_t), black_box(&a_t), 0.0),
                        _ => c_t.gemm_tr(1.0, black_box(&b_t), black_box(&a_t), 0.0),
                    }
                    if c[0].is_nan() {
                        // Never while timing (C is finite); the check passes a NaN.
                        c.copy_from_slice(c_t.as_slice());
                    }
                }),
            ));
        }
        if op == Op::NN {
            v.push((
                "plain_loop",
                Box::new(move |c: &mut [f32]| plain_loop(m, kk, n, black_box(a), black_box(b), c)),
            ));
        }
        v
    }

    /// Runs `product` once into a C of NaNs and compares it with edgegrad's result (a
    /// peer called with a wrong stride must not time the wrong product).
    pub fn check(&self, name: &str, product: &mut Product<'_>, expect: &[f32]) {
        let mut c = vec![f32::NAN; self.m * self.n];
        product(&mut c);
        let tol = 1e-4 * self.k as f32;
        if let Some(i) = (0..c.len())
            .find(|&i| (c[i] - expect[i]).abs().is_nan() || (c[i] - expect[i]).abs() > tol)
        {
            panic!("{name} differs at {i}: {} against {}", c[i], expect[i]);
        }
    }
}

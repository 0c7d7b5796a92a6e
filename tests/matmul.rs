//! The matmul family against a naive `f64` triple loop on every kind of shape, the
//! α/β and accumulate semantics, and the gradient products by finite differences.
mod common;
use common::{Rng, gemm_ref, numeric_grad};
use edgegrad::{
    Error, MatMut, MatRef, kernels as k,
    kernels::{Accum, Trans},
};

/// Checks `got ≈ α·ref + β·c0` with the standard error bound `k·u·(|α|·|A|·|B| + |β·C|)`.
#[allow(clippy::too_many_arguments)]
fn check(
    got: &[f32],
    m: usize,
    n: usize,
    kk: usize,
    a: &[f32],
    ta: bool,
    b: &[f32],
    tb: bool,
    alpha: f32,
    beta: f32,
    c0: &[f32],
    what: &str,
) {
    let (a64, b64) = (common::to64(a), common::to64(b));
    let want = gemm_ref(m, n, kk, &a64, ta, &b64, tb);
    let aa: Vec<f64> = a64.iter().map(|v| v.abs()).collect();
    let ba: Vec<f64> = b64.iter().map(|v| v.abs()).collect();
    let bound = gemm_ref(m, n, kk, &aa, ta, &ba, tb);
    for i in 0..m * n {
        let old = if beta == 0.0 {
            0.0
        } else {
            beta as f64 * c0[i] as f64
        };
        let w = alpha as f64 * want[i] + old;
        let tol = (kk as f64 + 2.0) * 1.2e-7 * (alpha.abs() as f64 * bound[i] + old.abs()) + 1e-30;
        assert!(
            (got[i] as f64 - w).abs() <= tol,
            "{what} {m}x{kk}x{n} at {i}: got {}, want {w}",
            got[i]
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn run(rng: &mut Rng, m: usize, n: usize, kk: usize, ta: Trans, tb: Trans, alpha: f32, beta: f32) {
    let a = rng.vec(m * kk, -1.0, 1.0);
    let b = rng.vec(kk * n, -1.0, 1.0);
    let c0: Vec<f32> = if beta == 0.0 {
        vec![f32::NAN; m * n]
    } else {
        rng.vec(m * n, -1.0, 1.0)
    };
    let mut c = c0.clone();
    let (ar, ac) = if ta == Trans::N { (m, kk) } else { (kk, m) };
    let (br, bc) = if tb == Trans::N { (kk, n) } else { (n, kk) };
    k::gemm(
        alpha,
        MatRef::new(&a, ar, ac).unwrap(),
        ta,
        MatRef::new(&b, br, bc).unwrap(),
        tb,
        beta,
        MatMut::new(&mut c, m, n).unwrap(),
    )
    .unwrap();
    check(
        &c,
        m,
        n,
        kk,
        &a,
        ta == Trans::T,
        &b,
        tb == Trans::T,
        alpha,
        beta,
        &c0,
        &format!("gemm {ta:?}{tb:?}"),
    );
}

const OPS: [(Trans, Trans); 4] = [
    (Trans::N, Trans::N),
    (Trans::N, Trans::T),
    (Trans::T, Trans::N),
    (Trans::T, Trans::T),
];

#[test]
fn every_small_shape_every_op() {
    let mut rng = Rng::new(30);
    for m in 1..=13 {
        for n in (1..=35).step_by(2).chain([16, 32]) {
            for kk in [1, 2, 7, 8, 9, 17] {
                for (ta, tb) in OPS {
                    run(&mut rng, m, n, kk, ta, tb, 1.0, 0.0);
                }
            }
        }
    }
}

#[test]
fn tall_wide_and_large_shapes() {
    let mut rng = Rng::new(31);
    let shapes = [
        (1, 1, 1),
        (300, 3, 5),
        (3, 300, 5),
        (2, 2, 600),
        (67, 67, 67),
        (64, 256, 64),
        (32, 64, 32),
        (130, 70, 260),
        (17, 33, 513),
        // Each side of the packed panel's heights (32, 64, then blocks of 128).
        (13, 21, 33),
        (14, 18, 65),
        (12, 16, 129),
    ];
    for (m, n, kk) in shapes {
        for (ta, tb) in OPS {
            run(&mut rng, m, n, kk, ta, tb, 1.0, 0.0);
        }
    }
}

#[test]
fn alpha_beta_and_accumulate() {
    let mut rng = Rng::new(32);
    for (m, n, kk) in [(5, 19, 300), (7, 16, 3), (1, 9, 1), (13, 40, 270)] {
        for (ta, tb) in OPS {
            run(&mut rng, m, n, kk, ta, tb, -0.5, 1.0);
            run(&mut rng, m, n, kk, ta, tb, 2.0, 0.25);
        }
    }
    // Accum::Add on the named products equals Overwrite + old
    let a = rng.vec(6 * 4, -1.0, 1.0);
    let b = rng.vec(4 * 5, -1.0, 1.0);
    let old = rng.vec(6 * 5, -1.0, 1.0);
    let (mut c1, mut c2) = (old.clone(), vec![0.0; 30]);
    k::matmul(
        MatRef::new(&a, 6, 4).unwrap(),
        MatRef::new(&b, 4, 5).unwrap(),
        MatMut::new(&mut c1, 6, 5).unwrap(),
        Accum::Add,
    )
    .unwrap();
    k::matmul(
        MatRef::new(&a, 6, 4).unwrap(),
        MatRef::new(&b, 4, 5).unwrap(),
        MatMut::new(&mut c2, 6, 5).unwrap(),
        Accum::Overwrite,
    )
    .unwrap();
    for i in 0..30 {
        assert!((c1[i] - (c2[i] + old[i])).abs() < 1e-6);
    }
}

#[test]
fn beta_zero_never_reads_c_and_k_zero_scales() {
    let a = [1.0_f32; 6];
    let mut c = [f32::NAN; 4];
    k::matmul(
        MatRef::new(&a, 2, 3).unwrap(),
        MatRef::new(&a, 3, 2).unwrap(),
        MatMut::new(&mut c, 2, 2).unwrap(),
        Accum::Overwrite,
    )
    .unwrap();
    assert_eq!(c, [3.0; 4]);
    let mut c = [2.0_f32; 4];
    k::gemm(
        1.0,
        MatRef::new(&[], 2, 0).unwrap(),
        Trans::N,
        MatRef::new(&[], 0, 2).unwrap(),
        Trans::N,
        0.5,
        MatMut::new(&mut c, 2, 2).unwrap(),
    )
    .unwrap();
    assert_eq!(c, [1.0; 4]);
    let mut c = [f32::NAN; 4];
    k::gemm(
        1.0,
        MatRef::new(&[], 2, 0).unwrap(),
        Trans::N,
        MatRef::new(&[], 0, 2).unwrap(),
        Trans::N,
        0.0,
        MatMut::new(&mut c, 2, 2).unwrap(),
    )
    .unwrap();
    assert_eq!(c, [0.0; 4]);
    // empty outputs are fine
    k::matmul(
        MatRef::new(&[], 0, 3).unwrap(),
        MatRef::new(&[0.0; 6], 3, 2).unwrap(),
        MatMut::new(&mut [], 0, 2).unwrap(),
        Accum::Add,
    )
    .unwrap();
}

#[test]
fn shape_errors_do_not_write() {
    let a = [0.0_f32; 6];
    let mut c = [9.0_f32; 4];
    let err = k::matmul(
        MatRef::new(&a, 2, 3).unwrap(),
        MatRef::new(&a, 2, 3).unwrap(),
        MatMut::new(&mut c, 2, 2).unwrap(),
        Accum::Overwrite,
    );
    assert!(
        matches!(
            err,
            Err(Error::ShapeMismatch {
                expected: (3, 3),
                found: (2, 3),
                ..
            })
        ),
        "{err:?}"
    );
    let err = k::matmul_nt(
        MatRef::new(&a, 2, 3).unwrap(),
        MatRef::new(&a, 3, 2).unwrap(),
        MatMut::new(&mut c, 2, 2).unwrap(),
        Accum::Overwrite,
    );
    assert!(err.is_err());
    let err = k::matmul(
        MatRef::new(&a, 2, 3).unwrap(),
        MatRef::new(&a, 3, 2).unwrap(),
        MatMut::new(&mut c, 4, 1).unwrap(),
        Accum::Overwrite,
    );
    assert_eq!(
        err,
        Err(Error::ShapeMismatch {
            what: "gemm: C",
            expected: (2, 2),
            found: (4, 1)
        })
    );
    assert_eq!(c, [9.0; 4]);
    assert!(MatRef::new(&a, 4, 2).is_err());
    assert!(MatRef::new(&a, usize::MAX, 2).is_err());
    assert!(
        k::matvec(
            MatRef::new(&a, 2, 3).unwrap(),
            &[0.0; 2],
            &mut c[..2],
            Accum::Overwrite
        )
        .is_err()
    );
    assert!(
        k::vecmat(
            &[0.0; 3],
            MatRef::new(&a, 2, 3).unwrap(),
            &mut c[..3],
            Accum::Overwrite
        )
        .is_err()
    );
    assert!(k::add_bias(MatMut::new(&mut c, 2, 2).unwrap(), &[1.0; 3]).is_err());
    assert!(
        k::col_sum(
            MatRef::new(&a, 2, 3).unwrap(),
            &mut c[..2],
            Accum::Overwrite
        )
        .is_err()
    );
}

#[test]
fn vector_products_bias_and_column_sums() {
    let mut rng = Rng::new(33);
    for (m, n) in [(1, 1), (1, 9), (9, 1), (5, 7), (33, 67), (64, 256)] {
        let a = rng.vec(m * n, -1.0, 1.0);
        let x = rng.vec(n, -1.0, 1.0);
        let xm = rng.vec(m, -1.0, 1.0);
        let am = MatRef::new(&a, m, n).unwrap();
        let mut y = rng.vec(m, -1.0, 1.0);
        let y0 = y.clone();
        k::matvec(am, &x, &mut y, Accum::Add).unwrap();
        check(&y, m, 1, n, &a, false, &x, false, 1.0, 1.0, &y0, "matvec");
        let mut z = vec![0.0; n];
        k::vecmat(&xm, am, &mut z, Accum::Overwrite).unwrap();
        check(&z, 1, n, m, &xm, false, &a, false, 1.0, 0.0, &[], "vecmat");
        let mut bx = a.clone();
        k::add_bias(MatMut::new(&mut bx, m, n).unwrap(), &x).unwrap();
        for i in 0..m * n {
            assert_eq!(bx[i], a[i] + x[i % n]);
        }
        let mut cs = vec![1.0; n];
        k::col_sum(am, &mut cs, Accum::Add).unwrap();
        for j in 0..n {
            let s: f64 = (0..m).map(|i| a[i * n + j] as f64).sum::<f64>() + 1.0;
            assert!((cs[j] as f64 - s).abs() < 1e-5 * (m as f64));
        }
    }
}

/// For L = Σ G ⊙ (A·B): dA = G·Bᵀ (matmul_nt), dB = Aᵀ·G (matmul_tn), checked by
/// central differences; and the bias gradient of Y = X·W + b is the column sum of G.
#[test]
fn gradient_products_match_finite_differences() {
    let mut rng = Rng::new(34);
    for (m, kk, n) in [(1, 1, 1), (3, 4, 5), (7, 9, 17), (6, 16, 8)] {
        let a = rng.vec(m * kk, -1.0, 1.0);
        let b = rng.vec(kk * n, -1.0, 1.0);
        let g = rng.vec(m * n, -1.0, 1.0);
        let loss = |a: &[f64], b: &[f64]| {
            let c = gemm_ref(m, n, kk, a, false, b, false);
            c.iter().zip(&g).map(|(c, &g)| c * g as f64).sum::<f64>()
        };
        let b64 = common::to64(&b);
        let a64 = common::to64(&a);
        let mut da = vec![0.0; m * kk];
        k::matmul_nt(
            MatRef::new(&g, m, n).unwrap(),
            MatRef::new(&b, kk, n).unwrap(),
            MatMut::new(&mut da, m, kk).unwrap(),
            Accum::Overwrite,
        )
        .unwrap();
        common::assert_close(
            &da,
            &numeric_grad(&a, 1e-3, |a| loss(a, &b64)),
            1e-5,
            1e-5,
            "dA",
        );
        let mut db = vec![0.0; kk * n];
        k::matmul_tn(
            MatRef::new(&a, m, kk).unwrap(),
            MatRef::new(&g, m, n).unwrap(),
            MatMut::new(&mut db, kk, n).unwrap(),
            Accum::Overwrite,
        )
        .unwrap();
        common::assert_close(
            &db,
            &numeric_grad(&b, 1e-3, |b| loss(&a64, b)),
            1e-5,
            1e-5,
            "dB",
        );
        let bias = rng.vec(n, -1.0, 1.0);
        let mut dbias = vec![0.0; n];
        k::col_sum(MatRef::new(&g, m, n).unwrap(), &mut dbias, Accum::Overwrite).unwrap();
        let num = numeric_grad(&bias, 1e-3, |bb| {
            (0..m * n).map(|i| g[i] as f64 * bb[i % n]).sum()
        });
        common::assert_close(&dbias, &num, 1e-5, 1e-5, "dbias");
    }
}

/// Property: across random shapes and operands the product equals the naive loop.
#[test]
fn random_shapes_agree_with_naive_loop() {
    let mut rng = Rng::new(35);
    for _ in 0..300 {
        let (m, n, kk) = (1 + rng.below(40), 1 + rng.below(40), 1 + rng.below(40));
        let (ta, tb) = OPS[rng.below(4)];
        let beta = [0.0, 1.0, -2.0][rng.below(3)];
        let alpha = rng.uniform(-2.0, 2.0);
        run(&mut rng, m, n, kk, ta, tb, alpha, beta);
    }
}

/// Strided operands and output (rows further apart than their length, as for a column
/// block of a wider buffer): the product reads no element of the gaps into a result —
/// they hold NaN — and writes none of the output's gaps.
#[test]
fn strided_views_read_and_write_only_their_elements() {
    let mut rng = Rng::new(36);
    let mut case = 0;
    for (m, n, kk) in [
        (1, 1, 1),
        (5, 19, 7),
        (13, 33, 9),
        (6, 16, 300),
        (40, 3, 17),
    ] {
        for (ta, tb) in OPS {
            for &beta in &[0.0_f32, 1.0] {
                case += 1;
                let (ar, ac) = if ta == Trans::N { (m, kk) } else { (kk, m) };
                let (br, bc) = if tb == Trans::N { (kk, n) } else { (n, kk) };
                let (pa, pb, pc) = (1 + case % 5, 3 + case % 7, 2 + case % 3);
                let strided = |rng: &mut Rng, rows: usize, cols: usize, pad: usize| {
                    let stride = cols + pad;
                    let mut buf = vec![f32::NAN; rows * stride];
                    let mut dense = Vec::with_capacity(rows * cols);
                    for r in 0..rows {
                        for c in 0..cols {
                            let v = rng.uniform(-1.0, 1.0);
                            buf[r * stride + c] = v;
                            dense.push(v);
                        }
                    }
                    (buf, dense, stride)
                };
                let (abuf, a, lda) = strided(&mut rng, ar, ac, pa);
                let (bbuf, b, ldb) = strided(&mut rng, br, bc, pb);
                let (mut cbuf, c0, ldc) = strided(&mut rng, m, n, pc);
                let c0 = if beta == 0.0 { vec![0.0; m * n] } else { c0 };
                let alpha = 0.5;
                k::gemm(
                    alpha,
                    MatRef::strided(&abuf, ar, ac, lda).unwrap(),
                    ta,
                    MatRef::strided(&bbuf, br, bc, ldb).unwrap(),
                    tb,
                    beta,
                    MatMut::strided(&mut cbuf, m, n, ldc).unwrap(),
                )
                .unwrap();
                let got: Vec<f32> = (0..m)
                    .flat_map(|r| cbuf[r * ldc..r * ldc + n].to_vec())
                    .collect();
                check(
                    &got,
                    m,
                    n,
                    kk,
                    &a,
                    ta == Trans::T,
                    &b,
                    tb == Trans::T,
                    alpha,
                    beta,
                    &c0,
                    "strided gemm",
                );
                for r in 0..m {
                    assert!(
                        cbuf[r * ldc + n..(r + 1) * ldc].iter().all(|x| x.is_nan()),
                        "gap of output row {r} written"
                    );
                }
            }
        }
    }
}

/// A column block of a matrix is the product's operand without a copy: each head's
/// `q_h·k_hᵀ` from one `T × 3D` buffer equals the product of copied blocks.
#[test]
fn column_blocks_of_one_buffer_multiply_like_copies() {
    let mut rng = Rng::new(37);
    let (t, d, heads) = (7, 12, 3);
    let hw = d / heads;
    let qkv = rng.vec(t * 3 * d, -1.0, 1.0);
    let all = MatRef::new(&qkv, t, 3 * d).unwrap();
    for h in 0..heads {
        let q = all.cols_range(h * hw, hw).unwrap();
        let kk = all.cols_range(d + h * hw, hw).unwrap();
        let mut s = vec![0.0; t * t];
        k::matmul_nt(q, kk, MatMut::new(&mut s, t, t).unwrap(), Accum::Overwrite).unwrap();
        let copy = |off: usize| -> Vec<f32> {
            (0..t)
                .flat_map(|r| qkv[r * 3 * d + off..r * 3 * d + off + hw].to_vec())
                .collect()
        };
        let (qc, kc) = (copy(h * hw), copy(d + h * hw));
        let mut want = vec![0.0; t * t];
        k::matmul_nt(
            MatRef::new(&qc, t, hw).unwrap(),
            MatRef::new(&kc, t, hw).unwrap(),
            MatMut::new(&mut want, t, t).unwrap(),
            Accum::Overwrite,
        )
        .unwrap();
        assert_eq!(s, want, "head {h}");
    }
}

/// `matvec` gives each row what `dot` gives it (to rounding: the summation order may
/// differ), for every row count around the blocks of rows it sums together (sixteen
/// lanes) and for rows whose products overflow while their dot product does not
/// (`dot` rescales; `matvec` must too).
#[test]
fn matvec_rows_equal_dot_products() {
    let mut rng = Rng::new(37);
    for (m, n) in [(1, 5), (15, 16), (16, 16), (17, 33), (37, 64), (48, 7)] {
        let mut a = rng.vec(m * n, -1.0, 1.0);
        let x = rng.vec(n, -1.0, 1.0);
        if n >= 2 {
            // Row 3 (or the last): f32::MAX · x₀ and −f32::MAX · x₀ overflow; their sum is 0.
            let r = 3.min(m - 1);
            a[r * n] = f32::MAX;
            a[r * n + 1] = -f32::MAX;
        }
        let mut xx = x.clone();
        if n >= 2 {
            xx[1] = x[0];
        }
        for acc in [Accum::Overwrite, Accum::Add] {
            let y0 = rng.vec(m, -1.0, 1.0);
            let mut y = y0.clone();
            k::matvec(MatRef::new(&a, m, n).unwrap(), &xx, &mut y, acc).unwrap();
            for i in 0..m {
                let row = &a[i * n..(i + 1) * n];
                let d = k::dot(row, &xx).unwrap();
                let want = if acc == Accum::Add { y0[i] + d } else { d };
                let scale: f64 = row.iter().zip(&xx).map(|(p, q)| (p * q).abs() as f64).sum();
                let tol = 1e-6 * (scale.min(f32::MAX as f64) + 1.0);
                assert!(y[i].is_finite(), "row {i} of {m}×{n}: {}", y[i]);
                assert!(
                    ((y[i] - want) as f64).abs() <= tol,
                    "row {i} of {m}×{n}: {} against {want}",
                    y[i]
                );
            }
        }
    }
}

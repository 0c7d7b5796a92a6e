//! LayerNorm and GELU kernels: against `f64` references on every SIMD tail and on
//! adversarial values, their backward passes by central finite differences, and the
//! error cases.
mod common;
use common::{Rng, assert_close, lengths, to64};
use edgegrad::kernels::{self as k, Accum};
use edgegrad::{Error, MatMut, MatRef};

// ---- f64 references -------------------------------------------------------------------

/// GPT-2's GELU in its tanh form, in `f64`: accurate for `x > −3`; below, `1 + tanh`
/// cancels (at `x = −9` it is exactly 0 even in `f64`).
fn gelu_tanh64(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// The same function as `x·σ(2z)` (`1 + tanh z = 2σ(2z)`), accurate everywhere.
fn gelu64(x: f64) -> f64 {
    x / (1.0 + (-two_z(x)).exp())
}

/// Its derivative `σ(2z) + x·σ(2z)(1 − σ(2z))·2z'`, in `f64`.
fn gelu_grad64(x: f64) -> f64 {
    let c = 2.0 * (2.0 / std::f64::consts::PI).sqrt();
    let e = (-two_z(x)).exp();
    let s = 1.0 / (1.0 + e);
    if e.is_infinite() {
        return 0.0;
    }
    s + x * e * s * s * c * (1.0 + 3.0 * 0.044715 * x * x)
}

#[test]
fn the_two_forms_of_gelu_agree() {
    for i in 0..=2000 {
        let x = -3.0 + i as f64 * 0.01;
        let (a, b) = (gelu_tanh64(x), gelu64(x));
        assert!((a - b).abs() <= 1e-14 * (1.0 + b.abs()), "{x}: {a} vs {b}");
    }
}

/// `2z = 2√(2/π)(x + 0.044715x³)`: how much rounding of the argument the true function
/// amplifies (GELU's condition number grows like `|2z|` for negative `x`).
fn two_z(x: f64) -> f64 {
    2.0 * (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)
}

/// LayerNorm of one row in `f64`: `(y, μ, r)`.
fn layer_norm64(x: &[f64], g: &[f64], b: &[f64], eps: f64) -> (Vec<f64>, f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let r = 1.0 / (var + eps).sqrt();
    let y = x
        .iter()
        .zip(g.iter().zip(b))
        .map(|(v, (g, b))| (v - mean) * r * g + b)
        .collect();
    (y, mean, r)
}

// ---- GELU -----------------------------------------------------------------------------

/// Values that stress GELU: zero, tiny, the range where it bends, large of both signs
/// (where `e^{−2z}` under- and overflows), and the extremes.
fn gelu_specials() -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        1e-30,
        -1e-30,
        f32::MIN_POSITIVE,
        1e-7,
        -1e-7,
        0.5,
        -0.5,
        3.0,
        -3.0,
        5.5,
        -5.5,
        9.0,
        -9.0,
        10.0,
        -10.0,
        30.0,
        -30.0,
        1e6,
        -1e6,
        1e13,
        -1e13,
        1e30,
        -1e30,
        f32::MAX,
        -f32::MAX,
    ];
    v.extend((0..4001).map(|i| -20.0 + i as f32 * 0.01));
    v
}

#[test]
fn gelu_matches_f64_reference() {
    let check = |x: &[f32]| {
        let mut y = vec![f32::NAN; x.len()];
        k::gelu(x, &mut y).unwrap();
        for (&xi, &yi) in x.iter().zip(&y) {
            let want = gelu64(xi as f64);
            // Subnormal results round once more.
            let tol = 2.4e-7 * (4.0 + 2.0 * two_z(xi as f64).abs().min(200.0)) * want.abs() + 1e-44;
            assert!(
                (yi as f64 - want).abs() <= tol,
                "gelu({xi}) = {yi}, want {want}"
            );
            assert!(!yi.is_nan(), "gelu({xi}) is NaN");
        }
    };
    check(&gelu_specials());
    let mut rng = Rng::new(70);
    for n in lengths() {
        check(&rng.vec(n, -8.0, 8.0));
    }
}

#[test]
fn gelu_special_values() {
    let x = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 0.0];
    let mut y = [1.0; 4];
    k::gelu(&x, &mut y).unwrap();
    assert_eq!(y[0], f32::INFINITY);
    assert_eq!(y[1], 0.0);
    assert!(y[2].is_nan());
    assert_eq!(y[3], 0.0);
    let mut d = [7.0; 4];
    // A NaN input gives a NaN gradient, reported after dx was written (as documented).
    assert!(matches!(
        k::gelu_backward(&x, &[1.0; 4], &mut d, Accum::Overwrite),
        Err(Error::NonFinite { index: 2, .. })
    ));
    assert_eq!([d[0], d[1], d[3]], [1.0, 0.0, 0.5]);
    assert!(d[2].is_nan());
    assert!(matches!(
        k::gelu(&x, &mut [0.0; 3]),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(k::gelu_backward(&x, &[1.0; 3], &mut d, Accum::Add).is_err());
    assert!(k::gelu_backward(&x, &[1.0; 4], &mut [0.0; 3], Accum::Add).is_err());
}

#[test]
fn gelu_backward_matches_derivative_and_finite_differences() {
    let mut rng = Rng::new(71);
    let xs = gelu_specials();
    let dy: Vec<f32> = xs.iter().map(|_| rng.uniform(-2.0, 2.0)).collect();
    let mut dx = vec![f32::NAN; xs.len()];
    k::gelu_backward(&xs, &dy, &mut dx, Accum::Overwrite).unwrap();
    for ((&x, &g), &d) in xs.iter().zip(&dy).zip(&dx) {
        let want = gelu_grad64(x as f64) * g as f64;
        let tol = 2.4e-7 * (8.0 + 4.0 * two_z(x as f64).abs().min(200.0)).powi(2) * want.abs()
            + 1e-7 * (g as f64).abs();
        assert!(
            (d as f64 - want).abs() <= tol,
            "gelu'({x})·{g} = {d}, want {want}"
        );
    }
    // Central differences of the f64 function at ordinary points.
    for n in lengths().take(40) {
        let x = rng.vec(n, -5.0, 5.0);
        let dy = rng.vec(n, -1.0, 1.0);
        let mut dx = vec![0.0; n];
        k::gelu_backward(&x, &dy, &mut dx, Accum::Overwrite).unwrap();
        let num: Vec<f64> = x
            .iter()
            .zip(&dy)
            .map(|(&v, &g)| {
                let h = 1e-5;
                (gelu64(v as f64 + h) - gelu64(v as f64 - h)) / (2.0 * h) * g as f64
            })
            .collect();
        assert_close(&dx, &num, 1e-5, 1e-6, "gelu_backward vs finite differences");
        // Accumulating adds exactly the overwritten values.
        let mut acc = vec![1.0; n];
        k::gelu_backward(&x, &dy, &mut acc, Accum::Add).unwrap();
        for (a, d) in acc.iter().zip(&dx) {
            assert!(
                (a - (1.0 + d)).abs() <= 2.4e-7 * (1.0 + d.abs()),
                "{a} vs 1 + {d}"
            );
        }
    }
}

// ---- LayerNorm ------------------------------------------------------------------------

#[test]
fn layer_norm_matches_f64_reference_on_every_length() {
    let mut rng = Rng::new(72);
    for n in lengths() {
        for offset in [0.0, 1000.0] {
            let x: Vec<f32> = (0..n).map(|_| offset + rng.uniform(-2.0, 2.0)).collect();
            let g = rng.vec(n, 0.5, 1.5);
            let b = rng.vec(n, -0.5, 0.5);
            let mut y = vec![f32::NAN; n];
            let (mean, rstd) = k::layer_norm(&x, &g, &b, 1e-5, &mut y).unwrap();
            let (want, m64, r64) = layer_norm64(&to64(&x), &to64(&g), &to64(&b), 1e-5);
            // An offset of 1000 leaves the row's spread only ~13 bits of each input.
            let rtol = if offset == 0.0 { 2e-6 } else { 3e-4 };
            assert_close(&y, &want, rtol, rtol, "layer_norm");
            assert!(
                (mean as f64 - m64).abs() <= 1e-6 * (1.0 + m64.abs()),
                "mean"
            );
            assert!(
                (rstd as f64 - r64).abs() <= rtol * r64,
                "rstd {rstd} vs {r64}"
            );
        }
    }
    // A constant row normalises to β (variance 0, r = 1/√ε).
    let mut y = [0.0; 5];
    let (_, r) = k::layer_norm(&[3.0; 5], &[2.0; 5], &[0.25; 5], 1e-5, &mut y).unwrap();
    assert_eq!(y, [0.25; 5]);
    assert!((r - 1.0 / 1e-5_f32.sqrt()).abs() < 1.0);
}

#[test]
fn layer_norm_refuses_non_finite_and_overflowing_rows_without_writing() {
    let g = [1.0_f32; 4];
    let b = [0.0_f32; 4];
    let cases: [(&[f32; 4], &str, usize); 4] = [
        (&[1.0, f32::NAN, 2.0, 3.0], "layer_norm input", 1),
        (&[1.0, 2.0, 3.0, f32::INFINITY], "layer_norm input", 3),
        (
            &[1e30, -1e30, 1e30, 0.0],
            "layer_norm variance (overflow)",
            0,
        ),
        (
            &[f32::MAX, f32::MAX, 1.0, 1.0],
            "layer_norm mean (overflow)",
            0,
        ),
    ];
    for (x, what, index) in cases {
        let mut y = [7.0; 4];
        assert_eq!(
            k::layer_norm(x, &g, &b, 1e-5, &mut y),
            Err(Error::NonFinite { what, index }),
            "{x:?}"
        );
        assert_eq!(y, [7.0; 4], "{x:?} wrote the output");
    }
    // An output that overflows because of a huge gain.
    let mut y = [0.0; 2];
    assert!(matches!(
        k::layer_norm(&[1.0, -1.0], &[f32::MAX; 2], &[f32::MAX; 2], 1e-5, &mut y),
        Err(Error::NonFinite {
            what: "layer_norm output (overflow)",
            ..
        })
    ));
    // Parameters and shapes.
    let mut y = [0.0; 4];
    for eps in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(matches!(
            k::layer_norm(&[1.0; 4], &g, &b, eps, &mut y),
            Err(Error::InvalidParameter { .. })
        ));
    }
    assert!(k::layer_norm(&[], &[], &[], 1e-5, &mut []).is_err());
    assert!(k::layer_norm(&[1.0; 4], &g[..3], &b, 1e-5, &mut y).is_err());
    assert!(k::layer_norm(&[1.0; 4], &g, &b[..3], 1e-5, &mut y).is_err());
    assert!(k::layer_norm(&[1.0; 4], &g, &b, 1e-5, &mut y[..3]).is_err());
    // Row variant: the flat index of the first bad value; earlier rows written.
    let x = [1.0, 2.0, 3.0, f32::NAN];
    let mut y = [9.0; 4];
    let mut st = [[0.0; 2]; 2];
    assert_eq!(
        k::layer_norm_rows(
            MatRef::new(&x, 2, 2).unwrap(),
            &[1.0; 2],
            &[0.0; 2],
            1e-5,
            MatMut::new(&mut y, 2, 2).unwrap(),
            &mut st
        ),
        Err(Error::NonFinite {
            what: "layer_norm input",
            index: 3
        })
    );
    assert_eq!(&y[2..], &[9.0, 9.0]);
}

/// The loss `L = Σᵢ wᵢ·yᵢ` of one LayerNorm row in `f64`, for finite differences.
fn weighted_layer_norm(x: &[f64], g: &[f64], b: &[f64], w: &[f64]) -> f64 {
    let (y, _, _) = layer_norm64(x, g, b, 1e-5);
    y.iter().zip(w).map(|(a, b)| a * b).sum()
}

#[test]
fn layer_norm_backward_matches_finite_differences() {
    let mut rng = Rng::new(73);
    for n in [1, 2, 3, 7, 8, 9, 16, 31, 33, 64, 67] {
        let x = rng.vec(n, -2.0, 2.0);
        let g = rng.vec(n, 0.5, 1.5);
        let b = rng.vec(n, -0.5, 0.5);
        let w = rng.vec(n, -1.0, 1.0); // dy = w
        let mut y = vec![0.0; n];
        let stats = k::layer_norm(&x, &g, &b, 1e-5, &mut y).unwrap();
        let mut dx = vec![f32::NAN; n];
        let (mut dg, mut db) = (vec![0.5; n], vec![0.25; n]);
        k::layer_norm_backward(
            &x,
            stats,
            &g,
            &w,
            &mut dx,
            &mut dg,
            &mut db,
            Accum::Overwrite,
        )
        .unwrap();
        let (x64, g64, b64, w64) = (to64(&x), to64(&g), to64(&b), to64(&w));
        let h = 1e-4;
        let num_dx: Vec<f64> = (0..n)
            .map(|i| {
                let mut xp = x64.clone();
                common::central_diff(&mut xp, i, h, |v| weighted_layer_norm(v, &g64, &b64, &w64))
            })
            .collect();
        let num_dg: Vec<f64> = (0..n)
            .map(|i| {
                let mut gp = g64.clone();
                0.5 + common::central_diff(&mut gp, i, h, |v| {
                    weighted_layer_norm(&x64, v, &b64, &w64)
                })
            })
            .collect();
        let num_db: Vec<f64> = w64.iter().map(|v| 0.25 + v).collect();
        assert_close(&dx, &num_dx, 1e-3, 2e-4, "layer_norm dx");
        assert_close(&dg, &num_dg, 1e-4, 1e-5, "layer_norm dgamma (accumulated)");
        assert_close(&db, &num_db, 1e-6, 1e-6, "layer_norm dbeta (accumulated)");
        // Accum::Add adds to dx.
        let mut dx2 = vec![1.0; n];
        k::layer_norm_backward(&x, stats, &g, &w, &mut dx2, &mut dg, &mut db, Accum::Add).unwrap();
        for (a, d) in dx2.iter().zip(&dx) {
            assert!((a - (1.0 + d)).abs() <= 1e-6, "{a} vs 1 + {d}");
        }
    }
}

#[test]
fn row_variants_equal_the_single_row_kernels() {
    let mut rng = Rng::new(74);
    let (rows, n) = (5, 13);
    let x = rng.vec(rows * n, -3.0, 3.0);
    let g = rng.vec(n, 0.5, 1.5);
    let b = rng.vec(n, -0.5, 0.5);
    let dy = rng.vec(rows * n, -1.0, 1.0);
    // A strided input: every row of x inside a wider buffer.
    let stride = n + 3;
    let mut wide = vec![f32::NAN; rows * stride];
    for r in 0..rows {
        wide[r * stride..r * stride + n].copy_from_slice(&x[r * n..(r + 1) * n]);
    }
    let xv = MatRef::strided(&wide, rows, n, stride).unwrap();
    let mut y = vec![0.0; rows * n];
    let mut st = vec![[0.0; 2]; rows];
    k::layer_norm_rows(
        xv,
        &g,
        &b,
        1e-5,
        MatMut::new(&mut y, rows, n).unwrap(),
        &mut st,
    )
    .unwrap();
    let mut dx = vec![0.0; rows * n];
    let (mut dg, mut db) = (vec![0.0; n], vec![0.0; n]);
    k::layer_norm_backward_rows(
        xv,
        &st,
        &g,
        MatRef::new(&dy, rows, n).unwrap(),
        MatMut::new(&mut dx, rows, n).unwrap(),
        &mut dg,
        &mut db,
        Accum::Overwrite,
    )
    .unwrap();
    let (mut dg1, mut db1) = (vec![0.0; n], vec![0.0; n]);
    for r in 0..rows {
        let xr = &x[r * n..(r + 1) * n];
        let mut yr = vec![0.0; n];
        let s = k::layer_norm(xr, &g, &b, 1e-5, &mut yr).unwrap();
        assert_eq!(&y[r * n..(r + 1) * n], &yr[..]);
        assert_eq!(st[r], [s.0, s.1]);
        let mut dxr = vec![0.0; n];
        k::layer_norm_backward(
            xr,
            s,
            &g,
            &dy[r * n..(r + 1) * n],
            &mut dxr,
            &mut dg1,
            &mut db1,
            Accum::Overwrite,
        )
        .unwrap();
        assert_eq!(&dx[r * n..(r + 1) * n], &dxr[..]);
    }
    assert_eq!((dg, db), (dg1, db1));
}

#[test]
fn softmax_backward_in_place_equals_the_two_buffer_kernel() {
    let mut rng = Rng::new(75);
    for n in lengths() {
        let mut y = rng.vec(n, -2.0, 2.0);
        k::softmax_in_place(&mut y).unwrap();
        let dy = rng.vec(n, -1.0, 1.0);
        let mut dx = vec![0.0; n];
        k::softmax_backward(&y, &dy, &mut dx).unwrap();
        let mut g = dy.clone();
        k::softmax_backward_in_place(&y, &mut g).unwrap();
        assert_eq!(g, dx);
    }
    assert!(k::softmax_backward_in_place(&[0.5, 0.5], &mut [1.0]).is_err());
}

//! The softmax family against `f64` references, edge semantics, properties and
//! finite-difference checks of the backward passes.
mod common;
use common::{
    Rng, assert_close, bits, lengths, log_softmax_ref, logsumexp_ref, numeric_grad, softmax_f64,
    softmax_ref,
};
use edgegrad::{Error, MatMut, MatRef, kernels as k, simd::LANES};

const NEG: f32 = f32::NEG_INFINITY;

#[test]
fn forward_matches_f64_on_every_length() {
    let mut rng = Rng::new(10);
    for n in lengths() {
        for spread in [1.0, 10.0, 40.0] {
            let x: Vec<f32> = (0..n).map(|_| rng.normal() * spread).collect();
            let mut y = vec![f32::NAN; n];
            k::softmax(&x, &mut y).unwrap();
            // exp is 1 ulp; x − max is rounded, which costs |x − max|·2⁻²⁴ relative.
            let rtol = 4e-7 * (2.0 + 6.0 * spread as f64);
            assert_close(&y, &softmax_ref(&x), rtol, 1e-37, "softmax");
            let mut z = x.clone();
            k::softmax_in_place(&mut z).unwrap();
            assert_eq!(z, y, "in-place softmax equals out-of-place");
            k::log_softmax(&x, &mut y).unwrap();
            assert_close(&y, &log_softmax_ref(&x), 1e-6, 1e-6, "log_softmax");
            let l = k::logsumexp(&x).unwrap() as f64;
            let lr = logsumexp_ref(&x);
            assert!(
                (l - lr).abs() <= 1e-6 * (1.0 + lr.abs()),
                "logsumexp len {n}: {l} vs {lr}"
            );
        }
    }
}

#[test]
fn masks_and_fully_masked_rows() {
    for n in 1..=40 {
        // every other entry masked
        let x: Vec<f32> = (0..n)
            .map(|i| if i % 2 == 1 { NEG } else { i as f32 * 0.1 })
            .collect();
        let mut y = vec![f32::NAN; n];
        k::softmax(&x, &mut y).unwrap();
        for i in (1..n).step_by(2) {
            assert_eq!(y[i], 0.0, "masked entry gets exactly zero");
        }
        assert_close(&y, &softmax_ref(&x), 2e-6, 0.0, "masked softmax");
        k::log_softmax(&x, &mut y).unwrap();
        for i in (1..n).step_by(2) {
            assert_eq!(y[i], NEG);
        }
        // all masked
        let x = vec![NEG; n];
        k::softmax(&x, &mut y).unwrap();
        assert!(y.iter().all(|&v| v == 0.0));
        k::log_softmax(&x, &mut y).unwrap();
        assert!(y.iter().all(|&v| v == NEG));
        assert_eq!(k::logsumexp(&x).unwrap(), NEG);
    }
    assert_eq!(k::logsumexp(&[]).unwrap(), NEG);
    k::softmax(&[], &mut []).unwrap();
}

#[test]
fn huge_and_tiny_inputs() {
    let mut y = [0.0_f32; 3];
    k::softmax(&[f32::MAX, f32::MAX, -f32::MAX], &mut y).unwrap();
    assert_eq!(y, [0.5, 0.5, 0.0]);
    k::softmax(&[1e30, -1e30, 1e30 * 0.5], &mut y).unwrap();
    assert_eq!(y, [1.0, 0.0, 0.0]);
    let sub = f32::from_bits(5);
    k::softmax(&[sub, 0.0, -sub], &mut y).unwrap();
    assert_close(&y, &[1.0 / 3.0; 3], 1e-7, 0.0, "subnormal inputs");
    assert_eq!(k::logsumexp(&[f32::MAX, f32::MAX]).unwrap(), f32::MAX);
    assert_eq!(k::logsumexp(&[-f32::MAX]).unwrap(), -f32::MAX);
    assert_eq!(k::logsumexp(&[1e30, 0.0]).unwrap(), 1e30);
    let mut ly = [0.0_f32; 2];
    k::log_softmax(&[0.0, -1e30], &mut ly).unwrap();
    assert_eq!(ly, [0.0, -1e30]);
}

#[test]
fn nan_and_pos_inf_are_errors_and_leave_output() {
    for n in 1..=20 {
        for pos in 0..n {
            for bad in [f32::NAN, f32::INFINITY] {
                let mut x = vec![0.5_f32; n];
                x[pos] = bad;
                let mut y = vec![9.0_f32; n];
                let want = Err(Error::NonFinite {
                    what: "softmax input",
                    index: pos,
                });
                assert_eq!(k::softmax(&x, &mut y), want);
                assert!(y.iter().all(|&v| v == 9.0), "output untouched on error");
                let before = x.clone();
                assert!(k::softmax_in_place(&mut x).is_err());
                assert_eq!(
                    x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    before.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
                assert!(
                    matches!(k::log_softmax(&x, &mut y), Err(Error::NonFinite { index, .. }) if index == pos)
                );
                assert!(
                    matches!(k::logsumexp(&x), Err(Error::NonFinite { index, .. }) if index == pos)
                );
            }
        }
    }
    assert_eq!(
        k::logsumexp(&[NEG, f32::NAN]),
        Err(Error::NonFinite {
            what: "logsumexp input",
            index: 1
        })
    );
}

#[test]
fn shape_errors() {
    let mut y = [0.0; 2];
    assert!(matches!(
        k::softmax(&[0.0; 3], &mut y),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        k::log_softmax(&[0.0; 3], &mut y),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(k::softmax_backward(&[0.0; 2], &[0.0; 3], &mut y).is_err());
    assert!(k::softmax_backward(&[0.0; 3], &[0.0; 3], &mut y).is_err());
    assert!(k::log_softmax_backward(&[0.0; 2], &[0.0; 1], &mut y).is_err());
    let x = [0.0; 6];
    let mut out = [0.0; 6];
    let err = k::softmax_rows(
        MatRef::new(&x, 2, 3).unwrap(),
        MatMut::new(&mut out, 3, 2).unwrap(),
    );
    assert_eq!(
        err,
        Err(Error::ShapeMismatch {
            what: "softmax_rows output",
            expected: (2, 3),
            found: (3, 2)
        })
    );
    assert!(k::logsumexp_rows(MatRef::new(&x, 2, 3).unwrap(), &mut out[..3]).is_err());
}

/// Properties over many random rows: non-negative, sums to 1, invariant to shifts.
#[test]
fn softmax_properties() {
    let mut rng = Rng::new(11);
    for case in 0..600 {
        let n = 1 + rng.below(80);
        let spread = [0.1, 1.0, 5.0, 30.0][case % 4];
        let x: Vec<f32> = (0..n).map(|_| rng.normal() * spread).collect();
        let mut y = vec![0.0; n];
        k::softmax(&x, &mut y).unwrap();
        assert!(y.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let s: f64 = y.iter().map(|&v| v as f64).sum();
        assert!(
            (s - 1.0).abs() < 1e-5 * (1.0 + (n as f64).sqrt()),
            "sum {s}"
        );
        // shift by a constant that is exact in f32 for these magnitudes
        let c = [-64.0, 0.5, 256.0][case % 3];
        let xs: Vec<f32> = x.iter().map(|v| v + c).collect();
        let mut ys = vec![0.0; n];
        k::softmax(&xs, &mut ys).unwrap();
        let shifted_err = (spread as f64 + c.abs() as f64) * 1e-6;
        for (a, b) in y.iter().zip(&ys) {
            assert!(
                (a - b).abs() as f64 <= shifted_err * (*a as f64).max(1e-6) + 1e-7,
                "shift invariance {a} vs {b}"
            );
        }
        // log_softmax is consistent with softmax
        let mut ly = vec![0.0; n];
        k::log_softmax(&x, &mut ly).unwrap();
        for (l, p) in ly.iter().zip(&y) {
            if *p > 1e-30 {
                assert!((l.exp() - p).abs() <= 1e-5 * p + 1e-12);
            }
        }
    }
}

#[test]
fn softmax_backward_matches_finite_differences() {
    let mut rng = Rng::new(12);
    for n in [1, 2, 3, 7, 8, 9, 16, 17, 33, 67] {
        let x: Vec<f32> = (0..n).map(|_| rng.normal() * 2.0).collect();
        let c = rng.vec(n, -1.0, 1.0);
        let mut y = vec![0.0; n];
        k::softmax(&x, &mut y).unwrap();
        let mut dx = vec![0.0; n];
        k::softmax_backward(&y, &c, &mut dx).unwrap();
        let num = numeric_grad(&x, 1e-5, |x| {
            softmax_f64(x)
                .iter()
                .zip(&c)
                .map(|(p, c)| p * *c as f64)
                .sum()
        });
        assert_close(&dx, &num, 1e-4, 2e-6, "softmax_backward");
    }
}

#[test]
fn log_softmax_backward_matches_finite_differences() {
    let mut rng = Rng::new(13);
    for n in [1, 2, 5, 8, 9, 31, 64, 67] {
        let x: Vec<f32> = (0..n).map(|_| rng.normal() * 2.0).collect();
        let c = rng.vec(n, -1.0, 1.0);
        let mut ly = vec![0.0; n];
        k::log_softmax(&x, &mut ly).unwrap();
        let mut dx = vec![0.0; n];
        k::log_softmax_backward(&ly, &c, &mut dx).unwrap();
        let num = numeric_grad(&x, 1e-5, |x| {
            let p = softmax_f64(x);
            p.iter().zip(&c).map(|(p, c)| p.ln() * *c as f64).sum()
        });
        assert_close(&dx, &num, 1e-4, 2e-6, "log_softmax_backward");
    }
}

#[test]
fn row_variants_equal_per_row_calls() {
    let mut rng = Rng::new(14);
    // Short rows go through the kernels in blocks of `LANES` rows (up to 4·LANES
    // columns), longer ones one by one: whole and partial blocks, at and around the
    // length limit, must equal the one-row kernels bit for bit.
    let mut shapes = vec![(1, 1), (3, 5), (7, 8), (4, 33), (2, 67)];
    for rows in [1, LANES - 1, LANES, 2 * LANES + 3] {
        for cols in [
            1,
            3,
            LANES,
            LANES + 1,
            2 * LANES - 1,
            4 * LANES,
            4 * LANES + 1,
        ] {
            shapes.push((rows, cols));
        }
    }
    for (rows, cols) in shapes {
        let mut x: Vec<f32> = (0..rows * cols).map(|_| rng.normal() * 3.0).collect();
        // a causal mask on the square part and one fully masked row
        for r in 0..rows {
            for c in r + 1..cols.min(rows) {
                x[r * cols + c] = NEG;
            }
        }
        if rows > 2 {
            x[2 * cols..3 * cols].fill(NEG);
        }
        let xm = MatRef::new(&x, rows, cols).unwrap();
        let mut y = vec![0.0; rows * cols];
        k::softmax_rows(xm, MatMut::new(&mut y, rows, cols).unwrap()).unwrap();
        let mut ly = vec![0.0; rows * cols];
        k::log_softmax_rows(xm, MatMut::new(&mut ly, rows, cols).unwrap()).unwrap();
        let mut lse = vec![0.0; rows];
        k::logsumexp_rows(xm, &mut lse).unwrap();
        let mut inplace = x.clone();
        k::softmax_rows_in_place(MatMut::new(&mut inplace, rows, cols).unwrap()).unwrap();
        assert_eq!(inplace, y);
        let dy: Vec<f32> = (0..rows * cols).map(|_| rng.normal()).collect();
        let mut dx = vec![0.0; rows * cols];
        k::softmax_backward_rows(
            MatRef::new(&y, rows, cols).unwrap(),
            MatRef::new(&dy, rows, cols).unwrap(),
            MatMut::new(&mut dx, rows, cols).unwrap(),
        )
        .unwrap();
        let mut ldx = vec![0.0; rows * cols];
        k::log_softmax_backward_rows(
            MatRef::new(&ly, rows, cols).unwrap(),
            MatRef::new(&dy, rows, cols).unwrap(),
            MatMut::new(&mut ldx, rows, cols).unwrap(),
        )
        .unwrap();
        for (r, &lse_r) in lse.iter().enumerate() {
            let s = r * cols..(r + 1) * cols;
            let mut yr = vec![0.0; cols];
            k::softmax(&x[s.clone()], &mut yr).unwrap();
            assert_eq!(&y[s.clone()], &yr[..]);
            k::log_softmax(&x[s.clone()], &mut yr).unwrap();
            assert_eq!(&ly[s.clone()], &yr[..]);
            assert_eq!(lse_r, k::logsumexp(&x[s.clone()]).unwrap());
            k::softmax_backward(&y[s.clone()], &dy[s.clone()], &mut yr).unwrap();
            assert_eq!(&dx[s.clone()], &yr[..]);
            k::log_softmax_backward(&ly[s.clone()], &dy[s.clone()], &mut yr).unwrap();
            assert_eq!(&ldx[s.clone()], &yr[..]);
        }
    }
    // the error index is the flat index
    let x = [0.0, 0.0, 0.0, f32::NAN];
    let mut y = [0.0; 4];
    assert_eq!(
        k::softmax_rows(
            MatRef::new(&x, 2, 2).unwrap(),
            MatMut::new(&mut y, 2, 2).unwrap()
        ),
        Err(Error::NonFinite {
            what: "softmax input",
            index: 3
        })
    );
}

/// An error in a block of short rows: reported at its flat index, the rows before it
/// written as the one-row kernel writes them, the rows after it untouched.
#[test]
fn error_inside_a_block_of_short_rows() {
    let mut rng = Rng::new(15);
    let (rows, cols) = (2 * LANES, 5);
    for bad in [0, 3, LANES + 2, 2 * LANES - 1] {
        for poison in [f32::NAN, f32::INFINITY] {
            let mut x: Vec<f32> = (0..rows * cols).map(|_| rng.normal()).collect();
            x[bad * cols + 2] = poison;
            let mut y = vec![7.0; rows * cols];
            let err = k::softmax_rows(
                MatRef::new(&x, rows, cols).unwrap(),
                MatMut::new(&mut y, rows, cols).unwrap(),
            );
            let index = bad * cols + 2;
            assert_eq!(
                err,
                Err(Error::NonFinite {
                    what: "softmax input",
                    index
                })
            );
            let mut inplace = x.clone();
            let err = k::softmax_rows_in_place(MatMut::new(&mut inplace, rows, cols).unwrap());
            assert!(matches!(err, Err(Error::NonFinite { index: i, .. }) if i == index));
            let mut lse = vec![7.0; rows];
            let err = k::logsumexp_rows(MatRef::new(&x, rows, cols).unwrap(), &mut lse);
            assert!(matches!(err, Err(Error::NonFinite { index: i, .. }) if i == index));
            for (r, &lse_r) in lse.iter().enumerate() {
                let s = r * cols..(r + 1) * cols;
                if r < bad {
                    let mut want = vec![0.0; cols];
                    k::softmax(&x[s.clone()], &mut want).unwrap();
                    assert_eq!(&y[s.clone()], &want[..]);
                    assert_eq!(&inplace[s.clone()], &want[..]);
                    assert_eq!(lse_r, k::logsumexp(&x[s.clone()]).unwrap());
                } else {
                    assert!(y[s.clone()].iter().all(|&v| v == 7.0));
                    assert_eq!(bits(&inplace[s.clone()]), bits(&x[s]));
                    assert_eq!(lse_r, 7.0);
                }
            }
        }
    }
}

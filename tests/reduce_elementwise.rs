//! Reductions and element-wise kernels against `f64` references, on every SIMD tail.
mod common;
use common::{Rng, assert_close, lengths, to64};
use edgegrad::{Error, kernels as k};

const EPS: f64 = f32::EPSILON as f64;

#[test]
fn sum_dot_norms_match_f64_on_every_length() {
    let mut rng = Rng::new(1);
    for n in lengths() {
        let a = rng.vec(n, -2.0, 2.0);
        let b = rng.vec(n, -2.0, 2.0);
        let abs_sum: f64 = a.iter().map(|v| v.abs() as f64).sum();
        let s: f64 = to64(&a).iter().sum();
        assert!(
            (k::sum(&a) as f64 - s).abs() <= n as f64 * EPS * abs_sum,
            "sum len {n}"
        );
        let d: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let dabs: f64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (*x as f64 * *y as f64).abs())
            .sum();
        assert!(
            (k::dot(&a, &b).unwrap() as f64 - d).abs() <= n as f64 * EPS * dabs,
            "dot len {n}"
        );
        let q: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum();
        assert!(
            (k::sq_norm(&a) as f64 - q).abs() <= n as f64 * EPS * q,
            "sq_norm len {n}"
        );
        assert!(
            (k::norm(&a) as f64 - q.sqrt()).abs() <= n as f64 * EPS * q.sqrt(),
            "norm len {n}"
        );
        let m = a.iter().fold(f32::NEG_INFINITY, |x, &y| x.max(y));
        assert_eq!(k::max(&a), m, "max len {n}");
        assert_eq!(
            k::max_abs(&a),
            a.iter().fold(0.0_f32, |x, &y| x.max(y.abs())),
            "max_abs len {n}"
        );
    }
}

#[test]
fn max_position_does_not_matter() {
    for n in 1..=67 {
        for pos in 0..n {
            let mut x = vec![-1.0_f32; n];
            x[pos] = 5.0;
            assert_eq!(k::max(&x), 5.0);
            x[pos] = f32::NAN;
            assert!(k::max(&x).is_nan(), "NaN at {pos} of {n} must propagate");
        }
    }
}

/// Values whose running sum is NaN or infinite without any NaN among them (`+inf`
/// meeting `-inf`, finite values overflowing): the maximum is still exact, and a NaN
/// anywhere among them still gives NaN.
#[test]
fn max_of_values_whose_sum_is_not_finite() {
    let reference = |x: &[f32]| x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for n in 2..=40 {
        for i in 0..n {
            for j in (0..n).filter(|&j| j != i) {
                let mut x = vec![-1.0_f32; n];
                x[i] = f32::INFINITY;
                x[j] = f32::NEG_INFINITY;
                assert_eq!(k::max(&x), f32::INFINITY, "+inf at {i}, -inf at {j} of {n}");
                assert_eq!(k::max_abs(&x), f32::INFINITY);
                x[(i + 1) % n] = f32::NAN;
                assert!(k::max(&x).is_nan() && k::max_abs(&x).is_nan());
            }
        }
        let x: Vec<f32> = (0..n)
            .map(|i| {
                if i % 3 == 0 {
                    -f32::MAX
                } else {
                    f32::MAX * 0.75
                }
            })
            .collect();
        assert_eq!(k::max(&x), reference(&x), "overflowing sums, {n}");
        assert_eq!(k::max_abs(&x), f32::MAX);
    }
}

#[test]
fn reductions_on_adversarial_values() {
    assert_eq!(k::sum(&[]), 0.0);
    assert_eq!(k::max(&[]), f32::NEG_INFINITY);
    assert_eq!(k::max(&[f32::NEG_INFINITY; 9]), f32::NEG_INFINITY);
    assert_eq!(k::max(&[f32::MAX, -f32::MAX]), f32::MAX);
    assert_eq!(k::sum(&[f32::MAX, f32::MAX]), f32::INFINITY);
    assert_eq!(k::sum(&[1e30, -1e30]), 0.0);
    let tiny = [f32::from_bits(1); 20];
    assert_eq!(k::sum(&tiny), f32::from_bits(20));
    // norms are safe from overflow and underflow
    assert_eq!(k::sq_norm(&[1e30]), f32::INFINITY);
    assert_eq!(k::norm(&[3e30, 4e30]), 5e30);
    assert_eq!(k::norm(&[f32::MAX, 0.0]), f32::MAX);
    let r = k::norm(&[3e-30, 4e-30]);
    assert!((r - 5e-30).abs() <= 5e-30 * 1e-6, "{r}");
    assert_eq!(k::norm(&[0.0; 5]), 0.0);
    assert!(k::norm(&[1.0, f32::NAN]).is_nan());
    assert_eq!(k::norm(&[1.0, f32::NEG_INFINITY]), f32::INFINITY);
    assert_eq!(k::global_norm(&[&[3.0], &[], &[4.0]]), 5.0);
}

#[test]
fn dot_rejects_mismatched_lengths() {
    assert_eq!(
        k::dot(&[1.0; 3], &[1.0; 4]),
        Err(Error::LengthMismatch {
            what: "dot: b",
            expected: 3,
            found: 4
        })
    );
}

#[test]
fn elementwise_match_f64_on_every_length() {
    let mut rng = Rng::new(2);
    for n in lengths() {
        let a = rng.vec(n, -3.0, 3.0);
        let b = rng.vec(n, -3.0, 3.0);
        let mut out = vec![f32::NAN; n];
        k::add(&a, &b, &mut out).unwrap();
        let want: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| *x as f64 + *y as f64)
            .collect();
        assert_close(&out, &want, EPS, 0.0, "add");
        k::mul(&a, &b, &mut out).unwrap();
        let want: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| *x as f64 * *y as f64)
            .collect();
        assert_close(&out, &want, EPS, 0.0, "mul");
        let mut y = b.clone();
        k::axpy(0.75, &a, &mut y).unwrap();
        let want: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| 0.75 * *x as f64 + *y as f64)
            .collect();
        assert_close(&y, &want, 2.0 * EPS, 4.0 * EPS, "axpy");
        let mut y = b.clone();
        k::add_assign(&mut y, &a).unwrap();
        let want: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| *x as f64 + *y as f64)
            .collect();
        assert_close(&y, &want, EPS, 0.0, "add_assign");
        let mut y = b.clone();
        k::mul_assign(&mut y, &a).unwrap();
        let want: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| *x as f64 * *y as f64)
            .collect();
        assert_close(&y, &want, EPS, 0.0, "mul_assign");
        let mut y = a.clone();
        k::scale(-0.5, &mut y);
        assert_close(
            &y,
            &a.iter().map(|v| -0.5 * *v as f64).collect::<Vec<_>>(),
            0.0,
            0.0,
            "scale",
        );
        k::exp(&a, &mut out).unwrap();
        assert_close(
            &out,
            &a.iter().map(|v| (*v as f64).exp()).collect::<Vec<_>>(),
            2.0 * EPS,
            0.0,
            "exp",
        );
        k::fill(&mut out, 3.0);
        assert!(out.iter().all(|&v| v == 3.0));
    }
}

#[test]
fn elementwise_reject_bad_lengths_without_writing() {
    let mut out = [7.0_f32; 3];
    assert!(k::add(&[1.0; 3], &[1.0; 2], &mut out).is_err());
    assert!(k::mul(&[1.0; 2], &[1.0; 3], &mut out).is_err());
    assert!(k::axpy(1.0, &[1.0; 2], &mut out).is_err());
    assert!(k::add_assign(&mut out, &[1.0; 4]).is_err());
    assert!(k::mul_assign(&mut out, &[1.0; 4]).is_err());
    assert!(k::exp(&[1.0; 4], &mut out).is_err());
    assert_eq!(out, [7.0; 3]);
}

#[test]
fn elementwise_handles_extreme_values() {
    let mut out = [0.0_f32; 4];
    k::add(
        &[f32::MAX, -f32::MAX, f32::NEG_INFINITY, 1.0],
        &[f32::MAX, 1.0, 1.0, f32::NAN],
        &mut out,
    )
    .unwrap();
    assert_eq!(out[0], f32::INFINITY);
    assert_eq!(out[1], -f32::MAX);
    assert_eq!(out[2], f32::NEG_INFINITY);
    assert!(out[3].is_nan());
    let sub = f32::from_bits(3);
    k::mul(&[sub, 1e30, 1e-30, 2.0], &[2.0, 1e30, 1e-30, 0.5], &mut out).unwrap();
    assert_eq!(out, [f32::from_bits(6), f32::INFINITY, 0.0, 1.0]);
}

#[test]
fn check_finite_names_the_first_non_finite_value_on_every_tail() {
    for n in lengths() {
        let x: Vec<f32> = (0..n).map(|i| ((i % 15) as f32 - 7.0) * 4e37).collect();
        assert!(k::check_finite("x", &x).is_ok());
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, n / 2, n.saturating_sub(1)]
                .into_iter()
                .filter(|&i| i < n)
            {
                let mut y = x.clone();
                y[at] = bad;
                assert!(
                    matches!(k::check_finite("x", &y), Err(Error::NonFinite { what: "x", index }) if index == at),
                    "n = {n}, bad at {at}"
                );
            }
        }
    }
    assert!(k::check_finite("x", &[]).is_ok());
}

//! Losses against `f64` references, their gradients by finite differences, properties.
mod common;
use common::{
    Rng, assert_close, logsumexp_f64 as lse_f64, logsumexp_ref, numeric_grad, softmax_ref,
};
use edgegrad::{Error, MatMut, MatRef, kernels as k};

#[test]
fn cross_entropy_matches_f64_and_its_gradient() {
    let mut rng = Rng::new(20);
    for n in 1..=67 {
        let z: Vec<f32> = (0..n).map(|_| rng.normal() * 3.0).collect();
        let t = rng.below(n);
        let mut g = vec![f32::NAN; n];
        let loss = k::cross_entropy(&z, t, &mut g).unwrap() as f64;
        let want = logsumexp_ref(&z) - z[t] as f64;
        assert!(
            (loss - want).abs() <= 2e-6 * (1.0 + want.abs()),
            "n {n}: {loss} vs {want}"
        );
        assert_eq!(
            k::cross_entropy_loss(&z, t).unwrap() as f64,
            (k::logsumexp(&z).unwrap() - z[t]) as f64
        );
        let mut gw = softmax_ref(&z);
        gw[t] -= 1.0;
        assert_close(&g, &gw, 2e-5, 1e-7, "cross_entropy grad");
        let num = numeric_grad(&z, 1e-4, |z| lse_f64(z) - z[t]);
        assert_close(
            &g,
            &num,
            1e-4,
            1e-6,
            "cross_entropy grad vs finite differences",
        );
    }
}

#[test]
fn cross_entropy_properties() {
    let mut rng = Rng::new(21);
    for _ in 0..500 {
        let n = 1 + rng.below(50);
        let z: Vec<f32> = (0..n).map(|_| rng.normal() * 4.0).collect();
        let t = rng.below(n);
        let mut g = vec![0.0; n];
        let l = k::cross_entropy(&z, t, &mut g).unwrap();
        assert!(l >= 0.0);
        // the gradient of softmax − onehot sums to zero
        assert!(g.iter().map(|&v| v as f64).sum::<f64>().abs() < 1e-5);
    }
    // approaches 0 exactly in the one-hot limit
    let mut g = [0.0; 3];
    assert_eq!(
        k::cross_entropy(&[200.0, 0.0, -5.0], 0, &mut g).unwrap(),
        0.0
    );
    assert_eq!(g, [0.0, 0.0, 0.0]);
    let l = k::cross_entropy(&[10.0, 0.0, 0.0], 0, &mut g).unwrap();
    assert!(l > 0.0 && l < 1e-4);
    // a single class is certain
    assert_eq!(k::cross_entropy(&[3.0], 0, &mut g[..1]).unwrap(), 0.0);
}

#[test]
fn cross_entropy_edges_and_errors() {
    let mut g = [0.0; 3];
    assert_eq!(
        k::cross_entropy(&[0.0; 3], 3, &mut g),
        Err(Error::IndexOutOfRange {
            what: "cross_entropy target",
            index: 3,
            len: 3
        })
    );
    assert!(k::cross_entropy(&[0.0; 3], 0, &mut g[..2]).is_err());
    assert_eq!(
        k::cross_entropy(&[0.0, f32::NAN, 0.0], 0, &mut g),
        Err(Error::NonFinite {
            what: "cross_entropy logits",
            index: 1
        })
    );
    // masked target: infinite loss, finite gradient
    let l = k::cross_entropy(&[0.0, f32::NEG_INFINITY], 1, &mut g[..2]).unwrap();
    assert_eq!(l, f32::INFINITY);
    assert_eq!(&g[..2], &[1.0, -1.0]);
    // huge logits do not overflow
    let l = k::cross_entropy(&[f32::MAX, f32::MAX], 1, &mut g[..2]).unwrap();
    assert_eq!(l, core::f32::consts::LN_2);
    assert_eq!(&g[..2], &[0.5, -0.5]);
}

/// Random classes of `cols`, every `every`-th row (the last of each group) padding:
/// the id `cols`, which the batch tests pass as `ignore_index`.
fn padded_targets(rng: &mut Rng, rows: usize, cols: usize, every: usize) -> Vec<u16> {
    (0..rows)
        .map(|r| {
            if r % every == every - 1 {
                cols as u16
            } else {
                rng.below(cols) as u16
            }
        })
        .collect()
}

#[test]
fn batch_mean_with_ignore_index() {
    let mut rng = Rng::new(22);
    for (rows, cols) in [(1, 1), (4, 3), (9, 17), (16, 64)] {
        let z: Vec<f32> = (0..rows * cols).map(|_| rng.normal() * 2.0).collect();
        let ignore = cols; // an id outside the classes marks padding
        let targets = padded_targets(&mut rng, rows, cols, 3);
        let mut g = vec![f32::NAN; rows * cols];
        let loss = k::cross_entropy_batch(
            MatRef::new(&z, rows, cols).unwrap(),
            &targets,
            Some(ignore),
            MatMut::new(&mut g, rows, cols).unwrap(),
        )
        .unwrap();
        let counted: Vec<usize> = (0..rows).filter(|r| r % 3 != 2).collect();
        let n = counted.len() as f64;
        let want: f64 = counted
            .iter()
            .map(|&r| {
                logsumexp_ref(&z[r * cols..(r + 1) * cols])
                    - z[r * cols + targets[r] as usize] as f64
            })
            .sum::<f64>()
            / n;
        assert!(
            (loss as f64 - want).abs() <= 2e-6 * (1.0 + want),
            "{loss} vs {want}"
        );
        let mean_loss = |zz: &[f64]| {
            counted
                .iter()
                .map(|&r| {
                    lse_f64(&zz[r * cols..(r + 1) * cols]) - zz[r * cols + targets[r] as usize]
                })
                .sum::<f64>()
                / n
        };
        let num = numeric_grad(&z, 1e-4, mean_loss);
        assert_close(&g, &num, 1e-4, 1e-6, "batch grad");
        for r in (0..rows).filter(|r| r % 3 == 2) {
            assert!(
                g[r * cols..(r + 1) * cols].iter().all(|&v| v == 0.0),
                "ignored rows get zero gradient"
            );
        }
    }
}

#[test]
fn batch_errors_leave_gradient_untouched() {
    let z = [0.0_f32; 6];
    let mut g = [5.0_f32; 6];
    let zm = MatRef::new(&z, 2, 3).unwrap();
    let err = k::cross_entropy_batch(zm, &[0_usize, 3], None, MatMut::new(&mut g, 2, 3).unwrap());
    assert_eq!(
        err,
        Err(Error::IndexOutOfRange {
            what: "cross_entropy_batch target",
            index: 3,
            len: 3
        })
    );
    assert!(
        k::cross_entropy_batch(zm, &[0_usize], None, MatMut::new(&mut g, 2, 3).unwrap()).is_err()
    );
    assert!(
        k::cross_entropy_batch(zm, &[0_usize, 1], None, MatMut::new(&mut g, 3, 2).unwrap())
            .is_err()
    );
    assert_eq!(g, [5.0; 6]);
    // all rows ignored: zero loss and zero gradient
    let l = k::cross_entropy_batch(zm, &[7_u8, 7], Some(7), MatMut::new(&mut g, 2, 3).unwrap())
        .unwrap();
    assert_eq!(l, 0.0);
    assert_eq!(g, [0.0; 6]);
}

#[test]
fn soft_targets_match_f64_and_gradient() {
    let mut rng = Rng::new(23);
    for n in [1, 2, 7, 8, 9, 16, 31, 67] {
        let z: Vec<f32> = (0..n).map(|_| rng.normal() * 2.0).collect();
        let mut p: Vec<f32> = (0..n)
            .map(|i| {
                if i % 4 == 3 {
                    0.0
                } else {
                    rng.uniform(0.0, 1.0)
                }
            })
            .collect();
        let s: f32 = p.iter().sum();
        if s == 0.0 {
            p[0] = 1.0;
        } else {
            p.iter_mut().for_each(|v| *v /= s);
        }
        let mut g = vec![0.0; n];
        let l = k::cross_entropy_soft(&z, &p, &mut g).unwrap() as f64;
        let f = |z: &[f64]| {
            let lse = lse_f64(z);
            p.iter()
                .zip(z)
                .map(|(&p, &z)| p as f64 * (lse - z))
                .sum::<f64>()
        };
        let want = f(&common::to64(&z));
        assert!((l - want).abs() <= 1e-5 * (1.0 + want), "{l} vs {want}");
        assert_close(&g, &numeric_grad(&z, 1e-4, f), 1e-4, 1e-6, "soft grad");
        // a one-hot soft target equals the hard-target loss
        let t = rng.below(n);
        let mut oh = vec![0.0; n];
        oh[t] = 1.0;
        let mut g2 = vec![0.0; n];
        let a = k::cross_entropy_soft(&z, &oh, &mut g).unwrap();
        let b = k::cross_entropy(&z, t, &mut g2).unwrap();
        assert!((a - b).abs() <= 1e-6 * (1.0 + b));
        assert_close(&g, &common::to64(&g2), 1e-6, 1e-7, "one-hot soft grad");
    }
    // 0·log 0 = 0 even against a masked logit; p > 0 on a masked logit is infinite
    let mut g = [0.0; 2];
    assert_eq!(
        k::cross_entropy_soft(&[0.0, f32::NEG_INFINITY], &[1.0, 0.0], &mut g).unwrap(),
        0.0
    );
    assert_eq!(
        k::cross_entropy_soft(&[0.0, f32::NEG_INFINITY], &[0.5, 0.5], &mut g).unwrap(),
        f32::INFINITY
    );
    assert!(matches!(
        k::cross_entropy_soft(&[0.0, 0.0], &[-0.5, 1.5], &mut g),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        k::cross_entropy_soft(&[0.0, 0.0], &[f32::NAN, 1.0], &mut g),
        Err(Error::NonFinite { index: 0, .. })
    ));
}

#[test]
fn cross_entropy_of_distributions() {
    let p = [0.7_f32, 0.2, 0.1, 0.0];
    let q = [0.1_f32, 0.3, 0.5, 0.1];
    let h = |a: &[f32], b: &[f32]| -> f64 {
        a.iter()
            .zip(b)
            .filter(|(a, _)| **a > 0.0)
            .map(|(&a, &b)| -(a as f64) * (b as f64).ln())
            .sum()
    };
    let pq = k::cross_entropy_probs(&p, &q).unwrap();
    let qp = k::cross_entropy_probs(&q, &p).unwrap();
    assert!((pq as f64 - h(&p, &q)).abs() < 1e-6);
    assert_eq!(qp, f32::INFINITY, "q puts mass where p has none");
    let r = [0.25_f32; 4];
    assert!(
        (k::cross_entropy_probs(&p, &r).unwrap() - k::cross_entropy_probs(&r, &p).unwrap()).abs()
            > 0.1
            || k::cross_entropy_probs(&r, &p).unwrap().is_infinite()
    );
    let a = [0.6_f32, 0.4];
    let b = [0.3_f32, 0.7];
    assert_ne!(
        k::cross_entropy_probs(&a, &b).unwrap(),
        k::cross_entropy_probs(&b, &a).unwrap(),
        "H(P,Q) != H(Q,P)"
    );
    // H(P,P) is the entropy, the minimum over Q (Gibbs' inequality)
    let hpp = k::cross_entropy_probs(&a, &a).unwrap();
    assert!(hpp < k::cross_entropy_probs(&a, &b).unwrap());
    assert!(k::cross_entropy_probs(&a, &b[..1]).is_err());
    assert!(k::cross_entropy_probs(&[f32::INFINITY], &[1.0]).is_err());
}

#[test]
fn logistic_loss_is_stable_and_its_gradient_right() {
    let f = |x: f64, pos: bool| {
        let s = if pos { 1.0 } else { -1.0 };
        (-s * x).exp().ln_1p()
    };
    for &x in &[-50.0_f32, -10.0, -1.0, -0.1, 0.0, 0.3, 2.0, 15.0, 80.0] {
        for pos in [true, false] {
            let (l, g) = k::logistic_loss(x, pos).unwrap();
            let want = f(x as f64, pos);
            assert!(
                (l as f64 - want).abs() <= 2e-7 * want.max(1e-30) + 1e-37,
                "loss({x}, {pos}) = {l}, want {want}"
            );
            let h = 1e-4;
            let num = (f(x as f64 + h, pos) - f(x as f64 - h, pos)) / (2.0 * h);
            assert!(
                (g as f64 - num).abs() <= 1e-6 * (1.0 + num.abs()),
                "grad({x}, {pos}) = {g}, want {num}"
            );
        }
    }
    // no overflow at the extremes
    assert_eq!(k::logistic_loss(f32::MAX, true).unwrap(), (0.0, -0.0));
    assert_eq!(k::logistic_loss(-f32::MAX, true).unwrap(), (f32::MAX, -1.0));
    assert_eq!(k::logistic_loss(f32::NEG_INFINITY, false).unwrap().0, 0.0);
    assert!(k::logistic_loss(f32::NAN, true).is_err());
}

#[test]
fn loss_without_gradient_agrees_with_the_fused_kernel_on_masks() {
    let mut g = [0.0; 2];
    for z in [[f32::NEG_INFINITY, 0.0], [f32::NEG_INFINITY; 2]] {
        let fused = k::cross_entropy(&z, 0, &mut g).unwrap();
        assert_eq!(k::cross_entropy_loss(&z, 0).unwrap(), fused);
        assert_eq!(fused, f32::INFINITY);
    }
}

/// The batched loss without a gradient: each row's loss is `cross_entropy_loss`'s, added
/// times `1/n` in row order (bit for bit, on the block path and the row path alike),
/// close to the fused kernel's; errors name the same flat index.
#[test]
fn batch_loss_without_gradient() {
    let mut rng = Rng::new(31);
    for cols in [1, 3, 8, 15, 16, 17, 31, 32, 33, 64, 65, 100] {
        for rows in [1, 2, 7, 8, 9, 16, 17, 37] {
            let mut z: Vec<f32> = (0..rows * cols).map(|_| rng.normal() * 3.0).collect();
            let ignore = cols;
            let targets = padded_targets(&mut rng, rows, cols, 4);
            // Masked classes other than the target.
            for (r, &t) in targets.iter().enumerate() {
                let c = rng.below(cols);
                if c != usize::from(t) {
                    z[r * cols + c] = f32::NEG_INFINITY;
                }
            }
            let zm = MatRef::new(&z, rows, cols).unwrap();
            let loss = k::cross_entropy_batch_loss(zm, &targets, Some(ignore)).unwrap();
            let counted: Vec<usize> = (0..rows)
                .filter(|&r| targets[r] as usize != ignore)
                .collect();
            let scale = 1.0 / counted.len().max(1) as f32;
            let mut want = 0.0_f32;
            for &r in &counted {
                let row = &z[r * cols..(r + 1) * cols];
                want += k::cross_entropy_loss(row, usize::from(targets[r])).unwrap() * scale;
            }
            assert_eq!(loss.to_bits(), want.to_bits(), "{rows} × {cols}");
            let mut g = vec![0.0; rows * cols];
            let fused = k::cross_entropy_batch(
                zm,
                &targets,
                Some(ignore),
                MatMut::new(&mut g, rows, cols).unwrap(),
            )
            .unwrap();
            assert!((loss - fused).abs() <= 8.0 * f32::EPSILON * (1.0 + fused.abs()));
            // A NaN anywhere: the same flat index as the fused kernel reports.
            let at = rng.below(rows * cols);
            let mut bad = z.clone();
            bad[at] = f32::NAN;
            let bm = MatRef::new(&bad, rows, cols).unwrap();
            let e = k::cross_entropy_batch_loss(bm, &targets, Some(ignore));
            let ef = k::cross_entropy_batch(
                bm,
                &targets,
                Some(ignore),
                MatMut::new(&mut g, rows, cols).unwrap(),
            );
            let index = |e: Result<f32, Error>| match e {
                Err(Error::NonFinite { index, .. }) => Some(index),
                _ => None,
            };
            if targets[at / cols] as usize == ignore {
                // An ignored row is not read by either.
                assert!(e.is_ok() && ef.is_ok(), "{rows} × {cols}, NaN at {at}");
            } else {
                assert_eq!(index(e), Some(at), "{rows} × {cols}, NaN at {at}");
                assert_eq!(index(ef), Some(at));
            }
        }
    }
    let z = [0.0_f32, f32::NEG_INFINITY, f32::MAX, -f32::MAX];
    let zm = MatRef::new(&z, 2, 2).unwrap();
    // A masked target: infinite loss, as the fused kernel gives.
    assert_eq!(
        k::cross_entropy_batch_loss(zm.rows_range(0, 1).unwrap(), &[1_u8], None),
        Ok(f32::INFINITY)
    );
    // A loss beyond f32's range, an out-of-range target, a target per row.
    assert!(matches!(
        k::cross_entropy_batch_loss(zm.rows_range(1, 1).unwrap(), &[1_u8], None),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(
        k::cross_entropy_batch_loss(zm, &[0_u8, 2], None),
        Err(Error::IndexOutOfRange {
            what: "cross_entropy_batch_loss target",
            index: 2,
            len: 2
        })
    );
    assert!(k::cross_entropy_batch_loss(zm, &[0_u8], None).is_err());
    assert_eq!(
        k::cross_entropy_batch_loss(zm, &[5_u8, 5], Some(5)),
        Ok(0.0)
    );
}

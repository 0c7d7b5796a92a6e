//! Optimiser kernels against `f64` references of their update rules.
mod common;
use common::{Rng, assert_close};
use edgegrad::{Error, kernels as k, kernels::Adam};

#[test]
fn sgd_and_momentum_follow_their_rules() {
    let mut rng = Rng::new(40);
    for n in [1, 7, 8, 9, 33, 67] {
        let p0 = rng.vec(n, -1.0, 1.0);
        let g = rng.vec(n, -1.0, 1.0);
        let mut p = p0.clone();
        k::sgd(&mut p, &g, 0.1).unwrap();
        let want: Vec<f64> = p0
            .iter()
            .zip(&g)
            .map(|(p, g)| *p as f64 - 0.1 * *g as f64)
            .collect();
        assert_close(&p, &want, 1e-7, 1e-7, "sgd");
        let (mut p, mut v) = (p0.clone(), vec![0.0; n]);
        let (mut pr, mut vr): (Vec<f64>, Vec<f64>) = (common::to64(&p0), vec![0.0; n]);
        for _ in 0..5 {
            k::sgd_momentum(&mut p, &g, &mut v, 0.05, 0.9).unwrap();
            for i in 0..n {
                vr[i] = 0.9 * vr[i] + g[i] as f64;
                pr[i] -= 0.05 * vr[i];
            }
        }
        assert_close(&p, &pr, 1e-6, 1e-6, "momentum params");
        assert_close(&v, &vr, 1e-6, 1e-6, "momentum velocity");
    }
    let mut p = [0.0; 2];
    assert!(k::sgd(&mut p, &[0.0; 3], 0.1).is_err());
    assert!(matches!(
        k::sgd_momentum(&mut p, &[0.0; 2], &mut [0.0; 2], 0.1, 1.0),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn adam_matches_f64_reference_with_bias_correction() {
    let mut rng = Rng::new(41);
    for (n, wd) in [(1, 0.0), (9, 0.0), (67, 0.01)] {
        let opt = Adam {
            lr: 0.01,
            weight_decay: wd,
            ..Adam::default()
        };
        let mut p = rng.vec(n, -1.0, 1.0);
        let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
        let mut pr = common::to64(&p);
        let (mut mr, mut vr) = (vec![0.0_f64; n], vec![0.0_f64; n]);
        for t in 1..=20 {
            let g = rng.vec(n, -2.0, 2.0);
            opt.step(t, &mut p, &g, &mut m, &mut v).unwrap();
            // the hyper-parameters as the f32 values the kernel is given
            let (b1, b2) = (0.9_f32 as f64, 0.999_f32 as f64);
            for i in 0..n {
                let gi = g[i] as f64;
                pr[i] *= 1.0 - 0.01 * wd as f64;
                mr[i] = b1 * mr[i] + (1.0 - b1) * gi;
                vr[i] = b2 * vr[i] + (1.0 - b2) * gi * gi;
                let mh = mr[i] / (1.0 - b1.powi(t as i32));
                let vh = vr[i] / (1.0 - b2.powi(t as i32));
                pr[i] -= 0.01 * mh / (vh.sqrt() + 1e-8);
            }
        }
        assert_close(&p, &pr, 1e-5, 1e-5, "adam params");
        assert_close(&m, &mr, 1e-5, 1e-6, "adam m");
        assert_close(&v, &vr, 1e-5, 1e-7, "adam v");
    }
}

#[test]
fn adam_rejects_bad_parameters_and_shapes() {
    let (mut p, mut m, mut v) = ([0.0_f32; 2], [0.0_f32; 2], [0.0_f32; 2]);
    let g = [1.0_f32; 2];
    assert!(Adam::default().step(0, &mut p, &g, &mut m, &mut v).is_err());
    assert!(
        Adam {
            beta1: 1.0,
            ..Adam::default()
        }
        .step(1, &mut p, &g, &mut m, &mut v)
        .is_err()
    );
    assert!(
        Adam {
            beta2: -0.1,
            ..Adam::default()
        }
        .step(1, &mut p, &g, &mut m, &mut v)
        .is_err()
    );
    assert!(
        Adam {
            eps: 0.0,
            ..Adam::default()
        }
        .step(1, &mut p, &g, &mut m, &mut v)
        .is_err()
    );
    assert!(
        Adam {
            lr: f32::NAN,
            ..Adam::default()
        }
        .step(1, &mut p, &g, &mut m, &mut v)
        .is_err()
    );
    assert!(
        Adam::default()
            .step(1, &mut p, &g[..1], &mut m, &mut v)
            .is_err()
    );
    assert!(
        Adam::default()
            .step(1, &mut p, &g, &mut m[..1], &mut v)
            .is_err()
    );
    assert_eq!(p, [0.0; 2]);
}

#[test]
fn clipping_bounds_the_global_norm() {
    let mut rng = Rng::new(42);
    for _ in 0..50 {
        let (na, nb) = (1 + rng.below(40), 1 + rng.below(40));
        let mut a = rng.vec(na, -3.0, 3.0);
        let mut b = rng.vec(nb, -3.0, 3.0);
        let (a0, b0) = (a.clone(), b.clone());
        let before = k::global_norm(&[&a, &b]);
        let max = rng.uniform(0.1, 10.0);
        let n = k::clip_grad_norm(&mut [&mut a, &mut b], max).unwrap();
        assert!((n - before).abs() <= 1e-6 * before);
        let after = k::global_norm(&[&a, &b]);
        if before > max {
            assert!(after <= max * (1.0 + 1e-6), "{after} > {max}");
            assert!((after - max).abs() <= 1e-4 * max);
            // direction is kept
            let s = a[0] / a0[0];
            assert!(
                a.iter()
                    .zip(&a0)
                    .chain(b.iter().zip(&b0))
                    .all(|(x, y)| (x - s * y).abs() <= 1e-6 * y.abs().max(1.0))
            );
        } else {
            assert_eq!((a, b), (a0, b0));
        }
    }
    // many slices (more than one internal batch), huge values
    let mut bufs: Vec<Vec<f32>> = (0..40).map(|_| vec![1e20_f32; 3]).collect();
    let mut views: Vec<&mut [f32]> = bufs.iter_mut().map(|v| &mut v[..]).collect();
    let n = k::clip_grad_norm(&mut views, 1.0).unwrap();
    assert!((n as f64 - 1e20 * 120f64.sqrt()).abs() < 1e14);
    assert!((k::global_norm(&bufs.iter().map(|v| &v[..]).collect::<Vec<_>>()) - 1.0).abs() < 1e-5);
}

#[test]
fn clipping_refuses_non_finite_gradients_untouched() {
    let mut a = [1.0_f32, 2.0];
    let mut b = [f32::NAN];
    assert_eq!(
        k::clip_grad_norm(&mut [&mut a, &mut b], 1.0),
        Err(Error::NonFinite {
            what: "clip_grad_norm gradient slice",
            index: 1
        })
    );
    assert_eq!(a, [1.0, 2.0]);
    assert!(k::clip_grad_norm(&mut [&mut a], -1.0).is_err());
}

/// Accumulating the gradients of k examples and stepping with lr/k equals one step on
/// the mean gradient.
#[test]
fn accumulate_then_step_equals_mean_step() {
    let mut rng = Rng::new(43);
    let n = 37;
    let p0 = rng.vec(n, -1.0, 1.0);
    let grads: Vec<Vec<f32>> = (0..4).map(|_| rng.vec(n, -1.0, 1.0)).collect();
    let mut acc = rng.vec(n, -1.0, 1.0);
    k::zero_grads(&mut [&mut acc]);
    for g in &grads {
        k::accumulate(&mut acc, g).unwrap();
    }
    let mut p = p0.clone();
    k::sgd(&mut p, &acc, 0.1 / 4.0).unwrap();
    let mean: Vec<f64> = (0..n)
        .map(|i| grads.iter().map(|g| g[i] as f64).sum::<f64>() / 4.0)
        .collect();
    let want: Vec<f64> = (0..n).map(|i| p0[i] as f64 - 0.1 * mean[i]).collect();
    assert_close(&p, &want, 1e-6, 1e-7, "accumulated step");
}

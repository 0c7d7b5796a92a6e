//! One test per class of defect the crate's three promises rule out — no panic, no
//! `Ok` holding a NaN the caller did not pass in, nothing changed by a call that fails —
//! each on the inputs that used to break it.
#![cfg(all(feature = "attention", feature = "safetensors"))]
mod common;
use common::{all_finite, bits};
use edgegrad::Error;
use edgegrad::kernels::{self as k, Adam};
use edgegrad::params::{Init, Params};
use edgegrad::train::{self, OptState, Optimizer, TrainConfig};

edgegrad::params! {
    /// Two tensors, so a step can fail on the second after the first was fine.
    pub struct Two<> {
        /// First.
        a: [f32; 5] = "a", Init::Zeros;
        /// Second.
        b: [f32; 3] = "b", Init::Zeros;
    }
}

fn snapshot<P: Params>(p: &P) -> Vec<u32> {
    (0..P::TENSORS).flat_map(|i| bits(p.tensor(i))).collect()
}

#[test]
fn learning_rates_outside_their_range_are_refused() {
    for lr in [f32::NAN, f32::INFINITY, -0.1, f32::NEG_INFINITY] {
        let (mut w, mut v) = ([1.0_f32; 3], [0.5_f32; 3]);
        assert!(matches!(
            k::sgd(&mut w, &[1.0; 3], lr),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            k::sgd_momentum(&mut w, &[1.0; 3], &mut v, lr, 0.9),
            Err(Error::InvalidParameter { .. })
        ));
        assert_eq!((w, v), ([1.0; 3], [0.5; 3]));
        for opt in [
            Optimizer::Sgd { lr },
            Optimizer::Momentum { lr, momentum: 0.5 },
            Optimizer::Adam(Adam::with_lr(lr)),
        ] {
            assert!(opt.validate().is_err(), "{opt:?}");
        }
    }
}

#[test]
fn adam_ranges_refuse_what_would_write_nan_or_jump() {
    let bad = [
        Adam {
            lr: f32::MAX,
            ..Adam::default()
        },
        Adam {
            lr: 0.1,
            weight_decay: 1e30,
            ..Adam::default()
        },
        Adam {
            eps: 1e-40,
            ..Adam::default()
        },
        Adam {
            eps: 0.0,
            ..Adam::default()
        },
    ];
    for adam in bad {
        let (mut w, mut m, mut v) = ([1.0_f32; 4], [0.0; 4], [0.0; 4]);
        let r = adam.step(1, &mut w, &[1e-30, 1.0, -1.0, 0.0], &mut m, &mut v);
        assert!(r.is_err(), "{adam:?}");
        assert_eq!((w, m, v), ([1.0; 4], [0.0; 4], [0.0; 4]), "{adam:?}");
    }
    // At the smallest accepted eps, a gradient whose square underflows moves the
    // parameter by less than lr.
    let adam = Adam {
        eps: Adam::MIN_EPS,
        ..Adam::with_lr(0.1)
    };
    let (mut w, mut m, mut v) = ([1.0_f32], [0.0], [0.0]);
    adam.step(1, &mut w, &[1e-25], &mut m, &mut v).unwrap();
    assert!((w[0] - 1.0).abs() < 0.1, "{}", w[0]);
}

#[test]
fn an_update_that_would_store_a_non_finite_value_changes_nothing() {
    // A gradient whose square overflows Adam's v, without clipping; a NaN in the state;
    // an SGD step that overflows.
    let (mut w, mut m, mut v) = ([1.0_f32, 2.0], [0.0, 0.0], [0.0, 0.0]);
    let r = Adam::default().step(1, &mut w, &[0.5, 1e25], &mut m, &mut v);
    assert!(matches!(r, Err(Error::NonFinite { index: 1, .. })), "{r:?}");
    assert_eq!((w, m, v), ([1.0, 2.0], [0.0; 2], [0.0; 2]));
    let (mut m, mut v) = ([0.0, f32::NAN], [0.0_f32; 2]);
    assert!(
        Adam::default()
            .step(1, &mut w, &[0.5, 0.5], &mut m, &mut v)
            .is_err()
    );
    assert_eq!(
        (bits(&w), bits(&m), bits(&v)),
        (bits(&[1.0, 2.0]), bits(&[0.0, f32::NAN]), bits(&[0.0; 2]))
    );
    let mut big = [3e38_f32, 1.0];
    assert!(matches!(
        k::sgd(&mut big, &[-1e38, 0.0], 10.0),
        Err(Error::NonFinite { index: 0, .. })
    ));
    assert_eq!(big, [3e38, 1.0]);
    let mut vel = [f32::INFINITY, 0.0];
    assert!(k::sgd_momentum(&mut big, &[0.0; 2], &mut vel, 0.1, 0.5).is_err());
    assert_eq!((big, vel), ([3e38, 1.0], [f32::INFINITY, 0.0]));
}

#[test]
fn a_model_step_failing_on_its_last_tensor_changes_no_tensor() {
    for (optimizer, clip) in [
        (Optimizer::Sgd { lr: 1e30 }, None),
        (
            Optimizer::Momentum {
                lr: 1e30,
                momentum: 0.5,
            },
            Some(1e10),
        ),
        (Optimizer::Adam(Adam::with_lr(0.1)), None),
    ] {
        let (mut p, mut g) = (Two::ZERO, Two::ZERO);
        p.a = [1.0, -2.0, 3.0, 0.5, 0.25];
        p.b = [3e38, 1.0, 2.0];
        g.a = [0.1; 5];
        g.b = [-1e10, 0.5, 1e25];
        let mut state: OptState<Two> = OptState::ZERO;
        state.m.a = [0.5; 5];
        let before = (
            snapshot(&p),
            snapshot(&g),
            snapshot(&state.m),
            snapshot(&state.v),
            state.t,
        );
        let cfg = TrainConfig {
            optimizer,
            max_grad_norm: clip,
        };
        let r = train::apply_gradients(&mut p, &mut g, &mut state, &cfg);
        assert!(
            matches!(r, Err(Error::NonFinite { index: 1, .. })),
            "{optimizer:?}: {r:?}"
        );
        let after = (
            snapshot(&p),
            snapshot(&g),
            snapshot(&state.m),
            snapshot(&state.v),
            state.t,
        );
        assert_eq!(before, after, "{optimizer:?}");
    }
}

#[test]
fn clipping_inside_a_step_equals_clipping_before_it() {
    let adam = Optimizer::Adam(Adam::with_lr(0.01));
    let (mut p1, mut g1) = (Two::ZERO, Two::ZERO);
    g1.a = [3.0, -4.0, 1.0, 2.0, 0.5];
    g1.b = [10.0, 0.0, -7.0];
    let (mut p2, mut g2) = (Two::ZERO, Two::ZERO);
    (g2.a, g2.b) = (g1.a, g1.b);
    let (mut s1, mut s2) = (OptState::ZERO, OptState::ZERO);
    let n1 = train::apply_gradients(
        &mut p1,
        &mut g1,
        &mut s1,
        &TrainConfig {
            optimizer: adam,
            max_grad_norm: Some(1.0),
        },
    )
    .unwrap();
    let n2 = train::clip_grad_norm(&mut g2, 1.0).unwrap();
    train::apply_gradients(
        &mut p2,
        &mut g2,
        &mut s2,
        &TrainConfig {
            optimizer: adam,
            max_grad_norm: None,
        },
    )
    .unwrap();
    assert_eq!(n1, n2);
    assert_eq!(
        (snapshot(&p1), snapshot(&g1)),
        (snapshot(&p2), snapshot(&g2))
    );
    assert!(all_finite(&p1.a) && all_finite(&p1.b));
}

#[test]
fn cross_entropies_of_finite_inputs_whose_sums_overflow() {
    // Target sums that overflow, and logits far apart: an error that writes nothing,
    // or an exact finite result.
    let mut g = [7.0_f32; 3];
    let r = k::cross_entropy_soft(&[0.0, 1.0, 2.0], &[3e38, 3e38, 1.0], &mut g);
    assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
    assert_eq!(g, [7.0; 3]);
    let r = k::cross_entropy_soft(&[3e38, -3e38, 0.0], &[0.0, 1.0, 0.0], &mut g);
    assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
    assert_eq!(g, [7.0; 3]);
    // m − z overflows, the product does not: 1e-10 · 6e38.
    let l = k::cross_entropy_soft(&[3e38, -3e38], &[0.0, 1e-10], &mut g[..2]).unwrap();
    assert!((l / 6e28 - 1.0).abs() < 1e-5, "{l}");
    assert!(all_finite(&g));
    // A target on a masked class: an infinite loss, a finite gradient.
    let l = k::cross_entropy_soft(&[0.0, f32::NEG_INFINITY], &[0.5, 0.5], &mut g[..2]).unwrap();
    assert_eq!(l, f32::INFINITY);
    assert!(all_finite(&g));
    // H(P, Q): terms of opposite signs that overflow f32 on their own.
    let h = k::cross_entropy_probs(&[3e38, 3e38], &[1e30, 1e-30]).unwrap();
    assert!(h.abs() < 1e33, "{h}");
    let h = k::cross_entropy_probs(&[1e37, 1e37], &[1e30, 1e-30]).unwrap();
    assert!(h.abs() < 1e33, "{h}");
    assert!(matches!(
        k::cross_entropy_probs(&[3e38, 0.0], &[1e-30, 1.0]),
        Err(Error::NonFinite { .. })
    ));
}

type Lm = edgegrad::attention::AttentionLm<8, 6, 8, 4>;

fn lm() -> Box<Lm> {
    use rand_core::SeedableRng;
    let mut m = Box::new(Lm::ZERO);
    m.init(&mut rand_pcg::Pcg32::seed_from_u64(3));
    m
}

#[test]
fn weights_files_with_nan_or_infinity_are_refused_everywhere() {
    use edgegrad::{FormatProblem, safetensors::Aligned};
    let model = lm();
    let mut file = Box::new(Aligned([0_u8; Lm::SAFETENSORS_BYTES]));
    model.to_safetensors(&mut file.0).unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut corrupt = Box::new(Aligned(file.0));
        // The last value of the last tensor (a corrupted page of flash).
        let n = corrupt.0.len();
        corrupt.0[n - 4..].copy_from_slice(&bad.to_le_bytes());
        let mut into = lm();
        into.b_out.as_mut_slice()[0] = 42.0;
        let before = snapshot(&*into);
        let err = into.load_safetensors(&corrupt.0).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Safetensors {
                    problem: FormatProblem::NonFinite { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(before, snapshot(&*into));
        let err = edgegrad::attention::AttentionWeights::<8, 6, 8, 4>::from_safetensors(&corrupt.0)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Safetensors {
                    problem: FormatProblem::NonFinite { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        // And the writer does not produce such a file.
        let mut holding = lm();
        holding.b_out.as_mut_slice()[2] = bad;
        let mut out = Box::new(Aligned([7_u8; Lm::SAFETENSORS_BYTES]));
        let err = holding.to_safetensors(&mut out.0).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Safetensors {
                    problem: FormatProblem::NonFinite { index: 2 },
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(out.0.iter().all(|&b| b == 7));
    }
}

#[test]
fn huge_finite_weights_give_an_error_not_nan_logits() {
    use edgegrad::attention::{AttentionActivations, Decoder};
    let mut model = lm();
    for w in model.w_v.as_mut_slice() {
        *w = 1e38;
    }
    let mut acts = Box::new(AttentionActivations::ZERO);
    assert!(matches!(
        model.forward_logits(&[1, 2, 3], &mut acts),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(acts.len(), 0);
    let mut dec = Box::new(Decoder::ZERO);
    assert!(matches!(
        dec.prefill(&*model, &[1, 2, 3]),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn a_decoder_without_logits_refuses_to_sample() {
    use edgegrad::attention::{Decoder, Sampling};
    use rand_core::SeedableRng;
    let model = lm();
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let mut dec = Box::new(Decoder::<8, 6, 8, 4>::ZERO);
    for sampling in [Sampling::Greedy, Sampling::Temperature(1.0)] {
        assert!(matches!(
            dec.sample(sampling, &mut rng),
            Err(Error::NoLogits { .. })
        ));
    }
    dec.prefill(&*model, &[1, 2]).unwrap();
    assert!(dec.sample(Sampling::Greedy, &mut rng).is_ok());
    dec.truncate(1);
    assert!(matches!(
        dec.sample(Sampling::Greedy, &mut rng),
        Err(Error::NoLogits { .. })
    ));
    dec.step(&*model, 3).unwrap();
    assert!(dec.sample(Sampling::Greedy, &mut rng).is_ok());
    dec.reset();
    assert!(dec.logits().is_none());
}

#[test]
fn greedy_and_temperature_sampling_agree_on_a_fully_masked_row() {
    use edgegrad::sample::{Sampling, sample};
    use rand_core::SeedableRng;
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let masked = [f32::NEG_INFINITY; 5];
    let mut probs = [0.0; 5];
    for s in [
        Sampling::Greedy,
        Sampling::Temperature(0.7),
        Sampling::TopK {
            k: 2,
            temperature: 1.0,
        },
    ] {
        let r = sample(&masked, s, &mut probs, &mut rng);
        assert!(
            matches!(
                r,
                Err(Error::InvalidParameter {
                    what: "sampling logits",
                    ..
                })
            ),
            "{s:?}: {r:?}"
        );
    }
}

#[test]
fn sums_and_dot_products_of_finite_values_are_never_nan() {
    let m = f32::MAX;
    // Lanes that overflow in opposite directions: the true results are 0 and 2·MAX.
    let x = [m, m, m, m, m, m, m, m, -m, -m, -m, -m, -m, -m, -m, -m];
    assert_eq!(k::sum(&x), 0.0);
    let ones = [1.0_f32; 16];
    assert_eq!(k::dot(&x, &ones).unwrap(), 0.0);
    let y: Vec<f32> = x.iter().map(|v| v.abs()).collect();
    // ±MAX² cancel exactly, but the rounding error of each product (~2⁹⁶·MAX) is beyond
    // f32's range: not NaN, and ±inf is within the error bound.
    assert!(!k::dot(&x, &y).unwrap().is_nan());
    // Products of ±2·MAX, exact (powers of two): they overflow, the result is 0.
    let small: Vec<f32> = x.iter().map(|v| v / 1_048_576.0).collect();
    assert_eq!(k::dot(&small, &[2_097_152.0; 16]).unwrap(), 0.0);
    let mut z = x;
    z[15] = m;
    z[14] = m;
    assert_eq!(k::sum(&z), f32::INFINITY);
    assert_eq!(k::dot(&z, &y).unwrap(), f32::INFINITY);
    // A NaN input still gives NaN (the caller's).
    z[3] = f32::NAN;
    assert!(k::sum(&z).is_nan());
}

#[test]
fn a_cross_entropy_that_would_overflow_is_an_error_that_writes_nothing() {
    let z = [3e38_f32, -3e38, 0.0];
    let mut g = [7.0_f32; 3];
    assert!(matches!(
        k::cross_entropy(&z, 1, &mut g),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(g, [7.0; 3]);
    assert!(matches!(
        k::cross_entropy_loss(&z, 1),
        Err(Error::NonFinite { .. })
    ));
    // The target at the maximum: a finite loss.
    assert_eq!(k::cross_entropy(&z, 0, &mut g).unwrap(), 0.0);
    // A masked target is the caller's: an infinite loss.
    let masked = [0.0, f32::NEG_INFINITY];
    assert_eq!(
        k::cross_entropy(&masked, 1, &mut g[..2]).unwrap(),
        f32::INFINITY
    );
}

#[test]
fn the_public_traversals_never_panic_on_slices_of_different_lengths() {
    use edgegrad::simd;
    let (mut a, b) = ([1.0_f32; 5], [2.0_f32; 3]);
    simd::update([&mut a[..]], [&b[..]], |[x], [y]| [x + y]);
    assert_eq!(a, [3.0, 3.0, 3.0, 1.0, 1.0]);
    let s = simd::hsum(simd::reduce(
        [&a[..], &b[..]],
        [0.0; 2],
        simd::splat(0.0),
        |acc, [x, y]| acc + x * y,
        |p, q| p + q,
    ));
    assert_eq!(s, 18.0);
    let s = simd::hsum(simd::fold(
        [&b[..], &a[..]],
        [0.0; 2],
        simd::splat(0.0),
        |acc, [x, y]| acc + x * y,
    ));
    assert_eq!(s, 18.0);
    let mut io = [1.0_f32; 2];
    let _ = simd::update_reduce(&mut io, [&b[..1]], 0.0, |x, [y]| x + y, |p, q| p + q);
    assert_eq!(io, [3.0, 1.0]);
}

#[test]
fn row_wise_errors_name_the_flat_position() {
    use edgegrad::{MatMut, MatRef};
    let (x, dy) = ([1.0_f32, 2.0], [1.0_f32, 3e38]);
    let (mut dx, mut dg, mut db) = ([0.0_f32; 2], [0.0_f32], [0.0_f32]);
    let r = k::layer_norm_backward_rows(
        MatRef::new(&x, 2, 1).unwrap(),
        &[[0.0, 1.0], [0.0, 1.0]],
        &[3e38],
        MatRef::new(&dy, 2, 1).unwrap(),
        MatMut::new(&mut dx, 2, 1).unwrap(),
        &mut dg,
        &mut db,
        k::Accum::Overwrite,
    );
    assert!(matches!(r, Err(Error::NonFinite { index: 1, .. })), "{r:?}");
}

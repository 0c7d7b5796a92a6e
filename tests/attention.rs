//! The attention language model: forward against an `f64` reference, gradients by
//! finite differences, causality, KV-cache decoding, training, accumulation, errors.
#![cfg(feature = "attention")]
mod common;
use common::{Rng, attention_ref};
use edgegrad::Error;
use edgegrad::attention::{
    AttentionCache, AttentionLm, AttentionOptState, Decoder, Optimizer, Sampling, TrainConfig,
};
use edgegrad::kernels::Adam;
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

const V: usize = 11;
const T: usize = 9;
const D: usize = 12;
const DK: usize = 5;
type Lm = AttentionLm<V, T, D, DK>;
type Cache = AttentionCache<V, T, D, DK>;

fn model(seed: u64) -> Box<Lm> {
    let mut m = Box::new(Lm::ZERO);
    m.init(&mut Pcg32::seed_from_u64(seed));
    // a non-zero bias so its gradient is exercised too
    for (i, b) in m.b_out.as_mut_slice().iter_mut().enumerate() {
        *b = 0.1 * (i as f32 - 5.0);
    }
    m
}

fn params64(m: &Lm) -> [Vec<f64>; 8] {
    m.tensors().map(common::to64)
}

fn tokens(rng: &mut Rng, n: usize) -> Vec<u16> {
    (0..n).map(|_| rng.below(V) as u16).collect()
}

#[test]
fn forward_matches_f64_reference() {
    let m = model(1);
    let mut rng = Rng::new(60);
    let mut cache = Box::new(Cache::ZERO);
    for l in 2..=T {
        let x = tokens(&mut rng, l);
        let loss = m.forward(&x, &mut cache).unwrap();
        let (logits, want) = attention_ref((V, T, D, DK), &params64(&m), &x);
        assert!(
            (loss as f64 - want).abs() <= 1e-5 * (1.0 + want),
            "loss {loss} vs {want}"
        );
        for i in 0..l {
            common::assert_close(
                cache.logits(i).unwrap(),
                &logits[i * V..(i + 1) * V],
                1e-4,
                1e-5,
                "logits",
            );
        }
        let att = cache.attention(l - 1).unwrap();
        assert_eq!(att.len(), l);
        assert!((att.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

/// Central differences of the `f64` reference loss against the analytic gradient, on
/// a sample of entries of every tensor.
#[test]
fn gradients_match_finite_differences_for_every_tensor() {
    let m = model(2);
    let mut rng = Rng::new(61);
    let x = tokens(&mut rng, 7);
    let mut cache = Box::new(Cache::ZERO);
    let mut grads = Box::new(Lm::ZERO);
    m.forward(&x, &mut cache).unwrap();
    m.backward(&mut cache, &mut grads).unwrap();
    let base = params64(&m);
    let h = 1e-4;
    for (ti, name) in Lm::TENSOR_NAMES.iter().enumerate() {
        let g = grads.tensors()[ti];
        let len = g.len();
        // every entry of small tensors, a sample of the others; always the used rows
        let picks: Vec<usize> = if len <= 64 {
            (0..len).collect()
        } else {
            (0..40).map(|_| rng.below(len)).collect()
        };
        let mut checked_nonzero = 0;
        for idx in picks {
            let mut p = base.clone();
            p[ti][idx] += h;
            let (_, lp) = attention_ref((V, T, D, DK), &p, &x);
            p[ti][idx] -= 2.0 * h;
            let (_, lm) = attention_ref((V, T, D, DK), &p, &x);
            let num = (lp - lm) / (2.0 * h);
            let got = g[idx] as f64;
            assert!(
                (got - num).abs() <= 2e-3 * num.abs().max(0.05),
                "{name}[{idx}]: analytic {got}, numeric {num}"
            );
            if num.abs() > 1e-6 {
                checked_nonzero += 1;
            }
        }
        assert!(checked_nonzero > 0, "{name}: no non-zero gradient sampled");
    }
}

#[test]
fn changing_a_future_token_never_changes_earlier_logits() {
    let m = model(3);
    let mut rng = Rng::new(62);
    let (mut c1, mut c2) = (Box::new(Cache::ZERO), Box::new(Cache::ZERO));
    for _ in 0..20 {
        let x = tokens(&mut rng, T);
        let j = 1 + rng.below(T - 1);
        let mut y = x.clone();
        y[j] = ((y[j] as usize + 1 + rng.below(V - 1)) % V) as u16;
        m.forward_logits(&x, &mut c1).unwrap();
        m.forward_logits(&y, &mut c2).unwrap();
        for i in 0..j {
            assert_eq!(c1.logits(i), c2.logits(i), "position {i} saw token {j}");
        }
        assert_ne!(c1.logits(j), c2.logits(j));
    }
}

#[test]
fn kv_cache_decoding_equals_full_forward_for_every_prefix() {
    let m = model(4);
    let mut rng = Rng::new(63);
    let x = tokens(&mut rng, T);
    let mut cache = Box::new(Cache::ZERO);
    let mut dec = Box::new(Decoder::ZERO);
    m.forward_logits(&x, &mut cache).unwrap();
    for (i, &t) in x.iter().enumerate() {
        let step = *dec.step(m.weights(), t).unwrap();
        common::assert_close(
            &step,
            &common::to64(cache.logits(i).unwrap()),
            1e-5,
            1e-5,
            "decoded logits",
        );
        // a fresh prefill of the prefix agrees as well
        let mut fresh = Box::new(Decoder::ZERO);
        let pre = *fresh.prefill(m.weights(), &x[..=i]).unwrap();
        assert_eq!(pre, step);
    }
    assert_eq!(dec.len(), T);
    assert!(matches!(
        dec.step(m.weights(), 0),
        Err(Error::InvalidLength { .. })
    ));
}

#[test]
fn input_errors_are_reported() {
    let m = model(5);
    let mut cache = Box::new(Cache::ZERO);
    let mut grads = Box::new(Lm::ZERO);
    assert_eq!(
        m.forward(&[], &mut cache),
        Err(Error::InvalidLength {
            what: "token sequence",
            found: 0,
            min: 2,
            max: T
        })
    );
    assert!(matches!(
        m.forward(&[3], &mut cache),
        Err(Error::InvalidLength { found: 1, .. })
    ));
    assert!(matches!(
        m.forward(&[1; T + 1], &mut cache),
        Err(Error::InvalidLength { found: 10, .. })
    ));
    assert_eq!(
        m.forward(&[1, V as u16], &mut cache),
        Err(Error::IndexOutOfRange {
            what: "token id",
            index: V,
            len: V
        })
    );
    assert!(m.forward_logits(&[], &mut cache).is_err());
    m.forward_logits(&[3], &mut cache).unwrap();
    assert!(
        m.backward(&mut cache, &mut grads).is_err(),
        "no loss to differentiate"
    );
    let mut dec = Box::new(Decoder::ZERO);
    assert!(dec.prefill(m.weights(), &[]).is_err());
    assert!(dec.step(m.weights(), V as u16).is_err());
    dec.prefill(m.weights(), &[1, 2]).unwrap();
    let mut r = Pcg32::seed_from_u64(0);
    assert!(dec.sample(Sampling::Temperature(0.0), &mut r).is_err());
    assert!(
        dec.sample(
            Sampling::TopK {
                k: 0,
                temperature: 1.0
            },
            &mut r
        )
        .is_err()
    );
    assert!(
        dec.sample(
            Sampling::TopK {
                k: V + 1,
                temperature: 1.0
            },
            &mut r
        )
        .is_err()
    );
}

/// On a repeated sentence the loss falls below 0.05 within 300 Adam steps, and greedy
/// decoding then reproduces the sentence from its first token.
#[test]
fn overfits_a_tiny_sequence_and_regenerates_it() {
    let text = [1_u16, 4, 2, 7, 3, 9, 5, 8, 6];
    let mut m = model(6);
    let mut cache = Box::new(Cache::ZERO);
    let mut grads = Box::new(Lm::ZERO);
    let mut state = Box::new(AttentionOptState::ZERO);
    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(Adam::with_lr(0.02)),
        max_grad_norm: Some(1.0),
    };
    let first = m
        .train_step(&text, &mut cache, &mut grads, &mut state, &cfg)
        .unwrap()
        .loss;
    let mut last = first;
    for _ in 0..300 {
        last = m
            .train_step(&text, &mut cache, &mut grads, &mut state, &cfg)
            .unwrap()
            .loss;
    }
    assert!(first > 1.5 && last < 0.05, "loss {first} -> {last}");
    let mut dec = Box::new(Decoder::ZERO);
    let mut out = [0_u16; T - 1];
    let n = dec
        .generate(
            m.weights(),
            &text[..1],
            &mut out,
            Sampling::Greedy,
            &mut Pcg32::seed_from_u64(1),
        )
        .unwrap();
    assert_eq!(n, T - 1);
    assert_eq!(&out[..], &text[1..]);
}

#[test]
fn accumulated_gradients_then_one_step_equal_a_step_on_the_mean() {
    let mut rng = Rng::new(64);
    let seqs: Vec<Vec<u16>> = (0..3).map(|i| tokens(&mut rng, 4 + i)).collect();
    let cfg = TrainConfig {
        optimizer: Optimizer::Sgd { lr: 0.1 },
        max_grad_norm: None,
    };
    // accumulate three backward passes, average, one step
    let mut a = model(7);
    let mut cache = Box::new(Cache::ZERO);
    let mut acc = Box::new(Lm::ZERO);
    for s in &seqs {
        a.forward(s, &mut cache).unwrap();
        a.backward(&mut cache, &mut acc).unwrap();
    }
    acc.scale(1.0 / 3.0);
    let mut state = Box::new(AttentionOptState::ZERO);
    a.apply_gradients(&mut acc, &mut state, &cfg).unwrap();
    // the mean of separately computed gradients, applied by hand
    let b0 = model(7);
    let mut mean: Vec<Vec<f64>> = b0.tensors().iter().map(|t| vec![0.0; t.len()]).collect();
    for s in &seqs {
        let mut g = Box::new(Lm::ZERO);
        b0.forward(s, &mut cache).unwrap();
        b0.backward(&mut cache, &mut g).unwrap();
        for (mt, gt) in mean.iter_mut().zip(g.tensors()) {
            for (x, y) in mt.iter_mut().zip(gt) {
                *x += *y as f64 / 3.0;
            }
        }
    }
    for ((pa, p0), g) in a.tensors().iter().zip(b0.tensors()).zip(&mean) {
        let want: Vec<f64> = p0.iter().zip(g).map(|(p, g)| *p as f64 - 0.1 * g).collect();
        common::assert_close(pa, &want, 1e-5, 1e-5, "accumulated step");
    }
}

#[test]
fn clipping_bounds_the_global_norm_of_a_step() {
    let mut m = model(8);
    let mut cache = Box::new(Cache::ZERO);
    let mut grads = Box::new(Lm::ZERO);
    let mut state = Box::new(AttentionOptState::ZERO);
    let cfg = TrainConfig {
        optimizer: Optimizer::Sgd { lr: 0.0 },
        max_grad_norm: Some(0.01),
    };
    let stats = m
        .train_step(&[1, 2, 3, 4, 5], &mut cache, &mut grads, &mut state, &cfg)
        .unwrap();
    assert!(stats.grad_norm > 0.01);
    let after = edgegrad::kernels::global_norm(&grads.tensors());
    assert!(after <= 0.01 * (1.0 + 1e-5), "{after}");
}

#[test]
fn sampling_respects_top_k_and_temperature() {
    let m = model(9);
    let mut dec = Box::new(Decoder::ZERO);
    let logits = *dec.prefill(m.weights(), &[2, 3]).unwrap();
    let mut order: Vec<usize> = (0..V).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    let mut r = Pcg32::seed_from_u64(11);
    let mut seen = [0usize; V];
    for _ in 0..2000 {
        seen[dec
            .sample(
                Sampling::TopK {
                    k: 3,
                    temperature: 1.0,
                },
                &mut r,
            )
            .unwrap() as usize] += 1;
    }
    for &i in &order[3..] {
        assert_eq!(seen[i], 0, "token {i} is outside the top 3");
    }
    assert!(order[..3].iter().all(|&i| seen[i] > 0));
    assert_eq!(
        dec.sample(Sampling::Greedy, &mut r).unwrap() as usize,
        order[0]
    );
    // a very low temperature is greedy in practice
    for _ in 0..100 {
        assert_eq!(
            dec.sample(Sampling::Temperature(1e-3), &mut r).unwrap() as usize,
            order[0]
        );
    }
}

/// A model of about a million parameters goes into a `Box` from a thread whose stack
/// is far smaller than the model: the `const` zero value is built in place.
#[test]
fn a_million_parameter_model_boxes_without_touching_the_stack() {
    type Big = AttentionLm<2048, 128, 256, 64>;
    const { assert!(Big::PARAMETERS > 1_000_000) };
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut m = Box::new(Big::ZERO);
            m.init(&mut Pcg32::seed_from_u64(1));
            m.tok_emb.row(5)[0]
        })
        .unwrap();
    assert!(handle.join().unwrap() != 0.0);
}

#[test]
fn sampling_handles_tiny_temperatures_and_refuses_nan_logits() {
    let mut m = model(10);
    let mut dec = Box::new(Decoder::ZERO);
    let mut r = Pcg32::seed_from_u64(4);
    let logits = *dec.prefill(m.weights(), &[1, 2]).unwrap();
    let best = (0..V).fold(0, |b, i| if logits[i] > logits[b] { i } else { b });
    // dividing by 1e-38 would overflow without the max shift
    assert_eq!(
        dec.sample(Sampling::Temperature(1e-38), &mut r).unwrap() as usize,
        best
    );
    // A NaN weight: the step refuses it, and the decoder has no logits to sample from.
    m.b_out.as_mut_slice()[3] = f32::NAN;
    assert!(matches!(
        dec.prefill(m.weights(), &[1, 2]),
        Err(Error::NonFinite { index: 3, .. })
    ));
    assert!(dec.logits().is_none());
    assert!(matches!(
        dec.sample(Sampling::Greedy, &mut r),
        Err(Error::NoLogits { .. })
    ));
}

#[test]
fn invalid_optimizer_settings_change_nothing() {
    let mut m = model(11);
    let mut cache = Box::new(Cache::ZERO);
    let mut grads = Box::new(Lm::ZERO);
    let mut state = Box::new(AttentionOptState::ZERO);
    m.forward(&[1, 2, 3], &mut cache).unwrap();
    m.backward(&mut cache, &mut grads).unwrap();
    let before = grads.tensors().map(|t| t.to_vec());
    let params = m.tensors().map(|t| t.to_vec());
    for optimizer in [
        Optimizer::Momentum {
            lr: 0.1,
            momentum: 1.0,
        },
        Optimizer::Sgd { lr: f32::NAN },
        Optimizer::Adam(Adam {
            beta1: 1.0,
            ..Adam::default()
        }),
    ] {
        let cfg = TrainConfig {
            optimizer,
            max_grad_norm: Some(1e-6),
        };
        assert!(matches!(
            m.apply_gradients(&mut grads, &mut state, &cfg),
            Err(Error::InvalidParameter { .. })
        ));
        assert_eq!(
            grads.tensors().map(|t| t.to_vec()),
            before,
            "gradients were clipped"
        );
        assert_eq!(m.tensors().map(|t| t.to_vec()), params);
        assert_eq!(state.t, 0);
    }
}

/// A cache whose gradient belongs to another pass is refused by `backward`, a failed
/// forward pass leaves no rows to read, and a refused training step leaves the
/// gradients as they were.
#[test]
fn stale_or_failed_passes_are_never_differentiated() {
    let m = model(12);
    let mut cache = Box::new(Cache::ZERO);
    let mut grads = Box::new(Lm::ZERO);
    m.forward(&[1, 2, 3], &mut cache).unwrap();
    // An inference loss on the same cache: its activations are new, its dlogits not.
    m.weights().loss(&[3, 2, 1], &mut cache).unwrap();
    assert!(m.backward(&mut cache, &mut grads).is_err());
    assert!(grads.tensors().iter().all(|t| t.iter().all(|&x| x == 0.0)));
    // A forward pass that fails inside (a NaN query reaches a softmax) leaves an empty
    // cache.
    let mut bad = model(12);
    bad.w_q.row_mut(0)[0] = f32::NAN;
    assert!(bad.forward(&[1, 2, 3], &mut cache).is_err());
    assert_eq!(cache.len(), 0);
    assert_eq!(cache.logits(0), None);
    // Bad tokens: the step changes neither the model nor the gradients.
    grads.b_out[0] = 5.0;
    let mut state = Box::new(AttentionOptState::ZERO);
    let cfg = TrainConfig {
        optimizer: Optimizer::Sgd { lr: 0.1 },
        max_grad_norm: None,
    };
    let mut m2 = model(12);
    assert!(
        m2.train_step(&[1, V as u16], &mut cache, &mut grads, &mut state, &cfg)
            .is_err()
    );
    assert_eq!(grads.b_out[0], 5.0);
    assert_eq!(*m2, *model(12));
}

//! The three promises as properties of the models' entry points — forward passes,
//! losses, backward passes, training steps, decoding, sampling and safetensors
//! loading — for the attention LM and the GPT, on weights with random and adversarial
//! values (huge finite ones that overflow the arithmetic, NaN, ±inf), tokens in and out
//! of range, sequences of every length and arbitrary optimiser and sampling settings.
//!
//! `Ok` from finite weights holds no NaN (losses, gradients, updated weights), logits
//! are finite, sampled tokens are in range; `Err` leaves the model, the gradients (except where a
//! backward pass documents the part it added), the optimiser state and any loaded-into
//! model bit for bit as they were; a decoder that failed a step has no logits to sample.
#![cfg(all(feature = "attention", feature = "gpt", feature = "safetensors"))]
mod common;
use common::{Gen, bits, rounds};
use edgegrad::attention::{AttentionActivations, AttentionCache, AttentionLm, Decoder};
use edgegrad::gpt::{Gpt, GptActivations, GptCache, GptDecoder};
use edgegrad::kernels::Adam;
use edgegrad::params::{Params, ParamsMut};
use edgegrad::sample::Sampling;
use edgegrad::train::{OptState, Optimizer, TrainConfig};
use rand_core::SeedableRng;

const MODEL_ROUNDS: usize = 3000;

fn snapshot<P: Params>(p: &P) -> Vec<u32> {
    (0..P::TENSORS).flat_map(|i| bits(p.tensor(i))).collect()
}

fn no_nan<P: Params>(p: &P) -> bool {
    (0..P::TENSORS).all(|i| !p.tensor(i).iter().any(|v| v.is_nan()))
}

/// Initialised weights, then a few values replaced by adversarial ones (or, in some
/// rounds, everything scaled up until the arithmetic overflows).
fn perturb<P: ParamsMut>(p: &mut P, g: &mut Gen, seed: u64) {
    edgegrad::params::init(p, &mut rand_pcg::Pcg32::seed_from_u64(seed));
    match g.rng.below(4) {
        0 => {}
        1 => {
            let s = [1e3_f32, 1e10, 1e19, 1e30][g.rng.below(4)];
            for i in 0..P::TENSORS {
                edgegrad::kernels::scale(s, p.tensor_mut(i));
            }
        }
        _ => {
            for _ in 0..1 + g.rng.below(4) {
                let t = g.rng.below(P::TENSORS);
                let x = p.tensor_mut(t);
                if !x.is_empty() {
                    let i = g.rng.below(x.len());
                    x[i] = g.value();
                }
            }
        }
    }
}

fn tokens(g: &mut Gen, v: usize, t: usize) -> Vec<u16> {
    let n = g.size(t + 1);
    (0..n)
        .map(|_| {
            if g.rng.below(30) == 0 {
                (v + g.rng.below(3)) as u16
            } else {
                g.rng.below(v) as u16
            }
        })
        .collect()
}

fn optimizer(g: &mut Gen) -> TrainConfig {
    let lr = if g.rng.below(4) == 0 {
        g.value()
    } else {
        g.rng.uniform(0.0, 1.0)
    };
    let optimizer = match g.rng.below(3) {
        0 => Optimizer::Sgd { lr },
        1 => Optimizer::Momentum {
            lr,
            momentum: if g.rng.below(4) == 0 { g.value() } else { 0.9 },
        },
        _ => Optimizer::Adam(Adam {
            lr,
            eps: if g.rng.below(4) == 0 {
                g.value().abs()
            } else {
                1e-8
            },
            weight_decay: if g.rng.below(4) == 0 { g.value() } else { 0.01 },
            ..Adam::default()
        }),
    };
    let max_grad_norm = match g.rng.below(3) {
        0 => None,
        1 => Some(g.value()),
        _ => Some(1.0),
    };
    TrainConfig {
        optimizer,
        max_grad_norm,
    }
}

fn sampling(g: &mut Gen, v: usize) -> Sampling {
    match g.rng.below(3) {
        0 => Sampling::Greedy,
        1 => Sampling::Temperature(if g.rng.below(3) == 0 { g.value() } else { 0.8 }),
        _ => Sampling::TopK {
            k: g.rng.below(v + 2),
            temperature: if g.rng.below(3) == 0 { g.value() } else { 1.0 },
        },
    }
}

/// One model family's entry points; the two models have the same shape of API, so the
/// test is written once.
macro_rules! model_contracts {
    ($test:ident, $seed:expr, $model:ty, $acts:ty, $cache:ty, $decoder:ty, $v:expr, $t:expr) => {
        #[test]
        fn $test() {
            let mut model: Box<$model> = Box::new(<$model>::ZERO);
            let mut grads: Box<$model> = Box::new(<$model>::ZERO);
            let mut state: Box<OptState<$model>> = Box::new(OptState::ZERO);
            let mut acts: Box<$acts> = Box::new(<$acts>::ZERO);
            let mut cache: Box<$cache> = Box::new(<$cache>::ZERO);
            let mut dec: Box<$decoder> = Box::new(<$decoder>::ZERO);
            let mut file = vec![0_u8; <$model>::SAFETENSORS_BYTES];
            let mut rng = rand_pcg::Pcg32::seed_from_u64($seed);
            rounds($seed, MODEL_ROUNDS, |g: &mut Gen| {
                let seed = g.rng.next_u64();
                perturb(&mut *model, g, seed);
                let finite = (0..<$model>::TENSORS).all(|i| model.tensor(i).iter().all(|v| v.is_finite()));
                let ok_clean = |what: &str, ok: bool| assert!(!finite || ok, "{what}: NaN (or, for logits, an infinity) in an Ok result from finite weights");
                let toks = tokens(g, $v, $t);

                // Inference.
                // Tokens the models refuse before computing anything (nothing changes).
                let valid = !toks.is_empty() && toks.len() <= $t && toks.iter().all(|&t| usize::from(t) < $v);
                let len0 = acts.len();
                if model.forward_logits(&toks, &mut acts).is_ok() {
                    assert!(valid);
                    ok_clean("forward_logits", (0..acts.len()).all(|i| acts.logits(i).is_some_and(|l| l.iter().all(|v| v.is_finite()))));
                } else if valid {
                    assert_eq!(acts.len(), 0, "a failed forward pass leaves no rows to read");
                } else {
                    assert_eq!(acts.len(), len0, "refused tokens change nothing");
                }
                if let Ok(l) = model.weights().loss(&toks, &mut acts) {
                    ok_clean("loss", l.is_finite());
                }

                // Training: forward, backward, a step.
                let before = snapshot(&*model);
                if let Ok(l) = model.forward(&toks, &mut cache) {
                    ok_clean("forward", l.is_finite());
                    grads.zero();
                    if model.backward(&mut cache, &mut grads).is_ok() {
                        ok_clean("backward", no_nan(&*grads));
                    }
                } else if valid && toks.len() >= 2 {
                    // A forward pass that failed leaves nothing for a backward pass.
                    let g0 = snapshot(&*grads);
                    assert!(model.backward(&mut cache, &mut grads).is_err(), "backward after a failed forward pass");
                    assert!(g0 == snapshot(&*grads), "a refused backward pass changed the gradients");
                }
                let cfg = optimizer(g);
                let s0 = (snapshot(&state.m), snapshot(&state.v), state.t);
                match model.train_step(&toks, &mut cache, &mut grads, &mut state, &cfg) {
                    Ok(stats) => {
                        ok_clean("train_step", stats.loss.is_finite() && stats.grad_norm.is_finite() && no_nan(&*model) && no_nan(&state.m) && no_nan(&state.v));
                    }
                    Err(e) => {
                        assert!(before == snapshot(&*model), "train_step changed the model and failed with {e:?}");
                        assert!(s0 == (snapshot(&state.m), snapshot(&state.v), state.t), "train_step changed the state and failed with {e:?}");
                    }
                }
                if g.rng.below(8) == 0 {
                    state.reset();
                }

                // Decoding and sampling.
                let samp = sampling(g, $v);
                let mut out = [0_u16; 4];
                match dec.generate(&*model, &toks, &mut out, samp, &mut rng) {
                    Ok(n) => assert!(out[..n].iter().all(|&t| usize::from(t) < $v)),
                    Err(_) => {}
                }
                let (dlen, dlogits) = (dec.len(), dec.logits().map(|l| bits(l)));
                match dec.prefill(&*model, &toks) {
                    Ok(l) => ok_clean("prefill", l.iter().all(|v| v.is_finite())),
                    Err(_) if valid => assert!(dec.logits().is_none(), "a failed step leaves no logits"),
                    Err(_) => assert!((dlen, dlogits) == (dec.len(), dec.logits().map(|l| bits(l))), "a refused prompt changed the decoder"),
                }
                if let Ok(t) = dec.sample(samp, &mut rng) {
                    assert!(usize::from(t) < $v);
                    assert!(dec.logits().is_some());
                }
                let tok = g.rng.below($v + 1) as u16;
                let had = dec.len();
                match dec.step(&*model, tok) {
                    Ok(l) => ok_clean("step", l.iter().all(|v| v.is_finite())),
                    Err(_) => {
                        assert_eq!(dec.len(), had);
                        assert!(dec.sample(samp, &mut rng).is_err() || usize::from(tok) >= $v || had == $t);
                    }
                }

                // Files: a model with NaN is not written; a refused file loads nothing.
                let written = model.to_safetensors(&mut file);
                assert_eq!(written.is_ok(), finite);
                let mut other: Box<$model> = Box::new(<$model>::ZERO);
                other.init(&mut rand_pcg::Pcg32::seed_from_u64(9));
                let o0 = snapshot(&*other);
                if g.rng.below(2) == 0 && written.is_ok() {
                    // Corrupt one value of the data: NaN, ±inf or anything.
                    let at = file.len() - 4 * (1 + g.rng.below(16));
                    file[at..at + 4].copy_from_slice(&g.value().to_le_bytes());
                }
                match other.load_safetensors(&file) {
                    Ok(()) => assert!((0..<$model>::TENSORS).all(|i| other.tensor(i).iter().all(|v| v.is_finite()))),
                    Err(_) => assert!(o0 == snapshot(&*other), "a refused file changed the model"),
                }
            });
        }
    };
}

model_contracts!(attention_lm, 21, AttentionLm<12, 6, 8, 4>, AttentionActivations<12, 6, 8, 4>, AttentionCache<12, 6, 8, 4>, Decoder<12, 6, 8, 4>, 12, 6);
model_contracts!(gpt, 22, Gpt<12, 6, 8, 2, 16, 2>, GptActivations<12, 6, 8, 2, 16, 2>, GptCache<12, 6, 8, 2, 16, 2>, GptDecoder<12, 6, 8, 2, 16, 2>, 12, 6);

//! The attention LM and the GPT at tiny sizes: weights from arbitrary bytes (initialised,
//! scaled to huge finite values, poked with any value, or all arbitrary), arbitrary
//! tokens (out of range too), and a sequence of operations — forward passes, losses, a
//! backward pass, training steps and gradient updates with arbitrary optimiser settings,
//! and a decoder's prefill, step, sample, generate, truncate and reset with arbitrary
//! sampling settings. What is checked:
//!
//! - no panic;
//! - `Ok` outputs have no NaN or infinity when the weights (and the gradients an
//!   operation adds to) are finite: logits, losses, gradients, the model and the
//!   optimiser state after an update, a decoder's logits;
//! - `Err` as documented: the model, the gradients and the optimiser state
//!   bit-identical after a failed update or training step (`train::step` after a
//!   forward pass that succeeded may leave `grads` holding the sequence's gradients);
//!   a backward pass refused for want of a forward pass changes nothing, one that meets
//!   a non-finite value may leave part of the gradients added; a forward pass refused
//!   for its tokens changes nothing, any other failure leaves the activations empty;
//! - decoders as their docs say: a step refused for a token `≥ V` or a full context
//!   changes nothing, any other failed step leaves `len` and no logits; `sample`
//!   without logits is `NoLogits` and changes nothing; `prefill` refused for its prompt
//!   changes nothing, a failed step in it leaves the positions before it and no logits;
//!   `generate` refused for its settings or prompt changes nothing, otherwise a failure
//!   leaves the prompt's decoded positions and the tokens chosen before it; and the
//!   decoder's logits always equal those of a fresh decoder fed the tokens decoded so
//!   far (a failed step leaves no trace in the KV cache).
#![no_main]

mod common;

use common::{Gen, Rng, all_finite, bits, param_bits, params_finite};
use edgegrad::attention::{AttentionActivations, AttentionCache, AttentionLm, Decoder};
use edgegrad::gpt::{Gpt, GptActivations, GptCache, GptDecoder};
use edgegrad::kernels::Adam;
use edgegrad::params::{self, ParamsMut, Zero};
use edgegrad::sample::Sampling;
use edgegrad::train::{self, LanguageModel, OptState, Optimizer, TrainConfig};
use edgegrad::{Error, Result};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut g = Gen::new(data);
    match g.byte() % 3 {
        0 => run::<AttentionLm<8, 6, 8, 4>>(&mut g),
        1 => run::<Gpt<8, 6, 8, 2, 16, 1>>(&mut g),
        _ => run::<Gpt<6, 5, 8, 4, 8, 2>>(&mut g),
    }
});

/// What the harness needs of a model: its passes and its decoder, with the same
/// meaning for both models.
trait Model: ParamsMut + LanguageModel + Zero + Sized {
    const NAME: &'static str;
    const V: usize;
    const T: usize;
    type Acts;
    type Dec;
    fn acts() -> Box<Self::Acts>;
    fn cache() -> Box<Self::Cache>;
    fn dec() -> Box<Self::Dec>;
    fn forward_logits(&self, tokens: &[u16], acts: &mut Self::Acts) -> Result<()>;
    fn loss(&self, tokens: &[u16], acts: &mut Self::Acts) -> Result<f32>;
    /// Rows `0..len` of the last forward pass's logits, flattened.
    fn acts_logits(acts: &Self::Acts) -> Vec<f32>;
    fn cache_logits(cache: &Self::Cache) -> Vec<f32>;
    fn step(dec: &mut Self::Dec, model: &Self, token: u16) -> Result<()>;
    fn prefill(dec: &mut Self::Dec, model: &Self, prompt: &[u16]) -> Result<()>;
    fn sample(dec: &mut Self::Dec, sampling: Sampling, rng: &mut Rng) -> Result<u16>;
    fn generate(
        dec: &mut Self::Dec,
        model: &Self,
        prompt: &[u16],
        out: &mut [u16],
        sampling: Sampling,
        rng: &mut Rng,
    ) -> Result<usize>;
    fn dec_len(dec: &Self::Dec) -> usize;
    fn dec_logits(dec: &Self::Dec) -> Option<Vec<f32>>;
    fn truncate(dec: &mut Self::Dec, len: usize);
    fn reset(dec: &mut Self::Dec);
}

macro_rules! flat_logits {
    ($acts:expr) => {
        (0..$acts.len())
            .flat_map(|i| $acts.logits(i).map_or(&[][..], |r| &r[..]).to_vec())
            .collect()
    };
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> Model
    for AttentionLm<V, T, D, DK>
{
    const NAME: &'static str = "AttentionLm";
    const V: usize = V;
    const T: usize = T;
    type Acts = AttentionActivations<V, T, D, DK>;
    type Dec = Decoder<V, T, D, DK>;
    fn acts() -> Box<Self::Acts> {
        Box::new(AttentionActivations::ZERO)
    }
    fn cache() -> Box<Self::Cache> {
        Box::new(AttentionCache::ZERO)
    }
    fn dec() -> Box<Self::Dec> {
        Box::new(Decoder::ZERO)
    }
    fn forward_logits(&self, tokens: &[u16], acts: &mut Self::Acts) -> Result<()> {
        self.weights().forward_logits(tokens, acts)
    }
    fn loss(&self, tokens: &[u16], acts: &mut Self::Acts) -> Result<f32> {
        self.weights().loss(tokens, acts)
    }
    fn acts_logits(acts: &Self::Acts) -> Vec<f32> {
        flat_logits!(acts)
    }
    fn cache_logits(cache: &Self::Cache) -> Vec<f32> {
        flat_logits!(cache)
    }
    fn step(dec: &mut Self::Dec, model: &Self, token: u16) -> Result<()> {
        dec.step(model, token).map(|_| ())
    }
    fn prefill(dec: &mut Self::Dec, model: &Self, prompt: &[u16]) -> Result<()> {
        dec.prefill(model, prompt).map(|_| ())
    }
    fn sample(dec: &mut Self::Dec, sampling: Sampling, rng: &mut Rng) -> Result<u16> {
        dec.sample(sampling, rng)
    }
    fn generate(
        dec: &mut Self::Dec,
        model: &Self,
        prompt: &[u16],
        out: &mut [u16],
        sampling: Sampling,
        rng: &mut Rng,
    ) -> Result<usize> {
        dec.generate(model, prompt, out, sampling, rng)
    }
    fn dec_len(dec: &Self::Dec) -> usize {
        dec.len()
    }
    fn dec_logits(dec: &Self::Dec) -> Option<Vec<f32>> {
        dec.logits().map(|l| l.to_vec())
    }
    fn truncate(dec: &mut Self::Dec, len: usize) {
        dec.truncate(len);
    }
    fn reset(dec: &mut Self::Dec) {
        dec.reset();
    }
}

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    Model for Gpt<V, T, D, N, F, L>
{
    const NAME: &'static str = "Gpt";
    const V: usize = V;
    const T: usize = T;
    type Acts = GptActivations<V, T, D, N, F, L>;
    type Dec = GptDecoder<V, T, D, N, F, L>;
    fn acts() -> Box<Self::Acts> {
        Box::new(GptActivations::ZERO)
    }
    fn cache() -> Box<Self::Cache> {
        Box::new(GptCache::ZERO)
    }
    fn dec() -> Box<Self::Dec> {
        Box::new(GptDecoder::ZERO)
    }
    fn forward_logits(&self, tokens: &[u16], acts: &mut Self::Acts) -> Result<()> {
        self.weights().forward_logits(tokens, acts)
    }
    fn loss(&self, tokens: &[u16], acts: &mut Self::Acts) -> Result<f32> {
        self.weights().loss(tokens, acts)
    }
    fn acts_logits(acts: &Self::Acts) -> Vec<f32> {
        flat_logits!(acts)
    }
    fn cache_logits(cache: &Self::Cache) -> Vec<f32> {
        flat_logits!(cache)
    }
    fn step(dec: &mut Self::Dec, model: &Self, token: u16) -> Result<()> {
        dec.step(model, token).map(|_| ())
    }
    fn prefill(dec: &mut Self::Dec, model: &Self, prompt: &[u16]) -> Result<()> {
        dec.prefill(model, prompt).map(|_| ())
    }
    fn sample(dec: &mut Self::Dec, sampling: Sampling, rng: &mut Rng) -> Result<u16> {
        dec.sample(sampling, rng)
    }
    fn generate(
        dec: &mut Self::Dec,
        model: &Self,
        prompt: &[u16],
        out: &mut [u16],
        sampling: Sampling,
        rng: &mut Rng,
    ) -> Result<usize> {
        dec.generate(model, prompt, out, sampling, rng)
    }
    fn dec_len(dec: &Self::Dec) -> usize {
        dec.len()
    }
    fn dec_logits(dec: &Self::Dec) -> Option<Vec<f32>> {
        dec.logits().map(|l| l.to_vec())
    }
    fn truncate(dec: &mut Self::Dec, len: usize) {
        dec.truncate(len);
    }
    fn reset(dec: &mut Self::Dec) {
        dec.reset();
    }
}

/// Weights: initialised, then perhaps scaled, poked or replaced.
fn weights<M: Model>(g: &mut Gen, model: &mut M) {
    let seed = u64::from(g.u32());
    params::init(model, &mut Rng(seed));
    match g.byte() % 6 {
        0 | 1 => {}
        2 => {
            // Huge finite weights: overflow inside the passes.
            let k = [1e3_f32, 1e6, 1e10, 1e15, 1e18, 1e19, 1e20, 1e25, 1e30, 1e38]
                [usize::from(g.byte()) % 10];
            params::scale(model, k);
        }
        3 | 4 => {
            let pokes = g.range(1, 8);
            for _ in 0..pokes {
                let i = g.range(0, M::TENSORS - 1);
                let t = model.tensor_mut(i);
                if !t.is_empty() {
                    let j = g.range(0, t.len() - 1);
                    t[j] = g.f32();
                }
            }
        }
        _ => {
            for i in 0..M::TENSORS {
                for w in model.tensor_mut(i) {
                    *w = g.f32();
                }
            }
        }
    }
}

fn tokens<M: Model>(g: &mut Gen, min: usize) -> Vec<u16> {
    let n = if g.byte() < 240 {
        g.range(min, M::T)
    } else {
        g.range(0, M::T + 2)
    };
    (0..n).map(|_| g.token(M::V)).collect()
}

fn sampling(g: &mut Gen) -> Sampling {
    let t = g.hyper(&[1.0, 0.5, 0.8, 2.0, 1e-3]);
    match g.byte() % 4 {
        0 => Sampling::Greedy,
        1 => Sampling::Temperature(t),
        _ => Sampling::TopK {
            k: if g.byte() < 220 {
                g.range(0, 10)
            } else {
                g.u32() as usize
            },
            temperature: t,
        },
    }
}

/// Whether `generate` accepts these settings over `v` tokens (a finite temperature
/// above 0 and `1 ≤ k ≤ V`, as `sample` checks them).
fn settings_ok(s: Sampling, v: usize) -> bool {
    let (t, k) = match s {
        Sampling::Greedy => return true,
        Sampling::Temperature(t) => (t, v),
        Sampling::TopK { k, temperature } => (temperature, k),
    };
    t > 0.0 && t.is_finite() && (1..=v).contains(&k)
}

fn config(g: &mut Gen) -> TrainConfig {
    let lr = g.hyper(&[0.1, 0.01, 1e-3, 1.0, 0.0, 10.0]);
    let optimizer = match g.byte() % 3 {
        0 => Optimizer::Sgd { lr },
        1 => Optimizer::Momentum {
            lr,
            momentum: g.hyper(&[0.9, 0.0, 0.5]),
        },
        _ => Optimizer::Adam(Adam {
            lr,
            beta1: g.hyper(&[0.9, 0.0, 0.5]),
            beta2: g.hyper(&[0.999, 0.9, 0.0]),
            eps: g.hyper(&[1e-8, 1e-6, 1e-16]),
            weight_decay: g.hyper(&[0.0, 0.01, 0.1]),
        }),
    };
    let max_grad_norm = match g.byte() % 3 {
        0 => None,
        _ => Some(g.hyper(&[1.0, 0.5, 10.0, 0.0, 1e-3])),
    };
    TrainConfig {
        optimizer,
        max_grad_norm,
    }
}

fn state_bits<M: Model>(s: &OptState<M>) -> (Vec<u8>, Vec<u8>, u32) {
    (param_bits(&s.m), param_bits(&s.v), s.t)
}

/// The decoder as the harness knows it should be: the tokens decoded (under the current
/// weights unless `stale`), and whether it has logits.
struct DecState {
    hist: Vec<u16>,
    ready: bool,
    stale: bool,
    /// After a failed `prefill` or `generate` that changed the decoder (a broken
    /// promise let pass by `EDGEGRAD_FUZZ_SKIP`): what it holds is not known until it
    /// starts over.
    unknown: bool,
}

fn run<M: Model>(g: &mut Gen) {
    let mut model = Box::new(M::ZERO);
    weights(g, &mut *model);
    let mut grads = Box::new(M::ZERO);
    let mut state = Box::new(OptState::<M>::ZERO);
    let mut acts = M::acts();
    let mut cache = M::cache();
    let mut dec = M::dec();
    let mut ds = DecState {
        hist: Vec::new(),
        ready: false,
        stale: false,
        unknown: false,
    };
    let mut rng = Rng(u64::from(g.u32()));
    for _ in 0..10 {
        let finite = params_finite(&*model);
        let name = M::NAME;
        match g.byte() % 10 {
            0 => {
                let t = tokens::<M>(g, 1);
                let (len0, l0) = (acts_len::<M>(&acts), M::acts_logits(&acts));
                match model.forward_logits(&t, &mut acts) {
                    Ok(()) => {
                        let l = M::acts_logits(&acts);
                        ensure!(
                            l.len() == t.len() * M::V,
                            "ok-shape",
                            "{name}.forward_logits({t:?}) gave {} logits",
                            l.len()
                        );
                        ensure!(
                            !finite || all_finite(&l),
                            "ok-finite",
                            "{name}.forward_logits({t:?}) with finite weights = {l:?}"
                        );
                    }
                    Err(e) => failed_pass::<M>(
                        tokens_ok::<M>(&t, 1),
                        &acts,
                        len0,
                        &l0,
                        &format!("{name}.forward_logits({t:?}) -> {e:?}"),
                    ),
                }
            }
            1 => {
                let t = tokens::<M>(g, 2);
                let (len0, l0) = (acts_len::<M>(&acts), M::acts_logits(&acts));
                match model.loss(&t, &mut acts) {
                    Ok(l) => ensure!(
                        !finite || l.is_finite(),
                        "ok-finite",
                        "{name}.loss({t:?}) with finite weights = {l}"
                    ),
                    Err(e) => failed_pass::<M>(
                        tokens_ok::<M>(&t, 2),
                        &acts,
                        len0,
                        &l0,
                        &format!("{name}.loss({t:?}) -> {e:?}"),
                    ),
                }
            }
            2 | 3 => {
                let t = tokens::<M>(g, 2);
                if let Ok(l) = LanguageModel::forward(&*model, &t, &mut cache) {
                    ensure!(
                        !finite || (l.is_finite() && all_finite(&M::cache_logits(&cache))),
                        "ok-finite",
                        "{name}.forward({t:?}) with finite weights = {l}"
                    );
                }
                if g.bool() {
                    backward::<M>(&model, &mut cache, &mut grads, finite);
                }
            }
            4 | 5 => {
                let t = tokens::<M>(g, 2);
                let cfg = config(g);
                let w0 = param_bits(&*model);
                train_step::<M>(
                    &mut model, &t, &mut cache, &mut grads, &mut state, &cfg, finite,
                );
                if param_bits(&*model) != w0 {
                    ds.stale = true;
                }
            }
            6 => {
                // Arbitrary gradients (NaN and infinities too) straight into an update.
                if g.bool() {
                    for i in 0..M::TENSORS {
                        for x in grads.tensor_mut(i) {
                            *x = g.f32();
                        }
                    }
                }
                let cfg = config(g);
                let w0 = param_bits(&*model);
                apply::<M>(&mut model, &mut grads, &mut state, &cfg, finite);
                if param_bits(&*model) != w0 {
                    ds.stale = true;
                }
            }
            _ => decode::<M>(g, &model, &mut dec, &mut ds, &mut rng, finite),
        }
    }
}

fn acts_len<M: Model>(acts: &M::Acts) -> usize {
    M::acts_logits(acts).len() / M::V
}

/// Whether the forward passes accept `tokens` (`min..=T` of them, ids below `V`).
fn tokens_ok<M: Model>(tokens: &[u16], min: usize) -> bool {
    (min..=M::T).contains(&tokens.len()) && tokens.iter().all(|&t| usize::from(t) < M::V)
}

/// A failed forward pass, as documented: refused tokens change nothing; any other
/// error leaves the activations empty ("no rows to read").
fn failed_pass<M: Model>(tokens_ok: bool, acts: &M::Acts, len0: usize, l0: &[f32], what: &str) {
    let l = M::acts_logits(acts);
    let len = l.len() / M::V;
    ensure!(
        if tokens_ok {
            len == 0
        } else {
            len == len0 && bits(&l) == bits(l0)
        },
        "err-as-documented (activations)",
        "{what}: activations now hold {len} rows (were {len0})"
    );
}

fn backward<M: Model>(model: &M, cache: &mut M::Cache, grads: &mut M, finite: bool) {
    let g0 = param_bits(grads);
    let grads_finite = params_finite(grads);
    match LanguageModel::backward(model, cache, grads) {
        Ok(()) => ensure!(
            !(finite && grads_finite) || params_finite(grads),
            "ok-finite",
            "{}.backward with finite weights and gradients made a non-finite gradient",
            M::NAME
        ),
        // Documented: refused (no forward pass) with nothing changed; a non-finite
        // value on the way leaves the part of the gradients already added.
        Err(e) => ensure!(
            matches!(e, Error::NonFinite { .. }) || param_bits(grads) == g0,
            "err-unchanged",
            "{}.backward -> {e:?} changed the gradients",
            M::NAME
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn train_step<M: Model>(
    model: &mut M,
    tokens: &[u16],
    cache: &mut M::Cache,
    grads: &mut M,
    state: &mut OptState<M>,
    cfg: &TrainConfig,
    finite: bool,
) {
    // Whether the forward pass fails (it is deterministic): then the step must change
    // neither the model nor the gradients nor the state.
    let forward_fails = LanguageModel::forward(model, tokens, &mut *M::cache()).is_err();
    let (w0, g0, s0) = (param_bits(model), param_bits(grads), state_bits(state));
    let state_finite = params_finite(&state.m) && params_finite(&state.v);
    let what = format!("{}: train::step({tokens:?}, {cfg:?})", M::NAME);
    match train::step(model, tokens, cache, grads, state, cfg) {
        Ok(stats) => {
            ensure!(
                !forward_fails,
                "deterministic",
                "{what}: Ok, but its forward pass alone fails"
            );
            ensure!(
                !finite || (stats.loss.is_finite() && stats.grad_norm.is_finite()),
                "ok-finite",
                "{what} with finite weights = {stats:?}"
            );
            ensure!(
                !(finite && state_finite)
                    || (params_finite(model) && params_finite(&state.m) && params_finite(&state.v)),
                "ok-finite",
                "{what}: Ok with a non-finite model or optimiser state after it"
            );
            ensure!(
                state.t == s0.2 + 1,
                "ok-step-count",
                "{what}: t {} -> {}",
                s0.2,
                state.t
            );
        }
        Err(e) => {
            ensure!(
                param_bits(model) == w0 && state_bits(state) == s0,
                "err-unchanged",
                "{what} -> {e:?} changed the model or the optimiser state"
            );
            ensure!(
                !forward_fails || param_bits(grads) == g0,
                "err-unchanged",
                "{what} -> {e:?} (a failed forward pass) changed the gradients"
            );
        }
    }
}

fn apply<M: Model>(
    model: &mut M,
    grads: &mut M,
    state: &mut OptState<M>,
    cfg: &TrainConfig,
    finite: bool,
) {
    let (w0, g0, s0) = (param_bits(model), param_bits(grads), state_bits(state));
    let state_finite = params_finite(&state.m) && params_finite(&state.v);
    let what = format!("{}: train::apply_gradients({cfg:?})", M::NAME);
    match train::apply_gradients(model, grads, state, cfg) {
        Ok(norm) => {
            ensure!(
                !norm.is_nan() && params_finite(grads),
                "ok-finite",
                "{what} = {norm} with gradients that are not finite"
            );
            ensure!(
                !(finite && state_finite)
                    || (params_finite(model) && params_finite(&state.m) && params_finite(&state.v)),
                "ok-finite",
                "{what}: Ok with a non-finite model or optimiser state after it"
            );
            ensure!(
                state.t == s0.2 + 1,
                "ok-step-count",
                "{what}: t {} -> {}",
                s0.2,
                state.t
            );
        }
        Err(e) => ensure!(
            param_bits(model) == w0 && param_bits(grads) == g0 && state_bits(state) == s0,
            "err-unchanged",
            "{what} -> {e:?} changed the model, the gradients or the optimiser state"
        ),
    }
}

/// One decoder operation, then the decoder checked against the harness's record of it.
fn decode<M: Model>(
    g: &mut Gen,
    model: &M,
    dec: &mut M::Dec,
    ds: &mut DecState,
    rng: &mut Rng,
    finite: bool,
) {
    let name = M::NAME;
    let (len0, logits0) = (M::dec_len(dec), M::dec_logits(dec));
    let unchanged = |dec: &M::Dec| {
        M::dec_len(dec) == len0
            && M::dec_logits(dec).map(|l| bits(&l)) == logits0.as_ref().map(|l| bits(l))
    };
    match g.byte() % 8 {
        0..=2 => {
            let token = g.token(M::V);
            match M::step(dec, model, token) {
                Ok(()) => {
                    ds.hist.push(token);
                    ds.ready = true;
                    let l = M::dec_logits(dec);
                    ensure!(
                        l.as_ref().is_some_and(|l| !finite || all_finite(l)),
                        "ok-finite",
                        "{name} decoder step({token}) with finite weights: logits {l:?}"
                    );
                }
                Err(e) => {
                    if usize::from(token) >= M::V || len0 == M::T {
                        ensure!(
                            unchanged(dec),
                            "err-unchanged",
                            "{name} decoder step({token}) at {len0} -> {e:?} changed the decoder"
                        );
                    } else {
                        ensure!(
                            M::dec_len(dec) == len0 && M::dec_logits(dec).is_none(),
                            "err-as-documented",
                            "{name} decoder step({token}) at {len0} -> {e:?}: len {} (was {len0}), logits {:?}",
                            M::dec_len(dec),
                            M::dec_logits(dec)
                        );
                        ds.ready = false;
                    }
                }
            }
        }
        3 => {
            let prompt = tokens::<M>(g, 1);
            match M::prefill(dec, model, &prompt) {
                Ok(()) => {
                    ds.hist = prompt.clone();
                    ds.ready = true;
                    ds.stale = false;
                    ds.unknown = false;
                    let l = M::dec_logits(dec);
                    ensure!(
                        l.as_ref().is_some_and(|l| !finite || all_finite(l)),
                        "ok-finite",
                        "{name} decoder prefill({prompt:?}) with finite weights: logits {l:?}"
                    );
                }
                // Documented: a refused prompt changes nothing; an error in a step
                // leaves the positions before it decoded and no logits.
                Err(e) => {
                    let len = M::dec_len(dec);
                    if tokens_ok::<M>(&prompt, 1) {
                        ensure!(
                            len < prompt.len() && M::dec_logits(dec).is_none(),
                            "err-as-documented",
                            "{name} decoder prefill({prompt:?}) -> {e:?}: len {len0} -> {len}, logits {:?}",
                            M::dec_logits(dec)
                        );
                        ds.hist = prompt[..len.min(prompt.len())].to_vec();
                        ds.ready = false;
                        ds.stale = false;
                        ds.unknown = false;
                    } else {
                        ensure!(
                            unchanged(dec),
                            "err-unchanged",
                            "{name} decoder prefill({prompt:?}) refused -> {e:?}: len {len0} -> {len}, logits {:?} -> {:?}",
                            logits0,
                            M::dec_logits(dec)
                        );
                        ds.unknown |= !unchanged(dec);
                    }
                }
            }
        }
        4 => {
            let s = sampling(g);
            match M::sample(dec, s, rng) {
                Ok(t) => {
                    ensure!(
                        ds.unknown || ds.ready,
                        "sample-needs-logits",
                        "{name} decoder sample({s:?}) = Ok({t}) without logits"
                    );
                    ensure!(
                        usize::from(t) < M::V,
                        "ok-token",
                        "{name} decoder sample({s:?}) = {t}"
                    );
                }
                Err(e) => {
                    ensure!(
                        unchanged(dec),
                        "err-unchanged",
                        "{name} decoder sample({s:?}) -> {e:?} changed the decoder"
                    );
                    ensure!(
                        ds.unknown || ds.ready || matches!(e, Error::NoLogits { .. }),
                        "sample-needs-logits",
                        "{name} decoder sample({s:?}) without logits -> {e:?}, not NoLogits"
                    );
                }
            }
        }
        5 => {
            let prompt = tokens::<M>(g, 1);
            let s = sampling(g);
            let n_out = g.range(0, M::T + 2);
            // Slots the decoder has not written hold an id no model here has.
            let out0 = vec![u16::MAX; n_out];
            let mut out = out0.clone();
            match M::generate(dec, model, &prompt, &mut out, s, rng) {
                Ok(n) => {
                    let p = prompt.len();
                    let expect = n_out.min(M::T + 1 - p);
                    ensure!(
                        n == expect
                            && out[..n].iter().all(|&t| usize::from(t) < M::V)
                            && out[n..].iter().all(|&t| t == u16::MAX),
                        "ok-generate",
                        "{name} decoder generate({prompt:?}, {n_out} slots, {s:?}) = {n}: {out:?} (expected {expect} tokens)"
                    );
                    ds.hist = prompt.clone();
                    ds.hist.extend_from_slice(&out[..n]);
                    ds.hist.truncate(M::T);
                    ds.ready = true;
                    ds.stale = false;
                    ds.unknown = false;
                }
                // Documented: invalid settings and a refused prompt change nothing;
                // otherwise the errors of prefill, sample and step, with `out` holding
                // the tokens chosen before the error.
                Err(e) => {
                    let len = M::dec_len(dec);
                    if !(tokens_ok::<M>(&prompt, 1) && settings_ok(s, M::V)) {
                        ensure!(
                            unchanged(dec) && out == out0,
                            "err-unchanged",
                            "{name} decoder generate({prompt:?}, {n_out} slots, {s:?}) refused -> {e:?}: len {len0} -> {len}, logits {:?} -> {:?}, out {out:?}",
                            logits0,
                            M::dec_logits(dec)
                        );
                        ds.unknown |= !unchanged(dec);
                    } else {
                        // j tokens chosen: the prefill failed (j = 0, fewer than the
                        // prompt decoded), or the step after the j-th chosen token did.
                        let j = out.iter().take_while(|&&t| usize::from(t) < M::V).count();
                        let p = prompt.len();
                        let expect_len = if j == 0 {
                            len.min(p.saturating_sub(1))
                        } else {
                            p + j - 1
                        };
                        ensure!(
                            out[j..].iter().all(|&t| t == u16::MAX)
                                && len == expect_len
                                && M::dec_logits(dec).is_none(),
                            "err-as-documented",
                            "{name} decoder generate({prompt:?}, {n_out} slots, {s:?}) -> {e:?}: len {len0} -> {len} with {j} tokens chosen {out:?}, logits {:?}",
                            M::dec_logits(dec)
                        );
                        ds.hist = prompt[..len.min(p)].to_vec();
                        if j > 0 {
                            ds.hist.extend_from_slice(&out[..j - 1]);
                        }
                        ds.ready = false;
                        ds.stale = false;
                        ds.unknown = false;
                    }
                }
            }
        }
        6 => {
            let n = g.range(0, M::T + 1);
            M::truncate(dec, n);
            if n < ds.hist.len() {
                ds.hist.truncate(n);
                ds.ready = false;
            }
        }
        _ => {
            M::reset(dec);
            ds.hist.clear();
            ds.ready = false;
            ds.stale = false;
            ds.unknown = false;
        }
    }
    if ds.unknown {
        return;
    }
    // The record and the decoder agree; its logits are those of a fresh decoder fed the
    // same tokens (so failed steps left no trace).
    ensure!(
        M::dec_len(dec) == ds.hist.len(),
        "decoder-state",
        "{name} decoder: len {} but {} tokens decoded ({:?})",
        M::dec_len(dec),
        ds.hist.len(),
        ds.hist
    );
    ensure!(
        M::dec_logits(dec).is_some() == ds.ready,
        "decoder-state",
        "{name} decoder: logits {:?}, expected {}",
        M::dec_logits(dec),
        if ds.ready { "some" } else { "none" }
    );
    if ds.ready && !ds.stale && !ds.hist.is_empty() {
        let mut fresh = M::dec();
        for &t in &ds.hist {
            if M::step(&mut fresh, model, t).is_err() {
                return;
            }
        }
        let (a, b) = (M::dec_logits(dec), M::dec_logits(&fresh));
        ensure!(
            a.as_ref().map(|l| bits(l)) == b.as_ref().map(|l| bits(l)),
            "no-trace",
            "{name} decoder after {:?}: logits {a:?}, a fresh decoder fed the same tokens: {b:?}",
            ds.hist
        );
    }
}

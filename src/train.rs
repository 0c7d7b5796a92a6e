//! Training over any declared parameter set: the optimisers, gradient clipping and the
//! optimiser state, working tensor by tensor through [`Params`](crate::params::Params)
//! — no model lists its tensors for them.
//!
//! A model's train step ([`step`], for any [`LanguageModel`]) is its own forward and
//! backward pass followed by [`apply_gradients`], which clips the gradients' global
//! norm and updates every parameter with SGD, momentum SGD or Adam/AdamW:
//!
//! ```
//! use edgegrad::params::Init;
//! use edgegrad::train::{self, OptState, Optimizer, TrainConfig};
//! use edgegrad::kernels::Adam;
//!
//! edgegrad::params! {
//!     /// Two numbers to fit.
//!     pub struct Pair<> {
//!         /// The numbers.
//!         x: [f32; 2] = "x", Init::Zeros;
//!     }
//! }
//! // Minimise ‖x − (3, −1)‖²: the gradient is 2(x − target).
//! let (mut p, mut g) = (Pair::ZERO, Pair::ZERO);
//! let mut state = OptState::ZERO;
//! let cfg = TrainConfig { optimizer: Optimizer::Adam(Adam::with_lr(0.1)), max_grad_norm: Some(10.0) };
//! for _ in 0..300 {
//!     g.x = [2.0 * (p.x[0] - 3.0), 2.0 * (p.x[1] + 1.0)];
//!     train::apply_gradients(&mut p, &mut g, &mut state, &cfg)?;
//! }
//! assert!((p.x[0] - 3.0).abs() < 0.01 && (p.x[1] + 1.0).abs() < 0.01);
//! # Ok::<(), edgegrad::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::kernels::optim::Rule;
use crate::kernels::{self as k, Adam};
use crate::params::{self, ParamsMut, Zero};

/// How parameters are updated from gradients.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// `θ ← θ − lr·g`.
    Sgd {
        /// Learning rate.
        lr: f32,
    },
    /// SGD with momentum: `v ← μ·v + g`, `θ ← θ − lr·v`.
    Momentum {
        /// Learning rate.
        lr: f32,
        /// Momentum `μ` in `[0, 1)`.
        momentum: f32,
    },
    /// Adam / AdamW with bias correction.
    Adam(Adam),
}

impl Optimizer {
    /// Checks the hyper-parameters: a finite learning rate `≥ 0`, `0 ≤ momentum < 1`,
    /// and Adam's own ranges ([`Adam::validate`]); anything else is
    /// [`Error::InvalidParameter`] naming the bound.
    pub fn validate(&self) -> Result<()> {
        self.rule(1).map(|_| ())
    }

    /// The update of step `t` with its constants; the checks of [`validate`](Self::validate).
    fn rule(&self, t: u32) -> Result<Rule> {
        // The kernels' own validation, on an empty tensor.
        match *self {
            Optimizer::Sgd { lr } => k::sgd(&mut [], &[], lr).map(|()| Rule::Sgd(lr)),
            Optimizer::Momentum { lr, momentum } => {
                k::sgd_momentum(&mut [], &[], &mut [], lr, momentum)
                    .map(|()| Rule::Momentum(lr, momentum))
            }
            Optimizer::Adam(adam) => adam.prepare(t).map(Rule::Adam),
        }
    }
}

/// Settings of a training step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// The update rule.
    pub optimizer: Optimizer,
    /// Clip the global gradient norm to this value before the update (`None`: no
    /// clipping).
    pub max_grad_norm: Option<f32>,
}

/// What one training step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Loss of the sequence before the update.
    pub loss: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f32,
}

/// Optimiser state for the parameters `P`: first and second moment estimates (the
/// first doubles as momentum SGD's velocity), of `P`'s own shapes, and the step count.
#[derive(Debug)]
pub struct OptState<P> {
    /// First moments (Adam) or velocities (momentum).
    pub m: P,
    /// Second moments (Adam).
    pub v: P,
    /// Number of updates taken so far.
    pub t: u32,
}

impl<P: Zero> OptState<P> {
    /// Fresh state: zero moments, no steps (a `const`, for a `static`).
    pub const ZERO: Self = OptState {
        m: P::ZERO,
        v: P::ZERO,
        t: 0,
    };

    /// Bytes this struct takes.
    pub const BYTES: usize = core::mem::size_of::<Self>();
}

impl<P: ParamsMut> OptState<P> {
    /// Back to the fresh state.
    pub fn reset(&mut self) {
        params::zero(&mut self.m);
        params::zero(&mut self.v);
        self.t = 0;
    }
}

/// Scales all of `grads` together so that their global norm is at most `max_norm`
/// (as [`kernels::clip_grad_norm`](crate::kernels::clip_grad_norm) does for a list of
/// slices) and returns the norm before clipping. A NaN or infinite gradient is
/// [`Error::NonFinite`] (`index`: the first such tensor) and changes nothing.
pub fn clip_grad_norm<P: ParamsMut + ?Sized>(grads: &mut P, max_norm: f32) -> Result<f32> {
    let (total, factor) = clip_factor(grads, max_norm)?;
    scale_by(grads, factor);
    Ok(total)
}

/// The global norm of `grads` and the factor clipping multiplies them by (1 when the
/// norm is within `max_norm`); a non-finite norm is [`Error::NonFinite`].
fn clip_factor<P: ParamsMut + ?Sized>(grads: &P, max_norm: f32) -> Result<(f32, [f32; 2])> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::InvalidParameter {
            what: "clip_grad_norm max_norm",
            expected: "max_norm >= 0",
        });
    }
    let total = params::global_norm(grads);
    if !total.is_finite() {
        let index = (0..P::TENSORS)
            .position(|i| !k::global_norm(&[grads.tensor(i)]).is_finite())
            .unwrap_or(0);
        return Err(Error::NonFinite {
            what: "clip_grad_norm gradient slice",
            index,
        });
    }
    Ok((total, k::optim::clip_scale(total, max_norm)))
}

/// Multiplies every gradient by `factor[0]`, then by `factor[1]` (as the update did).
fn scale_by<P: ParamsMut + ?Sized>(grads: &mut P, factor: [f32; 2]) {
    for f in factor {
        if f != 1.0 {
            params::scale(grads, f);
        }
    }
}

/// Clips `grads` to `cfg.max_grad_norm` (if set) and updates `params` with
/// `cfg.optimizer`, tensor by tensor. Returns the gradient norm before clipping.
/// On success `grads` hold the clipped gradients and `state.t` has grown by one.
///
/// Refused before anything changes — parameters, gradients and state stay bit for bit
/// as they were: invalid settings ([`Error::InvalidParameter`], the ranges of
/// [`Optimizer::validate`], or a step count at `u32::MAX`), a non-finite gradient
/// ([`Error::NonFinite`] from the clipping, `index`: the tensor), and an update that
/// would store a NaN or an infinity in a parameter or the optimiser state
/// ([`Error::NonFinite`] `"optimizer update"`, `index`: the tensor) — a diverging step,
/// a non-finite value in `state`, a gradient whose square overflows Adam's `v`. Every
/// tensor's update is checked before any is stored (computed twice, or for Adam on
/// hosts usually bounded by one pass of maxima, then computed once).
pub fn apply_gradients<P: ParamsMut>(
    params: &mut P,
    grads: &mut P,
    state: &mut OptState<P>,
    cfg: &TrainConfig,
) -> Result<f32> {
    let t = state.t.checked_add(1).ok_or(Error::InvalidParameter {
        what: "optimizer step count",
        expected: "fewer than 2^32 - 1 steps",
    })?;
    let rule = cfg.optimizer.rule(t)?;
    // Without a limit, clipping only checks that the gradients are finite.
    let max_norm = cfg.max_grad_norm.unwrap_or(f32::INFINITY);
    let (norm, factor) = clip_factor(grads, max_norm)?;
    // Every tensor's update is checked before any is stored, on the clipped gradients;
    // the gradients themselves are scaled once the step has succeeded.
    for i in 0..P::TENSORS {
        let (p, g) = (params.tensor(i), grads.tensor(i));
        rule.check(p, g, factor, state.m.tensor(i), state.v.tensor(i))
            .map_err(|e| match e {
                Error::NonFinite { what, .. } => Error::NonFinite { what, index: i },
                e => e,
            })?;
    }
    state.t = t;
    for i in 0..P::TENSORS {
        let (p, g) = (params.tensor_mut(i), grads.tensor(i));
        rule.write(p, g, factor, state.m.tensor_mut(i), state.v.tensor_mut(i));
    }
    scale_by(grads, factor);
    Ok(norm)
}

/// A model trained on token sequences: its loss and its gradients, which is all that
/// [`step`] needs. Every model of the crate implements it (its inherent `forward` and
/// `backward`), so a training loop can be written once for all of them.
pub trait LanguageModel: ParamsMut {
    /// What a forward pass keeps for the backward pass.
    type Cache;
    /// Forward pass over `tokens` with the mean next-token cross-entropy (nats),
    /// keeping in `cache` what [`backward`](Self::backward) needs.
    fn forward(&self, tokens: &[u16], cache: &mut Self::Cache) -> Result<f32>;
    /// Adds `∂loss/∂θ` of the last forward pass in `cache` to `grads`.
    fn backward(&self, cache: &mut Self::Cache, grads: &mut Self) -> Result<()>;
}

/// One training step on one sequence: `model.forward`, clear `grads`,
/// `model.backward`, then [`apply_gradients`]. An error in the forward pass changes
/// neither the model nor `grads` nor `state`; one from `apply_gradients` leaves the
/// model and the state unchanged and `grads` holding this sequence's gradients.
///
#[cfg_attr(feature = "gpt", doc = "```")]
#[cfg_attr(not(feature = "gpt"), doc = "```ignore")]
/// use edgegrad::gpt::{Gpt, GptCache};
/// use edgegrad::train::{self, LanguageModel, OptState, Optimizer, TrainConfig};
/// use rand_core::SeedableRng;
///
/// // A loop for any model.
/// fn fit<M: LanguageModel>(m: &mut M, text: &[u16], c: &mut M::Cache, g: &mut M,
///                          s: &mut OptState<M>) -> edgegrad::Result<f32> {
///     let cfg = TrainConfig { optimizer: Optimizer::Sgd { lr: 0.1 }, max_grad_norm: Some(1.0) };
///     let mut loss = f32::INFINITY;
///     for _ in 0..100 {
///         loss = train::step(m, text, c, g, s, &cfg)?.loss;
///     }
///     Ok(loss)
/// }
/// type Tiny = Gpt<8, 6, 8, 2, 16, 1>;
/// let (mut model, mut grads) = (Box::new(Tiny::ZERO), Box::new(Tiny::ZERO));
/// let (mut cache, mut state) = (Box::new(GptCache::ZERO), Box::new(OptState::ZERO));
/// model.init(&mut rand_pcg::Pcg32::seed_from_u64(3));
/// let loss = fit(&mut *model, &[1, 2, 3, 1, 2, 3], &mut cache, &mut grads, &mut state)?;
/// assert!(loss < 8f32.ln() / 2.0);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn step<M: LanguageModel>(
    model: &mut M,
    tokens: &[u16],
    cache: &mut M::Cache,
    grads: &mut M,
    state: &mut OptState<M>,
    cfg: &TrainConfig,
) -> Result<StepStats> {
    let loss = model.forward(tokens, cache)?;
    params::zero(grads);
    model.backward(cache, grads)?;
    let grad_norm = apply_gradients(model, grads, state, cfg)?;
    Ok(StepStats { loss, grad_norm })
}

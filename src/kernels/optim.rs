//! Optimisers as kernels over flat parameter and gradient slices: SGD with optional
//! momentum, Adam/AdamW with bias correction, clipping by global norm, and the zeroing
//! and accumulation that let a small device train on more data than fits at once
//! (accumulate the gradients of several examples, then take one step).
//!
//! A model with several parameter tensors calls the step once per tensor; the
//! optimiser state (velocities, moments) has the parameters' shapes and is passed in.

use crate::error::{Error, Result, check_len};
use crate::kernels::elementwise::{add_assign, scale};
use crate::kernels::reduce::global_norm;
use core::ops::Range;

use crate::simd::{self, Vector, splat};

/// Checks a learning rate: finite and `≥ 0` (a negative one would climb the loss).
fn check_lr(what: &'static str, lr: f32) -> Result<()> {
    if lr >= 0.0 && lr.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            what,
            expected: "a finite learning rate >= 0",
        })
    }
}

/// Checks a momentum or a moment decay: `0 ≤ μ < 1`.
fn check_decay(what: &'static str, expected: &'static str, mu: f32) -> Result<()> {
    if (0.0..1.0).contains(&mu) {
        Ok(())
    } else {
        Err(Error::InvalidParameter { what, expected })
    }
}

/// One update rule with its constants, applied to a parameter tensor, its gradient and
/// (as the rule needs) two state tensors of the same length: the one piece of code for
/// [`sgd`], [`sgd_momentum`], [`AdamStep::apply`] and `train::apply_gradients`.
///
/// Every update is done in two passes over the same math: [`check`](Self::check)
/// computes the new values without storing them and refuses a non-finite one,
/// [`write`](Self::write) stores them. So a step that would write a NaN or an infinity
/// (a diverging run, a gradient whose square overflows, a non-finite value in the
/// state) is an error that changes nothing; the check reads what the update reads and
/// costs about as much as the update without its stores. On hosts Adam's check first
/// tries a bound from one pass of maxima ([`AdamStep::surely_finite`]), which decides
/// most steps without the square roots and divisions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Rule {
    /// `θ ← θ − lr·g`.
    Sgd(f32),
    /// `v ← μ·v + g`, `θ ← θ − lr·v` (lr, μ).
    Momentum(f32, f32),
    /// Adam with its per-step constants.
    Adam(AdamStep),
}

impl Rule {
    /// How many state tensors the rule reads and writes (0, 1 or 2).
    fn states(&self) -> usize {
        match self {
            Rule::Sgd(_) => 0,
            Rule::Momentum(..) => 1,
            Rule::Adam(_) => 2,
        }
    }

    fn check_lens(&self, params: &[f32], grads: &[f32], m: &[f32], v: &[f32]) -> Result<()> {
        check_len("update grads", params.len(), grads.len())?;
        if self.states() >= 1 {
            check_len("update state m", params.len(), m.len())?;
        }
        if self.states() >= 2 {
            check_len("update state v", params.len(), v.len())?;
        }
        Ok(())
    }

    /// Refuses lengths that differ and an update that would store a non-finite value
    /// ([`Error::NonFinite`], `index`: the first such element); stores nothing. The
    /// gradient is taken times `gs[0]·gs[1]` (a clipping factor, see [`clip_scale`]).
    /// State slices the rule does not use may be empty.
    pub(crate) fn check(
        &self,
        params: &[f32],
        grads: &[f32],
        gs: [f32; 2],
        m: &[f32],
        v: &[f32],
    ) -> Result<()> {
        self.check_lens(params, grads, m, v)?;
        let n = params.len();
        if BOUND_FIRST && matches!(self, Rule::Adam(c) if c.surely_finite(params, grads, gs, m, v))
        {
            return Ok(());
        }
        if !self.any_non_finite(params, grads, gs, m, v, 0..n) {
            return Ok(());
        }
        // The same code on one element at a time, only once the whole has failed.
        let index = (0..n)
            .position(|i| self.any_non_finite(params, grads, gs, m, v, i..i + 1))
            .unwrap_or(0);
        Err(Error::NonFinite {
            what: "optimizer update",
            index,
        })
    }

    /// Whether the update of elements `r` would make a parameter or a state value that
    /// is not finite. One pass, one accumulator: `0·x` is NaN exactly when `x` is not
    /// finite. Out of line: the whole and the element-by-element search share it.
    #[inline(never)]
    fn any_non_finite(
        &self,
        params: &[f32],
        grads: &[f32],
        gs: [f32; 2],
        m: &[f32],
        v: &[f32],
        r: Range<usize>,
    ) -> bool {
        let (p, g, zero) = (&params[r.clone()], &grads[r.clone()], splat(0.0));
        let (g0, g1) = (splat(gs[0]), splat(gs[1]));
        let flag = match *self {
            Rule::Sgd(lr) => simd::fold([p, g], [0.0; 2], zero, |a, [p, g]| {
                a + sgd_step(splat(lr), p, g * g0 * g1) * 0.0
            }),
            Rule::Momentum(lr, mu) => simd::fold([p, g, &m[r]], [0.0; 3], zero, |a, [p, g, m]| {
                let [p, m] = momentum_step(splat(lr), splat(mu), p, m, g * g0 * g1);
                a + p * 0.0 + m * 0.0
            }),
            Rule::Adam(c) => simd::fold(
                [p, g, &m[r.clone()], &v[r]],
                [0.0; 4],
                zero,
                |a, [p, g, m, v]| {
                    let [p, m, v] = adam_step(&c, p, m, v, g * g0 * g1);
                    a + p * 0.0 + m * 0.0 + v * 0.0
                },
            ),
        };
        simd::hsum(flag) != 0.0
    }

    /// Stores the update (after [`check`](Self::check) passed on the same slices).
    pub(crate) fn write(
        &self,
        params: &mut [f32],
        grads: &[f32],
        gs: [f32; 2],
        m: &mut [f32],
        v: &mut [f32],
    ) {
        let (g0, g1) = (splat(gs[0]), splat(gs[1]));
        match *self {
            Rule::Sgd(lr) => simd::update([params], [grads], |[p], [g]| {
                [sgd_step(splat(lr), p, g * g0 * g1)]
            }),
            Rule::Momentum(lr, mu) => simd::update([params, m], [grads], |[p, m], [g]| {
                momentum_step(splat(lr), splat(mu), p, m, g * g0 * g1)
            }),
            Rule::Adam(c) => simd::update([params, m, v], [grads], |[p, m, v], [g]| {
                adam_step(&c, p, m, v, g * g0 * g1)
            }),
        }
    }

    /// [`check`](Self::check), then [`write`](Self::write).
    pub(crate) fn run(
        &self,
        params: &mut [f32],
        grads: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) -> Result<()> {
        self.check(params, grads, [1.0; 2], m, v)?;
        self.write(params, grads, [1.0; 2], m, v);
        Ok(())
    }
}

/// Whether Adam's check first tries [`AdamStep::surely_finite`]: on hosts, where the
/// square root and the division of a full check cost as much as the update itself
/// (15 % of the attention LM's training step at (64, 32, 32, 32)). On microcontrollers
/// each is one instruction, and the bound's extra pass would cost more than it saves.
const BOUND_FIRST: bool = simd::LANES >= 8 && !cfg!(edgegrad_size);

impl AdamStep {
    /// A sufficient condition for the update of every element to be finite, from one
    /// pass of maxima without square roots or divisions: with `P`, `G`, `M`, `V` the
    /// largest magnitudes of the parameters, the scaled gradients and the two moments,
    /// and every `v ≥ 0`, the new moments are at most `M + G` and `V + G²`, the
    /// denominator `√v̂ + ε` is at least `ε`, so the ratio is at most `(M + G)/ε` and
    /// `|θ'| ≤ |1 − lr·λ|·P + step·(M + G)/ε`.
    /// Bounds below `f32::MAX / 2` (computed in `f64`, far beyond the few roundings of
    /// the `f32` update) mean nothing overflows. `false` says only that the exact check
    /// must decide (e.g. a NaN or an infinity anywhere, or very large moments).
    #[inline(never)]
    fn surely_finite(
        &self,
        params: &[f32],
        grads: &[f32],
        gs: [f32; 2],
        m: &[f32],
        v: &[f32],
    ) -> bool {
        let zero = splat(0.0);
        // (max |θ|, max |g|, max |m|, max v, min v, witness): the witness is NaN when
        // an element is not finite (or their sum overflows), which `fast_max` may hide.
        // It gathers the bits of `0·x` by OR, which keeps a NaN's bits and, unlike an
        // add, costs no latency chain.
        // One set of accumulators: six vectors, four times over, would not stay in
        // sixteen registers.
        let (pm, gm, mm, vmax, vmin, w) = simd::fold(
            [params, grads, m, v],
            [0.0; 4],
            (zero, zero, zero, zero, zero, zero),
            |(pm, gm, mm, vmax, vmin, w), [p, g, m, v]| {
                (
                    pm.fast_max(p.abs()),
                    gm.fast_max(g.abs()),
                    mm.fast_max(m.abs()),
                    vmax.fast_max(v),
                    vmin.fast_min(v),
                    w | ((p + g + m + v) * 0.0),
                )
            },
        );
        if simd::hsum(w) != 0.0 || simd::hmax(zero - vmin) > 0.0 || self.eps <= 0.0 {
            return false;
        }
        let f = |x: Vector| f64::from(simd::hmax(x));
        // `g·gs₀` is rounded to `f32` before `gs₁` scales it.
        let g0 = f(gm) * f64::from(gs[0]).abs();
        let g = g0 * f64::from(gs[1]).abs();
        let (moment, second) = (f(mm) + g, f(vmax) + g * g);
        let denom = libm::sqrt(second) * f64::from(self.inv_sqrt_bc2) + f64::from(self.eps);
        // `m'/(√v̂ + ε)` is rounded to `f32` before the learning rate scales it.
        let ratio = moment / f64::from(self.eps);
        let param = f(pm) * f64::from(self.decay).abs() + f64::from(self.step).abs() * ratio;
        let limit = f64::from(f32::MAX) / 2.0;
        // (A NaN bound fails every comparison.)
        [g0, moment, second, denom, ratio, param]
            .iter()
            .all(|&b| b < limit)
    }
}

/// `θ − lr·g`.
#[inline(always)]
fn sgd_step(lr: Vector, p: Vector, g: Vector) -> Vector {
    g.mul_neg_add(lr, p)
}

/// `[θ − lr·v', v']` with `v' = μ·v + g`.
#[inline(always)]
fn momentum_step(lr: Vector, mu: Vector, p: Vector, v: Vector, g: Vector) -> [Vector; 2] {
    let v = v.mul_add(mu, g);
    [v.mul_neg_add(lr, p), v]
}

/// Adam's new `[θ, m, v]` ([`Adam::step`]'s formulas).
#[inline(always)]
fn adam_step(c: &AdamStep, p: Vector, m: Vector, v: Vector, g: Vector) -> [Vector; 3] {
    let m = splat(c.beta1).mul_add(m, splat(1.0 - c.beta1) * g);
    let v = splat(c.beta2).mul_add(v, splat(1.0 - c.beta2) * g * g);
    let denom = simd::sqrt(v).mul_add(splat(c.inv_sqrt_bc2), splat(c.eps));
    [(p * splat(c.decay)) - splat(c.step) * (m / denom), m, v]
}

/// Plain SGD: `θ ← θ − lr·g`.
///
/// Refuses (changing nothing) a learning rate that is NaN, infinite or negative
/// ([`Error::InvalidParameter`]), lengths that differ ([`Error::LengthMismatch`]), and an
/// update that would store a NaN or an infinity ([`Error::NonFinite`], `index`: the first
/// such element — a non-finite gradient or parameter, or `θ − lr·g` overflowing).
///
/// ```
/// let mut w = [1.0, 2.0];
/// edgegrad::kernels::sgd(&mut w, &[0.5, -0.5], 0.1)?;
/// assert_eq!(w, [0.95, 2.05]);
/// assert!(edgegrad::kernels::sgd(&mut w, &[f32::NAN, 0.0], 0.1).is_err());
/// assert_eq!(w, [0.95, 2.05]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn sgd(params: &mut [f32], grads: &[f32], lr: f32) -> Result<()> {
    check_lr("sgd lr", lr)?;
    Rule::Sgd(lr).run(params, grads, &mut [], &mut [])
}

/// SGD with momentum (PyTorch's convention): `v ← μ·v + g`, `θ ← θ − lr·v`.
///
/// `velocity` has the parameters' shape and starts at zero. Refuses (changing nothing)
/// `lr` outside `[0, ∞)` or `μ` outside `[0, 1)` ([`Error::InvalidParameter`]), lengths
/// that differ, and an update that would store a non-finite parameter or velocity
/// ([`Error::NonFinite`], `index`: the first such element).
///
/// ```
/// let (mut w, mut v) = ([0.0], [0.0]);
/// edgegrad::kernels::sgd_momentum(&mut w, &[1.0], &mut v, 0.1, 0.9)?;
/// edgegrad::kernels::sgd_momentum(&mut w, &[1.0], &mut v, 0.1, 0.9)?;
/// assert_eq!(v, [1.9]);
/// assert!((w[0] + 0.29).abs() < 1e-6);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn sgd_momentum(
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut [f32],
    lr: f32,
    momentum: f32,
) -> Result<()> {
    check_lr("sgd_momentum lr", lr)?;
    check_decay("sgd_momentum momentum", "0 <= momentum < 1", momentum)?;
    Rule::Momentum(lr, momentum).run(params, grads, velocity, &mut [])
}

/// Adam hyper-parameters (Kingma & Ba, 2015), with optional decoupled weight decay
/// (AdamW, Loshchilov & Hutter).
///
/// [`validate`](Self::validate) gives the accepted ranges; every step checks them first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// Learning rate `lr`, finite and `≥ 0`.
    pub lr: f32,
    /// Decay of the first-moment estimate, `β₁` in `[0, 1)`.
    pub beta1: f32,
    /// Decay of the second-moment estimate, `β₂` in `[0, 1)`.
    pub beta2: f32,
    /// `ε` added to the denominator, in `[1e-16, 1]`.
    pub eps: f32,
    /// Decoupled weight decay `λ ≥ 0` (0 for plain Adam), with `lr·λ ≤ 1`.
    pub weight_decay: f32,
}

impl Default for Adam {
    /// PyTorch's defaults: `lr = 1e-3, β₁ = 0.9, β₂ = 0.999, ε = 1e-8, λ = 0`.
    fn default() -> Self {
        Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl Adam {
    /// The smallest `ε` accepted. A gradient below about `10⁻¹⁹` has a square that
    /// underflows in `f32`, so the step's denominator is `ε` alone and the step is
    /// `lr·|m̂|/ε`: with `ε ≥ 10⁻¹⁶` it stays below `lr/1000` there, where a subnormal `ε`
    /// would move a parameter by `10¹¹·lr`.
    pub const MIN_EPS: f32 = 1e-16;

    /// Adam with learning rate `lr` and the default other parameters.
    #[must_use]
    pub fn with_lr(lr: f32) -> Self {
        Adam {
            lr,
            ..Adam::default()
        }
    }

    /// Checks the hyper-parameters (what [`step`](Self::step) does first):
    /// `lr` finite and `≥ 0`, `β₁, β₂ ∈ [0, 1)`, `ε ∈ [`[`MIN_EPS`](Self::MIN_EPS)`, 1]`,
    /// `λ ≥ 0` with `lr·λ ≤ 1` (so the decay factor `1 − lr·λ` stays in `[0, 1]`); any
    /// other value is [`Error::InvalidParameter`] naming the bound.
    ///
    /// ```
    /// use edgegrad::kernels::Adam;
    /// assert!(Adam::default().validate().is_ok());
    /// assert!(Adam { eps: 1e-30, ..Adam::default() }.validate().is_err());
    /// assert!(Adam { lr: 0.1, weight_decay: 20.0, ..Adam::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |what, expected| Err(Error::InvalidParameter { what, expected });
        check_lr("adam lr", self.lr)?;
        check_decay("adam beta1", "0 <= beta1 < 1", self.beta1)?;
        check_decay("adam beta2", "0 <= beta2 < 1", self.beta2)?;
        if !(Self::MIN_EPS..=1.0).contains(&self.eps) {
            return bad("adam eps", "1e-16 <= eps <= 1");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("adam weight_decay", "a finite weight_decay >= 0");
        }
        if self.lr * self.weight_decay > 1.0 {
            return bad("adam weight_decay", "lr * weight_decay <= 1");
        }
        Ok(())
    }

    /// One Adam step on one parameter tensor; `t ≥ 1` is the step number (the same for
    /// every tensor of a model within one step), `m` and `v` the moment estimates
    /// (start at zero, same length as `params`):
    ///
    /// ```text
    /// θ ← θ − lr·λ·θ                       (AdamW decay, if λ > 0)
    /// m ← β₁·m + (1 − β₁)·g
    /// v ← β₂·v + (1 − β₂)·g²
    /// θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
    /// ```
    ///
    /// Refuses, changing nothing: hyper-parameters outside [`validate`](Self::validate)'s
    /// ranges or `t = 0` ([`Error::InvalidParameter`]), lengths that differ, and an
    /// update that would store a NaN or an infinity in `params`, `m` or `v`
    /// ([`Error::NonFinite`], `index`: the first such element) — a non-finite gradient,
    /// parameter or moment, or a gradient above about `1.8·10¹⁹` whose square overflows.
    ///
    /// ```
    /// use edgegrad::kernels::Adam;
    /// let (mut w, mut m, mut v) = ([1.0_f32], [0.0], [0.0]);
    /// Adam::with_lr(0.1).step(1, &mut w, &[123.0], &mut m, &mut v)?;
    /// // the first step moves each weight by about lr, whatever the gradient's scale
    /// assert!((w[0] - 0.9).abs() < 1e-6);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn step(
        &self,
        t: u32,
        params: &mut [f32],
        grads: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) -> Result<()> {
        self.prepare(t)?.apply(params, grads, m, v)
    }

    /// The update of step `t ≥ 1` with its bias corrections `1 − β₁ᵗ`, `1 − β₂ᵗ`
    /// computed once, to [`apply`](AdamStep::apply) to each tensor of a model: what
    /// [`step`](Self::step) does for one tensor, without repeating the checks and the
    /// powers per tensor.
    ///
    /// ```
    /// use edgegrad::kernels::Adam;
    /// let (mut w, mut b) = ([1.0_f32; 3], [0.5_f32]);
    /// let (mut mw, mut vw, mut mb, mut vb) = ([0.0; 3], [0.0; 3], [0.0], [0.0]);
    /// let update = Adam::with_lr(0.1).prepare(1)?;
    /// update.apply(&mut w, &[1.0, -2.0, 0.0], &mut mw, &mut vw)?;
    /// update.apply(&mut b, &[3.0], &mut mb, &mut vb)?;
    /// assert!((w[0] - 0.9).abs() < 1e-6 && (b[0] - 0.4).abs() < 1e-6);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn prepare(&self, t: u32) -> Result<AdamStep> {
        self.validate()?;
        if t == 0 {
            return Err(Error::InvalidParameter {
                what: "adam step t",
                expected: "t >= 1 (steps count from 1)",
            });
        }
        let bc1 = 1.0 - libm::powf(self.beta1, t as f32);
        let bc2 = 1.0 - libm::powf(self.beta2, t as f32);
        let step = self.lr / bc1;
        if !step.is_finite() {
            return Err(Error::InvalidParameter {
                what: "adam lr",
                expected: "lr / (1 - beta1^t) finite",
            });
        }
        Ok(AdamStep {
            step,
            inv_sqrt_bc2: 1.0 / simd::sqrt_f32(bc2),
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            decay: 1.0 - self.lr * self.weight_decay,
        })
    }
}

/// One Adam step with its constants computed ([`Adam::prepare`]), ready to apply to
/// each parameter tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// `lr / (1 − β₁ᵗ)`.
    step: f32,
    /// `1 / √(1 − β₂ᵗ)`.
    inv_sqrt_bc2: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    /// `1 − lr·λ`.
    decay: f32,
}

impl AdamStep {
    /// Updates one tensor in place (the formulas of [`Adam::step`]); `grads`, `m` and
    /// `v` must have the length of `params`. An update that would store a non-finite
    /// value is [`Error::NonFinite`] and changes nothing, as in [`Adam::step`].
    pub fn apply(
        &self,
        params: &mut [f32],
        grads: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) -> Result<()> {
        Rule::Adam(*self).run(params, grads, m, v)
    }
}

/// Scales all gradients together so that their global norm `sqrt(Σₛ ‖gₛ‖²)` is at most
/// `max_norm` (PyTorch's `clip_grad_norm_`): if the norm `N` exceeds `max_norm`, every
/// element is multiplied by `max_norm / (N + 1e-6)`. Returns `N`, the norm before
/// clipping.
///
/// The remedy for exploding gradients. A NaN or infinite gradient is
/// [`Error::NonFinite`] (with `what` naming the clipping and `index` the first such
/// slice) and leaves the gradients unchanged, so a diverging step can be skipped. A
/// global norm too large for `f32` (above about 3.4·10³⁸, from finite elements) is
/// reported the same way, with `index` 0.
///
/// ```
/// let (mut a, mut b) = ([3.0_f32], [4.0_f32]);
/// let n = edgegrad::kernels::clip_grad_norm(&mut [&mut a, &mut b], 1.0)?;
/// assert_eq!(n, 5.0);
/// assert!((a[0] - 0.6).abs() < 1e-6 && (b[0] - 0.8).abs() < 1e-6);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn clip_grad_norm(grads: &mut [&mut [f32]], max_norm: f32) -> Result<f32> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::InvalidParameter {
            what: "clip_grad_norm max_norm",
            expected: "max_norm >= 0",
        });
    }
    let total = grads_norm(grads);
    if !total.is_finite() {
        let index = grads
            .iter()
            .position(|g| !global_norm(&[g]).is_finite())
            .unwrap_or(0);
        return Err(Error::NonFinite {
            what: "clip_grad_norm gradient slice",
            index,
        });
    }
    let [a, b] = clip_scale(total, max_norm);
    for g in grads.iter_mut() {
        if a != 1.0 {
            scale(a, g);
        }
        if b != 1.0 {
            scale(b, g);
        }
    }
    Ok(total)
}

/// The factor `max_norm / (N + 1e-6)` clipping multiplies gradients of norm `N` by (1
/// when `N ≤ max_norm`), as two factors applied one after the other: a factor below
/// `f32`'s normal range (a norm above about `10³⁸·max_norm`) would keep only a few
/// bits, so it is then `(2⁶⁴·max_norm/(N + 1e-6), 2⁻⁶⁴)`, both exact enough.
pub(crate) fn clip_scale(total: f32, max_norm: f32) -> [f32; 2] {
    if total <= max_norm {
        return [1.0; 2];
    }
    let k = max_norm / (total + 1e-6);
    if k == 0.0 || k >= f32::MIN_POSITIVE {
        return [k, 1.0];
    }
    const TWO_64: f32 = 18_446_744_073_709_551_616.0;
    [(max_norm * TWO_64) / (total + 1e-6), 1.0 / TWO_64]
}

/// Global norm of a list of mutable slices, without building a second list.
fn grads_norm(grads: &[&mut [f32]]) -> f32 {
    const BATCH: usize = 16;
    // global_norm takes shared slices; pass them in fixed-size batches (no allocation)
    // and combine the batch norms, which is itself a norm of norms.
    let mut total = 0.0_f32;
    for chunk in grads.chunks(BATCH) {
        let views: [&[f32]; BATCH] =
            core::array::from_fn(|i| chunk.get(i).map_or(&[][..], |g| &g[..]));
        let n = global_norm(&views[..chunk.len()]);
        total = global_norm(&[&[total, n][..]]);
    }
    total
}

/// Zeroes every gradient slice (before accumulating a new batch).
///
/// ```
/// let (mut a, mut b) = ([1.0_f32; 3], [2.0_f32; 2]);
/// edgegrad::kernels::zero_grads(&mut [&mut a, &mut b]);
/// assert_eq!((a, b), ([0.0; 3], [0.0; 2]));
/// ```
pub fn zero_grads(grads: &mut [&mut [f32]]) {
    for g in grads.iter_mut() {
        g.fill(0.0);
    }
}

/// Accumulates one example's gradient into a running sum: `acc ← acc + g`. After `n`
/// examples, one step with learning rate `lr/n` equals a step on the mean gradient.
///
/// ```
/// let mut acc = [0.0_f32; 2];
/// edgegrad::kernels::accumulate(&mut acc, &[1.0, 2.0])?;
/// edgegrad::kernels::accumulate(&mut acc, &[1.0, 2.0])?;
/// assert_eq!(acc, [2.0, 4.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn accumulate(acc: &mut [f32], g: &[f32]) -> Result<()> {
    add_assign(acc, g)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// xorshift64*: the tests' own generator (the crate has no RNG dependency here).
    fn next(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value whose magnitude is log-uniform over `1e-30 ..= 10^top`, either sign, and
    /// now and then zero, an infinity or NaN.
    fn value(state: &mut u64, top: f64) -> f32 {
        let r = next(state);
        match r % 64 {
            0 => 0.0,
            1 => f32::INFINITY,
            2 => f32::NAN,
            _ => {
                let e = -30.0 + (top + 30.0) * ((r >> 11) as f64 / (1u64 << 53) as f64);
                let x = libm::pow(10.0, e) as f32;
                if r & 64 == 0 { x } else { -x }
            }
        }
    }

    /// Whenever the cheap bound says an Adam update is finite, the exact check agrees:
    /// over random states from tiny to near `f32::MAX`, several step constants and
    /// clipping factors. The bound also has to pass ordinary states, or the fast path
    /// would never run.
    #[test]
    fn adam_bound_never_passes_a_non_finite_update() {
        let mut state = 0x9E37_79B9_7F4A_7C15;
        let configs = [
            Adam::with_lr(1e-3),
            Adam {
                lr: 0.5,
                beta1: 0.0,
                beta2: 0.0,
                eps: Adam::MIN_EPS,
                weight_decay: 1.5,
            },
            Adam {
                lr: 1e3,
                beta1: 0.99,
                beta2: 0.9999,
                eps: 1.0,
                weight_decay: 0.0,
            },
        ];
        let (mut passed, mut ordinary) = (0, 0);
        for config in configs {
            for t in [1, 7, 1000] {
                let c = config.prepare(t).unwrap();
                let rule = Rule::Adam(c);
                for trial in 0..4000 {
                    let n = 1 + (next(&mut state) % 40) as usize;
                    // Every fourth state is ordinary (magnitudes ≤ 10), the rest reach
                    // 1e38.
                    let top = if trial % 4 == 0 { 1.0 } else { 38.0 };
                    let mut draw =
                        |k: usize| -> Vec<f32> { (0..k).map(|_| value(&mut state, top)).collect() };
                    let (p, g, m) = (draw(n), draw(n), draw(n));
                    let v: Vec<f32> = draw(n)
                        .into_iter()
                        .map(|x| if trial % 16 == 1 { x } else { x.abs() })
                        .collect();
                    let gs = [[1.0, 1.0], [0.25, 3.0], [1e-3, 1e15], [1e30, 1e-30]][trial % 4];
                    if c.surely_finite(&p, &g, gs, &m, &v) {
                        passed += 1;
                        ordinary += usize::from(top == 1.0);
                        assert!(
                            !rule.any_non_finite(&p, &g, gs, &m, &v, 0..n),
                            "{config:?} t={t} gs={gs:?}\np={p:?}\ng={g:?}\nm={m:?}\nv={v:?}"
                        );
                    }
                }
            }
        }
        assert!(
            passed > 1000 && ordinary > 500,
            "{passed} passed, {ordinary} ordinary"
        );
    }
}

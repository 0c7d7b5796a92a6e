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
use crate::simd::{self, splat};

/// Plain SGD: `θ ← θ − lr·g`.
///
/// ```
/// let mut w = [1.0, 2.0];
/// edgegrad::kernels::sgd(&mut w, &[0.5, -0.5], 0.1)?;
/// assert_eq!(w, [0.95, 2.05]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn sgd(params: &mut [f32], grads: &[f32], lr: f32) -> Result<()> {
    check_len("sgd grads", params.len(), grads.len())?;
    let l = splat(lr);
    simd::update([params], [grads], |[p], [g]| [g.mul_neg_add(l, p)]);
    Ok(())
}

/// SGD with momentum (PyTorch's convention): `v ← μ·v + g`, `θ ← θ − lr·v`.
///
/// `velocity` has the parameters' shape and starts at zero; `0 ≤ μ < 1`.
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
    check_len("sgd_momentum grads", params.len(), grads.len())?;
    check_len("sgd_momentum velocity", params.len(), velocity.len())?;
    if !(0.0..1.0).contains(&momentum) {
        return Err(Error::InvalidParameter {
            what: "sgd_momentum momentum",
            expected: "0 <= momentum < 1",
        });
    }
    let (l, mu) = (splat(lr), splat(momentum));
    simd::update([params, velocity], [grads], |[p, v], [g]| {
        let v = v.mul_add(mu, g);
        [v.mul_neg_add(l, p), v]
    });
    Ok(())
}

/// Adam hyper-parameters (Kingma & Ba, 2015), with optional decoupled weight decay
/// (AdamW, Loshchilov & Hutter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// Learning rate `lr`.
    pub lr: f32,
    /// Decay of the first-moment estimate, `β₁` in `[0, 1)`.
    pub beta1: f32,
    /// Decay of the second-moment estimate, `β₂` in `[0, 1)`.
    pub beta2: f32,
    /// `ε` added to the denominator, `> 0`.
    pub eps: f32,
    /// Decoupled weight decay `λ ≥ 0` (0 for plain Adam).
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
    /// Adam with learning rate `lr` and the default other parameters.
    #[must_use]
    pub fn with_lr(lr: f32) -> Self {
        Adam {
            lr,
            ..Adam::default()
        }
    }

    /// Checks the hyper-parameters (what [`step`](Self::step) does first).
    pub fn validate(&self) -> Result<()> {
        let bad = |what, expected| Err(Error::InvalidParameter { what, expected });
        if !(0.0..1.0).contains(&self.beta1) {
            return bad("adam beta1", "0 <= beta1 < 1");
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return bad("adam beta2", "0 <= beta2 < 1");
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return bad("adam eps", "a finite eps > 0");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("adam weight_decay", "a finite weight_decay >= 0");
        }
        if !self.lr.is_finite() {
            return bad("adam lr", "a finite learning rate");
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
        Ok(AdamStep {
            step: self.lr / bc1,
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
    /// `v` must have the length of `params`.
    pub fn apply(
        &self,
        params: &mut [f32],
        grads: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) -> Result<()> {
        check_len("adam grads", params.len(), grads.len())?;
        check_len("adam m", params.len(), m.len())?;
        check_len("adam v", params.len(), v.len())?;
        let step = splat(self.step);
        let inv_sqrt_bc2 = splat(self.inv_sqrt_bc2);
        let (b1, b2) = (splat(self.beta1), splat(self.beta2));
        let (c1, c2) = (splat(1.0 - self.beta1), splat(1.0 - self.beta2));
        let decay = splat(self.decay);
        let eps = splat(self.eps);
        simd::update([params, m, v], [grads], |[p, m, v], [g]| {
            let m = b1.mul_add(m, c1 * g);
            let v = b2.mul_add(v, c2 * g * g);
            let denom = simd::sqrt(v).mul_add(inv_sqrt_bc2, eps);
            let p = (p * decay) - step * (m / denom);
            [p, m, v]
        });
        Ok(())
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
    if total > max_norm {
        let k = max_norm / (total + 1e-6);
        for g in grads.iter_mut() {
            scale(k, g);
        }
    }
    Ok(total)
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

//! The backward pass, gradient application and the training step, each a composition
//! of the kernels.

use crate::error::{Error, Result};
use crate::kernels::{self as k, Accum, Adam, AdamStep, MatMut, MatRef, Trans};

use super::cache::AttentionCache;
use super::forward::score_scale;
use super::model::{AttentionGrads, AttentionLm};

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
    /// Checks the hyper-parameters: a finite learning rate, `0 ≤ momentum < 1`, and
    /// Adam's own conditions.
    pub fn validate(&self) -> Result<()> {
        let (lr, momentum) = match *self {
            Optimizer::Sgd { lr } => (lr, 0.0),
            Optimizer::Momentum { lr, momentum } => (lr, momentum),
            Optimizer::Adam(adam) => return adam.validate(),
        };
        if !lr.is_finite() {
            return Err(Error::InvalidParameter {
                what: "optimizer lr",
                expected: "a finite learning rate",
            });
        }
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::InvalidParameter {
                what: "optimizer momentum",
                expected: "0 <= momentum < 1",
            });
        }
        Ok(())
    }
}

/// One step's update rule, with Adam's per-step constants computed once for all tensors.
enum Update {
    Sgd(f32),
    Momentum(f32, f32),
    Adam(AdamStep),
}

/// Settings of [`AttentionLm::train_step`].
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

/// Optimiser state for an [`AttentionLm`]: first and second moment estimates (the
/// first doubles as momentum SGD's velocity) and the step count.
#[derive(Debug)]
pub struct AttentionOptState<const V: usize, const T: usize, const D: usize, const DK: usize> {
    /// First moments (Adam) or velocities (momentum).
    pub m: AttentionLm<V, T, D, DK>,
    /// Second moments (Adam).
    pub v: AttentionLm<V, T, D, DK>,
    /// Number of updates taken so far.
    pub t: u32,
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize>
    AttentionOptState<V, T, D, DK>
{
    /// Fresh state: zero moments, no steps.
    pub const ZERO: Self = AttentionOptState {
        m: AttentionLm::ZERO,
        v: AttentionLm::ZERO,
        t: 0,
    };

    /// Bytes this struct takes.
    pub const BYTES: usize = core::mem::size_of::<Self>();

    /// Back to the fresh state.
    pub fn reset(&mut self) {
        self.m.zero();
        self.v.zero();
        self.t = 0;
    }
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionLm<V, T, D, DK> {
    /// Backward pass of the last [`forward`](Self::forward) in `cache`: adds `∂loss/∂θ`
    /// for every parameter to `grads` (so several sequences can be accumulated before
    /// one update; clear with [`zero`](Self::zero)).
    ///
    /// Each step is a kernel's backward function: the fused cross-entropy gradient,
    /// `matmul_tn`/`matmul_nt` for every product, `col_sum` for the bias,
    /// `softmax_backward` for each causal row, and row additions for the embeddings.
    pub fn backward(
        &self,
        c: &mut AttentionCache<V, T, D, DK>,
        grads: &mut AttentionGrads<V, T, D, DK>,
    ) -> Result<()> {
        let l = c.len;
        if l < 2 || c.loss.is_nan() {
            return Err(Error::InvalidParameter {
                what: "attention cache",
                expected: "a forward pass with a loss",
            });
        }
        // The last position has no target: its logits' gradient is zero, so the
        // vocabulary-wide products run over the first l − 1 rows only.
        let n = l - 1;
        let dlogits = c.dlogits.top(n)?;
        k::matmul_tn(c.h1.top(n)?, dlogits, grads.w_out.view_mut(), Accum::Add)?;
        k::col_sum(dlogits, grads.b_out.as_mut_slice(), Accum::Add)?;
        // dh1 = dlogits·w_outᵀ; it becomes dh0 below (the residual passes it through).
        k::matmul_nt(
            dlogits,
            self.w_out.view(),
            c.dh1.top_mut(n)?,
            Accum::Overwrite,
        )?;
        c.dh1.row_mut(n).fill(0.0);
        k::matmul_tn(
            c.ctx.top(l)?,
            c.dh1.top(l)?,
            grads.w_o.view_mut(),
            Accum::Add,
        )?;
        k::matmul_nt(
            c.dh1.top(l)?,
            self.w_o.view(),
            c.dctx.top_mut(l)?,
            Accum::Overwrite,
        )?;
        // ctx = p·v
        let p = MatRef::new(&c.p.as_slice()[..l * l], l, l)?;
        let dp = &mut c.dp.as_mut_slice()[..l * l];
        k::matmul_nt(
            c.dctx.top(l)?,
            c.v.top(l)?,
            MatMut::new(dp, l, l)?,
            Accum::Overwrite,
        )?;
        k::matmul_tn(p, c.dctx.top(l)?, c.dv.top_mut(l)?, Accum::Overwrite)?;
        // Causal softmax rows; the score scale goes into the products below.
        let ds = &mut c.ds.as_mut_slice()[..l * l];
        for (i, ((pr, dpr), dsr)) in p
            .row_iter()
            .zip(dp.chunks_exact(l))
            .zip(ds.chunks_exact_mut(l))
            .enumerate()
        {
            let (visible, future) = dsr.split_at_mut(i + 1);
            k::softmax_backward(&pr[..=i], &dpr[..=i], visible)?;
            future.fill(0.0);
        }
        let ds = MatRef::new(ds, l, l)?;
        let scale = score_scale::<DK>();
        // dq = ds·k/√DK, dk = dsᵀ·q/√DK
        k::gemm(
            scale,
            ds,
            Trans::N,
            c.k.top(l)?,
            Trans::N,
            0.0,
            c.dq.top_mut(l)?,
        )?;
        k::gemm(
            scale,
            ds,
            Trans::T,
            c.q.top(l)?,
            Trans::N,
            0.0,
            c.dk.top_mut(l)?,
        )?;
        // Projections: weight gradients, and their inputs' gradients added to dh0.
        let h0 = c.h0.top(l)?;
        for (dx, w, dw) in [
            (&c.dq, &self.w_q, &mut grads.w_q),
            (&c.dk, &self.w_k, &mut grads.w_k),
            (&c.dv, &self.w_v, &mut grads.w_v),
        ] {
            k::matmul_tn(h0, dx.top(l)?, dw.view_mut(), Accum::Add)?;
            k::matmul_nt(dx.top(l)?, w.view(), c.dh1.top_mut(l)?, Accum::Add)?;
        }
        // h0[i] = tok_emb[x[i]] + pos_emb[i]
        for (i, &t) in c.tokens[..l].iter().enumerate() {
            let dh0 = c.dh1.row(i);
            k::add_assign(grads.tok_emb.row_mut(usize::from(t)), dh0)?;
            k::add_assign(grads.pos_emb.row_mut(i), dh0)?;
        }
        Ok(())
    }

    /// Clips `grads` to `cfg.max_grad_norm` (if set) and updates the parameters with
    /// `cfg.optimizer`. Returns the gradient norm before clipping. Invalid settings
    /// ([`Error::InvalidParameter`]) and a non-finite gradient ([`Error::NonFinite`]) are
    /// found before anything changes: parameters, gradients and state stay as they were.
    pub fn apply_gradients(
        &mut self,
        grads: &mut AttentionGrads<V, T, D, DK>,
        state: &mut AttentionOptState<V, T, D, DK>,
        cfg: &TrainConfig,
    ) -> Result<f32> {
        cfg.optimizer.validate()?;
        let t = state.t.saturating_add(1);
        let update = match cfg.optimizer {
            Optimizer::Sgd { lr } => Update::Sgd(lr),
            Optimizer::Momentum { lr, momentum } => Update::Momentum(lr, momentum),
            Optimizer::Adam(adam) => Update::Adam(adam.prepare(t)?),
        };
        // Without a limit, clipping only checks that the gradients are finite.
        let norm = k::clip_grad_norm(
            &mut grads.tensors_mut(),
            cfg.max_grad_norm.unwrap_or(f32::INFINITY),
        )?;
        state.t = t;
        let params = self.tensors_mut();
        let moments = state.m.tensors_mut().into_iter().zip(state.v.tensors_mut());
        for ((p, g), (m, v)) in params.into_iter().zip(grads.tensors()).zip(moments) {
            match update {
                Update::Sgd(lr) => k::sgd(p, g, lr)?,
                Update::Momentum(lr, momentum) => k::sgd_momentum(p, g, m, lr, momentum)?,
                Update::Adam(step) => step.apply(p, g, m, v)?,
            }
        }
        Ok(norm)
    }

    /// One training step on one sequence: clear `grads`, [`forward`](Self::forward),
    /// [`backward`](Self::backward), then [`apply_gradients`](Self::apply_gradients).
    ///
    /// ```
    /// use edgegrad::attention::{AttentionCache, AttentionLm, AttentionOptState, Optimizer, TrainConfig};
    /// use edgegrad::kernels::Adam;
    /// use rand_core::SeedableRng;
    /// type Lm = AttentionLm<8, 6, 8, 8>;
    /// let (mut model, mut grads) = (Lm::ZERO, Lm::ZERO);
    /// let (mut cache, mut state) = (AttentionCache::ZERO, AttentionOptState::ZERO);
    /// model.init(&mut rand_pcg::Pcg32::seed_from_u64(3));
    /// let cfg = TrainConfig { optimizer: Optimizer::Adam(Adam::with_lr(0.05)), max_grad_norm: Some(1.0) };
    /// let first = model.train_step(&[1, 2, 3, 1, 2, 3], &mut cache, &mut grads, &mut state, &cfg)?;
    /// for _ in 0..50 {
    ///     model.train_step(&[1, 2, 3, 1, 2, 3], &mut cache, &mut grads, &mut state, &cfg)?;
    /// }
    /// assert!(model.forward(&[1, 2, 3, 1, 2, 3], &mut cache)? < first.loss / 4.0);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn train_step(
        &mut self,
        tokens: &[u16],
        cache: &mut AttentionCache<V, T, D, DK>,
        grads: &mut AttentionGrads<V, T, D, DK>,
        state: &mut AttentionOptState<V, T, D, DK>,
        cfg: &TrainConfig,
    ) -> Result<StepStats> {
        grads.zero();
        let loss = self.forward(tokens, cache)?;
        self.backward(cache, grads)?;
        let grad_norm = self.apply_gradients(grads, state, cfg)?;
        Ok(StepStats { loss, grad_norm })
    }
}

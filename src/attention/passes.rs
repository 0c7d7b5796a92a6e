//! The forward pass (on borrowed weights, so owned models and weights in flash share
//! it), the backward pass and the training step: each a composition of the layers of
//! [`crate::nn`], in the order of the formulas.

use crate::error::{Error, Result};
use crate::kernels::{self as k, Accum};
use crate::params;
use crate::train::{self, StepStats, TrainConfig};

use super::AttentionOptState;
use super::cache::{AttentionActivations, AttentionCache, attention_acts, attention_scratch};
use super::model::{AttentionGrads, AttentionLm, AttentionWeights};

impl<const V: usize, const T: usize, const D: usize, const DK: usize>
    AttentionWeights<'_, V, T, D, DK>
{
    /// Forward pass computing the logits of every position of `tokens`
    /// (`1 ≤ len ≤ T`, ids `< V`) into `acts` — `logits[i] = h1[i]·w_out + b_out`
    /// with `h1` as in the [`AttentionLm`] formulas; read them with
    /// [`AttentionActivations::logits`]. No loss is computed. An
    /// [`AttentionCache`] can be passed too (it holds an `AttentionActivations`).
    ///
    /// Tokens of the wrong length or with an id `≥ V` are refused before anything is
    /// written ([`Error::InvalidLength`](crate::Error::InvalidLength),
    /// [`Error::IndexOutOfRange`](crate::Error::IndexOutOfRange)). A value that is not
    /// finite on the way — NaN or infinite logits from weights that overflow `f32`
    /// (entries of about `10¹⁹`), found by the pass's kernels or the final check of the
    /// logits — is [`Error::NonFinite`](crate::Error::NonFinite), and the activations
    /// are then empty (`len() == 0`: no rows to read).
    pub fn forward_logits(
        &self,
        tokens: &[u16],
        acts: &mut AttentionActivations<V, T, D, DK>,
    ) -> Result<()> {
        AttentionLm::<V, T, D, DK>::check_tokens(tokens, 1)?;
        self.run_forward(tokens, acts)
    }

    /// Forward pass with the loss, the mean next-token cross-entropy (nats)
    ///
    /// ```text
    /// loss = −1/(L−1) · Σ_{i=0}^{L−2} log softmax(logits[i])[x[i+1]]     (2 ≤ L ≤ T)
    /// ```
    ///
    /// Also leaves in `cache` the fused gradient of the loss with respect to the logits,
    /// for [`AttentionLm::backward`]. Errors as [`forward_logits`](Self::forward_logits)'s
    /// (at least 2 tokens).
    pub fn forward(&self, tokens: &[u16], cache: &mut AttentionCache<V, T, D, DK>) -> Result<f32> {
        AttentionLm::<V, T, D, DK>::check_tokens(tokens, 2)?;
        self.run_forward(tokens, &mut cache.acts)?;
        let n = tokens.len() - 1;
        let loss = k::cross_entropy_batch(
            cache.acts.logits.top(n)?,
            &tokens[1..],
            None,
            cache.dlogits.top_mut(n)?,
        )
        .inspect_err(|_| cache.acts.len = 0)?;
        cache.acts.loss = loss;
        cache.acts.dlogits_ready = true;
        Ok(loss)
    }

    /// The same loss as [`forward`](Self::forward), for inference: no gradient, so an
    /// [`AttentionActivations`] suffices.
    ///
    /// ```
    /// use edgegrad::attention::{AttentionActivations, AttentionCache, AttentionLm};
    /// use rand_core::SeedableRng;
    /// type Lm = AttentionLm<8, 6, 8, 4>;
    /// let mut model = Lm::ZERO;
    /// model.init(&mut rand_pcg::Pcg32::seed_from_u64(7));
    /// let (mut acts, mut cache) = (AttentionActivations::ZERO, AttentionCache::ZERO);
    /// let loss = model.weights().loss(&[1, 2, 3], &mut acts)?;
    /// assert!((loss - model.forward(&[1, 2, 3], &mut cache)?).abs() < 1e-6);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn loss(
        &self,
        tokens: &[u16],
        acts: &mut AttentionActivations<V, T, D, DK>,
    ) -> Result<f32> {
        AttentionLm::<V, T, D, DK>::check_tokens(tokens, 2)?;
        self.run_forward(tokens, acts)?;
        let n = tokens.len() - 1;
        let loss = k::cross_entropy_batch_loss(acts.logits.top(n)?, &tokens[1..], None)
            .inspect_err(|_| {
                // A failed pass leaves no rows to read.
                acts.len = 0;
            })?;
        acts.loss = loss;
        Ok(loss)
    }

    // Out of line, so that a caller's frame does not hold its views (on a
    // microcontroller, the stacks of a caller and of what it calls add up).
    #[inline(never)]
    fn run_forward(&self, tokens: &[u16], a: &mut AttentionActivations<V, T, D, DK>) -> Result<()> {
        let l = tokens.len();
        // Empty until the pass succeeds: a failed pass leaves no rows to read.
        a.len = 0;
        a.loss = f32::NAN;
        a.dlogits_ready = false;
        a.tokens[..l].copy_from_slice(tokens);
        self.embedding().forward(tokens, a.h0.top_mut(l)?)?;
        // h1 = h0 + attention(h0)
        a.h1.as_mut_slice()[..l * D].copy_from_slice(&a.h0.as_slice()[..l * D]);
        let mut acts = attention_acts(&mut a.qkv, &mut a.p, &mut a.ctx, l)?;
        self.attention()
            .forward(a.h0.top(l)?, &mut acts, a.h1.top_mut(l)?, Accum::Add)?;
        self.head()
            .forward(a.h1.top(l)?, a.logits.top_mut(l)?, Accum::Overwrite)?;
        // Finite weights can still overflow (entries of 1e38): no NaN leaves with Ok.
        k::check_finite("output layer logits", &a.logits.as_slice()[..l * V])?;
        a.len = l;
        Ok(())
    }
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionLm<V, T, D, DK> {
    /// Forward pass computing the logits of every position of `tokens`
    /// (`1 ≤ len ≤ T`, ids `< V`) into `acts`; read them with
    /// [`AttentionActivations::logits`]. No loss is computed.
    pub fn forward_logits(
        &self,
        tokens: &[u16],
        acts: &mut AttentionActivations<V, T, D, DK>,
    ) -> Result<()> {
        self.weights().forward_logits(tokens, acts)
    }

    /// Forward pass with the loss: the mean next-token cross-entropy over positions
    /// `0..len-1` (`2 ≤ len ≤ T`). Also leaves in `cache` the fused gradient of the loss
    /// with respect to the logits, for [`backward`](Self::backward).
    ///
    /// ```
    /// use edgegrad::attention::{AttentionCache, AttentionLm};
    /// use rand_core::SeedableRng;
    /// type Lm = AttentionLm<8, 6, 8, 4>;
    /// let mut model = Lm::ZERO;
    /// model.init(&mut rand_pcg::Pcg32::seed_from_u64(7));
    /// let mut cache = AttentionCache::ZERO;
    /// let loss = model.forward(&[1, 2, 3, 4], &mut cache)?;
    /// assert!(loss > 0.0);
    /// assert!(model.forward(&[1], &mut cache).is_err()); // nothing to predict
    /// assert!(model.forward(&[1, 8], &mut cache).is_err()); // token out of range
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn forward(&self, tokens: &[u16], cache: &mut AttentionCache<V, T, D, DK>) -> Result<f32> {
        self.weights().forward(tokens, cache)
    }

    /// Backward pass of the last [`forward`](Self::forward) in `cache`: adds `∂loss/∂θ`
    /// for every parameter to `grads` (so several sequences can be accumulated before
    /// one update; clear with [`zero`](Self::zero)).
    ///
    /// Refused with nothing changed: a cache without a successful [`forward`](Self::forward)
    /// ([`Error::InvalidParameter`]). An error on the way ([`Error::NonFinite`]: a value
    /// that is not finite in a product or, after the last layer, in a gradient — values
    /// beyond `f32`'s range, which finite weights whose forward pass succeeded make rare)
    /// leaves `grads` with the part already added; zero them before the next sequence.
    ///
    /// The layers' backward passes in reverse order: the output layer (over the
    /// positions that have a target), the attention (whose input gradient adds to the
    /// residual's), the embeddings.
    pub fn backward(
        &self,
        c: &mut AttentionCache<V, T, D, DK>,
        grads: &mut AttentionGrads<V, T, D, DK>,
    ) -> Result<()> {
        if c.acts.len < 2 || !c.acts.dlogits_ready {
            return Err(Error::InvalidParameter {
                what: "attention cache",
                expected: "a forward pass with a loss",
            });
        }
        self.backward_head(c, grads)?;
        self.backward_attention(c, grads)?;
        self.backward_embedding(c, grads)?;
        params::check_finite("attention gradients", grads)
    }

    // Each layer's backward pass out of line: on a microcontroller the stacks of a
    // caller and of what it calls add up, and one frame holding every layer's views
    // measured 800 bytes on RV32IMAC.

    /// `dh = ∂L/∂h1` and the output layer's gradients. The last position has no
    /// target: its logits' gradient is zero, so the vocabulary-wide products run over
    /// the first `l − 1` rows only.
    #[inline(never)]
    fn backward_head(
        &self,
        c: &mut AttentionCache<V, T, D, DK>,
        grads: &mut AttentionGrads<V, T, D, DK>,
    ) -> Result<()> {
        let n = c.acts.len - 1;
        self.weights().head().backward(
            c.acts.h1.top(n)?,
            c.dlogits.top(n)?,
            &mut grads.head_grads(),
            Some((c.dh.top_mut(n)?, Accum::Overwrite)),
        )?;
        c.dh.row_mut(n).fill(0.0);
        Ok(())
    }

    /// The attention's gradients; its input gradient adds to `dh`, which the residual
    /// passes to `h0` unchanged.
    #[inline(never)]
    fn backward_attention(
        &self,
        c: &mut AttentionCache<V, T, D, DK>,
        grads: &mut AttentionGrads<V, T, D, DK>,
    ) -> Result<()> {
        let l = c.acts.len;
        let a = &mut c.acts;
        let acts = attention_acts(&mut a.qkv, &mut a.p, &mut a.ctx, l)?;
        let mut scratch = attention_scratch(&mut c.dctx, &mut c.dp, &mut c.dqkv, l)?;
        let w = self.weights();
        let attn = w.attention();
        let mut g_attn = grads.attention_grads();
        attn.backward_output(&acts, c.dh.top(l)?, &mut g_attn.proj, &mut scratch)?;
        attn.backward_input(
            a.h0.top(l)?,
            &acts,
            &mut g_attn.qkv,
            &mut scratch,
            (c.dh.top_mut(l)?, Accum::Add),
        )
    }

    /// The embeddings' gradients from `∂L/∂h0`.
    #[inline(never)]
    fn backward_embedding(
        &self,
        c: &mut AttentionCache<V, T, D, DK>,
        grads: &mut AttentionGrads<V, T, D, DK>,
    ) -> Result<()> {
        let l = c.acts.len;
        self.weights().embedding().backward(
            &c.acts.tokens[..l],
            c.dh.top(l)?,
            &mut grads.embedding_grads(),
        )
    }

    /// Clips `grads` to `cfg.max_grad_norm` (if set) and updates the parameters with
    /// `cfg.optimizer` ([`train::apply_gradients`]). Returns the gradient norm before
    /// clipping. Invalid settings ([`Error::InvalidParameter`]) and a non-finite
    /// gradient ([`Error::NonFinite`]) are found before anything changes: parameters,
    /// gradients and state stay as they were.
    pub fn apply_gradients(
        &mut self,
        grads: &mut AttentionGrads<V, T, D, DK>,
        state: &mut AttentionOptState<V, T, D, DK>,
        cfg: &TrainConfig,
    ) -> Result<f32> {
        train::apply_gradients(self, grads, state, cfg)
    }

    /// One training step on one sequence: [`forward`](Self::forward), clear `grads`,
    /// [`backward`](Self::backward), then [`apply_gradients`](Self::apply_gradients). An
    /// error in the forward pass (bad tokens, a non-finite logit) changes neither the
    /// model nor `grads` nor `state`; one from `apply_gradients` leaves the model and
    /// the state unchanged and `grads` holding this sequence's gradients.
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
        train::step(self, tokens, cache, grads, state, cfg)
    }
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> train::LanguageModel
    for AttentionLm<V, T, D, DK>
{
    type Cache = AttentionCache<V, T, D, DK>;
    fn forward(&self, tokens: &[u16], cache: &mut Self::Cache) -> Result<f32> {
        self.forward(tokens, cache)
    }
    fn backward(&self, cache: &mut Self::Cache, grads: &mut Self) -> Result<()> {
        self.backward(cache, grads)
    }
}

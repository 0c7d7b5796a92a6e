//! The forward pass (on borrowed weights, so owned models and weights in flash share
//! it), the backward pass and the training step: the embedding, a loop over the blocks,
//! the final LayerNorm and the tied output layer, in the order of the formulas.

use crate::error::{Error, Result};
use crate::kernels::{self as k, Accum};
use crate::params;
use crate::train::{self, StepStats, TrainConfig};

use super::GptOptState;
use super::cache::{GptActivations, GptCache};
use super::model::{Gpt, GptGrads, GptWeights};

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    GptWeights<'_, V, T, D, N, F, L>
{
    /// Forward pass computing the logits of every position of `tokens`
    /// (`1 ≤ len ≤ T`, ids `< V`) into `acts`; read them with
    /// [`GptActivations::logits`]. No loss is computed. A [`GptCache`] can be passed too
    /// (it holds a `GptActivations`).
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
        acts: &mut GptActivations<V, T, D, N, F, L>,
    ) -> Result<()> {
        Gpt::<V, T, D, N, F, L>::check_tokens(tokens, 1)?;
        self.run_forward(tokens, acts)
    }

    /// Forward pass with the loss, the mean next-token cross-entropy (nats) over
    /// positions `0..len−1` (`2 ≤ len ≤ T`). Also leaves in `cache` the fused gradient of
    /// the loss with respect to the logits, for [`Gpt::backward`]. Errors as
    /// [`forward_logits`](Self::forward_logits)'s (at least 2 tokens).
    pub fn forward(&self, tokens: &[u16], cache: &mut GptCache<V, T, D, N, F, L>) -> Result<f32> {
        Gpt::<V, T, D, N, F, L>::check_tokens(tokens, 2)?;
        self.run_forward(tokens, &mut cache.acts)?;
        let n = tokens.len() - 1;
        let loss = k::cross_entropy_batch(
            cache.acts.logits.top(n)?,
            &tokens[1..],
            None,
            cache.scratch.dlogits.top_mut(n)?,
        )
        .inspect_err(|_| cache.acts.len = 0)?;
        cache.acts.loss = loss;
        cache.acts.dlogits_ready = true;
        Ok(loss)
    }

    /// The same loss as [`forward`](Self::forward), for inference: no gradient, so a
    /// [`GptActivations`] suffices.
    ///
    /// ```
    /// use edgegrad::gpt::{Gpt, GptActivations, GptCache};
    /// use rand_core::SeedableRng;
    /// type Tiny = Gpt<8, 6, 8, 2, 16, 1>;
    /// let mut model = Box::new(Tiny::ZERO);
    /// model.init(&mut rand_pcg::Pcg32::seed_from_u64(7));
    /// let (mut acts, mut cache) = (Box::new(GptActivations::ZERO), Box::new(GptCache::ZERO));
    /// let loss = model.weights().loss(&[1, 2, 3], &mut acts)?;
    /// assert!((loss - model.forward(&[1, 2, 3], &mut cache)?).abs() < 1e-6);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn loss(&self, tokens: &[u16], acts: &mut GptActivations<V, T, D, N, F, L>) -> Result<f32> {
        Gpt::<V, T, D, N, F, L>::check_tokens(tokens, 2)?;
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
    fn run_forward(&self, tokens: &[u16], a: &mut GptActivations<V, T, D, N, F, L>) -> Result<()> {
        let () = Gpt::<V, T, D, N, F, L>::HEADS_DIVIDE_WIDTH;
        let l = tokens.len();
        // Empty until the pass succeeds: a failed pass leaves no rows to read.
        a.len = 0;
        a.loss = f32::NAN;
        a.dlogits_ready = false;
        a.tokens[..l].copy_from_slice(tokens);
        self.embedding().forward(tokens, a.x0.top_mut(l)?)?;
        for (i, block) in self.h.iter().enumerate() {
            let (before, rest) = a.blocks.split_at_mut(i);
            let x = match before.last() {
                Some(prev) => prev.out.top(l)?,
                None => a.x0.top(l)?,
            };
            if let Some(b) = rest.first_mut() {
                block.layers(N).forward(x, b)?;
            }
        }
        let x = match a.blocks.last() {
            Some(last) => last.out.top(l)?,
            None => a.x0.top(l)?,
        };
        self.ln_f()
            .forward(x, a.ln_f.top_mut(l)?, &mut a.ln_f_stats[..l])?;
        self.embedding()
            .logits(a.ln_f.top(l)?, a.logits.top_mut(l)?)?;
        a.len = l;
        Ok(())
    }
}

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    Gpt<V, T, D, N, F, L>
{
    /// Forward pass computing the logits of every position of `tokens` into `acts`
    /// (see [`GptWeights::forward_logits`]).
    pub fn forward_logits(
        &self,
        tokens: &[u16],
        acts: &mut GptActivations<V, T, D, N, F, L>,
    ) -> Result<()> {
        self.weights().forward_logits(tokens, acts)
    }

    /// Forward pass with the loss (`2 ≤ len ≤ T`), leaving `∂L/∂logits` in `cache` for
    /// [`backward`](Self::backward).
    ///
    /// ```
    /// use edgegrad::gpt::{Gpt, GptCache};
    /// use rand_core::SeedableRng;
    /// type Tiny = Gpt<8, 6, 8, 2, 16, 2>;
    /// let mut model = Box::new(Tiny::ZERO);
    /// model.init(&mut rand_pcg::Pcg32::seed_from_u64(7));
    /// let mut cache = Box::new(GptCache::ZERO);
    /// let loss = model.forward(&[1, 2, 3, 4], &mut cache)?;
    /// assert!((loss - 8f32.ln()).abs() < 0.1); // near uniform at initialisation
    /// assert!(model.forward(&[1], &mut cache).is_err()); // nothing to predict
    /// assert!(model.forward(&[1, 8], &mut cache).is_err()); // token out of range
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    // Out of line, like the passes it calls: a training loop's frame need not hold the
    // weights' view (the stacks of callers and callees add up on a microcontroller).
    #[inline(never)]
    pub fn forward(&self, tokens: &[u16], cache: &mut GptCache<V, T, D, N, F, L>) -> Result<f32> {
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
    /// The layers' backward passes in reverse order: the tied output layer (over the
    /// positions that have a target) and the final LayerNorm, the blocks from the last
    /// to the first, the embeddings.
    #[inline(never)]
    pub fn backward(
        &self,
        c: &mut GptCache<V, T, D, N, F, L>,
        grads: &mut GptGrads<V, T, D, N, F, L>,
    ) -> Result<()> {
        if c.acts.len < 2 || !c.acts.dlogits_ready {
            return Err(Error::InvalidParameter {
                what: "gpt cache",
                expected: "a forward pass with a loss",
            });
        }
        self.backward_head(c, grads)?;
        let w = self.weights();
        for i in (0..L).rev() {
            let (before, rest) = c.acts.blocks.split_at_mut(i);
            let l = c.acts.len;
            let x = match before.last() {
                Some(prev) => prev.out.top(l)?,
                None => c.acts.x0.top(l)?,
            };
            if let (Some(b), Some(layers), Some(g)) =
                (rest.first_mut(), w.h.get(i), grads.h.get_mut(i))
            {
                layers
                    .layers(N)
                    .backward(x, b, &mut g.grads(), &mut c.scratch)?;
            }
        }
        let l = c.acts.len;
        w.embedding().backward(
            &c.acts.tokens[..l],
            c.scratch.dresid.top(l)?,
            &mut grads.embedding_grads(),
        )?;
        params::check_finite("gpt gradients", grads)
    }

    /// The output layer's and the final LayerNorm's backward passes, leaving
    /// `∂L/∂x` of the last block's output in the scratch's `dresid`. The last position
    /// has no target: its logits' gradient is zero, so the vocabulary-wide products run
    /// over the first `l − 1` rows only.
    // Out of line: each stage's views in a frame of its own.
    #[inline(never)]
    fn backward_head(
        &self,
        c: &mut GptCache<V, T, D, N, F, L>,
        grads: &mut GptGrads<V, T, D, N, F, L>,
    ) -> Result<()> {
        let w = self.weights();
        let (a, s) = (&c.acts, &mut c.scratch);
        let l = a.len;
        let n = l - 1;
        w.embedding().logits_backward(
            a.ln_f.top(n)?,
            s.dlogits.top(n)?,
            &mut grads.embedding_grads(),
            (s.dln.top_mut(n)?, Accum::Overwrite),
        )?;
        s.dln.row_mut(n).fill(0.0);
        w.ln_f().backward(
            a.block_input(L).top(l)?,
            &a.ln_f_stats[..l],
            s.dln.top(l)?,
            &mut grads.ln_f_grads(),
            (s.dresid.top_mut(l)?, Accum::Overwrite),
        )
    }

    /// Clips `grads` to `cfg.max_grad_norm` (if set) and updates the parameters with
    /// `cfg.optimizer` ([`train::apply_gradients`]). Returns the gradient norm before
    /// clipping. Invalid settings and a non-finite gradient are found before anything
    /// changes.
    pub fn apply_gradients(
        &mut self,
        grads: &mut GptGrads<V, T, D, N, F, L>,
        state: &mut GptOptState<V, T, D, N, F, L>,
        cfg: &TrainConfig,
    ) -> Result<f32> {
        train::apply_gradients(self, grads, state, cfg)
    }

    /// One training step on one sequence: [`forward`](Self::forward), clear `grads`,
    /// [`backward`](Self::backward), then [`apply_gradients`](Self::apply_gradients). An
    /// error in the forward pass changes neither the model nor `grads` nor `state`; one
    /// from `apply_gradients` leaves the model and the state unchanged and `grads`
    /// holding this sequence's gradients.
    ///
    /// ```
    /// use edgegrad::gpt::{Gpt, GptCache, GptOptState, Optimizer, TrainConfig};
    /// use edgegrad::kernels::Adam;
    /// use rand_core::SeedableRng;
    /// type Tiny = Gpt<8, 6, 8, 2, 16, 1>;
    /// let (mut model, mut grads) = (Box::new(Tiny::ZERO), Box::new(Tiny::ZERO));
    /// let (mut cache, mut state) = (Box::new(GptCache::ZERO), Box::new(GptOptState::ZERO));
    /// model.init(&mut rand_pcg::Pcg32::seed_from_u64(3));
    /// let cfg = TrainConfig { optimizer: Optimizer::Adam(Adam::with_lr(0.02)), max_grad_norm: Some(1.0) };
    /// let text = [1, 2, 3, 1, 2, 3];
    /// let first = model.train_step(&text, &mut cache, &mut grads, &mut state, &cfg)?;
    /// for _ in 0..60 {
    ///     model.train_step(&text, &mut cache, &mut grads, &mut state, &cfg)?;
    /// }
    /// assert!(model.forward(&text, &mut cache)? < first.loss / 4.0);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn train_step(
        &mut self,
        tokens: &[u16],
        cache: &mut GptCache<V, T, D, N, F, L>,
        grads: &mut GptGrads<V, T, D, N, F, L>,
        state: &mut GptOptState<V, T, D, N, F, L>,
        cfg: &TrainConfig,
    ) -> Result<StepStats> {
        train::step(self, tokens, cache, grads, state, cfg)
    }
}

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    train::LanguageModel for Gpt<V, T, D, N, F, L>
{
    type Cache = GptCache<V, T, D, N, F, L>;
    fn forward(&self, tokens: &[u16], cache: &mut Self::Cache) -> Result<f32> {
        self.forward(tokens, cache)
    }
    fn backward(&self, cache: &mut Self::Cache, grads: &mut Self) -> Result<()> {
        self.backward(cache, grads)
    }
}

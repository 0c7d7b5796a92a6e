//! The forward pass, on borrowed weights, so owned models and weights in flash share it.

use crate::error::Result;
use crate::kernels::{self as k, Accum, MatMut, MatRef, Trans};
use crate::tensor::view_of;

use super::cache::AttentionCache;
use super::model::AttentionLm;
use super::model::AttentionWeights;

/// `1/√DK`, the attention score scale.
pub(super) fn score_scale<const DK: usize>() -> f32 {
    1.0 / libm::sqrtf(DK as f32)
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize>
    AttentionWeights<'_, V, T, D, DK>
{
    /// Forward pass computing the logits of every position of `tokens`
    /// (`1 ≤ len ≤ T`, ids `< V`) into `cache` — `logits[i] = h1[i]·w_out + b_out`
    /// with `h1` as in the [`AttentionLm`] formulas; read them with
    /// [`AttentionCache::logits`]. No loss is computed.
    pub fn forward_logits(
        &self,
        tokens: &[u16],
        cache: &mut AttentionCache<V, T, D, DK>,
    ) -> Result<()> {
        AttentionLm::<V, T, D, DK>::check_tokens(tokens, 1)?;
        self.run_forward(tokens, cache)
    }

    /// Forward pass with the loss, the mean next-token cross-entropy (nats)
    ///
    /// ```text
    /// loss = −1/(L−1) · Σ_{i=0}^{L−2} log softmax(logits[i])[x[i+1]]     (2 ≤ L ≤ T)
    /// ```
    ///
    /// Also leaves in `cache` the fused gradient of the loss with respect to the logits,
    /// for [`AttentionLm::backward`].
    pub fn forward(&self, tokens: &[u16], cache: &mut AttentionCache<V, T, D, DK>) -> Result<f32> {
        AttentionLm::<V, T, D, DK>::check_tokens(tokens, 2)?;
        self.run_forward(tokens, cache)?;
        let n = tokens.len() - 1;
        let loss = k::cross_entropy_batch(
            cache.logits.top(n)?,
            &tokens[1..],
            None,
            cache.dlogits.top_mut(n)?,
        )?;
        cache.loss = loss;
        Ok(loss)
    }

    fn run_forward(&self, tokens: &[u16], c: &mut AttentionCache<V, T, D, DK>) -> Result<()> {
        let l = tokens.len();
        c.len = l;
        c.loss = f32::NAN;
        c.tokens[..l].copy_from_slice(tokens);
        for (i, &t) in tokens.iter().enumerate() {
            k::add(
                &self.tok_emb[usize::from(t)],
                &self.pos_emb[i],
                c.h0.row_mut(i),
            )?;
        }
        let h0 = c.h0.top(l)?;
        k::matmul(h0, view_of(self.w_q), c.q.top_mut(l)?, Accum::Overwrite)?;
        k::matmul(h0, view_of(self.w_k), c.k.top_mut(l)?, Accum::Overwrite)?;
        k::matmul(h0, view_of(self.w_v), c.v.top_mut(l)?, Accum::Overwrite)?;
        // s = q·kᵀ/√DK, then a causal softmax: row i over positions 0..=i only.
        let p = &mut c.p.as_mut_slice()[..l * l];
        k::gemm(
            score_scale::<DK>(),
            c.q.top(l)?,
            Trans::N,
            c.k.top(l)?,
            Trans::T,
            0.0,
            MatMut::new(p, l, l)?,
        )?;
        for (i, row) in p.chunks_exact_mut(l).enumerate() {
            let (visible, future) = row.split_at_mut(i + 1);
            k::softmax_in_place(visible)?;
            future.fill(0.0);
        }
        k::matmul(
            MatRef::new(p, l, l)?,
            c.v.top(l)?,
            c.ctx.top_mut(l)?,
            Accum::Overwrite,
        )?;
        // h1 = h0 + ctx·w_o
        c.h1.as_mut_slice()[..l * D].copy_from_slice(&c.h0.as_slice()[..l * D]);
        k::matmul(
            c.ctx.top(l)?,
            view_of(self.w_o),
            c.h1.top_mut(l)?,
            Accum::Add,
        )?;
        k::matmul(
            c.h1.top(l)?,
            view_of(self.w_out),
            c.logits.top_mut(l)?,
            Accum::Overwrite,
        )?;
        k::add_bias(c.logits.top_mut(l)?, self.b_out)
    }
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionLm<V, T, D, DK> {
    /// Forward pass computing the logits of every position of `tokens`
    /// (`1 ≤ len ≤ T`, ids `< V`) into `cache`; read them with
    /// [`AttentionCache::logits`]. No loss is computed.
    pub fn forward_logits(
        &self,
        tokens: &[u16],
        cache: &mut AttentionCache<V, T, D, DK>,
    ) -> Result<()> {
        self.weights().forward_logits(tokens, cache)
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
}

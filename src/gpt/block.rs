//! One transformer block's forward and backward passes, side by side: pre-LayerNorm
//! attention and MLP, each added to the residual stream.

use crate::error::Result;
use crate::kernels::{Accum, MatMut, MatRef};

use super::cache::{BlockActs, GptScratch, attention_acts, attention_scratch, mlp_acts};
use super::model::{BlockGrads, BlockLayers};

impl BlockLayers<'_> {
    /// `mid = x + attention(ln_1(x))`, `out = mid + mlp(ln_2(mid))` over the `l` rows of
    /// `x`, keeping every intermediate in `b`.
    pub(super) fn forward<const T: usize, const D: usize, const N: usize, const F: usize>(
        &self,
        x: MatRef<'_>,
        b: &mut BlockActs<T, D, N, F>,
    ) -> Result<()> {
        let l = x.rows();
        self.ln_1
            .forward(x, b.ln_1.top_mut(l)?, &mut b.ln_1_stats[..l])?;
        copy_rows(x, b.mid.top_mut(l)?);
        let mut acts = attention_acts(&mut b.qkv, &mut b.probs, &mut b.ctx, l)?;
        self.attn
            .forward(b.ln_1.top(l)?, &mut acts, b.mid.top_mut(l)?, Accum::Add)?;
        self.ln_2
            .forward(b.mid.top(l)?, b.ln_2.top_mut(l)?, &mut b.ln_2_stats[..l])?;
        copy_rows(b.mid.top(l)?, b.out.top_mut(l)?);
        let mut acts = mlp_acts(&mut b.pre, &mut b.post, l)?;
        self.mlp
            .forward(b.ln_2.top(l)?, &mut acts, b.out.top_mut(l)?, Accum::Add)
    }

    /// Backward pass of [`forward`](Self::forward) on input `x`: with `s.dresid` holding
    /// `∂L/∂out` on entry, adds every parameter's gradient to `g` and leaves `∂L/∂x` in
    /// `s.dresid` (the residual passes the gradient through; each branch adds its part).
    #[inline(never)]
    pub(super) fn backward<
        const V: usize,
        const T: usize,
        const D: usize,
        const N: usize,
        const F: usize,
    >(
        &self,
        x: MatRef<'_>,
        b: &mut BlockActs<T, D, N, F>,
        g: &mut BlockGrads<'_>,
        s: &mut GptScratch<V, T, D, F>,
    ) -> Result<()> {
        let l = x.rows();
        // The MLP branch: ∂L/∂ln_2, then through ln_2 into ∂L/∂mid.
        let acts = mlp_acts(&mut b.pre, &mut b.post, l)?;
        self.mlp.backward(
            b.ln_2.top(l)?,
            &acts,
            s.dresid.top(l)?,
            &mut g.mlp,
            s.dhidden.top_mut(l)?,
            (s.dln.top_mut(l)?, Accum::Overwrite),
        )?;
        self.ln_2.backward(
            b.mid.top(l)?,
            &b.ln_2_stats[..l],
            s.dln.top(l)?,
            &mut g.ln_2,
            (s.dresid.top_mut(l)?, Accum::Add),
        )?;
        // The attention branch: ∂L/∂ln_1, then through ln_1 into ∂L/∂x.
        let acts = attention_acts(&mut b.qkv, &mut b.probs, &mut b.ctx, l)?;
        let mut scratch = attention_scratch(&mut s.dctx, &mut s.dprobs, &mut s.dqkv, l)?;
        self.attn
            .backward_output(&acts, s.dresid.top(l)?, &mut g.attn.proj, &mut scratch)?;
        self.attn.backward_input(
            b.ln_1.top(l)?,
            &acts,
            &mut g.attn.qkv,
            &mut scratch,
            (s.dln.top_mut(l)?, Accum::Overwrite),
        )?;
        self.ln_1.backward(
            x,
            &b.ln_1_stats[..l],
            s.dln.top(l)?,
            &mut g.ln_1,
            (s.dresid.top_mut(l)?, Accum::Add),
        )
    }
}

/// Copies the rows of `x` into `y` (same shape, both contiguous as the caches' views
/// are).
fn copy_rows(x: MatRef<'_>, mut y: MatMut<'_>) {
    y.as_mut_slice().copy_from_slice(x.as_slice());
}

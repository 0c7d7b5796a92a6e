//! The activation caches: what a forward pass computes ([`GptActivations`], all that
//! inference needs) and, for training, that plus the backward pass's buffers
//! ([`GptCache`]).

use core::ops::{Deref, DerefMut};

use crate::error::Result;
use crate::kernels::MatMut;
use crate::nn::{AttentionActs, AttentionScratch, MlpActs};
use crate::tensor::Matrix;

/// What one block's forward pass over up to `T` positions keeps for its backward pass
/// (the first `len` rows of each are meaningful).
#[derive(Debug)]
pub(crate) struct BlockActs<const T: usize, const D: usize, const N: usize, const F: usize> {
    /// `ln_1(x)`, and each row's `[μ, 1/σ]`.
    pub ln_1: Matrix<T, D>,
    pub ln_1_stats: [[f32; 2]; T],
    /// `q | k | v`.
    pub qkv: [[[f32; D]; 3]; T],
    /// Each head's `len × len` probabilities, compact, head after head.
    pub probs: [[[f32; T]; T]; N],
    /// The heads' outputs side by side.
    pub ctx: Matrix<T, D>,
    /// The residual stream after the attention: `x + attention(ln_1(x))`.
    pub mid: Matrix<T, D>,
    /// `ln_2(mid)`, and its statistics.
    pub ln_2: Matrix<T, D>,
    pub ln_2_stats: [[f32; 2]; T],
    /// The MLP's hidden layer before and after GELU.
    pub pre: Matrix<T, F>,
    pub post: Matrix<T, F>,
    /// The block's output: `mid + mlp(ln_2(mid))`, the next block's input.
    pub out: Matrix<T, D>,
}

impl<const T: usize, const D: usize, const N: usize, const F: usize> BlockActs<T, D, N, F> {
    const ZERO: Self = BlockActs {
        ln_1: Matrix::ZERO,
        ln_1_stats: [[0.0; 2]; T],
        qkv: [[[0.0; D]; 3]; T],
        probs: [[[0.0; T]; T]; N],
        ctx: Matrix::ZERO,
        mid: Matrix::ZERO,
        ln_2: Matrix::ZERO,
        ln_2_stats: [[0.0; 2]; T],
        pre: Matrix::ZERO,
        post: Matrix::ZERO,
        out: Matrix::ZERO,
    };
}

/// `q | k | v` of `l` positions as an `l × 3D` view.
fn qkv_rows<const T: usize, const D: usize>(
    qkv: &mut [[[f32; D]; 3]; T],
    l: usize,
) -> Result<MatMut<'_>> {
    MatMut::new(
        &mut qkv.as_flattened_mut().as_flattened_mut()[..l * 3 * D],
        l,
        3 * D,
    )
}

/// The attention layer's view of a block's activations over `l` positions.
pub(crate) fn attention_acts<'a, const T: usize, const D: usize, const N: usize>(
    qkv: &'a mut [[[f32; D]; 3]; T],
    probs: &'a mut [[[f32; T]; T]; N],
    ctx: &'a mut Matrix<T, D>,
    l: usize,
) -> Result<AttentionActs<'a>> {
    Ok(AttentionActs {
        qkv: qkv_rows(qkv, l)?,
        probs: &mut probs.as_flattened_mut().as_flattened_mut()[..N * l * l],
        ctx: ctx.top_mut(l)?,
    })
}

/// The MLP's view of a block's activations over `l` positions.
pub(crate) fn mlp_acts<'a, const T: usize, const F: usize>(
    pre: &'a mut Matrix<T, F>,
    post: &'a mut Matrix<T, F>,
    l: usize,
) -> Result<MlpActs<'a>> {
    Ok(MlpActs {
        pre: pre.top_mut(l)?,
        post: post.top_mut(l)?,
    })
}

/// The attention layer's backward scratch over `l` positions.
pub(crate) fn attention_scratch<'a, const T: usize, const D: usize>(
    dctx: &'a mut Matrix<T, D>,
    dprobs: &'a mut Matrix<T, T>,
    dqkv: &'a mut [[[f32; D]; 3]; T],
    l: usize,
) -> Result<AttentionScratch<'a>> {
    Ok(AttentionScratch {
        dctx: dctx.top_mut(l)?,
        dprobs: &mut dprobs.as_mut_slice()[..l * l],
        dqkv: qkv_rows(dqkv, l)?,
    })
}

/// Activations of one forward pass of a [`Gpt<V, T, D, N, F, L>`](super::Gpt) over up to
/// `T` tokens: the embeddings, every block's LayerNorms, attention (q, k, v,
/// probabilities, context), residual stream and MLP, the final LayerNorm and the
/// logits. Enough for inference; training needs a [`GptCache`], which holds one of
/// these (and dereferences to it) plus the backward pass's buffers.
#[derive(Debug)]
pub struct GptActivations<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
> {
    /// Number of tokens of the last forward pass (0 until one succeeds).
    pub(crate) len: usize,
    pub(crate) tokens: [u16; T],
    /// Loss of the last forward pass (NaN if it computed logits only).
    pub(crate) loss: f32,
    /// Whether the enclosing [`GptCache`] holds `∂L/∂logits` of these activations.
    pub(crate) dlogits_ready: bool,
    /// `wte[tok] + wpe`: the first block's input.
    pub(crate) x0: Matrix<T, D>,
    pub(crate) blocks: [BlockActs<T, D, N, F>; L],
    /// `ln_f(x)` and its statistics.
    pub(crate) ln_f: Matrix<T, D>,
    pub(crate) ln_f_stats: [[f32; 2]; T],
    pub(crate) logits: Matrix<T, V>,
}

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    GptActivations<V, T, D, N, F, L>
{
    /// An empty cache.
    pub const ZERO: Self = GptActivations {
        len: 0,
        tokens: [0; T],
        loss: f32::NAN,
        dlogits_ready: false,
        x0: Matrix::ZERO,
        blocks: [BlockActs::ZERO; L],
        ln_f: Matrix::ZERO,
        ln_f_stats: [[0.0; 2]; T],
        logits: Matrix::ZERO,
    };

    /// Bytes this struct takes.
    pub const BYTES: usize = core::mem::size_of::<Self>();

    /// Number of tokens of the last forward pass (0 before any).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no forward pass has run yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Loss of the last forward pass (NaN if it computed no loss).
    pub fn loss(&self) -> f32 {
        self.loss
    }

    /// Logits of position `i` of the last forward pass (`i < len`), or `None`.
    pub fn logits(&self, i: usize) -> Option<&[f32; V]> {
        (i < self.len).then(|| self.logits.row(i))
    }

    /// Attention probabilities of head `head` of layer `layer` at position `i` over
    /// positions `0..=i`, or `None`.
    pub fn attention(&self, layer: usize, head: usize, i: usize) -> Option<&[f32]> {
        let l = self.len;
        if i >= l || head >= N {
            return None;
        }
        let probs = self.blocks.get(layer)?.probs.as_flattened().as_flattened();
        let start = head * l * l + i * l;
        probs.get(start..start + i + 1)
    }

    /// The residual stream entering block `layer` (`x0` for the first), rows `0..l`.
    pub(crate) fn block_input(&self, layer: usize) -> &Matrix<T, D> {
        match layer.checked_sub(1).and_then(|p| self.blocks.get(p)) {
            Some(prev) => &prev.out,
            None => &self.x0,
        }
    }
}

/// The backward pass's buffers, each `len` rows of use.
#[derive(Debug)]
pub(crate) struct GptScratch<const V: usize, const T: usize, const D: usize, const F: usize> {
    /// `∂L/∂logits`, left by the forward pass (fused with the loss).
    pub dlogits: Matrix<T, V>,
    /// `∂L/∂` the residual stream at the point the backward pass has reached.
    pub dresid: Matrix<T, D>,
    /// `∂L/∂` a LayerNorm's output.
    pub dln: Matrix<T, D>,
    pub dctx: Matrix<T, D>,
    /// One head's `∂L/∂p`, then in place `∂L/∂s`.
    pub dprobs: Matrix<T, T>,
    pub dqkv: [[[f32; D]; 3]; T],
    /// The MLP's hidden-layer gradient.
    pub dhidden: Matrix<T, F>,
}

impl<const V: usize, const T: usize, const D: usize, const F: usize> GptScratch<V, T, D, F> {
    const ZERO: Self = GptScratch {
        dlogits: Matrix::ZERO,
        dresid: Matrix::ZERO,
        dln: Matrix::ZERO,
        dctx: Matrix::ZERO,
        dprobs: Matrix::ZERO,
        dqkv: [[[0.0; D]; 3]; T],
        dhidden: Matrix::ZERO,
    };
}

/// The activations of a forward pass with a loss ([`GptActivations`], to which it
/// dereferences) and the buffers of the backward pass: everything
/// [`Gpt::train_step`](super::Gpt::train_step) needs.
#[derive(Debug)]
pub struct GptCache<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
> {
    pub(crate) acts: GptActivations<V, T, D, N, F, L>,
    pub(crate) scratch: GptScratch<V, T, D, F>,
}

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    GptCache<V, T, D, N, F, L>
{
    /// An empty cache.
    pub const ZERO: Self = GptCache {
        acts: GptActivations::ZERO,
        scratch: GptScratch::ZERO,
    };

    /// Bytes this struct takes.
    pub const BYTES: usize = core::mem::size_of::<Self>();
}

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    Deref for GptCache<V, T, D, N, F, L>
{
    type Target = GptActivations<V, T, D, N, F, L>;
    fn deref(&self) -> &Self::Target {
        &self.acts
    }
}

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    DerefMut for GptCache<V, T, D, N, F, L>
{
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.acts
    }
}

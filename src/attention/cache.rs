//! The activation caches: what a forward pass computes ([`AttentionActivations`], all
//! that inference needs) and, for training, that plus the backward pass's buffers
//! ([`AttentionCache`]).

use core::ops::{Deref, DerefMut};

use crate::error::Result;
use crate::kernels::MatMut;
use crate::nn::{AttentionActs, AttentionScratch};
use crate::tensor::Matrix;

/// Activations of one forward pass of an
/// [`AttentionLm<V, T, D, DK>`](super::AttentionLm) over up to `T` tokens: the
/// embeddings, the attention's queries, keys, values, probabilities and context, the
/// residual stream and the logits. Only the first `len` rows of each are meaningful.
///
/// Enough for inference ([`forward_logits`](super::AttentionWeights::forward_logits),
/// [`loss`](super::AttentionWeights::loss)); training needs an [`AttentionCache`],
/// which holds one of these (and dereferences to it) plus the backward pass's buffers.
#[derive(Debug)]
pub struct AttentionActivations<const V: usize, const T: usize, const D: usize, const DK: usize> {
    /// Number of tokens of the last forward pass.
    pub(crate) len: usize,
    /// The tokens of the last forward pass.
    pub(crate) tokens: [u16; T],
    /// Loss of the last forward pass (NaN if it computed logits only).
    pub(crate) loss: f32,
    /// Whether the enclosing [`AttentionCache`] holds `∂L/∂logits` of these activations
    /// (set only by a forward pass with its gradient, cleared by every other).
    pub(crate) dlogits_ready: bool,
    /// `h0 = tok_emb[x] + pos_emb`.
    pub(crate) h0: Matrix<T, D>,
    /// `q | k | v` of each position.
    pub(crate) qkv: [[[f32; DK]; 3]; T],
    /// Attention probabilities `p` (`len × len`, compact, zero above the diagonal).
    pub(crate) p: Matrix<T, T>,
    /// `p·v`.
    pub(crate) ctx: Matrix<T, DK>,
    /// `h1 = h0 + ctx·w_o`.
    pub(crate) h1: Matrix<T, D>,
    pub(crate) logits: Matrix<T, V>,
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize>
    AttentionActivations<V, T, D, DK>
{
    /// An empty cache.
    pub const ZERO: Self = AttentionActivations {
        len: 0,
        tokens: [0; T],
        loss: f32::NAN,
        dlogits_ready: false,
        h0: Matrix::ZERO,
        qkv: [[[0.0; DK]; 3]; T],
        p: Matrix::ZERO,
        ctx: Matrix::ZERO,
        h1: Matrix::ZERO,
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

    /// Attention probabilities of position `i` over positions `0..=i`, or `None`.
    pub fn attention(&self, i: usize) -> Option<&[f32]> {
        (i < self.len).then(|| &self.p.as_slice()[i * self.len..i * self.len + i + 1])
    }
}

/// The attention layer's view of its activations over `l` positions.
pub(super) fn attention_acts<'a, const T: usize, const DK: usize>(
    qkv: &'a mut [[[f32; DK]; 3]; T],
    p: &'a mut Matrix<T, T>,
    ctx: &'a mut Matrix<T, DK>,
    l: usize,
) -> Result<AttentionActs<'a>> {
    Ok(AttentionActs {
        qkv: MatMut::new(
            &mut qkv.as_flattened_mut().as_flattened_mut()[..l * 3 * DK],
            l,
            3 * DK,
        )?,
        probs: &mut p.as_mut_slice()[..l * l],
        ctx: ctx.top_mut(l)?,
    })
}

/// The attention layer's backward scratch over `l` positions.
pub(super) fn attention_scratch<'a, const T: usize, const DK: usize>(
    dctx: &'a mut Matrix<T, DK>,
    dp: &'a mut Matrix<T, T>,
    dqkv: &'a mut [[[f32; DK]; 3]; T],
    l: usize,
) -> Result<AttentionScratch<'a>> {
    Ok(AttentionScratch {
        dctx: dctx.top_mut(l)?,
        dprobs: &mut dp.as_mut_slice()[..l * l],
        dqkv: MatMut::new(
            &mut dqkv.as_flattened_mut().as_flattened_mut()[..l * 3 * DK],
            l,
            3 * DK,
        )?,
    })
}

/// The activations of a forward pass with a loss ([`AttentionActivations`], to which
/// it dereferences) and the buffers of the backward pass: everything
/// [`AttentionLm::train_step`](super::AttentionLm::train_step) needs.
#[derive(Debug)]
pub struct AttentionCache<const V: usize, const T: usize, const D: usize, const DK: usize> {
    pub(crate) acts: AttentionActivations<V, T, D, DK>,
    /// `∂L/∂logits`, left by the forward pass (fused with the loss).
    pub(crate) dlogits: Matrix<T, V>,
    /// `∂L/∂h1`, then (the residual passes it through) `∂L/∂h0`.
    pub(crate) dh: Matrix<T, D>,
    pub(crate) dctx: Matrix<T, DK>,
    /// `∂L/∂p`, then in place `∂L/∂s` (`len × len`).
    pub(crate) dp: Matrix<T, T>,
    pub(crate) dqkv: [[[f32; DK]; 3]; T],
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionCache<V, T, D, DK> {
    /// An empty cache.
    pub const ZERO: Self = AttentionCache {
        acts: AttentionActivations::ZERO,
        dlogits: Matrix::ZERO,
        dh: Matrix::ZERO,
        dctx: Matrix::ZERO,
        dp: Matrix::ZERO,
        dqkv: [[[0.0; DK]; 3]; T],
    };

    /// Bytes this struct takes.
    pub const BYTES: usize = core::mem::size_of::<Self>();
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> Deref
    for AttentionCache<V, T, D, DK>
{
    type Target = AttentionActivations<V, T, D, DK>;
    fn deref(&self) -> &Self::Target {
        &self.acts
    }
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> DerefMut
    for AttentionCache<V, T, D, DK>
{
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.acts
    }
}

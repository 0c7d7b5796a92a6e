//! The activation cache: what the forward pass keeps for the backward pass, and the
//! backward pass's own buffers.

use crate::tensor::Matrix;

/// Activations of one forward pass of an
/// [`AttentionLm<V, T, D, DK>`](super::AttentionLm) over up to `T` tokens, plus the
/// buffers its backward pass writes. Only the first `len` rows of each are meaningful.
///
/// Attention matrices are stored compactly as `len × len` at the start of their
/// `T × T` buffers.
#[derive(Debug)]
pub struct AttentionCache<const V: usize, const T: usize, const D: usize, const DK: usize> {
    /// Number of tokens of the last forward pass.
    pub(crate) len: usize,
    /// The tokens of the last forward pass.
    pub(crate) tokens: [u16; T],
    /// Loss of the last forward pass (NaN if it computed logits only).
    pub(crate) loss: f32,
    pub(crate) h0: Matrix<T, D>,
    pub(crate) q: Matrix<T, DK>,
    pub(crate) k: Matrix<T, DK>,
    pub(crate) v: Matrix<T, DK>,
    /// Attention probabilities `p` (`len × len`, zero above the diagonal).
    pub(crate) p: Matrix<T, T>,
    /// `p·v`.
    pub(crate) ctx: Matrix<T, DK>,
    pub(crate) h1: Matrix<T, D>,
    pub(crate) logits: Matrix<T, V>,
    // Backward buffers.
    pub(crate) dlogits: Matrix<T, V>,
    pub(crate) dh1: Matrix<T, D>,
    pub(crate) dctx: Matrix<T, DK>,
    /// `∂L/∂p`, then in place `∂L/∂s` (`len × len`).
    pub(crate) dp: Matrix<T, T>,
    pub(crate) ds: Matrix<T, T>,
    pub(crate) dq: Matrix<T, DK>,
    pub(crate) dk: Matrix<T, DK>,
    pub(crate) dv: Matrix<T, DK>,
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionCache<V, T, D, DK> {
    /// An empty cache.
    pub const ZERO: Self = AttentionCache {
        len: 0,
        tokens: [0; T],
        loss: f32::NAN,
        h0: Matrix::ZERO,
        q: Matrix::ZERO,
        k: Matrix::ZERO,
        v: Matrix::ZERO,
        p: Matrix::ZERO,
        ctx: Matrix::ZERO,
        h1: Matrix::ZERO,
        logits: Matrix::ZERO,
        dlogits: Matrix::ZERO,
        dh1: Matrix::ZERO,
        dctx: Matrix::ZERO,
        dp: Matrix::ZERO,
        ds: Matrix::ZERO,
        dq: Matrix::ZERO,
        dk: Matrix::ZERO,
        dv: Matrix::ZERO,
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

    /// Loss of the last forward pass.
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

//! Borrowed weights: the eight parameter tensors of an attention LM as references, so
//! the forward pass and generation run on weights that live anywhere — in an
//! [`AttentionLm`], or in place in a safetensors file in flash.

use super::model::AttentionLm;

/// The parameters of an [`AttentionLm<V, T, D, DK>`](AttentionLm), borrowed: the same
/// eight tensors with the same shapes, as references to arrays.
///
/// Everything that only reads the weights — [`forward_logits`](Self::forward_logits),
/// [`forward`](Self::forward) and the [`Decoder`](super::Decoder) — takes this view, so
/// it works the same on an owned model (`(&model).into()`, or pass `&model` where an
/// `impl Into<AttentionWeights>` is asked for) and on weights read in place from a
/// safetensors file by [`from_safetensors`](Self::from_safetensors), which on a
/// microcontroller stay in flash while only the activations and the KV cache take RAM.
///
/// ```
/// use edgegrad::attention::{AttentionCache, AttentionLm, AttentionWeights};
/// use rand_core::SeedableRng;
/// type Lm = AttentionLm<8, 6, 8, 4>;
/// let mut model = Lm::ZERO;
/// model.init(&mut rand_pcg::Pcg32::seed_from_u64(7));
/// let weights = AttentionWeights::from(&model);
/// let mut cache = AttentionCache::ZERO;
/// let loss = weights.forward(&[1, 2, 3], &mut cache)?;
/// assert_eq!(loss, model.forward(&[1, 2, 3], &mut cache)?);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionWeights<'a, const V: usize, const T: usize, const D: usize, const DK: usize> {
    /// Token embeddings, `V × D`.
    pub tok_emb: &'a [[f32; D]; V],
    /// Positional embeddings, `T × D`.
    pub pos_emb: &'a [[f32; D]; T],
    /// Query projection, `D × DK`.
    pub w_q: &'a [[f32; DK]; D],
    /// Key projection, `D × DK`.
    pub w_k: &'a [[f32; DK]; D],
    /// Value projection, `D × DK`.
    pub w_v: &'a [[f32; DK]; D],
    /// Output projection of the attention, `DK × D`.
    pub w_o: &'a [[f32; D]; DK],
    /// Unembedding, `D × V`.
    pub w_out: &'a [[f32; V]; D],
    /// Output bias, `V`.
    pub b_out: &'a [f32; V],
}

impl<'a, const V: usize, const T: usize, const D: usize, const DK: usize>
    From<&'a AttentionLm<V, T, D, DK>> for AttentionWeights<'a, V, T, D, DK>
{
    fn from(m: &'a AttentionLm<V, T, D, DK>) -> Self {
        AttentionWeights {
            tok_emb: &m.tok_emb.0,
            pos_emb: &m.pos_emb.0,
            w_q: &m.w_q.0,
            w_k: &m.w_k.0,
            w_v: &m.w_v.0,
            w_o: &m.w_o.0,
            w_out: &m.w_out.0,
            b_out: &m.b_out.0[0],
        }
    }
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionLm<V, T, D, DK> {
    /// The parameters as a borrowed [`AttentionWeights`] view.
    pub fn weights(&self) -> AttentionWeights<'_, V, T, D, DK> {
        self.into()
    }
}

impl<'a, const V: usize, const T: usize, const D: usize, const DK: usize>
    AttentionWeights<'a, V, T, D, DK>
{
    /// The eight tensors as flat row-major slices, in
    /// [`AttentionLm::TENSOR_NAMES`] order.
    pub fn tensors(&self) -> [&'a [f32]; 8] {
        [
            self.tok_emb.as_flattened(),
            self.pos_emb.as_flattened(),
            self.w_q.as_flattened(),
            self.w_k.as_flattened(),
            self.w_v.as_flattened(),
            self.w_o.as_flattened(),
            self.w_out.as_flattened(),
            self.b_out,
        ]
    }
}

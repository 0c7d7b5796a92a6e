//! The parameters of the attention language model, declared once.

use crate::error::{Result, check_index, check_len_range};
use crate::nn::{
    CausalSelfAttention, CausalSelfAttentionGrads, Embedding, EmbeddingGrads, Linear, LinearGrads,
    Qkv,
};
use crate::params::{Init, Ref, SQRT_3};
use crate::tensor::{Matrix, view_of};

crate::params! {
    /// A causal single-head attention language model over at most `T` tokens from a
    /// vocabulary of `V`, with model width `D` and head width `DK`.
    ///
    /// For tokens `x[0..L]`, `2 ≤ L ≤ T` (row vectors, `x·W` products):
    ///
    /// ```text
    /// h0[i]   = tok_emb[x[i]] + pos_emb[i]
    /// q, k, v = h0·w_q, h0·w_k, h0·w_v
    /// s[i][j] = q[i]·k[j] / sqrt(DK)   for j ≤ i   (j > i masked out)
    /// p       = softmax over each row of s
    /// h1      = h0 + (p·v)·w_o
    /// logits  = h1·w_out + b_out
    /// loss    = mean over i = 0..L-2 of cross_entropy(logits[i], x[i+1])
    /// ```
    ///
    /// The struct holds only the parameters, under these names and in this layout
    /// (row-major), so weights trained elsewhere load directly. Its storage `S` is
    /// [`Owned`](crate::params::Owned) by default; [`AttentionWeights`] is the same
    /// struct borrowing its tensors (from an owned model, or in place from a file).
    /// Gradients ([`AttentionGrads`]), the activation caches
    /// ([`AttentionActivations`](super::AttentionActivations),
    /// [`AttentionCache`](super::AttentionCache)), the optimiser state
    /// ([`AttentionOptState`](super::AttentionOptState)) and the decoder with its KV
    /// cache ([`Decoder`](super::Decoder)) are separate fixed-size structs. All have a
    /// `const ZERO` usable in a `static`; nothing is built on the stack.
    ///
    /// [`init`](Self::init) draws, in this order: `tok_emb` uniform with standard
    /// deviation 1 (the scale of the positions); `pos_emb` the sinusoidal encoding of
    /// *Attention Is All You Need*; each projection uniform with standard deviation
    /// `1/√fan_in` (`D` for `w_q`, `w_k`, `w_v`, `w_out`; `DK` for `w_o`), so that
    /// activations keep their scale; `b_out` zero.
    ///
    /// ```
    /// use edgegrad::attention::AttentionLm;
    /// use rand_core::SeedableRng;
    ///
    /// type Lm = AttentionLm<16, 8, 8, 4>;
    /// static mut MODEL: Lm = Lm::ZERO; // or Box::new(Lm::ZERO) on a host
    /// let mut model = Lm::ZERO;
    /// model.init(&mut rand_pcg::Pcg32::seed_from_u64(1));
    /// assert_eq!(Lm::PARAMETERS, 16 * 8 + 8 * 8 + 3 * 8 * 4 + 4 * 8 + 8 * 16 + 16);
    /// assert_eq!(Lm::BYTES, 4 * Lm::PARAMETERS);
    /// ```
    pub struct AttentionLm<const V: usize, const T: usize, const D: usize, const DK: usize> {
        /// Token embeddings, `V × D`.
        tok_emb: Matrix<V, D> = "tok_emb", Init::Uniform { bound: SQRT_3 };
        /// Positional embeddings, `T × D`.
        pos_emb: Matrix<T, D> = "pos_emb", Init::Sinusoidal;
        /// Query projection, `D × DK`.
        w_q: Matrix<D, DK> = "w_q", Init::UniformFanIn;
        /// Key projection, `D × DK`.
        w_k: Matrix<D, DK> = "w_k", Init::UniformFanIn;
        /// Value projection, `D × DK`.
        w_v: Matrix<D, DK> = "w_v", Init::UniformFanIn;
        /// Output projection of the attention, `DK × D`.
        w_o: Matrix<DK, D> = "w_o", Init::UniformFanIn;
        /// Unembedding, `D × V`.
        w_out: Matrix<D, V> = "w_out", Init::UniformFanIn;
        /// Output bias, `V`.
        b_out: [f32; V] = "b_out", Init::Zeros;
    }
}

/// Gradients of an [`AttentionLm`]'s loss: the same eight tensors, same shapes.
pub type AttentionGrads<const V: usize, const T: usize, const D: usize, const DK: usize> =
    AttentionLm<V, T, D, DK>;

/// The parameters of an [`AttentionLm<V, T, D, DK>`](AttentionLm), borrowed: the same
/// eight tensors with the same shapes, as references to arrays.
///
/// Everything that only reads the weights — [`forward_logits`](Self::forward_logits),
/// [`forward`](Self::forward) and the [`Decoder`](super::Decoder) — takes this view, so
/// it works the same on an owned model (`model.weights()`, or pass `&model` where an
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
pub type AttentionWeights<'a, const V: usize, const T: usize, const D: usize, const DK: usize> =
    AttentionLm<V, T, D, DK, Ref<'a>>;

impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionLm<V, T, D, DK> {
    /// The parameters as a borrowed [`AttentionWeights`] view.
    pub fn weights(&self) -> AttentionWeights<'_, V, T, D, DK> {
        self.view()
    }

    /// A vocabulary of `1 ≤ V ≤ 65 536` (token ids are `u16`): evaluated where a pass
    /// is compiled, so a model of impossible sizes does not build.
    ///
    /// ```compile_fail
    /// let model = Box::new(edgegrad::attention::AttentionLm::<70_000, 4, 8, 4>::ZERO);
    /// let mut acts = Box::new(edgegrad::attention::AttentionActivations::ZERO);
    /// let _ = model.forward_logits(&[1], &mut acts);
    /// ```
    pub(crate) const VOCAB_FITS_IDS: () = assert!(
        V >= 1 && V <= 1 << 16,
        "AttentionLm: the vocabulary must have 1 <= V <= 65536 (u16 token ids)"
    );

    /// Checks a token sequence: length in `min..=T` and every id below `V`.
    pub(crate) fn check_tokens(tokens: &[u16], min: usize) -> Result<()> {
        let () = Self::VOCAB_FITS_IDS;
        check_len_range("token sequence", tokens.len(), min, T)?;
        for &t in tokens {
            check_index("token id", usize::from(t), V)?;
        }
        Ok(())
    }
}

/// The model's layers, as views of its weights: the one place where its tensors are
/// given their roles in the formulas. Built without the runtime checks of the layers'
/// constructors (the shapes fit by the model's types), one at a time where it is used,
/// so that a decoding step on a microcontroller holds one layer's views at a time.
impl<'w, const V: usize, const T: usize, const D: usize, const DK: usize>
    AttentionWeights<'w, V, T, D, DK>
{
    /// `h0[i] = tok_emb[x[i]] + pos_emb[i]`.
    pub(super) fn embedding(&self) -> Embedding<'w> {
        Embedding {
            tokens: view_of(self.tok_emb),
            positions: view_of(self.pos_emb),
        }
    }

    /// `(p·v)·w_o`, one head of width `DK`.
    pub(super) fn attention(&self) -> CausalSelfAttention<'w> {
        let linear = |w| Linear {
            weight: w,
            bias: None,
        };
        let qkv = Qkv::Separate {
            q: linear(view_of(self.w_q)),
            k: linear(view_of(self.w_k)),
            v: linear(view_of(self.w_v)),
        };
        CausalSelfAttention::from_parts(qkv, linear(view_of(self.w_o)), 1)
    }

    /// `logits = h1·w_out + b_out`.
    pub(super) fn head(&self) -> Linear<'w> {
        Linear {
            weight: view_of(self.w_out),
            bias: Some(self.b_out),
        }
    }
}

/// The gradient tensors in the layers' roles, one layer at a time (the counterpart of
/// the layers above).
impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionGrads<V, T, D, DK> {
    pub(super) fn embedding_grads(&mut self) -> EmbeddingGrads<'_> {
        EmbeddingGrads {
            tokens: self.tok_emb.view_mut(),
            positions: self.pos_emb.view_mut(),
        }
    }

    pub(super) fn attention_grads(&mut self) -> CausalSelfAttentionGrads<'_> {
        fn linear<const R: usize, const C: usize>(w: &mut Matrix<R, C>) -> LinearGrads<'_> {
            LinearGrads {
                weight: w.view_mut(),
                bias: None,
            }
        }
        CausalSelfAttentionGrads {
            qkv: Qkv::Separate {
                q: linear(&mut self.w_q),
                k: linear(&mut self.w_k),
                v: linear(&mut self.w_v),
            },
            proj: linear(&mut self.w_o),
        }
    }

    pub(super) fn head_grads(&mut self) -> LinearGrads<'_> {
        LinearGrads {
            weight: self.w_out.view_mut(),
            bias: Some(&mut self.b_out),
        }
    }
}

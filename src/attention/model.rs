//! The parameters of the attention language model, declared once.

use crate::error::{Result, check_index, check_len_range};
use crate::nn::{
    CausalSelfAttention, CausalSelfAttentionGrads, Embedding, EmbeddingGrads, Linear, LinearGrads,
    Qkv, QkvGrads,
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

    /// Checks a token sequence: length in `min..=T` and every id below `V`.
    pub(crate) fn check_tokens(tokens: &[u16], min: usize) -> Result<()> {
        check_len_range("token sequence", tokens.len(), min, T)?;
        for &t in tokens {
            check_index("token id", usize::from(t), V)?;
        }
        Ok(())
    }
}

/// The model's layers, as views of its weights: the one place where its tensors are
/// given their roles in the formulas.
pub(super) struct Layers<'w> {
    /// `h0[i] = tok_emb[x[i]] + pos_emb[i]`.
    pub embed: Embedding<'w>,
    /// `(p·v)·w_o`, one head of width `DK`.
    pub attn: CausalSelfAttention<'w>,
    /// `logits = h1·w_out + b_out`.
    pub head: Linear<'w>,
}

/// Views of the gradient tensors, in the layers' roles.
pub(super) struct LayerGrads<'g> {
    pub embed: EmbeddingGrads<'g>,
    pub attn: CausalSelfAttentionGrads<'g>,
    pub head: LinearGrads<'g>,
}

impl<'w, const V: usize, const T: usize, const D: usize, const DK: usize>
    AttentionWeights<'w, V, T, D, DK>
{
    /// The layers, built without the runtime checks of their constructors: the shapes
    /// fit by the model's types.
    pub(super) fn layers(&self) -> Layers<'w> {
        let linear = |w, b| Linear { weight: w, bias: b };
        let qkv = Qkv::Separate {
            q: linear(view_of(self.w_q), None),
            k: linear(view_of(self.w_k), None),
            v: linear(view_of(self.w_v), None),
        };
        Layers {
            embed: Embedding {
                tokens: view_of(self.tok_emb),
                positions: view_of(self.pos_emb),
            },
            attn: CausalSelfAttention::from_parts(qkv, linear(view_of(self.w_o), None), 1),
            head: linear(view_of(self.w_out), Some(self.b_out)),
        }
    }
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionGrads<V, T, D, DK> {
    pub(super) fn layer_grads(&mut self) -> LayerGrads<'_> {
        let AttentionLm {
            tok_emb,
            pos_emb,
            w_q,
            w_k,
            w_v,
            w_o,
            w_out,
            b_out,
        } = self;
        fn linear<const R: usize, const C: usize>(w: &mut Matrix<R, C>) -> LinearGrads<'_> {
            LinearGrads {
                weight: w.view_mut(),
                bias: None,
            }
        }
        LayerGrads {
            embed: EmbeddingGrads {
                tokens: tok_emb.view_mut(),
                positions: pos_emb.view_mut(),
            },
            attn: CausalSelfAttentionGrads {
                qkv: QkvGrads::Separate {
                    q: linear(w_q),
                    k: linear(w_k),
                    v: linear(w_v),
                },
                proj: linear(w_o),
            },
            head: LinearGrads {
                weight: w_out.view_mut(),
                bias: Some(b_out),
            },
        }
    }
}

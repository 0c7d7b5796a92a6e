//! The parameters of the GPT, declared once under Hugging Face GPT-2's names, and their
//! roles in the layers.

use crate::error::{Result, check_index, check_len_range};
use crate::nn::{
    CausalSelfAttention, CausalSelfAttentionGrads, Embedding, EmbeddingGrads, LayerNorm,
    LayerNormGrads, Linear, LinearGrads, Mlp, MlpGrads, Qkv,
};
use crate::params::{Init, Ref, Storage};
use crate::tensor::{Matrix, WideMatrix, WideVector, view_of, wide_view_of};

crate::params! {
    /// A LayerNorm's gain and shift (`D` each).
    pub struct LayerNormParams<const D: usize> {
        /// Gain `γ`, initially 1.
        weight: [f32; D] = "weight", Init::Ones;
        /// Shift `β`, initially 0.
        bias: [f32; D] = "bias", Init::Zeros;
    }
}

crate::params! {
    /// One transformer block of a [`Gpt`]: pre-LayerNorm attention and MLP, each added
    /// to the residual stream. Names as GPT-2's `h.{i}`.
    pub struct Block<const D: usize, const F: usize> {
        /// LayerNorm before the attention.
        module ln_1: LayerNormParams<D, S> = "ln_1";
        /// `q | k | v` projection, `D × 3D`.
        tensor c_attn_w: WideMatrix<D, 3, D> = "attn.c_attn.weight", Init::Normal { sd: 0.02 };
        /// Its bias, `3D`.
        tensor c_attn_b: WideVector<3, D> = "attn.c_attn.bias", Init::Zeros;
        /// The attention's output projection, `D × D` (a residual projection: scaled
        /// by `1/√(2L)` at initialisation).
        tensor attn_proj_w: Matrix<D, D> = "attn.c_proj.weight", Init::ResidualNormal { sd: 0.02 };
        /// Its bias, `D`.
        tensor attn_proj_b: [f32; D] = "attn.c_proj.bias", Init::Zeros;
        /// LayerNorm before the MLP.
        module ln_2: LayerNormParams<D, S> = "ln_2";
        /// The MLP's first layer, `D × F`.
        tensor fc_w: Matrix<D, F> = "mlp.c_fc.weight", Init::Normal { sd: 0.02 };
        /// Its bias, `F`.
        tensor fc_b: [f32; F] = "mlp.c_fc.bias", Init::Zeros;
        /// The MLP's second layer, `F × D` (a residual projection).
        tensor mlp_proj_w: Matrix<F, D> = "mlp.c_proj.weight", Init::ResidualNormal { sd: 0.02 };
        /// Its bias, `D`.
        tensor mlp_proj_b: [f32; D] = "mlp.c_proj.bias", Init::Zeros;
    }
}

crate::params! {
    /// A GPT-2-style transformer language model: vocabulary `V`, context `T`, width `D`,
    /// `N` heads of width `D/N` (`N` must divide `D`, checked when a pass is compiled),
    /// MLP width `F` (GPT-2 uses `4D`), `L` layers. Tokens are `u16`; row vectors times
    /// `[in][out]` matrices.
    ///
    /// ```text
    /// x        = wte[tok[i]] + wpe[i]
    /// for each of the L blocks:
    ///   a      = ln_1(x)
    ///   q|k|v  = a·c_attn.W + c_attn.b            (c_attn.W is [D][3D]: q, k, v side by side)
    ///   per head h: s = q_h·k_hᵀ / √(D/N), causal mask, softmax, y_h = s·v_h
    ///   x      = x + concat(y_h)·attn.c_proj.W + attn.c_proj.b
    ///   m      = ln_2(x)
    ///   x      = x + gelu(m·mlp.c_fc.W + mlp.c_fc.b)·mlp.c_proj.W + mlp.c_proj.b
    /// logits   = ln_f(x)·wteᵀ                      (the output layer is tied to wte)
    /// loss     = mean over i = 0..len−2 of cross_entropy(logits[i], tok[i+1])
    /// ```
    ///
    /// LayerNorm has `ε = 1e-5` and the biased variance; GELU is the tanh approximation
    /// (GPT-2's `gelu_new`). The tensors are named and shaped as Hugging Face's
    /// `GPT2LMHeadModel` saves them (`transformer.wte.weight` `[V, D]`, …,
    /// `transformer.h.{i}.attn.c_attn.weight` `[D, 3D]`, …), so its checkpoints of these
    /// sizes load (see [`crate::safetensors`]).
    ///
    /// [`init`](Self::init) is GPT-2's: every weight normal with standard deviation 0.02,
    /// the two residual projections of each block with `0.02/√(2L)`, biases 0, gains 1.
    ///
    /// ```
    /// use edgegrad::gpt::Gpt;
    /// use rand_core::SeedableRng;
    /// type Tiny = Gpt<16, 8, 8, 2, 32, 2>;
    /// let mut model = Box::new(Tiny::ZERO);
    /// model.init(&mut rand_pcg::Pcg32::seed_from_u64(1));
    /// let block = 2 * 8 + 8 * 24 + 24 + 8 * 8 + 8 + 2 * 8 + 8 * 32 + 32 + 32 * 8 + 8;
    /// assert_eq!(Tiny::PARAMETERS, 16 * 8 + 8 * 8 + 2 * block + 2 * 8);
    /// assert_eq!(
    ///     Tiny::tensor_name(5).unwrap().to_string(),
    ///     "transformer.h.0.attn.c_attn.bias"
    /// );
    /// ```
    pub struct Gpt<
        const V: usize,
        const T: usize,
        const D: usize,
        const N: usize,
        const F: usize,
        const L: usize,
    > {
        /// Token embeddings, `V × D`, also the output layer.
        tensor wte: Matrix<V, D> = "transformer.wte.weight", Init::Normal { sd: 0.02 };
        /// Position embeddings, `T × D`.
        tensor wpe: Matrix<T, D> = "transformer.wpe.weight", Init::Normal { sd: 0.01 };
        /// The blocks, `transformer.h.0` … `transformer.h.{L−1}`.
        module h: [Block<D, F, S>; L] = "transformer.h";
        /// The final LayerNorm.
        module ln_f: LayerNormParams<D, S> = "transformer.ln_f";
    }
}

/// Gradients of a [`Gpt`]'s loss: the same tensors, same shapes.
pub type GptGrads<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
> = Gpt<V, T, D, N, F, L>;

/// The parameters of a [`Gpt`], borrowed (from an owned model with
/// [`weights`](Gpt::weights), or in place from a safetensors file with
/// [`from_safetensors`](Self::from_safetensors)): everything that only reads the
/// weights — the forward pass, the loss, the [`GptDecoder`](super::GptDecoder) — takes
/// this view.
pub type GptWeights<
    'a,
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
> = Gpt<V, T, D, N, F, L, Ref<'a>>;

impl<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
    S: Storage,
> Gpt<V, T, D, N, F, L, S>
{
    /// `N ≥ 1` heads that divide the width `D`, and a vocabulary of `1 ≤ V ≤ 65 536`
    /// (token ids are `u16`): evaluated where a pass is compiled, so a model of
    /// impossible sizes does not build.
    ///
    /// ```compile_fail
    /// // 70 000 token ids do not fit in u16.
    /// let model = Box::new(edgegrad::gpt::Gpt::<70_000, 4, 8, 2, 16, 1>::ZERO);
    /// let mut acts = Box::new(edgegrad::gpt::GptActivations::ZERO);
    /// let _ = model.forward_logits(&[1], &mut acts);
    /// ```
    pub(super) const HEADS_DIVIDE_WIDTH: () = assert!(
        N >= 1 && D.is_multiple_of(N) && V >= 1 && V <= 1 << 16,
        "Gpt: the number of heads N must be at least 1 and divide the width D, and 1 <= V <= 65536"
    );

    /// Checks a token sequence: length in `min..=T` and every id below `V`.
    pub(crate) fn check_tokens(tokens: &[u16], min: usize) -> Result<()> {
        let () = Self::HEADS_DIVIDE_WIDTH;
        check_len_range("token sequence", tokens.len(), min, T)?;
        for &t in tokens {
            check_index("token id", usize::from(t), V)?;
        }
        Ok(())
    }
}

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    Gpt<V, T, D, N, F, L>
{
    /// The parameters as a borrowed [`GptWeights`] view.
    pub fn weights(&self) -> GptWeights<'_, V, T, D, N, F, L> {
        self.view()
    }
}

/// A block's layers, as views of its weights.
#[derive(Clone, Copy, Debug)]
pub(super) struct BlockLayers<'w> {
    pub ln_1: LayerNorm<'w>,
    pub attn: CausalSelfAttention<'w>,
    pub ln_2: LayerNorm<'w>,
    pub mlp: Mlp<'w>,
}

/// Gradients of a block's layers, as views of its gradient tensors.
#[derive(Debug)]
pub(super) struct BlockGrads<'g> {
    pub ln_1: LayerNormGrads<'g>,
    pub attn: CausalSelfAttentionGrads<'g>,
    pub ln_2: LayerNormGrads<'g>,
    pub mlp: MlpGrads<'g>,
}

fn layer_norm<'w, const D: usize>(p: &LayerNormParams<D, Ref<'w>>) -> LayerNorm<'w> {
    LayerNorm {
        weight: &p.weight[..],
        bias: &p.bias[..],
        eps: LayerNorm::EPS,
    }
}

fn layer_norm_grads<const D: usize>(p: &mut LayerNormParams<D>) -> LayerNormGrads<'_> {
    LayerNormGrads {
        weight: &mut p.weight,
        bias: &mut p.bias,
    }
}

/// The tensors' roles in the layers: the one place where each is given its place in
/// the formulas, for the weights and (below) for the gradients. Built without the
/// layers' runtime checks (the shapes fit by the model's types), one layer at a time
/// where it is used.
impl<'w, const D: usize, const F: usize> Block<D, F, Ref<'w>> {
    pub(super) fn layers(&self, heads: usize) -> BlockLayers<'w> {
        let c_attn = Linear {
            weight: wide_view_of(self.c_attn_w),
            bias: Some(self.c_attn_b.as_flattened()),
        };
        let proj = Linear {
            weight: view_of(self.attn_proj_w),
            bias: Some(&self.attn_proj_b[..]),
        };
        BlockLayers {
            ln_1: layer_norm(&self.ln_1),
            attn: CausalSelfAttention::from_parts(Qkv::Fused(c_attn), proj, heads),
            ln_2: layer_norm(&self.ln_2),
            mlp: Mlp {
                fc: Linear {
                    weight: view_of(self.fc_w),
                    bias: Some(&self.fc_b[..]),
                },
                proj: Linear {
                    weight: view_of(self.mlp_proj_w),
                    bias: Some(&self.mlp_proj_b[..]),
                },
            },
        }
    }
}

impl<const D: usize, const F: usize> Block<D, F> {
    pub(super) fn grads(&mut self) -> BlockGrads<'_> {
        BlockGrads {
            ln_1: layer_norm_grads(&mut self.ln_1),
            attn: CausalSelfAttentionGrads {
                qkv: Qkv::Fused(LinearGrads {
                    weight: self.c_attn_w.view_mut(),
                    bias: Some(self.c_attn_b.as_mut_slice()),
                }),
                proj: LinearGrads {
                    weight: self.attn_proj_w.view_mut(),
                    bias: Some(&mut self.attn_proj_b),
                },
            },
            ln_2: layer_norm_grads(&mut self.ln_2),
            mlp: MlpGrads {
                fc: LinearGrads {
                    weight: self.fc_w.view_mut(),
                    bias: Some(&mut self.fc_b),
                },
                proj: LinearGrads {
                    weight: self.mlp_proj_w.view_mut(),
                    bias: Some(&mut self.mlp_proj_b),
                },
            },
        }
    }
}

impl<
    'w,
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
> GptWeights<'w, V, T, D, N, F, L>
{
    /// `x[i] = wte[tok[i]] + wpe[i]`; its token table is also the output layer.
    pub(super) fn embedding(&self) -> Embedding<'w> {
        Embedding {
            tokens: view_of(self.wte),
            positions: view_of(self.wpe),
        }
    }

    /// The final LayerNorm.
    pub(super) fn ln_f(&self) -> LayerNorm<'w> {
        layer_norm(&self.ln_f)
    }
}

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    GptGrads<V, T, D, N, F, L>
{
    /// Gradients of the token and position tables (the token table's also receives the
    /// output layer's).
    pub(super) fn embedding_grads(&mut self) -> EmbeddingGrads<'_> {
        EmbeddingGrads {
            tokens: self.wte.view_mut(),
            positions: self.wpe.view_mut(),
        }
    }

    pub(super) fn ln_f_grads(&mut self) -> LayerNormGrads<'_> {
        layer_norm_grads(&mut self.ln_f)
    }
}

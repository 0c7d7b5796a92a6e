//! Layers: the pieces models are composed of, each with its forward pass over a
//! sequence, its backward pass and its one-position step (for decoding with a cache)
//! side by side.
//!
//! | layer | forward | parameters |
//! |---|---|---|
//! | [`Embedding`] | `x[i] = tokens[id_i] + positions[i]` | token and position tables |
//! | [`Linear`] | `y = x·W + b` | `W` `[in][out]`, optional `b` |
//! | [`LayerNorm`] | `y = (x − μ)/√(σ² + ε)·γ + β` per row | `γ`, `β` |
//! | [`Gelu`] | GPT-2's tanh-approximated GELU | — |
//! | [`Mlp`] | `gelu(x·W_fc + b_fc)·W_proj + b_proj` | two [`Linear`] |
//! | [`CausalSelfAttention`] | `N` heads of scaled causal softmax attention | Q, K, V and output projections |
//!
//! Layers are thin views over their parameters ([`MatRef`]s and slices,
//! which may be column blocks of wider tensors); their sizes are runtime values, so one
//! copy of each layer's code serves every model size in a firmware image. Each layer
//! is a composition of [`kernels`](crate::kernels), and its gradients (`…Grads`, views
//! of a model's gradient tensors) are added to, so sequences accumulate. What a forward
//! pass keeps for the backward pass and the backward pass's scratch are buffers the
//! caller passes in (`…Acts`, `…Scratch`): a model's fixed-size cache structs.
//!
//! **Errors.** Every layer function checks the shapes of its views and slices, token
//! ids and positions before it writes anything ([`Error::ShapeMismatch`],
//! [`Error::LengthMismatch`], [`Error::IndexOutOfRange`]; outputs untouched). A
//! non-finite value found on the way ([`Error::NonFinite`]: a product that is not finite, a
//! LayerNorm row whose variance overflows, NaN or `+inf` attention scores, non-finite
//! tied logits) is reported by the kernel that finds it, after the outputs and
//! activations of the steps before it were written: a layer's outputs are then
//! unspecified (finite or not), and the models built on them refuse the whole pass (their
//! activations read as empty, their decoders have no logits). Gradients are added to
//! in place, so after such an error in a backward pass they hold part of this
//! sequence's contribution.
//!
//! [`Error::ShapeMismatch`]: crate::Error::ShapeMismatch
//! [`Error::LengthMismatch`]: crate::Error::LengthMismatch
//! [`Error::IndexOutOfRange`]: crate::Error::IndexOutOfRange
//! [`Error::NonFinite`]: crate::Error::NonFinite

use core::fmt::Debug;

use crate::kernels::{MatMut, MatRef};

mod attention;
mod embedding;
mod layer_norm;
mod linear;
mod mlp;

/// Whether a layer's parameter views read (its weights) or write (its gradients): each
/// layer's parameters are one struct generic over this, as the models' parameters are
/// over their [`Storage`](crate::params::Storage) — `Linear<'a>` holds `MatRef`s,
/// `LinearGrads<'a> = Linear<'a, Write>` holds `MatMut`s.
pub trait Access<'a> {
    /// A matrix view: [`MatRef`] to read, [`MatMut`] to write.
    type Mat: Debug;
    /// A vector: `&[f32]` to read, `&mut [f32]` to write.
    type Vec: Debug;
}

/// Read-only parameter views: a layer's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {}

/// Writable parameter views: a layer's gradients.
#[derive(Debug, PartialEq, Eq)]
pub enum Write {}

impl<'a> Access<'a> for Read {
    type Mat = MatRef<'a>;
    type Vec = &'a [f32];
}

impl<'a> Access<'a> for Write {
    type Mat = MatMut<'a>;
    type Vec = &'a mut [f32];
}

pub use attention::{
    AttentionActs, AttentionScratch, CausalSelfAttention, CausalSelfAttentionGrads, KvCache, Qkv,
    QkvGrads,
};
pub use embedding::{Embedding, EmbeddingGrads};
pub use layer_norm::{LayerNorm, LayerNormGrads};
pub use linear::{Linear, LinearGrads};
pub use mlp::{Gelu, Mlp, MlpActs, MlpGrads};

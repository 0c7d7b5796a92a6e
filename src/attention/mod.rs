//! A causal single-head attention language model that trains and generates without a
//! heap: [`AttentionLm`] (parameters, declared once with [`params!`](crate::params!)),
//! [`AttentionGrads`] (same shapes), [`AttentionActivations`] (what a forward pass
//! computes: all inference needs), [`AttentionCache`] (that plus the backward pass's
//! buffers), [`AttentionOptState`] (optimiser moments) and [`Decoder`] (KV cache for
//! generation); [`AttentionWeights`] borrows the parameters, for inference on weights
//! that stay where they are (in flash, from a safetensors file: see
//! [`crate::safetensors`]).
//!
//! The model is a composition of the layers of [`crate::nn`] — an [`Embedding`], a
//! one-head [`CausalSelfAttention`] added to the residual stream, a [`Linear`] output
//! layer — and each of its passes (forward, backward, decoding step) is theirs, in
//! order. Training and sampling are the model-agnostic [`crate::train`] and
//! [`crate::sample`].
//!
//! Memory, for sizing RAM before building (`f32` everywhere, `BYTES` constants give
//! the exact figures): parameters and gradients `4·(V·D + T·D + 3·D·DK + DK·D + D·V + V)`
//! bytes each, Adam state twice that, the activations `4·T·(V + 2D + 4DK + T)` bytes
//! and the backward buffers `4·T·(V + D + 4DK + T)` more, the decoder
//! `4·(2·T·DK + T + 2V + 2D + 2DK)` bytes.
//!
//! [`Embedding`]: crate::nn::Embedding
//! [`CausalSelfAttention`]: crate::nn::CausalSelfAttention
//! [`Linear`]: crate::nn::Linear

mod cache;
mod decode;
mod model;
mod passes;

pub use crate::sample::Sampling;
pub use crate::train::{Optimizer, StepStats, TrainConfig};
pub use cache::{AttentionActivations, AttentionCache};
pub use decode::Decoder;
pub use model::{AttentionGrads, AttentionLm, AttentionWeights};

/// Optimiser state for an [`AttentionLm`]: the model-agnostic
/// [`OptState`](crate::train::OptState) of its parameters.
pub type AttentionOptState<const V: usize, const T: usize, const D: usize, const DK: usize> =
    crate::train::OptState<AttentionLm<V, T, D, DK>>;

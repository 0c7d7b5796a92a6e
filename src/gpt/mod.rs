//! A GPT-2-style transformer language model that trains and generates without a heap:
//! [`Gpt<V, T, D, N, F, L>`](Gpt) (parameters named and shaped as Hugging Face's
//! `GPT2LMHeadModel` saves them, declared once with [`params!`](crate::params!)),
//! [`GptGrads`] (same shapes), [`GptActivations`] (what a forward pass computes: all
//! inference needs), [`GptCache`] (that plus the backward pass's buffers),
//! [`GptOptState`] (optimiser moments) and [`GptDecoder`] (a KV cache per layer for
//! generation); [`GptWeights`] borrows the parameters, for inference on weights that
//! stay where they are (in flash, from a safetensors file).
//!
//! The model is a composition of the layers of [`crate::nn`]: an [`Embedding`] (whose
//! token table is also the output layer), `L` blocks of [`LayerNorm`],
//! [`CausalSelfAttention`] with GPT-2's fused `c_attn`, [`LayerNorm`] and [`Mlp`], each
//! branch added to the residual stream, and a final [`LayerNorm`]. Each pass is the
//! layers' passes in order, a loop over the blocks (the forward and backward passes of
//! a block side by side in `block.rs`); training and sampling are the model-agnostic
//! [`crate::train`] and [`crate::sample`].
//!
//! Memory, for sizing RAM before building (`f32`; the `BYTES` constants give the exact
//! figures): parameters and gradients `4·(V·D + T·D + L·(4·D² + 2·D·F + 9·D + F) + 2·D)`
//! bytes each (with `F = 4D`: about `4·(V·D + T·D + 12·L·D²)`), Adam state twice that;
//! the activations `4·(T·(V + 2D + 2) + L·T·(8D + 2F + 4 + N·T)) + 2T` bytes, the
//! backward buffers `4·T·(V + 6D + T + F)` more; the decoder `4·(2·L·T·D + 6D + T + F +
//! 2V)` (each plus a few words).
//!
//! [`Embedding`]: crate::nn::Embedding
//! [`LayerNorm`]: crate::nn::LayerNorm
//! [`CausalSelfAttention`]: crate::nn::CausalSelfAttention
//! [`Mlp`]: crate::nn::Mlp

mod block;
mod cache;
mod decode;
mod model;
mod passes;

pub use crate::sample::Sampling;
pub use crate::train::{Optimizer, StepStats, TrainConfig};
pub use cache::{GptActivations, GptCache};
pub use decode::GptDecoder;
pub use model::{Block, Gpt, GptGrads, GptWeights, LayerNormParams};

/// Optimiser state for a [`Gpt`]: the model-agnostic
/// [`OptState`](crate::train::OptState) of its parameters.
pub type GptOptState<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
> = crate::train::OptState<Gpt<V, T, D, N, F, L>>;

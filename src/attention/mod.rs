//! A causal single-head attention language model that trains and generates without a
//! heap: [`AttentionLm`] (parameters), [`AttentionGrads`] (same shapes),
//! [`AttentionCache`] (activations), [`AttentionOptState`] (optimiser moments) and
//! [`Decoder`] (KV cache for generation); [`AttentionWeights`] borrows the parameters,
//! for inference on weights that stay where they are (in flash, from a safetensors
//! file: see [`crate::safetensors`]).
//!
//! Every step of the forward and backward passes is a call to a kernel of
//! [`crate::kernels`]; the model adds only the bookkeeping of which rows go where.
//!
//! Memory, for sizing RAM before building (`f32` everywhere, `BYTES` constants give
//! the exact figures): parameters and gradients `4·(V·D + T·D + 3·D·DK + DK·D + D·V + V)`
//! bytes each, Adam state twice that, the cache about `4·T·(2V + 3D + 8DK + 3T)` bytes,
//! the decoder `4·(2·T·DK + T + 3V + 2D + 2DK)` bytes.

mod cache;
mod decode;
mod forward;
mod model;
mod train;

pub use cache::AttentionCache;
pub use decode::{Decoder, Sampling};
pub use model::{AttentionGrads, AttentionLm, AttentionWeights};
pub use train::{AttentionOptState, Optimizer, StepStats, TrainConfig};

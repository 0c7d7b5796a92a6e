//! # edgegrad
//!
//! The fundamentals of language models — stable softmax, log-sum-exp cross-entropy,
//! matrix products and their gradients — as `#![no_std]`, allocation-free,
//! SIMD-vectorised Rust that runs the same on a PC and on a microcontroller.
//!
//! - **No heap.** The crate never allocates; scratch memory is the caller's.
//! - **No panics on bad input.** Kernels check shapes, indices and non-finite values
//!   and return an [`Error`] that says what was wrong.
//! - **Stable numerics.** Softmax and log-sum-exp are max-shifted; `-inf` masks get
//!   exactly zero probability; a NaN never passes silently. The vectorised
//!   [`simd::exp`] is within 1 ulp of the correctly rounded result for every input.
//! - **Gradients.** Every forward kernel has its backward pass, checked against finite
//!   differences in the test suite.
//! - **One implementation.** Each kernel is written once against [`simd::Vector`]:
//!   `wide::f32x16` (AVX-512 on x86-64 when the build enables it), `wide::f32x8` (AVX,
//!   NEON on aarch64), `wide::f32x4` scalar lanes on Cortex-M and RISC-V.
//!
//! ## Layers
//!
//! | layer | module | holds |
//! |---|---|---|
//! | lanes | [`simd`] | the vector type, slice traversals with a scalar tail, horizontal sums, `exp` |
//! | kernels | [`kernels`] | reductions, softmax family, losses, matmul family, LayerNorm, GELU, element-wise ops, optimisers |
//! | tensors and views | [`tensor`], [`MatRef`], [`MatMut`] | `Matrix<R, C>`, `WideMatrix`, `WideVector` with shapes in types; strided views for the kernels |
//! | parameters | [`params`](mod@params) | [`params!`]: a model's tensors declared once, owned or borrowed, with names, shapes, initialisation |
//! | layers | [`nn`] | `Embedding`, `Linear`, `LayerNorm`, `Gelu`, `Mlp`, multi-head `CausalSelfAttention`: forward, backward, one-position step |
//! | training, sampling | [`train`], [`sample`] | optimisers, clipping and their state over any declared parameters; one training step for every model; choosing a token, generating |
//! | models | [`attention`], [`gpt`], [`word2vec`] | a causal attention language model; a GPT-2-style transformer (L layers, N heads); word2vec (skip-gram, CBOW) |
//! | support | [`vocab`], [`safetensors`] | word and character vocabularies; weights in the safetensors format (Hugging Face GPT-2 checkpoints included) |
//!
//! `ARCHITECTURE.md` in the repository records the contracts and the decisions behind
//! this layout.
//!
//! ## Cargo features
//!
//! Everything above the models is always there. The default features add
//! `safetensors` (weights files and [`include_safetensors!`]; the only feature with
//! dependencies: serde, serde-json-core, bytemuck) and the model families `word2vec`,
//! `attention` and `gpt`. `defmt` (off by default) implements `defmt::Format` for
//! [`Error`]. A firmware that needs only the kernels writes
//! `edgegrad = { version = "0.1", default-features = false }` and builds with `wide`,
//! `libm`, `rand_core` and `heapless` alone.
//!
//! ## Example: one step of softmax regression
//!
//! ```
//! use edgegrad::{MatMut, MatRef, kernels::{self, Accum}};
//!
//! // 2 examples × 3 features, 3 features × 2 classes
//! let x = [1.0, 0.0, 2.0, 0.5, 1.0, 0.0];
//! let mut w = [0.0_f32; 6];
//! let targets = [1_u16, 0];
//! let (mut logits, mut dlogits, mut dw) = ([0.0; 4], [0.0; 4], [0.0; 6]);
//!
//! kernels::matmul(MatRef::new(&x, 2, 3)?, MatRef::new(&w, 3, 2)?,
//!                 MatMut::new(&mut logits, 2, 2)?, Accum::Overwrite)?;
//! let loss = kernels::cross_entropy_batch(MatRef::new(&logits, 2, 2)?, &targets, None,
//!                                         MatMut::new(&mut dlogits, 2, 2)?)?;
//! assert!((loss - core::f32::consts::LN_2).abs() < 1e-6);
//! // dW = Xᵀ·dlogits, then a plain SGD step
//! kernels::matmul_tn(MatRef::new(&x, 2, 3)?, MatRef::new(&dlogits, 2, 2)?,
//!                    MatMut::new(&mut dw, 3, 2)?, Accum::Overwrite)?;
//! kernels::sgd(&mut w, &dw, 0.5)?;
//! # Ok::<(), edgegrad::Error>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "attention")]
#[cfg_attr(docsrs, doc(cfg(feature = "attention")))]
pub mod attention;
mod error;
#[cfg(feature = "gpt")]
#[cfg_attr(docsrs, doc(cfg(feature = "gpt")))]
pub mod gpt;
pub mod kernels;
pub mod nn;
pub mod params;
mod random;
#[cfg(feature = "safetensors")]
#[cfg_attr(docsrs, doc(cfg(feature = "safetensors")))]
pub mod safetensors;
pub mod sample;
pub mod simd;
pub mod tensor;
pub mod train;
pub mod vocab;
#[cfg(feature = "word2vec")]
#[cfg_attr(docsrs, doc(cfg(feature = "word2vec")))]
pub mod word2vec;

pub use error::{Error, FormatProblem, Result, Shape};

/// The `rand_core` the crate's random draws take (`RngCore`): pass any generator that
/// implements it, a chip's hardware RNG or a seeded `rand_pcg`.
pub use rand_core;

/// The README's code examples, compiled and run as doctests.
#[cfg(all(
    doctest,
    feature = "safetensors",
    feature = "attention",
    feature = "gpt",
    feature = "word2vec"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
pub use kernels::{MatMut, MatRef};

//! Weights in the [safetensors](https://github.com/huggingface/safetensors) format,
//! without a heap: export into a caller's buffer, import with full validation, and
//! models that run with their weights left in place (in flash on a microcontroller).
//!
//! A safetensors file is
//!
//! ```text
//! [8 bytes: header length n, u64 little-endian]
//! [n bytes: JSON header, padded with spaces]
//!     {"__metadata__": {"model": "...", ...},
//!      "<name>": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]}, ...}
//! [data: every tensor's little-endian bytes, offsets relative to the data's start]
//! ```
//!
//! The models' methods are the interface:
//!
//! | model | export | import | in place |
//! |---|---|---|---|
//! | [`AttentionLm`](crate::attention::AttentionLm) | `to_safetensors`, `SAFETENSORS_BYTES` | `load_safetensors` | [`AttentionWeights::from_safetensors`](crate::attention::AttentionWeights::from_safetensors) |
//! | [`Gpt`](crate::gpt::Gpt) | `to_safetensors`, `SAFETENSORS_BYTES` | `load_safetensors` | [`GptWeights::from_safetensors`](crate::gpt::GptWeights::from_safetensors) |
//! | [`Word2Vec`](crate::word2vec::Word2Vec) | `to_safetensors`, `SAFETENSORS_BYTES` | `load_safetensors` | — |
//! | any [`params!`](crate::params!) declaration | [`export`], [`file_len`] | [`import`] | [`view`] |
//!
//! Tensor names and shapes are the models' own (`tok_emb` `[V, D]`, …, `b_out` `[V]`;
//! word2vec `input` and `output`, `[V, D]`; the GPT exactly Hugging Face GPT-2's,
//! `transformer.wte.weight` `[V, D]`, …, `transformer.h.{i}.attn.c_attn.weight`
//! `[D, 3D]`, …), so files written by NumPy or PyTorch with those names load directly.
//! A model's [`Aliases`] name what else its files may hold: the GPT accepts names
//! without `transformer.` (`GPT2Model`), a `lm_head.weight` equal to the tied token
//! table, and the causal-mask buffers `h.{i}.attn.bias`/`masked_bias` (ignored). Reading checks everything before copying anything:
//!
//! - the header is at most [`MAX_HEADER_LEN`] bytes, inside the file, begins with `{`
//!   and is valid UTF-8 JSON (parsed by `serde-json-core`; string escapes and list
//!   commas, which that parser passes over, are checked first);
//! - `__metadata__`, if present, maps strings to strings (or is `null`);
//! - every tensor of the model is present exactly once, with dtype `F32`, exactly the
//!   model's shape, and an entry of exactly `dtype`, `shape` and `data_offsets`; no
//!   other tensor is, beyond what the model's [`Aliases`] allow;
//! - the byte ranges lie in the data section, are `4 ×` the element count long, and
//!   tile the section exactly: no overlap, no hole, no trailing bytes;
//! - every value is finite: a NaN or an infinity (a corrupted page of flash, a diverged
//!   run saved to a file) is refused, in place too, as [`FormatProblem::NonFinite`].
//!
//! Writing refuses what reading would: a model holding a NaN or an infinity is not
//! exported.
//!
//! Each failure is an [`Error::Safetensors`] naming the tensor
//! (when the problem is one tensor's) and the [`FormatProblem`].
//!
//! ```
//! use edgegrad::attention::{AttentionLm, AttentionWeights};
//! use rand_core::SeedableRng;
//!
//! type Lm = AttentionLm<16, 8, 8, 4>;
//! let mut model = Lm::ZERO;
//! model.init(&mut rand_pcg::Pcg32::seed_from_u64(1));
//!
//! // Export: the buffer's exact size is a constant. `Aligned` keeps the tensors
//! // 4-byte aligned, so they can also be used in place.
//! let mut file = edgegrad::safetensors::Aligned([0_u8; Lm::SAFETENSORS_BYTES]);
//! let written = model.to_safetensors(&mut file.0)?;
//! assert_eq!(written, Lm::SAFETENSORS_BYTES);
//!
//! // Import into another model...
//! let mut copy = Lm::ZERO;
//! copy.load_safetensors(&file.0)?;
//! assert_eq!(copy, model);
//!
//! // ...or borrow the weights where they are.
//! let weights = AttentionWeights::<16, 8, 8, 4>::from_safetensors(&file.0)?;
//! assert_eq!(weights.w_q, &model.w_q.0);
//!
//! // A damaged file is refused with the tensor and the problem, the model untouched.
//! let truncated = &file.0[..Lm::SAFETENSORS_BYTES - 4];
//! let err = copy.load_safetensors(truncated).unwrap_err();
//! assert!(matches!(err, edgegrad::Error::Safetensors { tensor: Some(t), .. } if t == "b_out"));
//! assert_eq!(copy, model);
//! # Ok::<(), edgegrad::Error>(())
//! ```

mod aliases;
mod header;
mod models;
mod write;

use crate::error::{Error, FormatProblem, Result};
use crate::params::{FromTensors, Params, ParamsMut, TensorName};

pub use aliases::{Aliases, Buffers, Tied};
pub use header::MAX_HEADER_LEN;

/// Bytes aligned to 64 (a cache line), so that the `f32` tensors of a safetensors file
/// placed in it can be read in place: safetensors pads its header so that the data
/// starts at a multiple of 8 from the file's start, and edgegrad pads its own files to a
/// multiple of 64, which keeps vector loads of the weights from straddling cache lines
/// (generation on such weights measured as fast as on an owned model, 5–9 % slower
/// with the data only 8-aligned).
///
/// Use it for a buffer to export into, or through [`include_safetensors!`](crate::include_safetensors) for a file
/// embedded in the program.
///
/// ```
/// use edgegrad::safetensors::Aligned;
/// static BUF: Aligned<[u8; 64]> = Aligned([0; 64]);
/// assert_eq!(BUF.0.as_ptr() as usize % 64, 0);
/// ```
#[repr(C, align(64))]
#[derive(Debug)]
pub struct Aligned<B: ?Sized>(pub B);

/// Embeds a safetensors file in the program, aligned for in-place use: like
/// `include_bytes!`, but the `&'static [u8]` it gives starts at a multiple of 64, so
/// [`AttentionWeights::from_safetensors`](crate::attention::AttentionWeights::from_safetensors)
/// can read the tensors where they are (in flash on a microcontroller).
///
/// The path is relative to the file that invokes the macro, as for `include_bytes!`:
///
/// ```
/// use edgegrad::attention::AttentionWeights;
/// // (13, 10, 12, 6): the shapes of this crate's test file, written by NumPy.
/// static WEIGHTS: &[u8] = edgegrad::include_safetensors!(concat!(
///     env!("CARGO_MANIFEST_DIR"),
///     "/tests/data/numpy_lm.safetensors"
/// ));
/// assert_eq!(WEIGHTS.as_ptr() as usize % 64, 0);
/// let weights = AttentionWeights::<13, 10, 12, 6>::from_safetensors(WEIGHTS)?;
/// assert_eq!(weights.b_out.len(), 13);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[macro_export]
macro_rules! include_safetensors {
    ($path:expr) => {{
        static FILE: &$crate::safetensors::Aligned<[u8]> =
            &$crate::safetensors::Aligned(*include_bytes!($path));
        &FILE.0
    }};
}

/// A parameter struct that is saved as a safetensors file: its declaration
/// ([`Params::LAYOUT`]: names, shapes, order) plus what the file's `__metadata__` says of
/// it. Implemented by the models for every storage, so owned models export and import
/// and borrowed ones read in place.
pub trait Model: Params {
    /// `__metadata__["model"]`, e.g. `"edgegrad.attention_lm"`.
    const KIND: &'static str;
    /// Further metadata: each size by name, written as a decimal string.
    const SIZES: &'static [(&'static str, usize)];
    /// What a file may hold besides the declared names ([`Aliases::NONE`]: nothing).
    const ALIASES: Aliases = Aliases::NONE;
}

/// Exact size in bytes of the file [`export`] writes for `M`: the 8-byte length, the
/// header padded so that the data starts at a multiple of 64, and `4 ·
/// PARAMETERS` bytes of data. A `const fn`, so a buffer can be a `static` array.
pub const fn file_len<M: Model>() -> usize {
    let header = 8 + write::padded_header_len(M::LAYOUT, M::KIND, M::SIZES);
    header.saturating_add(M::LAYOUT.elements().saturating_mul(4))
}

/// Writes `model`'s tensors as a safetensors file at the start of `out` (at least
/// [`file_len::<M>()`](file_len) long) and returns the number of bytes written: each
/// tensor under its declared name, dtype `F32`, its declared shape, in declaration
/// order; `__metadata__` `{"model": KIND, SIZE: "value", …}`. A non-finite value is
/// refused ([`FormatProblem::NonFinite`], as the readers would) before a byte is written.
pub fn export<M: Model>(model: &M, out: &mut [u8]) -> Result<usize> {
    for i in 0..M::TENSORS {
        if let Some(index) = model.tensor(i).iter().position(|x| !x.is_finite()) {
            return Err(Error::Safetensors {
                tensor: TensorName::new(M::LAYOUT, i),
                problem: FormatProblem::NonFinite { index },
            });
        }
    }
    write::write_file(M::LAYOUT, (M::KIND, M::SIZES), &|i| model.tensor(i), out)
}

/// Replaces `model`'s tensors with those of a safetensors file, any alignment. The
/// whole file is checked first (see the [module](self) for the checks); on any error
/// the model is unchanged.
#[inline(never)]
pub fn import<M: Model + ParamsMut>(model: &mut M, bytes: &[u8]) -> Result<()> {
    let checked = header::check(M::LAYOUT, &M::ALIASES, bytes)?;
    check_values(M::LAYOUT, &checked, bytes)?;
    checked.each(&mut |i, range| {
        let (words, _) = bytes.get(range).unwrap_or_default().as_chunks::<4>();
        for (x, w) in model.tensor_mut(i).iter_mut().zip(words) {
            *x = f32::from_le_bytes(*w);
        }
    });
    Ok(())
}

/// Refuses a NaN or an infinity among the tensors' values
/// ([`FormatProblem::NonFinite`]): a corrupted page of flash or a diverged training run
/// saved to a file must not load as a model whose every output is NaN.
fn check_values(
    root: &'static crate::params::Entry,
    checked: &header::Checked<'_>,
    bytes: &[u8],
) -> Result<()> {
    let mut found = None;
    checked.each(&mut |i, range| {
        if found.is_some() {
            return;
        }
        let (words, _) = bytes.get(range).unwrap_or_default().as_chunks::<4>();
        // An exponent of all ones is an infinity or a NaN.
        if let Some(index) = words
            .iter()
            .position(|w| u32::from_le_bytes(*w) & 0x7f80_0000 == 0x7f80_0000)
        {
            found = Some((i, index));
        }
    });
    match found {
        None => Ok(()),
        Some((i, index)) => Err(Error::Safetensors {
            tensor: TensorName::new(root, i),
            problem: FormatProblem::NonFinite { index },
        }),
    }
}

/// The tensors of a safetensors file, read in place: a borrowed model (`Ref` storage)
/// whose tensors point into `bytes`. Checked as by [`import`]; in addition each tensor
/// must be 4-byte aligned in memory ([`FormatProblem::Misaligned`] otherwise), and the
/// target little-endian ([`Error::InvalidParameter`] on a big-endian one).
// Out of line: the reader's windows are needed only while the view is built.
#[inline(never)]
pub fn view<'a, M: Model + FromTensors<'a>>(bytes: &'a [u8]) -> Result<M> {
    if cfg!(target_endian = "big") {
        return Err(Error::InvalidParameter {
            what: "safetensors in place",
            expected: "a little-endian target (use load_safetensors to convert)",
        });
    }
    let mut checked = header::check(M::LAYOUT, &M::ALIASES, bytes)?;
    check_values(M::LAYOUT, &checked, bytes)?;
    M::from_tensors(&mut |i| {
        let data = bytes.get(checked.span(i)).unwrap_or_default();
        bytemuck::try_cast_slice(data).map_err(|_| Error::Safetensors {
            tensor: TensorName::new(M::LAYOUT, i),
            problem: FormatProblem::Misaligned {
                offset: data.as_ptr() as usize % 4,
            },
        })
    })
}

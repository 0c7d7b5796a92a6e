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
//! | [`Word2Vec`](crate::word2vec::Word2Vec) | `to_safetensors`, `SAFETENSORS_BYTES` | `load_safetensors` | — |
//!
//! Tensor names and shapes are the models' own (`tok_emb` `[V, D]`, …, `b_out` `[V]`;
//! word2vec `input` and `output`, `[V, D]`), so files written by NumPy or PyTorch with
//! those names load directly. Reading checks everything before copying anything:
//!
//! - the header is at most [`MAX_HEADER_LEN`] bytes, inside the file, begins with `{`
//!   and is valid UTF-8 JSON (parsed by `serde-json-core`; string escapes and list
//!   commas, which that parser passes over, are checked first);
//! - `__metadata__`, if present, maps strings to strings (or is `null`);
//! - every tensor of the model is present exactly once, with dtype `F32`, exactly the
//!   model's shape, and an entry of exactly `dtype`, `shape` and `data_offsets`; no
//!   other tensor is;
//! - the byte ranges lie in the data section, are `4 ×` the element count long, and
//!   tile the section exactly: no overlap, no hole, no trailing bytes.
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
//! assert!(matches!(err, edgegrad::Error::Safetensors { tensor: Some("b_out"), .. }));
//! assert_eq!(copy, model);
//! # Ok::<(), edgegrad::Error>(())
//! ```

mod header;
mod models;
mod write;

use core::ops::Range;

use crate::error::{Error, FormatProblem, Result, Shape};

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

/// Most tensors a model has (the attention LM's eight).
const MAX_TENSORS: usize = 8;

/// One tensor of a model: its name in the file and its shape there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TensorSpec {
    pub name: &'static str,
    pub shape: Shape,
}

impl TensorSpec {
    /// A `rows × cols` matrix.
    pub(crate) const fn matrix(name: &'static str, rows: usize, cols: usize) -> Self {
        TensorSpec {
            name,
            shape: Shape::new(&[rows as u64, cols as u64]),
        }
    }

    /// A vector of `len` elements.
    pub(crate) const fn vector(name: &'static str, len: usize) -> Self {
        TensorSpec {
            name,
            shape: Shape::new(&[len as u64]),
        }
    }

    /// Number of `f32` elements.
    const fn len(&self) -> usize {
        let dims = &self.shape;
        let mut n = 1;
        let mut i = 0;
        while i < dims.rank() {
            n *= dims.dim(i) as usize;
            i += 1;
        }
        n
    }
}

/// What a model's file holds: its kind and sizes (written as `__metadata__`) and its
/// tensors in order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout<'a> {
    /// Value of the metadata key `model`.
    pub kind: &'a str,
    /// Further metadata: each size by name, written as a decimal string.
    pub sizes: &'a [(&'a str, usize)],
    pub tensors: &'a [TensorSpec],
}

impl Layout<'_> {
    /// Bytes of the whole file this layout writes.
    pub(crate) const fn file_len(&self) -> usize {
        let mut data = 0;
        let mut i = 0;
        while i < self.tensors.len() {
            data += 4 * self.tensors[i].len();
            i += 1;
        }
        8 + write::padded_header_len(self) + data
    }

    /// Writes `tensors` (in layout order, each of its spec's length) as a safetensors
    /// file at the start of `out`; returns the bytes written.
    pub(crate) fn export(&self, tensors: &[&[f32]], out: &mut [u8]) -> Result<usize> {
        write::write_file(self, tensors, out)
    }

    /// Validates `bytes` as a file of this layout and copies its tensors into `dst`
    /// (layout order). Nothing is written unless the whole file is valid.
    pub(crate) fn import(&self, bytes: &[u8], dst: &mut [&mut [f32]]) -> Result<()> {
        let ranges = header::locate(self, bytes)?;
        for (d, range) in dst.iter_mut().zip(ranges) {
            let (words, _) = bytes[range].as_chunks::<4>();
            for (x, w) in d.iter_mut().zip(words) {
                *x = f32::from_le_bytes(*w);
            }
        }
        Ok(())
    }

    /// Validates `bytes` as a file of this layout and returns each tensor's byte range
    /// in `bytes`, for reading in place.
    pub(crate) fn locate(&self, bytes: &[u8]) -> Result<[Range<usize>; MAX_TENSORS]> {
        header::locate(self, bytes)
    }
}

/// The tensor `spec` in place: `bytes[range]` cast to `&T` (an `f32` array of the
/// spec's shape), or why it cannot be.
pub(crate) fn cast<'a, T: bytemuck::AnyBitPattern>(
    spec: &TensorSpec,
    bytes: &'a [u8],
    range: Range<usize>,
) -> Result<&'a T> {
    let tensor = Some(spec.name);
    if cfg!(target_endian = "big") {
        return Err(Error::InvalidParameter {
            what: "safetensors in place",
            expected: "a little-endian target (use load_safetensors to convert)",
        });
    }
    let data = &bytes[range];
    bytemuck::try_from_bytes(data).map_err(|_| Error::Safetensors {
        tensor,
        problem: FormatProblem::Misaligned {
            offset: data.as_ptr() as usize % 4,
        },
    })
}

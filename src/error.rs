//! The crate's one error type.

use core::fmt;

use crate::params::TensorName;

/// Everything that can go wrong in `edgegrad`: bad shapes, out-of-range indices,
/// non-finite inputs and invalid parameters.
///
/// Kernels check shapes, indices and parameters before writing any output, so on such
/// an error the outputs are left as they were; single-row kernels also find NaN and
/// `+inf` before writing. Row-wise and batch kernels find a non-finite value when they
/// reach its row, after the earlier rows were written (the error's index is the flat
/// position). Each variant names the argument at fault (`what`) and the numbers
/// involved.
///
/// ```
/// use edgegrad::{kernels::softmax, Error};
/// let mut y = [0.0; 2];
/// let err = softmax(&[1.0, 2.0, 3.0], &mut y).unwrap_err();
/// assert_eq!(err, Error::LengthMismatch { what: "softmax output", expected: 3, found: 2 });
/// assert_eq!(err.to_string(), "softmax output: expected length 3, found 2");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// A slice does not have the length its shape requires.
    LengthMismatch {
        /// The argument at fault.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// Two matrices' shapes do not fit together (for example the inner dimensions of a
    /// product), as `(rows, cols)` pairs.
    ShapeMismatch {
        /// The argument at fault.
        what: &'static str,
        /// The shape required.
        expected: (usize, usize),
        /// The shape given.
        found: (usize, usize),
    },
    /// An index (a class, a token id, a position) is not below its bound.
    IndexOutOfRange {
        /// The argument at fault.
        what: &'static str,
        /// The index given.
        index: usize,
        /// The exclusive upper bound.
        len: usize,
    },
    /// A length (of a token sequence, a prompt, a view) outside its valid range.
    InvalidLength {
        /// The argument at fault.
        what: &'static str,
        /// The length given.
        found: usize,
        /// The smallest valid length.
        min: usize,
        /// The largest valid length.
        max: usize,
    },
    /// Malformed text input (a weights file), with the 1-based line at fault.
    Parse {
        /// What is wrong.
        what: &'static str,
        /// The 1-based line number.
        line: usize,
    },
    /// A NaN, or a `+inf` where only finite values or `-inf` masks are meaningful.
    NonFinite {
        /// The argument at fault.
        what: &'static str,
        /// Position of the first offending element.
        index: usize,
    },
    /// A parameter outside its valid range (a negative learning rate, a β ≥ 1, …).
    InvalidParameter {
        /// The parameter at fault.
        what: &'static str,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// A result asked for is not there: a decoder sampled before a successful step
    /// (fresh, reset, truncated, or after a step that failed).
    NoLogits {
        /// The call at fault.
        what: &'static str,
    },
    /// A safetensors file that does not hold what the model needs: the tensor at fault
    /// (`None` for a problem of the file as a whole) and what is wrong with it.
    Safetensors {
        /// The model's name of the tensor at fault, if the problem is one tensor's.
        tensor: Option<TensorName>,
        /// What is wrong.
        problem: FormatProblem,
    },
}

/// What is wrong with a safetensors file (the detail of [`Error::Safetensors`]).
///
/// A safetensors file is an 8-byte little-endian header length `n`, `n` bytes of JSON
/// header mapping tensor names to `{"dtype", "shape", "data_offsets": [begin, end]}`
/// (offsets relative to the data that follows the header), then the tensors' bytes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FormatProblem {
    /// The file is shorter than its 8-byte header length field.
    TooShort {
        /// The file's length in bytes.
        len: usize,
    },
    /// The header length field is larger than the limit this reader accepts.
    HeaderTooLong {
        /// The header length the file gives.
        header_len: u64,
        /// The largest accepted header length.
        max: u64,
    },
    /// The header length field points past the end of the file.
    HeaderPastEnd {
        /// The header length the file gives.
        header_len: u64,
        /// The file's length in bytes.
        file_len: usize,
    },
    /// The header is not valid JSON (or not UTF-8); `reason` says what the parser met.
    Json {
        /// The parser's complaint.
        reason: &'static str,
    },
    /// The header is JSON but not a safetensors header (an entry is not an object with
    /// exactly `dtype`, `shape` and `data_offsets`, or `__metadata__` is not a map of
    /// strings).
    Schema {
        /// What is out of place.
        reason: &'static str,
    },
    /// A tensor this model does not have; `index` is the entry's position in the
    /// header, from 0 (`__metadata__` included).
    UnknownTensor {
        /// Position of the entry in the header.
        index: usize,
    },
    /// The tensor appears twice in the header.
    DuplicateTensor,
    /// The model's tensor is not in the file.
    MissingTensor,
    /// The tensor's dtype is not `F32`.
    WrongDtype {
        /// The dtype the file gives (`"unknown"` for a name safetensors does not define).
        found: &'static str,
    },
    /// The tensor's shape is not the model's.
    WrongShape {
        /// The model's shape.
        expected: Shape,
        /// The file's shape.
        found: Shape,
    },
    /// The tensor's byte range does not lie inside the data section (or ends before it
    /// begins).
    OffsetsOutOfRange {
        /// First byte, relative to the data section.
        begin: u64,
        /// One past the last byte.
        end: u64,
    },
    /// The tensor's byte range is not `4 ×` its number of elements long.
    WrongByteLength {
        /// `4 ×` the number of elements.
        expected: u64,
        /// `end − begin`.
        found: u64,
    },
    /// The tensor's bytes overlap those of another tensor.
    Overlap {
        /// The other tensor.
        with: TensorName,
    },
    /// Bytes of the data section that belong to no tensor (a hole, or trailing
    /// garbage), relative to the data section.
    UnusedData {
        /// First unused byte.
        begin: usize,
        /// One past the last unused byte.
        end: usize,
    },
    /// An entry the model allows besides its tensors (see
    /// [`Aliases`](crate::safetensors::Aliases): a tied copy, a buffer) is not as it
    /// must be; `reason` says how.
    Extra {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The tensor holds a NaN or an infinity (weights are finite: a non-finite one
    /// makes every output NaN).
    NonFinite {
        /// The first such element, in the tensor's row-major order.
        index: usize,
    },
    /// The tensor's bytes are not 4-byte aligned in memory, so they cannot be read in
    /// place as `f32` (place the file at an aligned address, e.g. with
    /// [`include_safetensors!`](crate::include_safetensors)).
    Misaligned {
        /// Address of the tensor's first byte modulo 4.
        offset: usize,
    },
}

/// A tensor shape as a safetensors header gives it, kept small so that [`Error`] stays
/// small: the rank is exact up to 255 (and 255 beyond), the first
/// [`MAX_RANK`](Shape::MAX_RANK) dimensions are kept, and a dimension above `u32::MAX` is
/// kept as `u32::MAX` (no model has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The rank, saturating at 255.
    rank: u8,
    /// Little-endian `u32` dimensions as bytes, so that the struct has alignment 1 and
    /// two shapes pack into [`FormatProblem`] without padding.
    dims: [[u8; 4]; Shape::MAX_RANK],
}

impl Shape {
    /// Dimensions kept (the models' tensors have up to four).
    pub const MAX_RANK: usize = 4;

    /// The empty shape (rank 0, one element), to be extended with [`push`](Self::push).
    pub const EMPTY: Shape = Shape {
        rank: 0,
        dims: [[0; 4]; Shape::MAX_RANK],
    };

    /// A shape from its dimensions.
    ///
    /// ```
    /// use edgegrad::Shape;
    /// let s = Shape::new(&[64, 32]);
    /// assert_eq!(s.rank(), 2);
    /// assert!(s.dims().eq([64, 32]));
    /// assert_eq!(s.to_string(), "[64, 32]");
    /// assert_eq!(Shape::new(&[1, 2, 3, 4, 5]).to_string(), "[1, 2, 3, 4, … (5 dimensions)]");
    /// ```
    pub const fn new(dims: &[u64]) -> Shape {
        let mut s = Shape::EMPTY;
        let mut i = 0;
        while i < dims.len() {
            s = s.push(dims[i]);
            i += 1;
        }
        s
    }

    /// This shape with one more trailing dimension.
    pub const fn push(mut self, dim: u64) -> Shape {
        let r = self.rank as usize;
        if r < Shape::MAX_RANK {
            let d = if dim > u32::MAX as u64 {
                u32::MAX
            } else {
                dim as u32
            };
            self.dims[r] = d.to_le_bytes();
        }
        self.rank = self.rank.saturating_add(1);
        self
    }

    /// Dimension `i` (0 past the dimensions kept).
    pub const fn dim(&self, i: usize) -> u64 {
        if i < Shape::MAX_RANK && i < self.rank as usize {
            u32::from_le_bytes(self.dims[i]) as u64
        } else {
            0
        }
    }

    /// Number of dimensions.
    pub const fn rank(&self) -> usize {
        self.rank as usize
    }

    /// The dimensions kept (all of them if `rank ≤ MAX_RANK`).
    pub fn dims(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.dims[..self.rank().min(Shape::MAX_RANK)]
            .iter()
            .map(|d| u32::from_le_bytes(*d))
    }

    /// Number of elements: the product of the dimensions (1 for rank 0; saturating).
    pub const fn elements(&self) -> usize {
        let mut n: usize = 1;
        let mut i = 0;
        while i < self.rank() && i < Shape::MAX_RANK {
            n = n.saturating_mul(self.dim(i) as usize);
            i += 1;
        }
        n
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.dims().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        if self.rank() > Shape::MAX_RANK {
            write!(f, ", … ({} dimensions)", self.rank)?;
        }
        f.write_str("]")
    }
}

impl fmt::Display for FormatProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FormatProblem::TooShort { len } => {
                write!(f, "file of {len} bytes has no 8-byte header length")
            }
            FormatProblem::HeaderTooLong { header_len, max } => {
                write!(
                    f,
                    "header length {header_len} exceeds the limit of {max} bytes"
                )
            }
            FormatProblem::HeaderPastEnd {
                header_len,
                file_len,
            } => write!(
                f,
                "header length {header_len} runs past the end of the {file_len}-byte file"
            ),
            FormatProblem::Json { reason } => write!(f, "header is not valid JSON: {reason}"),
            FormatProblem::Schema { reason } => {
                write!(f, "header is not a safetensors header: {reason}")
            }
            FormatProblem::UnknownTensor { index } => {
                write!(f, "header entry {index} is not a tensor of this model")
            }
            FormatProblem::DuplicateTensor => f.write_str("appears twice in the header"),
            FormatProblem::MissingTensor => f.write_str("missing from the file"),
            FormatProblem::WrongDtype { found } => write!(f, "dtype {found}, expected F32"),
            FormatProblem::WrongShape { expected, found } => {
                write!(f, "shape {found}, expected {expected}")
            }
            FormatProblem::OffsetsOutOfRange { begin, end } => {
                write!(f, "data offsets [{begin}, {end}] outside the data section")
            }
            FormatProblem::WrongByteLength { expected, found } => {
                write!(f, "{found} bytes of data, expected {expected}")
            }
            FormatProblem::Overlap { with } => write!(f, "data overlaps tensor `{with}`"),
            FormatProblem::UnusedData { begin, end } => {
                write!(f, "data bytes {begin}..{end} belong to no tensor")
            }
            FormatProblem::Extra { reason } => {
                write!(
                    f,
                    "an entry besides the model's tensors is refused: {reason}"
                )
            }
            FormatProblem::NonFinite { index } => {
                write!(f, "element {index} is NaN or infinite")
            }
            FormatProblem::Misaligned { offset } => write!(
                f,
                "data at address ≡ {offset} (mod 4), not aligned for f32 (use include_safetensors!)"
            ),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::LengthMismatch {
                what,
                expected,
                found,
            } => {
                write!(f, "{what}: expected length {expected}, found {found}")
            }
            Error::ShapeMismatch {
                what,
                expected,
                found,
            } => write!(
                f,
                "{what}: expected shape {}×{}, found {}×{}",
                expected.0, expected.1, found.0, found.1
            ),
            Error::IndexOutOfRange { what, index, len } => {
                write!(f, "{what}: index {index} out of range for length {len}")
            }
            Error::InvalidLength {
                what,
                found,
                min,
                max,
            } => {
                write!(f, "{what}: length {found} outside {min}..={max}")
            }
            Error::Parse { what, line } => write!(f, "line {line}: {what}"),
            Error::NonFinite { what, index } => {
                write!(f, "{what}: non-finite value (NaN or +inf) at index {index}")
            }
            Error::InvalidParameter { what, expected } => {
                write!(f, "{what}: invalid value, expected {expected}")
            }
            Error::NoLogits { what } => write!(
                f,
                "{what}: no logits (no successful step since the last reset)"
            ),
            Error::Safetensors {
                tensor: Some(name),
                problem,
            } => write!(f, "safetensors tensor `{name}`: {problem}"),
            Error::Safetensors {
                tensor: None,
                problem,
            } => write!(f, "safetensors file: {problem}"),
        }
    }
}

impl core::error::Error for Error {}

/// `Result` with the crate's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

/// Checks that a slice has exactly the expected length.
#[inline]
pub(crate) fn check_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            what,
            expected,
            found,
        })
    }
}

/// Checks that a length lies in `min..=max`.
#[inline]
pub(crate) fn check_len_range(
    what: &'static str,
    found: usize,
    min: usize,
    max: usize,
) -> Result<()> {
    if (min..=max).contains(&found) {
        Ok(())
    } else {
        Err(Error::InvalidLength {
            what,
            found,
            min,
            max,
        })
    }
}

/// Checks that an index is below its bound.
#[inline]
pub(crate) fn check_index(what: &'static str, index: usize, len: usize) -> Result<()> {
    if index < len {
        Ok(())
    } else {
        Err(Error::IndexOutOfRange { what, index, len })
    }
}

/// Checks that two matrices have the same shape.
pub(crate) fn check_same_shape(
    what: &'static str,
    expected: (usize, usize),
    found: (usize, usize),
) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what,
            expected,
            found,
        })
    }
}

/// With the `defmt` feature, errors log through `defmt` like through `Debug`: the shape
/// as its dimensions, a tensor by its dotted name.
#[cfg(feature = "defmt")]
impl defmt::Format for Shape {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "[");
        for (i, d) in self.dims().enumerate() {
            if i > 0 {
                defmt::write!(f, ", ");
            }
            defmt::write!(f, "{=u32}", d);
        }
        if self.rank() > Shape::MAX_RANK {
            defmt::write!(f, ", …");
        }
        defmt::write!(f, "]");
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for crate::params::TensorName {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Display2Format(self));
    }
}

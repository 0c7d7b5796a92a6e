//! The crate's one error type.

use core::fmt;

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

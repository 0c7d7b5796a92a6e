//! Fixed-size tensors: matrices whose shapes live in their types.
//!
//! [`Matrix<R, C>`] is a `#[repr(transparent)]` wrapper over `[[f32; C]; R]`. Models
//! declare their parameters, gradients and activations with it, so every shape check
//! between them happens at compile time, and hand the kernels zero-cost slice views.
//! [`WideMatrix<R, K, C>`] (`R × K·C`) and [`WideVector<K, C>`] (`K·C`) hold the shapes
//! stable Rust cannot write from generic parameters, such as GPT-2's `D × 3D` `c_attn`.

use crate::error::{Result, check_len_range};
use crate::kernels::{MatMut, MatRef};

/// A row-major `R × C` matrix of `f32`, stored inline (no heap).
///
/// `Matrix::<R, C>::ZERO` is a `const`, so a large matrix (or a model made of them)
/// can live in a `static` or be placed in a `Box` without being built on the stack.
/// It is deliberately not `Clone`: copying a large matrix should be explicit
/// ([`copy_from`](Self::copy_from)).
///
/// ```
/// use edgegrad::tensor::Matrix;
/// let mut m = Matrix::<2, 3>::ZERO;
/// m.row_mut(1)[2] = 5.0;
/// assert_eq!(m.as_slice(), &[0.0, 0.0, 0.0, 0.0, 0.0, 5.0]);
/// assert_eq!(m.view().shape(), (2, 3));
/// ```
#[repr(transparent)]
#[derive(Debug, PartialEq)]
pub struct Matrix<const R: usize, const C: usize>(pub [[f32; C]; R]);

impl<const R: usize, const C: usize> Matrix<R, C> {
    /// The all-zero matrix.
    pub const ZERO: Self = Matrix([[0.0; C]; R]);
    /// Number of rows `R`.
    pub const ROWS: usize = R;
    /// Number of columns `C`.
    pub const COLS: usize = C;
    /// Number of elements `R·C`.
    pub const LEN: usize = R * C;

    /// All elements, row-major.
    #[inline]
    pub fn as_slice(&self) -> &[f32] {
        self.0.as_flattened()
    }

    /// All elements, row-major, mutable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.0.as_flattened_mut()
    }

    /// The whole matrix as a kernel view.
    #[inline]
    pub fn view(&self) -> MatRef<'_> {
        view_of(&self.0)
    }

    /// The whole matrix as a mutable kernel view.
    #[inline]
    pub fn view_mut(&mut self) -> MatMut<'_> {
        MatMut::from_rows(self.as_mut_slice(), R, C)
    }

    /// The first `rows` rows as a kernel view ([`Error::InvalidLength`](crate::Error::InvalidLength) if `rows > R`).
    #[inline]
    pub fn top(&self, rows: usize) -> Result<MatRef<'_>> {
        check_len_range("matrix rows", rows, 0, R)?;
        Ok(MatRef::from_rows(&self.as_slice()[..rows * C], rows, C))
    }

    /// The first `rows` rows as a mutable kernel view.
    #[inline]
    pub fn top_mut(&mut self, rows: usize) -> Result<MatMut<'_>> {
        check_len_range("matrix rows", rows, 0, R)?;
        Ok(MatMut::from_rows(
            &mut self.as_mut_slice()[..rows * C],
            rows,
            C,
        ))
    }

    /// Row `i` (panics if `i ≥ R`, like array indexing).
    #[inline]
    pub fn row(&self, i: usize) -> &[f32; C] {
        &self.0[i]
    }

    /// Row `i`, mutable (panics if `i ≥ R`).
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [f32; C] {
        &mut self.0[i]
    }

    /// Sets every element to `v`.
    #[inline]
    pub fn fill(&mut self, v: f32) {
        self.as_mut_slice().fill(v);
    }

    /// Copies every element of `other` into `self`.
    #[inline]
    pub fn copy_from(&mut self, other: &Self) {
        self.as_mut_slice().copy_from_slice(other.as_slice());
    }
}

/// A kernel view of a row-major array (the storage of a [`Matrix`], or weights borrowed
/// from elsewhere).
#[inline]
pub(crate) fn view_of<const R: usize, const C: usize>(rows: &[[f32; C]; R]) -> MatRef<'_> {
    MatRef::from_rows(rows.as_flattened(), R, C)
}

/// A row-major `R × (K·C)` matrix stored as `[[[f32; C]; K]; R]`: a width that stable
/// Rust cannot write as `Matrix<R, { K * C }>`, such as GPT-2's `D × 3D` `c_attn`
/// weight (`WideMatrix<D, 3, D>`). In files and views it is a plain `R × K·C` matrix.
///
/// ```
/// use edgegrad::tensor::WideMatrix;
/// let mut m = WideMatrix::<2, 3, 2>::ZERO;
/// m.0[1][2][0] = 1.0; // row 1, column 2·2 + 0
/// assert_eq!(m.view().shape(), (2, 6));
/// assert_eq!(m.view().row(1), &[0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
/// ```
#[repr(transparent)]
#[derive(Debug, PartialEq)]
pub struct WideMatrix<const R: usize, const K: usize, const C: usize>(pub [[[f32; C]; K]; R]);

impl<const R: usize, const K: usize, const C: usize> WideMatrix<R, K, C> {
    /// The all-zero matrix.
    pub const ZERO: Self = WideMatrix([[[0.0; C]; K]; R]);

    /// All elements, row-major.
    #[inline]
    pub fn as_slice(&self) -> &[f32] {
        self.0.as_flattened().as_flattened()
    }

    /// All elements, row-major, mutable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.0.as_flattened_mut().as_flattened_mut()
    }

    /// The whole `R × K·C` matrix as a kernel view.
    #[inline]
    pub fn view(&self) -> MatRef<'_> {
        wide_view_of(&self.0)
    }

    /// The whole matrix as a mutable kernel view.
    #[inline]
    pub fn view_mut(&mut self) -> MatMut<'_> {
        wide_view_mut_of(&mut self.0)
    }

    /// The first `rows` rows as a mutable kernel view.
    #[inline]
    pub fn top_mut(&mut self, rows: usize) -> Result<MatMut<'_>> {
        check_len_range("matrix rows", rows, 0, R)?;
        Ok(MatMut::from_rows(
            &mut self.as_mut_slice()[..rows * K * C],
            rows,
            K * C,
        ))
    }
}

/// A vector of `K·C` values stored as `[[f32; C]; K]`, the companion of [`WideMatrix`]
/// (GPT-2's `3D` `c_attn` bias is `WideVector<3, D>`). In files it is a plain vector.
///
/// ```
/// use edgegrad::tensor::WideVector;
/// let v = WideVector::<3, 2>([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
/// assert_eq!(v.as_slice(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// ```
#[repr(transparent)]
#[derive(Debug, PartialEq)]
pub struct WideVector<const K: usize, const C: usize>(pub [[f32; C]; K]);

impl<const K: usize, const C: usize> WideVector<K, C> {
    /// The all-zero vector.
    pub const ZERO: Self = WideVector([[0.0; C]; K]);

    /// All `K·C` values.
    #[inline]
    pub fn as_slice(&self) -> &[f32] {
        self.0.as_flattened()
    }

    /// All values, mutable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.0.as_flattened_mut()
    }
}

/// A kernel view of a [`WideMatrix`]'s storage (owned or borrowed).
#[inline]
pub(crate) fn wide_view_of<const R: usize, const K: usize, const C: usize>(
    rows: &[[[f32; C]; K]; R],
) -> MatRef<'_> {
    MatRef::from_rows(rows.as_flattened().as_flattened(), R, K * C)
}

/// A mutable kernel view of a [`WideMatrix`]'s storage.
#[inline]
pub(crate) fn wide_view_mut_of<const R: usize, const K: usize, const C: usize>(
    rows: &mut [[[f32; C]; K]; R],
) -> MatMut<'_> {
    MatMut::from_rows(rows.as_flattened_mut().as_flattened_mut(), R, K * C)
}

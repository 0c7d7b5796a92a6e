//! The types a parameter tensor can have: plain `f32` arrays of rank 1 to 4 and
//! [`Matrix`], each with its shape as a constant.

use core::fmt::Debug;

use super::Zero;
use crate::error::Shape;
use crate::tensor::{Matrix, WideMatrix, WideVector};

/// A fixed-size `f32` tensor that a model can declare as a parameter: its storage is a
/// plain array ([`Array`](Self::Array)), row-major, with the shape [`SHAPE`](Self::SHAPE).
///
/// Implemented for `[f32; N]` (shape `[N]`), [`Matrix<R, C>`] (`[R, C]`) and the nested
/// arrays `[[[f32; C]; B]; A]` (`[A, B, C]`) and `[[[[f32; D]; C]; B]; A]`
/// (`[A, B, C, D]`). Borrowed weights are `&Self::Array`, so a model's tensors read in
/// place from a file keep their shapes in their types.
///
/// ```
/// use edgegrad::params::Tensor;
/// use edgegrad::tensor::Matrix;
/// assert_eq!(<Matrix<3, 4> as Tensor>::LEN, 12);
/// assert_eq!(<Matrix<3, 4> as Tensor>::SHAPE.to_string(), "[3, 4]");
/// assert_eq!(<[[[f32; 2]; 3]; 4] as Tensor>::SHAPE.to_string(), "[4, 3, 2]");
/// ```
pub trait Tensor: Zero + Debug + PartialEq + Sized + 'static {
    /// The plain array the tensor is stored as.
    type Array: Debug + PartialEq + 'static;
    /// Number of elements.
    const LEN: usize;
    /// The shape, as a safetensors file gives it.
    const SHAPE: Shape;
    /// The storage.
    fn array(&self) -> &Self::Array;
    /// The storage, mutable.
    fn array_mut(&mut self) -> &mut Self::Array;
    /// The elements of an array of this tensor, row-major.
    fn flat(a: &Self::Array) -> &[f32];
    /// The elements, mutable.
    fn flat_mut(a: &mut Self::Array) -> &mut [f32];
    /// An array of this tensor over `LEN` elements (`None` for another length).
    fn from_flat(s: &[f32]) -> Option<&Self::Array>;
}

impl<const N: usize> Tensor for [f32; N] {
    type Array = [f32; N];
    const LEN: usize = N;
    const SHAPE: Shape = Shape::new(&[N as u64]);
    #[inline]
    fn array(&self) -> &Self::Array {
        self
    }
    #[inline]
    fn array_mut(&mut self) -> &mut Self::Array {
        self
    }
    #[inline]
    fn flat(a: &Self::Array) -> &[f32] {
        a
    }
    #[inline]
    fn flat_mut(a: &mut Self::Array) -> &mut [f32] {
        a
    }
    #[inline]
    fn from_flat(s: &[f32]) -> Option<&Self::Array> {
        s.try_into().ok()
    }
}

impl<const R: usize, const C: usize> Tensor for Matrix<R, C> {
    type Array = [[f32; C]; R];
    const LEN: usize = R * C;
    const SHAPE: Shape = Shape::new(&[R as u64, C as u64]);
    #[inline]
    fn array(&self) -> &Self::Array {
        &self.0
    }
    #[inline]
    fn array_mut(&mut self) -> &mut Self::Array {
        &mut self.0
    }
    #[inline]
    fn flat(a: &Self::Array) -> &[f32] {
        a.as_flattened()
    }
    #[inline]
    fn flat_mut(a: &mut Self::Array) -> &mut [f32] {
        a.as_flattened_mut()
    }
    #[inline]
    fn from_flat(s: &[f32]) -> Option<&Self::Array> {
        rows_of::<_, C>(s)?.try_into().ok()
    }
}

impl<const A: usize, const B: usize, const C: usize> Tensor for [[[f32; C]; B]; A] {
    type Array = Self;
    const LEN: usize = A * B * C;
    const SHAPE: Shape = Shape::new(&[A as u64, B as u64, C as u64]);
    #[inline]
    fn array(&self) -> &Self::Array {
        self
    }
    #[inline]
    fn array_mut(&mut self) -> &mut Self::Array {
        self
    }
    #[inline]
    fn flat(a: &Self::Array) -> &[f32] {
        a.as_flattened().as_flattened()
    }
    #[inline]
    fn flat_mut(a: &mut Self::Array) -> &mut [f32] {
        a.as_flattened_mut().as_flattened_mut()
    }
    #[inline]
    fn from_flat(s: &[f32]) -> Option<&Self::Array> {
        rows_of::<_, B>(rows_of::<_, C>(s)?)?.try_into().ok()
    }
}

impl<const A: usize, const B: usize, const C: usize, const D: usize> Tensor
    for [[[[f32; D]; C]; B]; A]
{
    type Array = Self;
    const LEN: usize = A * B * C * D;
    const SHAPE: Shape = Shape::new(&[A as u64, B as u64, C as u64, D as u64]);
    #[inline]
    fn array(&self) -> &Self::Array {
        self
    }
    #[inline]
    fn array_mut(&mut self) -> &mut Self::Array {
        self
    }
    #[inline]
    fn flat(a: &Self::Array) -> &[f32] {
        a.as_flattened().as_flattened().as_flattened()
    }
    #[inline]
    fn flat_mut(a: &mut Self::Array) -> &mut [f32] {
        a.as_flattened_mut().as_flattened_mut().as_flattened_mut()
    }
    #[inline]
    fn from_flat(s: &[f32]) -> Option<&Self::Array> {
        rows_of::<_, B>(rows_of::<_, C>(rows_of::<_, D>(s)?)?)?
            .try_into()
            .ok()
    }
}

impl<const K: usize, const C: usize> Tensor for WideVector<K, C> {
    type Array = [[f32; C]; K];
    const LEN: usize = K * C;
    const SHAPE: Shape = Shape::new(&[(K * C) as u64]);
    #[inline]
    fn array(&self) -> &Self::Array {
        &self.0
    }
    #[inline]
    fn array_mut(&mut self) -> &mut Self::Array {
        &mut self.0
    }
    #[inline]
    fn flat(a: &Self::Array) -> &[f32] {
        a.as_flattened()
    }
    #[inline]
    fn flat_mut(a: &mut Self::Array) -> &mut [f32] {
        a.as_flattened_mut()
    }
    #[inline]
    fn from_flat(s: &[f32]) -> Option<&Self::Array> {
        rows_of::<_, C>(s)?.try_into().ok()
    }
}

impl<const R: usize, const K: usize, const C: usize> Tensor for WideMatrix<R, K, C> {
    type Array = [[[f32; C]; K]; R];
    const LEN: usize = R * K * C;
    const SHAPE: Shape = Shape::new(&[R as u64, (K * C) as u64]);
    #[inline]
    fn array(&self) -> &Self::Array {
        &self.0
    }
    #[inline]
    fn array_mut(&mut self) -> &mut Self::Array {
        &mut self.0
    }
    #[inline]
    fn flat(a: &Self::Array) -> &[f32] {
        a.as_flattened().as_flattened()
    }
    #[inline]
    fn flat_mut(a: &mut Self::Array) -> &mut [f32] {
        a.as_flattened_mut().as_flattened_mut()
    }
    #[inline]
    fn from_flat(s: &[f32]) -> Option<&Self::Array> {
        rows_of::<_, K>(rows_of::<_, C>(s)?)?.try_into().ok()
    }
}

/// `s` as rows of `N` (`None` unless its length is a multiple of `N`; `N = 0` only for
/// an empty `s`).
#[inline]
fn rows_of<T, const N: usize>(s: &[T]) -> Option<&[[T; N]]> {
    if N == 0 {
        return s.is_empty().then_some(&[][..]);
    }
    let (rows, rest) = s.as_chunks::<N>();
    rest.is_empty().then_some(rows)
}

//! Element-wise kernels: axpy, scaling, sums and products of vectors, fills and `exp`.
//!
//! Each takes slices of equal length and returns
//! [`Error::LengthMismatch`](crate::Error::LengthMismatch) otherwise, without writing.

use crate::error::{Result, check_len};
use crate::simd::{self, splat};

/// `y ← α·x + y` (BLAS `saxpy`), the update behind SGD and gradient accumulation.
///
/// ```
/// let mut y = [1.0, 1.0];
/// edgegrad::kernels::axpy(2.0, &[3.0, 4.0], &mut y)?;
/// assert_eq!(y, [7.0, 9.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[inline]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) -> Result<()> {
    check_len("axpy: x", y.len(), x.len())?;
    let a = splat(alpha);
    simd::update([y], [x], |[y], [x]| [x.mul_add(a, y)]);
    Ok(())
}

/// `x ← α·x`.
///
/// ```
/// let mut x = [1.0, -2.0];
/// edgegrad::kernels::scale(0.5, &mut x);
/// assert_eq!(x, [0.5, -1.0]);
/// ```
#[inline]
pub fn scale(alpha: f32, x: &mut [f32]) {
    let a = splat(alpha);
    simd::update([x], [], |[x], []| [x * a]);
}

/// `out ← a + b`.
///
/// ```
/// let mut out = [0.0; 2];
/// edgegrad::kernels::add(&[1.0, 2.0], &[3.0, 4.0], &mut out)?;
/// assert_eq!(out, [4.0, 6.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[inline]
pub fn add(a: &[f32], b: &[f32], out: &mut [f32]) -> Result<()> {
    check_len("add: a", out.len(), a.len())?;
    check_len("add: b", out.len(), b.len())?;
    simd::update([out], [a, b], |[_], [a, b]| [a + b]);
    Ok(())
}

/// `y ← y + x`: accumulates a gradient (or any vector) into `y`.
///
/// ```
/// let mut acc = [1.0, 2.0];
/// edgegrad::kernels::add_assign(&mut acc, &[0.5, 0.5])?;
/// assert_eq!(acc, [1.5, 2.5]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[inline]
pub fn add_assign(y: &mut [f32], x: &[f32]) -> Result<()> {
    check_len("add_assign: x", y.len(), x.len())?;
    simd::update([y], [x], |[y], [x]| [y + x]);
    Ok(())
}

/// `out ← a ⊙ b` (element-wise product).
///
/// ```
/// let mut out = [0.0; 2];
/// edgegrad::kernels::mul(&[1.0, 2.0], &[3.0, 4.0], &mut out)?;
/// assert_eq!(out, [3.0, 8.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[inline]
pub fn mul(a: &[f32], b: &[f32], out: &mut [f32]) -> Result<()> {
    check_len("mul: a", out.len(), a.len())?;
    check_len("mul: b", out.len(), b.len())?;
    simd::update([out], [a, b], |[_], [a, b]| [a * b]);
    Ok(())
}

/// `y ← y ⊙ x`.
///
/// ```
/// let mut y = [2.0, 3.0];
/// edgegrad::kernels::mul_assign(&mut y, &[4.0, 5.0])?;
/// assert_eq!(y, [8.0, 15.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[inline]
pub fn mul_assign(y: &mut [f32], x: &[f32]) -> Result<()> {
    check_len("mul_assign: x", y.len(), x.len())?;
    simd::update([y], [x], |[y], [x]| [y * x]);
    Ok(())
}

/// `x ← v` for every element; `fill(g, 0.0)` zeroes a gradient.
///
/// ```
/// let mut g = [1.0, 2.0];
/// edgegrad::kernels::fill(&mut g, 0.0);
/// assert_eq!(g, [0.0, 0.0]);
/// ```
#[inline]
pub fn fill(x: &mut [f32], v: f32) {
    x.fill(v);
}

/// `y ← eˣ` element-wise, with the vectorised [`simd::exp`] (≤ 1 ulp).
///
/// ```
/// let mut y = [0.0; 2];
/// edgegrad::kernels::exp(&[0.0, f32::NEG_INFINITY], &mut y)?;
/// assert_eq!(y, [1.0, 0.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[inline]
pub fn exp(x: &[f32], y: &mut [f32]) -> Result<()> {
    check_len("exp: output", x.len(), y.len())?;
    simd::update([y], [x], |[_], [x]| [simd::exp(x)]);
    Ok(())
}

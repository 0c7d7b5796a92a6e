//! Reductions: sum, maximum, dot product, squared norm and norms.

use crate::error::{Error, Result, check_len};
use crate::simd::{self, LANES, Vector, splat};

/// `Σᵢ xᵢ` (0 for an empty slice). Finite inputs never give NaN, and `±inf` only when
/// the sum itself is beyond `f32`'s range: when a partial sum overflows, the sum is
/// taken again with every value scaled by `2⁻⁶⁴`.
///
/// Eight lanes times four accumulators add in parallel, so the rounding differs from a
/// left-to-right loop but the error bound is better (about `n/32` partial sums of
/// `32` terms instead of one of `n`).
///
/// ```
/// assert_eq!(edgegrad::kernels::sum(&[1.0, 2.0, 3.5]), 6.5);
/// ```
#[inline]
#[must_use]
pub fn sum(x: &[f32]) -> f32 {
    let s = simd::hsum(simd::reduce(
        [x],
        [0.0],
        splat(0.0),
        |a, [v]| a + v,
        |a, b| a + b,
    ));
    if !s.is_finite() {
        // Partial sums that overflowed (in opposite directions, or only in an
        // intermediate), or a non-finite input: the sum
        // again of the values scaled by 2⁻⁶⁴, which no partial sum can overflow (values
        // that small in the scaled sum were negligible beside those that overflowed),
        // scaled back: ±inf if it is beyond f32's range.
        return sum_scaled(x, TINY) * HUGE;
    }
    s
}

/// `2⁻⁶⁴` and `2⁶⁴`: the scaling of the overflow-safe second pass of [`sum`] and [`dot`].
const TINY: f32 = 1.0 / 18_446_744_073_709_551_616.0;
const HUGE: f32 = 18_446_744_073_709_551_616.0;
/// `2⁻⁸⁰` and `2⁸⁰`, for [`dot`]'s factors.
const DOT_TINY: f32 = 1.0 / 1_208_925_819_614_629_174_706_176.0;
const DOT_HUGE: f32 = 1_208_925_819_614_629_174_706_176.0;

/// `Σᵢ s·xᵢ`, out of line: one copy of [`sum`]'s second pass in a firmware image.
#[inline(never)]
fn sum_scaled(x: &[f32], s: f32) -> f32 {
    let s = splat(s);
    simd::hsum(simd::fold([x], [0.0], splat(0.0), |a, [v]| v.mul_add(s, a)))
}

/// `Ok` if every value of `x` is finite, else [`Error::NonFinite`] naming `what` and
/// the index of the first value that is not. One vectorised pass (`0·v` is ±0 for a
/// finite `v` and NaN for ±inf and NaN); the position is searched only on failure.
///
/// ```
/// use edgegrad::kernels::check_finite;
/// assert!(check_finite("x", &[1.0, -3.0e38]).is_ok());
/// assert!(check_finite("x", &[1.0, f32::NEG_INFINITY]).is_err());
/// ```
pub fn check_finite(what: &'static str, x: &[f32]) -> Result<()> {
    let flag = simd::hsum(simd::reduce(
        [x],
        [0.0],
        splat(0.0),
        |a, [v]| a + v * 0.0,
        |a, b| a + b,
    ));
    if flag == 0.0 {
        return Ok(());
    }
    let index = x.iter().position(|v| !v.is_finite()).unwrap_or(0);
    Err(Error::NonFinite { what, index })
}

/// Lane-wise maximum and NaN flag over a slice of magnitudes (`ABS`) or values: the
/// maximum uses the one-instruction `fast_max` (whose NaN handling differs between
/// targets) and NaN is tracked separately, so the result is NaN exactly when an input
/// is, on every target.
#[inline(always)]
fn max_with_nan<const ABS: bool>(x: &[f32], init: f32) -> f32 {
    if LANES == 4 {
        return max_scalar_lanes::<ABS>(x, init);
    }
    let (m, nan) = max_lanes::<ABS>(x, init);
    if nan.to_bitmask() != 0 {
        f32::NAN
    } else {
        simd::hmax(m)
    }
}

/// [`max_with_nan`] on scalar lanes (microcontrollers), where a NaN test per element
/// is a compare, a transfer of the FPU's flags and a select: a running sum of the
/// elements (one add) is NaN whenever an element is, and only when it is NaN (or when
/// `+inf` meets `-inf` or an overflowed sum) are the elements tested one by one.
#[inline(always)]
fn max_scalar_lanes<const ABS: bool>(x: &[f32], init: f32) -> f32 {
    let pad = if ABS { 0.0 } else { f32::NEG_INFINITY };
    let (m, witness) = simd::reduce(
        [x],
        [pad],
        (splat(init), splat(0.0)),
        |(m, s), [v]| {
            let v = if ABS { v.abs() } else { v };
            (m.fast_max(v), s + v)
        },
        |(m1, s1), (m2, s2)| (m1.fast_max(m2), s1 + s2),
    );
    if simd::hsum(witness).is_nan() && x.iter().any(|v| v.is_nan()) {
        return f32::NAN;
    }
    simd::hmax(m)
}

/// [`max_with_nan`] before its horizontal reduction: the lane-wise maxima and a mask of
/// the lanes that saw a NaN. The row kernels reduce a block of rows' maxima at once.
#[inline(always)]
pub(crate) fn max_lanes<const ABS: bool>(x: &[f32], init: f32) -> (Vector, Vector) {
    let pad = if ABS { 0.0 } else { f32::NEG_INFINITY };
    simd::reduce(
        [x],
        [pad],
        (splat(init), splat(0.0)),
        |(m, nan), [v]| {
            let v = if ABS { v.abs() } else { v };
            (m.fast_max(v), nan | v.simd_ne(v))
        },
        |(m1, n1), (m2, n2)| (m1.fast_max(m2), n1 | n2),
    )
}

/// `maxᵢ xᵢ`: `-inf` for an empty slice, NaN if any element is NaN.
///
/// ```
/// use edgegrad::kernels::max;
/// assert_eq!(max(&[1.0, 7.0, -3.0]), 7.0);
/// assert!(max(&[1.0, f32::NAN]).is_nan());
/// assert_eq!(max(&[]), f32::NEG_INFINITY);
/// ```
#[inline]
#[must_use]
pub fn max(x: &[f32]) -> f32 {
    max_with_nan::<false>(x, f32::NEG_INFINITY)
}

/// Dot product `⟨a, b⟩ = Σᵢ aᵢ·bᵢ`, with fused multiply-adds where the target has them.
///
/// Errors with [`Error::LengthMismatch`] unless
/// `a.len() == b.len()`. Finite inputs never give NaN, and `±inf` only when the dot
/// product or its rounding error (about `2⁻²⁴·Σᵢ|aᵢ·bᵢ|`) is beyond `f32`'s range (with
/// fewer than 2³¹ terms): when a product or a partial sum overflows, it is taken again
/// with both factors scaled by `2⁻⁸⁰`.
///
/// ```
/// assert_eq!(edgegrad::kernels::dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0])?, 32.0);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> Result<f32> {
    check_len("dot: b", a.len(), b.len())?;
    let d = simd::hsum(simd::reduce(
        [a, b],
        [0.0, 0.0],
        splat(0.0),
        |acc, [x, y]| x.mul_add(y, acc),
        |p, q| p + q,
    ));
    if !d.is_finite() {
        // As in `sum`: products or partial sums that overflowed, again with both
        // factors scaled by 2⁻⁸⁰ (each product then below 2⁹⁶, a sum of fewer than 2³¹ of
        // them below f32::MAX), scaled back in two steps.
        return Ok(dot_scaled(a, b));
    }
    Ok(d)
}

/// [`dot`]'s second pass, out of line: one copy of it in a firmware image.
#[inline(never)]
fn dot_scaled(a: &[f32], b: &[f32]) -> f32 {
    let t = splat(DOT_TINY);
    let d = simd::hsum(simd::fold([a, b], [0.0, 0.0], splat(0.0), |acc, [x, y]| {
        (x * t).mul_add(y * t, acc)
    }));
    d * DOT_HUGE * DOT_HUGE
}

/// Squared Euclidean norm `‖x‖² = Σᵢ xᵢ²`.
///
/// Overflows to `+inf` when the true value exceeds `f32::MAX`; [`norm`] does not.
///
/// ```
/// assert_eq!(edgegrad::kernels::sq_norm(&[3.0, 4.0]), 25.0);
/// ```
#[inline]
#[must_use]
pub fn sq_norm(x: &[f32]) -> f32 {
    simd::hsum(simd::reduce(
        [x],
        [0.0],
        splat(0.0),
        |acc, [v]| v.mul_add(v, acc),
        |p, q| p + q,
    ))
}

/// `maxᵢ |xᵢ|` (0 for an empty slice; NaN if any element is NaN).
///
/// ```
/// assert_eq!(edgegrad::kernels::max_abs(&[1.0, -9.0, 3.0]), 9.0);
/// ```
#[inline]
#[must_use]
pub fn max_abs(x: &[f32]) -> f32 {
    max_with_nan::<true>(x, 0.0)
}

/// Euclidean norm of several slices taken as one vector: `sqrt(Σₛ ‖xₛ‖²)`.
///
/// Safe from overflow and underflow: when the plain sum of squares is not a normal
/// number (elements above about 1.8·10¹⁹ or all below 10⁻¹⁹) it is recomputed on the
/// elements divided by the largest magnitude. NaN if any element is NaN, `+inf` if any
/// is infinite.
///
/// ```
/// use edgegrad::kernels::global_norm;
/// assert_eq!(global_norm(&[&[3.0], &[4.0]]), 5.0);
/// assert_eq!(global_norm(&[&[3e30, 4e30]]), 5e30);
/// ```
#[must_use]
pub fn global_norm(xs: &[&[f32]]) -> f32 {
    let s: f32 = xs.iter().map(|x| sq_norm(x)).sum();
    if s.is_normal() {
        return simd::sqrt_f32(s);
    }
    global_norm_rescaled(xs)
}

/// [`global_norm`] when the plain sum of squares is zero, subnormal, infinite or NaN:
/// rescaled by the largest magnitude (which is also the answer when it is 0, infinite
/// or NaN). Out of line and not unrolled: the rare path, one copy in a firmware image.
#[inline(never)]
fn global_norm_rescaled(xs: &[&[f32]]) -> f32 {
    let scale = xs
        .iter()
        .map(|x| max_abs(x))
        .fold(0.0, |a: f32, b| if a.is_nan() || a > b { a } else { b });
    if !scale.is_finite() || scale == 0.0 {
        return scale;
    }
    let s: f32 = xs
        .iter()
        .map(|x| {
            simd::hsum(simd::fold([x], [0.0], splat(0.0), |acc, [v]| {
                let w = v / splat(scale);
                w.mul_add(w, acc)
            }))
        })
        .sum();
    scale * simd::sqrt_f32(s)
}

/// Euclidean norm `‖x‖ = sqrt(Σᵢ xᵢ²)`, safe from overflow (see [`global_norm`]).
///
/// ```
/// assert_eq!(edgegrad::kernels::norm(&[6.0, 8.0]), 10.0);
/// ```
#[inline]
#[must_use]
pub fn norm(x: &[f32]) -> f32 {
    global_norm(&[x])
}

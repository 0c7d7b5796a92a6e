//! The softmax family: softmax, log-softmax, log-sum-exp and their backward passes,
//! on one vector or on every row of a matrix.
//!
//! All are max-shifted, so they are exact for any finite input, including magnitudes
//! near `f32::MAX`. Semantics at the edges:
//!
//! - a `-inf` entry (a mask) gets probability exactly `0` (log-probability `-inf`);
//! - a row that is entirely `-inf`, or empty, gives all zeros from softmax, all `-inf`
//!   from log-softmax and `-inf` from log-sum-exp ("safe softmax");
//! - a NaN or `+inf` anywhere in a row is [`Error::NonFinite`], never a NaN output.
//!
//! Each forward pass reads its input twice and writes the output once or twice:
//! a checked maximum, then `exp(x − max)` stored and summed in one sweep, then a scale.

use crate::error::{Error, Result, check_len, check_same_shape};
use crate::kernels::reduce::{check_finite, dot, max, max_lanes, sum};
use crate::kernels::view::{MatMut, MatRef};
use crate::simd::{self, LANES, Vector, splat};

/// The maximum of a row, or [`Error::NonFinite`] naming the first NaN or `+inf`.
pub(crate) fn checked_max(what: &'static str, x: &[f32]) -> Result<f32> {
    let m = max(x);
    if m.is_nan() || m == f32::INFINITY {
        let index = x
            .iter()
            .position(|v| v.is_nan() || *v == f32::INFINITY)
            .unwrap_or(0);
        return Err(Error::NonFinite { what, index });
    }
    Ok(m)
}

/// Writes `eˣ⁻ᵐ` into `io` (from `x`, or from `io` itself when `x` is `None`) and
/// returns `Σ eˣ⁻ᵐ`; `m` must be the finite maximum, so the sum is at least 1.
pub(crate) fn exp_shifted(io: &mut [f32], x: Option<&[f32]>, m: f32) -> f32 {
    simd::hsum(exp_shifted_lanes(io, x, m))
}

/// [`exp_shifted`] before the horizontal sum.
#[inline(always)]
fn exp_shifted_lanes(io: &mut [f32], x: Option<&[f32]>, m: f32) -> Vector {
    let mv = splat(m);
    if cfg!(edgegrad_size) {
        // Built for size: one traversal (in place), after a copy.
        if let Some(x) = x {
            let n = io.len().min(x.len());
            io[..n].copy_from_slice(&x[..n]);
        }
        return simd::update_reduce(io, [], 0.0, |v, []| simd::exp(v - mv), |a, b| a + b);
    }
    // Inlined where `update_reduce` calls it: out of line, every vector went through
    // the stack on the way in and out (on scalar lanes, four stores and four loads
    // each way).
    match x {
        Some(x) => simd::update_reduce(
            io,
            [x],
            0.0,
            #[inline(always)]
            |_, [v]| simd::exp(v - mv),
            |a, b| a + b,
        ),
        None => simd::update_reduce(
            io,
            [],
            0.0,
            #[inline(always)]
            |v, []| simd::exp(v - mv),
            |a, b| a + b,
        ),
    }
}

/// `Σ eˣ⁻ᵐ` without storing the exponentials.
///
/// The last partial vector is padded with `m` (whose term, 1, the exact mask removes),
/// not with `-inf`: a lane of `exp(-inf)` would send the whole vector down `exp`'s slow
/// path, which for rows shorter than a vector is every row.
fn sum_exp_shifted(x: &[f32], m: f32) -> f32 {
    simd::hsum(sum_exp_shifted_lanes(x, m))
}

/// [`sum_exp_shifted`] before the horizontal sum.
#[inline(always)]
fn sum_exp_shifted_lanes(x: &[f32], m: f32) -> Vector {
    let mv = splat(m);
    let full = x.len() / LANES * LANES;
    let (body, tail) = x.split_at(full);
    let acc = simd::reduce(
        [body],
        [f32::NEG_INFINITY],
        splat(0.0),
        |a, [v]| a + simd::exp(v - mv),
        |a, b| a + b,
    );
    if tail.is_empty() {
        return acc;
    }
    acc + simd::exp(simd::load_partial(tail, m) - mv) * simd::tail_mask(tail.len())
}

/// `scale·softmax` in place on `io` (when `x` is `None`) or from `x` into `io`. Returns
/// the maximum `m` and `Σ exp(x − m)` (`(-inf, 0)` for a fully masked row, which gives
/// zeros), from which the fused cross-entropy takes its loss. `check` sees the maximum
/// before anything is written (the cross-entropy refuses a loss that would overflow).
pub(crate) fn softmax_into(
    io: &mut [f32],
    x: Option<&[f32]>,
    what: &'static str,
    scale: f32,
    check: impl Fn(f32) -> Result<()>,
) -> Result<(f32, f32)> {
    let m = checked_max(what, x.unwrap_or(io))?;
    check(m)?;
    if m == f32::NEG_INFINITY {
        io.fill(0.0);
        return Ok((m, 0.0));
    }
    let s = exp_shifted(io, x, m);
    let k = splat(scale / s);
    simd::update([io], [], |[y], []| [y * k]);
    Ok((m, s))
}

/// `y = softmax(x)`: `yᵢ = exp(xᵢ − m) / Σⱼ exp(xⱼ − m)` with `m = maxⱼ xⱼ`.
///
/// Shapes: `x` and `y` of equal length `n`. See the [module docs](self) for `-inf`
/// masks, fully masked rows and non-finite input.
///
/// ```
/// use edgegrad::kernels::softmax;
/// let mut y = [0.0; 3];
/// softmax(&[1.0, 1.0, f32::NEG_INFINITY], &mut y)?;
/// assert_eq!(y, [0.5, 0.5, 0.0]);
/// assert!(softmax(&[1.0, f32::NAN, 0.0], &mut y).is_err());
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn softmax(x: &[f32], y: &mut [f32]) -> Result<()> {
    check_len("softmax output", x.len(), y.len())?;
    softmax_into(y, Some(x), "softmax input", 1.0, |_| Ok(())).map(|_| ())
}

/// Softmax in place: `x ← softmax(x)`. On error `x` is unchanged.
///
/// ```
/// let mut x = [0.0, 0.0, 0.0, 0.0];
/// edgegrad::kernels::softmax_in_place(&mut x)?;
/// assert_eq!(x, [0.25; 4]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn softmax_in_place(x: &mut [f32]) -> Result<()> {
    softmax_into(x, None, "softmax input", 1.0, |_| Ok(())).map(|_| ())
}

/// `y = log_softmax(x)`: `yᵢ = (xᵢ − m) − ln Σⱼ exp(xⱼ − m)`, computed in that order.
///
/// More accurate than `ln(softmax(x))` for very negative log-probabilities. A fully
/// masked (all `-inf`) or empty row gives all `-inf`.
///
/// ```
/// let mut y = [0.0; 2];
/// edgegrad::kernels::log_softmax(&[3.0, 3.0], &mut y)?;
/// assert_eq!(y, [-core::f32::consts::LN_2; 2]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn log_softmax(x: &[f32], y: &mut [f32]) -> Result<()> {
    check_len("log_softmax output", x.len(), y.len())?;
    let m = checked_max("log_softmax input", x)?;
    if m == f32::NEG_INFINITY {
        y.fill(f32::NEG_INFINITY);
        return Ok(());
    }
    let (mv, lv) = (splat(m), splat(simd::ln_f32(sum_exp_shifted(x, m))));
    simd::update([y], [x], |[_], [v]| [(v - mv) - lv]);
    Ok(())
}

/// `logsumexp(x) = m + ln Σᵢ exp(xᵢ − m)` with `m = maxᵢ xᵢ`: exact for any finite
/// input (no overflow at `f32::MAX`), `-inf` for an empty or fully masked row.
///
/// ```
/// let l = edgegrad::kernels::logsumexp(&[f32::MAX, f32::MAX])?;
/// assert_eq!(l, f32::MAX); // MAX + ln 2 rounds back to MAX
/// assert_eq!(edgegrad::kernels::logsumexp(&[0.0, 0.0])?, core::f32::consts::LN_2);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn logsumexp(x: &[f32]) -> Result<f32> {
    let m = checked_max("logsumexp input", x)?;
    if m == f32::NEG_INFINITY {
        return Ok(f32::NEG_INFINITY);
    }
    Ok(m + simd::ln_f32(sum_exp_shifted(x, m)))
}

/// Backward pass of softmax: given `y = softmax(x)` and `dy = ∂L/∂y`,
/// `dx = ∂L/∂x = y ⊙ (dy − ⟨dy, y⟩)`.
///
/// Shapes: `y`, `dy`, `dx` of equal length. A non-finite `⟨dy, y⟩` is
/// [`Error::NonFinite`] before `dx` is written; a value of `dx` that is not finite (from
/// values of `y` and `dy` whose products overflow, which a softmax output never has) is
/// [`Error::NonFinite`] after `dx` was written.
///
/// ```
/// let mut dx = [0.0; 2];
/// edgegrad::kernels::softmax_backward(&[0.5, 0.5], &[1.0, 0.0], &mut dx)?;
/// assert_eq!(dx, [0.25, -0.25]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn softmax_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<()> {
    check_len("softmax_backward dy", y.len(), dy.len())?;
    check_len("softmax_backward dx", y.len(), dx.len())?;
    let d = splat(finite_dot("softmax_backward dot", dy, y)?);
    simd::update([&mut *dx], [y, dy], |[_], [y, dy]| [y * (dy - d)]);
    check_finite("softmax_backward dx", dx)
}

/// Backward pass of log-softmax: given `logp = log_softmax(x)` and `dy = ∂L/∂logp`,
/// `dx = dy − softmax(x)·Σᵢ dyᵢ` with `softmax(x) = exp(logp)`.
///
/// A non-finite `Σᵢ dyᵢ` is [`Error::NonFinite`] before `dx` is written; a value of `dx`
/// that is not finite (from a `logp` that is no log-probability, or overflowing values)
/// is [`Error::NonFinite`] after `dx` was written.
///
/// ```
/// let ln_half = -core::f32::consts::LN_2;
/// let mut dx = [0.0; 2];
/// edgegrad::kernels::log_softmax_backward(&[ln_half, ln_half], &[1.0, 0.0], &mut dx)?;
/// assert!((dx[0] - 0.5).abs() < 1e-6 && (dx[1] + 0.5).abs() < 1e-6);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn log_softmax_backward(logp: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<()> {
    check_len("log_softmax_backward dy", logp.len(), dy.len())?;
    check_len("log_softmax_backward dx", logp.len(), dx.len())?;
    let s = sum(dy);
    if !s.is_finite() {
        return Err(Error::NonFinite {
            what: "log_softmax_backward sum of dy",
            index: 0,
        });
    }
    let s = splat(s);
    simd::update([&mut *dx], [logp, dy], |[_], [lp, dy]| {
        [simd::exp(lp).mul_neg_add(s, dy)]
    });
    check_finite("log_softmax_backward dx", dx)
}

/// `⟨a, b⟩`, refused if it is not finite (a backward pass would spread it over a row).
fn finite_dot(what: &'static str, a: &[f32], b: &[f32]) -> Result<f32> {
    let d = dot(a, b)?;
    if d.is_finite() {
        Ok(d)
    } else {
        Err(Error::NonFinite { what, index: 0 })
    }
}

/// Re-bases a row's [`Error::NonFinite`] index to the flat matrix index.
pub(crate) fn in_row<T>(r: Result<T>, row: usize, cols: usize) -> Result<T> {
    r.map_err(|e| match e {
        Error::NonFinite { what, index } => Error::NonFinite {
            what,
            index: row * cols + index,
        },
        other => other,
    })
}

// ---------------------------------------------------------------------------------------
// Short rows, a block at a time
// ---------------------------------------------------------------------------------------

/// Rows at most this long go through the row kernels ([`softmax_rows`],
/// [`logsumexp_rows`], the batched cross-entropy, …) [`LANES`] rows at a time.
///
/// A short row costs little but its fixed work: two horizontal reductions (maximum,
/// sum) of a vector each, and for log-sum-exp a logarithm. A block reduces each row
/// vertically to one vector, then all the block's rows horizontally at once
/// ([`simd::hmax_lanes`], [`simd::hsum_lanes`]: the same pairwise order as the one-row
/// [`simd::hsum`]) and takes their logarithms as one vector ([`simd::ln`], bit for bit
/// the scalar one), so a row's results are exactly those of the one-row kernel. Longer
/// rows go one at a time, while the row is still in the first-level cache.
const SHORT_ROW: usize = 4 * LANES;

/// Whether rows of `cols` values take the block path: on hosts (eight or sixteen lanes),
/// not when built for size. With four scalar lanes (microcontrollers) a horizontal
/// reduction is three operations and there is no vector logarithm to share, so the
/// block path would only add flash (4.5 KB on the Cortex-M0).
pub(crate) fn blocked(cols: usize) -> bool {
    !cfg!(edgegrad_size) && LANES >= 8 && cols > 0 && cols <= SHORT_ROW
}

/// The blocks of a matrix of `rows` rows: `(first row, rows in the block)`.
pub(crate) fn row_blocks(rows: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..rows)
        .step_by(LANES)
        .map(move |first| (first, (rows - first).min(LANES)))
}

/// The maxima of a block's rows (at most [`LANES`]; lane `r` for row `r`) if every one
/// is finite, `None` if a row has a NaN or `+inf` or is fully masked: the one-row
/// kernels report or handle those rows, with nothing of the block written.
pub(crate) fn block_max(x: MatRef<'_>) -> Option<Vector> {
    let mut nan = splat(0.0);
    let mut rows = x.row_iter();
    let lanes = core::array::from_fn(|_| match rows.next() {
        Some(row) => {
            let (m, seen) = max_lanes::<false>(row, f32::NEG_INFINITY);
            nan |= seen;
            m
        }
        None => splat(f32::NEG_INFINITY),
    });
    if nan.to_bitmask() != 0 {
        return None;
    }
    let m = simd::hmax_lanes(lanes);
    // `0·v` is ±0 exactly when `v` is finite.
    let zeros = simd::keep_first(x.rows(), m, 0.0) * splat(0.0);
    let all = (1_u32 << LANES) - 1;
    (zeros.simd_eq(splat(0.0)).to_bitmask() == all).then_some(m)
}

/// `Σ exp(x − m)` of a block's rows (lane `r` for row `r`, padded with 1 so that its
/// logarithm stays on [`simd::ln`]'s fast path), `m` from [`block_max`].
fn block_sums(x: MatRef<'_>, m: Vector) -> Vector {
    let mut rows = x.row_iter().zip(m.to_array());
    let sums = simd::hsum_lanes(core::array::from_fn(|_| match rows.next() {
        Some((row, m)) => sum_exp_shifted_lanes(row, m),
        None => splat(0.0),
    }));
    simd::keep_first(x.rows(), sums, 1.0)
}

/// The log-sum-exp of a block's rows (lane `r` for row `r`), bit for bit
/// [`logsumexp`]'s, if [`block_max`] finds every row finite and not fully masked.
pub(crate) fn block_logsumexp(x: MatRef<'_>) -> Option<Vector> {
    block_max(x).map(|m| m + simd::ln(block_sums(x, m)))
}

/// [`block_sums`] that also writes `exp(x − m)` into the rows of `io` (from the rows of
/// `x`, or in place when `x` is `None`).
pub(crate) fn block_exp(mut io: MatMut<'_>, x: Option<MatRef<'_>>, m: Vector) -> Vector {
    let n = io.rows();
    let mut sources = x.as_ref().map(|x| x.row_iter());
    let mut rows = io.row_iter_mut().zip(m.to_array());
    let sums = simd::hsum_lanes(core::array::from_fn(|_| match rows.next() {
        Some((row, m)) => {
            let source = sources.as_mut().and_then(Iterator::next);
            exp_shifted_lanes(row, source, m)
        }
        None => splat(0.0),
    }));
    simd::keep_first(n, sums, 1.0)
}

/// Multiplies row `r` of `io` by lane `r` of `k`.
pub(crate) fn block_scale(mut io: MatMut<'_>, k: Vector) {
    for (row, k) in io.row_iter_mut().zip(k.to_array()) {
        let k = splat(k);
        simd::update([row], [], |[y], []| [y * k]);
    }
}

/// [`softmax`] of every row of `x` into the same row of `y` (both `rows × cols`).
///
/// Shapes are checked before anything is written. A non-finite value is reported with
/// its flat index `row·cols + col`; rows before it have then already been written.
///
/// ```
/// use edgegrad::{MatMut, MatRef, kernels::softmax_rows};
/// let x = [0.0, 0.0, 5.0, f32::NEG_INFINITY];
/// let mut y = [0.0; 4];
/// softmax_rows(MatRef::new(&x, 2, 2)?, MatMut::new(&mut y, 2, 2)?)?;
/// assert_eq!(y, [0.5, 0.5, 1.0, 0.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn softmax_rows(x: MatRef<'_>, mut y: MatMut<'_>) -> Result<()> {
    check_same_shape("softmax_rows output", x.shape(), y.shape())?;
    let cols = x.cols();
    if blocked(cols) {
        for (first, n) in row_blocks(x.rows()) {
            let (xb, mut yb) = (x.rows_range(first, n)?, y.rows_range_mut(first, n)?);
            if let Some(m) = block_max(xb) {
                let s = block_exp(yb.rb_mut(), Some(xb), m);
                block_scale(yb, splat(1.0) / s);
                continue;
            }
            for (r, (xr, yr)) in xb.row_iter().zip(yb.row_iter_mut()).enumerate() {
                in_row(softmax(xr, yr), first + r, cols)?;
            }
        }
        return Ok(());
    }
    for (r, (xr, yr)) in x.row_iter().zip(y.row_iter_mut()).enumerate() {
        in_row(softmax(xr, yr), r, cols)?;
    }
    Ok(())
}

/// [`softmax_in_place`] on every row of `x` (a causal attention score matrix with
/// `-inf` above the diagonal, for example).
///
/// ```
/// use edgegrad::{MatMut, kernels::softmax_rows_in_place};
/// let mut s = [1.0, f32::NEG_INFINITY, 2.0, 2.0];
/// softmax_rows_in_place(MatMut::new(&mut s, 2, 2)?)?;
/// assert_eq!(s, [1.0, 0.0, 0.5, 0.5]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn softmax_rows_in_place(mut x: MatMut<'_>) -> Result<()> {
    let cols = x.cols();
    if blocked(cols) {
        for (first, n) in row_blocks(x.rows()) {
            let mut xb = x.rows_range_mut(first, n)?;
            if let Some(m) = block_max(xb.as_ref()) {
                let s = block_exp(xb.rb_mut(), None, m);
                block_scale(xb, splat(1.0) / s);
                continue;
            }
            for (r, xr) in xb.row_iter_mut().enumerate() {
                in_row(softmax_in_place(xr), first + r, cols)?;
            }
        }
        return Ok(());
    }
    for (r, xr) in x.row_iter_mut().enumerate() {
        in_row(softmax_in_place(xr), r, cols)?;
    }
    Ok(())
}

/// [`log_softmax`] of every row of `x` into `y`.
///
/// ```
/// use edgegrad::{MatMut, MatRef, kernels::log_softmax_rows};
/// let mut y = [0.0; 2];
/// log_softmax_rows(MatRef::new(&[1.0, 2.0], 2, 1)?, MatMut::new(&mut y, 2, 1)?)?;
/// assert_eq!(y, [0.0, 0.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn log_softmax_rows(x: MatRef<'_>, mut y: MatMut<'_>) -> Result<()> {
    check_same_shape("log_softmax_rows output", x.shape(), y.shape())?;
    let cols = x.cols();
    if blocked(cols) {
        for (first, n) in row_blocks(x.rows()) {
            let (xb, mut yb) = (x.rows_range(first, n)?, y.rows_range_mut(first, n)?);
            if let Some(m) = block_max(xb) {
                let l = simd::ln(block_sums(xb, m)).to_array();
                let shifts = m.to_array().into_iter().zip(l);
                for ((xr, yr), (m, l)) in xb.row_iter().zip(yb.row_iter_mut()).zip(shifts) {
                    let (mv, lv) = (splat(m), splat(l));
                    simd::update([yr], [xr], |[_], [v]| [(v - mv) - lv]);
                }
                continue;
            }
            for (r, (xr, yr)) in xb.row_iter().zip(yb.row_iter_mut()).enumerate() {
                in_row(log_softmax(xr, yr), first + r, cols)?;
            }
        }
        return Ok(());
    }
    for (r, (xr, yr)) in x.row_iter().zip(y.row_iter_mut()).enumerate() {
        in_row(log_softmax(xr, yr), r, cols)?;
    }
    Ok(())
}

/// [`logsumexp`] of every row of `x` into `out[row]` (`out.len() == rows`).
///
/// ```
/// use edgegrad::{MatRef, kernels::logsumexp_rows};
/// let mut out = [0.0; 2];
/// logsumexp_rows(MatRef::new(&[0.0, 0.0, 1.0, f32::NEG_INFINITY], 2, 2)?, &mut out)?;
/// assert_eq!(out, [core::f32::consts::LN_2, 1.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn logsumexp_rows(x: MatRef<'_>, out: &mut [f32]) -> Result<()> {
    check_len("logsumexp_rows output", x.rows(), out.len())?;
    let cols = x.cols();
    if cols == 0 {
        out.fill(f32::NEG_INFINITY);
        return Ok(());
    }
    if blocked(cols) {
        for ((first, n), o) in row_blocks(x.rows()).zip(out.chunks_mut(LANES)) {
            let xb = x.rows_range(first, n)?;
            if let Some(lse) = block_logsumexp(xb) {
                simd::store_partial(lse, o);
                continue;
            }
            for (r, (xr, o)) in xb.row_iter().zip(o).enumerate() {
                *o = in_row(logsumexp(xr), first + r, cols)?;
            }
        }
        return Ok(());
    }
    for (r, (xr, o)) in x.row_iter().zip(out.iter_mut()).enumerate() {
        *o = in_row(logsumexp(xr), r, cols)?;
    }
    Ok(())
}

/// [`softmax_backward`] with the gradient in place: `g ← y ⊙ (g − ⟨g, y⟩)`, turning
/// `∂L/∂y` into `∂L/∂x` without a second buffer (a causal attention row's scores).
/// Errors as [`softmax_backward`]'s: a non-finite `⟨g, y⟩` leaves `g` as it was, a
/// result that is not finite is reported with `g` written.
///
/// ```
/// let mut g = [1.0, 0.0];
/// edgegrad::kernels::softmax_backward_in_place(&[0.5, 0.5], &mut g)?;
/// assert_eq!(g, [0.25, -0.25]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
// Out of line: inlined into a backward pass, its vector temporaries measured 100
// more bytes in that frame on the Cortex-M4F.
#[inline(never)]
pub fn softmax_backward_in_place(y: &[f32], g: &mut [f32]) -> Result<()> {
    check_len("softmax_backward_in_place gradient", y.len(), g.len())?;
    let d = splat(finite_dot("softmax_backward dot", g, y)?);
    simd::update([&mut *g], [y], |[dy], [y]| [y * (dy - d)]);
    check_finite("softmax_backward dx", g)
}

/// [`softmax_backward`] on every row: `dx[r] = y[r] ⊙ (dy[r] − ⟨dy[r], y[r]⟩)`. An
/// error in a row (index: the flat position) leaves the earlier rows written, and that
/// row as [`softmax_backward`] says.
///
/// ```
/// use edgegrad::{MatMut, MatRef, kernels::softmax_backward_rows};
/// let mut dx = [0.0; 2];
/// softmax_backward_rows(MatRef::new(&[0.5, 0.5], 1, 2)?, MatRef::new(&[1.0, 0.0], 1, 2)?,
///                       MatMut::new(&mut dx, 1, 2)?)?;
/// assert_eq!(dx, [0.25, -0.25]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn softmax_backward_rows(y: MatRef<'_>, dy: MatRef<'_>, mut dx: MatMut<'_>) -> Result<()> {
    check_same_shape("softmax_backward_rows dy", y.shape(), dy.shape())?;
    check_same_shape("softmax_backward_rows dx", y.shape(), dx.shape())?;
    let cols = y.cols();
    for (r, ((yr, dyr), dxr)) in y
        .row_iter()
        .zip(dy.row_iter())
        .zip(dx.row_iter_mut())
        .enumerate()
    {
        in_row(softmax_backward(yr, dyr, dxr), r, cols)?;
    }
    Ok(())
}

/// [`log_softmax_backward`] on every row. An error in a row (index: the flat position)
/// leaves the earlier rows written, and that row as [`log_softmax_backward`] says.
///
/// ```
/// use edgegrad::{MatMut, MatRef, kernels::log_softmax_backward_rows};
/// let mut dx = [0.0; 1];
/// log_softmax_backward_rows(MatRef::new(&[0.0], 1, 1)?, MatRef::new(&[1.0], 1, 1)?,
///                           MatMut::new(&mut dx, 1, 1)?)?;
/// assert_eq!(dx, [0.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn log_softmax_backward_rows(
    logp: MatRef<'_>,
    dy: MatRef<'_>,
    mut dx: MatMut<'_>,
) -> Result<()> {
    check_same_shape("log_softmax_backward_rows dy", logp.shape(), dy.shape())?;
    check_same_shape("log_softmax_backward_rows dx", logp.shape(), dx.shape())?;
    let cols = logp.cols();
    for (r, ((lr, dyr), dxr)) in logp
        .row_iter()
        .zip(dy.row_iter())
        .zip(dx.row_iter_mut())
        .enumerate()
    {
        in_row(log_softmax_backward(lr, dyr, dxr), r, cols)?;
    }
    Ok(())
}

//! Losses: cross-entropy from logits (single, batch mean, soft targets), cross-entropy
//! between two distributions, and the binary logistic loss — each with its gradient.

use crate::error::{Error, Result, check_index, check_len, check_same_shape};
use crate::kernels::reduce::sum;
use crate::kernels::softmax::{
    block_exp, block_logsumexp, block_max, block_scale, blocked, checked_max, exp_shifted, in_row,
    logsumexp, row_blocks, softmax_into,
};
use crate::kernels::view::{MatMut, MatRef};
use crate::simd::{self, LANES, Vector, splat};

/// The fused row kernel: `grad = scale·(softmax(z) − onehot(t))`, returns
/// `−ln softmax(z)[t] = (m − z_t) + ln Σ exp(z − m)`. `t < z.len()` is checked by the
/// caller.
fn cross_entropy_row(z: &[f32], t: usize, grad: &mut [f32], scale: f32) -> Result<f32> {
    let ln_n = simd::ln_f32(z.len() as f32);
    let (m, s) = softmax_into(grad, Some(z), "cross_entropy logits", scale, |m| {
        check_loss(m, z[t], ln_n)
    })?;
    grad[t] -= scale;
    if m == f32::NEG_INFINITY {
        // Every class masked: the target has probability 0.
        return Ok(f32::INFINITY);
    }
    Ok((m - z[t]) + simd::ln_f32(s))
}

/// [`Error::NonFinite`] if the loss `(m − z_t) + ln Σ exp(z − m)` (at most
/// `(m − z_t) + ln n`, `ln_n` = `ln n`) could overflow from finite logits: logits more
/// than about `f32::MAX` apart. Checked from the maximum, before anything is written.
fn check_loss(m: f32, zt: f32, ln_n: f32) -> Result<()> {
    if m == f32::NEG_INFINITY || zt == f32::NEG_INFINITY || ((m - zt) + ln_n).is_finite() {
        return Ok(());
    }
    Err(overflow())
}

/// A loss beyond `f32`'s range from finite logits.
fn overflow() -> Error {
    Error::NonFinite {
        what: "cross_entropy loss (logits more than f32::MAX apart)",
        index: 0,
    }
}

/// Cross-entropy of logits `z` against class `target`, fused with its gradient:
/// `loss = −ln softmax(z)[t] = logsumexp(z) − z_t` and `grad = softmax(z) − onehot(t)`.
///
/// Shapes: `grad.len() == z.len()`, `target < z.len()` (else
/// [`Error::IndexOutOfRange`]). A NaN or `+inf` logit is [`Error::NonFinite`], and so
/// are logits so far apart that the loss would overflow (more than about `f32::MAX`),
/// both before anything is written; a masked (`-inf`) target gives an infinite loss.
///
/// ```
/// use edgegrad::kernels::cross_entropy;
/// let mut g = [0.0; 2];
/// let loss = cross_entropy(&[0.0, 0.0], 1, &mut g)?;
/// assert_eq!(loss, core::f32::consts::LN_2);
/// assert_eq!(g, [0.5, -0.5]);
/// assert!(cross_entropy(&[0.0, 0.0], 2, &mut g).is_err());
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn cross_entropy(z: &[f32], target: usize, grad: &mut [f32]) -> Result<f32> {
    check_len("cross_entropy grad", z.len(), grad.len())?;
    check_index("cross_entropy target", target, z.len())?;
    cross_entropy_row(z, target, grad, 1.0)
}

/// Cross-entropy loss only (no gradient): `logsumexp(z) − z_t`. Errors as
/// [`cross_entropy`]'s.
///
/// ```
/// let l = edgegrad::kernels::cross_entropy_loss(&[10.0, 0.0], 0)?;
/// assert!(l > 0.0 && l < 1e-4);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn cross_entropy_loss(z: &[f32], target: usize) -> Result<f32> {
    check_index("cross_entropy target", target, z.len())?;
    loss_from_lse(logsumexp(z)?, z[target])
}

/// `lse − z_t`, the loss of a row whose log-sum-exp is `lse` and target logit `z_t`.
fn loss_from_lse(lse: f32, zt: f32) -> Result<f32> {
    // A masked target (or a fully masked row) has probability 0: infinite loss, as in
    // the fused `cross_entropy`, never `-inf - (-inf)`.
    if zt == f32::NEG_INFINITY {
        return Ok(f32::INFINITY);
    }
    let loss = lse - zt;
    if !loss.is_finite() {
        return Err(overflow());
    }
    Ok(loss)
}

/// The number of rows a batch counts (those whose target is not `ignore_index`), after
/// checking one target per row and every counted one against `cols`.
fn counted_rows<T: Copy + Into<usize>>(
    (what_len, what_index): (&'static str, &'static str),
    targets: &[T],
    rows: usize,
    cols: usize,
    ignore_index: Option<usize>,
) -> Result<usize> {
    check_len(what_len, rows, targets.len())?;
    let mut counted = 0_usize;
    for &t in targets {
        let t = t.into();
        if Some(t) != ignore_index {
            check_index(what_index, t, cols)?;
            counted += 1;
        }
    }
    Ok(counted)
}

/// Mean cross-entropy over a batch without the gradient: [`cross_entropy_batch`]'s
/// loss for evaluation, `(1/n)·Σᵢ (logsumexp(logitsᵢ) − logitsᵢ[tᵢ])` over the `n` rows
/// whose target is not `ignore_index` (`0` when there are none).
///
/// Each row's loss is [`cross_entropy_loss`]'s bit for bit (it is added times `1/n`,
/// in row order), and the errors are those of [`cross_entropy_batch`], with the flat
/// index of a NaN or `+inf` logit. On hosts, rows of at most `4·LANES` values go a
/// block of [`LANES`] rows at a time, like [`logsumexp_rows`](crate::kernels::logsumexp_rows).
///
/// ```
/// use edgegrad::{MatRef, kernels::cross_entropy_batch_loss};
/// let logits = [0.0, 0.0, /* padding row: */ 9.0, 9.0];
/// let loss = cross_entropy_batch_loss(MatRef::new(&logits, 2, 2)?, &[1_u16, 0], Some(0))?;
/// assert_eq!(loss, core::f32::consts::LN_2);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn cross_entropy_batch_loss<T: Copy + Into<usize>>(
    logits: MatRef<'_>,
    targets: &[T],
    ignore_index: Option<usize>,
) -> Result<f32> {
    let cols = logits.cols();
    let what = (
        "cross_entropy_batch_loss targets",
        "cross_entropy_batch_loss target",
    );
    let counted = counted_rows(what, targets, logits.rows(), cols, ignore_index)?;
    if counted == 0 {
        return Ok(0.0);
    }
    let scale = 1.0 / counted as f32;
    let mut total = 0.0;
    // Row `r`'s loss from its log-sum-exp, errors at their flat index.
    let row_loss = |lse: f32, z: &[f32], r: usize, t: usize| {
        in_row(
            loss_from_lse(lse, z.get(t).copied().unwrap_or(f32::NEG_INFINITY)),
            r,
            cols,
        )
    };
    let counted_target = |r: usize| {
        targets
            .get(r)
            .map(|&t| t.into())
            .filter(|&t| Some(t) != ignore_index)
    };
    if blocked(cols) {
        for (first, n) in row_blocks(logits.rows()) {
            let zb = logits.rows_range(first, n)?;
            let ts = targets.get(first..first + n).unwrap_or_default();
            let (zt, _, counted_lanes) = block_targets(zb, ts, ignore_index);
            if let Some(lse) = block_logsumexp(zb) {
                let losses = lse - Vector::new(zt);
                // `0·loss` is ±0 exactly when the loss is finite: then the block's
                // losses are added as they are; a masked target or an overflow goes
                // row by row.
                let finite = (losses * splat(0.0)).simd_eq(splat(0.0)).to_bitmask();
                if finite & counted_lanes == counted_lanes {
                    for (r, l) in losses.to_array().into_iter().enumerate() {
                        if counted_lanes & (1 << r) != 0 {
                            total += l * scale;
                        }
                    }
                    continue;
                }
                let lse = lse.to_array();
                for (r, z) in zb.row_iter().enumerate() {
                    if let Some(t) = counted_target(first + r) {
                        let l = lse.get(r).copied().unwrap_or(f32::NAN);
                        total += row_loss(l, z, first + r, t)? * scale;
                    }
                }
                continue;
            }
            for (r, z) in zb.row_iter().enumerate() {
                if let Some(t) = counted_target(first + r) {
                    let l = in_row(logsumexp(z), first + r, cols)?;
                    total += row_loss(l, z, first + r, t)? * scale;
                }
            }
        }
    } else {
        for (r, z) in logits.row_iter().enumerate() {
            if let Some(t) = counted_target(r) {
                total += row_loss(in_row(logsumexp(z), r, cols)?, z, r, t)? * scale;
            }
        }
    }
    Ok(total)
}

/// Mean cross-entropy over a batch: row `i` of `logits` (`N × C`) against class
/// `targets[i]`, skipping rows whose target equals `ignore_index` (like PyTorch's
/// `ignore_index`). Fused gradient: `grad[i] = (softmax(logits[i]) − onehot(tᵢ)) / n`
/// for counted rows and `0` for ignored ones, where `n` is the number of counted rows.
///
/// Returns `(1/n)·Σᵢ lossᵢ`; when every row is ignored the loss is `0` and the gradient
/// all zeros (nothing to learn). Targets can be any unsigned index type (`u16` token
/// ids, `usize`, …). All shapes and targets are checked before anything is written.
///
/// ```
/// use edgegrad::{MatMut, MatRef, kernels::cross_entropy_batch};
/// let logits = [0.0, 0.0, /* padding row: */ 9.0, 9.0];
/// let mut grad = [0.0; 4];
/// let loss = cross_entropy_batch(MatRef::new(&logits, 2, 2)?, &[1_u16, 0], Some(0),
///                                MatMut::new(&mut grad, 2, 2)?)?;
/// assert_eq!(loss, core::f32::consts::LN_2);
/// assert_eq!(grad, [0.5, -0.5, 0.0, 0.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn cross_entropy_batch<T: Copy + Into<usize>>(
    logits: MatRef<'_>,
    targets: &[T],
    ignore_index: Option<usize>,
    mut grad: MatMut<'_>,
) -> Result<f32> {
    check_same_shape("cross_entropy_batch grad", logits.shape(), grad.shape())?;
    let what = ("cross_entropy_batch targets", "cross_entropy_batch target");
    let counted = counted_rows(what, targets, logits.rows(), logits.cols(), ignore_index)?;
    if counted == 0 {
        grad.fill(0.0);
        return Ok(0.0);
    }
    let scale = 1.0 / counted as f32;
    let cols = logits.cols();
    if blocked(cols) {
        return cross_entropy_blocks(logits, targets, ignore_index, grad, scale);
    }
    cross_entropy_each_row(logits, targets, ignore_index, grad, (scale, 0.0), 0)
}

/// [`cross_entropy_batch`] one row at a time, each counted row's gradient scaled by
/// `scale` and its loss times `scale` added to `total`, which is returned. Errors name
/// flat indices as if the rows started at row `first` (a block of a larger batch).
/// Targets are checked by the caller.
fn cross_entropy_each_row<T: Copy + Into<usize>>(
    logits: MatRef<'_>,
    targets: &[T],
    ignore_index: Option<usize>,
    mut grad: MatMut<'_>,
    (scale, mut total): (f32, f32),
    first: usize,
) -> Result<f32> {
    let cols = logits.cols();
    for (r, ((z, g), &t)) in logits
        .row_iter()
        .zip(grad.row_iter_mut())
        .zip(targets)
        .enumerate()
    {
        let t = t.into();
        if Some(t) == ignore_index {
            g.fill(0.0);
        } else {
            // Each row's loss divided by n before it is added: the mean of losses that
            // are each finite cannot overflow.
            total += in_row(cross_entropy_row(z, t, g, scale), first + r, cols)? * scale;
        }
    }
    Ok(total)
}

/// A block's targets (`targets` holds one per row of `zb`): the target logit of each
/// counted row (lane `r` for row `r`; 0 for the others), its class, and a bit per
/// counted row — one pass over the targets, so that the block's rows need no other
/// look at them. Targets are checked against the columns by the caller.
fn block_targets<T: Copy + Into<usize>>(
    zb: MatRef<'_>,
    targets: &[T],
    ignore_index: Option<usize>,
) -> ([f32; LANES], [usize; LANES], u32) {
    let (mut zt, mut classes, mut counted) = ([0.0_f32; LANES], [0_usize; LANES], 0_u32);
    let (data, stride) = (zb.as_slice(), zb.stride());
    let rows = targets
        .iter()
        .take(zb.rows())
        .zip(zt.iter_mut().zip(&mut classes));
    for (r, (&t, (z, c))) in rows.enumerate() {
        let t = t.into();
        let logit = if Some(t) == ignore_index {
            None
        } else {
            data.get(r * stride + t)
        };
        if let Some(&v) = logit {
            (*z, *c) = (v, t);
            counted |= 1 << r;
        }
    }
    (zt, classes, counted)
}

/// [`cross_entropy_batch`] on short rows, [`LANES`] at a time (see
/// [`blocked`]): the same results, bit for bit. Targets are checked by the caller.
fn cross_entropy_blocks<T: Copy + Into<usize>>(
    logits: MatRef<'_>,
    targets: &[T],
    ignore_index: Option<usize>,
    mut grad: MatMut<'_>,
    scale: f32,
) -> Result<f32> {
    let cols = logits.cols();
    let ln_n = simd::ln_f32(cols as f32);
    let mut total = 0.0;
    for (first, n) in row_blocks(logits.rows()) {
        let (zb, mut gb) = (logits.rows_range(first, n)?, grad.rows_range_mut(first, n)?);
        let ts = targets.get(first..first + n).unwrap_or_default();
        let (zt, classes, counted) = block_targets(zb, ts, ignore_index);
        let is_counted = |r: usize| counted & (1 << r) != 0;
        let checked = block_max(zb).filter(|m| {
            let m = m.to_array();
            (0..n).all(|r| !is_counted(r) || check_loss(m[r], zt[r], ln_n).is_ok())
        });
        let Some(m) = checked else {
            // A row with a NaN, `+inf`, a loss that overflows or every class masked:
            // the rows one by one, which report the error at its row.
            total = cross_entropy_each_row(zb, ts, ignore_index, gb, (scale, total), first)?;
            continue;
        };
        let s = block_exp(gb.rb_mut(), Some(zb), m);
        block_scale(gb.rb_mut(), splat(scale) / s);
        let losses = ((m - Vector::new(zt)) + simd::ln(s)).to_array();
        for (r, ((g, loss), t)) in gb.row_iter_mut().zip(losses).zip(classes).enumerate() {
            if is_counted(r) {
                if let Some(gt) = g.get_mut(t) {
                    *gt -= scale;
                }
                total += loss * scale;
            } else {
                g.fill(0.0);
            }
        }
    }
    Ok(total)
}

/// Checks a probability vector: finite (else [`Error::NonFinite`]) and non-negative
/// (else [`Error::InvalidParameter`]).
fn check_distribution(what: &'static str, p: &[f32]) -> Result<()> {
    for (index, &v) in p.iter().enumerate() {
        if !v.is_finite() {
            return Err(Error::NonFinite { what, index });
        }
        if v < 0.0 {
            return Err(Error::InvalidParameter {
                what,
                expected: "non-negative probabilities",
            });
        }
    }
    Ok(())
}

/// Cross-entropy of logits `z` against a soft target distribution `p`, fused with its
/// gradient: `loss = H(p, softmax(z)) = −Σᵢ pᵢ·ln softmax(z)ᵢ` and
/// `grad = softmax(z)·Σᵢpᵢ − p` (`= softmax(z) − p` when `p` sums to 1).
///
/// Terms with `pᵢ = 0` contribute nothing, even where `zᵢ = -inf` (`0·ln 0 = 0`).
/// `p` must be finite and non-negative; it need not be normalised (label smoothing and
/// distillation targets often are not exactly).
///
/// The loss is `+inf` exactly when some `pᵢ > 0` has `zᵢ = -inf` (the target wants a
/// masked class); the gradient is always finite. Refused before `grad` is written: NaN
/// or `+inf` logits, a non-finite or negative target ([`Error::NonFinite`],
/// [`Error::InvalidParameter`]), a target whose sum overflows, and a finite loss too
/// large for `f32` (within `Σpᵢ·ln n` of `f32::MAX`), both [`Error::NonFinite`].
///
/// ```
/// let mut g = [0.0; 2];
/// let l = edgegrad::kernels::cross_entropy_soft(&[0.0, 0.0], &[0.25, 0.75], &mut g)?;
/// assert_eq!(l, core::f32::consts::LN_2);
/// assert_eq!(g, [0.25, -0.25]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn cross_entropy_soft(z: &[f32], p: &[f32], grad: &mut [f32]) -> Result<f32> {
    check_len("cross_entropy_soft target", z.len(), p.len())?;
    check_len("cross_entropy_soft grad", z.len(), grad.len())?;
    check_distribution("cross_entropy_soft target", p)?;
    let m = checked_max("cross_entropy_soft logits", z)?;
    let psum = sum(p);
    let overflow = Err(Error::NonFinite {
        what: "cross_entropy_soft loss",
        index: 0,
    });
    if !psum.is_finite() {
        return overflow;
    }
    if m == f32::NEG_INFINITY {
        simd::update([grad], [p], |[_], [p]| [-p]);
        return Ok(if psum > 0.0 { f32::INFINITY } else { 0.0 });
    }
    // loss = Σ pᵢ·(m − zᵢ) + Σp · ln Σ exp(z − m), the first sum before anything is
    // written. It is summed halved, so that m − zᵢ (up to 2·f32::MAX) cannot overflow
    // where the product does not; a masked class (pᵢ > 0, zᵢ = -inf) is flagged apart.
    let (zero, half, ninf) = (splat(0.0), splat(0.5), splat(f32::NEG_INFINITY));
    let m_half = splat(m * 0.5);
    let (part, masked) = simd::reduce(
        [p, z],
        [0.0, 0.0],
        (zero, zero),
        |(a, f), [p, z]| {
            let wanted = p.simd_gt(zero);
            let live = wanted & z.simd_ne(ninf);
            let term = p * (m_half - z * half);
            (
                a + live.select(term, zero),
                f | (wanted & !live).select(splat(1.0), zero),
            )
        },
        |(a1, f1), (a2, f2)| (a1 + a2, f1 | f2),
    );
    let part = simd::hsum(part) * 2.0;
    let ln_n = simd::ln_f32(z.len() as f32);
    if !(part + psum * ln_n).is_finite() {
        return overflow;
    }
    let s = exp_shifted(grad, Some(z), m);
    let k = splat(psum / s);
    simd::update([grad], [p], |[g], [p]| [g.mul_sub(k, p)]);
    if simd::hsum(masked) != 0.0 {
        return Ok(f32::INFINITY);
    }
    Ok(part + psum * simd::ln_f32(s))
}

/// Cross-entropy between two distributions, `H(P, Q) = −Σᵢ pᵢ·ln qᵢ`, with
/// `0·ln 0 = 0` and `+inf` where `qᵢ = 0 < pᵢ`. Not symmetric: `H(P,Q) ≠ H(Q,P)` in
/// general.
///
/// Both must be finite and non-negative ([`Error::NonFinite`],
/// [`Error::InvalidParameter`]). The terms are summed in `f64`, so no intermediate
/// overflows; a finite result beyond `f32`'s range is [`Error::NonFinite`]. The
/// logarithm is a scalar `libm` call per non-zero `pᵢ`; for training from logits use
/// [`cross_entropy_soft`].
///
/// ```
/// use edgegrad::kernels::cross_entropy_probs;
/// let h = cross_entropy_probs(&[0.5, 0.5, 0.0], &[0.25, 0.75, 0.0])?;
/// assert!((h - 0.5 * (4.0_f32.ln() + (4.0_f32 / 3.0).ln())).abs() < 1e-6);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn cross_entropy_probs(p: &[f32], q: &[f32]) -> Result<f32> {
    check_len("cross_entropy_probs q", p.len(), q.len())?;
    check_distribution("cross_entropy_probs p", p)?;
    check_distribution("cross_entropy_probs q", q)?;
    let mut total = 0.0_f64;
    for (&p, &q) in p.iter().zip(q) {
        if p > 0.0 {
            if q == 0.0 {
                return Ok(f32::INFINITY);
            }
            total -= f64::from(p) * libm::log(f64::from(q));
        }
    }
    let h = total as f32;
    if h.is_finite() {
        Ok(h)
    } else {
        Err(Error::NonFinite {
            what: "cross_entropy_probs result",
            index: 0,
        })
    }
}

/// Binary logistic loss of a score `x` with a label, and its derivative:
/// `loss = −ln σ(s·x)` and `∂loss/∂x = −s·σ(−s·x)`, where `s = +1` for a positive
/// example and `−1` for a negative one, and `σ(u) = 1/(1 + e⁻ᵘ)`.
///
/// Computed stably as `max(−u, 0) + ln(1 + e^−|u|)` with `u = s·x`, so it neither
/// overflows for large `|x|` nor loses the small losses of confident predictions.
/// word2vec's negative sampling is a sum of these. Returns `(loss, gradient)`; a NaN
/// score is [`Error::NonFinite`].
///
/// ```
/// use edgegrad::kernels::logistic_loss;
/// let (l, g) = logistic_loss(0.0, true)?;
/// assert_eq!((l, g), (core::f32::consts::LN_2, -0.5));
/// let (l, g) = logistic_loss(-50.0, false)?; // confident and right
/// assert!(l > 0.0 && l < 1e-20 && g > 0.0 && g < 1e-20);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn logistic_loss(x: f32, positive: bool) -> Result<(f32, f32)> {
    if x.is_nan() {
        return Err(Error::NonFinite {
            what: "logistic_loss score",
            index: 0,
        });
    }
    let s = if positive { 1.0 } else { -1.0 };
    let u = s * x;
    let e = libm::expf(-u.abs());
    let loss = (-u).max(0.0) + libm::log1pf(e);
    // σ(−u) = e/(1+e) for u ≥ 0 and 1/(1+e) for u < 0, with e = exp(−|u|) ≤ 1.
    let sig_neg = if u >= 0.0 {
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + e)
    };
    Ok((loss, -s * sig_neg))
}

/// [`logistic_loss`] of a vector of scores `x` (none NaN) with labels `sign` (`+1`
/// positive, `−1` negative) lane by lane: `(loss, ∂loss/∂x)`, the same formula with
/// [`simd::exp`] (within 1 ulp, like `libm::expf`) and [`simd::ln_1p`] (`libm::log1pf`
/// bit for bit). Negative sampling on hosts scores all of a prediction's words at once
/// with it: one vector `exp` and `ln(1 + ·)` instead of a scalar call of each per word.
/// On scalar lanes (microcontrollers) the scalar kernel is smaller and faster: a vector
/// there is four scalar evaluations, with two divisions each where the scalar form
/// picks one.
#[inline]
#[cfg_attr(not(feature = "word2vec"), allow(dead_code))]
pub(crate) fn logistic_lanes(x: Vector, sign: Vector) -> (Vector, Vector) {
    let u = sign * x;
    let e = simd::exp(-u.abs());
    let loss = (-u).fast_max(splat(0.0)) + simd::ln_1p(e);
    // σ(−u) = e/(1+e) for u ≥ 0 and 1/(1+e) for u < 0, with e = exp(−|u|) ≤ 1.
    let one_plus = splat(1.0) + e;
    let sig_neg = u
        .simd_ge(splat(0.0))
        .select(e / one_plus, splat(1.0) / one_plus);
    (loss, -sign * sig_neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits with a spread of values, a masked class here and there, and the poison
    /// values the kernels must refuse or skip.
    fn logits(rows: usize, cols: usize, seed: u32) -> [f32; 2048] {
        let mut state = seed;
        core::array::from_fn(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let v = (state >> 8) as f32 / (1 << 24) as f32 * 16.0 - 8.0;
            if i < rows * cols && i % 29 == 5 {
                f32::NEG_INFINITY
            } else {
                v
            }
        })
    }

    /// The vector logistic loss agrees with the scalar kernel (they differ only in
    /// their `exp`, each within 1 ulp) over scores from −100 to 100 and the extremes.
    #[test]
    fn logistic_lanes_match_the_scalar_kernel() {
        let close =
            |a: f32, b: f32| a == b || (a - b).abs() <= 4.0 * f32::EPSILON * a.abs().max(b.abs());
        let extremes = [
            f32::MAX,
            -f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
        ];
        let sweep = (0..=20_000).map(|i| (i as f32 - 10_000.0) / 100.0);
        for x in sweep.chain(extremes) {
            for positive in [true, false] {
                let sign = if positive { 1.0 } else { -1.0 };
                let (l, g) = logistic_lanes(splat(x), splat(sign));
                let (l, g) = (l.to_array()[0], g.to_array()[0]);
                let (want_l, want_g) = logistic_loss(x, positive).unwrap();
                assert!(close(l, want_l), "loss({x}, {positive}): {l} vs {want_l}");
                assert!(close(g, want_g), "grad({x}, {positive}): {g} vs {want_g}");
            }
        }
    }

    /// The batched cross-entropy over blocks of short rows gives, bit for bit, the loss,
    /// gradient and errors of the one-row-at-a-time loop: with ignored rows, masked
    /// targets, fully masked rows, and a NaN, `+inf` or overflowing row at any place.
    #[test]
    fn blocks_equal_rows() {
        let mut cases = 0;
        for cols in [1, 2, 5, LANES, LANES + 3, 4 * LANES] {
            for rows in [1, 3, LANES, LANES + 1, 2 * LANES + 5] {
                if rows * cols > 2048 {
                    continue;
                }
                for poison in [None, Some(f32::NAN), Some(f32::INFINITY), Some(-3e38)] {
                    for at in [0, rows / 2, rows - 1] {
                        let mut z = logits(rows, cols, (rows * 31 + cols) as u32);
                        let targets: [u16; 64] =
                            core::array::from_fn(|r| (r * 7 % (cols + 1)) as u16);
                        if let Some(p) = poison {
                            // -3e38 against a target logit of +3e38: a loss beyond f32.
                            z[at * cols] = p;
                            z[at * cols + cols - 1] = 3e38;
                        }
                        if rows > 2 {
                            z[cols..2 * cols].fill(f32::NEG_INFINITY);
                        }
                        let x = MatRef::new(&z[..rows * cols], rows, cols).unwrap();
                        let (mut g1, mut g2) = ([9.0; 2048], [9.0; 2048]);
                        let ignore = Some(cols);
                        let a = cross_entropy_blocks(
                            x,
                            &targets[..rows],
                            ignore,
                            MatMut::new(&mut g1[..rows * cols], rows, cols).unwrap(),
                            0.25,
                        );
                        let b = cross_entropy_each_row(
                            x,
                            &targets[..rows],
                            ignore,
                            MatMut::new(&mut g2[..rows * cols], rows, cols).unwrap(),
                            (0.25, 0.0),
                            0,
                        );
                        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
                        assert!(g1.iter().zip(&g2).all(|(p, q)| p.to_bits() == q.to_bits()));
                        cases += 1;
                    }
                }
            }
        }
        assert!(cases > 100);
    }
}

//! Layer normalisation and its backward pass, per row and over the rows of a matrix.
//!
//! For a row `x` of `n` values, gain `γ`, shift `β` and `ε > 0`:
//!
//! ```text
//! μ = (1/n)·Σ xᵢ         σ² = (1/n)·Σ (xᵢ − μ)²   (biased, as PyTorch and GPT-2)
//! r = 1/√(σ² + ε)        x̂ᵢ = (xᵢ − μ)·r          yᵢ = x̂ᵢ·γᵢ + βᵢ
//! ```
//!
//! The forward pass returns `(μ, r)`, which the backward pass takes instead of
//! recomputing them:
//!
//! ```text
//! gᵢ = ∂L/∂yᵢ·γᵢ
//! ∂L/∂xᵢ = r·(gᵢ − mean(g) − x̂ᵢ·mean(g ⊙ x̂))
//! ∂L/∂γᵢ = Σ_rows ∂L/∂yᵢ·x̂ᵢ       ∂L/∂βᵢ = Σ_rows ∂L/∂yᵢ
//! ```
//!
//! The variance is computed in a second pass over `x − μ` (not as `E[x²] − μ²`, which
//! cancels catastrophically for rows with a large mean).

use crate::error::{Error, Result, check_len};
use crate::kernels::matmul::Accum;
use crate::kernels::reduce::{check_finite, max_abs};
use crate::kernels::softmax::in_row;
use crate::kernels::view::{MatMut, MatRef};
use crate::simd::{self, Vector, splat};

/// `(μ, r)` of a row, or why they cannot be computed: a NaN or infinity in `x`, or a
/// row so large that its variance overflows.
fn row_stats(x: &[f32], eps: f32) -> Result<(f32, f32)> {
    let n = x.len() as f32;
    let total = simd::hsum(simd::reduce(
        [x],
        [0.0],
        splat(0.0),
        |a, [v]| a + v,
        |a, b| a + b,
    ));
    if !total.is_finite() {
        let index = x.iter().position(|v| !v.is_finite());
        return Err(Error::NonFinite {
            what: if index.is_some() {
                "layer_norm input"
            } else {
                "layer_norm mean (overflow)"
            },
            index: index.unwrap_or(0),
        });
    }
    let mean = total / n;
    let mv = splat(mean);
    let ss = simd::hsum(simd::reduce(
        [x],
        [mean],
        splat(0.0),
        |a, [v]| {
            let d = v - mv;
            d.mul_add(d, a)
        },
        |a, b| a + b,
    ));
    let rstd = 1.0 / simd::sqrt_f32(ss / n + eps);
    if !ss.is_finite() || !rstd.is_finite() {
        return Err(Error::NonFinite {
            what: "layer_norm variance (overflow)",
            index: 0,
        });
    }
    Ok((mean, rstd))
}

fn check_eps(eps: f32) -> Result<()> {
    if eps > 0.0 && eps.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            what: "layer_norm eps",
            expected: "a finite eps > 0",
        })
    }
}

/// The normalising pass `y = (x − μ)·r·γ + β`, then a check that no value overflowed.
fn normalise(
    x: &[f32],
    (mean, rstd): (f32, f32),
    gamma: &[f32],
    beta: &[f32],
    y: &mut [f32],
) -> Result<()> {
    let (mv, rv) = (splat(mean), splat(rstd));
    simd::update([y], [x, gamma, beta], |[_], [x, g, b]| {
        [((x - mv) * rv).mul_add(g, b)]
    });
    if !max_abs(y).is_finite() {
        let index = y.iter().position(|v| !v.is_finite()).unwrap_or(0);
        return Err(Error::NonFinite {
            what: "layer_norm output (overflow)",
            index,
        });
    }
    Ok(())
}

/// Layer normalisation of one row: `y = (x − μ)/√(σ² + ε)·γ + β` (see the
/// [module](self) for the formulas); returns `(μ, r)` with `r = 1/√(σ² + ε)`, which
/// [`layer_norm_backward`] needs.
///
/// Shapes: `gamma`, `beta` and `y` as long as `x` (at least 1). `ε` must be finite and
/// positive (GPT-2 uses `1e-5`). A NaN or infinity in `x`, or a row whose mean or
/// variance overflows `f32` (values beyond about `10¹⁹`), is [`Error::NonFinite`] and
/// writes nothing; an output that overflows (a huge `γ`) is [`Error::NonFinite`] after
/// `y` was written.
///
/// ```
/// use edgegrad::kernels::layer_norm;
/// let mut y = [0.0; 4];
/// let (mean, rstd) = layer_norm(&[1.0, 2.0, 3.0, 4.0], &[1.0; 4], &[0.0; 4], 1e-5, &mut y)?;
/// assert_eq!(mean, 2.5);
/// assert!((rstd - 1.0 / 1.25_f32.sqrt()).abs() < 1e-5);
/// assert!((y[0] + 1.3416).abs() < 1e-4 && (y[3] - 1.3416).abs() < 1e-4);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn layer_norm(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    y: &mut [f32],
) -> Result<(f32, f32)> {
    check_row(x.len(), gamma, beta)?;
    check_len("layer_norm output", x.len(), y.len())?;
    check_eps(eps)?;
    let s = row_stats(x, eps)?;
    normalise(x, s, gamma, beta, y)?;
    Ok(s)
}

fn check_row(n: usize, gamma: &[f32], beta: &[f32]) -> Result<()> {
    if n == 0 {
        return Err(Error::InvalidLength {
            what: "layer_norm row",
            found: 0,
            min: 1,
            max: usize::MAX,
        });
    }
    check_len("layer_norm gamma", n, gamma.len())?;
    check_len("layer_norm beta", n, beta.len())
}

/// Backward pass of [`layer_norm`] for one row: given `x`, the `(μ, r)` its forward
/// pass returned and `dy = ∂L/∂y`,
///
/// ```text
/// dx  ← r·(g − mean(g) − x̂·mean(g ⊙ x̂))   with g = dy ⊙ γ, x̂ = (x − μ)·r
/// dγ ← dγ + dy ⊙ x̂        dβ ← dβ + dy
/// ```
///
/// `dx` is overwritten or accumulated into as `acc` says (a residual stream adds its
/// gradient), `dγ` and `dβ` always accumulate (so rows and sequences sum). All slices
/// are as long as `x` ([`Error::LengthMismatch`], nothing written). Row means of the
/// gradient that overflow are [`Error::NonFinite`] before anything is written; a value
/// of `dx`, `dγ` or `dβ` that is not finite (beyond `f32`'s range, or from non-finite
/// inputs) is [`Error::NonFinite`] after they were written.
///
/// ```
/// use edgegrad::kernels::{layer_norm, layer_norm_backward, Accum};
/// let (x, gamma, beta) = ([1.0, 2.0, 4.0], [1.0; 3], [0.0; 3]);
/// let mut y = [0.0; 3];
/// let stats = layer_norm(&x, &gamma, &beta, 1e-5, &mut y)?;
/// // A gradient along the output itself: the normalised row is scale-free, so the
/// // input gradient vanishes (up to ε).
/// let (mut dx, mut dg, mut db) = ([0.0; 3], [0.0; 3], [0.0; 3]);
/// layer_norm_backward(&x, stats, &gamma, &y, &mut dx, &mut dg, &mut db, Accum::Overwrite)?;
/// assert!(dx.iter().all(|v| v.abs() < 1e-4));
/// assert_eq!(db, y);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward(
    x: &[f32],
    (mean, rstd): (f32, f32),
    gamma: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    acc: Accum,
) -> Result<()> {
    let n = x.len();
    check_len("layer_norm_backward gamma", n, gamma.len())?;
    check_len("layer_norm_backward dy", n, dy.len())?;
    check_len("layer_norm_backward dx", n, dx.len())?;
    check_len("layer_norm_backward dgamma", n, dgamma.len())?;
    check_len("layer_norm_backward dbeta", n, dbeta.len())?;
    if n == 0 {
        return Ok(());
    }
    let (mv, rv) = (splat(mean), splat(rstd));
    // mean(g) and mean(g ⊙ x̂) in one pass
    let (sg, sgx) = simd::reduce(
        [x, gamma, dy],
        [mean, 0.0, 0.0],
        (splat(0.0), splat(0.0)),
        |(sg, sgx), [x, gm, d]| {
            let g = d * gm;
            (sg + g, g.mul_add((x - mv) * rv, sgx))
        },
        |(a, b), (c, d)| (a + c, b + d),
    );
    let inv_n = 1.0 / n as f32;
    let (mg, mgx) = (simd::hsum(sg) * inv_n, simd::hsum(sgx) * inv_n);
    if !(mg.is_finite() && mgx.is_finite()) {
        return Err(Error::NonFinite {
            what: "layer_norm_backward means",
            index: 0,
        });
    }
    let (mg, mgx) = (splat(mg), splat(mgx));
    // (∂L/∂x, new dγ, new dβ) for one vector of the row
    let grads = |x: Vector, gm: Vector, d: Vector, dg: Vector, db: Vector| {
        let xh = (x - mv) * rv;
        let v = rv * xh.mul_neg_add(mgx, d * gm - mg);
        (v, d.mul_add(xh, dg), db + d)
    };
    // One loop for both modes (a second copy doubles the frame on small cores); Overwrite
    // never uses the old dx, which may hold anything, NaN included.
    let add = matches!(acc, Accum::Add);
    simd::update(
        [&mut *dx, &mut *dgamma, &mut *dbeta],
        [x, gamma, dy],
        |[dx, dg, db], [x, gm, d]| {
            let (v, dg, db) = grads(x, gm, d, dg, db);
            [if add { dx + v } else { v }, dg, db]
        },
    );
    check_finite("layer_norm_backward dx", dx)?;
    check_finite("layer_norm_backward dgamma", dgamma)?;
    check_finite("layer_norm_backward dbeta", dbeta)
}

/// [`layer_norm`] of every row of `x` (`rows × n`) into `y`, with each row's `(μ, r)`
/// in `stats` (one pair per row). An error in a row leaves the earlier rows written
/// (and, for an output that overflows, that row too); its index is the flat position
/// `row·n + i`.
///
/// ```
/// use edgegrad::{MatMut, MatRef, kernels::layer_norm_rows};
/// let x = [1.0, 3.0, 10.0, 30.0];
/// let (mut y, mut stats) = ([0.0; 4], [[0.0; 2]; 2]);
/// layer_norm_rows(MatRef::new(&x, 2, 2)?, &[1.0; 2], &[0.0; 2], 1e-5,
///                 MatMut::new(&mut y, 2, 2)?, &mut stats)?;
/// assert_eq!(stats[1][0], 20.0);
/// assert!((y[0] - y[2]).abs() < 1e-5); // scale-free
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn layer_norm_rows(
    x: MatRef<'_>,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    mut y: MatMut<'_>,
    stats: &mut [[f32; 2]],
) -> Result<()> {
    crate::error::check_same_shape("layer_norm_rows output", x.shape(), y.shape())?;
    check_len("layer_norm_rows stats", x.rows(), stats.len())?;
    check_row(x.cols(), gamma, beta)?;
    check_eps(eps)?;
    let n = x.cols();
    for (r, ((xr, yr), st)) in x.row_iter().zip(y.row_iter_mut()).zip(stats).enumerate() {
        let s = in_row(row_stats(xr, eps), r, n)?;
        in_row(normalise(xr, s, gamma, beta, yr), r, n)?;
        *st = [s.0, s.1];
    }
    Ok(())
}

/// [`layer_norm_backward`] of every row: `dx` (overwritten or accumulated as `acc`
/// says) and the sums over rows of `dγ` and `dβ` (accumulated). Shapes are checked
/// before anything is written; a row that fails on its values ([`Error::NonFinite`])
/// leaves the rows before it written (`dγ`, `dβ` included), and itself as
/// [`layer_norm_backward`] says.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward_rows(
    x: MatRef<'_>,
    stats: &[[f32; 2]],
    gamma: &[f32],
    dy: MatRef<'_>,
    mut dx: MatMut<'_>,
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    acc: Accum,
) -> Result<()> {
    crate::error::check_same_shape("layer_norm_backward_rows dy", x.shape(), dy.shape())?;
    crate::error::check_same_shape("layer_norm_backward_rows dx", x.shape(), dx.shape())?;
    check_len("layer_norm_backward_rows stats", x.rows(), stats.len())?;
    check_len("layer_norm_backward gamma", x.cols(), gamma.len())?;
    check_len("layer_norm_backward dgamma", x.cols(), dgamma.len())?;
    check_len("layer_norm_backward dbeta", x.cols(), dbeta.len())?;
    let cols = x.cols();
    for (row, (((xr, &[m, r]), dyr), dxr)) in x
        .row_iter()
        .zip(stats)
        .zip(dy.row_iter())
        .zip(dx.row_iter_mut())
        .enumerate()
    {
        // The error's index is the flat position, as for every row-wise kernel.
        in_row(
            layer_norm_backward(xr, (m, r), gamma, dyr, dxr, dgamma, dbeta, acc),
            row,
            cols,
        )?;
    }
    Ok(())
}

//! Activation functions and their derivatives: GELU in GPT-2's tanh approximation.
//!
//! ```text
//! gelu(x)  = ½·x·(1 + tanh(z)),   z = √(2/π)·(x + 0.044715·x³)
//!          = x·σ(2z)               (1 + tanh z = 2·σ(2z), σ the logistic function)
//! gelu'(x) = σ(2z) + x·σ(2z)·(1 − σ(2z))·2z',   2z' = 2√(2/π)·(1 + 3·0.044715·x²)
//! ```
//!
//! Both are computed in the second form, with one vectorised [`simd::exp`] per element:
//! it equals the tanh form exactly in real arithmetic, needs no `tanh`, and has no
//! cancellation for negative `x`, where `1 + tanh(z)` would subtract two numbers close
//! to 1 (at `x = −3` the tanh form loses eight bits).

use crate::error::{Result, check_len};
use crate::kernels::matmul::Accum;
use crate::kernels::reduce::check_finite;
use crate::simd::{self, Vector, splat};

/// `2·√(2/π)`.
const C1: f32 = 1.595_769_2;
/// `2·√(2/π)·0.044715`.
const C2: f32 = 0.071_354_814;
/// `2·√(2/π)·3·0.044715`.
const C3: f32 = 0.214_064_45;

/// `(2z, t, u)` lane-wise with `t = e^{−|2z|}` and `u = 1/(1 + t)`, so that
/// `σ(2z) = u` for `z ≥ 0` and `t·u` below, and `σ(1 − σ) = t·u²`: the exponential
/// never overflows.
#[inline(always)]
fn sigmoid_parts(x: Vector) -> (Vector, Vector, Vector) {
    let two_z = x * splat(C2).mul_add(x * x, splat(C1));
    let t = simd::exp(-two_z.abs());
    (two_z, t, splat(1.0) / (splat(1.0) + t))
}

/// `gelu(x)` lane-wise; `−∞` gives `−0` (the limit), not `−∞·0`.
#[inline(always)]
fn gelu_lanes(x: Vector) -> Vector {
    let (two_z, t, u) = sigmoid_parts(x);
    let s = two_z.simd_ge(splat(0.0)).select(u, t * u);
    x.simd_eq(splat(f32::NEG_INFINITY))
        .select(splat(-0.0), x * s)
}

/// `gelu'(x)` lane-wise.
#[inline(always)]
fn gelu_grad_lanes(x: Vector) -> Vector {
    let (two_z, t, u) = sigmoid_parts(x);
    let positive = two_z.simd_ge(splat(0.0));
    let s = positive.select(u, t * u);
    let d = (x * splat(C3).mul_add(x * x, splat(C1))).mul_add(t * u * u, s);
    // Where t underflowed to 0 the derivative is 1 or 0 (its limits), also when x·2z'
    // alone would overflow (|x| beyond 10¹²) or x is infinite.
    t.simd_eq(splat(0.0))
        .select(positive.select(splat(1.0), splat(0.0)), d)
}

/// `y ← gelu(x)` element-wise, GPT-2's tanh approximation (PyTorch's
/// `gelu(approximate="tanh")`, Hugging Face's `gelu_new`); see the [module](self).
///
/// `y` must be as long as `x`. NaN stays NaN; `±∞` give their limits `+∞` and `−0`.
///
/// ```
/// let mut y = [0.0; 3];
/// edgegrad::kernels::gelu(&[0.0, 1.0, -1.0], &mut y)?;
/// assert_eq!(y[0], 0.0);
/// assert!((y[1] - 0.841_192).abs() < 1e-6 && (y[2] + 0.158_808).abs() < 1e-6);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn gelu(x: &[f32], y: &mut [f32]) -> Result<()> {
    check_len("gelu output", x.len(), y.len())?;
    simd::update([y], [x], |[_], [x]| [gelu_lanes(x)]);
    Ok(())
}

/// `x ← gelu(x)` element-wise, in place (see [`gelu`]).
///
/// ```
/// let mut x = [0.0, 10.0];
/// edgegrad::kernels::gelu_in_place(&mut x);
/// assert_eq!(x, [0.0, 10.0]);
/// ```
pub fn gelu_in_place(x: &mut [f32]) {
    simd::update([x], [], |[x], []| [gelu_lanes(x)]);
}

/// Backward pass of [`gelu`]: `dx ← gelu'(x) ⊙ dy` (or `dx ← dx + gelu'(x) ⊙ dy` with
/// [`Accum::Add`]), given the forward input `x`.
///
/// A result that is not finite (a non-finite input, or a product beyond `f32`'s range) is
/// [`Error::NonFinite`](crate::Error::NonFinite) after `dx` was written.
///
/// ```
/// use edgegrad::kernels::{gelu_backward, Accum};
/// let mut dx = [0.0; 2];
/// gelu_backward(&[0.0, 10.0], &[1.0, 2.0], &mut dx, Accum::Overwrite)?;
/// assert_eq!(dx, [0.5, 2.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn gelu_backward(x: &[f32], dy: &[f32], dx: &mut [f32], acc: Accum) -> Result<()> {
    check_len("gelu_backward dy", x.len(), dy.len())?;
    check_len("gelu_backward dx", x.len(), dx.len())?;
    match acc {
        Accum::Overwrite => {
            simd::update(
                [&mut *dx],
                [x, dy],
                |[_], [x, dy]| [gelu_grad_lanes(x) * dy],
            );
        }
        Accum::Add => {
            simd::update([&mut *dx], [x, dy], |[dx], [x, dy]| {
                [gelu_grad_lanes(x).mul_add(dy, dx)]
            });
        }
    }
    check_finite("gelu_backward dx", dx)
}

/// Backward pass of [`gelu`] with the gradient in place: `g ← gelu'(x) ⊙ g`, turning
/// `∂L/∂gelu(x)` into `∂L/∂x` without a second buffer. A result that is not finite is
/// [`Error::NonFinite`](crate::Error::NonFinite) after `g` was written.
///
/// ```
/// let mut g = [1.0, 2.0];
/// edgegrad::kernels::gelu_backward_in_place(&[0.0, 10.0], &mut g)?;
/// assert_eq!(g, [0.5, 2.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn gelu_backward_in_place(x: &[f32], g: &mut [f32]) -> Result<()> {
    check_len("gelu_backward_in_place gradient", x.len(), g.len())?;
    simd::update([&mut *g], [x], |[g], [x]| [gelu_grad_lanes(x) * g]);
    check_finite("gelu_backward_in_place result", g)
}

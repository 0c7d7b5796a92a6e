//! Layer normalisation over rows, its backward pass and its one-position step.

use crate::error::{Result, check_len};
use crate::kernels::{self as k, Accum, MatMut, MatRef};

/// `y = (x − μ)/√(σ² + ε)·γ + β` over each row (see [`kernels::norm`](mod@crate::kernels::norm)
/// for the formulas), with GPT-2's `ε = 1e-5` unless set.
///
/// ```
/// use edgegrad::nn::LayerNorm;
/// let ln = LayerNorm::new(&[1.0, 1.0], &[0.0, 0.0])?;
/// let mut y = [0.0; 2];
/// ln.step(&[1.0, 3.0], &mut y)?;
/// assert!((y[0] + 1.0).abs() < 1e-4 && (y[1] - 1.0).abs() < 1e-4);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LayerNorm<'a> {
    /// Gain `γ`.
    pub weight: &'a [f32],
    /// Shift `β`.
    pub bias: &'a [f32],
    /// `ε`, added to the variance.
    pub eps: f32,
}

/// Gradients of a [`LayerNorm`]'s gain and shift, added to by its backward pass.
#[derive(Debug)]
pub struct LayerNormGrads<'a> {
    /// `∂L/∂γ`.
    pub weight: &'a mut [f32],
    /// `∂L/∂β`.
    pub bias: &'a mut [f32],
}

impl<'a> LayerNorm<'a> {
    /// GPT-2's (and PyTorch's default) `ε`.
    pub const EPS: f32 = 1e-5;

    /// A layer with gain `weight` and shift `bias` of the same width, `ε = 1e-5`.
    pub fn new(weight: &'a [f32], bias: &'a [f32]) -> Result<Self> {
        check_len("layer_norm bias", weight.len(), bias.len())?;
        Ok(LayerNorm {
            weight,
            bias,
            eps: Self::EPS,
        })
    }

    /// Normalises every row of `x` into `y`, keeping each row's `(μ, r)` in `stats` for
    /// the backward pass.
    pub fn forward(&self, x: MatRef<'_>, y: MatMut<'_>, stats: &mut [[f32; 2]]) -> Result<()> {
        k::layer_norm_rows(x, self.weight, self.bias, self.eps, y, stats)
    }

    /// Backward pass of [`forward`](Self::forward): `∂L/∂γ` and `∂L/∂β` added to
    /// `grads`, `∂L/∂x` written or added (a residual stream) as `dx`'s [`Accum`] says.
    pub fn backward(
        &self,
        x: MatRef<'_>,
        stats: &[[f32; 2]],
        dy: MatRef<'_>,
        grads: &mut LayerNormGrads<'_>,
        (dx, acc): (MatMut<'_>, Accum),
    ) -> Result<()> {
        k::layer_norm_backward_rows(x, stats, self.weight, dy, dx, grads.weight, grads.bias, acc)
    }

    /// [`forward`](Self::forward) for one row.
    pub fn step(&self, x: &[f32], y: &mut [f32]) -> Result<()> {
        k::layer_norm(x, self.weight, self.bias, self.eps, y).map(|_| ())
    }
}

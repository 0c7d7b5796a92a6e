//! GELU, and the transformer's MLP: Linear → GELU → Linear, each with its backward pass
//! and its one-position step.

use crate::error::{Result, check_same_shape};
use crate::kernels::{self as k, Accum, MatMut, MatRef};

use super::linear::Linear;
use super::{Access, Read, Write};

/// GELU in GPT-2's tanh approximation, over every element of a matrix (see
/// [`kernels::activation`](crate::kernels::activation)).
#[derive(Clone, Copy, Debug, Default)]
pub struct Gelu;

impl Gelu {
    /// `y = gelu(x)` element-wise.
    pub fn forward(x: MatRef<'_>, mut y: MatMut<'_>) -> Result<()> {
        check_same_shape("gelu output", x.shape(), y.shape())?;
        for (xr, yr) in x.row_iter().zip(y.row_iter_mut()) {
            k::gelu(xr, yr)?;
        }
        Ok(())
    }

    /// `dx = gelu'(x) ⊙ dy` (or added), given the forward input `x`.
    pub fn backward(x: MatRef<'_>, dy: MatRef<'_>, mut dx: MatMut<'_>, acc: Accum) -> Result<()> {
        check_same_shape("gelu_backward dy", x.shape(), dy.shape())?;
        check_same_shape("gelu_backward dx", x.shape(), dx.shape())?;
        for ((xr, dyr), dxr) in x.row_iter().zip(dy.row_iter()).zip(dx.row_iter_mut()) {
            k::gelu_backward(xr, dyr, dxr, acc)?;
        }
        Ok(())
    }

    /// `x ← gelu(x)` for one row.
    pub fn step(x: &mut [f32]) {
        k::gelu_in_place(x);
    }
}

/// The transformer's position-wise MLP, `y = gelu(x·W_fc + b_fc)·W_proj + b_proj`
/// (`D → F → D`; GPT-2 uses `F = 4D`).
///
/// ```
/// use edgegrad::nn::{Linear, Mlp};
/// use edgegrad::{MatRef, kernels::Accum};
/// // D = 1, F = 2
/// let (fc, proj) = ([1.0, -1.0], [1.0, -1.0]);
/// let mlp = Mlp {
///     fc: Linear::new(MatRef::new(&fc, 1, 2)?, None)?,
///     proj: Linear::new(MatRef::new(&proj, 2, 1)?, None)?,
/// };
/// let (mut hidden, mut y) = ([0.0; 2], [0.0; 1]);
/// mlp.step(&[2.0], &mut hidden, &mut y, Accum::Overwrite)?;
/// assert!((y[0] - 2.0).abs() < 1e-6); // gelu(x) − gelu(−x) = x
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Debug)]
pub struct Mlp<'a, A: Access<'a> = Read> {
    /// `D → F` (or its gradients).
    pub fc: Linear<'a, A>,
    /// `F → D` (or its gradients).
    pub proj: Linear<'a, A>,
}

/// Gradients of an [`Mlp`]'s two layers.
pub type MlpGrads<'a> = Mlp<'a, Write>;

impl Clone for Mlp<'_> {
    fn clone(&self) -> Self {
        *self
    }
}

impl Copy for Mlp<'_> {}

/// What an [`Mlp`]'s forward pass keeps for its backward pass, `rows × F` each.
#[derive(Debug)]
pub struct MlpActs<'a> {
    /// `x·W_fc + b_fc`, before GELU.
    pub pre: MatMut<'a>,
    /// `gelu(pre)`.
    pub post: MatMut<'a>,
}

impl Mlp<'_> {
    /// `y ← gelu(x·W_fc + b_fc)·W_proj + b_proj` (or added, a residual), keeping the
    /// hidden activations in `acts`.
    pub fn forward(
        &self,
        x: MatRef<'_>,
        acts: &mut MlpActs<'_>,
        y: MatMut<'_>,
        acc: Accum,
    ) -> Result<()> {
        let hidden = (x.rows(), self.fc.outputs());
        check_same_shape("mlp pre-activations", hidden, acts.pre.shape())?;
        check_same_shape("mlp activations", hidden, acts.post.shape())?;
        self.fc.forward(x, acts.pre.rb_mut(), Accum::Overwrite)?;
        Gelu::forward(acts.pre.as_ref(), acts.post.rb_mut())?;
        self.proj.forward(acts.post.as_ref(), y, acc)
    }

    /// Backward pass of [`forward`](Self::forward): parameter gradients added to
    /// `grads`, `∂L/∂x` written or added as `dx`'s [`Accum`] says; `scratch`
    /// (`rows × F`) holds `∂L/∂post`, then `∂L/∂pre`.
    pub fn backward(
        &self,
        x: MatRef<'_>,
        acts: &MlpActs<'_>,
        dy: MatRef<'_>,
        grads: &mut MlpGrads<'_>,
        mut scratch: MatMut<'_>,
        dx: (MatMut<'_>, Accum),
    ) -> Result<()> {
        check_same_shape("mlp scratch", acts.pre.shape(), scratch.shape())?;
        check_same_shape("mlp activations", acts.pre.shape(), acts.post.shape())?;
        check_same_shape(
            "mlp fc gradients",
            self.fc.weight.shape(),
            grads.fc.weight.shape(),
        )?;
        self.proj.backward(
            acts.post.as_ref(),
            dy,
            &mut grads.proj,
            Some((scratch.rb_mut(), Accum::Overwrite)),
        )?;
        // ∂L/∂pre = gelu'(pre) ⊙ ∂L/∂post, in place row by row.
        for (pre, d) in acts.pre.as_ref().row_iter().zip(scratch.row_iter_mut()) {
            k::gelu_backward_in_place(pre, d)?;
        }
        self.fc
            .backward(x, scratch.as_ref(), &mut grads.fc, Some(dx))
    }

    /// [`forward`](Self::forward) for one row, with `hidden` (`F` values) as scratch.
    pub fn step(&self, x: &[f32], hidden: &mut [f32], y: &mut [f32], acc: Accum) -> Result<()> {
        self.fc.step(x, hidden, Accum::Overwrite)?;
        Gelu::step(hidden);
        self.proj.step(hidden, y, acc)
    }
}

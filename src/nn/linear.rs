//! A dense layer `y = x·W + b`, its backward pass and its one-position step.

use crate::error::{Result, check_len, check_same_shape};
use crate::kernels::{self as k, Accum, MatMut, MatRef};

use super::{Access, Read, Write};

/// A dense layer over rows: `y = x·W + b` with `W` stored `[in][out]` (the row-vector
/// convention of this crate and of GPT-2's checkpoints) and an optional bias.
///
/// The weights are views, so a layer can be a column block of a wider matrix (one of
/// Q, K, V inside GPT-2's `c_attn`) without a copy.
///
/// ```
/// use edgegrad::nn::Linear;
/// use edgegrad::{MatMut, MatRef, kernels::Accum};
/// let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 inputs × 3 outputs
/// let layer = Linear::new(MatRef::new(&w, 2, 3)?, Some(&[0.5, 0.5, 0.5]))?;
/// let mut y = [0.0; 3];
/// layer.step(&[1.0, 1.0], &mut y, Accum::Overwrite)?;
/// assert_eq!(y, [5.5, 7.5, 9.5]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Debug)]
pub struct Linear<'a, A: Access<'a> = Read> {
    /// `W`, inputs × outputs (or `∂L/∂W`).
    pub weight: A::Mat,
    /// `b`, one per output (or `∂L/∂b`; ignored if the layer has no bias).
    pub bias: Option<A::Vec>,
}

/// Gradients of a [`Linear`]'s parameters, added to by its backward pass.
pub type LinearGrads<'a> = Linear<'a, Write>;

impl Clone for Linear<'_> {
    fn clone(&self) -> Self {
        *self
    }
}

impl Copy for Linear<'_> {}

impl<'a> Linear<'a> {
    /// A layer with weights `weight` (inputs × outputs) and an optional bias, which must
    /// have one element per output.
    pub fn new(weight: MatRef<'a>, bias: Option<&'a [f32]>) -> Result<Self> {
        if let Some(b) = bias {
            check_len("linear bias", weight.cols(), b.len())?;
        }
        Ok(Linear { weight, bias })
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.weight.rows()
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.weight.cols()
    }

    /// Checks the bias against the weights (the fields are public, so `new`'s check
    /// may have been bypassed) before anything is written.
    fn check_bias(&self) -> Result<()> {
        match self.bias {
            Some(b) => check_len("linear bias", self.weight.cols(), b.len()),
            None => Ok(()),
        }
    }

    /// `y ← x·W + b` (or `y ← y + x·W + b` with [`Accum::Add`], a residual) for every
    /// row of `x` (`rows × in` → `rows × out`).
    pub fn forward(&self, x: MatRef<'_>, mut y: MatMut<'_>, acc: Accum) -> Result<()> {
        self.check_bias()?;
        k::matmul(x, self.weight, y.rb_mut(), acc)?;
        match self.bias {
            Some(b) => k::add_bias(y, b),
            None => Ok(()),
        }
    }

    /// Backward pass of [`forward`](Self::forward) given its input `x` and `dy = ∂L/∂y`:
    /// `∂L/∂W += xᵀ·dy`, `∂L/∂b += Σ_rows dy`, and, if asked for, `∂L/∂x = dy·Wᵀ`
    /// written or added as its [`Accum`] says.
    // Inlined into the backward passes: a frame of its own on top of theirs measured
    // 200 bytes more peak stack on the Cortex-M4F.
    #[inline(always)]
    pub fn backward(
        &self,
        x: MatRef<'_>,
        dy: MatRef<'_>,
        grads: &mut LinearGrads<'_>,
        dx: Option<(MatMut<'_>, Accum)>,
    ) -> Result<()> {
        // Every shape before the first write, so an error changes no gradient.
        self.check_bias()?;
        check_same_shape("linear dW", self.weight.shape(), grads.weight.shape())?;
        check_same_shape("linear dy", (x.rows(), self.outputs()), dy.shape())?;
        check_len("linear x width", self.inputs(), x.cols())?;
        if let (Some(_), Some(db)) = (self.bias, grads.bias.as_deref()) {
            check_len("linear db", self.outputs(), db.len())?;
        }
        if let Some((dx, _)) = &dx {
            check_same_shape("linear dx", x.shape(), dx.shape())?;
        }
        k::matmul_tn(x, dy, grads.weight.rb_mut(), Accum::Add)?;
        if let (Some(_), Some(db)) = (self.bias, grads.bias.as_deref_mut()) {
            k::col_sum(dy, db, Accum::Add)?;
        }
        if let Some((dx, acc)) = dx {
            k::matmul_nt(dy, self.weight, dx, acc)?;
        }
        Ok(())
    }

    /// [`forward`](Self::forward) for one row: `y ← x·W + b` (or added).
    // Inlined: a frame of its own in the decoding chain measured 176 more bytes of
    // peak stack on the Cortex-M4F.
    #[inline(always)]
    pub fn step(&self, x: &[f32], y: &mut [f32], acc: Accum) -> Result<()> {
        self.check_bias()?;
        k::vecmat(x, self.weight, y, acc)?;
        match self.bias {
            Some(b) => k::add_assign(y, b),
            None => Ok(()),
        }
    }
}

//! Token and position embeddings: a lookup and a sum, its scatter-add backward pass and
//! its one-position step; and the token table as a tied output layer
//! (`logits = x·tokensᵀ`, GPT-2's `lm_head`) with its backward pass and step.

use crate::error::{Result, check_index, check_len, check_len_range, check_same_shape};
use crate::kernels::{self as k, Accum, MatMut, MatRef};

use super::{Access, Read, Write};

/// The input of a language model: `x[i] = tokens[id_i] + positions[i]`, rows of a
/// token table (`V × D`) and a position table (`T × D`).
///
/// ```
/// use edgegrad::nn::Embedding;
/// use edgegrad::MatRef;
/// let (wte, wpe) = ([1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.25, 0.25]);
/// let emb = Embedding::new(MatRef::new(&wte, 2, 2)?, MatRef::new(&wpe, 2, 2)?)?;
/// let mut x = [0.0; 2];
/// emb.step(1, 1, &mut x)?;
/// assert_eq!(x, [3.25, 4.25]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Debug)]
pub struct Embedding<'a, A: Access<'a> = Read> {
    /// One row per token id, `V × D` (or its gradient).
    pub tokens: A::Mat,
    /// One row per position, `T × D` (or its gradient).
    pub positions: A::Mat,
}

/// Gradients of an [`Embedding`]'s two tables, added to by its backward pass.
pub type EmbeddingGrads<'a> = Embedding<'a, Write>;

impl Clone for Embedding<'_> {
    fn clone(&self) -> Self {
        *self
    }
}

impl Copy for Embedding<'_> {}

impl<'a> Embedding<'a> {
    /// Embeddings from a token table and a position table of the same width.
    pub fn new(tokens: MatRef<'a>, positions: MatRef<'a>) -> Result<Self> {
        check_len("embedding position width", tokens.cols(), positions.cols())?;
        Ok(Embedding { tokens, positions })
    }

    /// Checks a sequence of ids: at most one per position, each below the vocabulary.
    fn check(&self, ids: &[u16]) -> Result<()> {
        check_len_range("token sequence", ids.len(), 0, self.positions.rows())?;
        for &t in ids {
            check_index("token id", usize::from(t), self.tokens.rows())?;
        }
        Ok(())
    }

    /// `x[i] = tokens[ids[i]] + positions[i]` for every id (`x`: `len × D`). Ids and the
    /// length are checked before anything is written.
    pub fn forward(&self, ids: &[u16], mut x: MatMut<'_>) -> Result<()> {
        self.check(ids)?;
        check_len("embedding output rows", ids.len(), x.rows())?;
        check_len("embedding output width", self.tokens.cols(), x.cols())?;
        for (i, &t) in ids.iter().enumerate() {
            k::add(
                self.tokens.row(usize::from(t)),
                self.positions.row(i),
                x.row_mut(i),
            )?;
        }
        Ok(())
    }

    /// Backward pass of [`forward`](Self::forward): each row of `dx = ∂L/∂x` is added
    /// to its token's row and its position's row of the gradients.
    pub fn backward(
        &self,
        ids: &[u16],
        dx: MatRef<'_>,
        grads: &mut EmbeddingGrads<'_>,
    ) -> Result<()> {
        self.check(ids)?;
        check_len("embedding gradient rows", ids.len(), dx.rows())?;
        check_same_shape(
            "embedding token gradients",
            self.tokens.shape(),
            grads.tokens.shape(),
        )?;
        check_same_shape(
            "embedding position gradients",
            self.positions.shape(),
            grads.positions.shape(),
        )?;
        for (i, &t) in ids.iter().enumerate() {
            let g = dx.row(i);
            k::add_assign(grads.tokens.row_mut(usize::from(t)), g)?;
            k::add_assign(grads.positions.row_mut(i), g)?;
        }
        Ok(())
    }

    /// The token table as a tied output layer (GPT-2's): `logits = x·tokensᵀ` for every
    /// row of `x` (`rows × D` → `rows × V`). A logit that overflows (huge finite
    /// weights) is [`Error::NonFinite`](crate::Error::NonFinite), with `logits` written.
    pub fn logits(&self, x: MatRef<'_>, mut logits: MatMut<'_>) -> Result<()> {
        k::matmul_nt(x, self.tokens, logits.rb_mut(), Accum::Overwrite)?;
        logits
            .as_ref()
            .row_iter()
            .try_for_each(|row| k::check_finite("tied output layer logits", row))
    }

    /// Backward pass of [`logits`](Self::logits) given `dlogits = ∂L/∂logits`:
    /// `∂L/∂tokens += dlogitsᵀ·x` (into `grads.tokens`, which the input's backward pass
    /// adds to as well) and `∂L/∂x = dlogits·tokens`, written or added as `dx`'s
    /// [`Accum`] says.
    pub fn logits_backward(
        &self,
        x: MatRef<'_>,
        dlogits: MatRef<'_>,
        grads: &mut EmbeddingGrads<'_>,
        (dx, acc): (MatMut<'_>, Accum),
    ) -> Result<()> {
        // Every shape before the first write.
        check_same_shape(
            "tied output layer dlogits",
            (x.rows(), self.tokens.rows()),
            dlogits.shape(),
        )?;
        check_same_shape("tied output layer x", dx.shape(), x.shape())?;
        check_same_shape(
            "embedding token gradients",
            self.tokens.shape(),
            grads.tokens.shape(),
        )?;
        k::matmul_tn(dlogits, x, grads.tokens.rb_mut(), Accum::Add)?;
        k::matmul(dlogits, self.tokens, dx, acc)
    }

    /// [`logits`](Self::logits) for one row: `logits = tokens·x` (the same
    /// [`Error::NonFinite`](crate::Error::NonFinite) on overflow).
    #[inline]
    pub fn logits_step(&self, x: &[f32], logits: &mut [f32]) -> Result<()> {
        k::matvec(self.tokens, x, logits, Accum::Overwrite)?;
        k::check_finite("tied output layer logits", logits)
    }

    /// [`forward`](Self::forward) for one token at position `pos`.
    #[inline]
    pub fn step(&self, id: u16, pos: usize, x: &mut [f32]) -> Result<()> {
        check_index("token id", usize::from(id), self.tokens.rows())?;
        check_index("position", pos, self.positions.rows())?;
        k::add(self.tokens.row(usize::from(id)), self.positions.row(pos), x)
    }
}

//! Multi-head causal self-attention: the forward pass over a sequence, its backward
//! pass, and the one-position step that decodes with a KV cache — side by side, every
//! formula written once (see [`CausalSelfAttention`]).

use crate::error::{Error, Result, check_index, check_len, check_same_shape};
use crate::kernels::{self as k, Accum, MatMut, MatRef, Trans};

use super::linear::{Linear, LinearGrads};
use super::{Access, Read, Write};

/// Where Q, K and V come from (or, with [`Write`] access, their gradients).
#[derive(Debug)]
pub enum Qkv<'a, A: Access<'a> = Read> {
    /// Three layers, each `D × W` (the single-head attention LM's `w_q`, `w_k`, `w_v`).
    Separate {
        /// Queries.
        q: Linear<'a, A>,
        /// Keys.
        k: Linear<'a, A>,
        /// Values.
        v: Linear<'a, A>,
    },
    /// One layer, `D × 3W`, whose outputs are `q | k | v` side by side (GPT-2's
    /// `c_attn`).
    Fused(Linear<'a, A>),
}

/// Gradients of [`Qkv`], in the same form.
pub type QkvGrads<'a> = Qkv<'a, Write>;

impl Clone for Qkv<'_> {
    fn clone(&self) -> Self {
        *self
    }
}

impl Copy for Qkv<'_> {}

impl<'a, A: Access<'a>> Qkv<'a, A> {
    /// Projection `i` in the order of the q|k|v outputs: Q, K, V (0, 1, 2) when
    /// separate, the fused one (0) when fused; `None` past the last.
    fn part(&mut self, i: usize) -> Option<&mut Linear<'a, A>> {
        match (self, i) {
            (Qkv::Separate { q, .. }, 0) => Some(q),
            (Qkv::Separate { k, .. }, 1) => Some(k),
            (Qkv::Separate { v, .. }, 2) => Some(v),
            (Qkv::Fused(l), 0) => Some(l),
            _ => None,
        }
    }
}

/// Causal self-attention with `heads` heads: Q, K, V projections, per-head scaled
/// causal softmax, output projection. For `x` of `l` rows, `N` heads of width `H`
/// (attention width `W = N·H`):
///
/// ```text
/// q | k | v = x·W_q | x·W_k | x·W_v (+ biases)            each l × W
/// per head h (columns h·H .. (h+1)·H of q, k, v):
///   s   = q_h·k_hᵀ / √H,   s[i][j] = −∞ for j > i       (causal)
///   p   = softmax over each row of s                    l × l
///   y_h = p·v_h                                         l × H
/// out = concat_h(y_h)·W_o (+ b_o)
/// ```
///
/// Backward, per head, with `dy_h` the head's columns of `∂L/∂concat`:
///
/// ```text
/// ∂L/∂p = dy_h·v_hᵀ        ∂L/∂v_h = pᵀ·dy_h
/// ∂L/∂s = p ⊙ (∂L/∂p − rowsum(∂L/∂p ⊙ p))   (the softmax backward, row by row)
/// ∂L/∂q_h = ∂L/∂s·k_h/√H   ∂L/∂k_h = ∂L/∂sᵀ·q_h/√H
/// ```
///
/// Heads are column blocks of the Q, K, V buffers, taken as strided views: nothing is
/// copied per head, in the sequence pass or in the KV cache.
///
/// ```
/// use edgegrad::nn::{AttentionActs, CausalSelfAttention, Linear, Qkv};
/// use edgegrad::{MatMut, MatRef, kernels::Accum};
/// // D = W = 2, one head; identity projections.
/// let eye = [1.0, 0.0, 0.0, 1.0];
/// let id = Linear::new(MatRef::new(&eye, 2, 2)?, None)?;
/// let attn = CausalSelfAttention::new(Qkv::Separate { q: id, k: id, v: id }, id, 1)?;
/// let x = [1.0, 0.0, 0.0, 1.0]; // two positions
/// let (mut qkv, mut probs, mut ctx, mut y) = ([0.0; 12], [0.0; 4], [0.0; 4], [0.0; 4]);
/// let mut acts = AttentionActs {
///     qkv: MatMut::new(&mut qkv, 2, 6)?,
///     probs: &mut probs,
///     ctx: MatMut::new(&mut ctx, 2, 2)?,
/// };
/// attn.forward(MatRef::new(&x, 2, 2)?, &mut acts, MatMut::new(&mut y, 2, 2)?, Accum::Overwrite)?;
/// assert_eq!(&y[..2], &[1.0, 0.0]); // the first position sees only itself
/// assert_eq!(probs[1], 0.0); // and not the second
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CausalSelfAttention<'a> {
    /// The Q, K, V projections.
    qkv: Qkv<'a>,
    /// The output projection, `W × D`.
    proj: Linear<'a>,
    /// Number of heads `N`, dividing `W`.
    heads: usize,
    /// `1/√H`, computed once.
    scale: f32,
}

/// Gradients of a [`CausalSelfAttention`]'s parameters, added to by its backward pass.
#[derive(Debug)]
pub struct CausalSelfAttentionGrads<'a> {
    /// Of the Q, K, V projections.
    pub qkv: QkvGrads<'a>,
    /// Of the output projection.
    pub proj: LinearGrads<'a>,
}

/// What the forward pass over `l` positions keeps for the backward pass.
#[derive(Debug)]
pub struct AttentionActs<'a> {
    /// `q | k | v`, `l × 3W`.
    pub qkv: MatMut<'a>,
    /// Each head's `l × l` probabilities (zero above the diagonal), head after head:
    /// at least `N·l·l` values.
    pub probs: &'a mut [f32],
    /// The heads' outputs side by side, `l × W`.
    pub ctx: MatMut<'a>,
}

/// Scratch of the backward pass over `l` positions.
#[derive(Debug)]
pub struct AttentionScratch<'a> {
    /// `∂L/∂ctx`, `l × W`.
    pub dctx: MatMut<'a>,
    /// One head's `∂L/∂p`, then `∂L/∂s`: at least `l·l` values.
    pub dprobs: &'a mut [f32],
    /// `∂L/∂(q | k | v)`, `l × 3W`.
    pub dqkv: MatMut<'a>,
}

/// What decoding keeps from one step to the next — the keys and values of the positions
/// decoded so far (the KV cache, `T × W` each) — and one step's scratch.
#[derive(Debug)]
pub struct KvCache<'a> {
    /// Row `t`: the key of position `t`.
    pub keys: MatMut<'a>,
    /// Row `t`: the value of position `t`.
    pub values: MatMut<'a>,
    /// The new position's query: `W` values (`3W` with [`Qkv::Fused`]: its q, k, v).
    pub q: &'a mut [f32],
    /// One head's scores over the positions so far: at least `T` values.
    pub scores: &'a mut [f32],
    /// The heads' outputs side by side: `W` values.
    pub ctx: &'a mut [f32],
}

impl<'a> CausalSelfAttention<'a> {
    /// Attention with `heads` heads from its projections: `qkv` maps `D` inputs to `W`
    /// each (`3W` fused), `proj` maps `W` back; `heads ≥ 1` must divide `W`.
    pub fn new(qkv: Qkv<'a>, proj: Linear<'a>, heads: usize) -> Result<Self> {
        let w = proj.inputs();
        if w == 0 || w > usize::MAX / 3 {
            return Err(Error::InvalidParameter {
                what: "attention width",
                expected: "a width W >= 1 (with 3W within usize)",
            });
        }
        match qkv {
            Qkv::Separate { q, k, v } => {
                for (what, l) in [("attention key", k), ("attention value", v)] {
                    check_same_shape(what, q.weight.shape(), l.weight.shape())?;
                }
                check_len("attention query width", w, q.outputs())?;
            }
            Qkv::Fused(l) => check_len("attention fused q|k|v width", 3 * w, l.outputs())?,
        }
        if heads == 0 || !w.is_multiple_of(heads) {
            return Err(Error::InvalidParameter {
                what: "attention heads",
                expected: "a number of heads >= 1 that divides the attention width",
            });
        }
        Ok(Self::from_parts(qkv, proj, heads))
    }

    /// The Q, K, V projections.
    pub fn qkv(&self) -> Qkv<'a> {
        self.qkv
    }

    /// The output projection.
    pub fn proj(&self) -> Linear<'a> {
        self.proj
    }

    /// [`new`](Self::new) without its checks, for models whose shapes are in their
    /// types (each step of decoding builds its layers). With shapes that do not fit,
    /// the kernels still refuse them: an error, never a panic.
    pub(crate) fn from_parts(qkv: Qkv<'a>, proj: Linear<'a>, heads: usize) -> Self {
        let heads = heads.max(1);
        let hw = proj.inputs() / heads;
        CausalSelfAttention {
            qkv,
            proj,
            heads,
            // (A zero head width has no scores to scale.)
            scale: if hw == 0 {
                1.0
            } else {
                1.0 / crate::simd::sqrt_f32(hw as f32)
            },
        }
    }

    /// An error unless `grads` has the projections' form (separate or fused) and
    /// shapes, checked before the backward pass writes any of them.
    fn check_grads(&self, grads: &mut QkvGrads<'_>) -> Result<()> {
        if matches!(self.qkv, Qkv::Fused(_)) != matches!(grads, Qkv::Fused(_)) {
            return Err(Error::InvalidParameter {
                what: "attention gradients",
                expected: "the form (separate or fused) of the q|k|v projections",
            });
        }
        let mut qkv = self.qkv;
        for i in 0..3 {
            if let (Some(l), Some(g)) = (qkv.part(i), grads.part(i)) {
                check_same_shape(
                    "attention projection gradient",
                    l.weight.shape(),
                    g.weight.shape(),
                )?;
            }
        }
        Ok(())
    }

    /// Number of heads.
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// The attention width `W` (all heads).
    pub fn width(&self) -> usize {
        self.proj.inputs()
    }

    /// The width of one head, `H = W / N`.
    pub fn head_width(&self) -> usize {
        self.width() / self.heads
    }

    /// The score scale `1/√H`.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// `(q_h, k_h, v_h)`: head `h`'s columns of a `q | k | v` matrix.
    fn head<'m>(&self, qkv: MatRef<'m>, h: usize) -> Result<[MatRef<'m>; 3]> {
        let (w, hw) = (self.width(), self.head_width());
        Ok([
            qkv.cols_range(h * hw, hw)?,
            qkv.cols_range(w + h * hw, hw)?,
            qkv.cols_range(2 * w + h * hw, hw)?,
        ])
    }

    /// Forward pass over the rows of `x` (`l × D`, positions `0..l`): `y ← attention(x)`
    /// (or added, a residual), keeping in `acts` what the backward pass needs.
    pub fn forward(
        &self,
        x: MatRef<'_>,
        acts: &mut AttentionActs<'_>,
        y: MatMut<'_>,
        acc: Accum,
    ) -> Result<()> {
        let (l, w) = (x.rows(), self.width());
        check_same_shape("attention q|k|v", (l, 3 * w), acts.qkv.shape())?;
        check_same_shape("attention context", (l, w), acts.ctx.shape())?;
        let probs = self.probs_of(&mut *acts.probs, l)?;
        match self.qkv {
            Qkv::Separate { q, k, v } => {
                q.forward(x, acts.qkv.cols_range_mut(0, w)?, Accum::Overwrite)?;
                k.forward(x, acts.qkv.cols_range_mut(w, w)?, Accum::Overwrite)?;
                v.forward(x, acts.qkv.cols_range_mut(2 * w, w)?, Accum::Overwrite)?;
            }
            Qkv::Fused(f) => f.forward(x, acts.qkv.rb_mut(), Accum::Overwrite)?,
        }
        let hw = self.head_width();
        for (h, p) in probs
            .chunks_exact_mut((l * l).max(1))
            .take(self.heads)
            .enumerate()
        {
            let [q, key, v] = self.head(acts.qkv.as_ref(), h)?;
            // s = q·kᵀ/√H, then a causal softmax: row i over positions 0..=i only.
            k::gemm(
                self.scale(),
                q,
                Trans::N,
                key,
                Trans::T,
                0.0,
                MatMut::new(p, l, l)?,
            )?;
            for (i, row) in p.chunks_exact_mut(l).enumerate() {
                let (visible, future) = row.split_at_mut(i + 1);
                k::softmax_in_place(visible)?;
                future.fill(0.0);
            }
            let ctx = acts.ctx.cols_range_mut(h * hw, hw)?;
            k::matmul(MatRef::new(p, l, l)?, v, ctx, Accum::Overwrite)?;
        }
        self.proj.forward(acts.ctx.as_ref(), y, acc)
    }

    /// The first `N·l·l` values of `probs`, or why it is too short.
    fn probs_of<'p>(&self, probs: &'p mut [f32], l: usize) -> Result<&'p mut [f32]> {
        let n = Self::square(self.heads, l, probs.len(), "attention probabilities")?;
        Ok(&mut probs[..n])
    }

    /// `n·l·l` (`n` matrices of `l × l`) if a buffer of `len` values holds them, or why
    /// not (too short, or a size beyond `usize`).
    fn square(n: usize, l: usize, len: usize, what: &'static str) -> Result<usize> {
        match n.checked_mul(l).and_then(|x| x.checked_mul(l)) {
            Some(need) if need <= len => Ok(need),
            need => Err(Error::LengthMismatch {
                what,
                expected: need.unwrap_or(usize::MAX),
                found: len,
            }),
        }
    }

    /// Backward pass of [`forward`](Self::forward) on the same `x` and `acts`, given
    /// `dy = ∂L/∂y`: parameter gradients added to `grads`, `∂L/∂x` written or added as
    /// `dx`'s [`Accum`] says. It is [`backward_output`](Self::backward_output) then
    /// [`backward_input`](Self::backward_input).
    pub fn backward(
        &self,
        x: MatRef<'_>,
        acts: &AttentionActs<'_>,
        dy: MatRef<'_>,
        grads: &mut CausalSelfAttentionGrads<'_>,
        scratch: &mut AttentionScratch<'_>,
        dx: (MatMut<'_>, Accum),
    ) -> Result<()> {
        self.backward_output(acts, dy, &mut grads.proj, scratch)?;
        self.backward_input(x, acts, &mut grads.qkv, scratch, dx)
    }

    /// The first half of the backward pass, through the output projection: `∂L/∂W_o`
    /// (and `b_o`) added to `grads`, `∂L/∂ctx` into `scratch.dctx`. `dy` is not needed
    /// after it, so a residual stream can hold `dy` now and receive `∂L/∂x` from
    /// [`backward_input`](Self::backward_input).
    // Inlined into the model's backward pass: a frame of its own on top of that one
    // measured hundreds of bytes more peak stack on the Cortex-M4F.
    #[inline(always)]
    pub fn backward_output(
        &self,
        acts: &AttentionActs<'_>,
        dy: MatRef<'_>,
        grads: &mut LinearGrads<'_>,
        scratch: &mut AttentionScratch<'_>,
    ) -> Result<()> {
        check_same_shape(
            "attention d context",
            acts.ctx.shape(),
            scratch.dctx.shape(),
        )?;
        self.proj.backward(
            acts.ctx.as_ref(),
            dy,
            grads,
            Some((scratch.dctx.rb_mut(), Accum::Overwrite)),
        )
    }

    /// The second half of the backward pass, from `∂L/∂ctx` (left in `scratch` by
    /// [`backward_output`](Self::backward_output)) through each head's softmax and the
    /// Q, K, V projections: their gradients added to `grads`, `∂L/∂x` written or added
    /// as `dx`'s [`Accum`] says.
    // Inlined into the model's backward pass: a frame of its own on top of that one
    // measured hundreds of bytes more peak stack on the Cortex-M4F.
    #[inline(always)]
    pub fn backward_input(
        &self,
        x: MatRef<'_>,
        acts: &AttentionActs<'_>,
        grads: &mut QkvGrads<'_>,
        scratch: &mut AttentionScratch<'_>,
        (mut dx, acc): (MatMut<'_>, Accum),
    ) -> Result<()> {
        let (l, w, hw) = (x.rows(), self.width(), self.head_width());
        check_same_shape("attention q|k|v", (l, 3 * w), acts.qkv.shape())?;
        check_same_shape("attention d(q|k|v)", (l, 3 * w), scratch.dqkv.shape())?;
        check_same_shape("attention d context", (l, w), scratch.dctx.shape())?;
        self.check_grads(grads)?;
        let n = Self::square(self.heads, l, acts.probs.len(), "attention probabilities")?;
        let probs = &acts.probs[..n];
        let n = Self::square(
            1,
            l,
            scratch.dprobs.len(),
            "attention probability gradients",
        )?;
        let dp = &mut scratch.dprobs[..n];
        let qkv = acts.qkv.as_ref();
        let scale = self.scale();
        for (h, p) in probs
            .chunks_exact((l * l).max(1))
            .take(self.heads)
            .enumerate()
        {
            let [q, key, v] = self.head(qkv, h)?;
            let p = MatRef::new(p, l, l)?;
            let dctx = scratch.dctx.as_ref().cols_range(h * hw, hw)?;
            k::matmul_nt(dctx, v, MatMut::new(dp, l, l)?, Accum::Overwrite)?;
            let dv = scratch.dqkv.cols_range_mut(2 * w + h * hw, hw)?;
            k::matmul_tn(p, dctx, dv, Accum::Overwrite)?;
            // Causal softmax rows, in place; the score scale goes into the products.
            for (i, (pr, dsr)) in p.row_iter().zip(dp.chunks_exact_mut(l)).enumerate() {
                let (visible, future) = dsr.split_at_mut(i + 1);
                k::softmax_backward_in_place(&pr[..=i], visible)?;
                future.fill(0.0);
            }
            let ds = MatRef::new(dp, l, l)?;
            let dq = scratch.dqkv.cols_range_mut(h * hw, hw)?;
            k::gemm(scale, ds, Trans::N, key, Trans::N, 0.0, dq)?;
            let dk = scratch.dqkv.cols_range_mut(w + h * hw, hw)?;
            k::gemm(scale, ds, Trans::T, q, Trans::N, 0.0, dk)?;
        }
        let dqkv = scratch.dqkv.as_ref();
        // Projection i's outputs are columns i·W.. of q|k|v. The first writes ∂L/∂x as
        // asked, the others add to it.
        let mut qkv = self.qkv;
        for i in 0..3 {
            if let (Some(l), Some(g)) = (qkv.part(i), grads.part(i)) {
                let acc = if i == 0 { acc } else { Accum::Add };
                let dy = dqkv.cols_range(i * w, l.outputs())?;
                l.backward(x, dy, g, Some((dx.rb_mut(), acc)))?;
            }
        }
        Ok(())
    }

    /// Decodes position `pos` with the KV cache: appends its key and value to
    /// `kv` (row `pos`) and returns through `y` its attention over positions `0..=pos`
    /// (written, or added as a residual) — the last row of [`forward`](Self::forward) on
    /// positions `0..=pos`, up to rounding.
    // Inlined into the decoders: a frame of its own on top of theirs measured about
    // 300 bytes more peak stack on the Cortex-M4F.
    #[inline(always)]
    pub fn step(
        &self,
        x: &[f32],
        pos: usize,
        kv: &mut KvCache<'_>,
        y: &mut [f32],
        acc: Accum,
    ) -> Result<()> {
        let (w, hw) = (self.width(), self.head_width());
        check_index("attention position", pos, kv.keys.rows())?;
        check_same_shape("attention values", kv.keys.shape(), kv.values.shape())?;
        check_len("attention cache width", w, kv.keys.cols())?;
        check_len("attention step context", w, kv.ctx.len())?;
        let found = kv.scores.len();
        let scores = kv.scores.get_mut(..=pos).ok_or(Error::LengthMismatch {
            what: "attention step scores",
            expected: pos + 1,
            found,
        })?;
        let q = match self.qkv {
            Qkv::Separate { q, k, v } => {
                check_len("attention step query", w, kv.q.len())?;
                q.step(x, kv.q, Accum::Overwrite)?;
                k.step(x, kv.keys.row_mut(pos), Accum::Overwrite)?;
                v.step(x, kv.values.row_mut(pos), Accum::Overwrite)?;
                &*kv.q
            }
            Qkv::Fused(f) => {
                check_len("attention step q|k|v", 3 * w, kv.q.len())?;
                f.step(x, kv.q, Accum::Overwrite)?;
                kv.keys.row_mut(pos).copy_from_slice(&kv.q[w..2 * w]);
                kv.values.row_mut(pos).copy_from_slice(&kv.q[2 * w..]);
                &kv.q[..w]
            }
        };
        let (keys, values) = (
            kv.keys.as_ref().top(pos + 1)?,
            kv.values.as_ref().top(pos + 1)?,
        );
        for h in 0..self.heads {
            let qh = &q[h * hw..(h + 1) * hw];
            k::matvec(keys.cols_range(h * hw, hw)?, qh, scores, Accum::Overwrite)?;
            k::scale(self.scale(), scores);
            k::softmax_in_place(scores)?;
            let ctx = &mut kv.ctx[h * hw..(h + 1) * hw];
            k::vecmat(
                scores,
                values.cols_range(h * hw, hw)?,
                ctx,
                Accum::Overwrite,
            )?;
        }
        self.proj.step(kv.ctx, y, acc)
    }
}

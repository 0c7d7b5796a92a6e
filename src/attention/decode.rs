//! Incremental decoding with a KV cache, and sampling.

use rand_core::RngCore;

use crate::error::{Error, Result, check_index, check_len_range};
use crate::kernels::softmax::checked_max;
use crate::kernels::{self as k, Accum};
use crate::tensor::{Matrix, view_of};

use super::forward::score_scale;
use super::model::AttentionLm;
use super::model::AttentionWeights;
use crate::random::uniform01;

/// How the next token is chosen from the logits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// The most likely token (the first one on ties).
    Greedy,
    /// A draw from `softmax(logits / τ)`; `τ > 0`, lower is more conservative.
    Temperature(f32),
    /// A draw from `softmax(logits / τ)` restricted to the `k` most likely tokens (tokens
    /// tied with the `k`-th are kept too).
    TopK {
        /// How many tokens stay candidates, `1 ≤ k ≤ V`.
        k: usize,
        /// Temperature `τ > 0`.
        temperature: f32,
    },
}

/// Generation state for an [`AttentionLm<V, T, D, DK>`](AttentionLm): the keys and
/// values of every position so far (the KV cache) and one position's activations.
///
/// The model is anything that converts into [`AttentionWeights`]: `&AttentionLm`, or
/// weights borrowed in place from a safetensors file.
///
/// Each [`step`](Self::step) costs `O(t·DK + D·(DK + V))` for the `t`-th token instead
/// of a full forward pass over the prefix, and gives the same logits as
/// [`AttentionLm::forward_logits`] on that prefix (up to rounding).
///
/// ```
/// use edgegrad::attention::{AttentionLm, Decoder, Sampling};
/// use rand_core::SeedableRng;
/// type Lm = AttentionLm<10, 8, 8, 4>;
/// let mut model = Lm::ZERO;
/// let mut rng = rand_pcg::Pcg32::seed_from_u64(5);
/// model.init(&mut rng);
/// let mut dec = Decoder::ZERO;
/// let mut out = [0_u16; 5];
/// let n = dec.generate(&model, &[1, 2], &mut out, Sampling::TopK { k: 3, temperature: 0.8 }, &mut rng)?;
/// assert_eq!(n, 5);
/// assert!(out.iter().all(|&t| t < 10));
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Debug)]
pub struct Decoder<const V: usize, const T: usize, const D: usize, const DK: usize> {
    keys: Matrix<T, DK>,
    values: Matrix<T, DK>,
    len: usize,
    h0: Matrix<1, D>,
    q: Matrix<1, DK>,
    scores: Matrix<1, T>,
    ctx: Matrix<1, DK>,
    h1: Matrix<1, D>,
    logits: Matrix<1, V>,
    probs: Matrix<1, V>,
    sorted: Matrix<1, V>,
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> Decoder<V, T, D, DK> {
    /// An empty decoder.
    pub const ZERO: Self = Decoder {
        keys: Matrix::ZERO,
        values: Matrix::ZERO,
        len: 0,
        h0: Matrix::ZERO,
        q: Matrix::ZERO,
        scores: Matrix::ZERO,
        ctx: Matrix::ZERO,
        h1: Matrix::ZERO,
        logits: Matrix::ZERO,
        probs: Matrix::ZERO,
        sorted: Matrix::ZERO,
    };

    /// Bytes this struct takes.
    pub const BYTES: usize = core::mem::size_of::<Self>();

    /// Forgets every position (the KV cache is reused from the start).
    pub fn reset(&mut self) {
        self.len = 0;
    }

    /// Forgets the positions from `len` on, keeping the KV cache of the first `len`
    /// (a no-op if fewer are decoded), so decoding can branch from a shared prefix.
    /// [`logits`](Self::logits) still shows the last step's result until the next
    /// [`step`](Self::step).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Number of positions decoded so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been decoded yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Logits of the last position decoded.
    pub fn logits(&self) -> &[f32; V] {
        self.logits.row(0)
    }

    /// Appends `token` at the next position and returns the logits for the position
    /// after it. [`Error::InvalidLength`] once `T` positions are used.
    pub fn step<'m>(
        &mut self,
        model: impl Into<AttentionWeights<'m, V, T, D, DK>>,
        token: u16,
    ) -> Result<&[f32; V]> {
        let model = model.into();
        check_index("token id", usize::from(token), V)?;
        let t = self.len;
        check_len_range("decoded positions", t + 1, 1, T)?;
        let h0 = self.h0.row_mut(0);
        k::add(&model.tok_emb[usize::from(token)], &model.pos_emb[t], h0)?;
        let h0 = self.h0.row(0);
        k::vecmat(h0, view_of(model.w_q), self.q.row_mut(0), Accum::Overwrite)?;
        k::vecmat(
            h0,
            view_of(model.w_k),
            self.keys.row_mut(t),
            Accum::Overwrite,
        )?;
        k::vecmat(
            h0,
            view_of(model.w_v),
            self.values.row_mut(t),
            Accum::Overwrite,
        )?;
        // Attention of the new position over positions 0..=t.
        let scores = &mut self.scores.row_mut(0)[..=t];
        k::matvec(
            self.keys.top(t + 1)?,
            self.q.row(0),
            scores,
            Accum::Overwrite,
        )?;
        k::scale(score_scale::<DK>(), scores);
        k::softmax_in_place(scores)?;
        k::vecmat(
            scores,
            self.values.top(t + 1)?,
            self.ctx.row_mut(0),
            Accum::Overwrite,
        )?;
        let h1 = self.h1.row_mut(0);
        h1.copy_from_slice(h0);
        k::vecmat(self.ctx.row(0), view_of(model.w_o), h1, Accum::Add)?;
        let logits = self.logits.row_mut(0);
        k::vecmat(
            self.h1.row(0),
            view_of(model.w_out),
            logits,
            Accum::Overwrite,
        )?;
        k::add_assign(logits, model.b_out)?;
        self.len = t + 1;
        Ok(self.logits.row(0))
    }

    /// Starts over with `prompt` (`1 ≤ len ≤ T`) and returns the logits after its last
    /// token.
    pub fn prefill<'m>(
        &mut self,
        model: impl Into<AttentionWeights<'m, V, T, D, DK>>,
        prompt: &[u16],
    ) -> Result<&[f32; V]> {
        let model = model.into();
        AttentionLm::<V, T, D, DK>::check_tokens(prompt, 1)?;
        self.reset();
        for &t in prompt {
            self.step(model, t)?;
        }
        Ok(self.logits.row(0))
    }

    /// Chooses a token from the current logits.
    pub fn sample<R: RngCore + ?Sized>(&mut self, sampling: Sampling, rng: &mut R) -> Result<u16> {
        let logits = self.logits.row(0);
        let max = checked_max("decoder logits", logits)?;
        let (temperature, top_k) = match sampling {
            Sampling::Greedy => {
                let best = (0..V).fold(0, |b, i| if logits[i] > logits[b] { i } else { b });
                return Ok(best as u16);
            }
            Sampling::Temperature(t) => (t, V),
            Sampling::TopK { k, temperature } => (temperature, k),
        };
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(Error::InvalidParameter {
                what: "sampling temperature",
                expected: "a finite temperature > 0",
            });
        }
        if top_k == 0 || top_k > V {
            return Err(Error::InvalidParameter {
                what: "sampling top-k",
                expected: "1 <= k <= V",
            });
        }
        let probs = self.probs.row_mut(0);
        // Shift by the maximum before dividing, so that a tiny temperature cannot
        // overflow: the best token gets 0, the others ≤ 0 (possibly -inf).
        for (p, &l) in probs.iter_mut().zip(logits) {
            *p = (l - max) / temperature;
        }
        if top_k < V {
            let sorted = self.sorted.row_mut(0);
            sorted.copy_from_slice(probs);
            let (_, kth, _) = sorted.select_nth_unstable_by(V - top_k, |a, b| a.total_cmp(b));
            let threshold = *kth;
            probs
                .iter_mut()
                .filter(|p| **p < threshold)
                .for_each(|p| *p = f32::NEG_INFINITY);
        }
        k::softmax_in_place(probs)?;
        let u = uniform01(rng);
        let mut cumulative = 0.0;
        let mut last = 0;
        for (i, &p) in probs.iter().enumerate() {
            if p > 0.0 {
                cumulative += p;
                last = i;
                if u < cumulative {
                    return Ok(i as u16);
                }
            }
        }
        Ok(last as u16)
    }

    /// Prefills `prompt`, then samples up to `out.len()` tokens into `out`, feeding
    /// each back in. Stops early when the `T` positions are used up; returns how many
    /// tokens were written.
    pub fn generate<'m, R: RngCore + ?Sized>(
        &mut self,
        model: impl Into<AttentionWeights<'m, V, T, D, DK>>,
        prompt: &[u16],
        out: &mut [u16],
        sampling: Sampling,
        rng: &mut R,
    ) -> Result<usize> {
        let model = model.into();
        self.prefill(model, prompt)?;
        for (n, slot) in out.iter_mut().enumerate() {
            let token = self.sample(sampling, rng)?;
            *slot = token;
            if self.len == T {
                return Ok(n + 1);
            }
            self.step(model, token)?;
        }
        Ok(out.len())
    }
}

//! Incremental decoding with a KV cache: each step is the layers' one-position steps.

use rand_core::RngCore;

use crate::error::{Error, Result, check_index, check_len_range};
use crate::kernels::{self as k, Accum};
use crate::nn::KvCache;
use crate::params::Zero;
use crate::sample::{self, Sampling};
use crate::tensor::Matrix;

use super::model::{AttentionLm, AttentionWeights};

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
    h0: [f32; D],
    q: [f32; DK],
    scores: [f32; T],
    ctx: [f32; DK],
    h1: [f32; D],
    logits: [f32; V],
    probs: [f32; V],
    /// Whether `logits` are the last successful step's (not those of a fresh, reset,
    /// truncated or failed decoder).
    ready: bool,
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> Decoder<V, T, D, DK> {
    /// An empty decoder.
    pub const ZERO: Self = Decoder {
        keys: Zero::ZERO,
        values: Zero::ZERO,
        len: 0,
        h0: Zero::ZERO,
        q: Zero::ZERO,
        scores: Zero::ZERO,
        ctx: Zero::ZERO,
        h1: Zero::ZERO,
        logits: Zero::ZERO,
        probs: Zero::ZERO,
        ready: false,
    };

    /// Bytes this struct takes.
    pub const BYTES: usize = core::mem::size_of::<Self>();

    /// Forgets every position (the KV cache is reused from the start).
    pub fn reset(&mut self) {
        self.len = 0;
        self.ready = false;
    }

    /// Forgets the positions from `len` on, keeping the KV cache of the first `len`
    /// (a no-op if fewer are decoded), so decoding can branch from a shared prefix.
    /// Truncating to fewer positions leaves no logits until the next
    /// [`step`](Self::step).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            self.ready = false;
        }
    }

    /// Number of positions decoded so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been decoded yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Logits after the last position decoded: `None` until a [`step`](Self::step)
    /// succeeds, and again after a reset, a truncation or a failed step.
    pub fn logits(&self) -> Option<&[f32; V]> {
        self.ready.then_some(&self.logits)
    }

    /// Appends `token` at the next position and returns the logits for the position
    /// after it. [`Error::InvalidLength`] once `T` positions are used,
    /// [`Error::IndexOutOfRange`] for a token `≥ V` (both changing nothing);
    /// [`Error::NonFinite`] if a logit overflows (weights of about `10¹⁹` and more).
    /// After that error nothing is decoded ([`len`](Self::len) is unchanged), the KV
    /// cache's row at that position (unused until a step succeeds there) and the
    /// logits were overwritten, and [`logits`](Self::logits) is `None`.
    // Out of line (with the attention step inlined into it): a caller's frame need
    // not hold its views while the caller does other things (on a microcontroller,
    // stacks of callers and callees add up).
    #[inline(never)]
    pub fn step<'m>(
        &mut self,
        model: impl Into<AttentionWeights<'m, V, T, D, DK>>,
        token: u16,
    ) -> Result<&[f32; V]> {
        let () = AttentionLm::<V, T, D, DK>::VOCAB_FITS_IDS;
        let model = model.into();
        check_index("token id", usize::from(token), V)?;
        let t = self.len;
        check_len_range("decoded positions", t + 1, 1, T)?;
        self.ready = false;
        model.embedding().step(token, t, &mut self.h0)?;
        // h1 = h0 + attention(h0), with the new key and value appended to the cache.
        self.h1.copy_from_slice(&self.h0);
        model.attention().step(
            &self.h0,
            t,
            &mut KvCache {
                keys: self.keys.view_mut(),
                values: self.values.view_mut(),
                q: &mut self.q,
                scores: &mut self.scores,
                ctx: &mut self.ctx,
            },
            &mut self.h1,
            Accum::Add,
        )?;
        model
            .head()
            .step(&self.h1, &mut self.logits, Accum::Overwrite)?;
        k::check_finite("output layer logits", &self.logits)?;
        self.len = t + 1;
        self.ready = true;
        Ok(&self.logits)
    }

    /// Starts over with `prompt` (`1 ≤ len ≤ T`) and returns the logits after its last
    /// token.
    ///
    /// A prompt of the wrong length or with an id `≥ V` is refused before anything
    /// changes. An error in a step ([`step`](Self::step)'s) leaves the positions before
    /// it decoded and no logits.
    pub fn prefill<'m>(
        &mut self,
        model: impl Into<AttentionWeights<'m, V, T, D, DK>>,
        prompt: &[u16],
    ) -> Result<&[f32; V]> {
        AttentionLm::<V, T, D, DK>::check_tokens(prompt, 1)?;
        sample::prefill(self, model.into(), prompt)?;
        Ok(&self.logits)
    }

    /// Chooses a token from the current logits ([`sample::sample`]);
    /// [`Error::NoLogits`] if there are none (see [`logits`](Self::logits)), with
    /// nothing changed.
    pub fn sample<R: RngCore + ?Sized>(&mut self, sampling: Sampling, rng: &mut R) -> Result<u16> {
        if !self.ready {
            return Err(Error::NoLogits {
                what: "decoder sample",
            });
        }
        sample::sample(&self.logits, sampling, &mut self.probs, rng)
    }

    /// Prefills `prompt`, then samples up to `out.len()` tokens into `out`, feeding
    /// each back in. Stops early when the `T` positions are used up; returns how many
    /// tokens were written.
    ///
    /// Invalid sampling settings and a refused prompt change nothing; otherwise errors
    /// are [`prefill`](Self::prefill)'s, [`sample`](Self::sample)'s and
    /// [`step`](Self::step)'s, and `out` then holds the tokens chosen before the error.
    // Out of line: its sampling scratch need not sit in a caller's frame.
    #[inline(never)]
    pub fn generate<'m, R: RngCore + ?Sized>(
        &mut self,
        model: impl Into<AttentionWeights<'m, V, T, D, DK>>,
        prompt: &[u16],
        out: &mut [u16],
        sampling: Sampling,
        rng: &mut R,
    ) -> Result<usize> {
        AttentionLm::<V, T, D, DK>::check_tokens(prompt, 1)?;
        sample::generate(self, model.into(), prompt, out, (sampling, rng))
    }
}

impl<'m, const V: usize, const T: usize, const D: usize, const DK: usize>
    sample::Decode<AttentionWeights<'m, V, T, D, DK>> for Decoder<V, T, D, DK>
{
    const CONTEXT: usize = T;
    const VOCAB: usize = V;
    fn reset(&mut self) {
        self.reset();
    }
    fn decoded(&self) -> usize {
        self.len
    }
    fn advance(&mut self, model: AttentionWeights<'m, V, T, D, DK>, token: u16) -> Result<()> {
        self.step(model, token).map(|_| ())
    }
    fn choose<R: RngCore + ?Sized>(&mut self, sampling: Sampling, rng: &mut R) -> Result<u16> {
        self.sample(sampling, rng)
    }
}

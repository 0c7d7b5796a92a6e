//! Incremental decoding with a KV cache per layer: each step is the layers'
//! one-position steps.

use rand_core::RngCore;

use crate::error::{Error, Result, check_index, check_len_range};
use crate::kernels::Accum;
use crate::nn::KvCache;
use crate::sample::{self, Sampling};
use crate::tensor::Matrix;

use super::model::{Gpt, GptWeights};

/// Generation state for a [`Gpt<V, T, D, N, F, L>`](Gpt): each layer's keys and values
/// of every position so far (the KV cache) and one position's activations.
///
/// The model is anything that converts into [`GptWeights`]: `&Gpt`, or weights
/// borrowed in place from a safetensors file. Each [`step`](Self::step) gives the same
/// logits as [`Gpt::forward_logits`] on the prefix so far (up to rounding), for
/// `O(L·(t·D + D·(3D + D + 2F)) + D·V)` work at position `t`.
///
/// ```
/// use edgegrad::gpt::{Gpt, GptDecoder, Sampling};
/// use rand_core::SeedableRng;
/// type Tiny = Gpt<10, 8, 8, 2, 16, 2>;
/// let mut model = Box::new(Tiny::ZERO);
/// let mut rng = rand_pcg::Pcg32::seed_from_u64(5);
/// model.init(&mut rng);
/// let mut dec = Box::new(GptDecoder::ZERO);
/// let mut out = [0_u16; 5];
/// let n = dec.generate(&*model, &[1, 2], &mut out, Sampling::TopK { k: 3, temperature: 0.8 }, &mut rng)?;
/// assert_eq!(n, 5);
/// assert!(out.iter().all(|&t| t < 10));
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Debug)]
pub struct GptDecoder<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
> {
    keys: [Matrix<T, D>; L],
    values: [Matrix<T, D>; L],
    len: usize,
    /// The residual stream at the new position.
    x: [f32; D],
    /// A LayerNorm's output.
    a: [f32; D],
    /// `q | k | v` of the new position.
    qkv: [[f32; D]; 3],
    /// One head's scores over the positions so far.
    scores: [f32; T],
    ctx: [f32; D],
    hidden: [f32; F],
    logits: [f32; V],
    probs: [f32; V],
    /// Whether `logits` are the last successful step's (not those of a fresh, reset,
    /// truncated or failed decoder).
    ready: bool,
}

impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    GptDecoder<V, T, D, N, F, L>
{
    /// An empty decoder.
    pub const ZERO: Self = GptDecoder {
        keys: [Matrix::ZERO; L],
        values: [Matrix::ZERO; L],
        len: 0,
        x: [0.0; D],
        a: [0.0; D],
        qkv: [[0.0; D]; 3],
        scores: [0.0; T],
        ctx: [0.0; D],
        hidden: [0.0; F],
        logits: [0.0; V],
        probs: [0.0; V],
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
    /// after it. [`Error::InvalidLength`](crate::Error::InvalidLength) once `T`
    /// positions are used; [`Error::NonFinite`](crate::Error::NonFinite) if a logit
    /// overflows. A token `≥ V` or a full context changes nothing; after any other error
    /// nothing is decoded ([`len`](Self::len) is unchanged), the KV cache's row at that
    /// position (unused until a step succeeds there) may have been overwritten, and
    /// [`logits`](Self::logits) is `None`.
    // Out of line (the layers' steps inlined into it): a caller's frame need not hold
    // its views.
    #[inline(never)]
    pub fn step<'m>(
        &mut self,
        model: impl Into<GptWeights<'m, V, T, D, N, F, L>>,
        token: u16,
    ) -> Result<&[f32; V]> {
        let () = Gpt::<V, T, D, N, F, L>::HEADS_DIVIDE_WIDTH;
        let model = model.into();
        check_index("token id", usize::from(token), V)?;
        let t = self.len;
        check_len_range("decoded positions", t + 1, 1, T)?;
        self.ready = false;
        model.embedding().step(token, t, &mut self.x)?;
        for ((block, keys), values) in model.h.iter().zip(&mut self.keys).zip(&mut self.values) {
            let layers = block.layers(N);
            // x += attention(ln_1(x)), the new key and value appended to the cache.
            layers.ln_1.step(&self.x, &mut self.a)?;
            layers.attn.step(
                &self.a,
                t,
                &mut KvCache {
                    keys: keys.view_mut(),
                    values: values.view_mut(),
                    q: self.qkv.as_flattened_mut(),
                    scores: &mut self.scores,
                    ctx: &mut self.ctx,
                },
                &mut self.x,
                Accum::Add,
            )?;
            // x += mlp(ln_2(x))
            layers.ln_2.step(&self.x, &mut self.a)?;
            layers
                .mlp
                .step(&self.a, &mut self.hidden, &mut self.x, Accum::Add)?;
        }
        model.ln_f().step(&self.x, &mut self.a)?;
        model.embedding().logits_step(&self.a, &mut self.logits)?;
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
        model: impl Into<GptWeights<'m, V, T, D, N, F, L>>,
        prompt: &[u16],
    ) -> Result<&[f32; V]> {
        Gpt::<V, T, D, N, F, L>::check_tokens(prompt, 1)?;
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
        model: impl Into<GptWeights<'m, V, T, D, N, F, L>>,
        prompt: &[u16],
        out: &mut [u16],
        sampling: Sampling,
        rng: &mut R,
    ) -> Result<usize> {
        Gpt::<V, T, D, N, F, L>::check_tokens(prompt, 1)?;
        sample::generate(self, model.into(), prompt, out, (sampling, rng))
    }
}

impl<
    'm,
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
> sample::Decode<GptWeights<'m, V, T, D, N, F, L>> for GptDecoder<V, T, D, N, F, L>
{
    const CONTEXT: usize = T;
    const VOCAB: usize = V;
    fn reset(&mut self) {
        self.reset();
    }
    fn decoded(&self) -> usize {
        self.len
    }
    fn advance(&mut self, model: GptWeights<'m, V, T, D, N, F, L>, token: u16) -> Result<()> {
        self.step(model, token).map(|_| ())
    }
    fn choose<R: RngCore + ?Sized>(&mut self, sampling: Sampling, rng: &mut R) -> Result<u16> {
        self.sample(sampling, rng)
    }
}

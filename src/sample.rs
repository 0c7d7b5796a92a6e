//! Choosing the next token from a logits vector: greedy, with a temperature, or among
//! the `k` most likely — for any model, over a plain slice.

use rand_core::RngCore;

use crate::error::{Error, Result, check_len};
use crate::kernels as k;
use crate::kernels::softmax::checked_max;
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

impl Sampling {
    /// The temperature and the number of candidates over `v` tokens (`None`: greedy),
    /// or [`Error::InvalidParameter`] for a temperature that is not finite and `> 0` or
    /// a `k` outside `1..=v`. Out of line: one copy for sampling and every decoder's
    /// generation.
    #[inline(never)]
    fn settings(self, v: usize) -> Result<Option<(f32, usize)>> {
        let (temperature, top_k) = match self {
            Sampling::Greedy => return Ok(None),
            Sampling::Temperature(t) => (t, v),
            Sampling::TopK { k, temperature } => (temperature, k),
        };
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(Error::InvalidParameter {
                what: "sampling temperature",
                expected: "a finite temperature > 0",
            });
        }
        if top_k == 0 || top_k > v {
            return Err(Error::InvalidParameter {
                what: "sampling top-k",
                expected: "1 <= k <= V",
            });
        }
        Ok(Some((temperature, top_k)))
    }
}

/// A token id drawn from `logits` (`V ≤ 65 536` of them) as `sampling` says, with
/// `probs` (`V` long) as scratch for the probabilities. Greedy choice draws nothing
/// from `rng`; the others draw one `u32`.
///
/// NaN or `+inf` logits are [`Error::NonFinite`]; logits that are all `-inf` (every
/// token masked), a temperature that is not finite and positive, or `k` outside
/// `1..=V`, are [`Error::InvalidParameter`]. The logits are
/// shifted by their maximum before dividing by the temperature, so that a tiny
/// temperature cannot overflow. Every error is found before `probs` is written or
/// `rng` drawn from.
///
/// ```
/// use edgegrad::sample::{sample, Sampling};
/// use rand_core::SeedableRng;
/// let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
/// let logits = [0.0, 3.0, 1.0, 2.5];
/// let mut probs = [0.0; 4];
/// assert_eq!(sample(&logits, Sampling::Greedy, &mut probs, &mut rng)?, 1);
/// let t = sample(&logits, Sampling::TopK { k: 2, temperature: 1.0 }, &mut probs, &mut rng)?;
/// assert!(t == 1 || t == 3);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn sample<R: RngCore + ?Sized>(
    logits: &[f32],
    sampling: Sampling,
    probs: &mut [f32],
    rng: &mut R,
) -> Result<u16> {
    let v = logits.len();
    if v == 0 || v - 1 > usize::from(u16::MAX) {
        return Err(Error::InvalidLength {
            what: "sampling logits",
            found: v,
            min: 1,
            max: usize::from(u16::MAX) + 1,
        });
    }
    check_len("sampling probabilities", v, probs.len())?;
    let max = checked_max("sampling logits", logits)?;
    if max == f32::NEG_INFINITY {
        // Every token masked: there is nothing to choose.
        return Err(Error::InvalidParameter {
            what: "sampling logits",
            expected: "at least one logit above -inf",
        });
    }
    let Some((temperature, top_k)) = sampling.settings(v)? else {
        let best = (0..v).fold(0, |b, i| if logits[i] > logits[b] { i } else { b });
        return Ok(best as u16);
    };
    // The best token gets 0, the others ≤ 0 (possibly -inf).
    let scaled = |l: f32| (l - max) / temperature;
    for (p, &l) in probs.iter_mut().zip(logits) {
        *p = scaled(l);
    }
    if top_k < v {
        // The k-th largest scaled logit, found in `probs` (which it reorders), then the
        // scaled logits again with everything below it masked.
        let (_, kth, _) = probs.select_nth_unstable_by(v - top_k, |a, b| a.total_cmp(b));
        let threshold = *kth;
        for (p, &l) in probs.iter_mut().zip(logits) {
            let s = scaled(l);
            *p = if s < threshold { f32::NEG_INFINITY } else { s };
        }
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

/// What the generation loop needs of an incremental decoder (a model's KV-cache
/// state): the decoders of [`crate::attention`] and [`crate::gpt`] share
/// [`prefill`] and [`generate`] through it.
#[cfg_attr(not(any(feature = "attention", feature = "gpt")), allow(dead_code))]
pub(crate) trait Decode<M: Copy> {
    /// Positions the decoder holds (the model's context `T`).
    const CONTEXT: usize;
    /// The number of token ids, `V`.
    const VOCAB: usize;
    /// Forgets every position.
    fn reset(&mut self);
    /// Positions decoded so far.
    fn decoded(&self) -> usize;
    /// Appends `token` at the next position, computing the logits after it.
    fn advance(&mut self, model: M, token: u16) -> Result<()>;
    /// Chooses a token from the current logits.
    fn choose<R: RngCore + ?Sized>(&mut self, sampling: Sampling, rng: &mut R) -> Result<u16>;
}

/// Starts `dec` over with `prompt` (ids already checked by the caller).
#[cfg_attr(not(any(feature = "attention", feature = "gpt")), allow(dead_code))]
pub(crate) fn prefill<M: Copy, Dec: Decode<M>>(
    dec: &mut Dec,
    model: M,
    prompt: &[u16],
) -> Result<()> {
    dec.reset();
    for &t in prompt {
        dec.advance(model, t)?;
    }
    Ok(())
}

/// Prefills `prompt`, then samples up to `out.len()` tokens into `out`, feeding each
/// back in; stops early when the context is used up. Returns how many were written.
#[cfg_attr(not(any(feature = "attention", feature = "gpt")), allow(dead_code))]
pub(crate) fn generate<M: Copy, Dec: Decode<M>, R: RngCore + ?Sized>(
    dec: &mut Dec,
    model: M,
    prompt: &[u16],
    out: &mut [u16],
    (sampling, rng): (Sampling, &mut R),
) -> Result<usize> {
    // Settings that would fail at the first token fail before the prefill.
    sampling.settings(Dec::VOCAB)?;
    prefill(dec, model, prompt)?;
    for (n, slot) in out.iter_mut().enumerate() {
        let token = dec.choose(sampling, rng)?;
        *slot = token;
        if dec.decoded() == Dec::CONTEXT {
            return Ok(n + 1);
        }
        dec.advance(model, token)?;
    }
    Ok(out.len())
}

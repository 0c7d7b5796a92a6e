//! Training as in the original word2vec: skip-gram or CBOW, full softmax or negative
//! sampling, random window shrink, sub-sampling of frequent words, a linearly decaying
//! learning rate — each example's update a composition of the kernels.

use rand_core::RngCore;

use crate::error::{Error, Result, check_index};
use crate::kernels::{self as k, Accum, MatRef, Trans};
use crate::random::{below, uniform01};
use crate::simd::{self, splat};
use crate::vocab::UNK;

use super::model::Word2Vec;

/// Which word predicts which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    /// The centre word's vector predicts each context word.
    SkipGram,
    /// The mean of the context words' vectors predicts the centre word.
    Cbow,
}

/// The loss each prediction is trained with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// Full softmax over the vocabulary: `−ln softmax(output·h)[target]`; exact, costs
    /// `O(V·D)` per prediction.
    Softmax,
    /// Negative sampling with `k` noise words (`1 ≤ k ≤` [`MAX_NEGATIVES`]) drawn from the
    /// unigram distribution raised to 0.75:
    /// `−ln σ(out[target]·h) − Σᵢ ln σ(−out[nᵢ]·h)`.
    NegativeSampling(usize),
}

/// The largest number of noise words per prediction.
pub const MAX_NEGATIVES: usize = 32;

/// The default longest sentence (word2vec.c's limit): a trainer's `S` parameter; longer
/// sentences are trained in pieces of `S` words.
pub const MAX_SENTENCE: usize = 1000;

/// Training settings; [`Default`] gives word2vec.c's defaults for CBOW with negative
/// sampling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Word2VecConfig {
    /// Skip-gram or CBOW.
    pub architecture: Architecture,
    /// Softmax or negative sampling.
    pub objective: Objective,
    /// Maximal distance between centre and context word; each centre word uses a
    /// window shrunk at random to `window − b`, `b` uniform in `0..window`.
    pub window: usize,
    /// Sub-sampling threshold `t`: a word of relative frequency `f` is kept with
    /// probability `√(t/f) + t/f`. `0` keeps every word.
    pub sample: f32,
    /// Starting learning rate; it decays linearly to `1e-4` of itself over the
    /// expected number of words.
    pub lr: f32,
}

impl Default for Word2VecConfig {
    fn default() -> Self {
        Word2VecConfig {
            architecture: Architecture::Cbow,
            objective: Objective::NegativeSampling(5),
            window: 5,
            sample: 1e-3,
            lr: 0.05,
        }
    }
}

/// What a call to [`Word2VecTrainer::train_sentence`] (or more) did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrainStats {
    /// Sum of the losses of every prediction.
    pub loss: f64,
    /// Number of predictions (centre–context pairs for skip-gram, windows for CBOW).
    pub predictions: u64,
    /// Words read, before sub-sampling.
    pub words: u64,
    /// Words trained on, after sub-sampling (and without unknown words): the
    /// "effective words" of gensim's reports.
    pub effective_words: u64,
    /// Learning rate at the end.
    pub lr: f32,
}

impl TrainStats {
    /// Mean loss per prediction.
    pub fn mean_loss(&self) -> f64 {
        if self.predictions == 0 {
            0.0
        } else {
            self.loss / self.predictions as f64
        }
    }

    /// Adds the counts of `other` (the learning rate is taken from `other`).
    pub fn merge(&mut self, other: &TrainStats) {
        self.loss += other.loss;
        self.predictions += other.predictions;
        self.words += other.words;
        self.effective_words += other.effective_words;
        self.lr = other.lr;
    }
}

/// Training state for a [`Word2Vec<V, D>`]: the noise table of `TABLE` entries, the
/// sub-sampling probabilities, the learning-rate schedule, a buffer for a sentence of up
/// to `S` words (default [`MAX_SENTENCE`]; small devices choose less) and the scratch of
/// one prediction. Fixed size, no heap; `ZERO` is a valid `static`.
#[derive(Debug)]
pub struct Word2VecTrainer<
    const V: usize,
    const D: usize,
    const TABLE: usize,
    const S: usize = MAX_SENTENCE,
> {
    config: Word2VecConfig,
    /// Word ids repeated in proportion to `count^0.75`.
    table: [u16; TABLE],
    /// Probability of keeping each word (sub-sampling).
    keep: [f32; V],
    expected_words: u64,
    words_done: u64,
    sentence: [u16; S],
    negatives: [u16; MAX_NEGATIVES],
    h: [f32; D],
    neu1e: [f32; D],
    logits: [f32; V],
    grad: [f32; V],
}

impl<const V: usize, const D: usize, const TABLE: usize, const S: usize>
    Word2VecTrainer<V, D, TABLE, S>
{
    /// An unconfigured trainer (call [`init`](Self::init)).
    pub const ZERO: Self = Word2VecTrainer {
        config: Word2VecConfig {
            architecture: Architecture::Cbow,
            objective: Objective::NegativeSampling(5),
            window: 5,
            sample: 0.0,
            lr: 0.0,
        },
        table: [0; TABLE],
        keep: [0.0; V],
        expected_words: 0,
        words_done: 0,
        sentence: [0; S],
        negatives: [0; MAX_NEGATIVES],
        h: [0.0; D],
        neu1e: [0.0; D],
        logits: [0.0; V],
        grad: [0.0; V],
    };

    /// Bytes this struct takes.
    pub const BYTES: usize = core::mem::size_of::<Self>();

    /// Prepares training with `config` from the vocabulary's `counts` (index = word id,
    /// at most `V` long; id [`UNK`] is never trained or sampled) for `expected_words`
    /// words in all (words per epoch × epochs), which sets the learning-rate decay.
    pub fn init(
        &mut self,
        config: Word2VecConfig,
        counts: &[u64],
        expected_words: u64,
    ) -> Result<()> {
        if S == 0 {
            return Err(Error::InvalidParameter {
                what: "word2vec trainer S",
                expected: "a sentence buffer of at least one word",
            });
        }
        if TABLE == 0 && matches!(config.objective, Objective::NegativeSampling(_)) {
            return Err(Error::InvalidParameter {
                what: "word2vec trainer TABLE",
                expected: "a noise table of at least one entry",
            });
        }
        if counts.len() > V {
            return Err(Error::LengthMismatch {
                what: "word2vec counts (at most V)",
                expected: V,
                found: counts.len(),
            });
        }
        if let Objective::NegativeSampling(n) = config.objective
            && !(1..=MAX_NEGATIVES).contains(&n)
        {
            return Err(Error::InvalidParameter {
                what: "word2vec negatives",
                expected: "1 <= k <= MAX_NEGATIVES",
            });
        }
        if !(1..=MAX_WINDOW).contains(&config.window) {
            return Err(Error::InvalidParameter {
                what: "word2vec window",
                expected: "1 <= window <= MAX_WINDOW",
            });
        }
        let valid_lr = config.lr > 0.0 && config.lr.is_finite();
        let valid_sample = config.sample >= 0.0 && config.sample.is_finite();
        if !valid_lr || !valid_sample {
            return Err(Error::InvalidParameter {
                what: "word2vec lr/sample",
                expected: "lr > 0 and sample >= 0",
            });
        }
        let trained = |id: usize| id != usize::from(UNK) && counts[id] > 0;
        let total: u64 = (0..counts.len())
            .filter(|&i| trained(i))
            .map(|i| counts[i])
            .sum();
        if total == 0 {
            return Err(Error::InvalidParameter {
                what: "word2vec counts",
                expected: "at least one counted word besides UNK",
            });
        }
        self.config = config;
        self.expected_words = expected_words.max(1);
        self.words_done = 0;
        // Sub-sampling: keep with probability √(t/f) + t/f, f the relative frequency.
        self.keep = [0.0; V];
        for (id, keep) in self.keep.iter_mut().enumerate().take(counts.len()) {
            if trained(id) {
                let f = counts[id] as f64 / total as f64;
                let t = f64::from(config.sample);
                *keep = if t == 0.0 {
                    1.0
                } else {
                    (libm::sqrt(t / f) + t / f).min(1.0) as f32
                };
            }
        }
        // Noise table: id i fills a share count_i^0.75 / Σ count^0.75 of the slots.
        let weight = |id: usize| {
            if trained(id) {
                libm::pow(counts[id] as f64, 0.75)
            } else {
                0.0
            }
        };
        let norm: f64 = (0..counts.len()).map(weight).sum();
        let mut id = 0;
        let mut share = weight(0) / norm;
        let mut cumulative = 0.0;
        for (slot, entry) in self.table.iter_mut().enumerate() {
            let position = (slot as f64 + 0.5) / TABLE as f64;
            while id + 1 < counts.len() && (share == 0.0 || cumulative + share < position) {
                cumulative += share;
                id += 1;
                share = weight(id) / norm;
            }
            *entry = id as u16;
        }
        Ok(())
    }

    /// The learning rate now: `lr·max(1e-4, 1 − words done / words expected)`.
    pub fn learning_rate(&self) -> f32 {
        let progress = self.words_done as f64 / self.expected_words as f64;
        self.config.lr * (1.0 - progress).max(1e-4) as f32
    }

    /// Trains on one sentence of word ids (each `< V`): sub-sampling, then for each
    /// kept centre word a window shrunk at random, then one prediction per context word
    /// (skip-gram) or per window (CBOW). Ids equal to [`UNK`] are dropped. Sentences
    /// longer than `S` words are trained in pieces.
    pub fn train_sentence<R: RngCore + ?Sized>(
        &mut self,
        model: &mut Word2Vec<V, D>,
        sentence: &[u16],
        rng: &mut R,
    ) -> Result<TrainStats> {
        for &w in sentence {
            check_index("word id", usize::from(w), V)?;
        }
        let mut stats = TrainStats::default();
        if S == 0 {
            return Err(Error::InvalidParameter {
                what: "word2vec trainer S",
                expected: "a sentence buffer of at least one word",
            });
        }
        for piece in sentence.chunks(S) {
            self.train_piece(model, piece, rng, &mut stats)?;
        }
        stats.lr = self.learning_rate();
        Ok(stats)
    }

    fn train_piece<R: RngCore + ?Sized>(
        &mut self,
        model: &mut Word2Vec<V, D>,
        piece: &[u16],
        rng: &mut R,
        stats: &mut TrainStats,
    ) -> Result<()> {
        let lr = self.learning_rate();
        let mut n = 0;
        for &w in piece {
            let keep = self.keep[usize::from(w)];
            if keep > 0.0 && (keep >= 1.0 || keep > uniform01(rng)) {
                self.sentence[n] = w;
                n += 1;
            }
        }
        self.words_done += piece.len() as u64;
        stats.words += piece.len() as u64;
        stats.effective_words += n as u64;
        let window = self.config.window;
        let mut context = [0_u16; 2 * MAX_WINDOW];
        for i in 0..n {
            let reach = window - below(rng, window);
            let lo = i.saturating_sub(reach);
            let hi = (i + reach).min(n - 1);
            let centre = self.sentence[i];
            match self.config.architecture {
                Architecture::SkipGram => {
                    for j in (lo..=hi).filter(|&j| j != i) {
                        let target = self.sentence[j];
                        let negatives = self.draw_negatives(rng);
                        stats.loss +=
                            f64::from(self.step_with(model, &[centre], target, negatives, lr)?);
                        stats.predictions += 1;
                    }
                }
                Architecture::Cbow => {
                    let mut c = 0;
                    for j in (lo..=hi).filter(|&j| j != i) {
                        if c < context.len() {
                            context[c] = self.sentence[j];
                            c += 1;
                        }
                    }
                    if c == 0 {
                        continue;
                    }
                    let negatives = self.draw_negatives(rng);
                    stats.loss +=
                        f64::from(self.step_with(model, &context[..c], centre, negatives, lr)?);
                    stats.predictions += 1;
                }
            }
        }
        Ok(())
    }

    /// Draws the noise words for one prediction into the scratch; returns how many. (A
    /// draw equal to the target is skipped by [`step`](Self::step), as in word2vec.)
    fn draw_negatives<R: RngCore + ?Sized>(&mut self, rng: &mut R) -> usize {
        let Objective::NegativeSampling(count) = self.config.objective else {
            return 0;
        };
        for slot in &mut self.negatives[..count] {
            *slot = self.table[below(rng, TABLE)];
        }
        count
    }

    fn step_with(
        &mut self,
        model: &mut Word2Vec<V, D>,
        inputs: &[u16],
        target: u16,
        negatives: usize,
        lr: f32,
    ) -> Result<f32> {
        let negs = self.negatives;
        self.step(model, inputs, target, &negs[..negatives], lr)
    }

    /// One prediction and its SGD update, the building block of training (public so
    /// that it can be tested and used with custom sampling):
    ///
    /// - `h` = the mean of the input vectors of `inputs` (one id for skip-gram, the
    ///   context for CBOW);
    /// - the loss of predicting `target` from `h` with the configured objective
    ///   ([`Objective::NegativeSampling`] uses `negatives`, skipping entries equal to
    ///   `target` or [`UNK`]; [`Objective::Softmax`] ignores them);
    /// - `output ← output − lr·∂loss/∂output` and, for every id in `inputs`,
    ///   `input[id] ← input[id] − lr·∂loss/∂h`.
    ///
    /// For skip-gram this is exactly an SGD step on the loss. For CBOW, as in word2vec,
    /// each context vector receives the full `∂loss/∂h` rather than the exact
    /// `∂loss/∂h / |inputs|`. With negative sampling, output vectors are updated one
    /// noise word at a time, so a noise word drawn twice sees its first update (as in
    /// word2vec). Returns the loss before the update.
    pub fn step(
        &mut self,
        model: &mut Word2Vec<V, D>,
        inputs: &[u16],
        target: u16,
        negatives: &[u16],
        lr: f32,
    ) -> Result<f32> {
        check_index("word2vec target", usize::from(target), V)?;
        if inputs.is_empty() {
            return Err(Error::InvalidLength {
                what: "word2vec inputs",
                found: 0,
                min: 1,
                max: 2 * MAX_WINDOW,
            });
        }
        for &i in inputs.iter().chain(negatives) {
            check_index("word id", usize::from(i), V)?;
        }
        // h = mean of the input rows
        self.h
            .copy_from_slice(model.input.row(usize::from(inputs[0])));
        for &i in &inputs[1..] {
            k::add_assign(&mut self.h, model.input.row(usize::from(i)))?;
        }
        if inputs.len() > 1 {
            k::scale(1.0 / inputs.len() as f32, &mut self.h);
        }
        let loss = match self.config.objective {
            Objective::NegativeSampling(_) => {
                self.neu1e = [0.0; D];
                let mut loss = 0.0;
                let examples =
                    core::iter::once((target, true)).chain(negatives.iter().map(|&n| (n, false)));
                for (word, positive) in examples {
                    if !positive && (word == target || word == UNK) {
                        continue;
                    }
                    let out = model.output.row_mut(usize::from(word));
                    let (l, g) = k::logistic_loss(k::dot(&self.h, out)?, positive)?;
                    loss += l;
                    // ∂loss/∂h += g·out (with out before its update), then out -= lr·g·h:
                    // two axpys fused into one pass over the D elements.
                    let (gv, step) = (splat(g), splat(-lr * g));
                    simd::update([&mut self.neu1e[..], out], [&self.h[..]], |[e, o], [h]| {
                        [o.mul_add(gv, e), h.mul_add(step, o)]
                    });
                }
                loss
            }
            Objective::Softmax => {
                k::matvec(
                    model.output.view(),
                    &self.h,
                    &mut self.logits,
                    Accum::Overwrite,
                )?;
                let loss = k::cross_entropy(&self.logits, usize::from(target), &mut self.grad)?;
                // ∂loss/∂h = outputᵀ·grad, ∂loss/∂output = grad ⊗ h
                k::vecmat(
                    &self.grad,
                    model.output.view(),
                    &mut self.neu1e,
                    Accum::Overwrite,
                )?;
                let grad = MatRef::new(&self.grad, 1, V)?;
                let h = MatRef::new(&self.h, 1, D)?;
                k::gemm(
                    -lr,
                    grad,
                    Trans::T,
                    h,
                    Trans::N,
                    1.0,
                    model.output.view_mut(),
                )?;
                loss
            }
        };
        for &i in inputs {
            k::axpy(-lr, &self.neu1e, model.input.row_mut(usize::from(i)))?;
        }
        Ok(loss)
    }
}

/// The largest window (context words on each side) a trainer supports.
pub const MAX_WINDOW: usize = 32;

//! Training as in the original word2vec: skip-gram or CBOW, full softmax or negative
//! sampling, random window shrink, sub-sampling of frequent words, a linearly decaying
//! learning rate — each example's update a composition of the kernels.

use core::cell::Cell;

use rand_core::RngCore;

use crate::error::{Error, Result, check_index, check_len_range};
use crate::kernels::loss::logistic_lanes;
use crate::kernels::{self as k, Accum};
use crate::random::{below, uniform01};
use crate::simd::{self, LANES, splat};
use crate::vocab::UNK;

use super::model::Word2Vec;

/// Which word predicts which.
///
/// ```
/// use edgegrad::word2vec::{Architecture, Word2VecConfig};
/// let config = Word2VecConfig { architecture: Architecture::SkipGram, ..Word2VecConfig::default() };
/// assert_eq!(Word2VecConfig::default().architecture, Architecture::Cbow);
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    /// The centre word's vector predicts each context word.
    SkipGram,
    /// The mean of the context words' vectors predicts the centre word.
    Cbow,
}

/// The loss each prediction is trained with.
///
/// ```
/// use edgegrad::word2vec::{Objective, Word2VecConfig};
/// assert_eq!(Word2VecConfig::default().objective, Objective::NegativeSampling(5));
/// ```
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
///
/// ```
/// use edgegrad::word2vec::{MAX_NEGATIVES, Objective, Word2VecConfig, Word2VecTrainer};
/// let too_many = Word2VecConfig {
///     objective: Objective::NegativeSampling(MAX_NEGATIVES + 1),
///     ..Word2VecConfig::default()
/// };
/// assert!(Word2VecTrainer::<4, 2, 16>::ZERO.init(too_many, &[0, 1], 1).is_err());
/// ```
pub const MAX_NEGATIVES: usize = 32;

/// The default longest sentence (word2vec.c's limit): a trainer's `S` parameter; longer
/// sentences are trained in pieces of `S` words.
///
/// ```
/// use edgegrad::word2vec::{MAX_SENTENCE, Word2VecTrainer};
/// // The default S, and a trainer for short sentences.
/// assert!(Word2VecTrainer::<4, 2, 16>::BYTES > Word2VecTrainer::<4, 2, 16, 64>::BYTES);
/// assert_eq!(MAX_SENTENCE, 1000);
/// ```
pub const MAX_SENTENCE: usize = 1000;

/// The largest window (context words on each side) a trainer supports.
///
/// ```
/// use edgegrad::word2vec::{MAX_WINDOW, Word2VecConfig, Word2VecTrainer};
/// let wide = Word2VecConfig { window: MAX_WINDOW + 1, ..Word2VecConfig::default() };
/// assert!(Word2VecTrainer::<4, 2, 16>::ZERO.init(wide, &[0, 1], 1).is_err());
/// ```
pub const MAX_WINDOW: usize = 32;

/// The largest learning rate a trainer accepts (word2vec uses 0.025 for skip-gram and
/// 0.05 for CBOW; a step of more than 1 overshoots, since every gradient coefficient is
/// at most 1 in magnitude).
///
/// ```
/// use edgegrad::word2vec::{MAX_LEARNING_RATE, Word2VecConfig, Word2VecTrainer};
/// let mut t = Word2VecTrainer::<4, 2, 16>::ZERO;
/// let fast = Word2VecConfig { lr: MAX_LEARNING_RATE, ..Word2VecConfig::default() };
/// assert!(t.init(fast, &[0, 1], 1).is_ok());
/// let faster = Word2VecConfig { lr: 2.0 * MAX_LEARNING_RATE, ..fast };
/// assert!(t.init(faster, &[0, 1], 1).is_err());
/// ```
pub const MAX_LEARNING_RATE: f32 = 1.0;

/// Training settings; [`Default`] gives word2vec.c's defaults for CBOW with negative
/// sampling. [`Word2VecTrainer::init`] checks every field against the range given here
/// and refuses others with [`Error::InvalidParameter`].
///
/// ```
/// use edgegrad::word2vec::{Word2VecConfig, Word2VecTrainer};
/// let mut t = Word2VecTrainer::<4, 2, 16>::ZERO;
/// let bad = Word2VecConfig { lr: f32::NAN, ..Word2VecConfig::default() };
/// assert!(t.init(bad, &[0, 1, 1, 1], 10).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Word2VecConfig {
    /// Skip-gram or CBOW.
    pub architecture: Architecture,
    /// Softmax or negative sampling (`1 ≤ k ≤` [`MAX_NEGATIVES`] noise words).
    pub objective: Objective,
    /// Maximal distance between centre and context word, `1 ≤ window ≤`
    /// [`MAX_WINDOW`]; each centre word uses a window shrunk at random to
    /// `window − b`, `b` uniform in `0..window`.
    pub window: usize,
    /// Sub-sampling threshold `t`, `0 ≤ t ≤ 1`: a word of relative frequency `f` is
    /// kept with probability `√(t/f) + t/f`. `0` keeps every word.
    pub sample: f32,
    /// Starting learning rate, `0 < lr ≤` [`MAX_LEARNING_RATE`]; it decays linearly to
    /// `1e-4` of itself over the expected number of words.
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
///
/// ```
/// use edgegrad::word2vec::TrainStats;
/// let mut total = TrainStats::default();
/// total.merge(&TrainStats { loss: 6.0, predictions: 3, lr: 0.01, ..TrainStats::default() });
/// assert_eq!((total.mean_loss(), total.lr), (2.0, 0.01));
/// ```
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
    /// Mean loss per prediction (0 without predictions). Cannot fail; finite when
    /// `loss` is (a trainer's statistics always are).
    ///
    /// ```
    /// assert_eq!(edgegrad::word2vec::TrainStats::default().mean_loss(), 0.0);
    /// ```
    pub fn mean_loss(&self) -> f64 {
        if self.predictions == 0 {
            0.0
        } else {
            self.loss / self.predictions as f64
        }
    }

    /// Adds the counts of `other` (saturating at `u64::MAX`; the learning rate is taken
    /// from `other`). Cannot fail.
    ///
    /// ```
    /// use edgegrad::word2vec::TrainStats;
    /// let mut a = TrainStats { words: u64::MAX, ..TrainStats::default() };
    /// a.merge(&TrainStats { words: 1, ..TrainStats::default() });
    /// assert_eq!(a.words, u64::MAX);
    /// ```
    pub fn merge(&mut self, other: &TrainStats) {
        self.loss += other.loss;
        self.predictions = self.predictions.saturating_add(other.predictions);
        self.words = self.words.saturating_add(other.words);
        self.effective_words = self.effective_words.saturating_add(other.effective_words);
        self.lr = other.lr;
    }
}

/// `y ← c·x + y`, element by element with one fused multiply-add: the one update of
/// every row, so that [`update_is_finite`] predicts its result bit for bit.
#[inline]
fn apply_update(c: f32, x: &[f32], y: &mut [f32]) {
    let c = splat(c);
    simd::update([y], [x], |[y], [x]| [x.mul_add(c, y)]);
}

/// Whether every value [`apply_update`] would write is finite (computed the same way,
/// without writing): `0·v` is ±0 for a finite `v` and NaN otherwise.
#[inline]
fn update_is_finite(c: f32, x: &[f32], y: &[f32]) -> bool {
    let c = splat(c);
    let flag = simd::hsum(simd::fold([x, y], [0.0, 0.0], splat(0.0), |acc, [x, y]| {
        acc + x.mul_add(c, y) * 0.0
    }));
    flag == 0.0
}

/// `e ← g·out + e` (accumulating `∂loss/∂h`), and whether every value
/// [`apply_update`]`(c, h, out)` would write is finite, in one pass over the row.
#[inline]
fn accumulate_and_check(e: &mut [f32], out: &[f32], h: &[f32], g: f32, c: f32) -> bool {
    let (g, c) = (splat(g), splat(c));
    let flag = Cell::new(splat(0.0));
    simd::update([e], [out, h], |[e], [o, h]| {
        flag.set(flag.get() + h.mul_add(c, o) * 0.0);
        [o.mul_add(g, e)]
    });
    simd::hsum(flag.get()) == 0.0
}

/// A non-finite value met while computing a step (before anything was written).
fn non_finite(what: &'static str, index: usize) -> Error {
    Error::NonFinite { what, index }
}

/// Training state for a [`Word2Vec<V, D>`]: the noise table of `TABLE` entries, the
/// sub-sampling probabilities, the learning-rate schedule, a buffer for a sentence of up
/// to `S` words (default [`MAX_SENTENCE`]; small devices choose less) and the scratch of
/// one prediction. Fixed size, no heap; `ZERO` is a valid `static`. `V ≤ 65 536`, since
/// ids (and the noise table's entries) are `u16`: larger trainers do not compile.
///
/// Every method checks its inputs before writing. [`step`](Self::step) is atomic: an
/// `Err` leaves the model bit-identical. [`train_sentence`](Self::train_sentence)
/// runs many steps: an `Err` from one of them keeps the steps before it (see there).
/// No `Ok` leaves a NaN or an infinity in the model, or returns one.
///
/// ```compile_fail
/// let t = edgegrad::word2vec::Word2VecTrainer::<65_537, 1, 1, 1>::ZERO;
/// ```
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
    /// Words expected in all; 0 until [`init`](Self::init).
    expected_words: u64,
    words_done: u64,
    sentence: [u16; S],
    negatives: [u16; MAX_NEGATIVES],
    /// On hosts, the noise words of the next prediction (read from the table one
    /// prediction ahead, their output rows prefetched) and the table slots of the one
    /// after (drawn two ahead, their entries prefetched): the table and the output
    /// table are megabytes, read at random. Microcontrollers (four lanes) have neither
    /// caches to fill nor RAM to spare, and draw each prediction's words when it runs.
    #[cfg(not(edgegrad_lanes = "4"))]
    next_negatives: [u16; MAX_NEGATIVES],
    #[cfg(not(edgegrad_lanes = "4"))]
    next_slots: [u32; MAX_NEGATIVES],
    /// How many noise words the pipeline holds (0: not filled yet).
    #[cfg(not(edgegrad_lanes = "4"))]
    pipelined: usize,
    /// The output rows a negative-sampling step updates (target, then distinct noise
    /// words) and the gradient coefficient of each (times its multiplicity).
    out_ids: [u16; MAX_NEGATIVES + 1],
    out_g: [f32; MAX_NEGATIVES + 1],
    h: [f32; D],
    neu1e: [f32; D],
    logits: [f32; V],
    grad: [f32; V],
}

impl<const V: usize, const D: usize, const TABLE: usize, const S: usize>
    Word2VecTrainer<V, D, TABLE, S>
{
    /// An unconfigured trainer (call [`init`](Self::init); until then, training is
    /// refused).
    ///
    /// ```
    /// use edgegrad::word2vec::Word2VecTrainer;
    /// static mut TRAINER: Word2VecTrainer<1000, 64, 100_000> = Word2VecTrainer::ZERO;
    /// assert_eq!(Word2VecTrainer::<4, 2, 16>::ZERO.learning_rate(), 0.0);
    /// ```
    pub const ZERO: Self = {
        let () = Word2Vec::<V, D>::IDS_FIT_U16;
        Word2VecTrainer {
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
            #[cfg(not(edgegrad_lanes = "4"))]
            next_negatives: [0; MAX_NEGATIVES],
            #[cfg(not(edgegrad_lanes = "4"))]
            next_slots: [0; MAX_NEGATIVES],
            #[cfg(not(edgegrad_lanes = "4"))]
            pipelined: 0,
            out_ids: [0; MAX_NEGATIVES + 1],
            out_g: [0.0; MAX_NEGATIVES + 1],
            h: [0.0; D],
            neu1e: [0.0; D],
            logits: [0.0; V],
            grad: [0.0; V],
        }
    };

    /// Bytes this struct takes.
    ///
    /// ```
    /// use edgegrad::word2vec::Word2VecTrainer;
    /// assert!(Word2VecTrainer::<1000, 64, 100_000, 100>::BYTES > 200_000);
    /// ```
    pub const BYTES: usize = core::mem::size_of::<Self>();

    /// Prepares training with `config` from the vocabulary's `counts` (index = word id,
    /// at most `V` long; id [`UNK`] is never trained or sampled, nor is an id with count
    /// 0 or beyond `counts`) for `expected_words` words in all (words per epoch ×
    /// epochs; 0 counts as 1), which sets the learning-rate decay.
    ///
    /// Errors, with the trainer unchanged:
    /// - [`Error::InvalidParameter`] for a field of `config` outside the range its
    ///   documentation ([`Word2VecConfig`]) gives (a NaN or infinite `lr` or `sample`
    ///   among them), for `S = 0`, for `TABLE = 0` with negative sampling, and for
    ///   counts without a word besides [`UNK`];
    /// - [`Error::LengthMismatch`] for more than `V` counts.
    ///
    /// Counts may be anything up to `u64::MAX`: they are summed in `u128`, and the
    /// noise table holds every counted word in proportion to `count^0.75`.
    ///
    /// ```
    /// use edgegrad::word2vec::{Word2VecConfig, Word2VecTrainer};
    /// let mut t = Word2VecTrainer::<4, 2, 16>::ZERO;
    /// t.init(Word2VecConfig::default(), &[0, u64::MAX, u64::MAX, 1], 100)?;
    /// assert_eq!(t.learning_rate(), 0.05);
    /// assert!(t.init(Word2VecConfig { window: 0, ..Word2VecConfig::default() }, &[0, 1], 1).is_err());
    /// assert!(t.init(Word2VecConfig::default(), &[5, 0], 1).is_err()); // only UNK
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn init(
        &mut self,
        config: Word2VecConfig,
        counts: &[u64],
        expected_words: u64,
    ) -> Result<()> {
        let () = Word2Vec::<V, D>::IDS_FIT_U16;
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
                expected: "1 <= k <= MAX_NEGATIVES (32)",
            });
        }
        if !(1..=MAX_WINDOW).contains(&config.window) {
            return Err(Error::InvalidParameter {
                what: "word2vec window",
                expected: "1 <= window <= MAX_WINDOW (32)",
            });
        }
        // NaN fails every comparison, so these also refuse NaN.
        if !(config.lr > 0.0 && config.lr <= MAX_LEARNING_RATE) {
            return Err(Error::InvalidParameter {
                what: "word2vec lr",
                expected: "0 < lr <= MAX_LEARNING_RATE (1)",
            });
        }
        if !(0.0..=1.0).contains(&config.sample) {
            return Err(Error::InvalidParameter {
                what: "word2vec sample",
                expected: "0 <= sample <= 1",
            });
        }
        let trained = |id: usize| id != usize::from(UNK) && counts[id] > 0;
        let total: u128 = (0..counts.len())
            .filter(|&i| trained(i))
            .map(|i| u128::from(counts[i]))
            .sum();
        let (Some(first), Some(last)) = (
            (0..counts.len()).find(|&i| trained(i)),
            (0..counts.len()).rev().find(|&i| trained(i)),
        ) else {
            return Err(Error::InvalidParameter {
                what: "word2vec counts",
                expected: "at least one counted word besides UNK",
            });
        };
        self.config = config;
        self.expected_words = expected_words.max(1);
        self.words_done = 0;
        #[cfg(not(edgegrad_lanes = "4"))]
        {
            self.pipelined = 0;
        }
        // Sub-sampling: keep with probability √(t/f) + t/f, f the relative frequency.
        self.keep.fill(0.0);
        let t = f64::from(config.sample);
        for (id, keep) in self.keep.iter_mut().enumerate().take(counts.len()) {
            if trained(id) {
                let f = counts[id] as f64 / total as f64;
                *keep = if t == 0.0 {
                    1.0
                } else {
                    (libm::sqrt(t / f) + t / f).min(1.0) as f32
                };
            }
        }
        // Noise table: id i fills a share count_i^0.75 / Σ count^0.75 of the slots; only
        // counted ids (from `first` to `last`) are ever entered.
        let weight = |id: usize| {
            if trained(id) {
                libm::pow(counts[id] as f64, 0.75)
            } else {
                0.0
            }
        };
        let norm: f64 = (0..counts.len()).map(weight).sum();
        let mut id = first;
        let mut cumulative = weight(id) / norm;
        for (slot, entry) in self.table.iter_mut().enumerate() {
            let position = (slot as f64 + 0.5) / TABLE as f64;
            while cumulative < position && id < last {
                id += 1;
                cumulative += weight(id) / norm;
            }
            // id < counts.len() ≤ V ≤ 65 536: the cast is exact.
            *entry = id as u16;
        }
        Ok(())
    }

    /// The learning rate now: `lr·max(1e-4, 1 − words done / words expected)` (0 before
    /// [`init`](Self::init)). Always finite.
    ///
    /// ```
    /// use edgegrad::word2vec::{Word2VecConfig, Word2VecTrainer};
    /// let mut t = Word2VecTrainer::<4, 2, 16>::ZERO;
    /// assert_eq!(t.learning_rate(), 0.0);
    /// t.init(Word2VecConfig::default(), &[0, 1, 1, 1], 10)?;
    /// assert_eq!(t.learning_rate(), 0.05);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn learning_rate(&self) -> f32 {
        let progress = self.words_done as f64 / self.expected_words.max(1) as f64;
        self.config.lr * (1.0 - progress).max(1e-4) as f32
    }

    /// [`Error::InvalidParameter`] unless [`init`](Self::init) succeeded.
    fn check_ready(&self) -> Result<()> {
        if self.expected_words == 0 {
            return Err(Error::InvalidParameter {
                what: "word2vec trainer",
                expected: "a trainer prepared by init",
            });
        }
        Ok(())
    }

    /// Trains on one sentence of word ids: sub-sampling, then for each kept centre word
    /// a window shrunk at random, then one [`step`](Self::step) per context word
    /// (skip-gram) or per window (CBOW). Ids equal to [`UNK`] are dropped. Sentences
    /// longer than `S` words are trained in pieces.
    ///
    /// Checked before anything is written, with the model and trainer unchanged on
    /// error: [`Error::InvalidParameter`] if the trainer was not prepared by
    /// [`init`](Self::init), [`Error::IndexOutOfRange`] for an id `≥ V`.
    ///
    /// A step that meets a NaN or an infinity (in the model, or by overflow: see
    /// [`step`](Self::step)) returns its [`Error::NonFinite`] and ends the sentence.
    /// Then the model holds the updates of every prediction before the failing one, in
    /// this sentence, and nothing of the failing one; it holds no NaN or infinity that
    /// was not there before. The trainer's schedule is as before the call (the
    /// sentence's words are not counted in the learning-rate decay) and `rng` has
    /// advanced.
    ///
    /// ```
    /// use edgegrad::word2vec::{Word2Vec, Word2VecConfig, Word2VecTrainer};
    /// use rand_core::SeedableRng;
    /// let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    /// let mut w = Word2Vec::<4, 2>::ZERO;
    /// w.init(&mut rng);
    /// let mut t = Word2VecTrainer::<4, 2, 16>::ZERO;
    /// assert!(t.train_sentence(&mut w, &[1, 2], &mut rng).is_err()); // not initialised
    /// t.init(Word2VecConfig::default(), &[0, 1, 1, 1], 10)?;
    /// let stats = t.train_sentence(&mut w, &[1, 2, 3, 0, 1], &mut rng)?;
    /// assert_eq!(stats.words, 5);
    /// assert!(t.train_sentence(&mut w, &[1, 4], &mut rng).is_err()); // 4 ≥ V
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn train_sentence<R: RngCore + ?Sized>(
        &mut self,
        model: &mut Word2Vec<V, D>,
        sentence: &[u16],
        rng: &mut R,
    ) -> Result<TrainStats> {
        let () = Word2Vec::<V, D>::IDS_FIT_U16;
        self.check_ready()?;
        if S == 0 {
            return Err(Error::InvalidParameter {
                what: "word2vec trainer S",
                expected: "a sentence buffer of at least one word",
            });
        }
        for &w in sentence {
            check_index("word id", usize::from(w), V)?;
        }
        let done = self.words_done;
        let mut stats = TrainStats::default();
        for piece in sentence.chunks(S) {
            if let Err(e) = self.train_piece(model, piece, rng, &mut stats) {
                self.words_done = done;
                return Err(e);
            }
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
            if keep > 0.0 && (keep >= 1.0 || keep > uniform01(rng)) && n < S {
                self.sentence[n] = w;
                n += 1;
            }
        }
        let words = piece.len() as u64;
        self.words_done = self.words_done.saturating_add(words);
        stats.words = stats.words.saturating_add(words);
        stats.effective_words = stats.effective_words.saturating_add(n as u64);
        let window = self.config.window.clamp(1, MAX_WINDOW);
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
                        let negatives = self.draw_negatives(model, rng);
                        stats.loss +=
                            f64::from(self.step_with(model, &[centre], target, negatives, lr)?);
                        stats.predictions = stats.predictions.saturating_add(1);
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
                    let negatives = self.draw_negatives(model, rng);
                    stats.loss +=
                        f64::from(self.step_with(model, &context[..c], centre, negatives, lr)?);
                    stats.predictions = stats.predictions.saturating_add(1);
                }
            }
        }
        Ok(())
    }

    /// Draws the noise words for one prediction into the scratch; returns how many. (A
    /// draw equal to the target is skipped by [`step`](Self::step), as in word2vec.)
    ///
    /// On hosts the draws run two predictions ahead (see `next_slots`): each
    /// prediction's noise words are still `count` independent draws from the table.
    fn draw_negatives<R: RngCore + ?Sized>(
        &mut self,
        model: &Word2Vec<V, D>,
        rng: &mut R,
    ) -> usize {
        let Objective::NegativeSampling(count) = self.config.objective else {
            return 0;
        };
        if TABLE == 0 {
            return 0;
        }
        let count = count.min(MAX_NEGATIVES);
        #[cfg(edgegrad_lanes = "4")]
        {
            let _ = model;
            for slot in &mut self.negatives[..count] {
                *slot = self.table[below(rng, TABLE)];
            }
            count
        }
        #[cfg(not(edgegrad_lanes = "4"))]
        self.draw_ahead(model, rng, count)
    }

    /// [`draw_negatives`](Self::draw_negatives) on hosts: the draws run two
    /// predictions ahead (see `next_slots`).
    #[cfg(not(edgegrad_lanes = "4"))]
    fn draw_ahead<R: RngCore + ?Sized>(
        &mut self,
        model: &Word2Vec<V, D>,
        rng: &mut R,
        count: usize,
    ) -> usize {
        let table = &self.table;
        let entry = |slot: u32| table.get(slot as usize).copied().unwrap_or(UNK);
        if self.pipelined != count {
            for word in &mut self.next_negatives[..count] {
                *word = self.table[below(rng, TABLE)];
            }
            for slot in &mut self.next_slots[..count] {
                *slot = below(rng, TABLE) as u32;
            }
            self.pipelined = count;
        }
        let (now, next) = (
            &mut self.negatives[..count],
            &mut self.next_negatives[..count],
        );
        for ((now, next), &slot) in now.iter_mut().zip(next).zip(&self.next_slots) {
            *now = *next;
            *next = entry(slot);
            simd::prefetch(model.output.row(usize::from(*next)));
        }
        for slot in &mut self.next_slots[..count] {
            // TABLE ≤ u32::MAX entries: a u16 table that large is 8 GB.
            *slot = below(rng, TABLE) as u32;
            if let Some(entry) = self.table.get(*slot as usize) {
                simd::prefetch(core::slice::from_ref(entry));
            }
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
    /// For skip-gram this is exactly an SGD step on the loss, every gradient taken
    /// before any update (a noise word drawn twice counts twice in the loss and in its
    /// update). For CBOW, as in word2vec, each context vector receives the full
    /// `∂loss/∂h` rather than the exact `∂loss/∂h / |inputs|` (an id listed `m` times
    /// receives it `m` times). Returns the loss before the update.
    ///
    /// Checked before anything is written; on error the model is bit-identical (the
    /// trainer too, its scratch aside):
    /// - [`Error::InvalidParameter`] if the trainer was not prepared by
    ///   [`init`](Self::init), or unless `0 ≤ lr ≤` [`MAX_LEARNING_RATE`] (a NaN or
    ///   infinite `lr` among them; `lr = 0` computes the loss and changes nothing);
    /// - [`Error::InvalidLength`] unless `1 ≤ inputs.len() ≤ 2·`[`MAX_WINDOW`] and
    ///   `negatives.len() ≤` [`MAX_NEGATIVES`];
    /// - [`Error::IndexOutOfRange`] for an id `≥ V`;
    /// - [`Error::NonFinite`] if an input vector holds a NaN or an infinity, which makes
    ///   their mean `h` non-finite (index: the column of `h`), or if a score or logit,
    ///   the loss, `∂loss/∂h`, or any
    ///   updated parameter would not be finite (overflow, or a non-finite output
    ///   vector). Every updated value is computed and checked before the first is
    ///   stored, then computed again by the same instructions and stored: each updated
    ///   row is traversed once more than the update itself needs (about 40 % more
    ///   instructions per negative-sampling step; the softmax's `V × D` check is fused
    ///   with the computation of `∂loss/∂h`).
    ///
    /// So an `Ok` step returns a finite loss and leaves only finite values in the
    /// vectors it updated.
    ///
    /// ```
    /// use edgegrad::word2vec::{Objective, Word2Vec, Word2VecConfig, Word2VecTrainer};
    /// let mut w = Word2Vec::<4, 2>::ZERO;
    /// w.input.0 = [[0.0; 2], [0.5, -0.5], [0.25, 0.0], [0.0, 0.5]];
    /// let mut t = Word2VecTrainer::<4, 2, 16>::ZERO;
    /// let config = Word2VecConfig { objective: Objective::Softmax, ..Word2VecConfig::default() };
    /// t.init(config, &[0, 1, 1, 1], 10)?;
    /// let loss = t.step(&mut w, &[1], 2, &[], 0.1)?;
    /// assert!((loss - 4f32.ln()).abs() < 1e-6); // zero output vectors: uniform softmax
    /// assert!(t.step(&mut w, &[1], 2, &[], f32::NAN).is_err());
    /// w.input.0[1] = [f32::MAX, f32::MAX];
    /// w.output.0[2] = [1.0, 1.0];
    /// let before = w.output.0;
    /// assert!(t.step(&mut w, &[1], 2, &[], 0.1).is_err()); // the logit overflows
    /// assert_eq!(w.output.0, before);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn step(
        &mut self,
        model: &mut Word2Vec<V, D>,
        inputs: &[u16],
        target: u16,
        negatives: &[u16],
        lr: f32,
    ) -> Result<f32> {
        let () = Word2Vec::<V, D>::IDS_FIT_U16;
        self.check_ready()?;
        if !(0.0..=MAX_LEARNING_RATE).contains(&lr) {
            return Err(Error::InvalidParameter {
                what: "word2vec step lr",
                expected: "0 <= lr <= MAX_LEARNING_RATE (1)",
            });
        }
        check_len_range("word2vec inputs", inputs.len(), 1, 2 * MAX_WINDOW)?;
        check_len_range("word2vec negatives", negatives.len(), 0, MAX_NEGATIVES)?;
        check_index("word2vec target", usize::from(target), V)?;
        for &i in inputs.iter().chain(negatives) {
            check_index("word id", usize::from(i), V)?;
        }
        // h = the mean of the input rows, each scaled first (no overflow in the sum).
        let inv = 1.0 / inputs.len() as f32;
        self.h = [0.0; D];
        for &i in inputs {
            k::axpy(inv, model.input.row(usize::from(i)), &mut self.h)?;
        }
        // A non-finite input row (or a mean that overflowed) makes every score
        // non-finite: name it here.
        k::check_finite("word2vec h", &self.h)?;
        // Forward and gradients (reading the model; ∂loss/∂h accumulated in `neu1e`, and
        // each output row's update checked in the same pass), the input rows' updates
        // checked, then the writes.
        self.neu1e = [0.0; D];
        let (loss, rows) = match self.config.objective {
            Objective::NegativeSampling(_) => {
                self.negative_sampling(model, target, negatives, lr)?
            }
            Objective::Softmax => {
                k::matvec(
                    model.output.view(),
                    &self.h,
                    &mut self.logits,
                    Accum::Overwrite,
                )?;
                k::check_finite("word2vec logits", &self.logits)?;
                let loss = k::cross_entropy(&self.logits, usize::from(target), &mut self.grad)?;
                // ∂loss/∂h = outputᵀ·grad, ∂loss/∂output = grad ⊗ h
                for (id, &g) in self.grad.iter().enumerate() {
                    let out = model.output.row(id);
                    if !accumulate_and_check(&mut self.neu1e, out, &self.h, g, -lr * g) {
                        return Err(non_finite("word2vec updated output vector", id * D));
                    }
                }
                (loss, V)
            }
        };
        if !loss.is_finite() {
            return Err(non_finite("word2vec loss", 0));
        }
        for (id, c) in Self::input_updates(inputs, lr) {
            if !update_is_finite(c, &self.neu1e, model.input.row(id)) {
                // A non-finite ∂loss/∂h makes every update non-finite; name it.
                k::check_finite("word2vec ∂loss/∂h", &self.neu1e)?;
                return Err(non_finite("word2vec updated input vector", id * D));
            }
        }
        if lr == 0.0 {
            // No update (adding ±0 could still flip the sign of a zero).
            return Ok(loss);
        }
        // Every check passed: write, the same expressions as checked.
        for r in 0..rows {
            let (id, g) = match self.config.objective {
                Objective::NegativeSampling(_) => (usize::from(self.out_ids[r]), self.out_g[r]),
                Objective::Softmax => (r, self.grad[r]),
            };
            apply_update(-lr * g, &self.h, model.output.row_mut(id));
        }
        for (id, c) in Self::input_updates(inputs, lr) {
            apply_update(c, &self.neu1e, model.input.row_mut(id));
        }
        Ok(loss)
    }

    /// Negative sampling's forward pass and gradients, reading the model only: returns
    /// the loss and the number of output rows to update, whose ids and gradient
    /// coefficients are in `out_ids`/`out_g`; accumulates ∂loss/∂h in `neu1e`, and
    /// checks each output row's update.
    fn negative_sampling(
        &mut self,
        model: &Word2Vec<V, D>,
        target: u16,
        negatives: &[u16],
        lr: f32,
    ) -> Result<(f32, usize)> {
        // The distinct words, the target first: their scores (in `out_g` until their
        // gradients replace them). No arrays on the stack: this runs on 2 KB stacks.
        let mut rows = 0;
        for j in 0..=negatives.len() {
            let word = if j == 0 {
                target
            } else {
                let (before, _) = negatives.split_at(j);
                let word = before[j - 1];
                if word == target || word == UNK || before[..j - 1].contains(&word) {
                    continue;
                }
                word
            };
            let score = k::dot(&self.h, model.output.row(usize::from(word)))?;
            if !score.is_finite() {
                let e = non_finite("word2vec score (h·output vector)", usize::from(word) * D);
                return Err(e);
            }
            self.out_ids[rows] = word;
            self.out_g[rows] = score;
            rows += 1;
        }
        // The logistic losses and gradients of all the words at once, a vector at a
        // time (label +1 for the target, −1 for noise), each times the number of times
        // its word was drawn (at most 1 + MAX_NEGATIVES: exact in f32).
        let mut loss = 0.0_f32;
        let (ids, gs) = (&self.out_ids[..rows], &mut self.out_g[..rows]);
        let times = |r: usize, word: u16| {
            if r == 0 {
                1.0
            } else {
                negatives.iter().filter(|&&n| n == word).count() as f32
            }
        };
        if LANES == 4 {
            // Scalar lanes: the scalar kernel, word by word (see `logistic_lanes`).
            for (r, (&word, out)) in ids.iter().zip(gs.iter_mut()).enumerate() {
                let (l, g) = k::logistic_loss(*out, r == 0)?;
                let m = times(r, word);
                loss += l * m;
                *out = g * m;
            }
        } else {
            for (c, (ids, gs)) in ids.chunks(LANES).zip(gs.chunks_mut(LANES)).enumerate() {
                let sign = if c == 0 {
                    simd::keep_first(1, splat(1.0), -1.0)
                } else {
                    splat(-1.0)
                };
                let (l, g) = logistic_lanes(simd::load_partial(gs, 0.0), sign);
                let (l, g) = (l.to_array(), g.to_array());
                for (lane, (&word, out)) in ids.iter().zip(gs.iter_mut()).enumerate() {
                    let m = times(c * LANES + lane, word);
                    loss += l[lane] * m;
                    *out = g[lane] * m;
                }
            }
        }
        for (&word, &g) in self.out_ids[..rows].iter().zip(&self.out_g) {
            let out = model.output.row(usize::from(word));
            if !accumulate_and_check(&mut self.neu1e, out, &self.h, g, -lr * g) {
                return Err(non_finite(
                    "word2vec updated output vector",
                    usize::from(word) * D,
                ));
            }
        }
        Ok((loss, rows))
    }

    /// The distinct ids of `inputs` with their coefficients `−lr·m` (`m` the number of
    /// times each is listed).
    fn input_updates(inputs: &[u16], lr: f32) -> impl Iterator<Item = (usize, f32)> + '_ {
        inputs.iter().enumerate().filter_map(move |(i, &id)| {
            if inputs[..i].contains(&id) {
                return None;
            }
            // At most 2·MAX_WINDOW: exact in f32.
            let m = inputs[i..].iter().filter(|&&x| x == id).count() as f32;
            Some((usize::from(id), -lr * m))
        })
    }
}

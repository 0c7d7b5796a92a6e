//! The crate's contracts for word2vec and the vocabularies: no panic on any input, no
//! NaN or infinity in an `Ok` result that the caller did not pass in, and an `Err` that
//! leaves every output and model bit-identical. One regression test per defect found,
//! then property tests over random and adversarial inputs.
#![cfg(feature = "word2vec")]
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use edgegrad::Error;
use edgegrad::vocab::{CharCounter, CharVocab, UNK, Vocab, VocabBuilder};
use edgegrad::word2vec::{
    Architecture, Objective, TrainStats, Word2Vec, Word2VecConfig, Word2VecTrainer,
};
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg32;

const V: usize = 9;
const D: usize = 6;

fn bits<const V: usize, const D: usize>(m: &Word2Vec<V, D>) -> Vec<u32> {
    m.input
        .as_slice()
        .iter()
        .chain(m.output.as_slice())
        .map(|x| x.to_bits())
        .collect()
}

fn all_finite<const V: usize, const D: usize>(m: &Word2Vec<V, D>) -> bool {
    m.input
        .as_slice()
        .iter()
        .chain(m.output.as_slice())
        .all(|x| x.is_finite())
}

fn small_model() -> Box<Word2Vec<V, D>> {
    let mut m = Box::new(Word2Vec::<V, D>::ZERO);
    let mut rng = Pcg32::seed_from_u64(3);
    for x in m.input.as_mut_slice().iter_mut() {
        *x = (rng.next_u32() as f32 / u32::MAX as f32) - 0.5;
    }
    for x in m.output.as_mut_slice().iter_mut() {
        *x = (rng.next_u32() as f32 / u32::MAX as f32) - 0.5;
    }
    m
}

fn trainer(objective: Objective) -> Box<Word2VecTrainer<V, D, 64>> {
    let mut t = Box::new(Word2VecTrainer::<V, D, 64>::ZERO);
    let config = Word2VecConfig {
        architecture: Architecture::SkipGram,
        objective,
        window: 2,
        sample: 0.0,
        lr: 0.05,
    };
    t.init(config, &[0, 5, 4, 3, 3, 2, 2, 1, 1], 100).unwrap();
    t
}

// ---------------------------------------------------------------------------------------
// 1. Hyper-parameters are validated before anything is written.
// ---------------------------------------------------------------------------------------

#[test]
fn step_refuses_unreasonable_learning_rates_and_writes_nothing() {
    for objective in [Objective::NegativeSampling(3), Objective::Softmax] {
        let mut t = trainer(objective);
        let mut m = small_model();
        let before = bits(&m);
        for lr in [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.1,
            -f32::MIN_POSITIVE,
            1e30,
            f32::MAX,
        ] {
            let r = t.step(&mut m, &[1], 2, &[3, 4], lr);
            assert!(
                matches!(r, Err(Error::InvalidParameter { .. })),
                "{objective:?} lr {lr}: {r:?}"
            );
            assert_eq!(bits(&m), before, "{objective:?} lr {lr}: model changed");
        }
    }
}

#[test]
fn init_refuses_unreasonable_hyper_parameters() {
    let counts = [0, 3, 2, 1];
    let base = Word2VecConfig::default();
    let bad = [
        Word2VecConfig {
            lr: f32::NAN,
            ..base
        },
        Word2VecConfig {
            lr: f32::INFINITY,
            ..base
        },
        Word2VecConfig { lr: 0.0, ..base },
        Word2VecConfig { lr: -1.0, ..base },
        Word2VecConfig { lr: 1e30, ..base },
        Word2VecConfig {
            sample: f32::NAN,
            ..base
        },
        Word2VecConfig {
            sample: -1e-3,
            ..base
        },
        Word2VecConfig {
            sample: f32::INFINITY,
            ..base
        },
        Word2VecConfig {
            sample: 5.0,
            ..base
        },
        Word2VecConfig { window: 0, ..base },
        Word2VecConfig {
            window: 1000,
            ..base
        },
        Word2VecConfig {
            objective: Objective::NegativeSampling(0),
            ..base
        },
        Word2VecConfig {
            objective: Objective::NegativeSampling(1 << 40),
            ..base
        },
    ];
    for config in bad {
        let mut t = Box::new(Word2VecTrainer::<4, 2, 16>::ZERO);
        t.init(Word2VecConfig::default(), &counts, 10).unwrap();
        let before = format!("{t:?}");
        let r = t.init(config, &counts, 10);
        assert!(
            matches!(r, Err(Error::InvalidParameter { .. })),
            "{config:?}: {r:?}"
        );
        assert_eq!(format!("{t:?}"), before, "{config:?}: trainer changed");
    }
}

// ---------------------------------------------------------------------------------------
// 2. A failing step changes nothing; Ok never holds a non-finite value.
// ---------------------------------------------------------------------------------------

#[test]
fn failing_negative_sampling_step_changes_nothing() {
    let mut t = trainer(Objective::NegativeSampling(3));
    let mut m = small_model();
    // The target's score is finite and its update not zero; the noise word's output
    // vector holds a NaN. The target's output row must not have been updated when the
    // error is reported.
    m.input
        .row_mut(1)
        .copy_from_slice(&[1e30, 1e30, 0.0, 0.0, 0.0, 0.0]);
    m.output
        .row_mut(2)
        .copy_from_slice(&[1e-30, 0.0, 0.0, 0.0, 0.0, 0.0]);
    m.output.row_mut(3)[1] = f32::NAN;
    let before = bits(&m);
    let r = t.step(&mut m, &[1], 2, &[3], 0.05);
    assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
    assert_eq!(bits(&m), before, "an Err step wrote into the model");
}

#[test]
fn step_never_returns_ok_with_an_infinite_loss_or_model() {
    // (a) finite scores of ±3e38 whose losses add up to +inf;
    let overflowing_loss = |m: &mut Word2Vec<V, D>| {
        m.input.row_mut(1).fill(1e19);
        m.output.row_mut(2).fill(-5e18);
        m.output.row_mut(3).fill(5e18);
    };
    // (b) two context vectors that cancel in h, and an update of ∂loss/∂h ~ 3e38.
    let overflowing_update = |m: &mut Word2Vec<V, D>| {
        m.input.row_mut(1)[0] = 3e38;
        m.input.row_mut(4)[0] = -3e38;
        for r in 0..V {
            m.output.row_mut(r)[0] = if r == 2 { -3e38 } else { 3e38 };
        }
    };
    for objective in [Objective::NegativeSampling(3), Objective::Softmax] {
        for (case, poison) in [
            ("loss", &overflowing_loss as &dyn Fn(&mut Word2Vec<V, D>)),
            ("update", &overflowing_update),
        ] {
            let mut t = trainer(objective);
            let mut m = small_model();
            poison(&mut m);
            let before = bits(&m);
            match t.step(&mut m, &[1, 4], 2, &[3], 0.5) {
                Ok(loss) => {
                    assert!(loss.is_finite(), "{objective:?} {case}: Ok loss {loss}");
                    assert!(all_finite(&m), "{objective:?} {case}: Ok, non-finite model");
                }
                Err(e) => assert_eq!(bits(&m), before, "{objective:?} {case}: {e}, written"),
            }
        }
    }
}

#[test]
fn failing_train_sentence_applies_only_the_steps_before_the_failure() {
    // Word 2's input vector is all ones and word 3's output vector all f32::MAX, so
    // predicting 3 from 2 has an infinite score.
    let poison = |m: &mut Word2Vec<V, D>| {
        m.input.row_mut(2).fill(1.0);
        m.output.row_mut(3).fill(f32::MAX);
    };
    // The failing prediction is the first: nothing at all is written.
    let mut t = trainer(Objective::NegativeSampling(2));
    let mut m = small_model();
    poison(&mut m);
    let lr = t.learning_rate();
    let before = bits(&m);
    let mut rng = Pcg32::seed_from_u64(9);
    let r = t.train_sentence(&mut m, &[2, 3], &mut rng);
    assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
    assert_eq!(bits(&m), before, "the failing first step wrote");
    assert_eq!(
        t.learning_rate(),
        lr,
        "a failed sentence advanced the schedule"
    );
    // The failing prediction comes later: the earlier ones were applied, and the model
    // holds no non-finite value.
    let mut m = small_model();
    poison(&mut m);
    let before = bits(&m);
    let r = t.train_sentence(&mut m, &[1, 4, 5, 6, 2, 3], &mut rng);
    assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
    assert_ne!(
        bits(&m),
        before,
        "the steps before the failure were applied"
    );
    assert!(
        all_finite(&m),
        "an Err left a non-finite value in the model"
    );
    assert_eq!(
        t.learning_rate(),
        lr,
        "a failed sentence advanced the schedule"
    );
}

// ---------------------------------------------------------------------------------------
// 3. Cosine similarity is safe from overflow and underflow.
// ---------------------------------------------------------------------------------------

#[test]
fn cosine_of_huge_and_tiny_vectors() {
    let mut w = Box::new(Word2Vec::<5, 3>::ZERO);
    w.input.0 = [
        [0.0; 3],
        [1e20, 1e20, 0.0],
        [2e20, 2e20, 0.0],
        [1e-25, 1e-25, 0.0],
        [1e-44, 0.0, 1e-44],
    ];
    for (a, b, want) in [
        (1, 2, 1.0),
        (1, 3, 1.0),
        (3, 3, 1.0),
        (2, 4, 0.5),
        (4, 4, 1.0),
    ] {
        let c = w.cosine(a, b).unwrap();
        assert!((c - want).abs() < 1e-6, "cos({a}, {b}) = {c}, want {want}");
    }
    let near = w.most_similar::<4>(1, 5).unwrap();
    assert_eq!(near.len(), 3, "{near:?}");
    assert!(near.iter().all(|(_, s)| s.is_finite()));
    assert_eq!((near[0].1, near[1].1), (1.0, 1.0), "{near:?}");
    let best = w.analogy::<4>(1, 2, 3, 5).unwrap();
    assert_eq!(best.len(), 1, "{best:?}");
    assert!(best.iter().all(|(_, s)| s.is_finite()));
}

#[test]
fn queries_report_non_finite_vectors_instead_of_dropping_them() {
    let mut w = Box::new(Word2Vec::<4, 2>::ZERO);
    w.input.0 = [[0.0; 2], [1.0, 0.0], [f32::NAN, 0.0], [0.5, 0.5]];
    assert!(matches!(
        w.most_similar::<3>(1, 4),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        w.analogy::<3>(1, 3, 3, 4),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(w.cosine(1, 2), Err(Error::NonFinite { .. })));
    w.input.0[2] = [f32::INFINITY, 1.0];
    assert!(matches!(w.cosine(2, 3), Err(Error::NonFinite { .. })));
}

// ---------------------------------------------------------------------------------------
// 4. The writer refuses what the reader refuses.
// ---------------------------------------------------------------------------------------

#[test]
fn write_text_refuses_what_read_text_refuses() {
    // A word with whitespace from the builder, an empty word from the builder.
    for word in ["two words", "", "tab\there", "line\nbreak", "nbsp\u{a0}x"] {
        let mut b = VocabBuilder::<8, 16>::new();
        b.add_word(word).unwrap();
        b.add_word("ok").unwrap();
        let mut vocab = Box::new(Vocab::<4, 16>::ZERO);
        b.build(1, &mut vocab);
        let w = small_model4();
        assert_round_trip_or_refused(&w, &vocab, word);
    }
    // set_words with whitespace
    let mut vocab = Box::new(Vocab::<4, 16>::ZERO);
    if vocab.set_words(["a b", "c"].into_iter()).is_ok() {
        assert_round_trip_or_refused(&small_model4(), &vocab, "a b");
    }
    // Non-finite weights.
    let mut vocab = Box::new(Vocab::<4, 16>::ZERO);
    vocab.set_words(["a", "b", "c"].into_iter()).unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut w = small_model4();
        w.input.0[2][1] = bad;
        let mut out = String::new();
        let r = w.write_text(&vocab, &mut out);
        assert!(r.is_err(), "{bad} written: {out:?}");
        assert!(out.is_empty(), "a refused model wrote {out:?}");
    }
}

fn small_model4() -> Box<Word2Vec<4, 2>> {
    let mut w = Box::new(Word2Vec::<4, 2>::ZERO);
    w.input.0 = [[0.0, 0.0], [0.5, -1.0], [2.0, 0.25], [1e-40, -3e38]];
    w
}

fn assert_round_trip_or_refused(w: &Word2Vec<4, 2>, vocab: &Vocab<4, 16>, what: &str) {
    let mut out = String::new();
    if w.write_text(vocab, &mut out).is_err() {
        return;
    }
    let mut back = Box::new(Word2Vec::<4, 2>::ZERO);
    let mut v2 = Box::new(Vocab::<4, 16>::ZERO);
    let r = back.read_text(&out, &mut v2);
    assert!(r.is_ok(), "{what:?}: wrote {out:?}, read back {r:?}");
    assert_eq!(v2.len(), vocab.len(), "{what:?}");
    for id in 1..vocab.len() {
        assert_eq!(v2.word(id as u16), vocab.word(id as u16), "{what:?}");
        assert_eq!(
            back.input.0[id].map(f32::to_bits),
            w.input.0[id].map(f32::to_bits)
        );
    }
}

// ---------------------------------------------------------------------------------------
// 5. set_words: no duplicates, no panic on iterators whose clones disagree.
// ---------------------------------------------------------------------------------------

#[test]
fn set_words_refuses_duplicates_and_changes_nothing() {
    let mut v = Box::new(Vocab::<6, 8>::ZERO);
    v.set_words(["x", "y"].into_iter()).unwrap();
    let before = format!("{v:?}");
    for words in [
        &["a", "b", "a"][..],
        &["a", "A"],
        &["dog", "cat", "DOG", "e"],
    ] {
        let r = v.set_words(words.iter().copied());
        assert!(
            matches!(r, Err(Error::InvalidParameter { .. })),
            "{words:?}: {r:?}"
        );
        assert_eq!(format!("{v:?}"), before, "{words:?}: vocabulary changed");
    }
    // Every id a vocabulary holds is the one `id` returns for its word.
    v.set_words(["<unk>", "b"].into_iter()).unwrap();
    for id in 1..v.len() as u16 {
        assert_eq!(v.id(v.word(id)), id);
    }
}

/// An iterator whose clones yield more words each time.
#[derive(Clone)]
struct Fickle {
    generation: Rc<Cell<usize>>,
    left: usize,
    fresh: bool,
}

impl Iterator for Fickle {
    type Item = &'static str;
    fn next(&mut self) -> Option<&'static str> {
        const WORDS: [&str; 12] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"];
        if self.fresh {
            // Each clone yields one word more than the one before.
            self.fresh = false;
            self.generation.set(self.generation.get() + 1);
            self.left = self.generation.get();
        }
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(WORDS[self.left % WORDS.len()])
    }
}

#[test]
fn set_words_survives_iterators_whose_clones_disagree() {
    for start in 0..6 {
        let mut v = Box::new(Vocab::<6, 8>::ZERO);
        let it = Fickle {
            generation: Rc::new(Cell::new(start)),
            left: 0,
            fresh: true,
        };
        let r = catch_unwind(AssertUnwindSafe(|| v.set_words(it)));
        let r = r.unwrap_or_else(|_| panic!("start {start}: set_words panicked"));
        // Whatever the outcome, the vocabulary is consistent.
        for id in 1..v.len() as u16 {
            assert_eq!(v.id(v.word(id)), id, "start {start}: {r:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 6. init's count arithmetic does not overflow.
// ---------------------------------------------------------------------------------------

#[test]
fn init_with_huge_counts() {
    let counts = [7, u64::MAX, u64::MAX, u64::MAX / 3, 1];
    let mut t = Box::new(Word2VecTrainer::<5, 2, 4096>::ZERO);
    let r = catch_unwind(AssertUnwindSafe(|| {
        t.init(Word2VecConfig::default(), &counts, u64::MAX)
    }));
    let r = r.expect("init panicked on huge counts");
    // Either refused, or a correct noise distribution: each of the two equal counts
    // takes the same share of the table, the count 1 (almost) none.
    if r.is_ok() {
        let mut m = Box::new(Word2Vec::<5, 2>::ZERO);
        m.init(&mut Pcg32::seed_from_u64(1));
        let mut rng = Pcg32::seed_from_u64(2);
        let stats = t.train_sentence(&mut m, &[1, 2, 3, 4], &mut rng).unwrap();
        assert!(stats.loss.is_finite());
    }
}

// ---------------------------------------------------------------------------------------
// 8. The rest of the class.
// ---------------------------------------------------------------------------------------

#[test]
fn read_text_refuses_duplicate_words_and_changes_nothing() {
    let mut w = Box::new(Word2Vec::<6, 2>::ZERO);
    let mut v = Box::new(Vocab::<6, 8>::ZERO);
    w.read_text("2 2\nx 1 2\ny 3 4\n", &mut v).unwrap();
    let (wb, vb) = (bits(&w), format!("{v:?}"));
    for text in [
        "3 2\na 1 2\nb 3 4\na 5 6\n",
        "2 2\nCat 1 2\ncat 3 4\n",
        "2 2\na 1e39 2\nb 3 4\n",
        "2 2\na -1e39 2\nb 3 4\n",
        "2 2\na inf 2\nb 3 4\n",
        "2 2\na NaN 2\nb 3 4\n",
        "2 2\na infinity 2\nb 3 4\n",
        "99999999999999999999999 2\na 1 2\n",
        "2 18446744073709551617\na 1 2\n",
        "-1 2\n",
        "2 2\na 1 2\n\nb 3 4\n",
    ] {
        let r = w.read_text(text, &mut v);
        assert!(matches!(r, Err(Error::Parse { .. })), "{text:?}: {r:?}");
        assert_eq!(bits(&w), wb, "{text:?}: model changed");
        assert_eq!(format!("{v:?}"), vb, "{text:?}: vocabulary changed");
    }
    // Subnormals and signed zeros are finite numbers: read exactly.
    w.read_text("2 2\na 1e-45 -0\nb -1.4e-45 3.4028235e38\n", &mut v)
        .unwrap();
    assert_eq!(w.input.0[1].map(f32::to_bits), [1, 0x8000_0000]);
    assert_eq!(w.input.0[2], [-1e-45, f32::MAX]);
}

#[test]
fn untrained_trainer_and_stats_do_not_panic() {
    // An uninitialised trainer is refused, not silently a no-op.
    let mut t = Box::new(Word2VecTrainer::<4, 2, 8>::ZERO);
    assert!(t.learning_rate().is_finite());
    let mut m = Box::new(Word2Vec::<4, 2>::ZERO);
    let mut rng = Pcg32::seed_from_u64(1);
    assert!(t.train_sentence(&mut m, &[1, 2, 3], &mut rng).is_err());
    // Counts saturate instead of overflowing.
    let r = catch_unwind(|| {
        let mut a = TrainStats {
            predictions: u64::MAX,
            words: u64::MAX,
            effective_words: u64::MAX,
            ..TrainStats::default()
        };
        a.merge(&a.clone());
        a
    });
    let a = r.expect("merge overflowed");
    assert_eq!(a.predictions, u64::MAX);
}

#[test]
fn step_validates_lengths_and_ids_first() {
    let mut t = trainer(Objective::NegativeSampling(3));
    let mut m = small_model();
    let before = bits(&m);
    let many = [1_u16; 200];
    assert!(t.step(&mut m, &many, 2, &[], 0.1).is_err());
    assert!(t.step(&mut m, &[1], 2, &many, 0.1).is_err());
    assert!(t.step(&mut m, &[1], 9, &[], 0.1).is_err());
    assert!(t.step(&mut m, &[1], 2, &[3, 99], 0.1).is_err());
    assert!(t.step(&mut m, &[u16::MAX], 2, &[3], 0.1).is_err());
    assert_eq!(bits(&m), before);
}

#[test]
fn char_vocab_and_counter_edge_cases() {
    assert!(CharVocab::<4>::from_chars("").is_err());
    assert!(CharVocab::<4>::from_chars("aa").is_err());
    let v = CharVocab::<0>::first_seen("abc", '?');
    assert_eq!((v.len(), v.id('a'), v.char(3)), (0, 0, '\u{FFFD}'));
    let mut ids = [0_u16; 4];
    assert_eq!(v.encode("ab", &mut ids), 2);
    assert_eq!(
        v.decode(&[0, 7, u16::MAX]).to_string(),
        "\u{FFFD}".repeat(3)
    );
    let mut c = CharCounter::<2>::new();
    assert!(c.add_text("abc").is_err());
    let v: CharVocab<3> = c.most_frequent('a');
    assert_eq!(v.to_string(), "ba");
    let _ = UNK;
}

// ---------------------------------------------------------------------------------------
// Property tests: random and adversarial inputs through every public entry point.
// Either `Ok` with no NaN or infinity the caller did not pass in, or `Err` with every
// output and model bit-identical.
// ---------------------------------------------------------------------------------------

/// Values that break naive arithmetic, mixed with ordinary ones.
fn weird(rng: &mut Pcg32) -> f32 {
    let sign = if rng.next_u32() & 1 == 0 { 1.0 } else { -1.0 };
    match rng.next_u32() % 16 {
        0 => f32::from_bits(rng.next_u32()),
        1 => f32::NAN,
        2 => sign * f32::INFINITY,
        3 => sign * 1e38,
        4 => sign * f32::MAX,
        5 => sign * f32::from_bits(rng.next_u32() & 0x007F_FFFF), // subnormal or zero
        6 => sign * 0.0,
        7 => sign * 1e20,
        8 => sign * 1e-25,
        9 => sign * 1e19,
        _ => uniform(rng, -1.0, 1.0),
    }
}

fn uniform(rng: &mut Pcg32, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * ((rng.next_u32() >> 8) as f32 / (1 << 24) as f32)
}

fn below(rng: &mut Pcg32, n: usize) -> usize {
    (rng.next_u32() as usize) % n
}

fn one_in(rng: &mut Pcg32, n: usize) -> bool {
    below(rng, n) == 0
}

/// Fills every parameter: ordinary values, and with probability `p` a weird one.
fn fill<const V: usize, const D: usize>(m: &mut Word2Vec<V, D>, rng: &mut Pcg32, p: f32) {
    let scale = [0.5, 1e-20, 1e18, 3e37][below(rng, 4)];
    for x in m
        .input
        .as_mut_slice()
        .iter_mut()
        .chain(m.output.as_mut_slice())
    {
        *x = if uniform(rng, 0.0, 1.0) < p {
            weird(rng)
        } else {
            scale * uniform(rng, -1.0, 1.0)
        };
    }
}

/// Learning rates and other hyper-parameters: valid, boundary and absurd.
fn hyper(rng: &mut Pcg32) -> f32 {
    let sign = if one_in(rng, 8) { -1.0 } else { 1.0 };
    match rng.next_u32() % 12 {
        0 => f32::NAN,
        1 => sign * f32::INFINITY,
        2 => 0.0,
        3 => sign * 1e30,
        4 => 1.0,
        5 => 1.000_000_1,
        6 => sign * f32::from_bits(1),
        7 => weird(rng),
        _ => sign * uniform(rng, 0.0, 0.2),
    }
}

fn id(rng: &mut Pcg32, v: usize) -> u16 {
    match rng.next_u32() % 20 {
        0 => u16::MAX,
        1 => (v + below(rng, 3)) as u16,
        _ => below(rng, v) as u16,
    }
}

fn ids(rng: &mut Pcg32, v: usize, max: usize) -> Vec<u16> {
    let n = if one_in(rng, 30) {
        max + 1 + below(rng, 5)
    } else {
        below(rng, max + 1)
    };
    (0..n).map(|_| id(rng, v)).collect()
}

fn config(rng: &mut Pcg32) -> Word2VecConfig {
    let architecture = if rng.next_u32() & 1 == 0 {
        Architecture::SkipGram
    } else {
        Architecture::Cbow
    };
    let objective = match rng.next_u32() % 6 {
        0 => Objective::Softmax,
        1 => Objective::NegativeSampling([0, 33, usize::MAX][below(rng, 3)]),
        _ => Objective::NegativeSampling(1 + below(rng, 6)),
    };
    let window = match rng.next_u32() % 10 {
        0 => [0, 33, usize::MAX][below(rng, 3)],
        _ => 1 + below(rng, 4),
    };
    let valid = !one_in(rng, 3);
    Word2VecConfig {
        architecture,
        objective,
        window,
        sample: if valid {
            1e-2 * uniform(rng, 0.0, 1.0)
        } else {
            hyper(rng)
        },
        lr: if valid {
            uniform(rng, 0.001, 0.5)
        } else {
            hyper(rng)
        },
    }
}

fn counts(rng: &mut Pcg32, v: usize) -> Vec<u64> {
    let n = if one_in(rng, 10) {
        v + 1
    } else {
        below(rng, v + 1)
    };
    (0..n)
        .map(|_| match rng.next_u32() % 8 {
            0 => 0,
            1 => u64::MAX,
            2 => u64::MAX / 2 + below(rng, 1000) as u64,
            _ => 1 + below(rng, 50) as u64,
        })
        .collect()
}

/// After an `Ok`: every value that changed is finite.
fn changed_values_finite(before: &[u32], after: &[u32]) -> bool {
    before
        .iter()
        .zip(after)
        .all(|(&b, &a)| a == b || f32::from_bits(a).is_finite())
}

const PV: usize = 7;
const PD: usize = 5;

#[test]
fn property_trainer_init_step_and_train_sentence() {
    let mut rng = Pcg32::seed_from_u64(2024);
    let mut m = Box::new(Word2Vec::<PV, PD>::ZERO);
    // Outcomes seen: [init, step, train_sentence] × [Ok, Err(NonFinite), other Err].
    let mut seen = [[0_u32; 3]; 3];
    let mut tally = |what: usize, r: &Result<(), &Error>| {
        let k = match r {
            Ok(()) => 0,
            Err(Error::NonFinite { .. }) => 1,
            Err(_) => 2,
        };
        seen[what][k] += 1;
    };
    for round in 0..3000 {
        let mut t = Box::new(Word2VecTrainer::<PV, PD, 32, 4>::ZERO);
        // init: refused configurations leave the trainer as it was.
        if round % 5 != 0 {
            let mut valid = config(&mut rng);
            valid.lr = 0.05;
            valid.sample = 1e-3;
            valid.window = 2;
            if let Objective::NegativeSampling(_) = valid.objective {
                valid.objective = Objective::NegativeSampling(3);
            }
            t.init(valid, &[0, 4, 3, 2, 2, 1, 1], 50).unwrap();
        }
        let before = format!("{t:?}");
        let (cfg, cnt) = (config(&mut rng), counts(&mut rng, PV));
        let expected = [0, 1, 100, u64::MAX][below(&mut rng, 4)];
        let r = t.init(cfg, &cnt, expected);
        tally(0, &r.as_ref().map(|_| ()));
        match r {
            Ok(()) => assert!(t.learning_rate().is_finite() && t.learning_rate() > 0.0),
            Err(e) => assert_eq!(format!("{t:?}"), before, "{cfg:?} {cnt:?}: {e}"),
        }
        fill(&mut m, &mut rng, [0.0, 0.02, 0.3][round % 3]);
        let lr_before = t.learning_rate();
        // step
        for _ in 0..3 {
            let (inputs, negatives) = (ids(&mut rng, PV, 4), ids(&mut rng, PV, 4));
            let target = id(&mut rng, PV);
            let lr = if rng.next_u32() & 1 == 0 {
                uniform(&mut rng, 0.0, 1.0)
            } else {
                hyper(&mut rng)
            };
            let b = bits(&m);
            let r = t.step(&mut m, &inputs, target, &negatives, lr);
            tally(1, &r.as_ref().map(|_| ()));
            match r {
                Ok(loss) => {
                    assert!(loss.is_finite(), "step: Ok loss {loss}");
                    if lr == 0.0 {
                        assert_eq!(bits(&m), b, "a step with lr = 0 wrote");
                    }
                    assert!(
                        changed_values_finite(&b, &bits(&m)),
                        "step {inputs:?} → {target} {negatives:?} lr {lr}: Ok wrote a non-finite value"
                    );
                }
                Err(e) => assert_eq!(bits(&m), b, "step {inputs:?} {target} lr {lr}: {e}"),
            }
        }
        // train_sentence
        let sentence = ids(&mut rng, PV, 10);
        let b = bits(&m);
        let lr = t.learning_rate();
        let r = t.train_sentence(&mut m, &sentence, &mut rng);
        tally(2, &r.as_ref().map(|_| ()));
        match r {
            Ok(stats) => {
                assert!(stats.loss.is_finite() && stats.lr.is_finite(), "{stats:?}");
                assert!(changed_values_finite(&b, &bits(&m)), "{sentence:?}");
            }
            Err(Error::NonFinite { .. }) => {
                // The steps before the failing one were applied (all finite).
                assert!(changed_values_finite(&b, &bits(&m)), "{sentence:?}");
                assert_eq!(t.learning_rate(), lr);
            }
            Err(e) => {
                assert_eq!(bits(&m), b, "{sentence:?}: {e}");
                assert_eq!(t.learning_rate(), lr);
            }
        }
        let _ = lr_before;
    }
    // Every outcome of every entry point was exercised (init cannot meet a NaN).
    for (what, counts) in seen.iter().enumerate() {
        for (k, &n) in counts.iter().enumerate() {
            assert!(what == 0 && k == 1 || n >= 30, "outcomes {seen:?}");
        }
    }
}

#[test]
fn property_queries() {
    let mut rng = Pcg32::seed_from_u64(77);
    let mut m = Box::new(Word2Vec::<PV, PD>::ZERO);
    for round in 0..4000 {
        fill(&mut m, &mut rng, [0.0, 0.05, 0.3][round % 3]);
        // Rows of one scale each, some huge, some tiny: cosines must still be right.
        if round % 4 == 0 {
            for r in 0..PV {
                let s = [1e-30, 1e-20, 1.0, 1e20, 1e30, 3e37][below(&mut rng, 6)];
                for x in m.input.row_mut(r) {
                    *x = s * uniform(&mut rng, -1.0, 1.0);
                }
            }
        }
        let b = bits(&m);
        let (a, c, d) = (id(&mut rng, PV), id(&mut rng, PV), id(&mut rng, PV));
        let len = below(&mut rng, PV + 3);
        let finite_row = |r: usize| m.input.row(r).iter().all(|x| x.is_finite());
        match m.cosine(a, c) {
            Ok(s) => {
                assert!((-1.0..=1.0).contains(&s), "cos {s}");
                // Against f64, scale-free.
                let (x, y) = (m.input.row(a as usize), m.input.row(c as usize));
                let xy: f64 = x.iter().zip(y).map(|(&p, &q)| p as f64 * q as f64).sum();
                let xx: f64 = x.iter().map(|&p| p as f64 * p as f64).sum();
                let yy: f64 = y.iter().map(|&q| q as f64 * q as f64).sum();
                let want = if xx == 0.0 || yy == 0.0 {
                    0.0
                } else {
                    xy / (xx.sqrt() * yy.sqrt())
                };
                assert!(
                    (s as f64 - want).abs() < 1e-5,
                    "cos {s} vs {want}: {x:?} {y:?}"
                );
            }
            Err(_) => assert!(
                (a as usize) >= PV
                    || (c as usize) >= PV
                    || !finite_row(a as usize)
                    || !finite_row(c as usize)
            ),
        }
        let candidates = |exclude: &[u16]| {
            (1..len.min(PV))
                .filter(|&i| !exclude.contains(&(i as u16)))
                .count()
        };
        if let Ok(near) = m.most_similar::<3>(a, len) {
            assert_eq!(near.len(), candidates(&[a]).min(3), "dropped entries");
            assert!(near.iter().all(|(_, s)| (-1.0..=1.0).contains(s)));
            assert!(near.windows(2).all(|p| p[0].1 >= p[1].1));
        } else {
            let bad = (a as usize) >= PV || len > PV || (0..PV).any(|r| !finite_row(r));
            assert!(bad, "most_similar refused a valid query");
        }
        if let Ok(best) = m.analogy::<4>(a, c, d, len) {
            assert_eq!(best.len(), candidates(&[a, c, d]).min(4), "dropped entries");
            assert!(best.iter().all(|(_, s)| (-3.0..=3.0).contains(s)));
        }
        assert_eq!(bits(&m), b, "a query wrote");
    }
}

const WORDS: &[&str] = &[
    "a",
    "A",
    "b",
    "cat",
    "CAT",
    "Straße",
    "ǅ",
    "İ",
    "<unk>",
    "x1",
    "ωmega",
    "ﬀ",
    "日本",
    "",
    " ",
    "a b",
    "tab\t",
    "\u{a0}",
    "toolongforthevocab",
    "\u{0}",
    "é",
    "É",
    "1e39",
    "nan",
    "-0",
];

fn random_words(rng: &mut Pcg32, max: usize) -> Vec<&'static str> {
    (0..below(rng, max + 1))
        .map(|_| WORDS[below(rng, WORDS.len())])
        .collect()
}

#[test]
fn property_vocabularies_and_text_format() {
    let mut rng = Pcg32::seed_from_u64(99);
    for round in 0..3000 {
        // set_words
        let mut v = Box::new(Vocab::<PV, 8>::ZERO);
        v.set_words(["keep", "these"].into_iter()).unwrap();
        let before = format!("{v:?}");
        let words = random_words(&mut rng, PV + 1);
        match v.set_words(words.iter().copied()) {
            Ok(()) => assert_eq!(v.len(), words.len() + 1),
            Err(e) => assert_eq!(format!("{v:?}"), before, "{words:?}: {e}"),
        }
        for i in 1..v.len() as u16 {
            assert_eq!(v.id(v.word(i)), i, "{words:?}");
            assert!(Vocab::<PV, 8>::fits(v.word(i)));
        }
        // builder
        let mut b = VocabBuilder::<16, 8>::new();
        for w in random_words(&mut rng, 12) {
            let _ = if rng.next_u32() & 1 == 0 {
                b.add_word(w)
            } else {
                b.add_text(w)
            };
        }
        let mut built = Box::new(Vocab::<PV, 8>::ZERO);
        b.build(below(&mut rng, 3) as u64, &mut built);
        for i in 1..built.len() as u16 {
            assert_eq!(built.id(built.word(i)), i);
        }
        let mut out = [0_u16; 8];
        let text = random_words(&mut rng, 8).join(" ");
        let n = built.encode(&text, &mut out);
        assert!(out[..n].iter().all(|&i| usize::from(i) < built.len()));
        // write_text → read_text: whatever is written reads back identically.
        let vocab = if round % 2 == 0 { &v } else { &built };
        let mut w = Box::new(Word2Vec::<PV, 3>::ZERO);
        fill(&mut w, &mut rng, [0.0, 0.1][round % 2]);
        let mut text = String::new();
        match w.write_text(vocab, &mut text) {
            Ok(()) => {
                let mut back = Box::new(Word2Vec::<PV, 3>::ZERO);
                let mut v2 = Box::new(Vocab::<PV, 8>::ZERO);
                back.read_text(&text, &mut v2)
                    .unwrap_or_else(|e| panic!("{text:?} does not read back: {e}"));
                assert_eq!(v2.len(), vocab.len());
                for i in 1..vocab.len() {
                    assert_eq!(v2.word(i as u16), vocab.word(i as u16));
                    assert_eq!(
                        back.input.row(i).map(f32::to_bits),
                        w.input.row(i).map(f32::to_bits)
                    );
                }
            }
            Err(e) => assert!(text.is_empty(), "{e}, yet wrote {text:?}"),
        }
    }
}

/// Mutations of a valid text file: each either reads, or changes nothing.
#[test]
fn property_read_text_adversarial() {
    let mut rng = Pcg32::seed_from_u64(5);
    const TOKENS: &[&str] = &[
        "nan",
        "NaN",
        "inf",
        "-inf",
        "infinity",
        "1e39",
        "-1e39",
        "3.4028236e38",
        "1e-45",
        "1e-50",
        "-0",
        "+1",
        ".5",
        "5.",
        "0x1",
        "",
        "a",
        "A",
        "<unk>",
        "1 2",
        "\u{feff}1",
        "99999999999999999999",
        "18446744073709551616",
        "-1",
        "3",
        "\t",
        "\r",
    ];
    let mut w = Box::new(Word2Vec::<PV, 3>::ZERO);
    let mut v = Box::new(Vocab::<PV, 8>::ZERO);
    for _ in 0..5000 {
        let count = below(&mut rng, PV);
        let mut lines: Vec<Vec<String>> = vec![vec![count.to_string(), "3".into()]];
        for i in 0..count {
            let mut l = vec![format!("w{i}")];
            l.extend((0..3).map(|_| format!("{}", uniform(&mut rng, -2.0, 2.0))));
            lines.push(l);
        }
        for _ in 0..below(&mut rng, 3) {
            if lines.is_empty() {
                break;
            }
            let r = below(&mut rng, lines.len());
            match rng.next_u32() % 4 {
                0 if !lines[r].is_empty() => {
                    let c = below(&mut rng, lines[r].len());
                    lines[r][c] = TOKENS[below(&mut rng, TOKENS.len())].to_string();
                }
                1 => lines[r].push(TOKENS[below(&mut rng, TOKENS.len())].to_string()),
                2 => {
                    lines.remove(r);
                }
                _ => {
                    let copy = lines[r].clone();
                    lines.insert(r, copy);
                }
            }
        }
        let text: String = lines.iter().map(|l| l.join(" ") + "\n").collect();
        let (wb, vb) = (bits(&w), format!("{v:?}"));
        match w.read_text(&text, &mut v) {
            Ok(()) => {
                assert!(all_finite(&w), "{text:?}");
                for i in 1..v.len() as u16 {
                    assert_eq!(v.id(v.word(i)), i, "{text:?}");
                }
            }
            Err(e) => {
                assert!(matches!(e, Error::Parse { .. }), "{text:?}: {e}");
                assert_eq!(bits(&w), wb, "{text:?}: {e}");
                assert_eq!(format!("{v:?}"), vb, "{text:?}: {e}");
            }
        }
    }
}

#[test]
fn property_char_vocabularies() {
    let mut rng = Pcg32::seed_from_u64(8);
    const CHARS: &[char] = &['a', 'b', 'c', '?', ' ', 'é', '日', '\0', '\u{10FFFF}'];
    let text = |rng: &mut Pcg32| -> String {
        (0..below(rng, 8))
            .map(|_| CHARS[below(rng, CHARS.len())])
            .collect()
    };
    for _ in 0..3000 {
        let mut v = CharVocab::<4>::from_chars("xyz").unwrap();
        let s = text(&mut rng);
        match v.set_chars(&s) {
            Ok(()) => assert_eq!(v.to_string(), s),
            Err(_) => assert_eq!(v.to_string(), "xyz"),
        }
        let first = CharVocab::<4>::first_seen(&text(&mut rng), '?');
        let mut c = CharCounter::<4>::new();
        let _ = c.add_text(&text(&mut rng));
        let freq: CharVocab<3> = c.most_frequent('?');
        for cv in [&v, &first] {
            // Display and from_chars round trip; ids and characters agree.
            if !cv.is_empty() {
                assert_eq!(CharVocab::<4>::from_chars(&cv.to_string()).unwrap(), *cv);
            }
            let t = text(&mut rng);
            let mut ids = [0_u16; 8];
            let n = cv.encode(&t, &mut ids);
            assert!(ids[..n].iter().all(|&i| (i as usize) < cv.len().max(1)));
            let _ = cv.decode(&[0, 3, u16::MAX]).to_string();
            for (i, &ch) in cv.chars().iter().enumerate() {
                assert_eq!(cv.id(ch), i as u16);
                assert_eq!(cv.char(i as u16), ch);
            }
        }
        assert!(freq.len() <= 3);
    }
}

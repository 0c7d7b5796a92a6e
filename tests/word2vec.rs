//! word2vec: each update is an SGD step on the exact gradient (finite differences),
//! embeddings of a synthetic corpus cluster by word class, the vocabulary and the text
//! format behave.
#![cfg(feature = "word2vec")]
mod common;
use common::Rng;
use edgegrad::Error;
use edgegrad::vocab::{UNK, Vocab, VocabBuilder, words};
use edgegrad::word2vec::{Architecture, Objective, Word2Vec, Word2VecConfig, Word2VecTrainer};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

const V: usize = 9;
const D: usize = 6;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The loss of one prediction from `h`, in `f64`.
fn loss_ref(
    objective: Objective,
    h: &[f64],
    output: &[f64],
    target: usize,
    negatives: &[u16],
) -> f64 {
    let dot = |w: usize| (0..D).map(|c| h[c] * output[w * D + c]).sum::<f64>();
    match objective {
        Objective::NegativeSampling(_) => {
            -sigmoid(dot(target)).ln()
                - negatives
                    .iter()
                    .map(|&n| sigmoid(-dot(n as usize)).ln())
                    .sum::<f64>()
        }
        Objective::Softmax => {
            let z: Vec<f64> = (0..V).map(dot).collect();
            common::logsumexp_f64(&z) - z[target]
        }
    }
}

/// For each architecture × objective: the change of every parameter after one
/// `step` equals `−lr ×` the finite-difference gradient of the loss — with respect to
/// the output vectors and to `h` (for skip-gram `h` is the centre word's vector, so this
/// is its exact gradient; CBOW gives each context vector the full `∂loss/∂h`). With
/// repeats, a noise word drawn twice counts twice (both gradients at the parameters
/// before the step) and a context word listed twice moves twice as far.
#[test]
fn one_step_is_sgd_on_the_exact_gradient() {
    let mut rng = Rng::new(70);
    for (architecture, repeats) in [
        (Architecture::SkipGram, false),
        (Architecture::Cbow, false),
        (Architecture::SkipGram, true),
        (Architecture::Cbow, true),
    ] {
        for objective in [Objective::NegativeSampling(3), Objective::Softmax] {
            let mut model = Box::new(Word2Vec::<V, D>::ZERO);
            model
                .input
                .as_mut_slice()
                .iter_mut()
                .for_each(|x| *x = rng.uniform(-0.5, 0.5));
            model
                .output
                .as_mut_slice()
                .iter_mut()
                .for_each(|x| *x = rng.uniform(-0.5, 0.5));
            let mut trainer = Box::new(Word2VecTrainer::<V, D, 64>::ZERO);
            let config = Word2VecConfig {
                architecture,
                objective,
                window: 2,
                sample: 0.0,
                lr: 0.1,
            };
            trainer
                .init(config, &[0, 5, 4, 3, 3, 2, 2, 1, 1], 100)
                .unwrap();
            let inputs: &[u16] = match (architecture, repeats) {
                (Architecture::SkipGram, _) => &[2],
                (Architecture::Cbow, false) => &[1, 4, 6],
                (Architecture::Cbow, true) => &[1, 4, 1],
            };
            let (target, negatives) = (3_u16, if repeats { [5_u16, 7, 5] } else { [5, 7, 8] });
            let before_in = common::to64(model.input.as_slice());
            let before_out = common::to64(model.output.as_slice());
            let lr = 0.01;
            let loss = trainer
                .step(&mut model, inputs, target, &negatives, lr)
                .unwrap() as f64;
            let h: Vec<f64> = (0..D)
                .map(|c| {
                    inputs
                        .iter()
                        .map(|&i| before_in[i as usize * D + c])
                        .sum::<f64>()
                        / inputs.len() as f64
                })
                .collect();
            let want = loss_ref(objective, &h, &before_out, target as usize, &negatives);
            assert!(
                (loss - want).abs() < 1e-5 * (1.0 + want),
                "{architecture:?} {objective:?}: loss {loss} vs {want}"
            );
            let eps = 1e-5;
            // output vectors
            let after_out = model.output.as_slice();
            for idx in 0..V * D {
                let g = common::central_diff(&mut before_out.clone(), idx, eps, |o| {
                    loss_ref(objective, &h, o, target as usize, &negatives)
                });
                let step = (after_out[idx] as f64 - before_out[idx]) / -lr as f64;
                assert!(
                    (step - g).abs() <= 2e-3 * g.abs().max(0.05),
                    "{architecture:?} {objective:?} output[{idx}]: step {step} vs gradient {g}"
                );
            }
            // input vectors: each input row moved by −lr·∂loss/∂h, others not at all
            let after_in = model.input.as_slice();
            for c in 0..D {
                let g = common::central_diff(&mut h.clone(), c, eps, |hp| {
                    loss_ref(objective, hp, &before_out, target as usize, &negatives)
                });
                for row in 0..V {
                    let step = (after_in[row * D + c] as f64 - before_in[row * D + c]) / -lr as f64;
                    let times = inputs.iter().filter(|&&i| usize::from(i) == row).count();
                    if times > 0 {
                        let g = g * times as f64;
                        assert!(
                            (step - g).abs() <= 2e-3 * g.abs().max(0.05),
                            "{architecture:?} {objective:?} input[{row}][{c}]: step {step} vs {g}"
                        );
                    } else {
                        assert_eq!(step, 0.0);
                    }
                }
            }
        }
    }
}

/// A corpus from a small grammar: words of one class share their contexts.
fn synthetic_corpus(
    rng: &mut Rng,
    sentences: usize,
) -> (Vec<Vec<&'static str>>, [&'static [&'static str]; 3]) {
    const ANIMALS: &[&str] = &["cat", "dog", "horse", "cow", "sheep", "goat"];
    const FOODS: &[&str] = &["bread", "apple", "cheese", "rice", "soup", "grain"];
    const PLACES: &[&str] = &["barn", "field", "house", "river", "forest", "garden"];
    const VERBS: &[&str] = &["eats", "likes", "wants", "smells"];
    let pick = |rng: &mut Rng, xs: &'static [&'static str]| xs[rng.below(xs.len())];
    let corpus = (0..sentences)
        .map(|i| match i % 3 {
            0 => vec![
                "the",
                pick(rng, ANIMALS),
                pick(rng, VERBS),
                "some",
                pick(rng, FOODS),
            ],
            1 => vec![
                "a",
                pick(rng, ANIMALS),
                "sleeps",
                "in",
                "the",
                pick(rng, PLACES),
            ],
            _ => vec![
                "fresh",
                pick(rng, FOODS),
                "is",
                "kept",
                "near",
                "the",
                pick(rng, PLACES),
            ],
        })
        .collect();
    (corpus, [ANIMALS, FOODS, PLACES])
}

#[test]
fn embeddings_of_a_synthetic_corpus_cluster_by_class() {
    let mut rng = Rng::new(71);
    let (corpus, classes) = synthetic_corpus(&mut rng, 3000);
    let mut builder = VocabBuilder::<64, 12>::new();
    corpus
        .iter()
        .flatten()
        .try_for_each(|w| builder.add_word(w))
        .unwrap();
    let mut vocab = Box::new(Vocab::<48, 12>::ZERO);
    builder.build(1, &mut vocab);
    let ids: Vec<Vec<u16>> = corpus
        .iter()
        .map(|s| s.iter().map(|w| vocab.id(w)).collect())
        .collect();
    let total: u64 = ids.iter().map(|s| s.len() as u64).sum();
    for architecture in [Architecture::SkipGram, Architecture::Cbow] {
        for objective in [Objective::NegativeSampling(5), Objective::Softmax] {
            let epochs = 8;
            let lr = if architecture == Architecture::Cbow {
                0.05
            } else {
                0.025
            };
            let config = Word2VecConfig {
                architecture,
                objective,
                window: 3,
                sample: 0.0,
                lr,
            };
            let mut prng = Pcg32::seed_from_u64(5);
            let mut model = Box::new(Word2Vec::<48, 16>::ZERO);
            model.init(&mut prng);
            let mut trainer = Box::new(Word2VecTrainer::<48, 16, 4096>::ZERO);
            trainer
                .init(config, vocab.counts(), epochs * total)
                .unwrap();
            let mut first = None;
            let mut last = 0.0;
            for _ in 0..epochs {
                let mut loss = 0.0;
                let mut n = 0;
                for s in &ids {
                    let st = trainer.train_sentence(&mut model, s, &mut prng).unwrap();
                    loss += st.loss;
                    n += st.predictions;
                }
                last = loss / n as f64;
                first.get_or_insert(last);
            }
            assert!(
                last < first.unwrap(),
                "{architecture:?} {objective:?}: loss did not fall"
            );
            let mut good = 0;
            let mut all = 0;
            for class in classes {
                for w in class {
                    let id = vocab.id(w);
                    let near = model.most_similar::<3>(id, vocab.len()).unwrap();
                    good += near
                        .iter()
                        .filter(|(n, _)| class.contains(&vocab.word(*n)))
                        .count();
                    all += near.len();
                }
            }
            let frac = good as f64 / all as f64;
            assert!(
                frac >= 0.8,
                "{architecture:?} {objective:?}: only {:.0} % of neighbours share the class",
                100.0 * frac
            );
        }
    }
}

#[test]
fn analogy_and_similarity_on_constructed_vectors() {
    let mut w = Box::new(Word2Vec::<6, 3>::ZERO);
    // king = royal + man, queen = royal + woman
    w.input.0 = [
        [0.0; 3],
        [1.0, 1.0, 0.0],
        [1.0, 0.0, 1.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.3, -1.0, -1.0],
    ];
    let (king, queen, man, woman) = (1, 2, 3, 4);
    let best = w.analogy::<2>(king, man, woman, 6).unwrap();
    assert_eq!(best[0].0, queen);
    assert!((w.cosine(king, king).unwrap() - 1.0).abs() < 1e-6);
    assert!(w.cosine(man, woman).unwrap().abs() < 1e-6);
    let near = w.most_similar::<5>(king, 6).unwrap();
    assert_eq!(near.len(), 4);
    assert!(
        near.windows(2).all(|p| p[0].1 >= p[1].1),
        "sorted best first"
    );
    assert!(near.iter().all(|(id, _)| *id != king && *id != 0));
    assert!(w.cosine(0, 9).is_err());
}

#[test]
fn tokenizer_and_vocabulary() {
    let ws: Vec<&str> = words("Hello, WORLD! Ünïcode—words 42x don't").collect();
    assert_eq!(
        ws,
        ["Hello", "WORLD", "Ünïcode", "words", "42x", "don", "t"]
    );
    let mut b = VocabBuilder::<16, 8>::new();
    b.add_text("b a c a b a D d d d averyveryverylongword")
        .unwrap();
    let mut v = Box::new(Vocab::<4, 8>::ZERO);
    b.build(2, &mut v);
    assert_eq!(v.len(), 4);
    assert_eq!((v.word(1), v.count(1)), ("d", 4));
    assert_eq!((v.word(2), v.count(2)), ("a", 3));
    assert_eq!((v.word(3), v.count(3)), ("b", 2));
    assert_eq!(v.id("c"), UNK, "below min_count");
    assert_eq!(v.count(UNK), 2, "c and the over-long word");
    assert_eq!(v.id("A"), 2);
    let mut ids = [9_u16; 4];
    assert_eq!(v.encode("a zebra D", &mut ids), 3);
    assert_eq!(&ids[..3], &[2, UNK, 1]);
    // capacity is reported, not a panic
    let mut small = VocabBuilder::<2, 8>::new();
    assert!(matches!(
        small.add_text("x y z"),
        Err(Error::InvalidLength { .. })
    ));
}

#[test]
fn rebuilt_vocabulary_forgets_its_old_words() {
    let mut v = Box::new(Vocab::<4, 8>::ZERO);
    let mut b = VocabBuilder::<16, 8>::new();
    b.add_text("a a b b c c").unwrap();
    b.build(1, &mut v);
    assert_eq!(v.len(), 4);
    let mut fewer = VocabBuilder::<16, 8>::new();
    fewer.add_text("z z").unwrap();
    fewer.build(1, &mut v);
    assert_eq!(v.len(), 2);
    assert_eq!((v.word(1), v.word(2), v.word(3)), ("z", "", ""));
    assert_eq!((v.id("a"), v.count(2)), (UNK, 0));
}

#[test]
fn text_format_round_trip_and_errors() {
    let mut vocab = Box::new(Vocab::<5, 8>::ZERO);
    vocab
        .set_words(["alpha", "beta", "gamma"].into_iter())
        .unwrap();
    let mut w = Box::new(Word2Vec::<5, 3>::ZERO);
    w.init(&mut Pcg32::seed_from_u64(2));
    let mut text = String::new();
    w.write_text(&vocab, &mut text).unwrap();
    assert!(text.starts_with("3 3\nalpha "));
    let mut w2 = Box::new(Word2Vec::<5, 3>::ZERO);
    let mut v2 = Box::new(Vocab::<5, 8>::ZERO);
    w2.read_text(&text, &mut v2).unwrap();
    for id in 1..4 {
        assert_eq!(w2.input.row(id), w.input.row(id), "exact round trip");
        assert_eq!(v2.word(id as u16), vocab.word(id as u16));
    }
    // malformed files: the line is named and nothing changes
    let cases: &[(&str, usize)] = &[
        ("", 1),
        ("3\n", 1),
        ("2 4\na 1 2 3 4\nb 1 2 3 4\n", 1),
        ("5 3\n", 1),
        ("2 3\na 1 2 3\nb 1 2\n", 3),
        ("2 3\na 1 2 3\nb 1 2 x\n", 3),
        ("2 3\na 1 2 3 4\nb 1 2 3\n", 2),
        ("2 3\na 1 2 3\n", 3),
        ("1 3\na 1 2 3\nb 1 2 3\n", 3),
        ("1 3\nwaytoolongword 1 2 3\n", 2),
        ("1 3\na 1 nan 3\n", 2),
    ];
    for &(bad, line) in cases {
        let err = w2.read_text(bad, &mut v2).unwrap_err();
        assert!(
            matches!(err, Error::Parse { line: l, .. } if l == line),
            "{bad:?}: {err}"
        );
        assert_eq!(w2.input.row(1), w.input.row(1));
        assert_eq!(v2.word(1), "alpha");
    }
}

#[test]
fn trainer_rejects_bad_settings_and_ids() {
    let mut t = Box::new(Word2VecTrainer::<V, D, 64>::ZERO);
    let counts = [0, 1, 1, 1, 1, 1, 1, 1, 1];
    let bad = |c: Word2VecConfig| {
        let mut fresh = Box::new(Word2VecTrainer::<V, D, 64>::ZERO);
        fresh.init(c, &counts, 10).is_err()
    };
    assert!(bad(Word2VecConfig {
        objective: Objective::NegativeSampling(0),
        ..Word2VecConfig::default()
    }));
    assert!(bad(Word2VecConfig {
        window: 0,
        ..Word2VecConfig::default()
    }));
    assert!(bad(Word2VecConfig {
        lr: -1.0,
        ..Word2VecConfig::default()
    }));
    assert!(t.init(Word2VecConfig::default(), &[0; 9], 10).is_err());
    assert!(t.init(Word2VecConfig::default(), &[1; 10], 10).is_err());
    t.init(Word2VecConfig::default(), &counts, 10).unwrap();
    let mut m = Box::new(Word2Vec::<V, D>::ZERO);
    let mut r = Pcg32::seed_from_u64(1);
    assert!(matches!(
        t.train_sentence(&mut m, &[1, 2, 9], &mut r),
        Err(Error::IndexOutOfRange { index: 9, .. })
    ));
    assert!(t.step(&mut m, &[], 1, &[], 0.1).is_err());
}

#[test]
fn fixed_edge_cases() {
    // a bad id is an error, not a panic
    let w = Box::new(Word2Vec::<4, 2>::ZERO);
    assert!(matches!(
        w.most_similar::<2>(7, 4),
        Err(Error::IndexOutOfRange { index: 7, .. })
    ));
    // words read from a file are matched case-insensitively, like every lookup
    let mut v = Box::new(Vocab::<4, 8>::ZERO);
    let mut m = Box::new(Word2Vec::<4, 2>::ZERO);
    m.read_text("2 2\nKing 0.5 1\nqueen 1 0.5\n", &mut v)
        .unwrap();
    assert_eq!(v.id("king"), 1);
    assert_eq!(v.id("KING"), 1);
    assert_eq!(v.word(1), "king");
    assert!(v.set_words(["ok", ""].into_iter()).is_err());
    // sizes that cannot work are refused at init
    let counts = [0, 1, 1, 1];
    let ns = Word2VecConfig::default();
    let mut no_table = Box::new(Word2VecTrainer::<4, 2, 0>::ZERO);
    assert!(no_table.init(ns, &counts, 10).is_err());
    let mut no_buffer = Box::new(Word2VecTrainer::<4, 2, 16, 0>::ZERO);
    assert!(no_buffer.init(ns, &counts, 10).is_err());
    let mut r = Pcg32::seed_from_u64(1);
    assert!(no_buffer.train_sentence(&mut m, &[1, 2], &mut r).is_err());
}

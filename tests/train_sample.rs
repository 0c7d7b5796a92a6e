//! The model-agnostic pieces: training over any declared parameters (optimisers,
//! clipping, state), sampling over a logits slice, and character vocabularies.
mod common;
use common::Rng;
use edgegrad::Error;
use edgegrad::kernels::Adam;
use edgegrad::params::{self, Init, Params, ParamsMut};
use edgegrad::sample::{Sampling, sample};
use edgegrad::tensor::Matrix;
use edgegrad::train::{self, OptState, Optimizer, TrainConfig};
use edgegrad::vocab::{CharCounter, CharVocab};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

edgegrad::params! {
    /// A least-squares problem's parameters: a matrix and a vector.
    pub struct Fit<const N: usize> {
        /// `N × N`.
        w: Matrix<N, N> = "w", Init::Zeros;
        /// `N`.
        b: [f32; N] = "b", Init::Zeros;
    }
}

/// Gradient of `½‖W·1 + b − target‖² + ½‖W‖²` (a convex problem with a known
/// minimum), into `g`.
fn gradient<const N: usize>(p: &Fit<N>, target: &[f32; N], g: &mut Fit<N>) {
    for (i, t) in target.iter().enumerate() {
        let r: f32 = p.w.row(i).iter().sum::<f32>() + p.b[i] - t;
        for (gw, w) in g.w.row_mut(i).iter_mut().zip(p.w.row(i)) {
            *gw = r + w;
        }
        g.b[i] = r;
    }
}

#[test]
fn every_optimizer_minimises_over_the_declared_tensors() {
    let target = [1.0, -2.0, 0.5];
    for optimizer in [
        Optimizer::Sgd { lr: 0.1 },
        Optimizer::Momentum {
            lr: 0.05,
            momentum: 0.9,
        },
        Optimizer::Adam(Adam::with_lr(0.05)),
    ] {
        let (mut p, mut g) = (Fit::<3>::ZERO, Fit::<3>::ZERO);
        let mut state = OptState::ZERO;
        let cfg = TrainConfig {
            optimizer,
            max_grad_norm: Some(10.0),
        };
        for _ in 0..2000 {
            gradient(&p, &target, &mut g);
            train::apply_gradients(&mut p, &mut g, &mut state, &cfg).unwrap();
        }
        assert_eq!(state.t, 2000);
        // At the minimum W = r·1ᵀ… solve: b absorbs the residual, W → the rows' share.
        gradient(&p, &target, &mut g);
        let norm = params::global_norm(&g);
        assert!(
            norm < 1e-2,
            "{optimizer:?}: gradient norm {norm} at the end"
        );
        state.reset();
        assert_eq!(state.t, 0);
        assert_eq!(state.m, Fit::ZERO);
    }
}

#[test]
fn clipping_scales_every_tensor_and_non_finite_gradients_change_nothing() {
    let mut g = Fit::<2>::ZERO;
    g.w.0 = [[3.0, 0.0], [0.0, 0.0]];
    g.b = [0.0, 4.0];
    assert_eq!(train::clip_grad_norm(&mut g, 1.0).unwrap(), 5.0);
    assert!((params::global_norm(&g) - 1.0).abs() < 1e-5);
    assert!((g.b[1] - 0.8).abs() < 1e-5);
    // a NaN in the second tensor: an error naming it, nothing changed anywhere
    let mut p = Fit::<2>::ZERO;
    p.b = [1.0, 1.0];
    g.b[0] = f32::NAN;
    let bits = |g: &Fit<2>| {
        g.tensors()
            .map(|t| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
    };
    let before_g = bits(&g);
    let mut state = OptState::ZERO;
    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(Adam::default()),
        max_grad_norm: Some(1.0),
    };
    assert_eq!(
        train::apply_gradients(&mut p, &mut g, &mut state, &cfg),
        Err(Error::NonFinite {
            what: "clip_grad_norm gradient slice",
            index: 1
        })
    );
    assert_eq!(bits(&g), before_g);
    assert_eq!(p.b, [1.0, 1.0]);
    assert_eq!(state.t, 0);
    assert!(matches!(
        train::clip_grad_norm(&mut g, -1.0),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn sampling_over_a_slice() {
    let mut rng = Pcg32::seed_from_u64(3);
    let logits = [0.5, 2.0, -1.0, 2.0, 1.5];
    let mut probs = [0.0; 5];
    // greedy: the first of the tied best, no draw from the generator
    let mut r2 = Pcg32::seed_from_u64(3);
    assert_eq!(
        sample(&logits, Sampling::Greedy, &mut probs, &mut r2).unwrap(),
        1
    );
    assert_eq!(r2, Pcg32::seed_from_u64(3));
    // top-2 keeps both tied tokens, and only them
    let mut seen = [0; 5];
    for _ in 0..2000 {
        let t = sample(
            &logits,
            Sampling::TopK {
                k: 2,
                temperature: 1.0,
            },
            &mut probs,
            &mut rng,
        )
        .unwrap();
        seen[t as usize] += 1;
    }
    assert_eq!(seen[0] + seen[2] + seen[4], 0);
    assert!(seen[1] > 800 && seen[3] > 800, "{seen:?}");
    // temperature 1: frequencies follow softmax(logits)
    let mut counts = [0_f64; 5];
    let n = 20000;
    for _ in 0..n {
        counts[sample(&logits, Sampling::Temperature(1.0), &mut probs, &mut rng).unwrap()
            as usize] += 1.0;
    }
    let want = common::softmax_ref(&logits);
    for (c, w) in counts.iter().zip(&want) {
        assert!((c / n as f64 - w).abs() < 0.015, "{counts:?} vs {want:?}");
    }
    // a tiny temperature is greedy; -inf logits are never chosen
    let masked = [f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY];
    for _ in 0..100 {
        assert_eq!(
            sample(
                &masked,
                Sampling::Temperature(1e-30),
                &mut probs[..3],
                &mut rng
            )
            .unwrap(),
            1
        );
    }
    // errors
    assert!(matches!(
        sample(
            &[1.0, f32::NAN],
            Sampling::Greedy,
            &mut probs[..2],
            &mut rng
        ),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(sample(&logits, Sampling::Temperature(0.0), &mut probs, &mut rng).is_err());
    assert!(
        sample(
            &logits,
            Sampling::Temperature(f32::INFINITY),
            &mut probs,
            &mut rng
        )
        .is_err()
    );
    assert!(
        sample(
            &logits,
            Sampling::TopK {
                k: 0,
                temperature: 1.0
            },
            &mut probs,
            &mut rng
        )
        .is_err()
    );
    assert!(
        sample(
            &logits,
            Sampling::TopK {
                k: 6,
                temperature: 1.0
            },
            &mut probs,
            &mut rng
        )
        .is_err()
    );
    assert!(sample(&logits, Sampling::Greedy, &mut probs[..4], &mut rng).is_err());
    assert!(sample(&[], Sampling::Greedy, &mut [], &mut rng).is_err());
}

#[test]
fn character_vocabularies() {
    let text = "abracadabra!";
    let v = CharVocab::<8>::first_seen(text, '?');
    assert_eq!(v.to_string(), "abrcd!?");
    assert_eq!(v.len(), 7);
    let mut ids = [0_u16; 16];
    let n = v.encode("cab?z", &mut ids);
    assert_eq!(&ids[..n], &[3, 0, 1, 6, 6]);
    assert_eq!(v.decode(&ids[..n]).to_string(), "cab??");
    assert_eq!(v.char(200), '?');
    // a saved list reads back as the same vocabulary
    assert_eq!(CharVocab::<8>::from_chars(&v.to_string()).unwrap(), v);
    assert!(matches!(
        CharVocab::<4>::from_chars("abcde"),
        Err(Error::InvalidLength { found: 5, .. })
    ));
    assert!(CharVocab::<4>::from_chars("").is_err());
    assert!(CharVocab::<4>::from_chars("aba").is_err());
    let mut in_place = CharVocab::<8>::EMPTY;
    in_place.set_chars("xy?").unwrap();
    assert!(in_place.set_chars("xx").is_err());
    assert_eq!(in_place.to_string(), "xy?", "unchanged by the refused list");
    // frequencies: ties by character; the other-character is never one of the list
    let mut counter = CharCounter::<16>::new();
    counter.add_text("banana bread??").unwrap();
    assert_eq!(counter.distinct(), 8);
    // a ×4, then b and n ×2 (b first), then the other-character
    assert_eq!(counter.most_frequent::<4>('?').to_string(), "abn?");
    let mut small = CharCounter::<3>::new();
    assert!(small.add_text("abcd").is_err());
    // Unicode characters are single tokens
    let u = CharVocab::<4>::first_seen("héé", '·');
    assert_eq!(u.to_string(), "hé·");
}

#[test]
fn random_texts_round_trip_through_a_vocabulary_of_their_alphabet() {
    let mut rng = Rng::new(90);
    let alphabet: Vec<char> = "abcdefghij .,éß".chars().collect();
    for _ in 0..50 {
        let text: String = (0..40)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let v = CharVocab::<32>::first_seen(&text, '\u{1}');
        let mut ids = [0_u16; 64];
        let n = v.encode(&text, &mut ids);
        assert_eq!(v.decode(&ids[..n]).to_string(), text);
    }
}

#[test]
fn model_agnostic_state_sizes() {
    type P = Fit<4>;
    assert_eq!(OptState::<P>::BYTES, 2 * P::BYTES + 4);
    assert_eq!(<P as Params>::TENSORS, 2);
    let mut p = P::ZERO;
    p.tensor_mut(1)[3] = 2.0;
    assert_eq!(p.b[3], 2.0);
}

#[test]
fn a_fully_masked_row_has_nothing_to_sample_and_vocabularies_fill_in_place() {
    let mut rng = Pcg32::seed_from_u64(5);
    let masked = [f32::NEG_INFINITY; 4];
    let mut probs = [0.0; 4];
    for s in [
        Sampling::Greedy,
        Sampling::Temperature(1.0),
        Sampling::TopK {
            k: 2,
            temperature: 1.0,
        },
    ] {
        assert!(matches!(
            sample(&masked, s, &mut probs, &mut rng),
            Err(Error::InvalidParameter {
                what: "sampling logits",
                ..
            })
        ));
    }
    let mut counter = CharCounter::<8>::new();
    counter.add_text("aab").unwrap();
    let mut v = CharVocab::<3>::EMPTY;
    counter.set_most_frequent(&mut v, '?');
    assert_eq!(v.to_string(), "ab?");
    v.set_first_seen("zz", '#');
    assert_eq!(v.to_string(), "z#");
}

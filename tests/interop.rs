//! Safetensors interop with NumPy and the Python `safetensors` package.
//!
//! `numpy_file_gives_numpy_logits` loads weights written by `tests/interop.py` (the
//! committed `tests/data/numpy_lm.*`, or a fresh pair in `$EDGEGRAD_INTEROP_IN`) and
//! must reproduce the logits and loss of that script's NumPy implementation.
//! `file_for_python` writes `edgegrad_lm.safetensors` and the values it holds into
//! `$EDGEGRAD_INTEROP_OUT` (default `target/tmp/interop`), which
//! `python3 tests/interop.py check DIR` then loads with the `safetensors` package.
mod common;
use std::fmt::Write as _;
use std::path::PathBuf;

use edgegrad::attention::{AttentionCache, AttentionLm, AttentionWeights};
use rand_core::SeedableRng;

// The shapes of tests/interop.py.
const V: usize = 13;
const T: usize = 10;
const D: usize = 12;
const DK: usize = 6;
type Lm = AttentionLm<V, T, D, DK>;
type Weights<'a> = AttentionWeights<'a, V, T, D, DK>;

/// The committed NumPy file, embedded aligned so it can also be used in place.
static NUMPY_LM: &[u8] = edgegrad::include_safetensors!("data/numpy_lm.safetensors");

struct Reference {
    tokens: Vec<u16>,
    loss: f64,
    logits: Vec<Vec<f64>>,
}

fn parse_reference(text: &str) -> Reference {
    let mut lines = text.lines();
    let mut field = |key: &str| {
        let line = lines.next().expect("reference line");
        let rest = line.strip_prefix(key).expect(key);
        rest.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let tokens = field("tokens ")
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    let loss = field("loss ")[0].parse().unwrap();
    let rows: usize = field("logits ")[0].parse().unwrap();
    let logits = (0..rows)
        .map(|_| field("").iter().map(|x| x.parse().unwrap()).collect())
        .collect();
    Reference {
        tokens,
        loss,
        logits,
    }
}

fn check_against_reference(weights: Weights<'_>, reference: &Reference, what: &str) {
    let mut cache = Box::new(AttentionCache::<V, T, D, DK>::ZERO);
    let loss = weights.forward(&reference.tokens, &mut cache).unwrap();
    let tol = |r: f64| 1e-4 * (1.0 + r.abs());
    assert!(
        (f64::from(loss) - reference.loss).abs() < tol(reference.loss),
        "{what}: loss {loss} vs NumPy {}",
        reference.loss
    );
    for (i, want) in reference.logits.iter().enumerate() {
        let got = cache.logits(i).unwrap();
        for (j, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(g) - w).abs() < tol(w),
                "{what}: logits[{i}][{j}] = {g}, NumPy {w}"
            );
        }
    }
}

#[test]
fn numpy_file_gives_numpy_logits() {
    let (file, reference) = match std::env::var_os("EDGEGRAD_INTEROP_IN") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            (
                std::fs::read(dir.join("numpy_lm.safetensors")).unwrap(),
                std::fs::read_to_string(dir.join("numpy_lm.reference.txt")).unwrap(),
            )
        }
        None => (
            NUMPY_LM.to_vec(),
            include_str!("data/numpy_lm.reference.txt").to_owned(),
        ),
    };
    let reference = parse_reference(&reference);
    assert_eq!(reference.tokens.len(), T);

    // Copied into a model...
    let mut model = Box::new(Lm::ZERO);
    model.load_safetensors(&file).unwrap();
    check_against_reference(model.weights(), &reference, "loaded model");

    // ...and read in place, from an aligned copy and from the embedded file.
    let copy = common::AlignedBytes::new(&file);
    let bytes = copy.bytes();
    let weights = Weights::from_safetensors(bytes).unwrap();
    assert_eq!(weights, model.weights());
    check_against_reference(weights, &reference, "weights in place");
    assert_eq!(NUMPY_LM.as_ptr() as usize % 64, 0);
    let embedded = Weights::from_safetensors(NUMPY_LM).unwrap();
    if std::env::var_os("EDGEGRAD_INTEROP_IN").is_none() {
        assert_eq!(embedded, model.weights());
    }
}

#[test]
fn file_for_python() {
    let dir = std::env::var_os("EDGEGRAD_INTEROP_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut model = Box::new(Lm::ZERO);
    model.init(&mut rand_pcg::Pcg32::seed_from_u64(2024));
    let mut rng = common::Rng::new(5);
    for b in model.b_out.as_mut_slice() {
        *b = rng.uniform(-1.0, 1.0);
    }
    let tokens: Vec<u16> = (0..T).map(|_| rng.below(V) as u16).collect();
    let mut cache = Box::new(AttentionCache::<V, T, D, DK>::ZERO);
    let loss = model.forward(&tokens, &mut cache).unwrap();

    let mut file = vec![0_u8; Lm::SAFETENSORS_BYTES];
    assert_eq!(model.to_safetensors(&mut file).unwrap(), file.len());
    std::fs::write(dir.join("edgegrad_lm.safetensors"), &file).unwrap();

    let mut expected = String::new();
    let list = |xs: &mut dyn Iterator<Item = String>| xs.collect::<Vec<_>>().join(" ");
    writeln!(
        expected,
        "tokens {}",
        list(&mut tokens.iter().map(u16::to_string))
    )
    .unwrap();
    writeln!(expected, "loss {loss:?}").unwrap();
    let logits = (0..T).flat_map(|i| cache.logits(i).unwrap().to_vec());
    writeln!(
        expected,
        "logits_values {}",
        list(&mut logits.map(|x| format!("{x:?}")))
    )
    .unwrap();
    for (name, t) in Lm::TENSOR_NAMES.iter().zip(model.tensors()) {
        writeln!(
            expected,
            "{name} {}",
            list(&mut t.iter().map(|x| format!("{x:?}")))
        )
        .unwrap();
    }
    std::fs::write(dir.join("edgegrad_lm.expected.txt"), expected).unwrap();
}

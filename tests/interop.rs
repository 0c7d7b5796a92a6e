//! Safetensors interop with NumPy and the Python `safetensors` package.
//!
//! `numpy_file_gives_numpy_logits` (the attention LM) and
//! `numpy_gpt2_file_gives_numpy_logits` (the GPT, under Hugging Face GPT-2's names) load
//! weights written by `tests/interop.py` (the committed `tests/data/numpy_*`, or fresh
//! pairs in `$EDGEGRAD_INTEROP_IN`) and must reproduce the logits and loss of that
//! script's NumPy implementations. `file_for_python` and `gpt_file_for_python` write
//! `edgegrad_{lm,gpt}.safetensors` and the values they hold into
//! `$EDGEGRAD_INTEROP_OUT` (default `target/tmp/interop`), which
//! `python3 tests/interop.py check DIR` then loads with the `safetensors` package.
#![cfg(all(feature = "attention", feature = "gpt", feature = "safetensors"))]
mod common;
use std::fmt::Write as _;
use std::path::PathBuf;

use edgegrad::attention::{AttentionCache, AttentionLm, AttentionWeights};
use edgegrad::gpt::{Gpt, GptActivations, GptWeights};
use edgegrad::params::Params;
use rand_core::SeedableRng;

// The shapes of tests/interop.py.
const V: usize = 13;
const T: usize = 10;
const D: usize = 12;
const DK: usize = 6;
type Lm = AttentionLm<V, T, D, DK>;
type Weights<'a> = AttentionWeights<'a, V, T, D, DK>;

// The GPT shapes of tests/interop.py.
type Gpt2 = Gpt<13, 10, 12, 3, 24, 2>;

/// The committed NumPy files, embedded aligned so they can also be used in place.
static NUMPY_LM: &[u8] = edgegrad::include_safetensors!("data/numpy_lm.safetensors");
static NUMPY_GPT: &[u8] = edgegrad::include_safetensors!("data/numpy_gpt.safetensors");

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

/// Checks a model's loss and logits (`run(tokens)`) against NumPy's.
fn check_against_reference(
    reference: &Reference,
    what: &str,
    run: impl FnOnce(&[u16]) -> (f32, Vec<Vec<f32>>),
) {
    let (loss, logits) = run(&reference.tokens);
    let tol = |r: f64| 1e-4 * (1.0 + r.abs());
    assert!(
        (f64::from(loss) - reference.loss).abs() < tol(reference.loss),
        "{what}: loss {loss} vs NumPy {}",
        reference.loss
    );
    assert_eq!(logits.len(), reference.logits.len());
    for (i, (got, want)) in logits.iter().zip(&reference.logits).enumerate() {
        for (j, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(g) - w).abs() < tol(w),
                "{what}: logits[{i}][{j}] = {g}, NumPy {w}"
            );
        }
    }
}

fn lm_run(weights: Weights<'_>) -> impl FnOnce(&[u16]) -> (f32, Vec<Vec<f32>>) {
    move |tokens| {
        let mut cache = Box::new(AttentionCache::<V, T, D, DK>::ZERO);
        let loss = weights.forward(tokens, &mut cache).unwrap();
        let rows = (0..tokens.len()).map(|i| cache.logits(i).unwrap().to_vec());
        (loss, rows.collect())
    }
}

fn gpt_run(
    weights: GptWeights<'_, 13, 10, 12, 3, 24, 2>,
) -> impl FnOnce(&[u16]) -> (f32, Vec<Vec<f32>>) {
    move |tokens| {
        let mut acts = Box::new(GptActivations::ZERO);
        let loss = weights.loss(tokens, &mut acts).unwrap();
        let rows = (0..tokens.len()).map(|i| acts.logits(i).unwrap().to_vec());
        (loss, rows.collect())
    }
}

/// The NumPy file and reference of `model` ("lm", "gpt"): fresh ones from
/// `$EDGEGRAD_INTEROP_IN`, else the committed ones.
fn numpy_pair(model: &str, committed: (&[u8], &str)) -> (Vec<u8>, Reference) {
    let (file, reference) = match std::env::var_os("EDGEGRAD_INTEROP_IN") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            (
                std::fs::read(dir.join(format!("numpy_{model}.safetensors"))).unwrap(),
                std::fs::read_to_string(dir.join(format!("numpy_{model}.reference.txt"))).unwrap(),
            )
        }
        None => (committed.0.to_vec(), committed.1.to_owned()),
    };
    (file, parse_reference(&reference))
}

#[test]
fn numpy_file_gives_numpy_logits() {
    let committed = include_str!("data/numpy_lm.reference.txt");
    let (file, reference) = numpy_pair("lm", (NUMPY_LM, committed));
    assert_eq!(reference.tokens.len(), T);

    // Copied into a model...
    let mut model = Box::new(Lm::ZERO);
    model.load_safetensors(&file).unwrap();
    check_against_reference(&reference, "loaded model", lm_run(model.weights()));

    // ...and read in place, from an aligned copy and from the embedded file.
    let copy = common::AlignedBytes::new(&file);
    let weights = Weights::from_safetensors(copy.bytes()).unwrap();
    assert_eq!(weights, model.weights());
    check_against_reference(&reference, "weights in place", lm_run(weights));
    assert_eq!(NUMPY_LM.as_ptr() as usize % 64, 0);
    let embedded = Weights::from_safetensors(NUMPY_LM).unwrap();
    if std::env::var_os("EDGEGRAD_INTEROP_IN").is_none() {
        assert_eq!(embedded, model.weights());
    }
}

#[test]
fn numpy_gpt2_file_gives_numpy_logits() {
    let committed = include_str!("data/numpy_gpt.reference.txt");
    let (file, reference) = numpy_pair("gpt", (NUMPY_GPT, committed));
    let mut model = Box::new(Gpt2::ZERO);
    model.load_safetensors(&file).unwrap();
    check_against_reference(&reference, "loaded GPT", gpt_run(model.weights()));
    let copy = common::AlignedBytes::new(&file);
    let weights = GptWeights::from_safetensors(copy.bytes()).unwrap();
    assert_eq!(weights, model.weights());
    check_against_reference(&reference, "GPT weights in place", gpt_run(weights));
}

/// Writes `file` and the values Python must find in it as `edgegrad_{model}.*`.
fn write_for_python<P: Params>(
    model: &str,
    file: &[u8],
    params: &P,
    run: (&[u16], f32, Vec<Vec<f32>>),
) {
    let dir = std::env::var_os("EDGEGRAD_INTEROP_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("edgegrad_{model}.safetensors")), file).unwrap();
    let (tokens, loss, logits) = run;
    let mut expected = String::new();
    let list = |xs: &mut dyn Iterator<Item = String>| xs.collect::<Vec<_>>().join(" ");
    writeln!(
        expected,
        "tokens {}",
        list(&mut tokens.iter().map(u16::to_string))
    )
    .unwrap();
    writeln!(expected, "loss {loss:?}").unwrap();
    let values = logits.iter().flatten().map(|x| format!("{x:?}"));
    writeln!(expected, "logits_values {}", list(&mut values.into_iter())).unwrap();
    for i in 0..P::TENSORS {
        let name = edgegrad::params::name::<P>(i).unwrap();
        let t = params.tensor(i);
        writeln!(
            expected,
            "{name} {}",
            list(&mut t.iter().map(|x| format!("{x:?}")))
        )
        .unwrap();
    }
    std::fs::write(dir.join(format!("edgegrad_{model}.expected.txt")), expected).unwrap();
}

#[test]
fn file_for_python() {
    let mut model = Box::new(Lm::ZERO);
    model.init(&mut rand_pcg::Pcg32::seed_from_u64(2024));
    let mut rng = common::Rng::new(5);
    for b in model.b_out.as_mut_slice() {
        *b = rng.uniform(-1.0, 1.0);
    }
    let tokens: Vec<u16> = (0..T).map(|_| rng.below(V) as u16).collect();
    let (loss, logits) = lm_run(model.weights())(&tokens);
    let mut file = vec![0_u8; Lm::SAFETENSORS_BYTES];
    assert_eq!(model.to_safetensors(&mut file).unwrap(), file.len());
    write_for_python("lm", &file, &*model, (&tokens, loss, logits));
}

#[test]
fn gpt_file_for_python() {
    let mut model = Box::new(Gpt2::ZERO);
    model.init(&mut rand_pcg::Pcg32::seed_from_u64(2025));
    // Biases and gains away from their initial 0 and 1, so they are checked too.
    let mut rng = common::Rng::new(6);
    for i in 0..Gpt2::TENSORS {
        for x in edgegrad::params::ParamsMut::tensor_mut(&mut *model, i) {
            *x += rng.uniform(-0.2, 0.2);
        }
    }
    let tokens: Vec<u16> = (0..10).map(|_| rng.below(13) as u16).collect();
    let (loss, logits) = gpt_run(model.weights())(&tokens);
    let mut file = vec![0_u8; Gpt2::SAFETENSORS_BYTES];
    assert_eq!(model.to_safetensors(&mut file).unwrap(), file.len());
    write_for_python("gpt", &file, &*model, (&tokens, loss, logits));
}

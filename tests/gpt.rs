//! The GPT: forward against an `f64` reference, every parameter's gradient by finite
//! differences, causality, KV-cache decoding, overfitting, errors, and its safetensors
//! files (round trip, Hugging Face's variants, the same strictness for the rest).
#![cfg(all(feature = "gpt", feature = "safetensors"))]
mod common;
use common::{AlignedBytes, Rng, gpt_ref, safetensors_file};
use edgegrad::gpt::{
    Gpt, GptActivations, GptCache, GptDecoder, GptOptState, GptWeights, Optimizer, Sampling,
    TrainConfig,
};
use edgegrad::kernels::Adam;
use edgegrad::params::{Params, ParamsMut};
use edgegrad::{Error, FormatProblem};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

const V: usize = 11;
const T: usize = 9;
const D: usize = 12;
const N: usize = 3;
const F: usize = 20;
const L: usize = 2;
type Model = Gpt<V, T, D, N, F, L>;
type Cache = GptCache<V, T, D, N, F, L>;
/// One layer, one head: the smallest composition.
type Single = Gpt<7, 6, 8, 1, 16, 1>;

/// A model with GPT-2's initialisation, then every tensor (biases and gains too)
/// shifted at random so that every gradient is exercised.
fn model<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
>(
    seed: u64,
) -> Box<Gpt<V, T, D, N, F, L>> {
    let mut m = Box::new(Gpt::ZERO);
    m.init(&mut Pcg32::seed_from_u64(seed));
    let mut rng = Rng::new(seed);
    for i in 0..Gpt::<V, T, D, N, F, L>::TENSORS {
        for x in m.tensor_mut(i) {
            *x += rng.uniform(-0.3, 0.3);
        }
    }
    m
}

fn params64<P: Params>(m: &P) -> Vec<Vec<f64>> {
    (0..P::TENSORS).map(|i| common::to64(m.tensor(i))).collect()
}

fn tokens(rng: &mut Rng, v: usize, n: usize) -> Vec<u16> {
    (0..n).map(|_| rng.below(v) as u16).collect()
}

fn check_forward<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
>(
    seed: u64,
) {
    let m = model::<V, T, D, N, F, L>(seed);
    let mut rng = Rng::new(seed + 100);
    let mut cache = Box::new(GptCache::<V, T, D, N, F, L>::ZERO);
    for len in 2..=T {
        let x = tokens(&mut rng, V, len);
        let loss = m.forward(&x, &mut cache).unwrap();
        let (logits, want) = gpt_ref((V, D, N, F, L), &params64(&*m), &x);
        assert!(
            (loss as f64 - want).abs() <= 1e-5 * (1.0 + want),
            "loss {loss} vs {want}"
        );
        for i in 0..len {
            common::assert_close(
                cache.logits(i).unwrap(),
                &logits[i * V..(i + 1) * V],
                1e-4,
                1e-4,
                "logits",
            );
        }
        for layer in 0..L {
            for head in 0..N {
                let att = cache.attention(layer, head, len - 1).unwrap();
                assert_eq!(att.len(), len);
                assert!((att.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn forward_matches_f64_reference() {
    check_forward::<V, T, D, N, F, L>(1);
    // N = 1, L = 1 against the same independent computation
    check_forward::<7, 6, 8, 1, 16, 1>(2);
    // four heads, three layers, F = 4D
    check_forward::<5, 4, 8, 4, 32, 3>(3);
}

/// Central differences of the `f64` reference loss against the analytic gradient, on a
/// sample of the entries of every tensor.
#[test]
fn gradients_match_finite_differences_for_every_tensor() {
    let m = model::<V, T, D, N, F, L>(4);
    let mut rng = Rng::new(64);
    let x = tokens(&mut rng, V, 7);
    let mut cache = Box::new(Cache::ZERO);
    let mut grads = Box::new(Model::ZERO);
    m.forward(&x, &mut cache).unwrap();
    m.backward(&mut cache, &mut grads).unwrap();
    let base = params64(&*m);
    let h = 1e-4;
    for ti in 0..Model::TENSORS {
        let name = Model::tensor_name(ti).unwrap().to_string();
        let g = grads.tensor(ti);
        let len = g.len();
        let picks: Vec<usize> = if len <= 40 {
            (0..len).collect()
        } else {
            (0..30).map(|_| rng.below(len)).collect()
        };
        let mut nonzero = 0;
        for idx in picks {
            let mut p = base.clone();
            p[ti][idx] += h;
            let (_, lp) = gpt_ref((V, D, N, F, L), &p, &x);
            p[ti][idx] -= 2.0 * h;
            let (_, lm) = gpt_ref((V, D, N, F, L), &p, &x);
            let num = (lp - lm) / (2.0 * h);
            let got = g[idx] as f64;
            assert!(
                (got - num).abs() <= 3e-3 * num.abs().max(0.05),
                "{name}[{idx}]: analytic {got}, numeric {num}"
            );
            if num.abs() > 1e-6 {
                nonzero += 1;
            }
        }
        // wpe rows past the sequence have no gradient; everything else has some
        if !name.contains("wpe") {
            assert!(nonzero > 0, "{name}: no non-zero gradient sampled");
        }
    }
}

#[test]
fn changing_a_future_token_never_changes_earlier_logits() {
    let m = model::<V, T, D, N, F, L>(5);
    let mut rng = Rng::new(65);
    let (mut c1, mut c2) = (Box::new(Cache::ZERO), Box::new(Cache::ZERO));
    for _ in 0..20 {
        let x = tokens(&mut rng, V, T);
        let j = 1 + rng.below(T - 1);
        let mut y = x.clone();
        y[j] = ((y[j] as usize + 1 + rng.below(V - 1)) % V) as u16;
        m.forward_logits(&x, &mut c1).unwrap();
        m.forward_logits(&y, &mut c2).unwrap();
        for i in 0..j {
            assert_eq!(c1.logits(i), c2.logits(i), "position {i} saw token {j}");
        }
        assert_ne!(c1.logits(j), c2.logits(j));
    }
}

#[test]
fn kv_cache_decoding_equals_full_forward_for_every_prefix() {
    let m = model::<V, T, D, N, F, L>(6);
    let mut rng = Rng::new(66);
    let x = tokens(&mut rng, V, T);
    let mut acts = Box::new(GptActivations::ZERO);
    let mut dec = Box::new(GptDecoder::ZERO);
    m.forward_logits(&x, &mut acts).unwrap();
    for (i, &t) in x.iter().enumerate() {
        let step = *dec.step(m.weights(), t).unwrap();
        common::assert_close(
            &step,
            &common::to64(acts.logits(i).unwrap()),
            1e-4,
            1e-5,
            "decoded logits",
        );
        let mut fresh = Box::new(GptDecoder::ZERO);
        assert_eq!(*fresh.prefill(&*m, &x[..=i]).unwrap(), step);
    }
    assert_eq!(dec.len(), T);
    assert!(matches!(
        dec.step(m.weights(), 0),
        Err(Error::InvalidLength { .. })
    ));
    // truncation branches from a shared prefix
    dec.truncate(3);
    let again = *dec.step(m.weights(), x[3]).unwrap();
    common::assert_close(
        &again,
        &common::to64(acts.logits(3).unwrap()),
        1e-4,
        1e-5,
        "truncated",
    );
}

#[test]
fn overfits_a_tiny_sequence_and_regenerates_it() {
    let mut m = model::<V, T, D, N, F, L>(7);
    m.init(&mut Pcg32::seed_from_u64(7));
    let mut grads = Box::new(Model::ZERO);
    let mut cache = Box::new(Cache::ZERO);
    let mut state = Box::new(GptOptState::ZERO);
    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(Adam::with_lr(0.01)),
        max_grad_norm: Some(1.0),
    };
    let seq: [u16; T] = [3, 1, 4, 1, 5, 9, 2, 6, 5];
    let first = m
        .train_step(&seq, &mut cache, &mut grads, &mut state, &cfg)
        .unwrap();
    let mut last = first;
    for _ in 0..300 {
        last = m
            .train_step(&seq, &mut cache, &mut grads, &mut state, &cfg)
            .unwrap();
    }
    assert!(last.loss < 0.05, "loss {} → {}", first.loss, last.loss);
    let mut dec = Box::new(GptDecoder::ZERO);
    let mut out = [0_u16; T - 1];
    let mut rng = Pcg32::seed_from_u64(1);
    let n = dec
        .generate(&*m, &seq[..1], &mut out, Sampling::Greedy, &mut rng)
        .unwrap();
    assert_eq!(n, T - 1);
    assert_eq!(&out[..], &seq[1..]);
}

#[test]
fn input_errors_are_reported_and_change_nothing() {
    let m = model::<V, T, D, N, F, L>(8);
    let mut cache = Box::new(Cache::ZERO);
    let mut grads = Box::new(Model::ZERO);
    assert!(matches!(
        m.forward(&[1], &mut cache),
        Err(Error::InvalidLength { .. })
    ));
    assert!(m.forward(&[1; T + 1], &mut cache).is_err());
    assert!(matches!(
        m.forward(&[1, V as u16], &mut cache),
        Err(Error::IndexOutOfRange { .. })
    ));
    // no backward pass without a successful forward pass with a loss
    assert!(m.backward(&mut cache, &mut grads).is_err());
    m.forward_logits(&[1, 2, 3], &mut cache).unwrap();
    assert!(m.backward(&mut cache, &mut grads).is_err());
    assert!(grads.tensor(0).iter().all(|&g| g == 0.0));
    let mut dec = Box::new(GptDecoder::ZERO);
    assert!(dec.prefill(&*m, &[]).is_err());
    assert!(dec.step(&*m, V as u16).is_err());
    assert!(dec.is_empty());
}

/// Finite but huge weights whose logits overflow: every pass that returns logits says
/// so instead of returning `Ok` with ±inf or NaN in them.
#[test]
fn overflowing_logits_are_an_error_not_ok() {
    let mut m = model::<V, T, D, N, F, L>(12);
    m.ln_f.weight = [1e30; D];
    for row in &mut m.wte.0 {
        for w in row.iter_mut() {
            *w *= 1e10;
        }
    }
    assert!(m.tensor(0).iter().all(|w| w.is_finite()));
    let mut cache = Box::new(Cache::ZERO);
    let non_finite = |r: Result<(), Error>| matches!(r, Err(Error::NonFinite { .. }));
    assert!(non_finite(m.forward_logits(&[1, 2, 3], &mut cache)));
    assert!(cache.logits(0).is_none(), "no rows after a failed pass");
    assert!(non_finite(m.forward(&[1, 2, 3], &mut cache).map(|_| ())));
    let mut dec = Box::new(GptDecoder::ZERO);
    assert!(non_finite(dec.step(&*m, 1).map(|_| ())));
    assert!(dec.is_empty(), "a failed step decodes nothing");
}

#[test]
fn single_head_single_layer_trains_too() {
    let mut m = model::<7, 6, 8, 1, 16, 1>(9);
    let mut grads = Box::new(Single::ZERO);
    let mut cache = Box::new(GptCache::ZERO);
    let mut state = Box::new(GptOptState::ZERO);
    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(Adam::with_lr(0.02)),
        max_grad_norm: None,
    };
    let seq = [1, 2, 3, 4, 5, 6];
    let first = m
        .train_step(&seq, &mut cache, &mut grads, &mut state, &cfg)
        .unwrap();
    for _ in 0..100 {
        m.train_step(&seq, &mut cache, &mut grads, &mut state, &cfg)
            .unwrap();
    }
    assert!(m.forward(&seq, &mut cache).unwrap() < first.loss / 4.0);
}

// ---- safetensors ----

fn exported(m: &Model) -> Vec<u8> {
    let mut buf = vec![0_u8; Model::SAFETENSORS_BYTES];
    assert_eq!(m.to_safetensors(&mut buf).unwrap(), buf.len());
    buf
}

/// The entries of a GPT-2 file of `m`: `prefix` before every name, then `extra`
/// entries appended, as `transformers` might write them.
fn hf_entries(m: &Model, prefix: &str) -> Vec<(String, &'static str, Vec<usize>, Vec<u8>)> {
    (0..Model::TENSORS)
        .map(|i| {
            let full = Model::tensor_name(i).unwrap().to_string();
            let name = format!("{prefix}{}", full.strip_prefix("transformer.").unwrap());
            let shape = <Model as Params>::LAYOUT.spec(i).unwrap().shape;
            let dims: Vec<usize> = shape.dims().map(|d| d as usize).collect();
            let bytes = m.tensor(i).iter().flat_map(|x| x.to_le_bytes()).collect();
            (name, "F32", dims, bytes)
        })
        .collect()
}

fn loads(file: &[u8]) -> Result<Box<Model>, Error> {
    let mut back = Box::new(Model::ZERO);
    back.load_safetensors(file).map(|()| back)
}

fn refused(file: &[u8]) -> FormatProblem {
    let mut back = model::<V, T, D, N, F, L>(99);
    let before = back.tensor(0).to_vec();
    match back.load_safetensors(file) {
        Err(Error::Safetensors { problem, .. }) => {
            assert_eq!(
                back.tensor(0),
                &before[..],
                "a refused file changed the model"
            );
            problem
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn safetensors_round_trip_and_in_place() {
    let m = model::<V, T, D, N, F, L>(10);
    let file = exported(&m);
    assert_eq!(&*loads(&file).unwrap(), &*m);
    let aligned = AlignedBytes::new(&file);
    let w = GptWeights::<V, T, D, N, F, L>::from_safetensors(aligned.bytes()).unwrap();
    let mut acts = Box::new(GptActivations::ZERO);
    let mut want = Box::new(GptActivations::ZERO);
    w.forward_logits(&[1, 2, 3], &mut acts).unwrap();
    m.forward_logits(&[1, 2, 3], &mut want).unwrap();
    assert_eq!(acts.logits(2), want.logits(2));
    // the file's names are GPT-2's
    let text = String::from_utf8_lossy(&file[8..]).into_owned();
    for name in [
        "transformer.wte.weight",
        "transformer.wpe.weight",
        "transformer.h.1.attn.c_attn.weight",
        "transformer.h.0.mlp.c_proj.bias",
        "transformer.ln_f.bias",
    ] {
        assert!(text.contains(&format!("\"{name}\"")), "{name}");
    }
}

#[test]
fn hugging_face_variants_load() {
    let m = model::<V, T, D, N, F, L>(11);
    let wte: Vec<u8> = m.tensor(0).iter().flat_map(|x| x.to_le_bytes()).collect();
    // GPT2LMHeadModel without and with lm_head.weight; GPT2Model (no prefix)
    let plain = hf_entries(&m, "transformer.");
    let mut with_head = plain.clone();
    with_head.push(("lm_head.weight".into(), "F32", vec![V, D], wte.clone()));
    let bare = hf_entries(&m, "");
    // older versions' mask buffers, any dtype, prefixed or not
    let mut buffers = hf_entries(&m, "");
    for l in 0..L {
        buffers.push((
            format!("h.{l}.attn.bias"),
            "BOOL",
            vec![1, 1, T, T],
            vec![1; T * T],
        ));
        buffers.push((
            format!("h.{l}.attn.masked_bias"),
            "F32",
            vec![],
            (-1e4f32).to_le_bytes().to_vec(),
        ));
    }
    let mut prefixed_buffers = with_head.clone();
    prefixed_buffers.insert(
        3,
        (
            "transformer.h.1.attn.bias".into(),
            "U8",
            vec![1, 1, 4, T],
            vec![1; 4 * T],
        ),
    );
    for entries in [plain, with_head, bare, buffers, prefixed_buffers] {
        let file = safetensors_file(&entries);
        assert_eq!(&*loads(&file).unwrap(), &*m);
        let aligned = AlignedBytes::new(&file);
        GptWeights::<V, T, D, N, F, L>::from_safetensors(aligned.bytes()).unwrap();
    }
}

#[test]
fn everything_else_stays_strict() {
    let m = model::<V, T, D, N, F, L>(12);
    let wte: Vec<u8> = m.tensor(0).iter().flat_map(|x| x.to_le_bytes()).collect();
    let base = hf_entries(&m, "transformer.");
    let with = |extra: (String, &'static str, Vec<usize>, Vec<u8>)| {
        let mut e = base.clone();
        e.push(extra);
        safetensors_file(&e)
    };
    // lm_head.weight must equal wte, be F32 and of its shape
    let mut other = wte.clone();
    other[5] ^= 1;
    assert!(matches!(
        refused(&with(("lm_head.weight".into(), "F32", vec![V, D], other))),
        FormatProblem::Extra { .. }
    ));
    assert!(matches!(
        refused(&with((
            "lm_head.weight".into(),
            "F16",
            vec![V, D],
            wte[..wte.len() / 2].to_vec()
        ))),
        FormatProblem::Extra { .. }
    ));
    assert!(matches!(
        refused(&with((
            "lm_head.weight".into(),
            "F32",
            vec![D, V],
            wte.clone()
        ))),
        FormatProblem::Extra { .. }
    ));
    // buffers only under existing layers, known names, consistent byte lengths
    assert!(matches!(
        refused(&with((
            format!("h.{L}.attn.bias"),
            "BOOL",
            vec![1],
            vec![1]
        ))),
        FormatProblem::UnknownTensor { .. }
    ));
    assert!(matches!(
        refused(&with(("h.0.attn.other".into(), "BOOL", vec![1], vec![1]))),
        FormatProblem::UnknownTensor { .. }
    ));
    assert!(matches!(
        refused(&with(("h.00.attn.bias".into(), "BOOL", vec![1], vec![1]))),
        FormatProblem::UnknownTensor { .. }
    ));
    assert!(matches!(
        refused(&with(("h.0.attn.bias".into(), "BOOL", vec![2], vec![1]))),
        FormatProblem::Extra { .. }
    ));
    assert!(matches!(
        refused(&with(("h.0.attn.bias".into(), "F4", vec![2], vec![1]))),
        FormatProblem::Extra { .. }
    ));
    // twice (with and without the prefix) is a duplicate
    let mut twice = base.clone();
    twice.push(("h.0.attn.bias".into(), "BOOL", vec![1], vec![1]));
    twice.push(("transformer.h.0.attn.bias".into(), "BOOL", vec![1], vec![1]));
    assert!(matches!(
        refused(&safetensors_file(&twice)),
        FormatProblem::Extra { .. }
    ));
    let mut dup = base.clone();
    dup.push(dup[0].clone());
    dup[0].0 = "wte.weight".into();
    assert_eq!(
        refused(&safetensors_file(&dup)),
        FormatProblem::DuplicateTensor
    );
    // a missing tensor is still missing, whatever else is there
    let mut missing = base.clone();
    missing.remove(4);
    missing.push(("lm_head.weight".into(), "F32", vec![V, D], wte.clone()));
    assert_eq!(
        refused(&safetensors_file(&missing)),
        FormatProblem::MissingTensor
    );
    // an extra's bytes must not overlap another entry's, nor leave holes
    let file = with(("h.0.attn.bias".into(), "BOOL", vec![4], vec![1; 4]));
    let text_len = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(file[8..8 + text_len].to_vec()).unwrap();
    let data_len = file.len() - 8 - text_len;
    let moved = header.replace(
        &format!("[{},{}]", data_len - 4, data_len),
        &format!("[{},{}]", 0, 4),
    );
    assert_ne!(moved, header);
    let mut moved_file = (moved.len() as u64).to_le_bytes().to_vec();
    moved_file.extend_from_slice(moved.as_bytes());
    moved_file.extend_from_slice(&file[8 + text_len..]);
    assert_eq!(
        refused(&moved_file),
        FormatProblem::Extra {
            reason: "its data overlaps another entry's"
        }
    );
}

/// The memory formulas of the `gpt` module's documentation, against the types' sizes.
fn check_memory<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
>() {
    let params = 4 * (V * D + T * D + L * (4 * D * D + 2 * D * F + 9 * D + F) + 2 * D);
    assert_eq!(Gpt::<V, T, D, N, F, L>::BYTES, params);
    let acts = 4 * (T * (V + 2 * D + 2) + L * T * (8 * D + 2 * F + 4 + N * T)) + 2 * T;
    let few_words = 0..=32;
    assert!(few_words.contains(&(GptActivations::<V, T, D, N, F, L>::BYTES - acts)));
    let cache = acts + 4 * T * (V + 6 * D + T + F);
    assert!(few_words.contains(&(GptCache::<V, T, D, N, F, L>::BYTES - cache)));
    let decoder = 4 * (2 * L * T * D + 6 * D + T + F + 2 * V);
    assert!(few_words.contains(&(GptDecoder::<V, T, D, N, F, L>::BYTES - decoder)));
}

#[test]
fn documented_memory_formulas_hold() {
    check_memory::<256, 64, 64, 4, 256, 2>();
    check_memory::<32, 16, 16, 2, 64, 2>();
    check_memory::<13, 10, 12, 3, 24, 3>();
}

//! The smallest firmware that uses each part of edgegrad, one image per row of the
//! README's flash-by-feature table: built with no feature it trains softmax regression
//! with the kernels alone (matmul, cross-entropy, matmul_tn, softmax, an SGD step);
//! each feature adds a use of the next part on top of the rows before (Adam; word2vec
//! training; attention LM training; writing and reading its safetensors file;
//! generation from the weights in place). Nothing is printed — no formatting code in
//! the images — and the exit code says whether every part's check passed.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use edgegrad::kernels::{self as k, Accum};
use edgegrad::{MatMut, MatRef};

/// Exits with code 101 without formatting the message (which would add kilobytes).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    semihosting::process::exit(101)
}

const N: usize = 16;
const IN: usize = 8;
const CLASSES: usize = 4;

/// Softmax regression: its parameters and buffers, in `.bss`.
struct Kernels {
    x: [f32; N * IN],
    w: [f32; IN * CLASSES],
    logits: [f32; N * CLASSES],
    dlogits: [f32; N * CLASSES],
    dw: [f32; IN * CLASSES],
    #[cfg(feature = "adam")]
    m: [f32; IN * CLASSES],
    #[cfg(feature = "adam")]
    v: [f32; IN * CLASSES],
}

#[cfg(feature = "word2vec")]
mod w2v {
    pub const V: usize = 16;
    pub const D: usize = 8;
    pub type Model = edgegrad::word2vec::Word2Vec<V, D>;
    pub type Trainer = edgegrad::word2vec::Word2VecTrainer<V, D, 256, 32>;
}

#[cfg(feature = "attention")]
mod lm {
    pub const V: usize = 8;
    pub const T: usize = 8;
    pub const D: usize = 8;
    pub const DK: usize = 4;
    pub type Model = edgegrad::attention::AttentionLm<V, T, D, DK>;
    pub type Cache = edgegrad::attention::AttentionCache<V, T, D, DK>;
    pub type State = edgegrad::attention::AttentionOptState<V, T, D, DK>;
    #[cfg(feature = "inference")]
    pub type Decoder = edgegrad::attention::Decoder<V, T, D, DK>;
    #[cfg(feature = "safetensors")]
    pub const FILE: usize = Model::SAFETENSORS_BYTES;
}

/// Everything the image uses, each part in a `static` of its own (a zero value in
/// `.bss`, the word2vec trainer's settings in `.data`).
struct State<'a> {
    kernels: &'a mut Kernels,
    #[cfg(feature = "word2vec")]
    w2v: (&'a mut w2v::Model, &'a mut w2v::Trainer),
    #[cfg(feature = "attention")]
    lm: &'a mut (lm::Model, lm::Model, lm::Cache, lm::State),
    #[cfg(feature = "safetensors")]
    file: &'a mut edgegrad::safetensors::Aligned<[u8; lm::FILE]>,
    #[cfg(feature = "inference")]
    decoder: &'a mut lm::Decoder,
}

#[entry]
fn main() -> ! {
    static mut KERNELS: Kernels = Kernels {
        x: [0.0; N * IN],
        w: [0.0; IN * CLASSES],
        logits: [0.0; N * CLASSES],
        dlogits: [0.0; N * CLASSES],
        dw: [0.0; IN * CLASSES],
        #[cfg(feature = "adam")]
        m: [0.0; IN * CLASSES],
        #[cfg(feature = "adam")]
        v: [0.0; IN * CLASSES],
    };
    #[cfg(feature = "word2vec")]
    static mut W2V_MODEL: w2v::Model = w2v::Model::ZERO;
    #[cfg(feature = "word2vec")]
    static mut W2V_TRAINER: w2v::Trainer = w2v::Trainer::ZERO;
    #[cfg(feature = "attention")]
    static mut LM: (lm::Model, lm::Model, lm::Cache, lm::State) = (
        lm::Model::ZERO,
        lm::Model::ZERO,
        lm::Cache::ZERO,
        lm::State::ZERO,
    );
    #[cfg(feature = "safetensors")]
    static mut FILE: edgegrad::safetensors::Aligned<[u8; lm::FILE]> =
        edgegrad::safetensors::Aligned([0; lm::FILE]);
    #[cfg(feature = "inference")]
    static mut DECODER: lm::Decoder = lm::Decoder::ZERO;

    let state = State {
        kernels: KERNELS,
        #[cfg(feature = "word2vec")]
        w2v: (W2V_MODEL, W2V_TRAINER),
        #[cfg(feature = "attention")]
        lm: LM,
        #[cfg(feature = "safetensors")]
        file: FILE,
        #[cfg(feature = "inference")]
        decoder: DECODER,
    };
    let ok = run(state).is_ok();
    semihosting::process::exit(if ok { 0 } else { 1 })
}

/// A check that failed (the exit code is all that is reported).
struct Failed;

impl From<edgegrad::Error> for Failed {
    fn from(_: edgegrad::Error) -> Failed {
        Failed
    }
}

fn check(ok: bool) -> Result<(), Failed> {
    if ok { Ok(()) } else { Err(Failed) }
}

fn run(s: State<'_>) -> Result<(), Failed> {
    softmax_regression(s.kernels)?;
    #[cfg(feature = "word2vec")]
    word2vec(s.w2v.0, s.w2v.1)?;
    #[cfg(feature = "attention")]
    attention(s.lm)?;
    #[cfg(feature = "safetensors")]
    let weights = {
        s.lm.0.to_safetensors(&mut s.file.0)?;
        edgegrad::attention::AttentionWeights::<{ lm::V }, { lm::T }, { lm::D }, { lm::DK }>::from_safetensors(&s.file.0)?
    };
    #[cfg(all(feature = "safetensors", not(feature = "inference")))]
    check(black_box(weights.w_out[0][0]).is_finite())?;
    #[cfg(feature = "inference")]
    {
        let mut out = [0_u16; 4];
        let mut rng = <rand_pcg::Pcg32 as edgegrad::rand_core::SeedableRng>::seed_from_u64(1);
        let sampling = edgegrad::attention::Sampling::Greedy;
        let n = s
            .decoder
            .generate(weights, &[1, 2, 3], &mut out, sampling, &mut rng)?;
        check(n == out.len() && out == [1, 2, 3, 1])?;
    }
    Ok(())
}

/// Ten steps of softmax regression on points whose class is the index of their
/// largest feature among the first four: the loss must fall.
fn softmax_regression(s: &mut Kernels) -> Result<(), Failed> {
    let mut targets = [0_u16; N];
    for (i, row) in s.x.chunks_exact_mut(IN).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = black_box(((i * 7 + j * 3) % 11) as f32 / 11.0);
        }
        targets[i] = (i % CLASSES) as u16;
        row[i % CLASSES] += 1.0;
    }
    let (mut first, mut last) = (0.0, 0.0);
    for step in 1..=10 {
        k::matmul(
            MatRef::new(&s.x, N, IN)?,
            MatRef::new(&s.w, IN, CLASSES)?,
            MatMut::new(&mut s.logits, N, CLASSES)?,
            Accum::Overwrite,
        )?;
        let loss = k::cross_entropy_batch(
            MatRef::new(&s.logits, N, CLASSES)?,
            &targets,
            None,
            MatMut::new(&mut s.dlogits, N, CLASSES)?,
        )?;
        k::matmul_tn(
            MatRef::new(&s.x, N, IN)?,
            MatRef::new(&s.dlogits, N, CLASSES)?,
            MatMut::new(&mut s.dw, IN, CLASSES)?,
            Accum::Overwrite,
        )?;
        #[cfg(not(feature = "adam"))]
        k::sgd(&mut s.w, &s.dw, 1.0)?;
        #[cfg(feature = "adam")]
        k::Adam::with_lr(0.1).step(step, &mut s.w, &s.dw, &mut s.m, &mut s.v)?;
        if step == 1 {
            first = loss;
        }
        last = loss;
    }
    let mut probs = [0.0; CLASSES];
    k::softmax(&s.logits[..CLASSES], &mut probs)?;
    check(last < first && probs[0] > 0.25)
}

#[cfg(feature = "word2vec")]
fn word2vec(model: &mut w2v::Model, trainer: &mut w2v::Trainer) -> Result<(), Failed> {
    use edgegrad::word2vec::{Architecture, Objective, Word2VecConfig};
    let sentence: [u16; 12] = black_box([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
    let mut counts = [0_u64; w2v::V];
    for &t in &sentence {
        counts[usize::from(t)] += 1;
    }
    let mut rng = <rand_pcg::Pcg32 as edgegrad::rand_core::SeedableRng>::seed_from_u64(1);
    model.init(&mut rng);
    let config = Word2VecConfig {
        architecture: Architecture::SkipGram,
        objective: Objective::NegativeSampling(3),
        window: 2,
        sample: 0.0,
        lr: 0.05,
    };
    trainer.init(config, &counts, 20 * sentence.len() as u64)?;
    let first = trainer
        .train_sentence(model, &sentence, &mut rng)?
        .mean_loss();
    let mut last = first;
    for _ in 1..20 {
        last = trainer
            .train_sentence(model, &sentence, &mut rng)?
            .mean_loss();
    }
    check(last < first)
}

#[cfg(feature = "attention")]
fn attention(
    (model, grads, cache, state): &mut (lm::Model, lm::Model, lm::Cache, lm::State),
) -> Result<(), Failed> {
    use edgegrad::attention::{Optimizer, TrainConfig};
    let mut rng = <rand_pcg::Pcg32 as edgegrad::rand_core::SeedableRng>::seed_from_u64(2);
    model.init(&mut rng);
    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(k::Adam::with_lr(0.05)),
        max_grad_norm: Some(1.0),
    };
    let tokens: [u16; lm::T] = black_box([1, 2, 3, 1, 2, 3, 1, 2]);
    let first = model.train_step(&tokens, cache, grads, state, &cfg)?.loss;
    let mut last = first;
    for _ in 0..60 {
        last = model.train_step(&tokens, cache, grads, state, &cfg)?.loss;
    }
    check(last < first / 2.0)
}

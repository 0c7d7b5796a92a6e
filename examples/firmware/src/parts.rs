//! Parts 2 to 4 of the firmware: word2vec and the attention language model, trained
//! on short embedded texts, and a larger attention model trained on the host and run
//! from flash. Their state lives in one static arena that the parts use in turn, so the
//! 16 KiB Cortex-M0 can run the first two.

use core::fmt;
use core::mem::ManuallyDrop;

#[cfg(not(small_ram))]
use edgegrad::attention::AttentionWeights;
use edgegrad::attention::{AttentionCache, AttentionGrads, AttentionLm, Decoder, Sampling};
use edgegrad::kernels as k;
use edgegrad::params::ParamsMut;
use edgegrad::train;
use edgegrad::vocab::{CharVocab, Vocab, VocabBuilder};
use edgegrad::word2vec::{Architecture, Objective, Word2Vec, Word2VecConfig, Word2VecTrainer};
use rand_core::SeedableRng;

use crate::println;

/// An `f32` printed with three decimals using integer formatting only (no float
/// formatting code in flash).
pub struct Fixed(pub f32);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.is_finite() {
            return f.write_str("nan/inf");
        }
        let milli = (libm::roundf(self.0 * 1000.0)) as i64;
        let sign = if milli < 0 { "-" } else { "" };
        let m = milli.unsigned_abs();
        write!(f, "{sign}{}.{:03}", m / 1000, m % 1000)
    }
}

// Sizes: the largest that fit each board.
#[cfg(small_ram)]
mod size {
    pub const WV: usize = 32;
    pub const WD: usize = 8;
    pub const WCAP: usize = 64;
    pub const TABLE: usize = 256;
    pub const SENT: usize = 32;
    pub const V: usize = 16;
    pub const T: usize = 8;
    pub const D: usize = 8;
    pub const DK: usize = 8;
    pub const STEPS: u32 = 400;
}
#[cfg(not(small_ram))]
mod size {
    pub const WV: usize = 64;
    pub const WD: usize = 16;
    pub const WCAP: usize = 128;
    pub const TABLE: usize = 2048;
    pub const SENT: usize = 64;
    pub const V: usize = 32;
    pub const T: usize = 24;
    pub const D: usize = 32;
    pub const DK: usize = 16;
    pub const STEPS: u32 = 300;
}
use size::*;

const L: usize = 8;

/// word2vec state.
pub struct W2vParts {
    builder: VocabBuilder<WCAP, L>,
    vocab: Vocab<WV, L>,
    model: Word2Vec<WV, WD>,
    trainer: Word2VecTrainer<WV, WD, TABLE, SENT>,
}

/// Attention LM state (plain SGD: no optimiser moments).
pub struct LmParts {
    chars: CharVocab<V>,
    model: AttentionLm<V, T, D, DK>,
    grads: AttentionGrads<V, T, D, DK>,
    cache: AttentionCache<V, T, D, DK>,
    decoder: Decoder<V, T, D, DK>,
}

/// The model `cargo run --release --example attention -- --save
/// examples/data/attention-lm.safetensors` trained on the host: 115 KB of weights, read
/// in place from flash; only the decoder (KV cache and one position's activations)
/// takes RAM.
#[cfg(not(small_ram))]
mod host_model {
    pub const V: usize = 64;
    pub const T: usize = 64;
    pub const D: usize = 64;
    pub const DK: usize = 64;
    pub static WEIGHTS: &[u8] =
        edgegrad::include_safetensors!("../../data/attention-lm.safetensors");
    /// The characters of the token ids, in id order; the last one stands for any other.
    pub const CHARS: &str = include_str!("../../data/attention-lm.chars.txt");
}

/// Part 4 state: generation on the host-trained model.
#[cfg(not(small_ram))]
pub struct FlashParts {
    chars: CharVocab<{ host_model::V }>,
    decoder: Decoder<{ host_model::V }, { host_model::T }, { host_model::D }, { host_model::DK }>,
}
#[cfg(small_ram)]
pub struct FlashParts;

#[repr(C)]
union Arena {
    bytes: [u32; ARENA_WORDS],
    w2v: ManuallyDrop<W2vParts>,
    lm: ManuallyDrop<LmParts>,
    flash: ManuallyDrop<FlashParts>,
    gpt_train: ManuallyDrop<crate::gpt::TrainParts>,
    gpt_flash: ManuallyDrop<crate::gpt::FlashParts>,
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}
const ARENA_WORDS: usize = max(
    max(
        max(size_of::<W2vParts>(), size_of::<LmParts>()),
        size_of::<FlashParts>(),
    ),
    max(
        size_of::<crate::gpt::TrainParts>(),
        size_of::<crate::gpt::FlashParts>(),
    ),
) / 4
    + 1;

/// The arena, cleared, as the state of the part that is about to run.
///
/// # Safety
/// No reference into the arena may be alive (the parts run one after another), and
/// all-zero bytes must be a valid `T` (numbers, lengths, arrays of them).
pub unsafe fn arena<T>() -> &'static mut T {
    const { assert!(size_of::<T>() <= size_of::<Arena>() && align_of::<T>() <= align_of::<Arena>()) };
    // SAFETY: the caller's promises, and the size checked above; the arena is 4-byte
    // aligned and T's are at most that (f32s, u16s, usizes).
    unsafe {
        let p = core::ptr::addr_of_mut!(ARENA);
        (*p).bytes = [0; ARENA_WORDS];
        &mut *p.cast::<T>()
    }
}

/// Zero-initialised, so it lives in `.bss`; each part writes its own zero value in place.
static mut ARENA: Arena = Arena {
    bytes: [0; ARENA_WORDS],
};

/// Bytes of the arena the two parts share.
pub const ARENA_BYTES: usize = size_of::<Arena>();

const W2V_TEXT: &str = "the cat eats fish . the dog eats meat . a cat likes milk . a dog likes bones . \
    the horse eats hay . a horse likes grass . the cow eats grass . a cow likes hay . \
    the cat sleeps in the house . the dog sleeps in the house . the horse sleeps in the barn . \
    the cow sleeps in the barn . fish is food . meat is food . milk is food . hay is food .";

/// Part 2: vocabulary, skip-gram with negative sampling, nearest neighbours.
/// Returns whether its checks passed. Out of line, so that its frame is its own.
#[inline(never)]
pub fn word2vec() -> bool {
    // SAFETY: the arena is used by one part at a time and no other reference to it is
    // alive. Each field is written in place with its const zero value (a memset or a
    // copy from flash, never a temporary on the stack) before the struct is referenced.
    let w: &mut W2vParts = unsafe {
        let p: *mut W2vParts = core::ptr::addr_of_mut!(ARENA.w2v).cast();
        core::ptr::addr_of_mut!((*p).builder).write(VocabBuilder::new());
        core::ptr::addr_of_mut!((*p).vocab).write(Vocab::ZERO);
        core::ptr::addr_of_mut!((*p).model).write(Word2Vec::ZERO);
        core::ptr::addr_of_mut!((*p).trainer).write(Word2VecTrainer::ZERO);
        &mut *p
    };
    if w.builder.add_text(W2V_TEXT).is_err() {
        return false;
    }
    w.builder.build(1, &mut w.vocab);
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    w.model.init(&mut rng);
    let config = Word2VecConfig {
        architecture: Architecture::SkipGram,
        objective: Objective::NegativeSampling(3),
        window: 3,
        sample: 0.0,
        lr: 0.05,
    };
    let mut ids = [0_u16; 128];
    let n = w.vocab.encode(W2V_TEXT, &mut ids);
    let epochs = 60;
    if w.trainer
        .init(config, w.vocab.counts(), epochs * n as u64)
        .is_err()
    {
        return false;
    }
    let (mut first, mut last) = (0.0, 0.0);
    for epoch in 0..epochs {
        crate::fw_bench_start();
        let Ok(stats) = w.trainer.train_sentence(&mut w.model, &ids[..n], &mut rng) else {
            return false;
        };
        crate::fw_bench_stop();
        last = stats.mean_loss() as f32;
        if epoch == 0 {
            first = last;
        }
    }
    println!(
        "word2vec: {} words, vocabulary {}, loss {} -> {}",
        n,
        w.vocab.len() - 1,
        Fixed(first),
        Fixed(last)
    );
    let cat = w.vocab.id("cat");
    let Ok(near) = w.model.most_similar::<3>(cat, w.vocab.len()) else {
        return false;
    };
    crate::print!("word2vec: nearest to \"cat\":");
    for (id, score) in &near {
        crate::print!(" {} {}", w.vocab.word(*id), Fixed(*score));
    }
    println!();
    last < first && near.len() == 3
}

const LM_TEXT: &str = "the cat sat on the mat. the cat ate the hat. ";

/// One training step with plain SGD (no optimiser state): forward, backward, clipping,
/// and `θ ← θ − lr·g` over every declared tensor. Returns the loss before the step.
/// Out of line, so that its frame is its own.
#[inline(never)]
fn sgd_step(lm: &mut LmParts, window: &[u16], lr: f32) -> Option<f32> {
    lm.grads.zero();
    let loss = lm.model.forward(window, &mut lm.cache).ok()?;
    lm.model.backward(&mut lm.cache, &mut lm.grads).ok()?;
    sgd_update(&mut lm.model, &mut lm.grads, lr)?;
    Some(loss)
}

/// Clips `grads` to a global norm of 1 and applies `θ ← θ − lr·g` over every declared
/// tensor of any model.
#[inline(never)]
pub(crate) fn sgd_update<P: ParamsMut>(model: &mut P, grads: &mut P, lr: f32) -> Option<()> {
    train::clip_grad_norm(grads, 1.0).ok()?;
    for i in 0..P::TENSORS {
        k::sgd(model.tensor_mut(i), grads.tensor(i), lr).ok()?;
    }
    Some(())
}

/// Part 3: train the attention LM on windows of a short text, then generate with the
/// KV cache. Returns whether its checks passed. Out of line, so that its frame is its
/// own.
#[inline(never)]
pub fn attention() -> bool {
    // SAFETY: part 2 is finished and holds no reference; zero bytes are a valid value of
    // every field of LmParts (numbers and lengths), which is then set in place.
    let lm = unsafe {
        let p = core::ptr::addr_of_mut!(ARENA);
        (*p).bytes = [0; ARENA_WORDS];
        &mut *(*p).lm
    };
    let mut rng = rand_pcg::Pcg32::seed_from_u64(2);
    lm.model.init(&mut rng);
    // The text's characters in order of first appearance are the token ids (in the
    // arena, not on the stack).
    lm.chars.set_first_seen(LM_TEXT, '?');
    let mut ids = [0_u16; 64];
    let n = lm.chars.encode(LM_TEXT, &mut ids);
    let ids = &ids[..n];
    let lr = 0.3;
    let (mut first, mut last) = (0.0, 0.0);
    for step in 0..STEPS {
        let at = (step as usize * 5) % (ids.len() - T);
        let window = &ids[at..at + T];
        crate::fw_bench_start();
        let Some(loss) = sgd_step(lm, window, lr) else {
            return false;
        };
        crate::fw_bench_stop();
        if step == 0 {
            first = loss;
        }
        last = loss;
    }
    println!(
        "attention: (V, T, D, DK) = ({V}, {T}, {D}, {DK}), {} parameters, loss {} -> {} in {STEPS} SGD steps",
        AttentionLm::<V, T, D, DK>::PARAMETERS,
        Fixed(first),
        Fixed(last)
    );
    let prompt = [lm.chars.id('t'), lm.chars.id('h'), lm.chars.id('e')];
    let mut out = [0_u16; T];
    let Ok(n) = lm.decoder.generate(
        &lm.model,
        &prompt,
        &mut out[..T - prompt.len()],
        Sampling::Greedy,
        &mut rng,
    ) else {
        return false;
    };
    println!("attention: \"the{}\"", lm.chars.decode(&out[..n]));
    last < 0.5 * first
}

/// Part 4: the attention model trained on the host by the `attention` example, embedded
/// as a safetensors file and read in place from flash. Checks the file, measures the
/// model's loss on a sentence of its training text (a random model scores about
/// ln 64 ≈ 4.16 nats per character), and continues a prompt greedily with the KV cache.
/// Returns whether its checks passed.
#[cfg(not(small_ram))]
#[inline(never)]
pub fn flash_inference() -> bool {
    use host_model::*;
    let weights = match AttentionWeights::<V, T, D, DK>::from_safetensors(WEIGHTS) {
        Ok(w) => w,
        Err(e) => {
            println!("flash: {}", e);
            return false;
        }
    };
    // SAFETY: parts 2 and 3 are finished and hold no reference; zero bytes are a valid
    // value of the decoder (numbers and a length).
    let f = unsafe {
        let p = core::ptr::addr_of_mut!(ARENA);
        (*p).bytes = [0; ARENA_WORDS];
        &mut *(*p).flash
    };
    if let Err(e) = f.chars.set_chars(CHARS) {
        println!("flash: {}", e);
        return false;
    }
    let in_flash = (WEIGHTS.as_ptr() as usize) < (core::ptr::addr_of!(ARENA) as usize);
    println!(
        "flash: {} parameters, {} bytes of safetensors at {:#010x} ({}), decoder {} bytes in RAM",
        AttentionLm::<V, T, D, DK>::PARAMETERS,
        WEIGHTS.len(),
        WEIGHTS.as_ptr() as usize,
        if in_flash { "flash" } else { "RAM" },
        size_of::<FlashParts>()
    );

    // Mean next-character loss over a sentence of the training text.
    const SENTENCE: &str = "He climbed the stairs, one hundred and twelve of them,";
    const _: () = assert!(SENTENCE.len() <= T);
    let mut ids = [0_u16; T];
    let n = f.chars.encode(SENTENCE, &mut ids);
    let mut total = 0.0;
    f.decoder.reset();
    crate::fw_bench_start();
    for i in 0..n - 1 {
        let Ok(logits) = f.decoder.step(weights, ids[i]) else {
            return false;
        };
        let Ok(loss) = k::cross_entropy_loss(logits, usize::from(ids[i + 1])) else {
            return false;
        };
        total += loss;
    }
    crate::fw_bench_stop();
    let loss = total / (n - 1) as f32;
    println!(
        "flash: loss {} nats per character on \"{SENTENCE}\"",
        Fixed(loss)
    );

    const PROMPT: &str = "The keeper";
    let prompt = PROMPT;
    let mut prompt_ids = [0_u16; PROMPT.len()];
    f.chars.encode(prompt, &mut prompt_ids);
    let mut out = [0_u16; 40];
    let mut rng = rand_pcg::Pcg32::seed_from_u64(4);
    let Ok(generated) =
        f.decoder
            .generate(weights, &prompt_ids, &mut out, Sampling::Greedy, &mut rng)
    else {
        return false;
    };
    println!("flash: \"{prompt}{}\"", f.chars.decode(&out[..generated]));
    in_flash && loss < 2.0 && generated == out.len()
}

//! Parts 5 and 6 of the firmware: a GPT (GPT-2's architecture) trained on the board, and
//! one trained on the host by the `gpt` example, run from flash.

use edgegrad::gpt::{Gpt, Sampling};
use edgegrad::kernels as k;
#[cfg(not(small_ram))]
use edgegrad::vocab::CharVocab;
use rand_core::SeedableRng;

#[cfg(not(small_ram))]
use crate::parts::sgd_update;
use crate::parts::{Fixed, arena};
use crate::println;

/// The trained-on-board GPT: the largest (with two layers and two heads) whose
/// parameters, gradients and activations fit the 128 KiB boards' RAM beside everything
/// else, trained with plain SGD (no optimiser state).
#[cfg(not(small_ram))]
mod train_size {
    pub const V: usize = 32;
    pub const T: usize = 16;
    pub const D: usize = 16;
    pub const N: usize = 2;
    pub const F: usize = 64;
    pub const L: usize = 2;
    pub const STEPS: u32 = 200;
    pub type Model = edgegrad::gpt::Gpt<V, T, D, N, F, L>;
    pub type Cache = edgegrad::gpt::GptCache<V, T, D, N, F, L>;
    pub type Decoder = edgegrad::gpt::GptDecoder<V, T, D, N, F, L>;
}

/// Part 5 state.
#[cfg(not(small_ram))]
pub struct TrainParts {
    chars: CharVocab<{ train_size::V }>,
    ids: [u16; TEXT.len()],
    model: train_size::Model,
    grads: train_size::Model,
    cache: train_size::Cache,
    decoder: train_size::Decoder,
}

#[cfg(small_ram)]
pub struct TrainParts;

#[cfg(not(small_ram))]
const TEXT: &str = "the cat sat on the mat. the cat ate the hat. ";

/// Part 5: trains the GPT on windows of a short text with SGD, then continues a prompt
/// greedily with the KV cache. Returns whether its checks passed.
#[cfg(not(small_ram))]
#[inline(never)]
pub fn train() -> bool {
    // SAFETY: the earlier parts are finished; zero bytes are a valid value of every
    // field (numbers, lengths), each of which is then set in place.
    let g: &mut TrainParts = unsafe { arena() };
    let mut rng = rand_pcg::Pcg32::seed_from_u64(5);
    let n = setup(g, &mut rng);
    let Some((first, last)) = train_loop(g, n) else {
        return false;
    };
    report(first, last);
    generate(g, &mut rng) && last < 0.5 * first
}

/// Part 5's initialisation: GPT-2's for the model, the text's characters as the
/// vocabulary and as ids; the number of ids. Out of line, like the stages below.
#[cfg(not(small_ram))]
#[inline(never)]
fn setup(g: &mut TrainParts, rng: &mut rand_pcg::Pcg32) -> usize {
    g.model.init(rng);
    g.chars.set_first_seen(TEXT, '?');
    g.chars.encode(TEXT, &mut g.ids)
}

/// Part 5's SGD steps over windows of the text (`n` ids); the first and last losses.
/// Out of line, like [`report`] and [`generate`]: the frame below the training steps
/// stays small.
#[cfg(not(small_ram))]
#[inline(never)]
fn train_loop(g: &mut TrainParts, n: usize) -> Option<(f32, f32)> {
    use train_size::*;
    let (mut first, mut last) = (0.0, 0.0);
    for step in 0..STEPS {
        let at = (step as usize * 5) % (n - T);
        let loss = step_sgd(g, at..at + T)?;
        if step == 0 {
            first = loss;
        }
        last = loss;
    }
    Some((first, last))
}

#[cfg(not(small_ram))]
#[inline(never)]
fn report(first: f32, last: f32) {
    use train_size::*;
    println!(
        "gpt: (V, T, D, N, F, L) = ({V}, {T}, {D}, {N}, {F}, {L}), {} parameters, {} bytes of state, loss {} -> {} in {STEPS} SGD steps",
        Gpt::<V, T, D, N, F, L>::PARAMETERS,
        size_of::<TrainParts>(),
        Fixed(first),
        Fixed(last)
    );
}

/// Part 5's generation: continues "the" greedily with the KV cache. Out of line, so
/// that the training loop's frame does not hold its buffers.
#[cfg(not(small_ram))]
#[inline(never)]
fn generate(g: &mut TrainParts, rng: &mut rand_pcg::Pcg32) -> bool {
    use train_size::T;
    let prompt = [g.chars.id('t'), g.chars.id('h'), g.chars.id('e')];
    let mut out = [0_u16; T];
    let Ok(n) = g.decoder.generate(
        &g.model,
        &prompt,
        &mut out[..T - prompt.len()],
        Sampling::Greedy,
        rng,
    ) else {
        return false;
    };
    println!("gpt: \"the{}\"", g.chars.decode(&out[..n]));
    true
}

/// One SGD step of part 5; the loss before it. Out of line: its own frame.
#[cfg(not(small_ram))]
#[inline(never)]
fn step_sgd(g: &mut TrainParts, window: core::ops::Range<usize>) -> Option<f32> {
    let window = g.ids.get(window)?;
    g.grads.zero();
    let loss = g.model.forward(window, &mut g.cache).ok()?;
    g.model.backward(&mut g.cache, &mut g.grads).ok()?;
    sgd_update(&mut g.model, &mut g.grads, 0.5)?;
    Some(loss)
}

/// The GPT `cargo run --release --example gpt -- --size mcu --save
/// examples/data/gpt-mcu.safetensors` trained on the host (byte-level, two layers of
/// four heads; on the Cortex-M0 the `tiny` size, whose KV cache fits its RAM), read in
/// place from flash: only the decoder takes RAM.
#[cfg(not(small_ram))]
pub mod host_gpt {
    pub const V: usize = 256;
    pub const T: usize = 64;
    pub const D: usize = 32;
    pub const N: usize = 4;
    pub const F: usize = 64;
    pub const L: usize = 2;
    pub static WEIGHTS: &[u8] = edgegrad::include_safetensors!("../../data/gpt-mcu.safetensors");
    pub type Decoder = edgegrad::gpt::GptDecoder<V, T, D, N, F, L>;
    pub type Weights = edgegrad::gpt::GptWeights<'static, V, T, D, N, F, L>;
}
#[cfg(small_ram)]
pub mod host_gpt {
    pub const V: usize = 256;
    pub const T: usize = 16;
    pub const D: usize = 16;
    pub const N: usize = 2;
    pub const F: usize = 32;
    pub const L: usize = 2;
    pub static WEIGHTS: &[u8] = edgegrad::include_safetensors!("../../data/gpt-tiny.safetensors");
    pub type Decoder = edgegrad::gpt::GptDecoder<V, T, D, N, F, L>;
    pub type Weights = edgegrad::gpt::GptWeights<'static, V, T, D, N, F, L>;
}

/// Part 6 state: the decoder of the host-trained GPT.
pub struct FlashParts {
    decoder: host_gpt::Decoder,
}

/// The host-trained GPT's weights, in place.
pub fn host_weights() -> edgegrad::Result<host_gpt::Weights> {
    host_gpt::Weights::from_safetensors(host_gpt::WEIGHTS)
}

/// Part 6: the host-trained GPT from flash: checks the file, measures the model's loss
/// on a phrase of its training text (a random byte-level model scores about ln 256 ≈
/// 5.5 nats per byte), and continues a prompt greedily. Returns whether its checks
/// passed.
#[inline(never)]
pub fn flash() -> bool {
    use host_gpt::*;
    let weights = match host_weights() {
        Ok(w) => w,
        Err(e) => {
            println!("gpt flash: {}", e);
            return false;
        }
    };
    // SAFETY: the earlier parts are finished; zero bytes are a valid decoder.
    let f: &mut FlashParts = unsafe { arena() };
    let in_flash = (WEIGHTS.as_ptr() as usize) < (core::ptr::addr_of!(*f) as usize);
    println!(
        "gpt flash: (V, T, D, N, F, L) = ({V}, {T}, {D}, {N}, {F}, {L}), {} parameters, {} bytes of safetensors in {}, decoder {} bytes in RAM",
        Gpt::<V, T, D, N, F, L>::PARAMETERS,
        WEIGHTS.len(),
        if in_flash { "flash" } else { "RAM" },
        size_of::<FlashParts>()
    );
    const PHRASE: &[u8] = b"The keeper was content.";
    let n = PHRASE.len().min(T);
    let mut total = 0.0;
    f.decoder.reset();
    for i in 0..n - 1 {
        let Ok(logits) = f.decoder.step(weights, u16::from(PHRASE[i])) else {
            return false;
        };
        let Ok(loss) = k::cross_entropy_loss(logits, usize::from(PHRASE[i + 1])) else {
            return false;
        };
        total += loss;
    }
    let loss = total / (n - 1) as f32;
    println!(
        "gpt flash: loss {} nats per byte on \"{}\"",
        Fixed(loss),
        core::str::from_utf8(&PHRASE[..n]).unwrap_or("")
    );
    let prompt: [u16; 4] = core::array::from_fn(|i| u16::from(b"The "[i]));
    let mut out = [0_u16; 24];
    let want = out.len().min(T - prompt.len());
    let mut rng = rand_pcg::Pcg32::seed_from_u64(6);
    let Ok(generated) = f.decoder.generate(
        weights,
        &prompt,
        &mut out[..want],
        Sampling::Greedy,
        &mut rng,
    ) else {
        return false;
    };
    crate::print!("gpt flash: \"The ");
    for &t in &out[..generated] {
        crate::print!("{}", char::from(t as u8));
    }
    println!("\"");
    in_flash && loss < 2.5 && generated == want
}

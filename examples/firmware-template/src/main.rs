//! The smallest firmware using edgegrad: a byte-level GPT trained on the host
//! (`cargo run --release --example gpt -- --size mcu --save …` in the repository) is
//! embedded in flash with `include_safetensors!`, read in place (no copy: only the
//! decoder's KV cache takes RAM), and continues a prompt greedily.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use edgegrad::gpt::{GptDecoder, GptWeights, Sampling};
use edgegrad::rand_core::SeedableRng;
use semihosting::{println, process};

// The model's sizes (V, T, D, N, F, L) are part of its type; the file must match them.
const V: usize = 256;
const T: usize = 64;
const D: usize = 32;
const N: usize = 4;
const F: usize = 64;
const L: usize = 2;
type Decoder = GptDecoder<V, T, D, N, F, L>;
type Weights = GptWeights<'static, V, T, D, N, F, L>;

/// 112 KB of weights, aligned for reading in place, in flash.
static WEIGHTS: &[u8] = edgegrad::include_safetensors!("../../data/gpt-mcu.safetensors");

#[entry]
fn main() -> ! {
    // cortex-m-rt turns a `static mut` declared here into a safe `&'static mut`: the
    // decoder (36 KB) lives in .bss, not on the stack.
    static mut DECODER: Decoder = Decoder::ZERO;

    match run(DECODER) {
        Ok(()) => process::exit(0),
        Err(e) => {
            println!("error: {}", e);
            process::exit(1)
        }
    }
}

fn run(decoder: &mut Decoder) -> edgegrad::Result<()> {
    // Checks the file: its metadata, every tensor's name, dtype, shape and values.
    let weights = Weights::from_safetensors(WEIGHTS)?;
    let prompt = b"The keeper";
    let ids = prompt.map(u16::from);
    let mut out = [0_u16; 40];
    // Greedy decoding draws no random numbers; a seeded PCG stands in for a chip's RNG.
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let n = decoder.generate(weights, &ids, &mut out, Sampling::Greedy, &mut rng)?;
    let text = out[..n].iter().map(|&t| t as u8 as char);
    println!(
        "{}{}",
        core::str::from_utf8(prompt).unwrap_or(""),
        Chars(text)
    );
    Ok(())
}

/// Prints characters without building a string (no heap).
struct Chars<I>(I);

impl<I: Iterator<Item = char> + Clone> core::fmt::Display for Chars<I> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write;
        self.0.clone().try_for_each(|c| f.write_char(c))
    }
}

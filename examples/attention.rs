//! A character-level attention language model trained on a short text, then asked to
//! continue a prompt — all in fixed-size structs, with no allocation inside the crate.
//!
//! Run: `cargo run --release --example attention [path/to/text.txt] [steps] [--save PATH]`
//! (default: the short public-domain story in `examples/data/lighthouse.txt`, written
//! for this example, and 20000 steps).
//!
//! The trained weights are exported as safetensors and generation runs a second time on
//! the weights read in place from those bytes, as firmware does from flash. With
//! `--save PATH` the file is written to `PATH` and its characters, in token-id order,
//! to `PATH` with the extension `chars.txt`; the firmware example embeds the pair
//! saved as `examples/data/attention-lm.safetensors`.

use edgegrad::attention::{
    AttentionCache, AttentionGrads, AttentionLm, AttentionOptState, AttentionWeights, Decoder,
    Optimizer, Sampling, TrainConfig,
};
use edgegrad::kernels::Adam;
use edgegrad::safetensors::Aligned;
use edgegrad::vocab::{CharCounter, CharVocab};
use rand_core::{RngCore, SeedableRng};

/// Vocabulary: up to 64 distinct characters (the rest map to the last id).
const V: usize = 64;
/// Context length in characters.
const T: usize = 64;
/// Model width and head width.
const D: usize = 64;
const DK: usize = 64;
type Lm = AttentionLm<V, T, D, DK>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let save = match args.iter().position(|a| a == "--save") {
        Some(i) if i + 1 < args.len() => Some(args.drain(i..i + 2).nth(1).unwrap()),
        Some(_) => return Err("--save needs a path".into()),
        None => None,
    };
    let text = match args.first() {
        Some(path) => std::fs::read_to_string(path)?,
        None => include_str!("data/lighthouse.txt").to_string(),
    };
    let steps: u32 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(20000);
    // Collapse line breaks and runs of spaces so the model learns prose, not layout.
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // The V − 1 most frequent characters get their own id, every other character
    // shares the last one ('?').
    let mut counter = Box::new(CharCounter::<4096>::new());
    counter.add_text(&text)?;
    let charset: CharVocab<V> = counter.most_frequent('?');
    let ids: Vec<u16> = text.chars().map(|c| charset.id(c)).collect();
    if ids.len() <= T {
        return Err(format!("the text needs more than {T} characters").into());
    }

    // Every large struct goes straight to the heap from its `const` zero value.
    let mut rng = rand_pcg::Pcg32::seed_from_u64(42);
    let mut model = Box::new(Lm::ZERO);
    let mut grads: Box<AttentionGrads<V, T, D, DK>> = Box::new(Lm::ZERO);
    let mut cache = Box::new(AttentionCache::<V, T, D, DK>::ZERO);
    let mut state = Box::new(AttentionOptState::<V, T, D, DK>::ZERO);
    let mut decoder = Box::new(Decoder::<V, T, D, DK>::ZERO);
    model.init(&mut rng);

    println!("text: {} characters, {} distinct", ids.len(), charset.len());
    println!(
        "model (V, T, D, DK) = ({V}, {T}, {D}, {DK}): {} parameters",
        Lm::PARAMETERS
    );
    println!(
        "memory: model {} KiB, gradients {} KiB, Adam state {} KiB, activation cache {} KiB, decoder {} KiB",
        Lm::BYTES / 1024,
        Lm::BYTES / 1024,
        AttentionOptState::<V, T, D, DK>::BYTES / 1024,
        AttentionCache::<V, T, D, DK>::BYTES / 1024,
        Decoder::<V, T, D, DK>::BYTES / 1024
    );

    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(Adam::with_lr(3e-3)),
        max_grad_norm: Some(1.0),
    };
    let start = std::time::Instant::now();
    let mut running = None;
    for step in 1..=steps {
        let at = (rng.next_u32() as usize) % (ids.len() - T);
        let stats = model.train_step(&ids[at..at + T], &mut cache, &mut grads, &mut state, &cfg)?;
        let avg = running.map_or(stats.loss, |r: f32| 0.98 * r + 0.02 * stats.loss);
        running = Some(avg);
        if step == 1 || step % 500 == 0 {
            println!(
                "step {step:5}  loss {avg:.3}  grad norm {:.2}",
                stats.grad_norm
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{steps} steps in {secs:.2} s: {:.0} µs per step, {:.0} tokens/s",
        1e6 * secs / f64::from(steps),
        f64::from(steps) * T as f64 / secs
    );

    for prompt in ["The keeper", "The sea is"] {
        let prompt_ids: Vec<u16> = prompt.chars().map(|c| charset.id(c)).collect();
        let mut out = [0_u16; T];
        let n = decoder.generate(
            model.weights(),
            &prompt_ids,
            &mut out[..T - prompt_ids.len()],
            Sampling::TopK {
                k: 5,
                temperature: 0.6,
            },
            &mut rng,
        )?;
        println!("\n> {prompt}{}", charset.decode(&out[..n]));
    }

    // Export as safetensors, then generate from the weights read in place from the
    // bytes (no copy): what the firmware does with the file in flash.
    let mut file = Box::new(Aligned([0_u8; Lm::SAFETENSORS_BYTES]));
    model.to_safetensors(&mut file.0)?;
    let weights = AttentionWeights::<V, T, D, DK>::from_safetensors(&file.0)?;
    let prompt = "The keeper";
    let prompt_ids: Vec<u16> = prompt.chars().map(|c| charset.id(c)).collect();
    let mut out = [0_u16; 40];
    let n = decoder.generate(weights, &prompt_ids, &mut out, Sampling::Greedy, &mut rng)?;
    println!(
        "\nsafetensors: {} bytes; greedy, from the weights in place:\n> {prompt}{}",
        Lm::SAFETENSORS_BYTES,
        charset.decode(&out[..n])
    );
    if let Some(path) = save {
        let path = std::path::Path::new(&path);
        std::fs::write(path, &file.0)?;
        std::fs::write(path.with_extension("chars.txt"), charset.to_string())?;
        println!("saved {} and its characters", path.display());
    }
    Ok(())
}

//! A character-level attention language model trained on a short text, then asked to
//! continue a prompt — all in fixed-size structs, with no allocation inside the crate.
//!
//! Run `cargo run --release --example attention -- --help` for the options. Without
//! arguments it trains on the short public-domain story in `examples/data/lighthouse.txt`
//! (written for this example) for 20000 steps.
//!
//! The trained weights are exported as safetensors and generation runs a second time on
//! the weights read in place from those bytes, as firmware does from flash. With
//! `--save PATH` the file is written to `PATH` and its characters, in token-id order,
//! to `PATH` with the extension `chars.txt`; the firmware example embeds the pair
//! saved as `examples/data/attention-lm.safetensors`.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use cli::{Failure, Progress};
use edgegrad::attention::{
    AttentionCache, AttentionGrads, AttentionLm, AttentionOptState, AttentionWeights, Decoder,
    Optimizer, Sampling, TrainConfig,
};
use edgegrad::kernels::Adam;
use edgegrad::safetensors::Aligned;
use edgegrad::vocab::{CharCounter, CharVocab};
use rand_core::{RngCore, SeedableRng};

const HELP: &str = "\
A character-level attention language model trained on a text, then generating.

usage: cargo run --release --example attention -- [TEXT_FILE] [options]

  TEXT_FILE        UTF-8 text to train on (default: examples/data/lighthouse.txt);
                   the 63 most frequent characters get their own id, the rest share '?'
  --steps N        training steps of one 64-character window each (default 20000)
  --prompt TEXT    a prompt to continue (repeatable; default \"The keeper\", \"The sea is\")
  --save FILE      write the weights as safetensors to FILE and the characters to
                   FILE with the extension chars.txt
  --help           this text
";

/// Vocabulary: up to 64 distinct characters (the rest map to the last id).
const V: usize = 64;
/// Context length in characters.
const T: usize = 64;
/// Model width and head width.
const D: usize = 64;
const DK: usize = 64;
type Lm = AttentionLm<V, T, D, DK>;

struct Options {
    text: Option<PathBuf>,
    steps: u32,
    prompts: Vec<String>,
    save: Option<PathBuf>,
}

fn main() -> ExitCode {
    cli::main(|| {
        let mut opts = Options {
            text: None,
            steps: 20000,
            prompts: Vec::new(),
            save: None,
        };
        let mut parser = lexopt::Parser::from_env();
        while let Some(arg) = parser.next()? {
            match arg {
                cli::Long("help") | cli::Short('h') => {
                    print!("{HELP}");
                    return Ok(());
                }
                cli::Long("steps") => opts.steps = cli::count(&mut parser, "--steps", 1)?,
                cli::Long("prompt") => {
                    opts.prompts
                        .push(cli::parse(&mut parser, "--prompt", "a text")?)
                }
                cli::Long("save") => opts.save = Some(cli::path(&mut parser)?),
                cli::Value(path) if opts.text.is_none() => opts.text = Some(path.into()),
                other => return Err(other.unexpected().into()),
            }
        }
        if opts.prompts.is_empty() {
            opts.prompts = vec!["The keeper".into(), "The sea is".into()];
        }
        if let Some(path) = &opts.save {
            cli::writable(path)?;
            cli::writable(&path.with_extension("chars.txt"))?;
        }
        run(&opts)
    })
}

fn run(opts: &Options) -> cli::Result {
    let text = match &opts.text {
        Some(path) => cli::read_text(path)?,
        None => include_str!("data/lighthouse.txt").to_string(),
    };
    let steps = opts.steps;
    // Collapse line breaks and runs of spaces so the model learns prose, not layout.
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // The V − 1 most frequent characters get their own id, every other character
    // shares the last one ('?').
    let mut counter = Box::new(CharCounter::<4096>::new());
    counter.add_text(&text)?;
    let charset: CharVocab<V> = counter.most_frequent('?');
    let ids: Vec<u16> = text.chars().map(|c| charset.id(c)).collect();
    if ids.len() <= T {
        return Err(format!(
            "the text has {} characters (spaces collapsed); it needs more than the context of {T}",
            ids.len()
        )
        .into());
    }
    let own = &charset.chars()[..charset.len() - 1];
    let mut shared: Vec<char> = text
        .chars()
        .filter(|c| *c != '?' && !own.contains(c))
        .collect();
    shared.sort_unstable();
    shared.dedup();
    let prompts = opts
        .prompts
        .iter()
        .map(|p| Ok((p.as_str(), encode_prompt(p, &charset)?)))
        .collect::<cli::Result<Vec<_>>>()?;

    // Every large struct goes straight to the heap from its `const` zero value.
    let mut rng = rand_pcg::Pcg32::seed_from_u64(42);
    let mut model = Box::new(Lm::ZERO);
    let mut grads: Box<AttentionGrads<V, T, D, DK>> = Box::new(Lm::ZERO);
    let mut cache = Box::new(AttentionCache::<V, T, D, DK>::ZERO);
    let mut state = Box::new(AttentionOptState::<V, T, D, DK>::ZERO);
    let mut decoder = Box::new(Decoder::<V, T, D, DK>::ZERO);
    model.init(&mut rng);

    println!(
        "text: {} characters, {} distinct",
        ids.len(),
        counter.distinct()
    );
    if !shared.is_empty() {
        let list: String = shared.iter().take(20).collect();
        let more = if shared.len() > 20 { " …" } else { "" };
        println!(
            "warning: the vocabulary holds {V} ids: the {} rarest characters ({list}{more}) are read as '?'",
            shared.len()
        );
    }
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
    let progress = Progress::new();
    for step in 1..=steps {
        let at = (rng.next_u32() as usize) % (ids.len() - T);
        let stats = model.train_step(&ids[at..at + T], &mut cache, &mut grads, &mut state, &cfg)?;
        let avg = running.map_or(stats.loss, |r: f32| 0.98 * r + 0.02 * stats.loss);
        running = Some(avg);
        let line = format!(
            "step {step:5}  loss {avg:.3}  grad norm {:.2}",
            stats.grad_norm
        );
        if step == 1 || step % 2000 == 0 || step == steps {
            progress.finish(line);
        } else if step % 50 == 0 {
            progress.update(line);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{steps} steps in {secs:.2} s: {:.0} µs per step, {:.0} tokens/s",
        1e6 * secs / f64::from(steps),
        f64::from(steps) * T as f64 / secs
    );

    for (prompt, prompt_ids) in &prompts {
        let mut out = [0_u16; T];
        let n = decoder.generate(
            model.weights(),
            prompt_ids,
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
    let (prompt, prompt_ids) = &prompts[0];
    let mut out = [0_u16; 40];
    let n = decoder.generate(weights, prompt_ids, &mut out, Sampling::Greedy, &mut rng)?;
    println!(
        "\nsafetensors: {} bytes; greedy, from the weights in place:\n> {prompt}{}",
        Lm::SAFETENSORS_BYTES,
        charset.decode(&out[..n])
    );
    if let Some(path) = &opts.save {
        cli::write(path, &file.0)?;
        cli::write(&path.with_extension("chars.txt"), charset.to_string())?;
        println!("saved {} and its characters", path.display());
    }
    Ok(())
}

/// A prompt's ids: at most T − 1 characters, so that at least one can be generated;
/// characters outside the vocabulary are read as '?' (with a warning).
fn encode_prompt(prompt: &str, charset: &CharVocab<V>) -> Result<Vec<u16>, Failure> {
    let n = prompt.chars().count();
    if n == 0 || n >= T {
        return Err(Failure::Usage(format!(
            "--prompt takes 1 to {} characters, not {n}",
            T - 1
        )));
    }
    let own = &charset.chars()[..charset.len() - 1];
    let mut unknown: Vec<char> = prompt
        .chars()
        .filter(|c| *c != '?' && !own.contains(c))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    let unknown: String = unknown.into_iter().collect();
    if !unknown.is_empty() {
        eprintln!(
            "warning: the prompt's characters {unknown:?} are not in the vocabulary; read as '?'"
        );
    }
    Ok(prompt.chars().map(|c| charset.id(c)).collect())
}

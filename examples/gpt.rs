//! A byte-level GPT (GPT-2's architecture: L layers of pre-LayerNorm multi-head attention
//! and MLP) trained on a text, then asked to continue a prompt — every buffer a
//! fixed-size struct, no allocation inside the crate.
//!
//! Run `cargo run --release --example gpt -- --help` for the options and sizes. Without
//! arguments it trains the `base` size on `examples/data/lighthouse.txt` for 3000 steps,
//! printing the loss, the speed and the memory, then generates. `--save FILE` writes
//! the weights as a safetensors file under Hugging Face GPT-2's names (which
//! `transformers`' `GPT2LMHeadModel.from_pretrained` loads for a config of these sizes),
//! `--load FILE` reads one instead of training, and `--logits TEXT` prints the logits of
//! every position of `TEXT`, one line per position, to compare a port with PyTorch.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use cli::{Failure, Progress};
use edgegrad::gpt::{
    Gpt, GptActivations, GptCache, GptDecoder, GptOptState, GptWeights, Optimizer, Sampling,
    TrainConfig,
};
use edgegrad::kernels::Adam;
use rand_core::{RngCore, SeedableRng};

const HELP: &str = "\
A byte-level GPT trained on a text, then generating.

usage: cargo run --release --example gpt -- [TEXT_FILE] [options]

  TEXT_FILE        text to train on (default: examples/data/lighthouse.txt)
  --size NAME      tiny, mcu, small or base (default base), see below
  --steps N        training steps of one T-byte sequence each (default 3000)
  --prompt TEXT    a prompt to continue (repeatable; default \"The keeper\", \"The sea is\")
  --save FILE      write the trained weights as safetensors (GPT-2's names)
  --load FILE      read weights of the chosen size instead of training
  --logits TEXT    print the logits of each position of TEXT (its bytes, at most T),
                   one line per position, values separated by spaces
  --help           this text

sizes (V, T, D, N, F, L): vocabulary (bytes), context, width, heads, MLP width, layers
  tiny   (256, 16, 16, 2, 32, 2)    runs from flash on the 16 KiB Cortex-M0
  mcu    (256, 64, 32, 4, 64, 2)    runs from flash on the 128 KiB boards
  small  (256, 32, 32, 2, 128, 1)
  base   (256, 64, 64, 4, 256, 2)
";

struct Options {
    text: Option<PathBuf>,
    steps: u32,
    prompts: Vec<String>,
    save: Option<PathBuf>,
    load: Option<PathBuf>,
    logits: Option<String>,
}

fn main() -> ExitCode {
    cli::main(|| {
        let mut opts = Options {
            text: None,
            steps: 3000,
            prompts: Vec::new(),
            save: None,
            load: None,
            logits: None,
        };
        let mut size = String::from("base");
        let mut parser = lexopt::Parser::from_env();
        while let Some(arg) = parser.next()? {
            match arg {
                cli::Long("help") | cli::Short('h') => {
                    print!("{HELP}");
                    return Ok(());
                }
                cli::Long("size") => size = cli::parse(&mut parser, "--size", "a size name")?,
                cli::Long("steps") => opts.steps = cli::count(&mut parser, "--steps", 1)?,
                cli::Long("prompt") => {
                    opts.prompts
                        .push(cli::parse(&mut parser, "--prompt", "a text")?)
                }
                cli::Long("save") => opts.save = Some(cli::path(&mut parser)?),
                cli::Long("load") => opts.load = Some(cli::path(&mut parser)?),
                cli::Long("logits") => {
                    opts.logits = Some(cli::parse(&mut parser, "--logits", "a text")?)
                }
                cli::Value(path) if opts.text.is_none() => opts.text = Some(path.into()),
                other => return Err(other.unexpected().into()),
            }
        }
        if opts.prompts.is_empty() {
            opts.prompts = vec!["The keeper".into(), "The sea is".into()];
        }
        if let Some(path) = &opts.save {
            cli::writable(path)?;
        }
        if opts.load.is_some() && opts.text.is_some() {
            return Err(Failure::Usage(
                "--load reads trained weights; a text to train on makes no sense with it".into(),
            ));
        }
        match size.as_str() {
            "tiny" => run::<256, 16, 16, 2, 32, 2>(&opts),
            "mcu" => run::<256, 64, 32, 4, 64, 2>(&opts),
            "small" => run::<256, 32, 32, 2, 128, 1>(&opts),
            "base" => run::<256, 64, 64, 4, 256, 2>(&opts),
            other => Err(Failure::Usage(format!(
                "--size takes tiny, mcu, small or base, not '{other}'"
            ))),
        }
    })
}

fn run<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
>(
    opts: &Options,
) -> cli::Result {
    type Model<
        const V: usize,
        const T: usize,
        const D: usize,
        const N: usize,
        const F: usize,
        const L: usize,
    > = Gpt<V, T, D, N, F, L>;
    // Every large struct goes straight to the heap from its `const` zero value.
    let mut rng = rand_pcg::Pcg32::seed_from_u64(42);
    let mut model = Box::new(Model::<V, T, D, N, F, L>::ZERO);
    let mut decoder = Box::new(GptDecoder::<V, T, D, N, F, L>::ZERO);
    let quiet = opts.logits.is_some();
    for prompt in &opts.prompts {
        if prompt.is_empty() || prompt.len() >= T {
            return Err(Failure::Usage(format!(
                "--prompt takes 1 to {} bytes at this size, not {}",
                T - 1,
                prompt.len()
            )));
        }
    }
    if let Some(text) = &opts.logits
        && (text.is_empty() || text.len() > T)
    {
        return Err(Failure::Usage(format!(
            "--logits takes 1 to {T} bytes at this size, not {}",
            text.len()
        )));
    }
    if !quiet {
        println!(
            "model (V, T, D, N, F, L) = ({V}, {T}, {D}, {N}, {F}, {L}): {} parameters",
            Model::<V, T, D, N, F, L>::PARAMETERS
        );
    }
    match &opts.load {
        Some(path) => {
            model
                .load_safetensors(&cli::read(path)?)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if !quiet {
                println!("loaded {}", path.display());
            }
        }
        None => {
            model.init(&mut rng);
            train(&mut model, opts, &mut rng)?;
        }
    }

    if let Some(text) = &opts.logits {
        let tokens: Vec<u16> = text.bytes().map(u16::from).collect();
        let mut acts = Box::new(GptActivations::<V, T, D, N, F, L>::ZERO);
        model.forward_logits(&tokens, &mut acts)?;
        for i in 0..tokens.len() {
            let row: Vec<String> = acts
                .logits(i)
                .ok_or_else(|| format!("no logits at position {i}"))?
                .iter()
                .map(|x| format!("{x:?}"))
                .collect();
            println!("{}", row.join(" "));
        }
        return Ok(());
    }

    for prompt in &opts.prompts {
        let prompt_ids: Vec<u16> = prompt.bytes().map(u16::from).collect();
        let mut out = vec![0_u16; T - prompt_ids.len()];
        let sampling = Sampling::TopK {
            k: 5,
            temperature: 0.6,
        };
        let n = decoder.generate(&*model, &prompt_ids, &mut out, sampling, &mut rng)?;
        println!("\n> {prompt}{}", decode(&out[..n]));
    }

    // Export as safetensors, then generate from the weights read in place from the
    // bytes (no copy): what firmware does with the file in flash.
    // In `u32`s so that the tensors are 4-byte aligned for reading in place.
    let len = Model::<V, T, D, N, F, L>::SAFETENSORS_BYTES;
    let mut words = vec![0_u32; len.div_ceil(4)];
    let bytes = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..len];
    model.to_safetensors(bytes)?;
    let weights = GptWeights::<V, T, D, N, F, L>::from_safetensors(bytes)?;
    let prompt = &opts.prompts[0];
    let prompt_ids: Vec<u16> = prompt.bytes().map(u16::from).collect();
    let mut out = [0_u16; 40];
    let start = std::time::Instant::now();
    let n = decoder.generate(weights, &prompt_ids, &mut out, Sampling::Greedy, &mut rng)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "\nsafetensors: {} bytes; greedy, from the weights in place ({:.0} tokens/s):\n> {prompt}{}",
        bytes.len(),
        (prompt_ids.len() + n) as f64 / secs,
        decode(&out[..n])
    );
    if let Some(path) = &opts.save {
        cli::write(path, &*bytes)?;
        println!("saved {}", path.display());
    }
    Ok(())
}

/// Trains on random `T`-byte windows of the text.
fn train<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
>(
    model: &mut Gpt<V, T, D, N, F, L>,
    opts: &Options,
    rng: &mut rand_pcg::Pcg32,
) -> cli::Result {
    let text = match &opts.text {
        Some(path) => cli::read_text(path)?,
        None => include_str!("data/lighthouse.txt").to_string(),
    };
    // Collapse line breaks and runs of spaces so the model learns prose, not layout.
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let ids: Vec<u16> = text.bytes().map(u16::from).collect();
    if ids.len() <= T {
        return Err(format!(
            "the text has {} bytes (spaces collapsed); it needs more than the context of {T}",
            ids.len()
        )
        .into());
    }
    let mut grads = Box::new(Gpt::<V, T, D, N, F, L>::ZERO);
    let mut cache = Box::new(GptCache::<V, T, D, N, F, L>::ZERO);
    let mut state = Box::new(GptOptState::<V, T, D, N, F, L>::ZERO);
    println!("text: {} bytes", ids.len());
    println!(
        "memory: model {} KiB, gradients {} KiB, Adam state {} KiB, activation cache {} KiB, decoder {} KiB",
        Gpt::<V, T, D, N, F, L>::BYTES / 1024,
        Gpt::<V, T, D, N, F, L>::BYTES / 1024,
        GptOptState::<V, T, D, N, F, L>::BYTES / 1024,
        GptCache::<V, T, D, N, F, L>::BYTES / 1024,
        GptDecoder::<V, T, D, N, F, L>::BYTES / 1024
    );
    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(Adam::with_lr(3e-3)),
        max_grad_norm: Some(1.0),
    };
    let start = std::time::Instant::now();
    let mut running = None;
    let progress = Progress::new();
    for step in 1..=opts.steps {
        let at = (rng.next_u32() as usize) % (ids.len() - T);
        let stats = model.train_step(&ids[at..at + T], &mut cache, &mut grads, &mut state, &cfg)?;
        let avg = running.map_or(stats.loss, |r: f32| 0.98 * r + 0.02 * stats.loss);
        running = Some(avg);
        let line = format!(
            "step {step:5}  loss {avg:.3}  grad norm {:.2}",
            stats.grad_norm
        );
        if step == 1 || step % 500 == 0 || step == opts.steps {
            progress.finish(line);
        } else if step % 10 == 0 {
            progress.update(line);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} steps in {secs:.2} s: {:.0} µs per step, {:.0} tokens/s",
        opts.steps,
        1e6 * secs / f64::from(opts.steps),
        f64::from(opts.steps) * T as f64 / secs
    );
    Ok(())
}

/// The bytes of `ids` as text (invalid UTF-8 replaced).
fn decode(ids: &[u16]) -> String {
    let bytes: Vec<u8> = ids.iter().map(|&t| t as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

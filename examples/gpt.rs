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
    text: Option<String>,
    steps: u32,
    save: Option<String>,
    load: Option<String>,
    logits: Option<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut opts = Options {
        text: None,
        steps: 3000,
        save: None,
        load: None,
        logits: None,
    };
    let mut size = String::from("base");
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--help" | "-h" => {
                print!("{HELP}");
                return Ok(());
            }
            "--size" => size = value("--size")?,
            "--steps" => opts.steps = value("--steps")?.parse()?,
            "--save" => opts.save = Some(value("--save")?),
            "--load" => opts.load = Some(value("--load")?),
            "--logits" => opts.logits = Some(value("--logits")?),
            other if other.starts_with("--") => {
                return Err(format!("unknown option {other} (see --help)").into());
            }
            path => opts.text = Some(path.to_owned()),
        }
    }
    match size.as_str() {
        "tiny" => run::<256, 16, 16, 2, 32, 2>(&opts),
        "mcu" => run::<256, 64, 32, 4, 64, 2>(&opts),
        "small" => run::<256, 32, 32, 2, 128, 1>(&opts),
        "base" => run::<256, 64, 64, 4, 256, 2>(&opts),
        other => Err(format!("unknown size {other} (see --help)").into()),
    }
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
) -> Result<(), Box<dyn std::error::Error>> {
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
    if !quiet {
        println!(
            "model (V, T, D, N, F, L) = ({V}, {T}, {D}, {N}, {F}, {L}): {} parameters",
            Model::<V, T, D, N, F, L>::PARAMETERS
        );
    }
    match &opts.load {
        Some(path) => {
            model.load_safetensors(&std::fs::read(path)?)?;
            if !quiet {
                println!("loaded {path}");
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
                .unwrap()
                .iter()
                .map(|x| format!("{x:?}"))
                .collect();
            println!("{}", row.join(" "));
        }
        return Ok(());
    }

    for prompt in ["The keeper", "The sea is"] {
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
    let prompt = "The keeper";
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
        std::fs::write(path, &*bytes)?;
        println!("saved {path}");
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
) -> Result<(), Box<dyn std::error::Error>> {
    let text = match &opts.text {
        Some(path) => std::fs::read_to_string(path)?,
        None => include_str!("data/lighthouse.txt").to_string(),
    };
    // Collapse line breaks and runs of spaces so the model learns prose, not layout.
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let ids: Vec<u16> = text.bytes().map(u16::from).collect();
    if ids.len() <= T {
        return Err(format!("the text needs more than {T} bytes").into());
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
    for step in 1..=opts.steps {
        let at = (rng.next_u32() as usize) % (ids.len() - T);
        let stats = model.train_step(&ids[at..at + T], &mut cache, &mut grads, &mut state, &cfg)?;
        let avg = running.map_or(stats.loss, |r: f32| 0.98 * r + 0.02 * stats.loss);
        running = Some(avg);
        if step == 1 || step % 250 == 0 {
            println!(
                "step {step:5}  loss {avg:.3}  grad norm {:.2}",
                stats.grad_norm
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} steps in {secs:.2} s: {:.0} µs per step, {:.0} tokens/s",
        opts.steps,
        1e6 * secs / f64::from(opts.steps.max(1)),
        f64::from(opts.steps) * T as f64 / secs
    );
    Ok(())
}

/// The bytes of `ids` as text (invalid UTF-8 replaced).
fn decode(ids: &[u16]) -> String {
    let bytes: Vec<u8> = ids.iter().map(|&t| t as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

//! Softmax regression trained with edgegrad's kernels alone.
//!
//! Three classes of points in the plane, each a noisy ring segment around its own
//! centre, are classified by `softmax(X·W + b)`. Every step is one kernel call:
//!
//! ```text
//! logits = X·W + b                       matmul, add_bias
//! loss, dlogits = CE(logits, y)          cross_entropy_batch (fused softmax − onehot, / N)
//! dW = Xᵀ·dlogits, db = Σ dlogits         matmul_tn, col_sum
//! clip ‖(dW, db)‖ ≤ 1, Adam step          clip_grad_norm, Adam::step
//! ```
//!
//! No heap: every buffer below is a fixed-size array.
//!
//! Run: `cargo run --release --example quickstart`

mod cli;

use std::process::ExitCode;

use edgegrad::kernels::{self, Accum, Adam};
use edgegrad::{MatMut, MatRef};

/// Points per class in the training set (the test set has as many again).
const PER_CLASS: usize = 100;
const CLASSES: usize = 3;
const N: usize = PER_CLASS * CLASSES;
/// Features: x, y and their products x², y², x·y, so that curved boundaries are linear.
const FEATURES: usize = 5;
const EPOCHS: u32 = 200;

/// SplitMix64, so the data set is the same on every run and every machine.
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A data set of `N` points: features row-major, labels as class ids.
fn make_data(rng: &mut Rng, x: &mut [f32; N * FEATURES], y: &mut [u16; N]) {
    let centres = [(0.0_f32, 1.0_f32), (-0.9, -0.5), (0.9, -0.5)];
    for (i, label) in y.iter_mut().enumerate() {
        let class = i % CLASSES;
        let (cx, cy) = centres[class];
        let angle = rng.uniform() * core::f32::consts::TAU;
        let radius = 1.2 * rng.uniform().sqrt();
        let (px, py) = (cx + radius * angle.cos(), cy + radius * angle.sin());
        x[i * FEATURES..(i + 1) * FEATURES].copy_from_slice(&[px, py, px * px, py * py, px * py]);
        *label = class as u16;
    }
}

fn accuracy(logits: &[f32; N * CLASSES], y: &[u16; N]) -> f32 {
    let correct = logits
        .chunks_exact(CLASSES)
        .zip(y)
        .filter(|(row, label)| {
            let best = (0..CLASSES)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            best == usize::from(**label)
        })
        .count();
    correct as f32 / N as f32
}

fn forward(x: &[f32], w: &[f32], b: &[f32], logits: &mut [f32]) -> edgegrad::Result<()> {
    kernels::matmul(
        MatRef::new(x, N, FEATURES)?,
        MatRef::new(w, FEATURES, CLASSES)?,
        MatMut::new(logits, N, CLASSES)?,
        Accum::Overwrite,
    )?;
    kernels::add_bias(MatMut::new(logits, N, CLASSES)?, b)
}

const HELP: &str = "\
Softmax regression on three classes of points, trained with edgegrad's kernels alone.

usage: cargo run --release --example quickstart [-- --help]
";

fn main() -> ExitCode {
    cli::main(|| {
        let mut parser = lexopt::Parser::from_env();
        if let Some(arg) = parser.next()? {
            if matches!(arg, cli::Long("help") | cli::Short('h')) {
                print!("{HELP}");
                return Ok(());
            }
            return Err(arg.unexpected().into());
        }
        Ok(run()?)
    })
}

fn run() -> edgegrad::Result<()> {
    let mut rng = Rng(2024);
    let (mut x, mut y) = ([0.0_f32; N * FEATURES], [0_u16; N]);
    let (mut x_test, mut y_test) = ([0.0_f32; N * FEATURES], [0_u16; N]);
    make_data(&mut rng, &mut x, &mut y);
    make_data(&mut rng, &mut x_test, &mut y_test);

    // Parameters, gradients and Adam's moment estimates: plain arrays.
    let (mut w, mut b) = ([0.0_f32; FEATURES * CLASSES], [0.0_f32; CLASSES]);
    let (mut dw, mut db) = ([0.0_f32; FEATURES * CLASSES], [0.0_f32; CLASSES]);
    let (mut mw, mut vw) = ([0.0_f32; FEATURES * CLASSES], [0.0_f32; FEATURES * CLASSES]);
    let (mut mb, mut vb) = ([0.0_f32; CLASSES], [0.0_f32; CLASSES]);
    let (mut logits, mut dlogits) = ([0.0_f32; N * CLASSES], [0.0_f32; N * CLASSES]);
    let adam = Adam::with_lr(0.05);

    println!("softmax regression: {N} points, {FEATURES} features, {CLASSES} classes");
    println!("epoch   loss     train acc   grad norm");
    for epoch in 1..=EPOCHS {
        forward(&x, &w, &b, &mut logits)?;
        let loss = kernels::cross_entropy_batch(
            MatRef::new(&logits, N, CLASSES)?,
            &y,
            None,
            MatMut::new(&mut dlogits, N, CLASSES)?,
        )?;
        kernels::matmul_tn(
            MatRef::new(&x, N, FEATURES)?,
            MatRef::new(&dlogits, N, CLASSES)?,
            MatMut::new(&mut dw, FEATURES, CLASSES)?,
            Accum::Overwrite,
        )?;
        kernels::col_sum(
            MatRef::new(&dlogits, N, CLASSES)?,
            &mut db,
            Accum::Overwrite,
        )?;
        let norm = kernels::clip_grad_norm(&mut [&mut dw, &mut db], 1.0)?;
        adam.step(epoch, &mut w, &dw, &mut mw, &mut vw)?;
        adam.step(epoch, &mut b, &db, &mut mb, &mut vb)?;
        if epoch == 1 || epoch % 20 == 0 {
            println!(
                "{epoch:5}   {loss:.4}   {:8.1} %   {norm:.4}",
                100.0 * accuracy(&logits, &y)
            );
        }
    }
    forward(&x_test, &w, &b, &mut logits)?;
    let test_loss = kernels::cross_entropy_batch(
        MatRef::new(&logits, N, CLASSES)?,
        &y_test,
        None,
        MatMut::new(&mut dlogits, N, CLASSES)?,
    )?;
    println!(
        "held-out test set: loss {test_loss:.4}, accuracy {:.1} %",
        100.0 * accuracy(&logits, &y_test)
    );
    Ok(())
}

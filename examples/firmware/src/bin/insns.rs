//! Executed-instruction counts of the kernels and of one training step of each model,
//! for the QEMU plugin in `shared/tools/qemu-insns`: every measured call sits between
//! `fw_bench_start` and `fw_bench_stop`, and its label is printed first, so the
//! plugin's regions pair with the labels in order (region 0 is an empty calibration).
#![no_std]
#![no_main]

use core::hint::black_box;

use edgegrad::attention::{AttentionCache, AttentionLm};
use edgegrad::kernels::{self as k, Accum, MatMut, MatRef};
use edgegrad::word2vec::{Architecture, Objective, Word2Vec, Word2VecConfig, Word2VecTrainer};
use edgegrad_firmware::gpt::{host_gpt, host_weights};
use edgegrad_firmware::parts::arena;
use edgegrad_firmware::{exit, fw_bench_start, fw_bench_stop, println};
use rand_core::SeedableRng;

fn region(label: impl core::fmt::Display, work: u64, unit: &str, f: impl FnOnce()) {
    println!("region {label} {work} {unit}");
    fw_bench_start();
    f();
    fw_bench_stop();
}

const N: usize = 32;
/// The kernels' operands: `A`, `B`, `C` (`N × N`), `x`, `y` (256).
type KernelState = ([[f32; N * N]; 3], [[f32; 256]; 2]);

type Lm = AttentionLm<32, 24, 32, 16>;

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    // The kernels, then each model, take turns in the firmware's arena (zero bytes are
    // a valid value of each), so that together they fit the boards' RAM.
    // SAFETY: nothing else borrows the arena; all-zero is a valid `KernelState`.
    let ([a, b, c], [x, y]) = unsafe { arena::<KernelState>() };
    for (i, v) in a.iter_mut().enumerate() {
        *v = ((i * 7) % 13) as f32 * 0.1 - 0.6;
    }
    b.copy_from_slice(a);
    for (i, v) in x.iter_mut().enumerate() {
        *v = ((i * 5) % 17) as f32 * 0.3 - 2.5;
    }
    region("calibration", 1, "-", || {});
    for n in [8, 16, 32] {
        let (m, kk) = (n, n);
        region("matmul", (m * n * kk) as u64, "MAC", || {
            let (am, bm) = (
                MatRef::new(&a[..m * kk], m, kk).unwrap(),
                MatRef::new(&b[..kk * n], kk, n).unwrap(),
            );
            k::matmul(
                black_box(am),
                black_box(bm),
                MatMut::new(&mut c[..m * n], m, n).unwrap(),
                Accum::Overwrite,
            )
            .unwrap();
        });
        region("matmul_nt", (m * n * kk) as u64, "MAC", || {
            let (am, bm) = (
                MatRef::new(&a[..m * kk], m, kk).unwrap(),
                MatRef::new(&b[..kk * n], n, kk).unwrap(),
            );
            k::matmul_nt(
                black_box(am),
                black_box(bm),
                MatMut::new(&mut c[..m * n], m, n).unwrap(),
                Accum::Overwrite,
            )
            .unwrap();
        });
        region("matmul_tn", (m * n * kk) as u64, "MAC", || {
            let (am, bm) = (
                MatRef::new(&a[..m * kk], kk, m).unwrap(),
                MatRef::new(&b[..kk * n], kk, n).unwrap(),
            );
            k::matmul_tn(
                black_box(am),
                black_box(bm),
                MatMut::new(&mut c[..m * n], m, n).unwrap(),
                Accum::Overwrite,
            )
            .unwrap();
        });
    }
    region("dot", 256, "MAC", || {
        black_box(k::dot(black_box(&x[..]), black_box(&a[..256])).unwrap());
    });
    for n in [16, 64, 256] {
        region("softmax", n as u64, "element", || {
            k::softmax(black_box(&x[..n]), &mut y[..n]).unwrap()
        });
    }
    region("exp", 256, "element", || {
        k::exp(black_box(&x[..]), &mut y[..]).unwrap()
    });
    region("cross_entropy_grad", 256, "element", || {
        black_box(k::cross_entropy(black_box(&x[..]), 3, &mut y[..]).unwrap());
    });

    // SAFETY: as above.
    type LmState = (Lm, Lm, AttentionCache<32, 24, 32, 16>);
    // SAFETY: the kernels' borrows have ended; all-zero is a valid `LmState`.
    let (lm, grads, cache) = {
        let s: &mut LmState = unsafe { arena() };
        (&mut s.0, &mut s.1, &mut s.2)
    };
    let mut rng = rand_pcg::Pcg32::seed_from_u64(3);
    lm.init(&mut rng);
    let tokens: [u16; 24] = core::array::from_fn(|i| ((i * 7 + 3) % 32) as u16);
    region("attention_train_step_32x24x32x16", 24, "token", || {
        grads.zero();
        lm.forward(black_box(&tokens), cache).unwrap();
        lm.backward(cache, grads).unwrap();
        k::clip_grad_norm(&mut grads.tensors_mut(), 1.0).unwrap();
        for (p, g) in lm.tensors_mut().into_iter().zip(grads.tensors()) {
            k::sgd(p, g, 0.1).unwrap();
        }
    });
    type W2vState = (Word2Vec<64, 64>, Word2VecTrainer<64, 64, 256, 16>);
    // SAFETY: the attention LM's borrows have ended; all-zero is a valid `W2vState`.
    let (w2v, trainer) = {
        let s: &mut W2vState = unsafe { arena() };
        (&mut s.0, &mut s.1)
    };
    w2v.init(&mut rng);
    let counts: [u64; 64] = core::array::from_fn(|i| if i == 0 { 0 } else { 100 / i as u64 + 1 });
    let config = Word2VecConfig {
        architecture: Architecture::SkipGram,
        objective: Objective::NegativeSampling(5),
        window: 5,
        sample: 0.0,
        lr: 0.025,
    };
    trainer.init(config, &counts, 1_000_000).unwrap();
    region("word2vec_prediction_ns5_D64", 1, "prediction", || {
        black_box(
            trainer
                .step(w2v, &[3], 7, black_box(&[11, 13, 17, 19, 23]), 0.025)
                .unwrap(),
        );
    });
    // The host-trained GPT from flash: 8 positions of prompt, then the next 8 tokens
    // (positions 8..16, within every size's context) one decoder step each, as
    // generation runs them.
    // SAFETY: word2vec's borrows have ended; all-zero is a valid decoder.
    let decoder: &mut host_gpt::Decoder = unsafe { arena() };
    let weights = host_weights().unwrap();
    let text = b"The keeper was c";
    for &t in &text[..8] {
        decoder.step(weights, u16::from(t)).unwrap();
    }
    use host_gpt::{D, F, L, N, T, V};
    let label = format_args!("gpt_from_flash_{V}x{T}x{D}x{N}x{F}x{L}_token");
    region(label, 8, "token", || {
        for &t in &text[8..] {
            black_box(decoder.step(weights, u16::from(black_box(t))).unwrap());
        }
    });
    println!("insns: done");
    exit(0)
}

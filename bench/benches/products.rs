//! The matrix products of `peers/` timed in interleaved rounds: each round runs every
//! implementation for about a millisecond, and each keeps its fastest round. On a
//! shared machine whose speed drifts by a factor of two within minutes (other tenants),
//! criterion's one-after-the-other measurements give ratios that drift with it; here
//! every implementation sees the same conditions. Prints a Markdown table of GFLOP/s
//! and edgegrad's ratio to the best Rust peer (faer, gemm, matrixmultiply, nalgebra).
//!
//! Run: `cargo bench -p edgegrad-bench --bench products [-- ROUNDS]` (default 15).
mod peers;

use std::time::Instant;

use peers::{Case, Op};

fn main() {
    // `cargo bench` passes `--bench`; a number among the arguments sets the rounds.
    let rounds = std::env::args()
        .filter_map(|a| a.parse::<usize>().ok())
        .next()
        .unwrap_or(15);
    let names = ["edgegrad", "faer", "gemm", "matrixmultiply", "nalgebra"];
    println!(
        "| product | m·k·n | {} | edgegrad ÷ best peer |",
        names.join(" | ")
    );
    println!("|---|---|{}---|", "---|".repeat(names.len()));
    for op in Op::ALL {
        for (label, m, kk, n) in peers::shapes() {
            let case = Case::new(op, m, kk, n);
            let mut products: Vec<_> = case
                .products()
                .into_iter()
                .filter(|(name, _)| names.contains(name))
                .collect();
            let mut expect = vec![f32::NAN; m * n];
            (products[0].1)(&mut expect);
            for (name, product) in &mut products {
                case.check(name, product, &expect);
            }
            let mut c = vec![0.0_f32; m * n];
            // Calls per round: about a millisecond of edgegrad's product.
            let t = Instant::now();
            let mut calls = 0;
            while t.elapsed().as_secs_f64() < 1e-3 {
                (products[0].1)(&mut c);
                calls += 1;
            }
            let mut best = vec![f64::MAX; products.len()];
            for _ in 0..rounds {
                for ((_, product), best) in products.iter_mut().zip(&mut best) {
                    let t = Instant::now();
                    for _ in 0..calls {
                        product(&mut c);
                    }
                    *best = best.min(t.elapsed().as_secs_f64() / calls as f64);
                }
            }
            let gflops = |s: f64| case.flops() / s / 1e9;
            let mut cells = Vec::new();
            let mut best_peer = 0.0_f64;
            for name in names {
                match products.iter().position(|(n, _)| *n == name) {
                    Some(i) => {
                        cells.push(format!("{:.1}", gflops(best[i])));
                        if name != "edgegrad" {
                            best_peer = best_peer.max(gflops(best[i]));
                        }
                    }
                    None => cells.push("–".into()),
                }
            }
            println!(
                "| `{}` | {label} | {} | {:.2}× |",
                op.formula(),
                cells.join(" | "),
                gflops(best[0]) / best_peer
            );
        }
    }
}

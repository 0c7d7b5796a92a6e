//! The kernel self-test: softmax, log-sum-exp, cross-entropy with its gradient, a matrix
//! product and its two gradient products, and `exp`, on fixed inputs, against values
//! computed in `f64` on the host (`src/expected.rs`). The tolerance allows for fused
//! multiply-add on one side and separate rounding on the other.

use edgegrad::kernels::{self as k, Accum, MatMut, MatRef};

use crate::expected as e;

/// A failed comparison: which output, where, and the two values (as bits, so that
/// reporting needs no float formatting).
#[derive(Debug)]
pub struct Failure {
    /// The output compared.
    pub what: &'static str,
    /// Index of the first mismatch.
    pub index: usize,
    /// Bits of the computed value.
    pub got: u32,
    /// Bits of the expected value.
    pub want: u32,
}

type Check = Result<(), Failure>;

fn close(what: &'static str, got: &[f32], want: &[f32], rtol: f32, atol: f32) -> Check {
    for (index, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= atol + rtol * w.abs()
        };
        if !ok {
            return Err(Failure {
                what,
                index,
                got: g.to_bits(),
                want: w.to_bits(),
            });
        }
    }
    if got.len() != want.len() {
        return Err(Failure {
            what,
            index: got.len().min(want.len()),
            got: 0,
            want: 0,
        });
    }
    Ok(())
}

fn kernel_error(what: &'static str) -> impl Fn(edgegrad::Error) -> Failure {
    move |_| Failure {
        what,
        index: 0,
        got: 0,
        want: 0,
    }
}

const RTOL: f32 = 2e-5;
const ATOL: f32 = 1e-6;

fn softmax() -> Check {
    let mut y = [0.0; 19];
    k::softmax(&e::SOFTMAX_IN, &mut y).map_err(kernel_error("softmax"))?;
    close("softmax", &y, &e::SOFTMAX_OUT, RTOL, ATOL)?;
    if y[4] != 0.0 {
        return Err(Failure {
            what: "softmax: masked entry",
            index: 4,
            got: y[4].to_bits(),
            want: 0,
        });
    }
    Ok(())
}

fn log_softmax_and_logsumexp() -> Check {
    let mut y = [0.0; 19];
    k::log_softmax(&e::SOFTMAX_IN, &mut y).map_err(kernel_error("log_softmax"))?;
    close("log_softmax", &y, &e::LOG_SOFTMAX_OUT, RTOL, ATOL)?;
    let l = k::logsumexp(&e::SOFTMAX_IN).map_err(kernel_error("logsumexp"))?;
    close("logsumexp", &[l], &e::LOGSUMEXP_OUT, RTOL, ATOL)
}

fn cross_entropy_with_gradient() -> Check {
    let mut g = [0.0; 10];
    let loss = k::cross_entropy(&e::CE_LOGITS, 3, &mut g).map_err(kernel_error("cross_entropy"))?;
    close("cross_entropy loss", &[loss], &e::CE_LOSS, RTOL, ATOL)?;
    close("cross_entropy gradient", &g, &e::CE_GRAD, RTOL, ATOL)
}

fn matmul_and_gradients() -> Check {
    let (m, kk, n) = (5, 7, 9);
    let view = |x: &'static [f32], r, c| MatRef::new(x, r, c).map_err(kernel_error("view"));
    let mut c = [0.0; 45];
    let out = MatMut::new(&mut c, m, n).map_err(kernel_error("view"))?;
    k::matmul(
        view(&e::MM_A, m, kk)?,
        view(&e::MM_B, kk, n)?,
        out,
        Accum::Overwrite,
    )
    .map_err(kernel_error("matmul"))?;
    close("matmul", &c, &e::MM_C, RTOL, ATOL)?;
    let mut da = [0.0; 35];
    let out = MatMut::new(&mut da, m, kk).map_err(kernel_error("view"))?;
    k::matmul_nt(
        view(&e::MM_DC, m, n)?,
        view(&e::MM_B, kk, n)?,
        out,
        Accum::Overwrite,
    )
    .map_err(kernel_error("matmul_nt"))?;
    close("dA = dC·Bᵀ", &da, &e::MM_DA, RTOL, ATOL)?;
    let mut db = [0.0; 63];
    let out = MatMut::new(&mut db, kk, n).map_err(kernel_error("view"))?;
    k::matmul_tn(
        view(&e::MM_A, m, kk)?,
        view(&e::MM_DC, m, n)?,
        out,
        Accum::Overwrite,
    )
    .map_err(kernel_error("matmul_tn"))?;
    close("dB = Aᵀ·dC", &db, &e::MM_DB, RTOL, ATOL)
}

fn exp() -> Check {
    let mut y = [0.0; 10];
    k::exp(&e::EXP_IN, &mut y).map_err(kernel_error("exp"))?;
    // within 2 ulp everywhere, subnormal results included
    for (index, (&g, &w)) in y.iter().zip(&e::EXP_OUT).enumerate() {
        if g.to_bits().abs_diff(w.to_bits()) > 2 {
            return Err(Failure {
                what: "exp",
                index,
                got: g.to_bits(),
                want: w.to_bits(),
            });
        }
    }
    Ok(())
}

/// A named check.
pub type NamedCheck = (&'static str, fn() -> Check);

/// Every check with its name, in the order they run.
pub const CHECKS: [NamedCheck; 5] = [
    ("softmax", softmax),
    ("log_softmax_and_logsumexp", log_softmax_and_logsumexp),
    ("cross_entropy_with_gradient", cross_entropy_with_gradient),
    ("matmul_and_gradients", matmul_and_gradients),
    ("exp", exp),
];

/// Runs every check, printing libtest-style lines; returns the number that failed.
#[inline(never)]
pub fn run_all() -> usize {
    crate::println!("\nrunning {} tests", CHECKS.len());
    let mut failed = 0;
    for (name, check) in CHECKS {
        match check() {
            Ok(()) => crate::println!("test {name} ... ok"),
            Err(f) => {
                failed += 1;
                crate::println!(
                    "test {name} ... FAILED ({} [{}]: got bits {:#010x}, expected {:#010x})",
                    f.what,
                    f.index,
                    f.got,
                    f.want
                );
            }
        }
    }
    let status = if failed == 0 { "ok" } else { "FAILED" };
    crate::println!(
        "\ntest result: {status}. {} passed; {failed} failed",
        CHECKS.len() - failed
    );
    failed
}

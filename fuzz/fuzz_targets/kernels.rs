//! The public kernels on arbitrary `f32` bit patterns, lengths, strided views and
//! hyper-parameters. What is checked, for every kernel:
//!
//! - no panic;
//! - `Ok`: no NaN in any output unless an input had one. For the kernels that check
//!   their values (the softmax family, the losses, LayerNorm, GELU, `exp`, `max`, the
//!   norms, clipping, the optimisers) that holds for any input; for plain arithmetic
//!   (products, sums, backward passes) a NaN can also come from an overflow of finite
//!   values (`∞ − ∞`), so there it is required only when every input is finite and an
//!   `f64` bound of every intermediate stays far below `f32::MAX` — and then the
//!   matrix products must also match an `f64` reference;
//! - `Err`: every output bit-identical to before (`to_bits`), except the rows that the
//!   documentation allows a row-wise kernel to have written: rows before the one
//!   holding the non-finite value (`Error`'s docs, `softmax_rows`, `layer_norm_rows`),
//!   and for `layer_norm`/`layer_norm_rows` an output that overflowed;
//! - elements of a strided output view that are not in the view (the gaps between rows,
//!   and the buffer beyond it) are never written, and the gaps of input views (which
//!   hold NaN) never reach an output;
//! - exact results where the kernel is one rounding per element (`add`, `mul`, `scale`,
//!   `add_bias`, `max`, …), and sub-views (`rows_range`, `cols_range`, `top`) that see
//!   their parent's elements.
#![no_main]

mod common;

use common::{Gen, SPECIALS, all_finite, bits, has_nan};
use edgegrad::kernels::{self as k, Accum, Adam, Trans};
use edgegrad::{Error, MatMut, MatRef};
use libfuzzer_sys::fuzz_target;

/// Values at most this large (in `f64`) cannot overflow when added a few times.
const SAFE: f64 = f32::MAX as f64 / 16.0;
/// What a gap of a strided buffer holds: a NaN that must never reach an output.
const POISON: f32 = f32::from_bits(0x7fc0_dead);

fuzz_target!(|data: &[u8]| {
    let mut g = Gen::new(data);
    for _ in 0..4 {
        let op = g.byte();
        run(op, &mut g);
        if g.exhausted() {
            break;
        }
    }
});

/// A matrix in a buffer: `rows × cols`, rows `stride` apart, poison in the gaps and in a
/// tail after the last row.
#[derive(Debug, Clone)]
struct Mat {
    buf: Vec<f32>,
    rows: usize,
    cols: usize,
    stride: usize,
}

impl Mat {
    fn make(g: &mut Gen, rows: usize, cols: usize) -> Mat {
        let stride = if g.byte() < 160 {
            cols
        } else {
            cols + g.range(1, 5)
        };
        // What a strided view checks: the last row ends in the buffer (even an empty one).
        let span = if rows == 0 {
            0
        } else {
            (rows - 1) * stride + cols
        };
        let tail = if g.byte() < 128 { 0 } else { g.range(1, 3) };
        let mut buf = vec![POISON; span + tail];
        for i in 0..rows {
            for j in 0..cols {
                buf[i * stride + j] = g.f32();
            }
        }
        Mat {
            buf,
            rows,
            cols,
            stride,
        }
    }

    fn is_contiguous(&self) -> bool {
        self.stride == self.cols
    }

    fn view(&self) -> MatRef<'_> {
        if self.is_contiguous() {
            MatRef::new(&self.buf[..self.rows * self.cols], self.rows, self.cols)
        } else {
            MatRef::strided(&self.buf, self.rows, self.cols, self.stride)
        }
        .expect("a view of a well-formed buffer")
    }

    fn view_mut(&mut self) -> MatMut<'_> {
        if self.is_contiguous() {
            let n = self.rows * self.cols;
            MatMut::new(&mut self.buf[..n], self.rows, self.cols)
        } else {
            MatMut::strided(&mut self.buf, self.rows, self.cols, self.stride)
        }
        .expect("a view of a well-formed buffer")
    }

    fn at(&self, i: usize, j: usize) -> f32 {
        self.buf[i * self.stride + j]
    }

    fn row(&self, i: usize) -> &[f32] {
        if self.cols == 0 {
            return &[];
        }
        &self.buf[i * self.stride..i * self.stride + self.cols]
    }

    /// The view's elements, row-major.
    fn elems(&self) -> Vec<f32> {
        (0..self.rows).flat_map(|i| self.row(i).to_vec()).collect()
    }

    /// The row of the view that buffer position `idx` is in, if it is in the view.
    fn row_of(&self, idx: usize) -> Option<usize> {
        if self.cols == 0 {
            return None;
        }
        let (r, c) = (idx / self.stride, idx % self.stride);
        (r < self.rows && c < self.cols).then_some(r)
    }

    /// Every element outside rows `writable` (and every gap) is as in `before`.
    fn only_rows_changed(&self, before: &[u32], writable: core::ops::Range<usize>) -> bool {
        before
            .iter()
            .zip(&self.buf)
            .enumerate()
            .all(|(idx, (&b, &a))| {
                b == a.to_bits() || self.row_of(idx).is_some_and(|r| writable.contains(&r))
            })
    }
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Row dimensions: mostly those asked for, sometimes off (a shape error).
fn maybe_off(g: &mut Gen, n: usize) -> usize {
    if g.byte() < 240 { n } else { g.len(20) }
}

/// A vector of about `n` values (see [`maybe_off`]).
fn vec_off(g: &mut Gen, n: usize) -> Vec<f32> {
    let m = maybe_off(g, n);
    g.vec(m)
}

/// A matrix of about `rows × cols` (see [`maybe_off`]).
fn mat_off(g: &mut Gen, rows: usize, cols: usize) -> Mat {
    let (r, c) = (maybe_off(g, rows), maybe_off(g, cols));
    Mat::make(g, r, c)
}

/// The row of a row-wise kernel's `NonFinite` error.
fn error_row(e: &Error, cols: usize) -> Option<usize> {
    match e {
        Error::NonFinite { index, .. } if cols > 0 => Some(index / cols),
        _ => None,
    }
}

/// After an error of a kernel that "checks what it wrote": the output is unchanged, or
/// the error is `NonFinite` at a position of the output that now holds a NaN or an
/// infinity ("a result that is not finite is `NonFinite` after it was written").
fn unchanged_or_reported(e: &Error, out: &[f32], before: &[u32]) -> bool {
    bits(out) == before || reported(e, out)
}

/// Whether `e` is `NonFinite` at a position of `out` that is not finite.
fn reported(e: &Error, out: &[f32]) -> bool {
    matches!(e, Error::NonFinite { index, .. } if out.get(*index).is_some_and(|v| !v.is_finite()))
}

fn accum(g: &mut Gen) -> Accum {
    if g.bool() {
        Accum::Add
    } else {
        Accum::Overwrite
    }
}

fn run(op: u8, g: &mut Gen) {
    match op % 40 {
        0 => softmax_vec(g),
        1 => softmax_rows(g),
        2 => softmax_backward(g),
        3 => softmax_backward_rows(g),
        4 => cross_entropy(g),
        5 => cross_entropy_batch(g),
        6 => cross_entropy_soft_probs(g),
        7..=10 => gemm(g),
        11 => matvec_vecmat(g),
        12 => bias_colsum(g),
        13 => layer_norm(g),
        14 => layer_norm_rows(g),
        15 => layer_norm_backward(g),
        16 => layer_norm_backward_rows(g),
        17 => gelu(g),
        18 => reductions(g),
        19 => norms(g),
        20 | 21 => elementwise(g),
        22 | 23 => sgd(g),
        24 | 25 => adam(g),
        26 => adam_prepared(g),
        27 | 28 => clip(g),
        29 => views(g),
        30 => logistic(g),
        _ => {
            // The rest of the byte range: the value-checking kernels again.
            match op % 5 {
                0 => softmax_vec(g),
                1 => cross_entropy(g),
                2 => layer_norm(g),
                3 => sgd(g),
                _ => adam(g),
            }
        }
    }
}

// ---------------------------------------------------------------- softmax family

fn softmax_vec(g: &mut Gen) {
    let n = g.len(70);
    let x = g.vec(n);
    let m = maybe_off(g, n);
    let mut y = g.vec(m);
    let y0 = bits(&y);
    let x_nan = has_nan(&x);
    let live = x.iter().any(|&v| v > f32::NEG_INFINITY);
    match g.byte() % 4 {
        0 => match k::softmax(&x, &mut y) {
            Ok(()) => {
                ensure!(!has_nan(&y), "ok-no-nan", "softmax({x:?}) = {y:?}");
                let s: f64 = y.iter().map(|&v| f64::from(v)).sum();
                ensure!(
                    y.iter().all(|&v| (0.0..=1.000_001).contains(&v)),
                    "softmax-probabilities",
                    "softmax({x:?}) = {y:?}"
                );
                ensure!(
                    !live || (s - 1.0).abs() <= 1e-5 * n as f64 + 1e-6,
                    "softmax-sums-to-one",
                    "softmax({x:?}) = {y:?} sums to {s}"
                );
            }
            Err(e) => ensure!(
                bits(&y) == y0,
                "err-unchanged",
                "softmax({x:?}) -> {e:?} wrote {y:?}"
            ),
        },
        1 => {
            let mut io = x.clone();
            match k::softmax_in_place(&mut io) {
                Ok(()) => ensure!(
                    x_nan || !has_nan(&io),
                    "ok-no-nan",
                    "softmax_in_place({x:?}) = {io:?}"
                ),
                Err(e) => ensure!(
                    bits(&io) == bits(&x),
                    "err-unchanged",
                    "softmax_in_place({x:?}) -> {e:?} wrote {io:?}"
                ),
            }
        }
        2 => match k::log_softmax(&x, &mut y) {
            Ok(()) => {
                ensure!(!has_nan(&y), "ok-no-nan", "log_softmax({x:?}) = {y:?}");
                ensure!(
                    y.iter().all(|&v| v <= 1e-6),
                    "log-probabilities",
                    "log_softmax({x:?}) = {y:?}"
                );
            }
            Err(e) => ensure!(
                bits(&y) == y0,
                "err-unchanged",
                "log_softmax({x:?}) -> {e:?} wrote {y:?}"
            ),
        },
        _ => {
            if let Ok(l) = k::logsumexp(&x) {
                ensure!(!l.is_nan(), "ok-no-nan", "logsumexp({x:?}) = {l}");
                let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                ensure!(
                    l >= m - m.abs() * 1e-6 - 1e-6,
                    "logsumexp-at-least-max",
                    "logsumexp({x:?}) = {l} < {m}"
                );
            }
        }
    }
}

fn softmax_rows(g: &mut Gen) {
    let (rows, cols) = (g.len(9), g.len(40));
    let x = Mat::make(g, rows, cols);
    let (yr, yc) = (maybe_off(g, rows), maybe_off(g, cols));
    let mut y = Mat::make(g, yr, yc);
    let y0 = bits(&y.buf);
    let x_nan = has_nan(&x.elems());
    let which = g.byte() % 4;
    let (name, result) = match which {
        0 => ("softmax_rows", k::softmax_rows(x.view(), y.view_mut())),
        1 => (
            "log_softmax_rows",
            k::log_softmax_rows(x.view(), y.view_mut()),
        ),
        2 => {
            // In place: x is the output.
            y = x.clone();
            (
                "softmax_rows_in_place",
                k::softmax_rows_in_place(y.view_mut()),
            )
        }
        _ => {
            let mut out = vec_off(g, rows);
            let out0 = bits(&out);
            match k::logsumexp_rows(x.view(), &mut out) {
                Ok(()) => ensure!(
                    !has_nan(&out),
                    "ok-no-nan",
                    "logsumexp_rows({x:?}) = {out:?}"
                ),
                Err(e) => {
                    let r = error_row(&e, cols).unwrap_or(0);
                    ensure!(
                        out.iter()
                            .zip(&out0)
                            .skip(r)
                            .all(|(a, &b)| a.to_bits() == b),
                        "err-unchanged (rows from the failing one)",
                        "logsumexp_rows({x:?}) -> {e:?} wrote {out:?}"
                    );
                }
            }
            return;
        }
    };
    let before = if which == 2 { bits(&x.buf) } else { y0 };
    match result {
        Ok(()) => {
            ensure!(
                y.only_rows_changed(&before, 0..y.rows),
                "gaps-untouched",
                "{name}({x:?}) wrote outside the output view: {y:?}"
            );
            ensure!(
                (which == 2 && x_nan) || !has_nan(&y.elems()),
                "ok-no-nan",
                "{name}({x:?}) = {y:?}"
            );
        }
        Err(e) => {
            let r = error_row(&e, cols).unwrap_or(0);
            ensure!(
                y.only_rows_changed(&before, 0..r),
                "err-unchanged (rows from the failing one)",
                "{name}({x:?}) -> {e:?} wrote {y:?}"
            );
        }
    }
}

/// The backward passes of the softmax family check what they wrote: `Ok` holds no
/// NaN; an error either changed nothing (a non-finite `⟨dy, y⟩` or `Σ dy`) or reports a
/// NaN it wrote ("after `dx` was written").
fn softmax_backward(g: &mut Gen) {
    let n = g.len(70);
    let y = g.vec(n);
    let dy = vec_off(g, n);
    let mut dx = vec_off(g, n);
    let dx0 = bits(&dx);
    match g.byte() % 3 {
        0 => match k::softmax_backward(&y, &dy, &mut dx) {
            Ok(()) => ensure!(
                all_finite(&dx),
                "ok-finite (checked result)",
                "softmax_backward({y:?}, {dy:?}) = {dx:?}"
            ),
            Err(e) => ensure!(
                unchanged_or_reported(&e, &dx, &dx0),
                "err-unchanged",
                "softmax_backward({y:?}, {dy:?}) -> {e:?} wrote {dx:?}"
            ),
        },
        1 => {
            let mut gr = dy.clone();
            match k::softmax_backward_in_place(&y, &mut gr) {
                Ok(()) => ensure!(
                    all_finite(&gr),
                    "ok-finite (checked result)",
                    "softmax_backward_in_place({y:?}, {dy:?}) = {gr:?}"
                ),
                Err(e) => ensure!(
                    unchanged_or_reported(&e, &gr, &bits(&dy)),
                    "err-unchanged",
                    "softmax_backward_in_place({y:?}, {dy:?}) -> {e:?} wrote {gr:?}"
                ),
            }
        }
        _ => match k::log_softmax_backward(&y, &dy, &mut dx) {
            Ok(()) => ensure!(
                all_finite(&dx),
                "ok-finite (checked result)",
                "log_softmax_backward({y:?}, {dy:?}) = {dx:?}"
            ),
            Err(e) => ensure!(
                unchanged_or_reported(&e, &dx, &dx0),
                "err-unchanged",
                "log_softmax_backward({y:?}, {dy:?}) -> {e:?} wrote {dx:?}"
            ),
        },
    }
}

fn softmax_backward_rows(g: &mut Gen) {
    let (rows, cols) = (g.len(9), g.len(40));
    let y = Mat::make(g, rows, cols);
    let dy = mat_off(g, rows, cols);
    let mut dx = mat_off(g, rows, cols);
    let dx0 = bits(&dx.buf);
    let log = g.bool();
    let name = if log {
        "log_softmax_backward_rows"
    } else {
        "softmax_backward_rows"
    };
    let result = if log {
        k::log_softmax_backward_rows(y.view(), dy.view(), dx.view_mut())
    } else {
        k::softmax_backward_rows(y.view(), dy.view(), dx.view_mut())
    };
    let what = format!("{name}(y {y:?}, dy {dy:?})");
    match result {
        Ok(()) => {
            ensure!(
                dx.only_rows_changed(&dx0, 0..dx.rows),
                "gaps-untouched",
                "{what} wrote outside dx: {dx:?}"
            );
            ensure!(
                all_finite(&dx.elems()),
                "ok-finite (checked result)",
                "{what} = {dx:?}"
            );
        }
        Err(e) => {
            // Earlier rows written; the failing row unchanged or holding the NaN
            // reported; later rows unchanged.
            let (r, in_row) = match e {
                Error::NonFinite { index, .. } if cols > 0 => (index / cols, index % cols),
                _ => (0, usize::MAX),
            };
            let row_ok = r >= dx.rows
                || bits(dx.row(r)) == bits(&dx0_row(&dx0, &dx, r))
                || dx.row(r).get(in_row).is_some_and(|v| !v.is_finite());
            ensure!(
                dx.only_rows_changed(&dx0, 0..r + 1) && row_ok,
                "err-unchanged (rows from the failing one)",
                "{what} -> {e:?} wrote {dx:?}"
            );
        }
    }
}

/// Row `r` of a matrix's buffer as it was (`before`, bits).
fn dx0_row(before: &[u32], m: &Mat, r: usize) -> Vec<f32> {
    (0..m.cols)
        .map(|j| f32::from_bits(before[r * m.stride + j]))
        .collect()
}

// ---------------------------------------------------------------- losses

fn cross_entropy(g: &mut Gen) {
    let n = g.len(70);
    let z = g.vec(n);
    let t = if g.byte() < 240 {
        usize::from(g.byte()) % n.max(1)
    } else {
        g.u32() as usize
    };
    if g.bool() {
        let mut grad = vec_off(g, n);
        let g0 = bits(&grad);
        match k::cross_entropy(&z, t, &mut grad) {
            Ok(l) => ensure!(
                !l.is_nan() && !has_nan(&grad),
                "ok-no-nan",
                "cross_entropy({z:?}, {t}) = {l}, grad {grad:?}"
            ),
            Err(e) => ensure!(
                bits(&grad) == g0,
                "err-unchanged",
                "cross_entropy({z:?}, {t}) -> {e:?} wrote {grad:?}"
            ),
        }
    } else if let Ok(l) = k::cross_entropy_loss(&z, t) {
        ensure!(
            !l.is_nan(),
            "ok-no-nan",
            "cross_entropy_loss({z:?}, {t}) = {l}"
        );
    }
}

fn cross_entropy_batch(g: &mut Gen) {
    let (rows, cols) = (g.len(9), g.len(40));
    let logits = Mat::make(g, rows, cols);
    let nt = maybe_off(g, rows);
    let targets: Vec<u16> = (0..nt)
        .map(|_| {
            if g.byte() < 230 {
                (usize::from(g.byte()) % cols.max(1)) as u16
            } else {
                g.u16()
            }
        })
        .collect();
    let ignore = match g.byte() % 4 {
        0 => None,
        1 => Some(usize::from(g.byte()) % cols.max(1)),
        2 => Some(g.u32() as usize),
        _ => Some(0),
    };
    // The loss alone: never NaN, and the fused kernel's whenever both succeed.
    let alone = k::cross_entropy_batch_loss(logits.view(), &targets, ignore);
    if let Ok(l) = alone {
        ensure!(
            !l.is_nan(),
            "ok-no-nan",
            "cross_entropy_batch_loss({logits:?}, {targets:?}, {ignore:?}) = {l}"
        );
    }
    let mut grad = mat_off(g, rows, cols);
    let g0 = bits(&grad.buf);
    let fused = k::cross_entropy_batch(logits.view(), &targets, ignore, grad.view_mut());
    let same_shape = (grad.rows, grad.cols) == (rows, cols);
    ensure!(
        !same_shape || alone.is_ok() == fused.is_ok(),
        "loss-alone-agrees",
        "cross_entropy_batch_loss {alone:?} vs cross_entropy_batch {fused:?} on {logits:?}, {targets:?}, {ignore:?}"
    );
    match fused {
        Ok(l) => {
            ensure!(
                grad.only_rows_changed(&g0, 0..grad.rows),
                "gaps-untouched",
                "cross_entropy_batch wrote outside grad: {grad:?}"
            );
            ensure!(
                !l.is_nan() && !has_nan(&grad.elems()),
                "ok-no-nan",
                "cross_entropy_batch({logits:?}, {targets:?}, {ignore:?}) = {l}, grad {grad:?}"
            );
        }
        Err(e) => {
            let r = error_row(&e, cols).unwrap_or(0);
            ensure!(
                grad.only_rows_changed(&g0, 0..r),
                "err-unchanged (rows from the failing one)",
                "cross_entropy_batch({logits:?}, {targets:?}, {ignore:?}) -> {e:?} wrote {grad:?}"
            );
        }
    }
}

fn cross_entropy_soft_probs(g: &mut Gen) {
    let n = g.len(70);
    let a = g.vec(n);
    // Targets: mostly distributions-like (non-negative), sometimes anything.
    let nonneg = g.byte() < 200;
    let b: Vec<f32> = (0..maybe_off(g, n))
        .map(|_| {
            let v = g.f32();
            if nonneg { v.abs() } else { v }
        })
        .collect();
    if g.bool() {
        let mut grad = vec_off(g, n);
        let g0 = bits(&grad);
        match k::cross_entropy_soft(&a, &b, &mut grad) {
            Ok(l) => ensure!(
                !l.is_nan() && all_finite(&grad),
                "ok-no-nan (and a finite gradient)",
                "cross_entropy_soft(z {a:?}, p {b:?}) = {l}, grad {grad:?}"
            ),
            Err(e) => ensure!(
                bits(&grad) == g0,
                "err-unchanged",
                "cross_entropy_soft(z {a:?}, p {b:?}) -> {e:?} wrote {grad:?}"
            ),
        }
    } else {
        let p: Vec<f32> = a.iter().map(|v| v.abs()).collect();
        if let Ok(h) = k::cross_entropy_probs(&p, &b) {
            ensure!(
                !h.is_nan(),
                "ok-no-nan",
                "cross_entropy_probs(p {p:?}, q {b:?}) = {h}"
            );
        }
    }
}

fn logistic(g: &mut Gen) {
    let x = g.f32();
    let positive = g.bool();
    if let Ok((l, d)) = k::logistic_loss(x, positive) {
        ensure!(
            !l.is_nan() && !d.is_nan(),
            "ok-no-nan",
            "logistic_loss({x}, {positive}) = ({l}, {d})"
        );
    }
}

// ---------------------------------------------------------------- matrix products

/// The product's `f64` reference, its bound `|α|·Σ|a·b| + |β·c|`, and the bound of the
/// raw sum, for element `(i, j)` of `α·op(A)·op(B) + β·C`.
#[allow(clippy::too_many_arguments)]
fn reference(
    a: &Mat,
    ta: Trans,
    b: &Mat,
    tb: Trans,
    alpha: f32,
    beta: f32,
    c_old: f32,
    (i, j, kk): (usize, usize, usize),
) -> (f64, f64) {
    let mut sum = 0.0_f64;
    let mut abs = 0.0_f64;
    for p in 0..kk {
        let x = f64::from(if ta == Trans::N {
            a.at(i, p)
        } else {
            a.at(p, i)
        });
        let y = f64::from(if tb == Trans::N {
            b.at(p, j)
        } else {
            b.at(j, p)
        });
        sum += x * y;
        abs += (x * y).abs();
    }
    let c_term = if beta == 0.0 {
        0.0
    } else {
        f64::from(beta) * f64::from(c_old)
    };
    let value = f64::from(alpha) * sum + c_term;
    let bound = abs.max(f64::from(alpha).abs() * abs + c_term.abs());
    (value, bound)
}

fn gemm(g: &mut Gen) {
    let (m, n) = (g.len(20), g.len(20));
    // The shared dimension: sometimes past the KC = 256 block.
    let kk = if g.byte() < 230 {
        g.len(40)
    } else {
        g.range(250, 300)
    };
    let ta = if g.bool() { Trans::T } else { Trans::N };
    let tb = if g.bool() { Trans::T } else { Trans::N };
    let (ar, ac) = if ta == Trans::N { (m, kk) } else { (kk, m) };
    let (br, bc) = if tb == Trans::N { (kk, n) } else { (n, kk) };
    let (ar, bc, cr) = (maybe_off(g, ar), maybe_off(g, bc), maybe_off(g, m));
    let a = Mat::make(g, ar, ac);
    let b = Mat::make(g, br, bc);
    let mut c = Mat::make(g, cr, n);
    let form = g.byte() % 4;
    let (alpha, beta) = match form {
        0 => (
            g.hyper(&[1.0, -1.0, 0.5, 2.0, 0.0]),
            g.hyper(&[0.0, 1.0, -1.0, 0.5]),
        ),
        _ => (1.0, if g.bool() { 1.0 } else { 0.0 }),
    };
    // With β = 0 the old C is not read: poison it.
    if beta == 0.0 && g.bool() {
        for i in 0..c.rows {
            for j in 0..c.cols {
                c.buf[i * c.stride + j] = POISON;
            }
        }
    }
    let c0 = c.clone();
    // The shared dimension as the operands have it (a shape made off by `maybe_off`
    // may still fit).
    let kk = if ta == Trans::N { a.cols } else { a.rows };
    let acc = if beta == 0.0 {
        Accum::Overwrite
    } else {
        Accum::Add
    };
    let result = match (form, ta, tb) {
        (0, ..) => k::gemm(alpha, a.view(), ta, b.view(), tb, beta, c.view_mut()),
        (_, Trans::N, Trans::N) => k::matmul(a.view(), b.view(), c.view_mut(), acc),
        (_, Trans::N, Trans::T) => k::matmul_nt(a.view(), b.view(), c.view_mut(), acc),
        (_, Trans::T, Trans::N) => k::matmul_tn(a.view(), b.view(), c.view_mut(), acc),
        (_, Trans::T, Trans::T) => k::gemm(1.0, a.view(), ta, b.view(), tb, beta, c.view_mut()),
    };
    let what = format!(
        "gemm(alpha {alpha}, A {a:?} {ta:?}, B {b:?} {tb:?}, beta {beta}, C {c0:?}) (form {form}, k = {kk})"
    );
    match result {
        Ok(()) => {
            ensure!(
                c.only_rows_changed(&bits(&c0.buf), 0..c.rows),
                "gaps-untouched",
                "{what} wrote outside C: {c:?}"
            );
            ensure!(
                all_finite(&c.elems()),
                "ok-finite (checked result)",
                "{what} = {c:?}"
            );
            let inputs_finite = all_finite(&a.elems())
                && all_finite(&b.elems())
                && alpha.is_finite()
                && beta.is_finite()
                && (beta == 0.0 || all_finite(&c0.elems()));
            if inputs_finite {
                for i in 0..c.rows {
                    for j in 0..c.cols {
                        let (value, bound) =
                            reference(&a, ta, &b, tb, alpha, beta, c0.at(i, j), (i, j, kk));
                        if bound > SAFE {
                            continue;
                        }
                        let got = c.at(i, j);
                        // Relative rounding, plus products that underflow (each off by at
                        // most a subnormal step) before α scales them.
                        let tol = (kk as f64 + 3.0) * 1.2e-7 * bound
                            + 1e-44 * (kk as f64 + 2.0) * (f64::from(alpha).abs() + 1.0);
                        ensure!(
                            got.is_finite() && (f64::from(got) - value).abs() <= tol,
                            "matches-reference",
                            "{what}: C[{i}][{j}] = {got}, f64 reference {value} (bound {bound})"
                        );
                    }
                }
            }
        }
        // Shapes: C untouched. A result that is not finite: C written (its view only),
        // the value at the flat index reported.
        Err(e) => {
            let nan_reported = matches!(e, Error::NonFinite { index, .. }
                if c.cols > 0 && index / c.cols < c.rows && !c.at(index / c.cols, index % c.cols).is_finite());
            ensure!(
                bits(&c.buf) == bits(&c0.buf)
                    || (nan_reported && c.only_rows_changed(&bits(&c0.buf), 0..c.rows)),
                "err-unchanged",
                "{what} -> {e:?} wrote {c:?}"
            );
        }
    }
}

fn matvec_vecmat(g: &mut Gen) {
    let (rows, cols) = (g.len(24), g.len(24));
    let a = Mat::make(g, rows, cols);
    let vecmat = g.bool();
    let (xl, yl) = if vecmat { (rows, cols) } else { (cols, rows) };
    let x = vec_off(g, xl);
    let mut y = vec_off(g, yl);
    let acc = accum(g);
    if acc == Accum::Overwrite && g.bool() {
        y.fill(POISON);
    }
    let y0 = y.clone();
    let result = if vecmat {
        k::vecmat(&x, a.view(), &mut y, acc)
    } else {
        k::matvec(a.view(), &x, &mut y, acc)
    };
    let what = format!(
        "{} (A {a:?}, x {x:?}, y {y0:?}, {acc:?}) (k = {})",
        if vecmat { "vecmat" } else { "matvec" },
        x.len()
    );
    match result {
        Ok(()) => {
            let finite = all_finite(&a.elems())
                && all_finite(&x)
                && (acc == Accum::Overwrite || all_finite(&y0));
            // vecmat is a product built on gemm, which checks what it wrote.
            ensure!(!finite || !has_nan(&y), "ok-no-nan", "{what} = {y:?}");
            ensure!(
                !vecmat || all_finite(&y),
                "ok-finite (checked result)",
                "{what} = {y:?}"
            );
            if !finite {
                return;
            }
            for (o, &got) in y.iter().enumerate() {
                let (mut value, mut abs) = (0.0_f64, 0.0_f64);
                for (p, &xp) in x.iter().enumerate() {
                    let w = f64::from(if vecmat { a.at(p, o) } else { a.at(o, p) });
                    value += w * f64::from(xp);
                    abs += (w * f64::from(xp)).abs();
                }
                if acc == Accum::Add {
                    value += f64::from(y0[o]);
                    abs += f64::from(y0[o]).abs();
                }
                if abs > SAFE {
                    continue;
                }
                let tol = (x.len() as f64 + 3.0) * 1.2e-7 * abs + 1e-44 * (x.len() as f64 + 2.0);
                ensure!(
                    got.is_finite() && (f64::from(got) - value).abs() <= tol,
                    "matches-reference",
                    "{what}: y[{o}] = {got}, f64 reference {value}"
                );
            }
        }
        Err(e) => ensure!(
            bits(&y) == bits(&y0) || unchanged_or_reported(&e, &y, &bits(&y0)),
            "err-unchanged",
            "{what} -> {e:?} wrote {y:?}"
        ),
    }
}

fn bias_colsum(g: &mut Gen) {
    let (rows, cols) = (g.len(12), g.len(40));
    let mut x = Mat::make(g, rows, cols);
    let x0 = x.clone();
    let mut v = vec_off(g, cols);
    let v0 = v.clone();
    if g.bool() {
        match k::add_bias(x.view_mut(), &v) {
            Ok(()) => {
                ensure!(
                    x.only_rows_changed(&bits(&x0.buf), 0..rows),
                    "gaps-untouched",
                    "add_bias wrote outside x: {x:?}"
                );
                for i in 0..rows {
                    for j in 0..cols {
                        ensure!(
                            same(x.at(i, j), x0.at(i, j) + v[j]),
                            "exact",
                            "add_bias({x0:?}, {v:?}) = {x:?}"
                        );
                    }
                }
            }
            Err(e) => ensure!(
                bits(&x.buf) == bits(&x0.buf),
                "err-unchanged",
                "add_bias -> {e:?} wrote {x:?}"
            ),
        }
    } else {
        let acc = accum(g);
        match k::col_sum(x.view(), &mut v, acc) {
            Ok(()) => {
                let finite = all_finite(&x.elems()) && (acc == Accum::Overwrite || all_finite(&v0));
                for j in 0..cols {
                    let mut abs: f64 = (0..rows).map(|i| f64::from(x.at(i, j)).abs()).sum();
                    if acc == Accum::Add {
                        abs += f64::from(v0[j]).abs();
                    }
                    ensure!(
                        !finite || abs > SAFE || v[j].is_finite(),
                        "ok-no-nan",
                        "col_sum({x:?}, {acc:?}, out {v0:?}) = {v:?}"
                    );
                }
            }
            Err(e) => ensure!(
                bits(&v) == bits(&v0),
                "err-unchanged",
                "col_sum -> {e:?} wrote {v:?}"
            ),
        }
    }
}

// ---------------------------------------------------------------- LayerNorm

const EPS: [f32; 4] = [1e-5, 1e-6, 1e-3, 1.0];

fn layer_norm(g: &mut Gen) {
    let n = g.len(40);
    let x = g.vec(n);
    let gamma = vec_off(g, n);
    let beta = vec_off(g, n);
    let eps = g.hyper(&EPS);
    let mut y = vec_off(g, n);
    let y0 = bits(&y);
    match k::layer_norm(&x, &gamma, &beta, eps, &mut y) {
        Ok((mean, rstd)) => ensure!(
            all_finite(&y) && mean.is_finite() && rstd.is_finite(),
            "ok-no-nan",
            "layer_norm({x:?}, {gamma:?}, {beta:?}, {eps}) = {y:?}, ({mean}, {rstd})"
        ),
        Err(e) => {
            let output_overflow =
                matches!(e, Error::NonFinite { what, .. } if what.contains("output"));
            ensure!(
                output_overflow || bits(&y) == y0,
                "err-unchanged",
                "layer_norm({x:?}, {gamma:?}, {beta:?}, {eps}) -> {e:?} wrote {y:?}"
            );
        }
    }
}

fn layer_norm_rows(g: &mut Gen) {
    let (rows, cols) = (g.len(9), g.len(40));
    let x = Mat::make(g, rows, cols);
    let gamma = vec_off(g, cols);
    let beta = vec_off(g, cols);
    let eps = g.hyper(&EPS);
    let mut y = mat_off(g, rows, cols);
    let mut stats: Vec<[f32; 2]> = (0..maybe_off(g, rows))
        .map(|_| [g.f32(), g.f32()])
        .collect();
    let (y0, s0) = (bits(&y.buf), stats.clone());
    let what = format!("layer_norm_rows({x:?}, {gamma:?}, {beta:?}, {eps})");
    match k::layer_norm_rows(x.view(), &gamma, &beta, eps, y.view_mut(), &mut stats) {
        Ok(()) => {
            ensure!(
                y.only_rows_changed(&y0, 0..y.rows),
                "gaps-untouched",
                "{what} wrote outside y: {y:?}"
            );
            ensure!(
                all_finite(&y.elems()) && stats.iter().all(|s| all_finite(s)),
                "ok-no-nan",
                "{what} = {y:?}, {stats:?}"
            );
        }
        Err(e) => {
            let r = error_row(&e, cols).unwrap_or(0);
            let output_overflow =
                matches!(e, Error::NonFinite { what, .. } if what.contains("output"));
            let y_rows = if output_overflow { r + 1 } else { r };
            ensure!(
                y.only_rows_changed(&y0, 0..y_rows),
                "err-unchanged (rows from the failing one)",
                "{what} -> {e:?} wrote {y:?}"
            );
            ensure!(
                stats
                    .iter()
                    .zip(&s0)
                    .skip(r)
                    .all(|(a, b)| bits(a) == bits(b)),
                "err-unchanged (stats from the failing row)",
                "{what} -> {e:?} wrote stats {stats:?} (were {s0:?})"
            );
        }
    }
}

fn layer_norm_backward(g: &mut Gen) {
    let n = g.len(40);
    let x = g.vec(n);
    let gamma = vec_off(g, n);
    let mut stats = (g.f32(), g.f32());
    if g.bool() {
        // The statistics of a real forward pass, when there is one.
        let mut y = vec![0.0; n];
        if let Ok(s) = k::layer_norm(&x, &gamma, &vec![0.0; gamma.len()], 1e-5, &mut y) {
            stats = s;
        }
    }
    let dy = vec_off(g, n);
    let mut dx = vec_off(g, n);
    let mut dgamma = vec_off(g, n);
    let mut dbeta = vec_off(g, n);
    let acc = accum(g);
    if acc == Accum::Overwrite && g.bool() {
        dx.fill(POISON);
    }
    let (dx0, dg0, db0) = (dx.clone(), dgamma.clone(), dbeta.clone());
    let what = format!(
        "layer_norm_backward(x {x:?}, stats {stats:?}, gamma {gamma:?}, dy {dy:?}, dx {dx0:?}, dgamma {dg0:?}, dbeta {db0:?}, {acc:?})"
    );
    match k::layer_norm_backward(
        &x,
        stats,
        &gamma,
        &dy,
        &mut dx,
        &mut dgamma,
        &mut dbeta,
        acc,
    ) {
        Ok(()) => ensure!(
            all_finite(&dx) && all_finite(&dgamma) && all_finite(&dbeta),
            "ok-finite (checked result)",
            "{what} = dx {dx:?}, dgamma {dgamma:?}, dbeta {dbeta:?}"
        ),
        // Documented: overflowing row means before anything is written; a result that
        // is not finite after dx, dγ, dβ were written.
        Err(e) => ensure!(
            (bits(&dx) == bits(&dx0) && bits(&dgamma) == bits(&dg0) && bits(&dbeta) == bits(&db0))
                || reported(&e, &dx)
                || reported(&e, &dgamma)
                || reported(&e, &dbeta),
            "err-unchanged",
            "{what} -> {e:?} wrote dx {dx:?}, dgamma {dgamma:?}, dbeta {dbeta:?}"
        ),
    }
}

fn layer_norm_backward_rows(g: &mut Gen) {
    let (rows, cols) = (g.len(6), g.len(24));
    let x = Mat::make(g, rows, cols);
    let gamma = vec_off(g, cols);
    let mut stats: Vec<[f32; 2]> = (0..maybe_off(g, rows))
        .map(|_| [g.f32(), g.f32()])
        .collect();
    if g.bool() && stats.len() == rows {
        let mut y = Mat::make(g, rows, cols);
        let mut s = stats.clone();
        if k::layer_norm_rows(
            x.view(),
            &gamma,
            &vec![0.0; gamma.len()],
            1e-5,
            y.view_mut(),
            &mut s,
        )
        .is_ok()
        {
            stats = s;
        }
    }
    let dy = mat_off(g, rows, cols);
    let mut dx = mat_off(g, rows, cols);
    let mut dgamma = vec_off(g, cols);
    let mut dbeta = vec_off(g, cols);
    let acc = accum(g);
    let (dx0, dg0, db0) = (dx.clone(), dgamma.clone(), dbeta.clone());
    let what = format!(
        "layer_norm_backward_rows(x {x:?}, stats {stats:?}, gamma {gamma:?}, dy {dy:?}, dx {dx0:?}, dgamma {dg0:?}, dbeta {db0:?}, {acc:?})"
    );
    match k::layer_norm_backward_rows(
        x.view(),
        &stats,
        &gamma,
        dy.view(),
        dx.view_mut(),
        &mut dgamma,
        &mut dbeta,
        acc,
    ) {
        Ok(()) => {
            ensure!(
                dx.only_rows_changed(&bits(&dx0.buf), 0..rows),
                "gaps-untouched",
                "{what} wrote outside dx: {dx:?}"
            );
            // Accumulators that held a non-finite value are the caller's.
            ensure!(
                !(all_finite(&dg0)
                    && all_finite(&db0)
                    && (acc == Accum::Overwrite || all_finite(&dx0.elems())))
                    || (all_finite(&dx.elems()) && all_finite(&dgamma) && all_finite(&dbeta)),
                "ok-no-nan",
                "{what} = dx {dx:?}, dgamma {dgamma:?}, dbeta {dbeta:?}"
            );
        }
        Err(e) => {
            let unchanged = bits(&dx.buf) == bits(&dx0.buf)
                && bits(&dgamma) == bits(&dg0)
                && bits(&dbeta) == bits(&db0);
            // Documented: a row that fails on its values leaves the rows before it
            // written (dγ, dβ included), and itself as layer_norm_backward says —
            // unchanged, or holding the non-finite value reported. So the last row of dx
            // that changed is either an earlier row (another row follows it) or the
            // failing one with the value reported (index in the row, or flat).
            let last = (0..rows.min(dx.rows))
                .rev()
                .find(|&r| bits(dx.row(r)) != bits(dx0.row(r)));
            let as_documented = match e {
                Error::NonFinite { index, .. } if cols > 0 && rows.min(dx.rows) > 0 => {
                    let (i, r) = (index % cols, last.unwrap_or(0));
                    let reported = dx.row(r).get(i).is_some_and(|v| !v.is_finite())
                        || dgamma.get(i).is_some_and(|v| !v.is_finite())
                        || dbeta.get(i).is_some_and(|v| !v.is_finite());
                    let untouched =
                        last.is_none() && bits(&dgamma) == bits(&dg0) && bits(&dbeta) == bits(&db0);
                    // Another row after the last one written: that one failed.
                    reported || untouched || r + 1 < rows
                }
                _ => false,
            };
            ensure!(
                unchanged || as_documented,
                "err-unchanged",
                "{what} -> {e:?} wrote dx {dx:?}, dgamma {dgamma:?}, dbeta {dbeta:?}"
            );
        }
    }
}

// ---------------------------------------------------------------- GELU

fn gelu(g: &mut Gen) {
    let n = g.len(70);
    let x = g.vec(n);
    match g.byte() % 4 {
        0 => {
            let mut y = vec_off(g, n);
            let y0 = bits(&y);
            match k::gelu(&x, &mut y) {
                Ok(()) => ensure!(
                    x.iter().zip(&y).all(|(a, b)| a.is_nan() || !b.is_nan()),
                    "ok-no-nan",
                    "gelu({x:?}) = {y:?}"
                ),
                Err(e) => ensure!(bits(&y) == y0, "err-unchanged", "gelu -> {e:?} wrote {y:?}"),
            }
        }
        1 => {
            let mut y = x.clone();
            k::gelu_in_place(&mut y);
            ensure!(
                x.iter().zip(&y).all(|(a, b)| a.is_nan() || !b.is_nan()),
                "ok-no-nan",
                "gelu_in_place({x:?}) = {y:?}"
            );
        }
        2 => {
            let dy = vec_off(g, n);
            let mut dx = vec_off(g, n);
            let acc = accum(g);
            if acc == Accum::Overwrite && g.bool() {
                dx.fill(POISON);
            }
            let dx0 = dx.clone();
            match k::gelu_backward(&x, &dy, &mut dx, acc) {
                Ok(()) => ensure!(
                    all_finite(&dx),
                    "ok-finite (checked result)",
                    "gelu_backward(x {x:?}, dy {dy:?}, dx {dx0:?}, {acc:?}) = {dx:?}"
                ),
                Err(e) => ensure!(
                    unchanged_or_reported(&e, &dx, &bits(&dx0)),
                    "err-unchanged",
                    "gelu_backward(x {x:?}, dy {dy:?}, dx {dx0:?}, {acc:?}) -> {e:?} wrote {dx:?}"
                ),
            }
        }
        _ => {
            let gr0 = vec_off(g, n);
            let mut gr = gr0.clone();
            match k::gelu_backward_in_place(&x, &mut gr) {
                Ok(()) => ensure!(
                    all_finite(&gr),
                    "ok-finite (checked result)",
                    "gelu_backward_in_place(x {x:?}, g {gr0:?}) = {gr:?}"
                ),
                Err(e) => ensure!(
                    unchanged_or_reported(&e, &gr, &bits(&gr0)),
                    "err-unchanged",
                    "gelu_backward_in_place(x {x:?}, g {gr0:?}) -> {e:?} wrote {gr:?}"
                ),
            }
        }
    }
}

// ---------------------------------------------------------------- reductions

fn reductions(g: &mut Gen) {
    let n = g.len(70);
    let x = g.vec(n);
    let finite = all_finite(&x);
    let abs_sum: f64 = x.iter().map(|&v| f64::from(v).abs()).sum();
    let s = k::sum(&x);
    // Documented: finite inputs never give NaN, and ±inf only beyond f32's range.
    let exact: f64 = x.iter().map(|&v| f64::from(v)).sum();
    let tol = (n as f64 + 2.0) * 1.2e-7 * abs_sum + 1e-37;
    ensure!(!finite || !s.is_nan(), "ok-no-nan", "sum({x:?}) = {s}");
    ensure!(
        !finite || exact.abs() + tol > f64::from(f32::MAX) || s.is_finite(),
        "sum-inf-only-beyond-range",
        "sum({x:?}) = {s}, f64 reference {exact}"
    );
    ensure!(
        !finite || abs_sum > SAFE || (f64::from(s) - exact).abs() <= tol,
        "matches-reference",
        "sum({x:?}) = {s}, f64 reference {exact}"
    );
    let m = k::max(&x);
    let expect = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    ensure!(
        if has_nan(&x) { m.is_nan() } else { m == expect },
        "exact",
        "max({x:?}) = {m}, expected {expect}"
    );
    let ma = k::max_abs(&x);
    let expect = x.iter().map(|v| v.abs()).fold(0.0_f32, f32::max);
    ensure!(
        if has_nan(&x) {
            ma.is_nan()
        } else {
            ma == expect
        },
        "exact",
        "max_abs({x:?}) = {ma}, expected {expect}"
    );
    let sq = k::sq_norm(&x);
    ensure!(
        !finite || !sq.is_nan(),
        "ok-no-nan",
        "sq_norm({x:?}) = {sq}"
    );
    match k::check_finite("x", &x) {
        Ok(()) => ensure!(finite, "exact", "check_finite({x:?}) = Ok"),
        Err(e) => {
            let first = x.iter().position(|v| !v.is_finite());
            ensure!(
                matches!(e, Error::NonFinite { index, .. } if Some(index) == first),
                "exact",
                "check_finite({x:?}) = {e:?}"
            );
        }
    }
    let y = vec_off(g, n);
    if let Ok(d) = k::dot(&x, &y) {
        let finite = finite && all_finite(&y);
        ensure!(
            !finite || !d.is_nan(),
            "ok-no-nan",
            "dot({x:?}, {y:?}) = {d}"
        );
        let exact: f64 = x
            .iter()
            .zip(&y)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        let abs: f64 = x
            .iter()
            .zip(&y)
            .map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs())
            .sum();
        ensure!(
            !finite || exact.abs() + abs * 2f64.powi(-22) > f64::from(f32::MAX) || d.is_finite(),
            "dot-inf-only-beyond-range",
            "dot({x:?}, {y:?}) = {d}, f64 reference {exact}"
        );
    }
}

fn norms(g: &mut Gen) {
    let count = g.range(0, 5);
    let xs: Vec<Vec<f32>> = (0..count)
        .map(|_| {
            let n = g.len(40);
            g.vec(n)
        })
        .collect();
    let views: Vec<&[f32]> = xs.iter().map(|v| &v[..]).collect();
    let got = if count == 1 && g.bool() {
        k::norm(views[0])
    } else {
        k::global_norm(&views)
    };
    let all: Vec<f32> = xs.concat();
    if has_nan(&all) {
        ensure!(got.is_nan(), "norm-nan", "global_norm({xs:?}) = {got}");
        return;
    }
    ensure!(!got.is_nan(), "ok-no-nan", "global_norm({xs:?}) = {got}");
    if !all_finite(&all) {
        ensure!(
            got == f32::INFINITY,
            "norm-inf",
            "global_norm({xs:?}) = {got}"
        );
        return;
    }
    let reference = all
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt();
    if reference <= f64::from(f32::MAX) * 0.99 {
        ensure!(
            (f64::from(got) - reference).abs() <= 1e-5 * reference + 1e-37,
            "matches-reference",
            "global_norm({xs:?}) = {got}, f64 reference {reference}"
        );
    }
}

// ---------------------------------------------------------------- element-wise

fn elementwise(g: &mut Gen) {
    let n = g.len(70);
    let x = g.vec(n);
    let y0 = vec_off(g, n);
    let mut y = y0.clone();
    let alpha = g.hyper(&[1.0, -1.0, 0.5, 2.0, 0.0, 1e-3]);
    let op = g.byte() % 8;
    let name = [
        "axpy",
        "scale",
        "add",
        "add_assign",
        "mul",
        "mul_assign",
        "fill",
        "exp",
    ][usize::from(op)];
    let result = match op {
        0 => k::axpy(alpha, &x, &mut y),
        1 => {
            k::scale(alpha, &mut y);
            Ok(())
        }
        2 => k::add(&x, &x.iter().rev().copied().collect::<Vec<_>>(), &mut y),
        3 => k::add_assign(&mut y, &x),
        4 => k::mul(&x, &x.iter().rev().copied().collect::<Vec<_>>(), &mut y),
        5 => k::mul_assign(&mut y, &x),
        6 => {
            k::fill(&mut y, alpha);
            Ok(())
        }
        _ => k::exp(&x, &mut y),
    };
    let what = format!("{name}(alpha {alpha}, x {x:?}, y {y0:?})");
    if let Err(e) = result {
        ensure!(
            bits(&y) == bits(&y0),
            "err-unchanged",
            "{what} -> {e:?} wrote {y:?}"
        );
        return;
    }
    let rev = |i: usize| x[n - 1 - i];
    for i in 0..y.len() {
        let ok = match op {
            0 => {
                let fused = x[i].mul_add(alpha, y0[i]);
                let split = x[i] * alpha + y0[i];
                same(y[i], fused) || same(y[i], split)
            }
            1 => same(y[i], y0[i] * alpha),
            2 => same(y[i], x[i] + rev(i)),
            3 => same(y[i], y0[i] + x[i]),
            4 => same(y[i], x[i] * rev(i)),
            5 => same(y[i], y0[i] * x[i]),
            6 => same(y[i], alpha),
            _ => {
                let r = f64::from(x[i]).exp();
                if x[i].is_nan() {
                    y[i].is_nan()
                } else if r > f64::from(f32::MAX) {
                    y[i] == f32::INFINITY
                } else if r < f64::from(f32::MIN_POSITIVE) {
                    (f64::from(y[i]) - r).abs() <= 2.0 * f64::from(f32::from_bits(1))
                } else {
                    (f64::from(y[i]) - r).abs() <= 2.5e-7 * r
                }
            }
        };
        ensure!(ok, "exact", "{what} = {y:?} (element {i})");
    }
}

// ---------------------------------------------------------------- optimisers

const LRS: [f32; 6] = [0.1, 0.01, 1.0, 1e-3, 0.0, 0.5];

fn state_vec(g: &mut Gen, n: usize) -> Vec<f32> {
    // Fresh (zeros) or anything.
    if g.bool() { vec![0.0; n] } else { g.vec(n) }
}

fn sgd(g: &mut Gen) {
    let n = g.len(70);
    let p0 = g.vec(n);
    let grads = vec_off(g, n);
    let lr = g.hyper(&LRS);
    let mut p = p0.clone();
    if g.bool() {
        match k::sgd(&mut p, &grads, lr) {
            // The optimisers refuse an update that would store a NaN or an infinity.
            Ok(()) => ensure!(
                all_finite(&p),
                "ok-no-nan (optimisers: finite)",
                "sgd(params {p0:?}, grads {grads:?}, lr {lr}) = {p:?}"
            ),
            Err(e) => ensure!(
                bits(&p) == bits(&p0),
                "err-unchanged",
                "sgd(lr {lr}) -> {e:?} wrote {p:?}"
            ),
        }
    } else {
        let v0 = {
            let m = maybe_off(g, n);
            state_vec(g, m)
        };
        let mut v = v0.clone();
        let mu = g.hyper(&[0.9, 0.0, 0.5, 0.99]);
        match k::sgd_momentum(&mut p, &grads, &mut v, lr, mu) {
            Ok(()) => ensure!(
                all_finite(&p) && all_finite(&v),
                "ok-no-nan (optimisers: finite)",
                "sgd_momentum(params {p0:?}, grads {grads:?}, velocity {v0:?}, lr {lr}, momentum {mu}) = {p:?}, {v:?}"
            ),
            Err(e) => ensure!(
                bits(&p) == bits(&p0) && bits(&v) == bits(&v0),
                "err-unchanged",
                "sgd_momentum(lr {lr}, momentum {mu}) -> {e:?} wrote {p:?}, {v:?}"
            ),
        }
    }
}

fn adam_config(g: &mut Gen) -> Adam {
    Adam {
        lr: g.hyper(&[1e-3, 0.1, 1.0, 0.0, 3e-4]),
        beta1: g.hyper(&[0.9, 0.0, 0.5, 0.99]),
        beta2: g.hyper(&[0.999, 0.9, 0.0, 0.99]),
        eps: g.hyper(&[1e-8, 1e-6, 1e-16, 1.0]),
        weight_decay: g.hyper(&[0.0, 0.01, 0.1, 1.0]),
    }
}

fn step_number(g: &mut Gen) -> u32 {
    match g.byte() % 8 {
        0 => 0,
        1 => g.u32(),
        2 => u32::MAX,
        _ => u32::from(g.byte() % 10) + 1,
    }
}

fn adam(g: &mut Gen) {
    let n = g.len(70);
    let p0 = g.vec(n);
    let grads = vec_off(g, n);
    let m0 = {
        let m = maybe_off(g, n);
        state_vec(g, m)
    };
    let v0 = {
        let m = maybe_off(g, n);
        state_vec(g, m)
    };
    let cfg = adam_config(g);
    let t = step_number(g);
    let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
    let what = format!("{cfg:?}.step({t}, params {p0:?}, grads {grads:?}, m {m0:?}, v {v0:?})");
    match cfg.step(t, &mut p, &grads, &mut m, &mut v) {
        Ok(()) => ensure!(
            all_finite(&p) && all_finite(&m) && all_finite(&v),
            "ok-no-nan (optimisers: finite)",
            "{what} = {p:?}, {m:?}, {v:?}"
        ),
        Err(e) => ensure!(
            bits(&p) == bits(&p0) && bits(&m) == bits(&m0) && bits(&v) == bits(&v0),
            "err-unchanged",
            "{what} -> {e:?} wrote {p:?}, {m:?}, {v:?}"
        ),
    }
}

/// `Adam::prepare` once, then `AdamStep::apply` on two tensors.
fn adam_prepared(g: &mut Gen) {
    let cfg = adam_config(g);
    let t = step_number(g);
    let Ok(step) = cfg.prepare(t) else {
        return;
    };
    for _ in 0..2 {
        let n = g.len(40);
        let p0 = g.vec(n);
        let grads = vec_off(g, n);
        let m0 = {
            let m = maybe_off(g, n);
            state_vec(g, m)
        };
        let v0 = {
            let m = maybe_off(g, n);
            state_vec(g, m)
        };
        let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
        let what = format!(
            "{cfg:?}.prepare({t}).apply(params {p0:?}, grads {grads:?}, m {m0:?}, v {v0:?})"
        );
        match step.apply(&mut p, &grads, &mut m, &mut v) {
            Ok(()) => ensure!(
                all_finite(&p) && all_finite(&m) && all_finite(&v),
                "ok-no-nan (optimisers: finite)",
                "{what} = {p:?}, {m:?}, {v:?}"
            ),
            Err(e) => ensure!(
                bits(&p) == bits(&p0) && bits(&m) == bits(&m0) && bits(&v) == bits(&v0),
                "err-unchanged",
                "{what} -> {e:?} wrote {p:?}, {m:?}, {v:?}"
            ),
        }
    }
}

fn clip(g: &mut Gen) {
    let count = g.range(0, 20);
    let g0: Vec<Vec<f32>> = (0..count)
        .map(|_| {
            let n = g.len(24);
            g.vec(n)
        })
        .collect();
    let max_norm = g.hyper(&[1.0, 0.5, 0.0, 1e-3, 10.0, f32::INFINITY]);
    let mut gs = g0.clone();
    match g.byte() % 4 {
        0 => {
            let mut refs: Vec<&mut [f32]> = gs.iter_mut().map(|v| &mut v[..]).collect();
            k::zero_grads(&mut refs);
            ensure!(
                gs.iter().flatten().all(|&v| v == 0.0),
                "exact",
                "zero_grads"
            );
            return;
        }
        1 if count >= 1 => {
            let a0 = gs[0].clone();
            let src = vec_off(g, a0.len());
            match k::accumulate(&mut gs[0], &src) {
                Ok(()) => ensure!(
                    gs[0]
                        .iter()
                        .zip(a0.iter().zip(&src))
                        .all(|(&r, (&a, &b))| same(r, a + b)),
                    "exact",
                    "accumulate({a0:?}, {src:?}) = {:?}",
                    gs[0]
                ),
                Err(e) => ensure!(
                    bits(&gs[0]) == bits(&a0),
                    "err-unchanged",
                    "accumulate -> {e:?} wrote {:?}",
                    gs[0]
                ),
            }
            return;
        }
        _ => {}
    }
    let mut refs: Vec<&mut [f32]> = gs.iter_mut().map(|v| &mut v[..]).collect();
    let result = k::clip_grad_norm(&mut refs, max_norm);
    let what = format!("clip_grad_norm({g0:?}, max_norm {max_norm})");
    match result {
        Ok(total) => {
            let all: Vec<f32> = gs.concat();
            ensure!(
                !total.is_nan() && !has_nan(&all),
                "ok-no-nan",
                "{what} = {total}, {gs:?}"
            );
            let after = k::global_norm(&gs.iter().map(|v| &v[..]).collect::<Vec<_>>());
            ensure!(
                f64::from(after) <= f64::from(max_norm) * (1.0 + 1e-4) + 1e-30,
                "clipped-norm",
                "{what}: norm after clipping {after}"
            );
            if total <= max_norm {
                ensure!(
                    gs == g0 || has_nan(&g0.concat()),
                    "exact",
                    "{what}: changed {gs:?}"
                );
            }
        }
        Err(e) => ensure!(
            gs.iter().zip(&g0).all(|(a, b)| bits(a) == bits(b)),
            "err-unchanged",
            "{what} -> {e:?} wrote {gs:?}"
        ),
    }
}

// ---------------------------------------------------------------- views

/// Views from arbitrary shapes and strides, and their sub-views: no panic, and each
/// sub-view sees its parent's elements.
fn views(g: &mut Gen) {
    let len = g.len(60);
    let buf: Vec<f32> = (0..len).map(|i| i as f32).collect();
    let rows = if g.byte() < 250 {
        g.len(12)
    } else {
        g.u32() as usize
    };
    let cols = if g.byte() < 250 {
        g.len(12)
    } else {
        g.u32() as usize
    };
    let stride = if g.bool() {
        cols
    } else {
        cols.saturating_add(g.range(0, 4))
    };
    let view = if stride == cols && g.bool() {
        MatRef::new(&buf, rows, cols)
    } else {
        MatRef::strided(&buf, rows, cols, stride)
    };
    let Ok(view) = view else {
        return;
    };
    ensure!(
        rows == 0
            || cols == 0
            || (rows - 1)
                .checked_mul(stride)
                .and_then(|s| s.checked_add(cols))
                .is_some_and(|s| s <= len),
        "view-in-bounds",
        "a {rows}×{cols} view at stride {stride} of {len} elements was accepted"
    );
    // (offset of element (0, 0), rows, cols) of the current view, in `buf`.
    let (mut off, mut r, mut c) = (0_usize, rows, cols);
    let mut v = view;
    for _ in 0..3 {
        let (start, n) = (g.range(0, 14), g.range(0, 14));
        let sub = match g.byte() % 3 {
            0 => v
                .rows_range(start, n)
                .map(|s| (s, off + start * stride, n, c)),
            1 => v.cols_range(start, n).map(|s| (s, off + start, r, n)),
            _ => v.top(n).map(|s| (s, off, n, c)),
        };
        let Ok((s, o, sr, sc)) = sub else {
            continue;
        };
        ensure!(
            s.shape() == (sr, sc),
            "sub-view-shape",
            "{:?} != {:?}",
            s.shape(),
            (sr, sc)
        );
        // (A view of no columns may have any number of rows: nothing to compare.)
        for i in 0..if sc == 0 { 0 } else { sr } {
            let want: Vec<f32> = (0..sc).map(|j| buf[o + i * stride + j]).collect();
            ensure!(
                s.row(i) == &want[..],
                "sub-view-elements",
                "row {i} of a {sr}×{sc} sub-view (offset {o}, stride {stride}) of {rows}×{cols}: {:?}, expected {want:?}",
                s.row(i)
            );
        }
        let iter_rows: Vec<&[f32]> = s.row_iter().collect();
        ensure!(
            iter_rows.len() == if sc == 0 { 0 } else { sr },
            "sub-view-rows",
            "row_iter of a {sr}×{sc} view gave {} rows",
            iter_rows.len()
        );
        (off, r, c, v) = (o, sr, sc, s);
    }
    // The same on a mutable view: fill writes the view's elements and nothing else.
    let mut mbuf = vec![POISON; len];
    let mv = if stride == cols {
        MatMut::new(&mut mbuf[..rows.saturating_mul(cols).min(len)], rows, cols)
    } else {
        MatMut::strided(&mut mbuf, rows, cols, stride)
    };
    if let Ok(mut mv) = mv {
        let (start, n) = (g.range(0, 8), g.range(0, 8));
        let fill = SPECIALS[usize::from(g.byte()) % 8];
        let (o, sr, sc) = match g.byte() % 3 {
            0 => match mv.rows_range_mut(start, n) {
                Ok(mut s) => {
                    s.fill(fill);
                    (start * stride, n, cols)
                }
                Err(_) => return,
            },
            1 => match mv.cols_range_mut(start, n) {
                Ok(mut s) => {
                    s.fill(fill);
                    (start, rows, n)
                }
                Err(_) => return,
            },
            _ => match mv.top_mut(n) {
                Ok(mut s) => {
                    s.fill(fill);
                    (0, n, cols)
                }
                Err(_) => return,
            },
        };
        for (idx, &x) in mbuf.iter().enumerate() {
            let inside = idx >= o
                && sc > 0
                && (idx - o) / stride.max(1) < sr
                && (idx - o) % stride.max(1) < sc;
            ensure!(
                if inside {
                    same(x, fill)
                } else {
                    same(x, POISON)
                },
                "sub-view-fill",
                "fill of a {sr}×{sc} sub-view at offset {o} (stride {stride}) wrote {mbuf:?}"
            );
        }
    }
}

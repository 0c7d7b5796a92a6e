//! The three promises as properties, over every public kernel: on random and
//! adversarial inputs (lengths that do not match, ±f32::MAX, subnormals, signed zeros,
//! NaN, ±inf) a call never panics; an `Ok` result computed from finite inputs holds no
//! NaN anywhere (returned values and every output); an `Err` leaves every output bit for
//! bit as it was, except where the function's documentation says what it may have
//! written (row-wise kernels: the rows before the failing one; matrix products: a
//! product holding a NaN).
mod common;
use common::{Gen, ROUNDS, bits, holds_non_finite, rounds, snap, verdict};
use edgegrad::kernels::{self as k, Accum, Adam, Trans};
use edgegrad::{MatMut, MatRef, Result};

#[test]
fn row_kernels() {
    rounds(1, ROUNDS, |g| {
        let n = g.size(40);
        let x = g.vec(n);
        let dy = g.near(n);
        let mut y = g.near(n);
        let b = snap(&[&y]);
        let r = k::softmax(&x, &mut y);
        verdict("softmax", g, &r, &[], &b, &[&y], false);
        let r = k::log_softmax(&x, &mut y);
        verdict("log_softmax", g, &r, &[], &snap(&[&y]), &[&y], false);
        let mut io = x.clone();
        let r = k::softmax_in_place(&mut io);
        verdict("softmax_in_place", g, &r, &[], &[bits(&x)], &[&io], false);
        let r = k::logsumexp(&x);
        verdict(
            "logsumexp",
            g,
            &r,
            &[*r.as_ref().unwrap_or(&0.0)],
            &[],
            &[],
            false,
        );
        let mut dx = g.near(n);
        let b = snap(&[&dx]);
        let r = k::softmax_backward(&y, &dy, &mut dx);
        verdict(
            "softmax_backward",
            g,
            &r,
            &[],
            &b,
            &[&dx],
            holds_non_finite(&[&dx]),
        );
        let b = snap(&[&dx]);
        let r = k::log_softmax_backward(&y, &dy, &mut dx);
        verdict(
            "log_softmax_backward",
            g,
            &r,
            &[],
            &b,
            &[&dx],
            holds_non_finite(&[&dx]),
        );
        let mut gi = dy.clone();
        let r = k::softmax_backward_in_place(&y, &mut gi);
        verdict(
            "softmax_backward_in_place",
            g,
            &r,
            &[],
            &[bits(&dy)],
            &[&gi],
            holds_non_finite(&[&gi]),
        );
        let t = g.size(n);
        let mut grad = g.near(n);
        let b = snap(&[&grad]);
        let r = k::cross_entropy(&x, t, &mut grad);
        verdict(
            "cross_entropy",
            g,
            &r,
            &[*r.as_ref().unwrap_or(&0.0)],
            &b,
            &[&grad],
            false,
        );
        let r = k::cross_entropy_loss(&x, t);
        verdict(
            "cross_entropy_loss",
            g,
            &r,
            &[*r.as_ref().unwrap_or(&0.0)],
            &[],
            &[],
            false,
        );
        let finite = g.finite;
        let p: Vec<f32> = g
            .near(n)
            .iter()
            .map(|v| if finite { v.abs() } else { *v })
            .collect();
        let b = snap(&[&grad]);
        let r = k::cross_entropy_soft(&x, &p, &mut grad);
        verdict(
            "cross_entropy_soft",
            g,
            &r,
            &[*r.as_ref().unwrap_or(&0.0)],
            &b,
            &[&grad],
            false,
        );
        let q: Vec<f32> = x.iter().map(|v| v.abs()).collect();
        let r = k::cross_entropy_probs(&p, &q);
        verdict(
            "cross_entropy_probs",
            g,
            &r,
            &[*r.as_ref().unwrap_or(&0.0)],
            &[],
            &[],
            false,
        );
        let s = g.value();
        let r = k::logistic_loss(s, g.rng.below(2) == 0);
        let (l, d) = *r.as_ref().unwrap_or(&(0.0, 0.0));
        verdict("logistic_loss", g, &r, &[l, d], &[], &[], false);
    });
}

#[test]
fn layer_norm_and_activations() {
    rounds(2, ROUNDS, |g| {
        let n = g.size(40);
        let x = g.vec(n);
        let (gamma, beta) = (g.near(n), g.near(n));
        let eps = if g.rng.below(8) == 0 { g.value() } else { 1e-5 };
        let mut y = g.near(n);
        let b = snap(&[&y]);
        let r = k::layer_norm(&x, &gamma, &beta, eps, &mut y);
        let (mean, rstd) = *r.as_ref().unwrap_or(&(0.0, 0.0));
        verdict(
            "layer_norm",
            g,
            &r,
            &[mean, rstd],
            &b,
            &[&y],
            holds_non_finite(&[&y]),
        );
        let stats = if r.is_ok() && g.rng.below(2) == 0 {
            (mean, rstd)
        } else {
            (g.value(), g.value())
        };
        let dy = g.near(n);
        let (mut dx, mut dg, mut db) = (g.near(n), g.near(n), g.near(n));
        let acc = if g.rng.below(2) == 0 {
            Accum::Add
        } else {
            Accum::Overwrite
        };
        let b = snap(&[&dx, &dg, &db]);
        let r = k::layer_norm_backward(&x, stats, &gamma, &dy, &mut dx, &mut dg, &mut db, acc);
        verdict(
            "layer_norm_backward",
            g,
            &r,
            &[],
            &b,
            &[&dx, &dg, &db],
            holds_non_finite(&[&dx, &dg, &db]),
        );
        let b = snap(&[&y]);
        let r = k::gelu(&x, &mut y);
        verdict("gelu", g, &r, &[], &b, &[&y], false);
        let mut gi = x.clone();
        k::gelu_in_place(&mut gi);
        verdict("gelu_in_place", g, &Ok(()), &[], &[], &[&gi], false);
        let b = snap(&[&dx]);
        let r = k::gelu_backward(&x, &dy, &mut dx, acc);
        verdict(
            "gelu_backward",
            g,
            &r,
            &[],
            &b,
            &[&dx],
            holds_non_finite(&[&dx]),
        );
        let mut gi = dy.clone();
        let r = k::gelu_backward_in_place(&x, &mut gi);
        verdict(
            "gelu_backward_in_place",
            g,
            &r,
            &[],
            &[bits(&dy)],
            &[&gi],
            holds_non_finite(&[&gi]),
        );
    });
}

#[test]
fn reductions_and_elementwise() {
    rounds(3, ROUNDS, |g| {
        let n = g.size(70);
        let (x, y0) = (g.vec(n), g.near(n));
        let sums = [
            k::sum(&x),
            k::sq_norm(&x),
            k::norm(&x),
            k::max_abs(&x),
            k::global_norm(&[&x, &y0]),
        ];
        verdict(
            "sum, sq_norm, norm, max_abs, global_norm",
            g,
            &Ok(()),
            &sums,
            &[],
            &[],
            false,
        );
        let m = k::max(&x);
        verdict("max", g, &Ok(()), &[m], &[], &[], false);
        let r = k::dot(&x, &y0);
        verdict(
            "dot",
            g,
            &r,
            &[*r.as_ref().unwrap_or(&0.0)],
            &[],
            &[],
            false,
        );
        let alpha = g.value();
        let mut y = y0.clone();
        let r = k::axpy(alpha, &x, &mut y);
        verdict("axpy", g, &r, &[], &[bits(&y0)], &[&y], false);
        let mut out = g.near(n);
        for (name, f) in [
            (
                "add",
                k::add as fn(&[f32], &[f32], &mut [f32]) -> Result<()>,
            ),
            ("mul", k::mul),
        ] {
            let b = snap(&[&out]);
            let r = f(&x, &y0, &mut out);
            verdict(name, g, &r, &[], &b, &[&out], false);
        }
        let mut y = y0.clone();
        let r = k::add_assign(&mut y, &x);
        verdict("add_assign", g, &r, &[], &[bits(&y0)], &[&y], false);
        let mut y = y0.clone();
        let r = k::mul_assign(&mut y, &x);
        verdict("mul_assign", g, &r, &[], &[bits(&y0)], &[&y], false);
        let mut y = y0.clone();
        let r = k::accumulate(&mut y, &x);
        verdict("accumulate", g, &r, &[], &[bits(&y0)], &[&y], false);
        let b = snap(&[&out]);
        let r = k::exp(&x, &mut out);
        verdict("exp", g, &r, &[], &b, &[&out], false);
        let mut s = x.clone();
        k::scale(alpha, &mut s);
        verdict("scale", g, &Ok(()), &[], &[], &[&s], false);
    });
}

#[test]
fn optimisers() {
    rounds(4, ROUNDS, |g| {
        let n = g.size(30);
        let (p0, grads) = (g.vec(n), g.near(n));
        let (m0, v0) = (
            g.near(n),
            g.near(n).iter().map(|v| v.abs()).collect::<Vec<_>>(),
        );
        let lr = if g.rng.below(4) == 0 {
            g.value()
        } else {
            g.rng.uniform(0.0, 1.0)
        };
        let mu = if g.rng.below(4) == 0 {
            g.value()
        } else {
            g.rng.uniform(0.0, 0.99)
        };
        let mut p = p0.clone();
        let r = k::sgd(&mut p, &grads, lr);
        verdict("sgd", g, &r, &[], &[bits(&p0)], &[&p], false);
        let (mut p, mut m) = (p0.clone(), m0.clone());
        let r = k::sgd_momentum(&mut p, &grads, &mut m, lr, mu);
        verdict(
            "sgd_momentum",
            g,
            &r,
            &[],
            &[bits(&p0), bits(&m0)],
            &[&p, &m],
            false,
        );
        let adam = Adam {
            lr,
            beta1: mu,
            beta2: if g.rng.below(4) == 0 {
                g.value()
            } else {
                0.999
            },
            eps: if g.rng.below(4) == 0 {
                g.value().abs()
            } else {
                1e-8
            },
            weight_decay: if g.rng.below(4) == 0 { g.value() } else { 0.0 },
        };
        let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
        let t = if g.rng.below(8) == 0 {
            0
        } else {
            1 + g.rng.below(1000) as u32
        };
        let r = adam.step(t, &mut p, &grads, &mut m, &mut v);
        verdict(
            "adam",
            g,
            &r,
            &[],
            &[bits(&p0), bits(&m0), bits(&v0)],
            &[&p, &m, &v],
            false,
        );
        let (mut a, mut b) = (p0.clone(), grads.clone());
        let max_norm = if g.rng.below(4) == 0 { g.value() } else { 1.0 };
        let r = k::clip_grad_norm(&mut [&mut a, &mut b], max_norm);
        verdict(
            "clip_grad_norm",
            g,
            &r,
            &[*r.as_ref().unwrap_or(&0.0)],
            &[bits(&p0), bits(&grads)],
            &[&a, &b],
            false,
        );
    });
}

fn accum(g: &mut Gen) -> Accum {
    if g.rng.below(2) == 0 {
        Accum::Add
    } else {
        Accum::Overwrite
    }
}

#[test]
fn matrix_products() {
    rounds(5, ROUNDS, |g| {
        let (m, kk, n) = (g.size(9), g.size(9), g.size(9));
        let a = g.vec(m * kk);
        let b = g.vec(kk * n);
        let bt = g.vec(n * kk);
        let at = g.vec(kk * m);
        let c0 = g.vec(m * n);
        let acc = accum(g);
        let (Ok(av), Ok(bv), Ok(btv), Ok(atv)) = (
            MatRef::new(&a, m, kk),
            MatRef::new(&b, kk, n),
            MatRef::new(&bt, n, kk),
            MatRef::new(&at, kk, m),
        ) else {
            return;
        };
        type Product = fn(MatRef<'_>, MatRef<'_>, MatMut<'_>, Accum) -> Result<()>;
        for (name, f, lhs, rhs) in [
            ("matmul", k::matmul as Product, av, bv),
            ("matmul_nt", k::matmul_nt, av, btv),
            ("matmul_tn", k::matmul_tn, atv, bv),
        ] {
            let mut c = c0.clone();
            let r = f(lhs, rhs, MatMut::new(&mut c, m, n).unwrap(), acc);
            verdict(
                name,
                g,
                &r,
                &[],
                &[bits(&c0)],
                &[&c],
                r.is_err() && holds_non_finite(&[&c]),
            );
        }
        let (alpha, beta) = (g.value(), g.value());
        for ta in [Trans::N, Trans::T] {
            for tb in [Trans::N, Trans::T] {
                let lhs = if ta == Trans::N { av } else { atv };
                let rhs = if tb == Trans::N { bv } else { btv };
                let mut c = c0.clone();
                let r = k::gemm(
                    alpha,
                    lhs,
                    ta,
                    rhs,
                    tb,
                    beta,
                    MatMut::new(&mut c, m, n).unwrap(),
                );
                verdict(
                    "gemm",
                    g,
                    &r,
                    &[],
                    &[bits(&c0)],
                    &[&c],
                    r.is_err() && holds_non_finite(&[&c]),
                );
            }
        }
        let x = g.near(kk);
        let mut y = g.near(m);
        let y0 = bits(&y);
        let r = k::matvec(av, &x, &mut y, acc);
        verdict(
            "matvec",
            g,
            &r,
            &[],
            &[y0],
            &[&y],
            r.is_err() && holds_non_finite(&[&y]),
        );
        let xm = g.near(m);
        let mut y = g.near(kk);
        let y0 = bits(&y);
        let r = k::vecmat(&xm, av, &mut y, acc);
        verdict(
            "vecmat",
            g,
            &r,
            &[],
            &[y0],
            &[&y],
            r.is_err() && holds_non_finite(&[&y]),
        );
        let bias = g.near(n);
        let mut c = c0.clone();
        let r = k::add_bias(MatMut::new(&mut c, m, n).unwrap(), &bias);
        verdict("add_bias", g, &r, &[], &[bits(&c0)], &[&c], false);
        let mut out = g.near(n);
        let o0 = bits(&out);
        let r = k::col_sum(MatRef::new(&c0, m, n).unwrap(), &mut out, acc);
        verdict("col_sum", g, &r, &[], &[o0], &[&out], false);
    });
}

#[test]
fn row_wise_kernels_write_only_the_rows_before_a_failure() {
    rounds(6, ROUNDS, |g| {
        let (rows, n) = (g.size(5), g.size(12));
        let x = g.vec(rows * n);
        let xv = MatRef::new(&x, rows, n).unwrap();
        let y0 = g.vec(rows * n);
        // Every row-wise kernel: Ok from finite inputs holds no NaN; an error leaves the
        // rows from the failing one on untouched (what their docs say).
        let check_rows = |name: &str, g: &Gen, r: &Result<()>, y: &[f32]| {
            verdict(name, g, r, &[], &[], &[y], true);
            if r.is_err() {
                let first_bad = (0..rows).find(|&i| {
                    x[i * n..(i + 1) * n]
                        .iter()
                        .any(|v| v.is_nan() || *v == f32::INFINITY)
                });
                if let Some(i) = first_bad {
                    assert_eq!(
                        bits(&y[(i + 1) * n..]),
                        bits(&y0[(i + 1) * n..]),
                        "{name}: rows after the failing one changed"
                    );
                }
            }
        };
        let mut y = y0.clone();
        let r = k::softmax_rows(xv, MatMut::new(&mut y, rows, n).unwrap());
        check_rows("softmax_rows", g, &r, &y);
        let mut y = y0.clone();
        let r = k::log_softmax_rows(xv, MatMut::new(&mut y, rows, n).unwrap());
        check_rows("log_softmax_rows", g, &r, &y);
        let mut y = x.clone();
        let r = k::softmax_rows_in_place(MatMut::new(&mut y, rows, n).unwrap());
        verdict("softmax_rows_in_place", g, &r, &[], &[], &[&y], true);
        let mut out = g.near(rows);
        let r = k::logsumexp_rows(xv, &mut out);
        verdict("logsumexp_rows", g, &r, &[], &[], &[&out], true);
        let dy = g.vec(rows * n);
        let mut dx = y0.clone();
        let r = k::softmax_backward_rows(
            xv,
            MatRef::new(&dy, rows, n).unwrap(),
            MatMut::new(&mut dx, rows, n).unwrap(),
        );
        verdict("softmax_backward_rows", g, &r, &[], &[], &[&dx], true);
        let mut dx = y0.clone();
        let r = k::log_softmax_backward_rows(
            xv,
            MatRef::new(&dy, rows, n).unwrap(),
            MatMut::new(&mut dx, rows, n).unwrap(),
        );
        verdict("log_softmax_backward_rows", g, &r, &[], &[], &[&dx], true);
        let targets: Vec<u16> = (0..g.len_near(rows))
            .map(|_| g.rng.below(n + 1) as u16)
            .collect();
        let mut grad = y0.clone();
        let ignore = if g.rng.below(3) == 0 {
            Some(g.rng.below(n + 1))
        } else {
            None
        };
        let r = k::cross_entropy_batch(
            xv,
            &targets,
            ignore,
            MatMut::new(&mut grad, rows, n).unwrap(),
        );
        verdict(
            "cross_entropy_batch",
            g,
            &r,
            &[*r.as_ref().unwrap_or(&0.0)],
            &[],
            &[&grad],
            true,
        );
        let r = k::cross_entropy_batch_loss(xv, &targets, ignore);
        verdict(
            "cross_entropy_batch_loss",
            g,
            &r,
            &[*r.as_ref().unwrap_or(&0.0)],
            &[],
            &[],
            true,
        );
        let (gamma, beta) = (g.vec(n), g.vec(n));
        let mut stats = vec![[0.0_f32; 2]; g.len_near(rows)];
        let mut y = y0.clone();
        let r = k::layer_norm_rows(
            xv,
            &gamma,
            &beta,
            1e-5,
            MatMut::new(&mut y, rows, n).unwrap(),
            &mut stats,
        );
        let flat: Vec<f32> = stats.iter().flatten().copied().collect();
        verdict("layer_norm_rows", g, &r, &flat, &[], &[&y], true);
        let (mut dx, mut dg, mut db) = (y0.clone(), g.vec(n), g.vec(n));
        let r = k::layer_norm_backward_rows(
            xv,
            &stats,
            &gamma,
            MatRef::new(&dy, rows, n).unwrap(),
            MatMut::new(&mut dx, rows, n).unwrap(),
            &mut dg,
            &mut db,
            accum(g),
        );
        verdict(
            "layer_norm_backward_rows",
            g,
            &r,
            &[],
            &[],
            &[&dx, &dg, &db],
            true,
        );
    });
}

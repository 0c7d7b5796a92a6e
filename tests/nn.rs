//! The layers of `nn`: each forward pass against an `f64` reference, each backward
//! pass against central finite differences of that reference, each one-position step
//! against the forward pass; multi-head attention for 1, 2 and 4 heads, separate and
//! fused projections, causality, and one head against the single-head kernel math bit
//! for bit.
mod common;
use common::{Rng, assert_close, central_diff, to64};
use edgegrad::kernels::{self as k, Accum, Trans};
use edgegrad::nn::{
    AttentionActs, AttentionScratch, CausalSelfAttention, CausalSelfAttentionGrads, Embedding,
    EmbeddingGrads, KvCache, LayerNorm, LayerNormGrads, Linear, LinearGrads, Mlp, MlpActs,
    MlpGrads, Qkv,
};
use edgegrad::{Error, MatMut, MatRef};

// ---- f64 references -------------------------------------------------------------------

/// `x·W + b` for `x: l × i`, `W: i × o`.
fn linear64(x: &[f64], w: &[f64], b: Option<&[f64]>, i: usize, o: usize) -> Vec<f64> {
    let l = x.len() / i;
    let mut y = vec![0.0; l * o];
    for r in 0..l {
        for c in 0..o {
            let mut s = b.map_or(0.0, |b| b[c]);
            for p in 0..i {
                s += x[r * i + p] * w[p * o + c];
            }
            y[r * o + c] = s;
        }
    }
    y
}

fn gelu64(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

fn softmax64(x: &[f64]) -> Vec<f64> {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Parameters of an attention layer in `f64`: `q | k | v` weights side by side
/// (`d × 3w`, the fused layout; separate layers are its column blocks) and biases.
struct Attn64 {
    d: usize,
    w: usize,
    heads: usize,
    wqkv: Vec<f64>,
    bqkv: Vec<f64>,
    wo: Vec<f64>,
    bo: Vec<f64>,
}

/// Multi-head causal self-attention of the module's formulas, plainly in `f64`.
fn attention64(p: &Attn64, x: &[f64]) -> Vec<f64> {
    let (d, w, n) = (p.d, p.w, p.heads);
    let l = x.len() / d;
    let hw = w / n;
    let qkv = linear64(x, &p.wqkv, Some(&p.bqkv), d, 3 * w);
    let mut ctx = vec![0.0; l * w];
    for h in 0..n {
        for i in 0..l {
            let s: Vec<f64> = (0..=i)
                .map(|j| {
                    (0..hw)
                        .map(|c| qkv[i * 3 * w + h * hw + c] * qkv[j * 3 * w + w + h * hw + c])
                        .sum::<f64>()
                        / (hw as f64).sqrt()
                })
                .collect();
            let pr = softmax64(&s);
            for c in 0..hw {
                ctx[i * w + h * hw + c] = (0..=i)
                    .map(|j| pr[j] * qkv[j * 3 * w + 2 * w + h * hw + c])
                    .sum();
            }
        }
    }
    linear64(&ctx, &p.wo, Some(&p.bo), w, d)
}

fn dot64(a: &[f64], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * *y as f64).sum()
}

// ---- Linear, Embedding, LayerNorm, MLP -----------------------------------------------

#[test]
fn linear_forward_backward_and_step() {
    let mut rng = Rng::new(80);
    let (l, i, o) = (5, 7, 9);
    let x = rng.vec(l * i, -1.0, 1.0);
    let w = rng.vec(i * o, -1.0, 1.0);
    let b = rng.vec(o, -1.0, 1.0);
    let r = rng.vec(l * o, -1.0, 1.0); // dy
    let layer = Linear::new(MatRef::new(&w, i, o).unwrap(), Some(&b)).unwrap();
    assert!(Linear::new(MatRef::new(&w, i, o).unwrap(), Some(&b[1..])).is_err());
    let mut y = vec![0.0; l * o];
    layer
        .forward(
            MatRef::new(&x, l, i).unwrap(),
            MatMut::new(&mut y, l, o).unwrap(),
            Accum::Overwrite,
        )
        .unwrap();
    let want = linear64(&to64(&x), &to64(&w), Some(&to64(&b)), i, o);
    assert_close(&y, &want, 1e-5, 1e-6, "linear forward");
    // each row by the one-position step, also added to a residual
    for row in 0..l {
        let mut yr = vec![1.0; o];
        layer
            .step(&x[row * i..(row + 1) * i], &mut yr, Accum::Add)
            .unwrap();
        let want1: Vec<f64> = want[row * o..(row + 1) * o]
            .iter()
            .map(|v| v + 1.0)
            .collect();
        assert_close(&yr, &want1, 1e-5, 1e-6, "linear step");
    }
    // backward: gradients added to what was there; dx written
    let (mut dw, mut db, mut dx) = (vec![0.5; i * o], vec![0.25; o], vec![f32::NAN; l * i]);
    let mut grads = LinearGrads {
        weight: MatMut::new(&mut dw, i, o).unwrap(),
        bias: Some(&mut db),
    };
    layer
        .backward(
            MatRef::new(&x, l, i).unwrap(),
            MatRef::new(&r, l, o).unwrap(),
            &mut grads,
            Some((MatMut::new(&mut dx, l, i).unwrap(), Accum::Overwrite)),
        )
        .unwrap();
    let r64 = to64(&r);
    let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
        linear64(x, w, Some(b), i, o)
            .iter()
            .zip(&r64)
            .map(|(a, b)| a * b)
            .sum()
    };
    let (x64, w64, b64) = (to64(&x), to64(&w), to64(&b));
    let h = 1e-4;
    let num_dw: Vec<f64> = (0..i * o)
        .map(|j| 0.5 + central_diff(&mut w64.clone(), j, h, |w| loss(&x64, w, &b64)))
        .collect();
    let num_db: Vec<f64> = (0..o)
        .map(|j| 0.25 + central_diff(&mut b64.clone(), j, h, |b| loss(&x64, &w64, b)))
        .collect();
    let num_dx: Vec<f64> = (0..l * i)
        .map(|j| central_diff(&mut x64.clone(), j, h, |x| loss(x, &w64, &b64)))
        .collect();
    assert_close(&dw, &num_dw, 1e-4, 1e-5, "dW");
    assert_close(&db, &num_db, 1e-4, 1e-5, "db");
    assert_close(&dx, &num_dx, 1e-4, 1e-5, "dx");
}

#[test]
fn embedding_adds_rows_and_scatters_gradients() {
    let mut rng = Rng::new(81);
    let (v, t, d) = (6, 5, 4);
    let wte = rng.vec(v * d, -1.0, 1.0);
    let wpe = rng.vec(t * d, -1.0, 1.0);
    let emb = Embedding::new(
        MatRef::new(&wte, v, d).unwrap(),
        MatRef::new(&wpe, t, d).unwrap(),
    )
    .unwrap();
    let ids = [3_u16, 1, 3, 0];
    let mut x = vec![0.0; ids.len() * d];
    emb.forward(&ids, MatMut::new(&mut x, ids.len(), d).unwrap())
        .unwrap();
    for (i, &id) in ids.iter().enumerate() {
        for c in 0..d {
            assert_eq!(x[i * d + c], wte[id as usize * d + c] + wpe[i * d + c]);
        }
        let mut row = vec![0.0; d];
        emb.step(id, i, &mut row).unwrap();
        assert_eq!(row, &x[i * d..(i + 1) * d]);
    }
    let dx = rng.vec(ids.len() * d, -1.0, 1.0);
    let (mut dte, mut dpe) = (vec![0.0; v * d], vec![0.0; t * d]);
    let mut g = EmbeddingGrads {
        tokens: MatMut::new(&mut dte, v, d).unwrap(),
        positions: MatMut::new(&mut dpe, t, d).unwrap(),
    };
    emb.backward(&ids, MatRef::new(&dx, ids.len(), d).unwrap(), &mut g)
        .unwrap();
    for c in 0..d {
        // token 3 appears at positions 0 and 2: both rows add up
        assert_eq!(dte[3 * d + c], dx[c] + dx[2 * d + c]);
        assert_eq!(dte[2 * d + c], 0.0);
        assert_eq!(dpe[d + c], dx[d + c]);
        assert_eq!(dpe[4 * d + c], 0.0);
    }
    // errors before anything is written
    let mut x2 = vec![7.0; 2 * d];
    assert!(matches!(
        emb.forward(&[1, 6], MatMut::new(&mut x2, 2, d).unwrap()),
        Err(Error::IndexOutOfRange { index: 6, .. })
    ));
    assert_eq!(x2, vec![7.0; 2 * d]);
    let mut long = vec![0.0; 6 * d];
    assert!(
        emb.forward(&[0; 6], MatMut::new(&mut long, 6, d).unwrap())
            .is_err()
    );
    assert!(emb.step(0, 5, &mut [0.0; 4]).is_err());
}

#[test]
fn layer_norm_layer_matches_its_kernel_and_steps_per_row() {
    let mut rng = Rng::new(82);
    let (l, d) = (4, 10);
    let x = rng.vec(l * d, -2.0, 2.0);
    let g = rng.vec(d, 0.5, 1.5);
    let b = rng.vec(d, -0.5, 0.5);
    let ln = LayerNorm::new(&g, &b).unwrap();
    assert_eq!(ln.eps, 1e-5);
    assert!(LayerNorm::new(&g, &b[1..]).is_err());
    let mut y = vec![0.0; l * d];
    let mut stats = vec![[0.0; 2]; l];
    ln.forward(
        MatRef::new(&x, l, d).unwrap(),
        MatMut::new(&mut y, l, d).unwrap(),
        &mut stats,
    )
    .unwrap();
    for r in 0..l {
        let mut yr = vec![0.0; d];
        ln.step(&x[r * d..(r + 1) * d], &mut yr).unwrap();
        assert_eq!(yr, &y[r * d..(r + 1) * d]);
    }
    // backward adds into a residual stream and into the parameter gradients
    let dy = rng.vec(l * d, -1.0, 1.0);
    let (mut dg, mut db) = (vec![0.0; d], vec![0.0; d]);
    let mut dx = vec![1.0; l * d];
    ln.backward(
        MatRef::new(&x, l, d).unwrap(),
        &stats,
        MatRef::new(&dy, l, d).unwrap(),
        &mut LayerNormGrads {
            weight: &mut dg,
            bias: &mut db,
        },
        (MatMut::new(&mut dx, l, d).unwrap(), Accum::Add),
    )
    .unwrap();
    let loss = |x: &[f64], g: &[f64], b: &[f64]| -> f64 {
        let mut total = 0.0;
        for r in 0..l {
            let row = &x[r * d..(r + 1) * d];
            let mean = row.iter().sum::<f64>() / d as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
            for c in 0..d {
                let yv = (row[c] - mean) / (var + 1e-5).sqrt() * g[c] + b[c];
                total += yv * dy[r * d + c] as f64;
            }
        }
        total
    };
    let (x64, g64, b64) = (to64(&x), to64(&g), to64(&b));
    let h = 1e-4;
    let num_dx: Vec<f64> = (0..l * d)
        .map(|j| 1.0 + central_diff(&mut x64.clone(), j, h, |x| loss(x, &g64, &b64)))
        .collect();
    let num_dg: Vec<f64> = (0..d)
        .map(|j| central_diff(&mut g64.clone(), j, h, |g| loss(&x64, g, &b64)))
        .collect();
    assert_close(&dx, &num_dx, 1e-3, 1e-4, "layer norm dx (added)");
    assert_close(&dg, &num_dg, 1e-4, 1e-5, "layer norm dgamma");
}

#[test]
fn mlp_forward_backward_and_step() {
    let mut rng = Rng::new(83);
    let (l, d, f) = (3, 6, 12);
    let (w1, b1) = (rng.vec(d * f, -0.7, 0.7), rng.vec(f, -0.5, 0.5));
    let (w2, b2) = (rng.vec(f * d, -0.7, 0.7), rng.vec(d, -0.5, 0.5));
    let x = rng.vec(l * d, -1.5, 1.5);
    let dy = rng.vec(l * d, -1.0, 1.0);
    let mlp = Mlp {
        fc: Linear::new(MatRef::new(&w1, d, f).unwrap(), Some(&b1)).unwrap(),
        proj: Linear::new(MatRef::new(&w2, f, d).unwrap(), Some(&b2)).unwrap(),
    };
    let (mut pre, mut post, mut y) = (vec![0.0; l * f], vec![0.0; l * f], vec![0.0; l * d]);
    let mut acts = MlpActs {
        pre: MatMut::new(&mut pre, l, f).unwrap(),
        post: MatMut::new(&mut post, l, f).unwrap(),
    };
    mlp.forward(
        MatRef::new(&x, l, d).unwrap(),
        &mut acts,
        MatMut::new(&mut y, l, d).unwrap(),
        Accum::Overwrite,
    )
    .unwrap();
    let reference = |x: &[f64], w1: &[f64], b1: &[f64], w2: &[f64], b2: &[f64]| -> Vec<f64> {
        let h: Vec<f64> = linear64(x, w1, Some(b1), d, f)
            .into_iter()
            .map(gelu64)
            .collect();
        linear64(&h, w2, Some(b2), f, d)
    };
    let p = [to64(&w1), to64(&b1), to64(&w2), to64(&b2)];
    let x64 = to64(&x);
    let want = reference(&x64, &p[0], &p[1], &p[2], &p[3]);
    assert_close(&y, &want, 1e-5, 1e-5, "mlp forward");
    for r in 0..l {
        let (mut hidden, mut yr) = (vec![0.0; f], vec![0.0; d]);
        mlp.step(
            &x[r * d..(r + 1) * d],
            &mut hidden,
            &mut yr,
            Accum::Overwrite,
        )
        .unwrap();
        assert_close(&yr, &want[r * d..(r + 1) * d], 1e-5, 1e-5, "mlp step");
    }
    let (mut dw1, mut db1, mut dw2, mut db2) = (
        vec![0.0; d * f],
        vec![0.0; f],
        vec![0.0; f * d],
        vec![0.0; d],
    );
    let mut scratch = vec![0.0; l * f];
    let mut dx = vec![0.0; l * d];
    let mut grads = MlpGrads {
        fc: LinearGrads {
            weight: MatMut::new(&mut dw1, d, f).unwrap(),
            bias: Some(&mut db1),
        },
        proj: LinearGrads {
            weight: MatMut::new(&mut dw2, f, d).unwrap(),
            bias: Some(&mut db2),
        },
    };
    mlp.backward(
        MatRef::new(&x, l, d).unwrap(),
        &acts,
        MatRef::new(&dy, l, d).unwrap(),
        &mut grads,
        MatMut::new(&mut scratch, l, f).unwrap(),
        (MatMut::new(&mut dx, l, d).unwrap(), Accum::Overwrite),
    )
    .unwrap();
    let dy64 = to64(&dy);
    let loss = |x: &[f64], p: &[Vec<f64>; 4]| -> f64 {
        reference(x, &p[0], &p[1], &p[2], &p[3])
            .iter()
            .zip(&dy64)
            .map(|(a, b)| a * b)
            .sum()
    };
    let h = 1e-4;
    let analytic: [&[f32]; 4] = [&dw1, &db1, &dw2, &db2];
    for (t, got) in analytic.iter().enumerate() {
        let num: Vec<f64> = (0..got.len())
            .map(|j| {
                let mut pp = p.clone();
                central_diff(&mut pp[t], j, h, |v| {
                    let mut q = p.clone();
                    q[t] = v.to_vec();
                    loss(&x64, &q)
                })
            })
            .collect();
        assert_close(got, &num, 2e-4, 2e-5, &format!("mlp parameter {t}"));
    }
    let num_dx: Vec<f64> = (0..l * d)
        .map(|j| central_diff(&mut x64.clone(), j, h, |x| loss(x, &p)))
        .collect();
    assert_close(&dx, &num_dx, 2e-4, 2e-5, "mlp dx");
}

// ---- Multi-head causal self-attention --------------------------------------------------

/// A random attention layer's parameters (`d` in, width `w`, `heads`), as `f32`
/// buffers and in `f64`.
struct AttnCase {
    d: usize,
    w: usize,
    heads: usize,
    wqkv: Vec<f32>,
    bqkv: Vec<f32>,
    wo: Vec<f32>,
    bo: Vec<f32>,
}

impl AttnCase {
    fn new(rng: &mut Rng, d: usize, w: usize, heads: usize) -> Self {
        AttnCase {
            d,
            w,
            heads,
            wqkv: rng.vec(d * 3 * w, -0.6, 0.6),
            bqkv: rng.vec(3 * w, -0.3, 0.3),
            wo: rng.vec(w * d, -0.6, 0.6),
            bo: rng.vec(d, -0.3, 0.3),
        }
    }

    fn to64(&self) -> Attn64 {
        Attn64 {
            d: self.d,
            w: self.w,
            heads: self.heads,
            wqkv: to64(&self.wqkv),
            bqkv: to64(&self.bqkv),
            wo: to64(&self.wo),
            bo: to64(&self.bo),
        }
    }

    /// The layer, with fused projections or the three column blocks as separate layers.
    fn layer(&self, fused: bool) -> CausalSelfAttention<'_> {
        let all = MatRef::new(&self.wqkv, self.d, 3 * self.w).unwrap();
        let proj = Linear::new(
            MatRef::new(&self.wo, self.w, self.d).unwrap(),
            Some(&self.bo),
        )
        .unwrap();
        let qkv = if fused {
            Qkv::Fused(Linear::new(all, Some(&self.bqkv)).unwrap())
        } else {
            let part = |j: usize| {
                Linear::new(
                    all.cols_range(j * self.w, self.w).unwrap(),
                    Some(&self.bqkv[j * self.w..(j + 1) * self.w]),
                )
                .unwrap()
            };
            Qkv::Separate {
                q: part(0),
                k: part(1),
                v: part(2),
            }
        };
        CausalSelfAttention::new(qkv, proj, self.heads).unwrap()
    }
}

/// Buffers for a forward pass over `l` positions.
struct Buffers {
    qkv: Vec<f32>,
    probs: Vec<f32>,
    ctx: Vec<f32>,
}

impl Buffers {
    fn new(l: usize, w: usize, heads: usize) -> Self {
        Buffers {
            qkv: vec![f32::NAN; l * 3 * w],
            probs: vec![f32::NAN; heads * l * l],
            ctx: vec![f32::NAN; l * w],
        }
    }
    fn acts(&mut self, l: usize, w: usize) -> AttentionActs<'_> {
        AttentionActs {
            qkv: MatMut::new(&mut self.qkv, l, 3 * w).unwrap(),
            probs: &mut self.probs,
            ctx: MatMut::new(&mut self.ctx, l, w).unwrap(),
        }
    }
}

fn forward(c: &AttnCase, fused: bool, x: &[f32]) -> (Vec<f32>, Buffers) {
    let l = x.len() / c.d;
    let mut b = Buffers::new(l, c.w, c.heads);
    let mut y = vec![f32::NAN; l * c.d];
    c.layer(fused)
        .forward(
            MatRef::new(x, l, c.d).unwrap(),
            &mut b.acts(l, c.w),
            MatMut::new(&mut y, l, c.d).unwrap(),
            Accum::Overwrite,
        )
        .unwrap();
    (y, b)
}

#[test]
fn attention_matches_f64_reference_for_1_2_4_heads() {
    let mut rng = Rng::new(84);
    for heads in [1, 2, 4] {
        for fused in [false, true] {
            let c = AttnCase::new(&mut rng, 12, 8, heads);
            for l in [1, 2, 5, 9] {
                let x = rng.vec(l * c.d, -1.0, 1.0);
                let (y, b) = forward(&c, fused, &x);
                let want = attention64(&c.to64(), &to64(&x));
                assert_close(
                    &y,
                    &want,
                    1e-5,
                    1e-5,
                    &format!("{heads} heads, fused {fused}, l {l}"),
                );
                // each head's probability rows sum to one, zero above the diagonal
                for h in 0..heads {
                    let p = &b.probs[h * l * l..(h + 1) * l * l];
                    for i in 0..l {
                        let row = &p[i * l..(i + 1) * l];
                        assert!((row[..=i].iter().sum::<f32>() - 1.0).abs() < 1e-5);
                        assert!(row[i + 1..].iter().all(|&v| v == 0.0));
                    }
                }
            }
        }
    }
}

#[test]
fn one_head_is_the_single_head_kernel_math_bit_for_bit() {
    let mut rng = Rng::new(85);
    let (l, d, w) = (7, 10, 6);
    let wq = rng.vec(d * w, -0.5, 0.5);
    let wk = rng.vec(d * w, -0.5, 0.5);
    let wv = rng.vec(d * w, -0.5, 0.5);
    let wo = rng.vec(w * d, -0.5, 0.5);
    let x = rng.vec(l * d, -1.0, 1.0);
    fn lin(w: &[f32], i: usize, o: usize) -> Linear<'_> {
        Linear::new(MatRef::new(w, i, o).unwrap(), None).unwrap()
    }
    let attn = CausalSelfAttention::new(
        Qkv::Separate {
            q: lin(&wq, d, w),
            k: lin(&wk, d, w),
            v: lin(&wv, d, w),
        },
        lin(&wo, w, d),
        1,
    )
    .unwrap();
    let mut b = Buffers::new(l, w, 1);
    let mut y = vec![0.0; l * d];
    attn.forward(
        MatRef::new(&x, l, d).unwrap(),
        &mut b.acts(l, w),
        MatMut::new(&mut y, l, d).unwrap(),
        Accum::Overwrite,
    )
    .unwrap();
    // The single-head formulas, kernel by kernel.
    let xm = MatRef::new(&x, l, d).unwrap();
    let (mut q, mut kk, mut v) = (vec![0.0; l * w], vec![0.0; l * w], vec![0.0; l * w]);
    for (wt, out) in [(&wq, &mut q), (&wk, &mut kk), (&wv, &mut v)] {
        k::matmul(
            xm,
            MatRef::new(wt, d, w).unwrap(),
            MatMut::new(out, l, w).unwrap(),
            Accum::Overwrite,
        )
        .unwrap();
    }
    let mut p = vec![0.0; l * l];
    k::gemm(
        1.0 / (w as f32).sqrt(),
        MatRef::new(&q, l, w).unwrap(),
        Trans::N,
        MatRef::new(&kk, l, w).unwrap(),
        Trans::T,
        0.0,
        MatMut::new(&mut p, l, l).unwrap(),
    )
    .unwrap();
    for (i, row) in p.chunks_exact_mut(l).enumerate() {
        k::softmax_in_place(&mut row[..=i]).unwrap();
        row[i + 1..].fill(0.0);
    }
    let mut ctx = vec![0.0; l * w];
    k::matmul(
        MatRef::new(&p, l, l).unwrap(),
        MatRef::new(&v, l, w).unwrap(),
        MatMut::new(&mut ctx, l, w).unwrap(),
        Accum::Overwrite,
    )
    .unwrap();
    let mut want = vec![0.0; l * d];
    k::matmul(
        MatRef::new(&ctx, l, w).unwrap(),
        MatRef::new(&wo, w, d).unwrap(),
        MatMut::new(&mut want, l, d).unwrap(),
        Accum::Overwrite,
    )
    .unwrap();
    assert_eq!(b.probs, p);
    assert_eq!(b.ctx, ctx);
    assert_eq!(y, want);
}

#[test]
fn attention_gradients_match_finite_differences() {
    let mut rng = Rng::new(86);
    for (heads, fused) in [(1, false), (2, true), (4, false), (4, true)] {
        let c = AttnCase::new(&mut rng, 8, 8, heads);
        let l = 6;
        let x = rng.vec(l * c.d, -1.0, 1.0);
        let r = rng.vec(l * c.d, -1.0, 1.0); // ∂L/∂y
        let (_, mut b) = forward(&c, fused, &x);
        let (mut dwqkv, mut dbqkv) = (vec![0.0; c.d * 3 * c.w], vec![0.0; 3 * c.w]);
        let (mut dwo, mut dbo) = (vec![0.0; c.w * c.d], vec![0.0; c.d]);
        let mut dx = vec![0.5; l * c.d];
        {
            let mut all = MatMut::new(&mut dwqkv, c.d, 3 * c.w).unwrap();
            let proj = LinearGrads {
                weight: MatMut::new(&mut dwo, c.w, c.d).unwrap(),
                bias: Some(&mut dbo),
            };
            let (mut dctx, mut dprobs, mut dqkv) =
                (vec![0.0; l * c.w], vec![0.0; l * l], vec![0.0; l * 3 * c.w]);
            let mut scratch = AttentionScratch {
                dctx: MatMut::new(&mut dctx, l, c.w).unwrap(),
                dprobs: &mut dprobs,
                dqkv: MatMut::new(&mut dqkv, l, 3 * c.w).unwrap(),
            };
            let attn = c.layer(fused);
            let acts = b.acts(l, c.w);
            let xm = MatRef::new(&x, l, c.d).unwrap();
            let dy = MatRef::new(&r, l, c.d).unwrap();
            let dxm = (MatMut::new(&mut dx, l, c.d).unwrap(), Accum::Add);
            if fused {
                let mut g = CausalSelfAttentionGrads {
                    qkv: Qkv::Fused(LinearGrads {
                        weight: all.rb_mut(),
                        bias: Some(&mut dbqkv),
                    }),
                    proj,
                };
                attn.backward(xm, &acts, dy, &mut g, &mut scratch, dxm)
                    .unwrap();
            } else {
                // Three separate layers, gradients into the column blocks one at a time
                // (mutable column blocks of one buffer cannot coexist).
                let mut qkv_bufs: Vec<Vec<f32>> = (0..3).map(|_| vec![0.0; c.d * c.w]).collect();
                let mut bias_bufs: Vec<Vec<f32>> = (0..3).map(|_| vec![0.0; c.w]).collect();
                let [gq, gk, gv] = &mut qkv_bufs[..] else {
                    unreachable!()
                };
                let [bq, bk, bv] = &mut bias_bufs[..] else {
                    unreachable!()
                };
                fn lg<'a>(
                    w: &'a mut [f32],
                    b: &'a mut [f32],
                    d: usize,
                    wd: usize,
                ) -> LinearGrads<'a> {
                    LinearGrads {
                        weight: MatMut::new(w, d, wd).unwrap(),
                        bias: Some(b),
                    }
                }
                let mut g = CausalSelfAttentionGrads {
                    qkv: Qkv::Separate {
                        q: lg(gq, bq, c.d, c.w),
                        k: lg(gk, bk, c.d, c.w),
                        v: lg(gv, bv, c.d, c.w),
                    },
                    proj,
                };
                attn.backward(xm, &acts, dy, &mut g, &mut scratch, dxm)
                    .unwrap();
                for j in 0..3 {
                    for row in 0..c.d {
                        all.row_mut(row)[j * c.w..(j + 1) * c.w]
                            .copy_from_slice(&qkv_bufs[j][row * c.w..(row + 1) * c.w]);
                    }
                    dbqkv[j * c.w..(j + 1) * c.w].copy_from_slice(&bias_bufs[j]);
                }
            }
        }
        let base = c.to64();
        let x64 = to64(&x);
        let loss = |p: &Attn64, x: &[f64]| dot64(&attention64(p, x), &r);
        let h = 1e-4;
        let mut check =
            |name: &str, got: &[f32], get: &dyn Fn(&mut Attn64) -> &mut Vec<f64>, offset: f64| {
                let n = got.len();
                let picks: Vec<usize> = if n <= 48 {
                    (0..n).collect()
                } else {
                    (0..48).map(|_| rng.below(n)).collect()
                };
                let mut nonzero = 0;
                for j in picks {
                    let mut p = Attn64 {
                        wqkv: base.wqkv.clone(),
                        bqkv: base.bqkv.clone(),
                        wo: base.wo.clone(),
                        bo: base.bo.clone(),
                        ..base
                    };
                    let orig = get(&mut p)[j];
                    get(&mut p)[j] = orig + h;
                    let lp = loss(&p, &x64);
                    get(&mut p)[j] = orig - h;
                    let lm = loss(&p, &x64);
                    let num = (lp - lm) / (2.0 * h) + offset;
                    let g = got[j] as f64;
                    assert!(
                        (g - num).abs() <= 2e-3 * num.abs().max(0.02),
                        "{heads} heads, fused {fused}: {name}[{j}] analytic {g}, numeric {num}"
                    );
                    if (num - offset).abs() > 1e-6 {
                        nonzero += 1;
                    }
                }
                assert!(nonzero > 0, "{name}: no non-zero gradient sampled");
            };
        check("W_qkv", &dwqkv, &|p| &mut p.wqkv, 0.0);
        check("b_qkv", &dbqkv, &|p| &mut p.bqkv, 0.0);
        check("W_o", &dwo, &|p| &mut p.wo, 0.0);
        check("b_o", &dbo, &|p| &mut p.bo, 0.0);
        let num_dx: Vec<f64> = (0..l * c.d)
            .map(|j| 0.5 + central_diff(&mut x64.clone(), j, h, |x| loss(&base, x)))
            .collect();
        assert_close(&dx, &num_dx, 2e-3, 2e-4, "attention dx (added)");
    }
}

#[test]
fn kv_cache_step_equals_the_forward_pass_for_every_prefix() {
    let mut rng = Rng::new(87);
    for (heads, fused) in [(1, false), (2, false), (2, true), (4, true)] {
        let c = AttnCase::new(&mut rng, 12, 8, heads);
        let t = 9;
        let x = rng.vec(t * c.d, -1.0, 1.0);
        let (y, _) = forward(&c, fused, &x);
        let attn = c.layer(fused);
        let (mut keys, mut values) = (vec![0.0; t * c.w], vec![0.0; t * c.w]);
        let mut q = vec![0.0; if fused { 3 * c.w } else { c.w }];
        let (mut scores, mut ctx) = (vec![0.0; t], vec![0.0; c.w]);
        for pos in 0..t {
            let mut kv = KvCache {
                keys: MatMut::new(&mut keys, t, c.w).unwrap(),
                values: MatMut::new(&mut values, t, c.w).unwrap(),
                q: &mut q,
                scores: &mut scores,
                ctx: &mut ctx,
            };
            let mut yr = vec![f32::NAN; c.d];
            attn.step(
                &x[pos * c.d..(pos + 1) * c.d],
                pos,
                &mut kv,
                &mut yr,
                Accum::Overwrite,
            )
            .unwrap();
            // the full forward pass on this prefix: same last row
            let (yp, _) = forward(&c, fused, &x[..(pos + 1) * c.d]);
            assert_close(
                &yr,
                &to64(&yp[pos * c.d..(pos + 1) * c.d]),
                1e-5,
                1e-6,
                "step vs prefix forward",
            );
            assert_close(
                &yr,
                &to64(&y[pos * c.d..(pos + 1) * c.d]),
                1e-5,
                1e-6,
                "step vs full forward",
            );
        }
        // past the cache's rows
        let mut kv = KvCache {
            keys: MatMut::new(&mut keys, t, c.w).unwrap(),
            values: MatMut::new(&mut values, t, c.w).unwrap(),
            q: &mut q,
            scores: &mut scores,
            ctx: &mut ctx,
        };
        assert!(
            attn.step(&x[..c.d], t, &mut kv, &mut vec![0.0; c.d], Accum::Overwrite)
                .is_err()
        );
    }
}

#[test]
fn a_later_position_never_changes_an_earlier_output() {
    let mut rng = Rng::new(88);
    for heads in [1, 2, 4] {
        let c = AttnCase::new(&mut rng, 8, 8, heads);
        let l = 7;
        let x = rng.vec(l * c.d, -1.0, 1.0);
        let (y, _) = forward(&c, true, &x);
        for j in 1..l {
            let mut x2 = x.clone();
            for v in &mut x2[j * c.d..(j + 1) * c.d] {
                *v += 0.5;
            }
            let (y2, _) = forward(&c, true, &x2);
            assert_eq!(
                &y[..j * c.d],
                &y2[..j * c.d],
                "{heads} heads: position {j} leaked backwards"
            );
            assert_ne!(&y[j * c.d..(j + 1) * c.d], &y2[j * c.d..(j + 1) * c.d]);
        }
    }
}

#[test]
fn attention_shapes_are_checked() {
    let mut rng = Rng::new(89);
    let c = AttnCase::new(&mut rng, 8, 6, 2);
    let all = MatRef::new(&c.wqkv, c.d, 3 * c.w).unwrap();
    let proj = Linear::new(MatRef::new(&c.wo, c.w, c.d).unwrap(), None).unwrap();
    let fused = Qkv::Fused(Linear::new(all, None).unwrap());
    for heads in [0, 4, 5] {
        assert!(matches!(
            CausalSelfAttention::new(fused, proj, heads),
            Err(Error::InvalidParameter {
                what: "attention heads",
                ..
            })
        ));
    }
    // separate layers of different widths
    let q = Linear::new(all.cols_range(0, 6).unwrap(), None).unwrap();
    let k5 = Linear::new(all.cols_range(6, 5).unwrap(), None).unwrap();
    assert!(CausalSelfAttention::new(Qkv::Separate { q, k: k5, v: q }, proj, 2).is_err());
    // buffers of the wrong size: an error, never a panic
    let attn = CausalSelfAttention::new(fused, proj, 2).unwrap();
    let l = 4;
    let x = rng.vec(l * c.d, -1.0, 1.0);
    let mut b = Buffers::new(l, c.w, 2);
    b.probs.truncate(2 * l * l - 1);
    let mut y = vec![0.0; l * c.d];
    assert!(matches!(
        attn.forward(
            MatRef::new(&x, l, c.d).unwrap(),
            &mut b.acts(l, c.w),
            MatMut::new(&mut y, l, c.d).unwrap(),
            Accum::Overwrite
        ),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn degenerate_shapes_are_errors_not_panics() {
    // Zero-column views have empty rows.
    let data = [0.0_f32; 12];
    let v = MatRef::new(&data, 3, 4).unwrap().cols_range(1, 0).unwrap();
    assert!(v.row(2).is_empty());
    assert_eq!(v.row_iter().count(), 0);
    // An attention layer of width 0, or one whose 3W would overflow.
    let empty = Linear::new(MatRef::new(&[], 4, 0).unwrap(), None).unwrap();
    let zero_in = Linear::new(MatRef::new(&[], 0, 4).unwrap(), None).unwrap();
    assert!(CausalSelfAttention::new(Qkv::Fused(empty), zero_in, 1).is_err());
    let huge = Linear::new(MatRef::new(&[], usize::MAX / 2, 0).unwrap(), None).unwrap();
    assert!(CausalSelfAttention::new(Qkv::Fused(empty), huge, 1).is_err());
    // A Linear built with a bias of the wrong length (its fields are public): refused
    // before anything is written.
    let w = [1.0_f32; 6];
    let bad = Linear {
        weight: MatRef::new(&w, 2, 3).unwrap(),
        bias: Some(&[1.0, 2.0][..]),
    };
    let mut y = [9.0_f32; 3];
    assert!(bad.step(&[1.0, 1.0], &mut y, Accum::Add).is_err());
    assert!(
        bad.forward(
            MatRef::new(&[1.0, 1.0], 1, 2).unwrap(),
            MatMut::new(&mut y, 1, 3).unwrap(),
            Accum::Add
        )
        .is_err()
    );
    assert_eq!(y, [9.0; 3]);
    // A backward pass with a dx of the wrong shape adds to no gradient.
    let good = Linear::new(MatRef::new(&w, 2, 3).unwrap(), Some(&[0.0; 3])).unwrap();
    let (mut dw, mut db, mut dx) = ([0.0_f32; 6], [0.0_f32; 3], [0.0_f32; 3]);
    let mut g = LinearGrads {
        weight: MatMut::new(&mut dw, 2, 3).unwrap(),
        bias: Some(&mut db),
    };
    assert!(
        good.backward(
            MatRef::new(&[1.0, 1.0], 1, 2).unwrap(),
            MatRef::new(&[1.0, 1.0, 1.0], 1, 3).unwrap(),
            &mut g,
            Some((MatMut::new(&mut dx, 1, 3).unwrap(), Accum::Overwrite)),
        )
        .is_err()
    );
    assert_eq!((dw, db), ([0.0; 6], [0.0; 3]));
}

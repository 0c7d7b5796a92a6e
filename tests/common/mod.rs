//! Helpers shared by the integration tests: a seeded generator, `f64` reference
//! implementations, ulp distances, finite-difference gradient checks, and aligned
//! copies of byte buffers.
#![allow(dead_code)]

/// SplitMix64: a tiny, well-known, seedable generator; enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
    /// Uniform integer in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
    /// A standard-normal-ish value (sum of uniforms), for logits with realistic spread.
    pub fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.uniform(-1.0, 1.0)).sum::<f32>() * 0.866
    }
}

/// The stride of a dense sweep over bit patterns: `base` times `EDGEGRAD_SWEEP_SCALE`
/// (default 1), made odd so that the sweep still meets every residue of the low bits.
/// CI sets the scale for the run under qemu-user, where the sweeps take minutes; the
/// exhaustive tests cover every input natively.
pub fn sweep_stride(base: usize) -> usize {
    let scale = std::env::var("EDGEGRAD_SWEEP_SCALE")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    (base * scale) | 1
}

/// Runs `f` over all 2³² bit patterns, split into one contiguous range per available
/// core, and returns the ranges' results in order (the exhaustive accuracy tests).
pub fn over_all_bits<T: Send>(f: impl Fn(std::ops::RangeInclusive<u32>) -> T + Sync) -> Vec<T> {
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get().min(16)) as u64;
    let step = (1_u64 << 32) / parts;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..parts)
            .map(|i| {
                let lo = (i * step) as u32;
                let hi = if i + 1 == parts {
                    u32::MAX
                } else {
                    ((i + 1) * step - 1) as u32
                };
                let f = &f;
                scope.spawn(move || f(lo..=hi))
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    })
}

/// Distance in units in the last place between two finite-or-infinite `f32` of the
/// same sign (0 for equal values, including both NaN).
pub fn ulps(a: f32, b: f32) -> u64 {
    if a.is_nan() && b.is_nan() {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let key = |x: f32| {
        let bits = x.to_bits() as i64;
        if bits < 0 {
            i64::from(i32::MIN) - bits
        } else {
            bits
        }
    };
    // Maps the float line monotonically onto integers: -0 and +0 both go to 0.
    let key = |x: f32| if x == 0.0 { 0 } else { key(x) };
    (key(a) - key(b)).unsigned_abs()
}

/// The correctly rounded `eˣ`, from `f64` (whose `exp` is accurate to well under an
/// `f32` ulp, so rounding it gives the correctly rounded `f32` except in rare ties).
pub fn exp_ref(x: f32) -> f32 {
    (x as f64).exp() as f32
}

/// Asserts `|got − want| ≤ atol + rtol·|want|` element-wise, with a helpful message.
#[track_caller]
pub fn assert_close(got: &[f32], want: &[f64], rtol: f64, atol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_infinite() || w.is_nan() {
            assert!(
                (g as f64 == w) || (w.is_nan() && g.is_nan()),
                "{what}[{i}]: got {g}, want {w}"
            );
            continue;
        }
        let err = (g as f64 - w).abs();
        assert!(
            err <= atol + rtol * w.abs(),
            "{what}[{i}] (len {}): got {g}, want {w}, err {err:e}",
            got.len()
        );
    }
}

pub fn to64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

// ---- f64 references -------------------------------------------------------------------

/// `log Σ exp(x)`, max-shifted; `-inf` for an empty or all-`-inf` row.
pub fn logsumexp_f64(x: &[f64]) -> f64 {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// `softmax(x)`, max-shifted; zeros for an all-`-inf` row.
pub fn softmax_f64(x: &[f64]) -> Vec<f64> {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return vec![0.0; x.len()];
    }
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

pub fn logsumexp_ref(x: &[f32]) -> f64 {
    logsumexp_f64(&to64(x))
}

pub fn softmax_ref(x: &[f32]) -> Vec<f64> {
    softmax_f64(&to64(x))
}

pub fn log_softmax_ref(x: &[f32]) -> Vec<f64> {
    let l = logsumexp_ref(x);
    if l == f64::NEG_INFINITY {
        return vec![f64::NEG_INFINITY; x.len()];
    }
    x.iter().map(|&v| v as f64 - l).collect()
}

/// Naive triple loop `C = op(A)·op(B)` in `f64`, row-major, `op(A): m × k`.
pub fn gemm_ref(
    m: usize,
    n: usize,
    k: usize,
    a: &[f64],
    ta: bool,
    b: &[f64],
    tb: bool,
) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for p in 0..k {
                let av = if ta { a[p * m + i] } else { a[i * k + p] };
                let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                s += av * bv;
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// Central finite-difference gradient of `f` at `x` (evaluated in `f64` by `f`), with
/// step `h`.
pub fn numeric_grad(x: &[f32], h: f64, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let mut xp: Vec<f64> = to64(x);
    (0..x.len())
        .map(|i| central_diff(&mut xp, i, h, &f))
        .collect()
}

/// `(f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h`, the central difference of `f` along coordinate
/// `i`; `x` is restored afterwards.
pub fn central_diff(x: &mut [f64], i: usize, h: f64, f: impl Fn(&[f64]) -> f64) -> f64 {
    let orig = x[i];
    x[i] = orig + h;
    let fp = f(x);
    x[i] = orig - h;
    let fm = f(x);
    x[i] = orig;
    (fp - fm) / (2.0 * h)
}

/// Lengths that exercise every SIMD tail: 1..=67 and some larger ones.
pub fn lengths() -> impl Iterator<Item = usize> {
    (1..=67).chain([95, 96, 97, 128, 255, 256, 257, 1000, 1031])
}

/// The attention LM of DESIGN.md computed plainly in `f64`: `params` are the eight
/// tensors in `AttentionLm::TENSOR_NAMES` order, row-major. Returns the logits
/// (`L × V`, row-major) and the mean next-token loss (NaN for `L = 1`).
pub fn attention_ref(
    dims: (usize, usize, usize, usize),
    params: &[Vec<f64>; 8],
    tokens: &[u16],
) -> (Vec<f64>, f64) {
    let (v, _t, d, dk) = dims;
    let [tok, pos, wq, wk, wv, wo, wout, bout] = params;
    let l = tokens.len();
    let matvec = |x: &[f64], w: &[f64], cols: usize| -> Vec<f64> {
        (0..cols)
            .map(|j| {
                x.iter()
                    .enumerate()
                    .map(|(i, xi)| xi * w[i * cols + j])
                    .sum()
            })
            .collect()
    };
    let h0: Vec<Vec<f64>> = (0..l)
        .map(|i| {
            (0..d)
                .map(|c| tok[tokens[i] as usize * d + c] + pos[i * d + c])
                .collect()
        })
        .collect();
    let q: Vec<Vec<f64>> = h0.iter().map(|h| matvec(h, wq, dk)).collect();
    let k: Vec<Vec<f64>> = h0.iter().map(|h| matvec(h, wk, dk)).collect();
    let vv: Vec<Vec<f64>> = h0.iter().map(|h| matvec(h, wv, dk)).collect();
    let mut logits = vec![0.0; l * v];
    let mut loss = 0.0;
    for i in 0..l {
        let s: Vec<f64> = (0..=i)
            .map(|j| q[i].iter().zip(&k[j]).map(|(a, b)| a * b).sum::<f64>() / (dk as f64).sqrt())
            .collect();
        let p = softmax_f64(&s);
        let ctx: Vec<f64> = (0..dk)
            .map(|c| (0..=i).map(|j| p[j] * vv[j][c]).sum())
            .collect();
        let attn = matvec(&ctx, wo, d);
        let h1: Vec<f64> = h0[i].iter().zip(&attn).map(|(a, b)| a + b).collect();
        let row = matvec(&h1, wout, v);
        for c in 0..v {
            logits[i * v + c] = row[c] + bout[c];
        }
        if i + 1 < l {
            let r = &logits[i * v..(i + 1) * v];
            loss += logsumexp_f64(r) - r[tokens[i + 1] as usize];
        }
    }
    let loss = if l > 1 {
        loss / (l - 1) as f64
    } else {
        f64::NAN
    };
    (logits, loss)
}

/// A copy of some bytes at an 8-aligned address (a `Vec<u8>` promises no alignment), so
/// that safetensors weights can be read from it in place.
pub struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    pub fn new(bytes: &[u8]) -> Self {
        let mut words = vec![0_u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedBytes {
            words,
            len: bytes.len(),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }
}

/// GPT-2's tanh-approximated GELU in `f64`.
pub fn gelu_f64(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
}

/// LayerNorm of one row in `f64` (biased variance, `ε = 1e-5`).
pub fn layer_norm_f64(x: &[f64], g: &[f64], b: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let mu = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / n;
    let r = 1.0 / (var + 1e-5).sqrt();
    x.iter()
        .zip(g.iter().zip(b))
        .map(|(v, (g, b))| (v - mu) * r * g + b)
        .collect()
}

/// The GPT of the `gpt` module computed plainly in `f64`, position by position.
/// `params` are its tensors in declaration order (`wte`, `wpe`, twelve per block,
/// `ln_f`), row-major; `dims` = `(V, D, N, F, L)`. Returns the logits (`len × V`) and
/// the mean next-token loss (NaN for one token).
pub fn gpt_ref(
    dims: (usize, usize, usize, usize, usize),
    params: &[Vec<f64>],
    tokens: &[u16],
) -> (Vec<f64>, f64) {
    let (v, d, n_heads, f, layers) = dims;
    let hw = d / n_heads;
    let len = tokens.len();
    let (wte, wpe) = (&params[0], &params[1]);
    let matvec = |x: &[f64], w: &[f64], b: &[f64], cols: usize| -> Vec<f64> {
        (0..cols)
            .map(|j| {
                b[j] + x
                    .iter()
                    .enumerate()
                    .map(|(i, xi)| xi * w[i * cols + j])
                    .sum::<f64>()
            })
            .collect()
    };
    let mut x: Vec<Vec<f64>> = (0..len)
        .map(|i| {
            (0..d)
                .map(|c| wte[tokens[i] as usize * d + c] + wpe[i * d + c])
                .collect()
        })
        .collect();
    for l in 0..layers {
        let p = &params[2 + 12 * l..2 + 12 * (l + 1)];
        let (ln1g, ln1b, wa, ba, wp, bp) = (&p[0], &p[1], &p[2], &p[3], &p[4], &p[5]);
        let (ln2g, ln2b, wf, bf, wm, bm) = (&p[6], &p[7], &p[8], &p[9], &p[10], &p[11]);
        let qkv: Vec<Vec<f64>> = x
            .iter()
            .map(|r| matvec(&layer_norm_f64(r, ln1g, ln1b), wa, ba, 3 * d))
            .collect();
        for i in 0..len {
            let mut ctx = vec![0.0; d];
            for h in 0..n_heads {
                let q = &qkv[i][h * hw..(h + 1) * hw];
                let s: Vec<f64> = (0..=i)
                    .map(|j| {
                        let k = &qkv[j][d + h * hw..d + (h + 1) * hw];
                        q.iter().zip(k).map(|(a, b)| a * b).sum::<f64>() / (hw as f64).sqrt()
                    })
                    .collect();
                let pr = softmax_f64(&s);
                for c in 0..hw {
                    ctx[h * hw + c] = (0..=i).map(|j| pr[j] * qkv[j][2 * d + h * hw + c]).sum();
                }
            }
            let out = matvec(&ctx, wp, bp, d);
            for c in 0..d {
                x[i][c] += out[c];
            }
        }
        for row in x.iter_mut() {
            let hidden: Vec<f64> = matvec(&layer_norm_f64(row, ln2g, ln2b), wf, bf, f)
                .into_iter()
                .map(gelu_f64)
                .collect();
            let out = matvec(&hidden, wm, bm, d);
            for c in 0..d {
                row[c] += out[c];
            }
        }
    }
    let (lnfg, lnfb) = (&params[2 + 12 * layers], &params[3 + 12 * layers]);
    let mut logits = vec![0.0; len * v];
    let mut loss = 0.0;
    for i in 0..len {
        let a = layer_norm_f64(&x[i], lnfg, lnfb);
        for t in 0..v {
            logits[i * v + t] = (0..d).map(|c| a[c] * wte[t * d + c]).sum();
        }
        if i + 1 < len {
            let r = &logits[i * v..(i + 1) * v];
            loss += logsumexp_f64(r) - r[tokens[i + 1] as usize];
        }
    }
    let loss = if len > 1 {
        loss / (len - 1) as f64
    } else {
        f64::NAN
    };
    (logits, loss)
}

/// A safetensors file from `(name, dtype, shape, bytes)` entries, data in the order
/// given, header padded with spaces to a multiple of 8.
pub fn safetensors_file(entries: &[(String, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut at = 0;
    for (k, (name, dtype, shape, bytes)) in entries.iter().enumerate() {
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        if k > 0 {
            header.push(',');
        }
        header.push_str(&format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{at},{}]}}",
            dims.join(","),
            at + bytes.len()
        ));
        at += bytes.len();
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    for (_, _, _, bytes) in entries {
        file.extend_from_slice(bytes);
    }
    file
}

/// The bit patterns of a slice, to check that a failed call changed nothing (NaN
/// payloads and signed zeros included).
pub fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Whether every value is finite (what an `Ok` result promises when the inputs were).
pub fn all_finite(x: &[f32]) -> bool {
    x.iter().all(|v| v.is_finite())
}

// ---------------------------------------------------------------------------------------
// The promises as properties (tests/contracts*.rs)

pub const ROUNDS: usize = 20_000;

/// Finite values that break naive code: the extremes, subnormals, signed zeros, the
/// edges of `exp`.
pub const EDGES: [f32; 18] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    3e38,
    -3e38,
    f32::MAX,
    f32::MIN,
    1e-40,
    -1e-40,
    1e20,
    -1e20,
    1e-20,
    88.8,
    -87.4,
    104.0,
    -104.0,
    1.1754944e-38,
];

/// A generator of inputs for one round: finite or not (decided per round, so that
/// rounds with finite inputs are common).
pub struct Gen {
    pub rng: Rng,
    pub finite: bool,
}

impl Gen {
    pub fn value(&mut self) -> f32 {
        match self.rng.below(10) {
            0..=3 => self.rng.normal() * 3.0,
            4..=6 => EDGES[self.rng.below(EDGES.len())],
            7 => self.rng.uniform(-1e4, 1e4),
            8 => {
                f32::from_bits(self.rng.next_u64() as u32 & 0x7f7f_ffff)
                    * if self.rng.below(2) == 0 { 1.0 } else { -1.0 }
            }
            _ if !self.finite => [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][self.rng.below(3)],
            _ => 0.5,
        }
    }
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.value()).collect()
    }
    /// A length near `n`: usually `n`, sometimes off by one (a caller's mistake).
    pub fn len_near(&mut self, n: usize) -> usize {
        match self.rng.below(12) {
            0 => n + 1,
            1 => n.saturating_sub(1),
            _ => n,
        }
    }
    /// Values for a slice whose length should be `n`.
    pub fn near(&mut self, n: usize) -> Vec<f32> {
        let len = self.len_near(n);
        self.vec(len)
    }
    pub fn size(&mut self, max: usize) -> usize {
        self.rng.below(max + 1)
    }
}

/// Checks one call's outcome: `Ok` from finite inputs has no NaN in `returned` or
/// `outs`; `Err` left `outs` as `before` unless `err_may_write`.
pub fn verdict<T: core::fmt::Debug>(
    name: &str,
    g: &Gen,
    r: &edgegrad::Result<T>,
    returned: &[f32],
    before: &[Vec<u32>],
    outs: &[&[f32]],
    err_may_write: bool,
) {
    match r {
        Ok(_) if g.finite => {
            assert!(
                !returned.iter().any(|v| v.is_nan()),
                "{name}: Ok({returned:?}) with NaN from finite inputs"
            );
            for (i, o) in outs.iter().enumerate() {
                assert!(
                    !o.iter().any(|v| v.is_nan()),
                    "{name}: output {i} has NaN after Ok from finite inputs: {o:?}"
                );
            }
        }
        Ok(_) => {}
        Err(e) if !err_may_write => {
            for (i, (o, b)) in outs.iter().zip(before).enumerate() {
                assert_eq!(
                    &bits(o),
                    b,
                    "{name}: output {i} changed by a call that failed with {e:?}"
                );
            }
        }
        Err(_) => {}
    }
}

/// Whether an output holds a value that is not finite (what a kernel that checks its
/// result after writing leaves on error, as its docs say).
pub fn holds_non_finite(outs: &[&[f32]]) -> bool {
    outs.iter().any(|o| o.iter().any(|v| !v.is_finite()))
}

/// Runs `body` for `n` rounds, half of them with finite inputs only.
pub fn rounds(seed: u64, n: usize, mut body: impl FnMut(&mut Gen)) {
    let mut g = Gen {
        rng: Rng::new(seed),
        finite: true,
    };
    for round in 0..n {
        g.finite = round % 2 == 0;
        body(&mut g);
    }
}

pub fn snap(outs: &[&[f32]]) -> Vec<Vec<u32>> {
    outs.iter().map(|o| bits(o)).collect()
}

//! Lanes: the one place that chooses the SIMD type.
//!
//! Every kernel in the crate is written against [`Vector`], a vector of [`LANES`] `f32`
//! values, and against the slice traversals in this module ([`update`],
//! [`update_reduce`], [`reduce`]), which walk slices a vector at a time and finish the
//! tail with one padded vector. Kernels never write their own chunking loops, so the
//! tail handling lives here once and every kernel has exactly one implementation on
//! every target.
//!
//! On x86-64 built with AVX-512F, [`Vector`] is [`wide::f32x16`] (one zmm register); on
//! other x86-64 builds and on aarch64 it is [`wide::f32x8`] (one 256-bit AVX register or
//! two NEON registers). On targets without vector units (Cortex-M, RISC-V
//! microcontrollers) it is [`wide::f32x4`], four scalars the compiler keeps in FPU or
//! integer registers: eight would not fit a register tile into the 32 single-precision
//! registers of a Cortex-M4F. The register-tile shapes of the matrix kernels
//! ([`TILE_ROWS`], [`DOT_TILE`]) are chosen here for the same reason. `mul_add` is one
//! fused instruction on x86-64 with FMA and on aarch64; elsewhere it is a multiply and
//! an add, so results differ between targets in the last bits. The build script sets
//! `cfg(edgegrad_lanes = "4" | "8" | "16")`; building with
//! `RUSTFLAGS='--cfg edgegrad_lanes="4"'` (or `"8"`, `"16"`) selects a configuration on
//! any target, which is how the host test suite checks all three. A few functions have
//! an AVX-512 form (permutes and register inserts through `safe_arch`, which `wide` does
//! not expose) beside the portable one: [`hsum`], [`hmax`], [`hsum_lanes`] and
//! [`load_partial`].
//!
//! The module also holds the vectorised [`exp`], the throughput limit of every softmax.

#[cfg(edgegrad_lanes = "16")]
mod lanes {
    pub type Vector = wide::f32x16;
    pub type IntVector = wide::i32x16;
    pub type UintVector = wide::u32x16;
    pub const LANES: usize = 16;
    pub const TILE_ROWS: usize = 8;
    pub const DOT_TILE: (usize, usize) = (4, 4);
}
#[cfg(edgegrad_lanes = "8")]
mod lanes {
    pub type Vector = wide::f32x8;
    pub type IntVector = wide::i32x8;
    pub type UintVector = wide::u32x8;
    pub const LANES: usize = 8;
    pub const TILE_ROWS: usize = 6;
    pub const DOT_TILE: (usize, usize) = (4, 4);
}
#[cfg(not(any(edgegrad_lanes = "8", edgegrad_lanes = "16")))]
mod lanes {
    pub type Vector = wide::f32x4;
    pub type IntVector = wide::i32x4;
    pub type UintVector = wide::u32x4;
    pub const LANES: usize = 4;
    pub const TILE_ROWS: usize = 2;
    pub const DOT_TILE: (usize, usize) = (2, 2);
}

/// The SIMD vector every kernel computes with: [`LANES`] `f32` values.
pub type Vector = lanes::Vector;

/// The integer vector of the same width (for bit manipulation in [`exp`]).
type IntVector = lanes::IntVector;

/// The bits of a [`Vector`] ([`Vector::to_bits`]), for [`ln`] and [`ln_1p`].
type UintVector = lanes::UintVector;

/// Number of `f32` lanes in a [`Vector`]: 8 on x86-64 and aarch64, 4 elsewhere.
pub const LANES: usize = lanes::LANES;

/// Rows of the register tile of the broadcast matrix kernels, each row two vectors
/// wide: `6 × 16` accumulators with eight lanes, `2 × 8` with four.
pub const TILE_ROWS: usize = lanes::TILE_ROWS;

/// Rows × columns of the dot-product tile of `A·Bᵀ`, one vector accumulator each.
pub const DOT_TILE: (usize, usize) = lanes::DOT_TILE;

/// Independent accumulators of [`reduce`]: four hide the latency of a vector add or FMA
/// on hosts; with scalar lanes two (eight scalars), since sixteen scalar accumulators
/// and their operands overflow a Cortex-M4F's 32 FPU registers (the dot product
/// measured 4.1 instructions per multiply-add with four, against three for its loads
/// and multiply-add).
const ACCUMULATORS: usize = if LANES == 4 { 2 } else { 4 };

/// Elements processed per iteration by the unrolled traversals (four vectors, so that
/// four independent accumulators hide the latency of a floating-point add or FMA).
const UNROLL: usize = 4 * LANES;

/// A vector with every lane equal to `x`.
///
/// ```
/// let v = edgegrad::simd::splat(2.0);
/// assert!(v.to_array().iter().all(|&x| x == 2.0));
/// ```
#[inline(always)]
#[must_use]
pub fn splat(x: f32) -> Vector {
    Vector::splat(x)
}

/// Loads a full chunk of [`LANES`] values.
#[inline(always)]
#[must_use]
pub fn load(chunk: &[f32; LANES]) -> Vector {
    Vector::new(*chunk)
}

/// Stores a vector into a full chunk of [`LANES`] values.
#[inline(always)]
pub fn store(v: Vector, chunk: &mut [f32; LANES]) {
    *chunk = v.to_array();
}

/// Loads up to [`LANES`] values from `s`; lanes past `s.len()` are set to `pad`.
///
/// Values beyond the first [`LANES`] of `s` are ignored.
///
/// ```
/// use edgegrad::simd::load_partial;
/// let v = load_partial(&[1.0, 2.0], f32::NEG_INFINITY);
/// assert_eq!(v.to_array()[..3], [1.0, 2.0, f32::NEG_INFINITY]);
/// ```
#[inline(always)]
#[must_use]
pub fn load_partial(s: &[f32], pad: f32) -> Vector {
    #[cfg(all(
        edgegrad_lanes = "16",
        target_arch = "x86_64",
        target_feature = "avx512f"
    ))]
    {
        avx512::load_partial(s, pad)
    }
    #[cfg(not(all(
        edgegrad_lanes = "16",
        target_arch = "x86_64",
        target_feature = "avx512f"
    )))]
    {
        let mut a = [pad; LANES];
        copy_prefix(&mut a, s);
        Vector::new(a)
    }
}

/// Copies `min(dst.len(), src.len(), LANES)` values from the front of `src` to the
/// front of `dst` in power-of-two pieces of fixed length: a copy of variable length
/// is a call to `memcpy`, which measured most of the time of an `8 × 8` product with
/// sixteen lanes (every row of it a partial vector).
#[inline(always)]
fn copy_prefix(dst: &mut [f32], src: &[f32]) {
    let n = dst.len().min(src.len()).min(LANES);
    if cfg!(edgegrad_size) {
        // Built for size: one call, not a copy per piece at every tail.
        dst[..n].copy_from_slice(&src[..n]);
        return;
    }
    if n == LANES {
        dst[..LANES].copy_from_slice(&src[..LANES]);
        return;
    }
    let mut at = 0;
    let mut piece = LANES / 2;
    while piece > 0 {
        if n - at >= piece {
            dst[at..at + piece].copy_from_slice(&src[at..at + piece]);
            at += piece;
        }
        piece /= 2;
    }
}

/// Stores the first `min(s.len(), LANES)` lanes of `v` into `s`.
#[inline(always)]
pub fn store_partial(v: Vector, s: &mut [f32]) {
    copy_prefix(s, &v.to_array());
}

/// Horizontal sum `Σᵢ vᵢ`, added in a fixed pairwise order so that results are
/// reproducible on every target.
///
/// ```
/// use edgegrad::simd::{hsum, LANES, Vector};
/// let v = Vector::new(core::array::from_fn(|i| i as f32 + 1.0));
/// assert_eq!(hsum(v), (LANES * (LANES + 1) / 2) as f32);
/// ```
#[inline(always)]
#[must_use]
pub fn hsum(v: Vector) -> f32 {
    #[cfg(all(
        edgegrad_lanes = "16",
        target_arch = "x86_64",
        target_feature = "avx512f"
    ))]
    {
        avx512::hsum(v)
    }
    #[cfg(not(all(
        edgegrad_lanes = "16",
        target_arch = "x86_64",
        target_feature = "avx512f"
    )))]
    {
        hsum_array(v)
    }
}

/// [`hsum`] through the lanes as an array (which the compiler turns into shuffles for
/// four and eight lanes).
#[inline(always)]
#[cfg_attr(
    all(
        edgegrad_lanes = "16",
        target_arch = "x86_64",
        target_feature = "avx512f"
    ),
    allow(dead_code)
)]
fn hsum_array(v: Vector) -> f32 {
    let mut a = v.to_array();
    let mut n = LANES;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            a[i] += a[i + n];
        }
    }
    a[0]
}

/// Horizontal maximum `maxᵢ vᵢ` (NaN lanes are ignored unless all lanes are NaN).
#[inline(always)]
#[must_use]
pub fn hmax(v: Vector) -> f32 {
    #[cfg(all(
        edgegrad_lanes = "16",
        target_arch = "x86_64",
        target_feature = "avx512f"
    ))]
    {
        avx512::hmax(v)
    }
    #[cfg(not(all(
        edgegrad_lanes = "16",
        target_arch = "x86_64",
        target_feature = "avx512f"
    )))]
    {
        v.to_array().into_iter().fold(f32::NEG_INFINITY, f32::max)
    }
}

/// `1.0` in the first `len` lanes and `0.0` in the others: multiplying by it zeroes the
/// padded lanes of a tail exactly (`x·1 = x`, `x·0 = 0` for finite `x`).
///
/// ```
/// let m = edgegrad::simd::tail_mask(2).to_array();
/// assert_eq!(m[..3], [1.0, 1.0, 0.0]);
/// ```
#[inline(always)]
#[must_use]
pub fn tail_mask(len: usize) -> Vector {
    keep_first(len, splat(1.0), 0.0)
}

/// Lane `i` of `v` for `i < len`, `pad` in the others: the part of a vector computed on
/// a padded tail that belongs to the slice.
///
/// A lane-index compare and a blend, in registers: through an array on the stack (a
/// copy of variable length, then a vector load of it) it was a call to `memcpy` and a
/// store-forwarding stall, half the time of a softmax over rows of eight.
///
/// ```
/// use edgegrad::simd::{keep_first, splat};
/// assert_eq!(keep_first(1, splat(2.0), -1.0).to_array()[..2], [2.0, -1.0]);
/// ```
#[inline(always)]
#[must_use]
pub fn keep_first(len: usize, v: Vector, pad: f32) -> Vector {
    const INDEX: [i32; LANES] = {
        let mut idx = [0; LANES];
        let mut i = 0;
        while i < LANES {
            idx[i] = i as i32;
            i += 1;
        }
        idx
    };
    if cfg!(edgegrad_size) || LANES == 4 {
        // Scalar lanes or built for size: a lane at a time, smaller than a vector
        // compare and blend emulated lane by lane at every call site.
        let a = v.to_array();
        return Vector::new(core::array::from_fn(|i| if i < len { a[i] } else { pad }));
    }
    // `len` ≥ LANES keeps every lane (and must not wrap in the cast).
    let len = len.min(LANES) as i32;
    let keep = IntVector::new(INDEX).simd_lt(IntVector::splat(len));
    Vector::from_bits(keep.cast_unsigned()).select(v, splat(pad))
}

/// Sums [`LANES`] vectors horizontally at once: lane `i` of the result is `hsum(vs[i])`,
/// added in the same order.
///
/// The matmul dot-product tiles and the row kernels' blocks of short rows end with it.
/// With AVX-512 it is a butterfly: each stage adds the two halves of every block of
/// lanes of two vectors at once (`[a_lo, b_lo] + [a_hi, b_hi]`, two two-source permutes
/// and an add), so sixteen sums take 45 instructions. Elsewhere it is a transpose
/// (`wide`'s, which is a few shuffles for eight and four lanes) and `LANES − 1` vector
/// adds.
///
/// ```
/// use edgegrad::simd::{hsum, hsum_lanes, LANES, Vector};
/// let vs: [Vector; LANES] = core::array::from_fn(|i| Vector::splat(i as f32));
/// assert_eq!(hsum_lanes(vs).to_array()[3], hsum(vs[3]));
/// ```
#[inline(always)]
#[must_use]
pub fn hsum_lanes(vs: [Vector; LANES]) -> Vector {
    reduce_lanes(vs, |a, b| a + b)
}

/// [`hmax`] of [`LANES`] vectors at once: lane `i` of the result is `maxⱼ vs[i][j]`, by
/// [`hsum_lanes`]'s butterfly or transpose. NaN lanes are not handled: callers that
/// can see NaN track it separately (as [`max`](crate::kernels::max) does).
///
/// ```
/// use edgegrad::simd::{hmax_lanes, LANES, Vector};
/// let vs: [Vector; LANES] = core::array::from_fn(|i| Vector::new(core::array::from_fn(|j| (i * j) as f32)));
/// assert_eq!(hmax_lanes(vs).to_array()[2], (2 * (LANES - 1)) as f32);
/// ```
#[inline(always)]
#[must_use]
pub fn hmax_lanes(vs: [Vector; LANES]) -> Vector {
    reduce_lanes(vs, Vector::fast_max)
}

/// Lane `i` of the result is `vs[i]`'s lanes combined by `op` pairwise, `LANES / 2`
/// apart first (the order of [`hsum`]).
#[inline(always)]
fn reduce_lanes(vs: [Vector; LANES], op: impl Fn(Vector, Vector) -> Vector) -> Vector {
    #[cfg(all(
        edgegrad_lanes = "16",
        target_arch = "x86_64",
        target_feature = "avx512f"
    ))]
    {
        avx512::reduce_lanes(vs, op)
    }
    #[cfg(not(all(
        edgegrad_lanes = "16",
        target_arch = "x86_64",
        target_feature = "avx512f"
    )))]
    {
        let mut t = Vector::transpose(vs);
        let mut n = LANES;
        while n > 1 {
            n /= 2;
            for i in 0..n {
                t[i] = op(t[i], t[i + n]);
            }
        }
        t[0]
    }
}

/// The AVX-512 butterfly of [`hsum_lanes`].
#[cfg(all(
    edgegrad_lanes = "16",
    target_arch = "x86_64",
    target_feature = "avx512f"
))]
mod avx512 {
    use super::{LANES, Vector};
    use safe_arch::{
        cast_to_m512_from_m512i, cast_to_m512i_from_m512, insert_m128_to_m256, insert_m256_to_m512,
        load_unaligned_m128, load_unaligned_m256, m128, m256, m512, m512i, set_splat_m256,
        set_splat_m512, shuffle_abv_i32_all_m512i,
    };

    /// [`super::load_partial`] in registers: whole halves and quarters are single
    /// loads, inserted into a splat of `pad`, and at most three values are loaded one
    /// by one. Through an array on the stack, the vector's load waits for the pieces'
    /// stores to reach the cache (a store-forwarding stall), which measured most of the
    /// time of a softmax over rows shorter than a vector.
    #[inline(always)]
    pub(super) fn load_partial(s: &[f32], pad: f32) -> Vector {
        let n = s.len().min(LANES);
        let quarter = |at: usize| -> m128 {
            match s.get(at..at + 4) {
                Some(q) if n >= at + 4 => load_unaligned_m128(q.try_into().unwrap_or(&[pad; 4])),
                _ => m128::from_array(core::array::from_fn(|i| {
                    if at + i < n { s[at + i] } else { pad }
                })),
            }
        };
        let half = |at: usize| -> m256 {
            match s.get(at..at + 8) {
                Some(h) if n >= at + 8 => load_unaligned_m256(h.try_into().unwrap_or(&[pad; 8])),
                _ if n <= at => set_splat_m256(pad),
                _ => insert_m128_to_m256::<1>(
                    insert_m128_to_m256::<0>(set_splat_m256(pad), quarter(at)),
                    quarter(at + 4),
                ),
            }
        };
        let v = insert_m256_to_m512::<1>(
            insert_m256_to_m512::<0>(set_splat_m512(pad), half(0)),
            half(8),
        );
        wide::bytemuck::cast::<m512, Vector>(v)
    }

    /// Indices into `a ‖ b` (`b` from 16) of the lower (`upper = 0`) or upper
    /// (`upper = half`) halves of each block of `2·half` lanes: a block's first `half`
    /// lanes from `a`, the next from `b`.
    const fn index(half: usize, upper: usize) -> [i32; LANES] {
        let mut idx = [0; LANES];
        let mut l = 0;
        while l < LANES {
            let block = l / (2 * half) * (2 * half);
            let within = l % (2 * half);
            let source = if within < half { 0 } else { LANES };
            idx[l] = (source + block + within % half + upper) as i32;
            l += 1;
        }
        idx
    }

    const INDEX: [[[i32; LANES]; 2]; 4] = [
        [index(8, 0), index(8, 8)],
        [index(4, 0), index(4, 4)],
        [index(2, 0), index(2, 2)],
        [index(1, 0), index(1, 1)],
    ];

    #[inline(always)]
    fn bits(v: Vector) -> m512i {
        cast_to_m512i_from_m512(wide::bytemuck::cast::<Vector, m512>(v))
    }

    #[inline(always)]
    fn float(v: m512i) -> Vector {
        wide::bytemuck::cast::<m512, Vector>(cast_to_m512_from_m512i(v))
    }

    /// `v + v` with lane `i` paired with lane `i XOR half`.
    const fn swap(half: usize) -> [i32; LANES] {
        let mut idx = [0; LANES];
        let mut l = 0;
        while l < LANES {
            idx[l] = (l ^ half) as i32;
            l += 1;
        }
        idx
    }

    const SWAP: [[i32; LANES]; 4] = [swap(8), swap(4), swap(2), swap(1)];

    /// [`super::hsum`]: each stage adds lane `i + half` to lane `i`, as the array form
    /// does, in four permutes and four adds (the array form stores the vector and
    /// adds fifteen scalars one after another).
    #[inline(always)]
    pub(super) fn hsum(v: Vector) -> f32 {
        let mut v = v;
        for idx in SWAP {
            let b = bits(v);
            v += float(shuffle_abv_i32_all_m512i(b, m512i::from(idx), b));
        }
        v.to_array()[0]
    }

    /// [`super::hmax`] by the same four permutes, with `wide`'s `max`, which ignores a
    /// NaN operand as `f32::max` does.
    #[inline(always)]
    pub(super) fn hmax(v: Vector) -> f32 {
        let mut v = v;
        for idx in SWAP {
            let b = bits(v);
            v = v.max(float(shuffle_abv_i32_all_m512i(b, m512i::from(idx), b)));
        }
        v.to_array()[0]
    }

    #[inline(always)]
    pub(super) fn reduce_lanes(
        vs: [Vector; LANES],
        op: impl Fn(Vector, Vector) -> Vector,
    ) -> Vector {
        // Taken in bit-reversed order, the sums come out in natural order.
        let mut cur: [Vector; LANES] = core::array::from_fn(|i| vs[i.reverse_bits() >> 60]);
        let mut count = LANES;
        for [lo, hi] in INDEX {
            let (lo, hi) = (m512i::from(lo), m512i::from(hi));
            for q in 0..count / 2 {
                let (a, b) = (bits(cur[2 * q]), bits(cur[2 * q + 1]));
                cur[q] = op(
                    float(shuffle_abv_i32_all_m512i(a, lo, b)),
                    float(shuffle_abv_i32_all_m512i(a, hi, b)),
                );
            }
            count /= 2;
        }
        cur[0]
    }
}

/// Asks the core to bring `values` into the cache ahead of their use (one hint per
/// 64-byte line); a no-op where safe Rust has no prefetch instruction (everywhere but
/// x86-64). word2vec's training reads rows from all over tables of megabytes and
/// prefetches the next prediction's while it computes the current one.
///
/// ```
/// let row = [0.5_f32; 64];
/// edgegrad::simd::prefetch(&row); // a hint: nothing observable changes
/// assert_eq!(row[63], 0.5);
/// ```
#[inline(always)]
pub fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        let line = (64 / core::mem::size_of::<T>().max(1)).max(1);
        for v in values.iter().step_by(line) {
            safe_arch::prefetch_t0(v);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// Lane-wise square root.
///
/// Uses the hardware instruction where `wide` has one (x86-64, aarch64) and
/// `libm::sqrtf` per lane elsewhere, since `wide`'s portable fallback without `std` is
/// a slow bit-by-bit routine.
#[inline(always)]
#[must_use]
pub fn sqrt(v: Vector) -> Vector {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    {
        v.sqrt()
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
    {
        Vector::new(v.to_array().map(libm::sqrtf))
    }
}

/// The square root of one `f32`, as [`sqrt`] computes it.
///
/// Not `libm::sqrtf` on x86-64: its inline `sqrtss` keeps the legacy SSE encoding, and
/// executed between 256-bit AVX instructions that measured ~250 ns per call on an
/// AVX-512 Xeon (the SSE/AVX transition), a third of a small GPT's forward pass.
#[inline(always)]
#[must_use]
pub fn sqrt_f32(x: f32) -> f32 {
    sqrt(splat(x)).to_array()[0]
}

// ---------------------------------------------------------------------------------------
// Traversals
// ---------------------------------------------------------------------------------------

/// In-place update of `M` slices from `N` read-only slices, a vector at a time:
/// `(outs[0][i], …) = f([outs[0][i], …], [inputs[0][i], …])`.
///
/// All slices should have one length; the traversal covers the shortest. Optimisers use
/// it to update parameters and their moment estimates in one pass.
#[inline(always)]
pub fn update<const M: usize, const N: usize>(
    outs: [&mut [f32]; M],
    inputs: [&[f32]; N],
    f: impl Fn([Vector; M], [Vector; N]) -> [Vector; M],
) {
    // The common length: a shorter slice shortens the traversal instead of panicking.
    let len = outs
        .iter()
        .map(|s| s.len())
        .chain(inputs.iter().map(|s| s.len()))
        .min()
        .unwrap_or(0);
    let inputs = inputs.map(|s| &s[..len]);
    let mut outs = outs.map(|s| s[..len].as_chunks_mut::<LANES>());
    let in_chunks = inputs.map(|s| s.as_chunks::<LANES>().0);
    let full = len / LANES;
    for c in 0..full {
        let cur = core::array::from_fn(|k| load(&outs[k].0[c]));
        let new = f(cur, in_chunks.map(|s| load(&s[c])));
        for (o, v) in outs.iter_mut().zip(new) {
            store(v, &mut o.0[c]);
        }
    }
    if full * LANES < len {
        let start = full * LANES;
        let cur = core::array::from_fn(|k| load_partial(outs[k].1, 0.0));
        let new = f(cur, inputs.map(|s| load_partial(&s[start..], 0.0)));
        for (o, v) in outs.iter_mut().zip(new) {
            store_partial(v, o.1);
        }
    }
}

/// Folds `N` equally long slices into an accumulator (a vector, or a tuple of vectors).
///
/// `step(acc, [inputs[0][i..i+8], …])` is applied over four independent accumulators
/// (so FMA latency does not serialise the loop), which `merge` then combines. The tail
/// is loaded with lane padding `pad[k]` for input `k`, which must be neutral for `step`
/// (0 for sums and dot products, `-inf` for a maximum). The result still needs a
/// horizontal reduction ([`hsum`], [`hmax`]).
#[inline(always)]
pub fn reduce<const N: usize, A: Copy>(
    inputs: [&[f32]; N],
    pad: [f32; N],
    init: A,
    step: impl Fn(A, [Vector; N]) -> A,
    merge: impl Fn(A, A) -> A,
) -> A {
    if cfg!(edgegrad_size) {
        // Built for size: one accumulator, no unrolling (`init` is neutral for `merge`).
        return fold(inputs, pad, init, step);
    }
    let len = inputs.iter().map(|s| s.len()).min().unwrap_or(0);
    let inputs = inputs.map(|s| &s[..len]);
    let blocks = inputs.map(|s| s.as_chunks::<UNROLL>().0);
    let nblocks = len / UNROLL;
    let mut acc = [init; 4];
    for b in 0..nblocks {
        let blk = blocks.map(|s| &s[b]);
        for u in 0..4 {
            let a = &mut acc[u % ACCUMULATORS];
            *a = step(*a, blk.map(|s| load(&s.as_chunks::<LANES>().0[u])));
        }
    }
    let rest = inputs.map(|s| s[nblocks * UNROLL..].as_chunks::<LANES>().0);
    for c in 0..(len - nblocks * UNROLL) / LANES {
        acc[0] = step(acc[0], rest.map(|s| load(&s[c])));
    }
    if let Some(x) = load_tail(inputs, len, pad) {
        acc[1] = step(acc[1], x);
    }
    merge(merge(acc[0], acc[1]), merge(acc[2], acc[3]))
}

/// The last partial vector of each input (all `len` long), padded lane by lane with
/// `pad[k]`; `None` when `len` is a multiple of [`LANES`].
#[inline(always)]
fn load_tail<const N: usize>(
    inputs: [&[f32]; N],
    len: usize,
    pad: [f32; N],
) -> Option<[Vector; N]> {
    let i = len / LANES * LANES;
    (i < len).then(|| {
        core::array::from_fn(|k| load_partial(inputs[k].get(i..).unwrap_or_default(), pad[k]))
    })
}

/// [`reduce`] with one accumulator and no unrolling: for passes that are not on a hot
/// path (a check, a fallback), where the size of the code matters more than the speed
/// (on a core without an FPU every lane operation is a call).
#[inline(always)]
pub fn fold<const N: usize, A: Copy>(
    inputs: [&[f32]; N],
    pad: [f32; N],
    init: A,
    step: impl Fn(A, [Vector; N]) -> A,
) -> A {
    let len = inputs.iter().map(|s| s.len()).min().unwrap_or(0);
    let inputs = inputs.map(|s| &s[..len]);
    let chunks = inputs.map(|s| s.as_chunks::<LANES>().0);
    let mut acc = init;
    for c in 0..len / LANES {
        acc = step(acc, chunks.map(|s| load(&s[c])));
    }
    if let Some(x) = load_tail(inputs, len, pad) {
        acc = step(acc, x);
    }
    acc
}

/// [`update`] of one slice that also folds the new values: `io[i] = f(io[i], inputs[i])`
/// and the returned accumulator is `fold` over every stored value. Two accumulators
/// are used and combined with `fold` itself, so `fold` must be associative (a sum or a
/// maximum).
///
/// In the tail, lanes past the end are replaced by `identity` before folding, so the
/// padding never leaks into the accumulator. Softmax uses it to write `exp(x − max)`
/// and sum it in the same sweep.
#[inline(always)]
pub fn update_reduce<const N: usize>(
    io: &mut [f32],
    inputs: [&[f32]; N],
    identity: f32,
    f: impl Fn(Vector, [Vector; N]) -> Vector,
    fold: impl Fn(Vector, Vector) -> Vector,
) -> Vector {
    let len = inputs.iter().map(|s| s.len()).fold(io.len(), usize::min);
    let io = &mut io[..len];
    let inputs = inputs.map(|s| &s[..len]);
    let (io_chunks, io_tail) = io.as_chunks_mut::<LANES>();
    let in_chunks = inputs.map(|s| s.as_chunks::<LANES>().0);
    let (mut acc0, mut acc1) = (splat(identity), splat(identity));
    let step = |c: usize, o: &mut [f32; LANES]| {
        let y = f(load(o), in_chunks.map(|s| load(&s[c])));
        store(y, o);
        y
    };
    if cfg!(edgegrad_size) || LANES == 4 {
        // Built for size, and on scalar lanes (whose four lanes are already four
        // independent chains): one vector at a time.
        // All are `len / LANES` chunks long; an index bounded by each of them lets
        // the compiler drop the inputs' bounds checks.
        let n = in_chunks
            .iter()
            .map(|s| s.len())
            .fold(io_chunks.len(), usize::min);
        #[allow(clippy::needless_range_loop)] // the iterator form measured slower
        for c in 0..n {
            acc0 = fold(acc0, step(c, &mut io_chunks[c]));
        }
    } else {
        let mut pairs = io_chunks.chunks_exact_mut(2);
        let mut c = 0;
        for pair in &mut pairs {
            let (first, second) = pair.split_at_mut(1);
            acc0 = fold(acc0, step(c, &mut first[0]));
            acc1 = fold(acc1, step(c + 1, &mut second[0]));
            c += 2;
        }
        if let [last] = pairs.into_remainder() {
            acc0 = fold(acc0, step(c, last));
        }
    }
    if !io_tail.is_empty() {
        let start = len - io_tail.len();
        let y = f(
            load_partial(io_tail, 0.0),
            inputs.map(|s| load_partial(&s[start..], 0.0)),
        );
        store_partial(y, io_tail);
        acc1 = fold(acc1, keep_first(io_tail.len(), y, identity));
    }
    fold(acc0, acc1)
}

// ---------------------------------------------------------------------------------------
// exp
// ---------------------------------------------------------------------------------------

/// log2(e), rounded to f32.
const LOG2E: f32 = core::f32::consts::LOG2_E;
/// ln 2 split in two: `LN2_HI` has 16 significant bits so `n·LN2_HI` is exact for
/// every |n| ≤ 256, and `LN2_HI + LN2_LO` is ln 2 to about 2⁻⁴⁰.
const LN2_HI: f32 = f32::from_bits(0x3f31_7200); // 0.693145751953125
const LN2_LO: f32 = f32::from_bits(0x35bf_be8e); // 1.4286068e-6
/// 1.5·2²³: adding it rounds to an integer and leaves that integer in the low mantissa
/// bits, which gives both `n` as a float and `n << 23` as bits without a conversion.
const SHIFTER: f32 = 12_582_912.0;
/// Coefficients of `eʳ ≈ 1 + r + r²·(C2 + C3·r + C4·r² + C5·r³ + C6·r⁴)` on
/// `|r| ≤ ln2/2`, fitted for minimal relative error with the first two terms exact
/// (weighted Remez/Lawson iteration in double precision, then rounded to f32):
/// approximation error 3.5·10⁻⁹ = 0.06 ulp.
const C2: f32 = f32::from_bits(0x3eff_fffe); // 0.49999994
const C3: f32 = f32::from_bits(0x3e2a_aa41); // 0.16666509
const C4: f32 = f32::from_bits(0x3d2a_ac9f); // 0.04166853
const C5: f32 = f32::from_bits(0x3c09_22ee); // 0.008370144
const C6: f32 = f32::from_bits(0x3ab5_0838); // 0.0013811653

/// `eʳ` for `|r| ≲ 0.35` as `1 + (r + r²·q(r))`, the last rounding that of a value
/// near 1, with `q = (C2 + C3·r) + r²·(C4 + C5·r) + r⁴·C6` (Estrin's scheme: shorter
/// dependency chains than Horner's rule, and on cores without fused multiply-add,
/// where each multiply-add overwrites its addend, two register copies fewer).
#[inline(always)]
fn exp_poly(r: Vector) -> Vector {
    let r2 = r * r;
    let a = splat(C3).mul_add(r, splat(C2));
    let b = splat(C5).mul_add(r, splat(C4));
    let q = b.mul_add(r2, a);
    let q = splat(C6).mul_add(r2 * r2, q);
    q.mul_add(r2, r) + splat(1.0)
}

/// Range reduction `x = n·ln2 + r`: returns `(t, r)` where `t` holds `n` in its low
/// mantissa bits (see [`SHIFTER`]).
#[inline(always)]
fn exp_reduce(x: Vector) -> (Vector, Vector) {
    let t = x.mul_add(splat(LOG2E), splat(SHIFTER));
    let n = t - splat(SHIFTER);
    let r = n.mul_neg_add(splat(LN2_HI), x);
    let r = n.mul_neg_add(splat(LN2_LO), r);
    (t, r)
}

/// Lane-wise `eˣ`, vectorised, at most 1 ulp from the correctly rounded result for
/// every `f32` input.
///
/// Method: `x = n·ln2 + r` with `|r| ≤ ln2/2` (Cody–Waite reduction with a two-part
/// ln 2), `eʳ` by a degree-6 polynomial, and the result `eʳ·2ⁿ` built by adding `n` to
/// the exponent bits. That fast path takes about fourteen vector instructions. A vector
/// with any lane whose `n` is outside `[−125, 127]` (where results or `2ⁿ` leave the
/// normal range, about `|x| > 86.6`) or any NaN takes a slower path that scales by
/// `2ⁿ` in two exact halves, so that:
///
/// - results in the subnormal range are rounded once, correctly to within the
///   polynomial's error, and inputs below `ln(2⁻¹⁵⁰) ≈ −103.97` give `0`;
/// - inputs above `ln(f32::MAX) ≈ 88.72` give `+inf`; `−inf` gives `0`, `+inf` gives
///   `+inf`, NaN gives NaN;
/// - `exp(0) = 1` exactly.
///
/// Measured over all 2³² inputs: maximum error 1 ulp, with and without FMA
/// (see `tests/exp.rs`).
///
/// With four scalar lanes (microcontrollers) the fast path looks `2^(j/64)` up in a
/// 64-entry table instead (256 bytes of flash): `x = (64n + j)·ln2/64 + r`,
/// `eˣ = 2ⁿ·2^(j/64)·(1 + r + r²/2)`. Twelve multiplies and adds per lane against the
/// polynomial's twenty — on a core without an FPU each one is a library call — and 19.4
/// instructions per element on the Cortex-M4F against 27.8; also at most 1 ulp over all
/// 2³² inputs, with and without FMA. Its fast path covers `|x| < 44.3`; other vectors
/// take the path above for the edges.
///
/// ```
/// use edgegrad::simd::{exp, splat};
/// let y = exp(splat(1.0)).to_array()[0];
/// assert!((y - core::f32::consts::E).abs() <= f32::EPSILON * 3.0);
/// assert_eq!(exp(splat(f32::NEG_INFINITY)).to_array()[0], 0.0);
/// ```
// Out of line when built for size: one copy for every caller.
#[cfg_attr(not(edgegrad_size), inline(always))]
#[cfg_attr(edgegrad_size, inline(never))]
#[must_use]
pub fn exp(x: Vector) -> Vector {
    // Built for size: the slow path alone, which gives the same results everywhere
    // (scaling by two exact powers of two equals adding n to the exponent when the
    // result is normal).
    if cfg!(edgegrad_size) {
        return exp_edge(x);
    }
    if LANES == 4 {
        return exp_by_table(x);
    }
    let (t, r) = exp_reduce(x);
    // The fast path holds while every result and every `2ⁿ` is a normal float:
    // n ∈ [−125, 127]. A NaN or an infinite `x` gives a `t` whose bits are far outside.
    if !fast_range(t.to_bits().cast_signed() - IntVector::splat(SHIFTER_BITS)) {
        return exp_edge(x);
    }
    let p = exp_poly(r);
    // n << 23 added to p's exponent field is p·2ⁿ while the result stays normal.
    Vector::from_bits(p.to_bits() + (t.to_bits() << 23))
}

/// `2^(j/64)` for `j = 0, …, 63`, correctly rounded to `f32` (as bits).
const EXP2_BITS: [u32; 64] = [
    0x3f80_0000,
    0x3f81_64d2,
    0x3f82_cd87,
    0x3f84_3a29,
    0x3f85_aac3,
    0x3f87_1f62,
    0x3f88_980f,
    0x3f8a_14d5,
    0x3f8b_95c2,
    0x3f8d_1adf,
    0x3f8e_a43a,
    0x3f90_31dc,
    0x3f91_c3d3,
    0x3f93_5a2b,
    0x3f94_f4f0,
    0x3f96_942d,
    0x3f98_37f0,
    0x3f99_e046,
    0x3f9b_8d3a,
    0x3f9d_3eda,
    0x3f9e_f532,
    0x3fa0_b051,
    0x3fa2_7043,
    0x3fa4_3516,
    0x3fa5_fed7,
    0x3fa7_cd94,
    0x3fa9_a15b,
    0x3fab_7a3a,
    0x3fad_583f,
    0x3faf_3b79,
    0x3fb1_23f6,
    0x3fb3_11c4,
    0x3fb5_04f3,
    0x3fb6_fd92,
    0x3fb8_fbaf,
    0x3fba_ff5b,
    0x3fbd_08a4,
    0x3fbf_179a,
    0x3fc1_2c4d,
    0x3fc3_46cd,
    0x3fc5_672a,
    0x3fc7_8d75,
    0x3fc9_b9be,
    0x3fcb_ec15,
    0x3fce_248c,
    0x3fd0_6334,
    0x3fd2_a81e,
    0x3fd4_f35b,
    0x3fd7_44fd,
    0x3fd9_9d16,
    0x3fdb_fbb8,
    0x3fde_60f5,
    0x3fe0_ccdf,
    0x3fe3_3f89,
    0x3fe5_b907,
    0x3fe8_396a,
    0x3fea_c0c7,
    0x3fed_4f30,
    0x3fef_e4ba,
    0x3ff2_8177,
    0x3ff5_257d,
    0x3ff7_d0df,
    0x3ffa_83b3,
    0x3ffd_3e0c,
];
/// [`EXP2_BITS`] less `j << 17`: [`exp_by_table`] adds `k << 17 = (n << 23) + (j << 17)`
/// (for `k = 64n + j`) to entry `j`, which gives `2^(j/64)·2ⁿ` with no mask.
const EXP2_TABLE: [u32; 64] = {
    let mut t = EXP2_BITS;
    let mut j = 0;
    while j < 64 {
        t[j] = t[j].wrapping_sub((j as u32) << 17);
        j += 1;
    }
    t
};
/// `64/ln 2`, rounded to f32.
const TABLE_SCALE: f32 = f32::from_bits(0x42b8_aa3b); // 92.33248
/// `ln2/64` in two parts: `LN2_64_HI` has 11 significant bits, so `k·LN2_64_HI` is
/// exact for every `|k| < 2¹³` (the fast path's `|k| ≤ 4096`).
const LN2_64_HI: f32 = f32::from_bits(0x3c31_8000); // 0.010833740234375
const LN2_64_LO: f32 = f32::from_bits(0xb65e_8083); // -3.3155381e-6

/// [`exp`]'s fast path on scalar lanes (microcontrollers): `x = k·ln2/64 + r` with
/// `|r| ≲ ln2/128`, `k = 64n + j`, and `eˣ = 2ⁿ·2^(j/64)·eʳ`, with `2^(j/64)` from a
/// 64-entry table (256 bytes), `2ⁿ` added to its exponent bits and `eʳ − 1 ≈ r + r²/2`
/// (relative error below 2.7·10⁻⁸ on that interval): twelve multiplies and adds per
/// lane against the polynomial path's twenty — on a core without an FPU each is a
/// library call — and on the Cortex-M4F 19.4 instructions per element against 27.8.
/// The result is within 1 ulp (all 2³² inputs, with and without fused multiply-add,
/// `tests/exp.rs`). Vectors with a lane outside `|x| < 44.3` take [`exp_edge`].
#[inline(always)]
fn exp_by_table(x: Vector) -> Vector {
    let t = x.mul_add(splat(TABLE_SCALE), splat(SHIFTER));
    let kf = t - splat(SHIFTER);
    let r = kf.mul_neg_add(splat(LN2_64_HI), x);
    let r = kf.mul_neg_add(splat(LN2_64_LO), r);
    let bits: [u32; LANES] = t.to_bits().to_array();
    // k = t's bits − SHIFTER's may lie in [−8000, 8191] (n ∈ [−125, 127]). Taking
    // [−4096, 4095] (|x| < 44.3) lets the lanes be checked together: k − 4096 is then
    // in [−8192, −1], whose bits as u32 all start with nineteen ones, so one
    // subtraction per lane, an AND, a compare and a branch.
    let top = SHIFTER_BITS.cast_unsigned().wrapping_add(4096);
    if bits.iter().fold(u32::MAX, |a, &b| a & b.wrapping_sub(top)) < 0xffff_e000 {
        return exp_edge(x);
    }
    // 2^(j/64)·2ⁿ: n = k >> 6 added to the exponent field (SHIFTER's own bits shift
    // out of the word).
    let scaled = bits.map(|b| EXP2_TABLE[(b & 63) as usize].wrapping_add(b << 17));
    let s = Vector::from_bits(UintVector::from(scaled));
    let q = (r * r).mul_add(splat(0.5), r);
    s.mul_add(q, s)
}

/// The bits of [`SHIFTER`]: `t.to_bits() − SHIFTER_BITS` is the `n` that `t` holds.
const SHIFTER_BITS: i32 = SHIFTER.to_bits().cast_signed();

/// Whether every lane of `n` (the power of two of [`exp`]'s result) is in
/// `[−125, 127]`, where `p·2ⁿ` with `p ∈ [2^−½, 2^½]` is a normal float.
#[inline(always)]
fn fast_range(n: IntVector) -> bool {
    if LANES == 4 {
        // Scalar lanes (microcontrollers): an add, a compare and a branch per lane,
        // against a dozen instructions for vector masks emulated lane by lane.
        n.to_array()
            .iter()
            .all(|&v| v.wrapping_add(125).cast_unsigned() <= 252)
    } else {
        let u = n + IntVector::splat(125);
        (u.simd_gt(IntVector::splat(-1)) & u.simd_lt(IntVector::splat(253))).all()
    }
}

/// The slow path of [`exp`]: clamps, then scales by `2ⁿ¹·2ⁿ²` with `n = n₁ + n₂`, both
/// halves normal powers of two, so the only rounding is that of the final product.
#[inline(always)]
fn exp_edge(x: Vector) -> Vector {
    // e^-104 is below half the smallest subnormal and e^89 above f32::MAX, so clamping
    // to that interval changes no result and keeps n within [-150, 129].
    let xc = if LANES == 4 {
        // Scalar lanes: a clamp whose comparisons are false for NaN lets it through
        // (to a NaN result) without the select below, whose mask needs every lane in
        // an integer register.
        Vector::from(x.to_array().map(|v| v.clamp(-104.0, 89.0)))
    } else {
        x.fast_max(splat(-104.0)).fast_min(splat(89.0))
    };
    let (t, r) = exp_reduce(xc);
    let p = exp_poly(r);
    let n: IntVector = t.to_bits().cast_signed() - IntVector::splat(SHIFTER_BITS);
    let n1 = n >> 1_u32;
    let n2 = n - n1;
    let pow2 =
        |k: IntVector| Vector::from_bits(((k + IntVector::splat(127)).cast_unsigned()) << 23_u32);
    let y = (p * pow2(n1)) * pow2(n2);
    if LANES == 4 {
        return y;
    }
    // NaN must stay NaN, whatever the clamp did with it.
    x.is_nan().select(x, y)
}

/// `eˣ` for one `f32`, by the vectorised [`exp`] (same result as one lane of it).
///
/// ```
/// assert_eq!(edgegrad::simd::exp_f32(0.0), 1.0);
/// ```
#[inline]
#[must_use]
pub fn exp_f32(x: f32) -> f32 {
    exp(splat(x)).to_array()[0]
}

/// `ln x` for one `f32` (`libm::logf`; [`ln`] gives the same results a vector at a
/// time).
#[inline]
#[must_use]
pub fn ln_f32(x: f32) -> f32 {
    libm::logf(x)
}

/// Lane-wise natural logarithm, bit for bit [`ln_f32`] (`libm::logf`) for every input.
///
/// The row kernels take the logarithms of a block of rows' sums at once with it. For
/// positive normal inputs it is `libm`'s algorithm (FreeBSD's `e_logf.c`) step for
/// step on vectors — `x = 2ᵏ·(1 + f)` with `1 + f ∈ [√½, √2)`, `s = f/(2 + f)`,
/// `ln(1 + f) = f − f²/2 + s·(f²/2 + R(s²))` with a degree-8 even polynomial `R`, then
/// `k·ln 2` added in two parts — with the same operations in the same order, so every
/// rounding is the same. A vector with any other lane (zero, subnormal, negative,
/// infinite or NaN) is taken lane by lane by `libm::logf`. Tested over all 2³² inputs
/// (`tests/ln.rs`).
///
/// ```
/// use edgegrad::simd::{ln, splat};
/// assert_eq!(ln(splat(1.0)).to_array()[0], 0.0);
/// assert_eq!(ln(splat(2.0)).to_array()[0], core::f32::consts::LN_2);
/// assert_eq!(ln(splat(0.0)).to_array()[0], f32::NEG_INFINITY);
/// ```
#[inline]
#[must_use]
pub fn ln(x: Vector) -> Vector {
    if cfg!(edgegrad_size) || LANES == 4 {
        // Scalar lanes (microcontrollers) or built for size: the same results from the
        // one out-of-line routine, not a copy of it per lane at every call site.
        return Vector::new(x.to_array().map(libm::logf));
    }
    let ix = x.to_bits();
    // Positive normal: bits in [0x0080_0000, 0x7f7f_ffff], which as signed integers
    // excludes every negative input too.
    let signed = ix.cast_signed();
    let normal = signed.simd_gt(IntVector::splat(0x007f_ffff))
        & signed.simd_lt(IntVector::splat(0x7f80_0000));
    if !normal.all() {
        return Vector::new(x.to_array().map(libm::logf));
    }
    // Reduce x into [√½, √2): 0x3f35_04f3 is √½'s bits.
    let ix = ix + UintVector::splat(0x3f80_0000 - 0x3f35_04f3);
    let k = (ix >> 23_u32).cast_signed() - IntVector::splat(0x7f);
    let ix = (ix & UintVector::splat(0x007f_ffff)) + UintVector::splat(0x3f35_04f3);
    let f = Vector::from_bits(ix) - splat(1.0);
    // libm adds `dk·LN2_LO` alone; `+ 0` changes no value (`dk·LN2_LO` is never −0).
    log_reduced(f, k, splat(0.0))
}

/// `ln(2ᵏ·(1 + f)) + c` for `1 + f ∈ [√½, √2)`, the last steps of [`ln`] and [`ln_1p`]
/// in `libm`'s order: `s = f/(2 + f)`, `R(s²)` of degree 8 by two interleaved halves,
/// then `s·(f²/2 + R) + (k·ln2_lo + c) − f²/2 + f + k·ln2_hi`.
#[inline(always)]
fn log_reduced(f: Vector, k: IntVector, c: Vector) -> Vector {
    const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
    const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
    const LG1: f32 = f32::from_bits(0x3f2a_aaaa);
    const LG2: f32 = f32::from_bits(0x3ecc_ce13);
    const LG3: f32 = f32::from_bits(0x3e91_e9ee);
    const LG4: f32 = f32::from_bits(0x3e78_9e26);
    let s = f / (splat(2.0) + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (splat(LG2) + w * splat(LG4));
    let t2 = z * (splat(LG1) + w * splat(LG3));
    let r = t2 + t1;
    let hfsq = splat(0.5) * f * f;
    let dk = k.round_float();
    s * (hfsq + r) + (dk * splat(LN2_LO) + c) - hfsq + f + dk * splat(LN2_HI)
}

/// `ln(1 + x)` lane by lane, bit for bit `libm::log1pf` for every input.
///
/// The logistic loss takes `ln(1 + e^−|u|)` of a vector of scores with it. For
/// `x ∈ [0, 1]` it is `libm`'s algorithm (FreeBSD's `s_log1pf.c`) step for step on
/// vectors: below `√2 − 1` the polynomial of [`ln`] on `f = x` directly (and `x` itself
/// below `2⁻²⁴`); above, `1 + x = 2ᵏ·(1 + f)` reduced as in [`ln`] with the rounding of
/// `1 + x` corrected by `c = (x − (u − 1))/u`. A vector with any lane outside `[0, 1]`
/// (or `−0`) is taken lane by lane by `libm::log1pf`. Tested over all 2³² inputs
/// (`tests/ln.rs`).
///
/// ```
/// use edgegrad::simd::{ln_1p, splat};
/// assert_eq!(ln_1p(splat(1.0)).to_array()[0], core::f32::consts::LN_2);
/// assert_eq!(ln_1p(splat(1e-30)).to_array()[0], 1e-30);
/// ```
#[inline]
#[must_use]
pub fn ln_1p(x: Vector) -> Vector {
    if cfg!(edgegrad_size) || LANES == 4 {
        // Scalar lanes (microcontrollers) or built for size: the same results from the
        // one out-of-line routine, not a copy of it per lane at every call site.
        return Vector::new(x.to_array().map(libm::log1pf));
    }
    let ix = x.to_bits().cast_signed();
    // [+0, 1]: bits in [0, 0x3f80_0000] as signed integers (negative inputs are below).
    let in_range = ix.simd_gt(IntVector::splat(-1)) & ix.simd_lt(IntVector::splat(0x3f80_0001));
    if !in_range.all() {
        return Vector::new(x.to_array().map(libm::log1pf));
    }
    let tiny = ix.simd_lt(IntVector::splat(0x3380_0000)); // x < 2⁻²⁴
    let large = ix.simd_gt(IntVector::splat(0x3ed4_13cf)); // x ≥ √2 − 1
    let u = splat(1.0) + x;
    let iu = u.to_bits() + UintVector::splat(0x3f80_0000 - 0x3f35_04f3);
    let k_large = (iu >> 23_u32).cast_signed() - IntVector::splat(0x7f);
    // For x ≤ 1, k ≤ 1: the correction of `libm` for k < 2.
    let c_large = (x - (u - splat(1.0))) / u;
    let f_large =
        Vector::from_bits((iu & UintVector::splat(0x007f_ffff)) + UintVector::splat(0x3f35_04f3))
            - splat(1.0);
    let as_float = |m: IntVector| Vector::from_bits(m.cast_unsigned());
    let k = large & k_large;
    let c = as_float(large).select(c_large, splat(0.0));
    let f = as_float(large).select(f_large, x);
    as_float(tiny).select(x, log_reduced(f, k, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsum_lanes_matches_hsum() {
        let vs: [Vector; LANES] =
            core::array::from_fn(|i| Vector::new(core::array::from_fn(|j| (i * LANES + j) as f32)));
        let s = hsum_lanes(vs).to_array();
        for i in 0..LANES {
            assert_eq!(s[i], hsum(vs[i]));
        }
    }

    #[test]
    fn shifter_bits_give_n() {
        for n in -150..=129_i32 {
            let t = splat(n as f32 + SHIFTER);
            let got = t.to_bits().cast_signed() - IntVector::splat(SHIFTER.to_bits() as i32);
            assert_eq!(got.to_array()[0], n);
            assert_eq!((t.to_bits() << 23_u32).to_array()[0], (n << 23) as u32);
        }
    }

    #[test]
    fn coefficients_are_the_fitted_values() {
        assert!((C2 - 0.499_999_94).abs() < 1e-7);
        assert!((C3 - 0.166_665_09).abs() < 1e-7);
        assert!((C4 - 0.041_668_53).abs() < 1e-8);
        assert!((C5 - 0.008_370_144).abs() < 1e-9);
        assert!((C6 - 0.001_381_165_3).abs() < 1e-9);
    }

    #[test]
    fn update_reduce_ignores_padding() {
        let x = [1.0_f32; 11];
        let mut y = [0.0_f32; 11];
        let s = update_reduce(&mut y, [&x], 0.0, |_, [v]| v + splat(1.0), |a, b| a + b);
        assert_eq!(hsum(s), 22.0);
        assert_eq!(y, [2.0; 11]);
    }

    #[test]
    fn update_touches_every_element() {
        for len in 0..40 {
            let mut a = [1.0_f32; 40];
            let mut b = [2.0_f32; 40];
            let x = [3.0_f32; 40];
            update(
                [&mut a[..len], &mut b[..len]],
                [&x[..len]],
                |[a, b], [x]| [a + x, b * x],
            );
            assert!(a[..len].iter().all(|&v| v == 4.0));
            assert!(b[..len].iter().all(|&v| v == 6.0));
            assert!(a[len..].iter().all(|&v| v == 1.0));
        }
    }
}

//! Draws from the caller's `rand_core::RngCore`, the one source of randomness.

use rand_core::RngCore;

/// A uniform `f32` in `[0, 1)` from the top 24 bits of a `u32`.
#[inline]
pub(crate) fn uniform01<R: RngCore + ?Sized>(rng: &mut R) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// A uniform integer in `0..n` (`n ≥ 1`), by Lemire's multiply-shift (bias below 2⁻³²·n).
#[inline]
#[cfg_attr(not(feature = "word2vec"), allow(dead_code))]
pub(crate) fn below<R: RngCore + ?Sized>(rng: &mut R, n: usize) -> usize {
    ((u64::from(rng.next_u32()) * n as u64) >> 32) as usize
}

/// Fills `w` uniformly in `[-a, a)`.
pub(crate) fn fill_uniform<R: RngCore + ?Sized>(w: &mut [f32], a: f32, rng: &mut R) {
    for x in w {
        *x = (2.0 * uniform01(rng) - 1.0) * a;
    }
}

/// Fills `w` with draws from a normal distribution of mean 0 and standard deviation
/// `sd`, by the Box–Muller transform (two values per pair of uniforms).
pub(crate) fn fill_normal<R: RngCore + ?Sized>(w: &mut [f32], sd: f32, rng: &mut R) {
    for pair in w.chunks_mut(2) {
        // 1 − u lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - uniform01(rng);
        let u2 = uniform01(rng);
        let r = sd * libm::sqrtf(-2.0 * libm::logf(u1));
        let (s, c) = libm::sincosf(core::f32::consts::TAU * u2);
        pair[0] = r * c;
        if let Some(y) = pair.get_mut(1) {
            *y = r * s;
        }
    }
}

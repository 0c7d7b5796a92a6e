//! The vectorised `ln` against `libm::logf`, which it must equal bit for bit.
mod common;
use common::{over_all_bits, sweep_stride};
use edgegrad::simd::{self, LANES};

/// Runs `simd::ln` on the bit patterns, a vector at a time, and returns the first input
/// whose result differs from `libm::logf`'s in its bits, and how many were compared.
fn first_difference(bits: impl Iterator<Item = u32>) -> (Option<f32>, u64) {
    compare(bits, simd::ln, libm::logf)
}

/// The first input where `vector` differs from `scalar` in its bits, and how many
/// inputs were compared.
fn compare(
    bits: impl Iterator<Item = u32>,
    vector: fn(simd::Vector) -> simd::Vector,
    scalar: fn(f32) -> f32,
) -> (Option<f32>, u64) {
    let mut buf = [0.0_f32; LANES];
    let (mut n, mut count) = (0, 0_u64);
    let check = |buf: &[f32; LANES], n: usize| {
        let y = vector(simd::load(buf)).to_array();
        (0..n)
            .find(|&i| y[i].to_bits() != scalar(buf[i]).to_bits())
            .map(|i| buf[i])
    };
    for b in bits {
        buf[n] = f32::from_bits(b);
        n += 1;
        count += 1;
        if n == LANES {
            if let Some(x) = check(&buf, n) {
                return (Some(x), count);
            }
            n = 0;
        }
    }
    (check(&buf, n), count)
}

#[test]
fn ln_equals_libm_on_a_dense_sweep() {
    // Every 257th bit pattern of both signs (1.7·10⁷ inputs, every exponent), and every
    // input in [1, 4096] at a finer stride: the sums whose logarithms the row kernels take.
    let (bad, n) = first_difference((0..=u32::MAX).step_by(sweep_stride(257)));
    assert!(n > 16_000_000 / sweep_stride(1) as u64);
    assert_eq!(bad, None);
    let (bad, _) =
        first_difference((1.0_f32.to_bits()..=4096.0_f32.to_bits()).step_by(sweep_stride(5)));
    assert_eq!(bad, None);
}

#[test]
fn ln_edges() {
    let l = |x: f32| simd::ln(simd::splat(x)).to_array()[0];
    assert_eq!(l(1.0), 0.0);
    assert_eq!(l(0.0), f32::NEG_INFINITY);
    assert_eq!(l(-0.0), f32::NEG_INFINITY);
    assert!(l(-1.0).is_nan());
    assert!(l(f32::NAN).is_nan());
    assert_eq!(l(f32::INFINITY), f32::INFINITY);
    assert_eq!(l(f32::MAX), libm::logf(f32::MAX));
    assert_eq!(l(f32::from_bits(1)), libm::logf(f32::from_bits(1)));
    // One lane outside the normal range sends the vector lane by lane; the others keep
    // their values.
    let lanes: [f32; 16] = core::array::from_fn(|i| if i == 1 { -1.0 } else { i as f32 + 0.5 });
    let v = simd::ln(simd::load_partial(&lanes, 1.0)).to_array();
    assert!(v[1].is_nan());
    for i in (0..LANES).filter(|&i| i != 1) {
        assert_eq!(v[i], libm::logf(lanes[i]));
    }
}

/// All 2³² inputs, split over the available cores, in a few seconds in release mode:
/// `cargo test --release --test ln -- --ignored`.
#[test]
#[ignore]
fn ln_exhaustive_equals_libm() {
    let parts = over_all_bits(first_difference);
    let n: u64 = parts.iter().map(|p| p.1).sum();
    let bad = parts.into_iter().find_map(|p| p.0);
    assert_eq!(n, 1 << 32);
    assert_eq!(bad, None, "ln differs from libm::logf");
}

/// The first input where `simd::ln_1p` differs from `libm::log1pf` in its bits.
fn first_difference_1p(bits: impl Iterator<Item = u32>) -> Option<f32> {
    compare(bits, simd::ln_1p, libm::log1pf).0
}

#[test]
fn ln_1p_equals_libm_on_a_dense_sweep() {
    // Every 257th bit pattern, and [0, 1] (the logistic loss's range) more densely.
    assert_eq!(
        first_difference_1p((0..=u32::MAX).step_by(sweep_stride(257))),
        None
    );
    assert_eq!(
        first_difference_1p((0..=1.0_f32.to_bits()).step_by(sweep_stride(7))),
        None
    );
    let l = |x: f32| simd::ln_1p(simd::splat(x)).to_array()[0];
    assert_eq!(l(0.0), 0.0);
    assert_eq!(l(-0.0).to_bits(), (-0.0_f32).to_bits());
    assert_eq!(l(-1.0), f32::NEG_INFINITY);
    assert!(l(-2.0).is_nan() && l(f32::NAN).is_nan());
    assert_eq!(l(f32::INFINITY), f32::INFINITY);
}

/// All 2³² inputs: `cargo test --release --test ln -- --ignored`.
#[test]
#[ignore]
fn ln_1p_exhaustive_equals_libm() {
    assert_eq!(
        over_all_bits(first_difference_1p)
            .into_iter()
            .find_map(|bad| bad),
        None,
        "ln_1p differs from libm::log1pf"
    );
}

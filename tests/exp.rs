//! Accuracy of the vectorised `exp` against the correctly rounded result.
mod common;
use common::{exp_ref, over_all_bits, sweep_stride, ulps};
use edgegrad::simd::{self, LANES};

/// Evaluates `simd::exp` on a batch of bit patterns and returns the worst ulp error
/// and the input where it occurred.
fn worst(bits: impl Iterator<Item = u32>) -> (u64, f32, u64) {
    let mut worst = (0, 0.0, 0);
    let mut buf = [0.0_f32; LANES];
    let mut n = 0;
    let mut count = 0u64;
    let flush = |buf: &[f32; LANES], n: usize, worst: &mut (u64, f32, u64)| {
        let y = simd::exp(simd::load(buf)).to_array();
        for i in 0..n {
            let e = ulps(y[i], exp_ref(buf[i]));
            if e > worst.0 {
                *worst = (e, buf[i], worst.2);
            }
        }
    };
    for b in bits {
        buf[n] = f32::from_bits(b);
        n += 1;
        count += 1;
        if n == LANES {
            flush(&buf, n, &mut worst);
            n = 0;
        }
    }
    if n > 0 {
        flush(&buf, n, &mut worst);
    }
    worst.2 = count;
    worst
}

#[test]
fn exp_dense_sweep_within_one_ulp() {
    // Every 353rd bit pattern of both signs: about 1.2·10⁷ inputs over the whole range,
    // plus every input in the interesting interval [-110, 100] at a finer stride.
    let (e, at, n) = worst((0..=u32::MAX).step_by(sweep_stride(353)));
    assert!(n >= 10_000_000 / sweep_stride(1) as u64);
    assert!(e <= 1, "exp: {e} ulp at {at:e} ({:#x})", at.to_bits());
    let (e, at, _) = worst(
        (0x8000_0000u32..=0xC2DC_0000)
            .step_by(sweep_stride(7))
            .chain((0..=0x42C8_0000u32).step_by(sweep_stride(7))),
    );
    assert!(e <= 1, "exp: {e} ulp at {at:e}");
}

#[test]
fn exp_edges_are_exact() {
    let e = |x: f32| simd::exp_f32(x);
    assert_eq!(e(0.0), 1.0);
    assert_eq!(e(-0.0), 1.0);
    assert!(e(f32::NAN).is_nan());
    assert_eq!(e(f32::INFINITY), f32::INFINITY);
    assert_eq!(e(f32::NEG_INFINITY), 0.0);
    assert_eq!(e(f32::MAX), f32::INFINITY);
    assert_eq!(e(88.73), f32::INFINITY);
    assert!(e(88.72).is_finite());
    assert_eq!(e(-f32::MAX), 0.0);
    assert_eq!(e(-104.0), 0.0);
    // the smallest subnormal, 2⁻¹⁴⁹, is e^-103.28
    assert_eq!(e(-103.28), f32::from_bits(1));
    assert!(e(-100.0) > 0.0 && e(-100.0) < f32::MIN_POSITIVE);
    assert_eq!(e(f32::MIN_POSITIVE), 1.0);
    assert_eq!(e(1e-30), 1.0);
    // a NaN in one lane does not disturb the others
    let lanes = [f32::NAN, 0.0, -200.0, 200.0, 1.0, 2.0, 3.0, 4.0];
    let v = simd::exp(simd::load_partial(&lanes, 0.0)).to_array();
    assert!(v[0].is_nan());
    assert_eq!((v[1], v[2], v[3]), (1.0, 0.0, f32::INFINITY));
}

/// All 2³² inputs, split over the available cores. Takes about a minute on one core in
/// release mode:
/// `cargo test --release --test exp -- --ignored`.
#[test]
#[ignore]
fn exp_exhaustive_within_one_ulp() {
    let parts = over_all_bits(worst);
    let n: u64 = parts.iter().map(|p| p.2).sum();
    let (e, at, _) = parts.into_iter().max_by_key(|p| p.0).unwrap();
    assert_eq!(n, 1 << 32);
    println!(
        "exhaustive: max error {e} ulp at {at:e} ({:#x})",
        at.to_bits()
    );
    assert!(e <= 1, "exp: {e} ulp at {at:e}");
}

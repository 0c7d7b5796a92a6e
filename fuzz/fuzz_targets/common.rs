//! Shared by the fuzz targets: structured values from the fuzzer's bytes (through
//! `arbitrary::Unstructured`), bit snapshots, a deterministic RNG, and the checks'
//! vocabulary.
#![allow(dead_code)]

use edgegrad::params::Params;
use edgegrad::rand_core::RngCore;
use libfuzzer_sys::arbitrary::Unstructured;

/// Values that make kernels take their edge paths: zeros, units, the ends of the
/// exponent range, subnormals, overflow thresholds of `exp` and of squares, infinities
/// and NaN.
pub const SPECIALS: [f32; 40] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    -2.0,
    3.0,
    10.0,
    -10.0,
    88.7,
    -87.3,
    -103.9,
    89.0,
    1e-3,
    1e5,
    1e10,
    -1e10,
    1.9e19,
    -1.9e19,
    1e20,
    1e30,
    -1e30,
    1e38,
    -1e38,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1e-40,
    -1e-45,
    1e-20,
    3.0e38,
    -3.0e38,
    1.0e-19,
    65504.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    -f32::NAN,
];

/// The fuzzer's bytes as a stream of structured values. When the bytes run out, values
/// continue from a generator seeded by them (small finite numbers), so that large
/// shapes are still filled with something other than zeros.
pub struct Gen<'a> {
    pub u: Unstructured<'a>,
    state: u64,
    /// Whether values may be NaN or infinite (chosen once per input).
    pub nonfinite: bool,
}

impl<'a> Gen<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        let mut h = 0xcbf2_9ce4_8422_2325_u64;
        for &b in data.iter().take(64) {
            h = (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3);
        }
        let mut g = Gen {
            u: Unstructured::new(data),
            state: h,
            nonfinite: true,
        };
        g.nonfinite = g.byte() & 3 != 0;
        g
    }

    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn exhausted(&self) -> bool {
        self.u.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        if self.u.is_empty() {
            return self.next() as u8;
        }
        self.u.arbitrary::<u8>().unwrap_or(0)
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn u32(&mut self) -> u32 {
        if self.u.is_empty() {
            return self.next() as u32;
        }
        self.u.arbitrary::<u32>().unwrap_or(0)
    }

    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            return lo;
        }
        if self.u.is_empty() {
            return lo + (self.next() % (hi - lo + 1) as u64) as usize;
        }
        self.u.int_in_range(lo..=hi).unwrap_or(lo)
    }

    /// A length: mostly small (every SIMD tail), sometimes up to `big`.
    pub fn len(&mut self, big: usize) -> usize {
        match self.byte() {
            0..=199 => self.range(0, 18.min(big)),
            200..=239 => self.range(0, 40.min(big)),
            _ => self.range(0, big),
        }
    }

    /// One `f32`: a special value, a small integer or fraction, any bit pattern, or a
    /// finite value of any magnitude. Never NaN or infinite unless `nonfinite`.
    pub fn f32(&mut self) -> f32 {
        if self.u.is_empty() {
            // Small values, so that long vectors of generated numbers stay finite.
            let r = self.next();
            return ((r % 2001) as f32 - 1000.0) / 250.0;
        }
        let b = self.byte();
        let x = match b >> 5 {
            0..=2 => SPECIALS[usize::from(b) % SPECIALS.len()],
            3..=4 => (f32::from(b & 31) - 16.0) * 0.25,
            5 => f32::from_bits(self.u32()),
            6 => {
                // Any magnitude, finite.
                let m = self.u32();
                let e = self.byte() % 254 + 1;
                f32::from_bits((m & 0x807f_ffff) | (u32::from(e) << 23))
            }
            _ => {
                let i = i32::from(self.byte() as i8);
                i as f32 * 0.0625
            }
        };
        if !self.nonfinite && !x.is_finite() {
            if x.is_nan() {
                0.0
            } else {
                x.signum() * f32::MAX
            }
        } else {
            x
        }
    }

    /// `n` values.
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }

    /// A hyper-parameter: mostly a usual value, sometimes anything.
    pub fn hyper(&mut self, usual: &[f32]) -> f32 {
        let b = self.byte();
        if usize::from(b) < 160 && !usual.is_empty() {
            usual[usize::from(b) % usual.len()]
        } else if b < 220 {
            SPECIALS[usize::from(b) % SPECIALS.len()]
        } else {
            f32::from_bits(self.u32())
        }
    }

    /// A token id: mostly below `v`, sometimes anything.
    pub fn token(&mut self, v: usize) -> u16 {
        if self.byte() < 240 {
            (usize::from(self.byte()) % v) as u16
        } else {
            self.u16()
        }
    }

    /// A string: bytes taken as (lossy) UTF-8, with a bias towards ASCII words.
    pub fn string(&mut self, max: usize) -> String {
        let n = self.range(0, max);
        let mut s = String::new();
        for _ in 0..n {
            let b = self.byte();
            let c = match b {
                0..=99 => char::from(b'a' + b % 26),
                100..=129 => ' ',
                130..=149 => char::from(b'A' + b % 26),
                150..=159 => char::from(b'0' + b % 10),
                160..=169 => {
                    ['\n', '\t', '\r', '.', ',', '\'', '-', '?', '<', '>'][usize::from(b % 10)]
                }
                170..=199 => [
                    'é',
                    'İ',
                    'ß',
                    'ẞ',
                    'Σ',
                    'ς',
                    'ﬁ',
                    'Ω',
                    'ǅ',
                    '𝔸',
                    '\u{0130}',
                    '\u{212A}',
                    '\u{1E9E}',
                    '\u{00A0}',
                    '\u{2028}',
                    '\u{3000}',
                    '\u{FEFF}',
                    '\u{0345}',
                    'Ⅻ',
                    'ⓐ',
                    'ǈ',
                    'ϴ',
                    'Ā',
                    'ā',
                    '\u{10400}',
                    '\u{1F600}',
                    '٣',
                    '\u{FFFD}',
                    '\u{0}',
                    '\u{7F}',
                ][usize::from(b % 30)],
                _ => char::from_u32(self.u32() % 0x11_0000).unwrap_or('x'),
            };
            s.push(c);
        }
        s
    }
}

/// Bit patterns of a slice, for "unchanged" comparisons (NaN-safe, ±0-exact).
pub fn bits(x: &[f32]) -> Vec<u32> {
    bytemuck::cast_slice(x).to_vec()
}

pub fn has_nan(x: &[f32]) -> bool {
    x.iter().any(|v| v.is_nan())
}

pub fn all_finite(x: &[f32]) -> bool {
    x.iter().all(|v| v.is_finite())
}

/// Every parameter of `p`, as bytes (copied whole tensors at a time: the snapshots of
/// a model are taken often, and per-element work is slow under the fuzzer's
/// instrumentation).
pub fn param_bits<P: Params + ?Sized>(p: &P) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 * P::PARAMETERS);
    for i in 0..P::TENSORS {
        v.extend_from_slice(bytemuck::cast_slice(p.tensor(i)));
    }
    v
}

/// Whether every parameter is finite (the crate's vectorised check, for speed).
pub fn params_finite<P: Params + ?Sized>(p: &P) -> bool {
    (0..P::TENSORS).all(|i| edgegrad::kernels::check_finite("fuzz", p.tensor(i)).is_ok())
}

/// A deterministic generator for the crate's random draws (initialisation, sampling).
pub struct Rng(pub u64);

impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let x = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }
}

/// Whether a broken promise is to be let pass: `EDGEGRAD_FUZZ_SKIP` holds a
/// comma-separated list of patterns, each matched against the promise's label and its
/// message (`EDGEGRAD_FUZZ_SKIP="gelu_backward,decoder generate"`), so that known,
/// pending defects do not hide others. Unset: every promise is checked.
pub fn skipped(promise: &str, message: &str) -> bool {
    static SKIP: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SKIP.get_or_init(|| {
        std::env::var("EDGEGRAD_FUZZ_SKIP")
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    })
    .iter()
    .any(|p| promise.contains(p.as_str()) || message.contains(p.as_str()))
}

/// A broken promise: panics (what libFuzzer records as a crash) with the promise's
/// label first, so that crashes group by it — unless `EDGEGRAD_FUZZ_SKIP` lets it pass
/// (see [`skipped`]).
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $promise:literal, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        let kept: bool = $cond;
        if !kept {
            let message = format!($fmt $(, $arg)*);
            if !$crate::common::skipped($promise, &message) {
                panic!("BROKEN PROMISE [{}] {}", $promise, message);
            }
        }
    }};
}

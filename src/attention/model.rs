//! The parameters of the attention language model and their initialisation.

use rand_core::RngCore;

use crate::error::{Result, check_index, check_len_range};
use crate::random::fill_uniform;
use crate::tensor::Matrix;

/// A causal single-head attention language model over at most `T` tokens from a
/// vocabulary of `V`, with model width `D` and head width `DK`.
///
/// For tokens `x[0..L]`, `2 ≤ L ≤ T` (row vectors, `x·W` products):
///
/// ```text
/// h0[i]   = tok_emb[x[i]] + pos_emb[i]
/// q, k, v = h0·w_q, h0·w_k, h0·w_v
/// s[i][j] = q[i]·k[j] / sqrt(DK)   for j ≤ i   (j > i masked out)
/// p       = softmax over each row of s
/// h1      = h0 + (p·v)·w_o
/// logits  = h1·w_out + b_out
/// loss    = mean over i = 0..L-2 of cross_entropy(logits[i], x[i+1])
/// ```
///
/// The struct holds only the parameters, under these names and in this layout
/// (row-major), so weights trained elsewhere load directly. Gradients
/// ([`AttentionGrads`]), the activation cache ([`AttentionCache`](super::AttentionCache)),
/// the optimiser state ([`AttentionOptState`](super::AttentionOptState)) and the
/// decoder with its KV cache ([`Decoder`](super::Decoder)) are separate fixed-size
/// structs. All have a `const ZERO` usable in a `static`; nothing is built on the stack.
///
/// ```
/// use edgegrad::attention::AttentionLm;
/// use rand_core::SeedableRng;
///
/// type Lm = AttentionLm<16, 8, 8, 4>;
/// static mut MODEL: Lm = Lm::ZERO; // or Box::new(Lm::ZERO) on a host
/// let mut model = Lm::ZERO;
/// model.init(&mut rand_pcg::Pcg32::seed_from_u64(1));
/// assert_eq!(Lm::PARAMETERS, 16 * 8 + 8 * 8 + 3 * 8 * 4 + 4 * 8 + 8 * 16 + 16);
/// assert_eq!(Lm::BYTES, 4 * Lm::PARAMETERS);
/// ```
#[derive(Debug, PartialEq)]
pub struct AttentionLm<const V: usize, const T: usize, const D: usize, const DK: usize> {
    /// Token embeddings, `V × D`.
    pub tok_emb: Matrix<V, D>,
    /// Positional embeddings, `T × D`.
    pub pos_emb: Matrix<T, D>,
    /// Query projection, `D × DK`.
    pub w_q: Matrix<D, DK>,
    /// Key projection, `D × DK`.
    pub w_k: Matrix<D, DK>,
    /// Value projection, `D × DK`.
    pub w_v: Matrix<D, DK>,
    /// Output projection of the attention, `DK × D`.
    pub w_o: Matrix<DK, D>,
    /// Unembedding, `D × V`.
    pub w_out: Matrix<D, V>,
    /// Output bias, `V`.
    pub b_out: Matrix<1, V>,
}

/// Gradients of an [`AttentionLm`]'s loss: the same eight tensors, same shapes.
pub type AttentionGrads<const V: usize, const T: usize, const D: usize, const DK: usize> =
    AttentionLm<V, T, D, DK>;

/// Fills `w` uniformly in `±√3·σ`, a distribution with standard deviation `σ`.
fn fill_sd<R: RngCore + ?Sized>(w: &mut [f32], sigma: f32, rng: &mut R) {
    fill_uniform(w, 1.732_050_8 * sigma, rng);
}

impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionLm<V, T, D, DK> {
    /// All parameters zero (a valid value for a `static`; call [`init`](Self::init)).
    pub const ZERO: Self = AttentionLm {
        tok_emb: Matrix::ZERO,
        pos_emb: Matrix::ZERO,
        w_q: Matrix::ZERO,
        w_k: Matrix::ZERO,
        w_v: Matrix::ZERO,
        w_o: Matrix::ZERO,
        w_out: Matrix::ZERO,
        b_out: Matrix::ZERO,
    };

    /// Number of parameters: `V·D + T·D + 3·D·DK + DK·D + D·V + V`.
    pub const PARAMETERS: usize = V * D + T * D + 3 * D * DK + DK * D + D * V + V;

    /// Bytes this struct takes (all `f32`, no padding): `4 ·` [`PARAMETERS`](Self::PARAMETERS).
    pub const BYTES: usize = core::mem::size_of::<Self>();

    /// The tensors' names, in the order of [`tensors`](Self::tensors).
    pub const TENSOR_NAMES: [&'static str; 8] = [
        "tok_emb", "pos_emb", "w_q", "w_k", "w_v", "w_o", "w_out", "b_out",
    ];

    /// The eight tensors as flat row-major slices, in [`TENSOR_NAMES`](Self::TENSOR_NAMES)
    /// order.
    pub fn tensors(&self) -> [&[f32]; 8] {
        self.weights().tensors()
    }

    /// The eight tensors as mutable slices, in [`TENSOR_NAMES`](Self::TENSOR_NAMES) order.
    pub fn tensors_mut(&mut self) -> [&mut [f32]; 8] {
        [
            self.tok_emb.as_mut_slice(),
            self.pos_emb.as_mut_slice(),
            self.w_q.as_mut_slice(),
            self.w_k.as_mut_slice(),
            self.w_v.as_mut_slice(),
            self.w_o.as_mut_slice(),
            self.w_out.as_mut_slice(),
            self.b_out.as_mut_slice(),
        ]
    }

    /// Sets every parameter to zero (how gradients are cleared before accumulating).
    pub fn zero(&mut self) {
        for t in self.tensors_mut() {
            t.fill(0.0);
        }
    }

    /// Copies every parameter of `other` into `self`.
    pub fn copy_from(&mut self, other: &Self) {
        for (d, s) in self.tensors_mut().into_iter().zip(other.tensors()) {
            d.copy_from_slice(s);
        }
    }

    /// Initialises in place, drawing from `rng`:
    ///
    /// - `pos_emb` = the sinusoidal encoding of *Attention Is All You Need*:
    ///   `PE[t][2i] = sin(t / 10000^(2i/D))`, `PE[t][2i+1] = cos(t / 10000^(2i/D))`;
    /// - `tok_emb` uniform with standard deviation 1 (the same scale as the positions);
    /// - each projection uniform with standard deviation `1/√fan_in` (`D` for `w_q`,
    ///   `w_k`, `w_v`, `w_out`; `DK` for `w_o`), so activations keep their scale;
    /// - `b_out` zero.
    pub fn init<R: RngCore + ?Sized>(&mut self, rng: &mut R) {
        fill_sd(self.tok_emb.as_mut_slice(), 1.0, rng);
        sinusoidal(&mut self.pos_emb);
        let sd = 1.0 / libm::sqrtf(D as f32);
        fill_sd(self.w_q.as_mut_slice(), sd, rng);
        fill_sd(self.w_k.as_mut_slice(), sd, rng);
        fill_sd(self.w_v.as_mut_slice(), sd, rng);
        fill_sd(self.w_o.as_mut_slice(), 1.0 / libm::sqrtf(DK as f32), rng);
        fill_sd(self.w_out.as_mut_slice(), sd, rng);
        self.b_out.fill(0.0);
    }

    /// Checks a token sequence: length in `min..=T` and every id below `V`.
    pub(crate) fn check_tokens(tokens: &[u16], min: usize) -> Result<()> {
        check_len_range("token sequence", tokens.len(), min, T)?;
        for &t in tokens {
            check_index("token id", usize::from(t), V)?;
        }
        Ok(())
    }
}

/// The sinusoidal positional encoding, written in place.
fn sinusoidal<const T: usize, const D: usize>(pe: &mut Matrix<T, D>) {
    for (pos, row) in pe.0.iter_mut().enumerate() {
        for (i, pair) in row.chunks_mut(2).enumerate() {
            let freq = libm::powf(10_000.0, -((2 * i) as f32) / D as f32);
            let angle = pos as f32 * freq;
            pair[0] = libm::sinf(angle);
            if let Some(c) = pair.get_mut(1) {
                *c = libm::cosf(angle);
            }
        }
    }
}

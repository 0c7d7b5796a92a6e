//! The word2vec parameters and their initialisation.

use rand_core::RngCore;

use crate::error::{Result, check_index};
use crate::random::fill_uniform;
use crate::tensor::Matrix;

/// word2vec embeddings for a vocabulary of `V` ids in `D` dimensions: `input` (the
/// word vectors people use) and `output` (the vectors words are predicted with).
///
/// ```
/// use edgegrad::word2vec::Word2Vec;
/// use rand_core::SeedableRng;
/// static mut EMBEDDINGS: Word2Vec<1000, 64> = Word2Vec::ZERO; // 500 KiB, no stack
/// let mut w = Word2Vec::<8, 4>::ZERO;
/// w.init(&mut rand_pcg::Pcg32::seed_from_u64(1));
/// assert!(w.input.as_slice().iter().all(|x| x.abs() <= 0.5 / 4.0));
/// assert!(w.output.as_slice().iter().all(|&x| x == 0.0));
/// ```
#[derive(Debug, PartialEq)]
pub struct Word2Vec<const V: usize, const D: usize> {
    /// Input (context) vectors, `V × D`: the embeddings.
    pub input: Matrix<V, D>,
    /// Output vectors, `V × D`.
    pub output: Matrix<V, D>,
}

impl<const V: usize, const D: usize> Word2Vec<V, D> {
    /// All zero (a valid value for a `static`; call [`init`](Self::init)).
    pub const ZERO: Self = Word2Vec {
        input: Matrix::ZERO,
        output: Matrix::ZERO,
    };

    /// Number of parameters, `2·V·D`.
    pub const PARAMETERS: usize = 2 * V * D;

    /// Bytes this struct takes.
    pub const BYTES: usize = core::mem::size_of::<Self>();

    /// Initialises as word2vec does: input vectors uniform in `±0.5/D`, output vectors
    /// zero.
    pub fn init<R: RngCore + ?Sized>(&mut self, rng: &mut R) {
        fill_uniform(self.input.as_mut_slice(), 0.5 / D as f32, rng);
        self.output.fill(0.0);
    }

    /// The embedding of `id`.
    pub fn vector(&self, id: u16) -> Result<&[f32; D]> {
        check_index("word id", usize::from(id), V)?;
        Ok(self.input.row(usize::from(id)))
    }
}

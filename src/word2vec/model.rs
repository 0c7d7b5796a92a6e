//! The word2vec parameters and their initialisation.

use crate::error::{Result, check_index};
use crate::params::Init;
use crate::tensor::Matrix;

crate::params! {
    /// word2vec embeddings for a vocabulary of `V` ids in `D` dimensions: `input` (the
    /// word vectors people use) and `output` (the vectors words are predicted with).
    ///
    /// [`init`](Self::init) initialises as word2vec does: input vectors uniform in
    /// `±0.5/D`, output vectors zero.
    ///
    /// ```
    /// use edgegrad::word2vec::Word2Vec;
    /// use rand_core::SeedableRng;
    /// static mut EMBEDDINGS: Word2Vec<1000, 64> = Word2Vec::ZERO; // 500 KiB, no stack
    /// let mut w = Word2Vec::<8, 4>::ZERO;
    /// w.init(&mut rand_pcg::Pcg32::seed_from_u64(1));
    /// assert!(w.input.as_slice().iter().all(|x| x.abs() <= 0.5 / 4.0));
    /// assert!(w.output.as_slice().iter().all(|&x| x == 0.0));
    /// assert_eq!(Word2Vec::<8, 4>::PARAMETERS, 2 * 8 * 4);
    /// ```
    pub struct Word2Vec<const V: usize, const D: usize> {
        /// Input (context) vectors, `V × D`: the embeddings.
        input: Matrix<V, D> = "input", Init::Uniform { bound: 0.5 / D as f32 };
        /// Output vectors, `V × D`.
        output: Matrix<V, D> = "output", Init::Zeros;
    }
}

impl<const V: usize, const D: usize> Word2Vec<V, D> {
    /// The embedding of `id`.
    pub fn vector(&self, id: u16) -> Result<&[f32; D]> {
        check_index("word id", usize::from(id), V)?;
        Ok(self.input.row(usize::from(id)))
    }
}

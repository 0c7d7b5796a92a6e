//! The word2vec parameters and their initialisation.

use crate::error::{Error, Result, check_index};
use crate::kernels as k;
use crate::params::Init;
use crate::tensor::Matrix;

crate::params! {
    /// word2vec embeddings for a vocabulary of `V` ids in `D` dimensions: `input` (the
    /// word vectors people use) and `output` (the vectors words are predicted with).
    ///
    /// [`init`](Self::init) initialises as word2vec does: input vectors uniform in
    /// `±0.5/D`, output vectors zero. Word ids are `u16`, so `V ≤ 65 536`: every
    /// word2vec method checks it at compile time.
    ///
    /// The fields are public, so a model may hold any values; the queries and the text
    /// writer refuse NaN and infinite vectors with
    /// [`Error::NonFinite`](crate::Error::NonFinite), and training refuses to produce
    /// them.
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
    /// Word ids are `u16`: `V ≤ 65 536`. Evaluated by every method of the word2vec
    /// types, so a model or trainer with more ids does not compile:
    ///
    /// ```compile_fail
    /// let w = edgegrad::word2vec::Word2Vec::<65_537, 1>::ZERO;
    /// let _ = w.vector(0);
    /// ```
    pub(crate) const IDS_FIT_U16: () = assert!(
        V <= 1 << 16,
        "word2vec: word ids are u16, so V is at most 65 536"
    );

    /// The embedding (input vector) of `id`, as stored (no check of its values).
    /// [`Error::IndexOutOfRange`](crate::Error::IndexOutOfRange) unless `id < V`.
    ///
    /// ```
    /// let w = edgegrad::word2vec::Word2Vec::<4, 2>::ZERO;
    /// assert_eq!(w.vector(3)?, &[0.0, 0.0]);
    /// assert!(w.vector(4).is_err());
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn vector(&self, id: u16) -> Result<&[f32; D]> {
        let () = Self::IDS_FIT_U16;
        check_index("word id", usize::from(id), V)?;
        Ok(self.input.row(usize::from(id)))
    }

    /// [`Error::NonFinite`] naming the flat index `id·D + column` of the first value of
    /// the input vector of `id` (`< V`) that is not finite.
    pub(crate) fn check_input_row(&self, id: usize) -> Result<()> {
        k::check_finite("word2vec input vectors", self.input.row(id)).map_err(|e| match e {
            Error::NonFinite { what, index } => Error::NonFinite {
                what,
                index: id * D + index,
            },
            other => other,
        })
    }
}

//! Using the embeddings: cosine similarity, nearest neighbours and analogies.
//!
//! Every score is computed without overflow or underflow for any finite vectors (a
//! vector of `1e20`s or of `1e-25`s has cosine 1 with itself), so a query never drops
//! an entry and never returns a NaN; a NaN or infinite vector is
//! [`Error::NonFinite`](crate::Error::NonFinite).

use heapless::Vec;

use crate::error::{Error, Result};
use crate::kernels as k;

use super::model::Word2Vec;

/// Within these magnitudes (2⁻³⁰ to 2³⁰ for the largest element of each vector) the
/// `f32` dot product and norms neither overflow nor lose more than `D·2⁻⁶⁶` of the
/// result to underflow; outside, the cosine is computed in `f64`.
const SAFE: core::ops::RangeInclusive<f32> = 9.313_226e-10..=1_073_741_824.0;

/// A vector prepared for cosines: its largest magnitude and, in the `f32` range, its
/// norm.
#[derive(Clone, Copy)]
struct Prepared<'a> {
    v: &'a [f32],
    max: f32,
    norm: f32,
}

impl<'a> Prepared<'a> {
    /// [`Error::NonFinite`] (with the flat index `id·D + column`) unless `v` is finite.
    fn new(v: &'a [f32], id: usize) -> Result<Self> {
        let max = k::max_abs(v);
        if !max.is_finite() {
            let column = v.iter().position(|x| !x.is_finite()).unwrap_or(0);
            return Err(Error::NonFinite {
                what: "word2vec input vectors",
                index: id * v.len() + column,
            });
        }
        let norm = if SAFE.contains(&max) { k::norm(v) } else { 0.0 };
        Ok(Prepared { v, max, norm })
    }

    /// `cos(self, other)` in `[−1, 1]`, 0 if either vector is zero; never NaN.
    fn cosine(&self, other: &Prepared<'_>) -> f32 {
        if self.max == 0.0 || other.max == 0.0 {
            return 0.0;
        }
        let c = if SAFE.contains(&self.max) && SAFE.contains(&other.max) {
            // Both norms are at least 2⁻³⁰, so their product is a normal number.
            k::dot(self.v, other.v).unwrap_or(0.0) / (self.norm * other.norm)
        } else {
            // f64 holds the products of any two finite f32 (up to 1.2·10⁷⁷, down to
            // 2·10⁻⁹⁰) and their sums exactly enough.
            let (mut xy, mut xx, mut yy) = (0.0_f64, 0.0_f64, 0.0_f64);
            for (&x, &y) in self.v.iter().zip(other.v) {
                let (x, y) = (f64::from(x), f64::from(y));
                xy += x * y;
                xx += x * x;
                yy += y * y;
            }
            (xy / (libm::sqrt(xx) * libm::sqrt(yy))) as f32
        };
        // Rounding can take |c| just past 1; a NaN cannot occur, but is mapped to 0.
        if c.is_nan() { 0.0 } else { c.clamp(-1.0, 1.0) }
    }
}

/// Inserts `(id, score)` into `best`, kept sorted by decreasing score (ties in the
/// order offered) and at most `K` long. Scores are never NaN.
fn offer<const K: usize>(best: &mut Vec<(u16, f32), K>, id: u16, score: f32) {
    if K == 0 {
        return;
    }
    let at = best
        .iter()
        .position(|&(_, s)| score > s)
        .unwrap_or(best.len());
    if at >= K {
        return;
    }
    if best.is_full() {
        best.pop();
    }
    // Cannot fail: there is room after the pop.
    let _ = best.insert(at, (id, score));
}

impl<const V: usize, const D: usize> Word2Vec<V, D> {
    /// The input vector of `id`, prepared for cosines.
    fn prepared(&self, id: u16) -> Result<Prepared<'_>> {
        Prepared::new(self.vector(id)?, usize::from(id))
    }

    /// Cosine similarity `a·b / (‖a‖·‖b‖)` of the embeddings of two ids, in `[−1, 1]`
    /// (0 if either vector is zero), free of overflow and underflow for any finite
    /// vectors.
    ///
    /// Errors: [`Error::IndexOutOfRange`] unless both ids are below `V`;
    /// [`Error::NonFinite`] (index `id·D + column`) if either vector holds a NaN or an
    /// infinity. Reads only.
    ///
    /// ```
    /// use edgegrad::word2vec::Word2Vec;
    /// let mut w = Word2Vec::<3, 2>::ZERO;
    /// w.input.0 = [[1e20, 1e20], [1e-25, 1e-25], [0.0, 0.0]];
    /// assert!((w.cosine(0, 1)? - 1.0).abs() < 1e-6);
    /// assert_eq!(w.cosine(0, 2)?, 0.0);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn cosine(&self, a: u16, b: u16) -> Result<f32> {
        Ok(self.prepared(a)?.cosine(&self.prepared(b)?))
    }

    /// The `K` ids most similar to `id` by [cosine similarity](Self::cosine), best
    /// first (ties in id order), among ids `1..len` (`len` the vocabulary size in use),
    /// excluding `id` itself. Every candidate is ranked: fewer than `K` entries only
    /// when there are fewer candidates.
    ///
    /// Errors: [`Error::IndexOutOfRange`] unless `id < V`; [`Error::InvalidLength`]
    /// unless `len ≤ V`; [`Error::NonFinite`] (index `id·D + column`) if the vector of
    /// `id` or of a candidate holds a NaN or an infinity. Reads only.
    ///
    /// ```
    /// use edgegrad::word2vec::Word2Vec;
    /// let mut w = Word2Vec::<4, 2>::ZERO;
    /// w.input.0 = [[0.0, 0.0], [1.0, 0.0], [0.9, 0.1], [-1.0, 0.0]];
    /// let best = w.most_similar::<2>(1, 4)?;
    /// assert_eq!(best[0].0, 2);
    /// assert_eq!(best[1].0, 3);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn most_similar<const K: usize>(&self, id: u16, len: usize) -> Result<Vec<(u16, f32), K>> {
        let q = self.prepared(id)?;
        self.rank::<K>(len, &[id], |x| x.cosine(&q))
    }

    /// Analogy "`b` is to `a` as `c` is to ?": the `K` ids whose unit vectors are most
    /// similar to `â − b̂ + ĉ` (hats are unit vectors, as in gensim), excluding `a`, `b`
    /// and `c`, among ids `1..len`. The score of `x` is
    /// `cos(x, a) − cos(x, b) + cos(x, c)` (in `[−3, 3]`, [`cosine`](Self::cosine)'s
    /// zero for a zero vector). With good embeddings, `analogy(king, man, woman)` ranks
    /// `queen` first.
    ///
    /// Errors: [`Error::IndexOutOfRange`] unless `a`, `b`, `c < V`;
    /// [`Error::InvalidLength`] unless `len ≤ V`; [`Error::NonFinite`] (index
    /// `id·D + column`) if the vector of `a`, `b`, `c` or a candidate holds a NaN or an
    /// infinity. Reads only.
    ///
    /// ```
    /// use edgegrad::word2vec::Word2Vec;
    /// let mut w = Word2Vec::<5, 2>::ZERO;
    /// // king, man, woman, queen
    /// w.input.0 = [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.1, 1.0]];
    /// let best = w.analogy::<1>(1, 2, 3, 5)?;
    /// assert_eq!(best[0].0, 4);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn analogy<const K: usize>(
        &self,
        a: u16,
        b: u16,
        c: u16,
        len: usize,
    ) -> Result<Vec<(u16, f32), K>> {
        let (pa, pb, pc) = (self.prepared(a)?, self.prepared(b)?, self.prepared(c)?);
        self.rank::<K>(len, &[a, b, c], |x| {
            x.cosine(&pa) - x.cosine(&pb) + x.cosine(&pc)
        })
    }

    /// Scores ids `1..len` not in `exclude` and keeps the best `K`.
    fn rank<const K: usize>(
        &self,
        len: usize,
        exclude: &[u16],
        score: impl Fn(&Prepared<'_>) -> f32,
    ) -> Result<Vec<(u16, f32), K>> {
        let () = Self::IDS_FIT_U16;
        if len > V {
            return Err(Error::InvalidLength {
                what: "vocabulary length",
                found: len,
                min: 0,
                max: V,
            });
        }
        let mut best = Vec::new();
        for id in 1..len {
            // id < len ≤ V ≤ 65 536: the cast is exact.
            let id16 = id as u16;
            if exclude.contains(&id16) {
                continue;
            }
            let x = Prepared::new(self.input.row(id), id)?;
            offer(&mut best, id16, score(&x));
        }
        Ok(best)
    }
}

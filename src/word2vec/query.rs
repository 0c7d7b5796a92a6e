//! Using the embeddings: cosine similarity, nearest neighbours and analogies.

use heapless::Vec;

use crate::error::{Result, check_index};
use crate::kernels as k;

use super::model::Word2Vec;

/// Inserts `(id, score)` into `best`, kept sorted by decreasing score and at most `K`
/// long.
fn offer<const K: usize>(best: &mut Vec<(u16, f32), K>, id: u16, score: f32) {
    if K == 0 || score.is_nan() {
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
    /// Cosine similarity `a·b / (‖a‖·‖b‖)` of the embeddings of two ids (0 if either
    /// vector is zero).
    pub fn cosine(&self, a: u16, b: u16) -> Result<f32> {
        let (x, y) = (self.vector(a)?, self.vector(b)?);
        let n = k::norm(x) * k::norm(y);
        Ok(if n > 0.0 { k::dot(x, y)? / n } else { 0.0 })
    }

    /// The `K` ids most similar to `id` by cosine similarity, best first, among ids
    /// `1..len` (`len` the vocabulary size in use, at most `V`), excluding `id` itself.
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
        let q = self.vector(id)?;
        let nq = k::norm(q);
        self.rank::<K>(len, &[id], |x, nx| {
            if nx == 0.0 || nq == 0.0 {
                0.0
            } else {
                k::dot(x, q).unwrap_or(0.0) / (nx * nq)
            }
        })
    }

    /// Analogy "`b` is to `a` as `c` is to ?": the `K` ids whose unit vectors are most
    /// similar to `â − b̂ + ĉ` (hats are unit vectors, as in gensim), excluding `a`, `b`
    /// and `c`. With good embeddings, `analogy(king, man, woman)` ranks `queen` first.
    pub fn analogy<const K: usize>(
        &self,
        a: u16,
        b: u16,
        c: u16,
        len: usize,
    ) -> Result<Vec<(u16, f32), K>> {
        let unit = |id: u16| -> Result<(&[f32; D], f32)> {
            let v = self.vector(id)?;
            let n = k::norm(v);
            Ok((v, if n > 0.0 { 1.0 / n } else { 0.0 }))
        };
        let ((va, ia), (vb, ib), (vc, ic)) = (unit(a)?, unit(b)?, unit(c)?);
        // cos(x, q) ∝ x̂·q with q = â − b̂ + ĉ; the norm of q is the same for every x.
        self.rank::<K>(len, &[a, b, c], |x, nx| {
            if nx == 0.0 {
                return 0.0;
            }
            let d = |v: &[f32; D], i: f32| k::dot(x, v).unwrap_or(0.0) * i;
            (d(va, ia) - d(vb, ib) + d(vc, ic)) / nx
        })
    }

    /// Scores ids `1..len` not in `exclude` and keeps the best `K`.
    fn rank<const K: usize>(
        &self,
        len: usize,
        exclude: &[u16],
        score: impl Fn(&[f32; D], f32) -> f32,
    ) -> Result<Vec<(u16, f32), K>> {
        check_index("vocabulary length", len.saturating_sub(1), V)?;
        let mut best = Vec::new();
        for id in 1..len {
            let id16 = id as u16;
            if exclude.contains(&id16) {
                continue;
            }
            let x = self.input.row(id);
            offer(&mut best, id16, score(x, k::norm(x)));
        }
        Ok(best)
    }
}

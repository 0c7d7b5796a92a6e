//! The word2vec text format: a header line `count dimensions`, then one line per word:
//! the word and its `dimensions` numbers, separated by spaces. gensim reads it with
//! `KeyedVectors.load_word2vec_format(path)` and writes it with `save_word2vec_format`.
//!
//! The writer and the reader agree exactly: whatever [`Word2Vec::write_text`] accepts,
//! [`Word2Vec::read_text`] reads back bit for bit (numbers are written in the shortest
//! form that parses to the same `f32`), and what the reader would refuse (a NaN or an
//! infinity, a word with whitespace) the writer refuses before writing anything.

use core::fmt::Write;

use crate::error::{Error, Result};
use crate::vocab::Vocab;

use super::model::Word2Vec;

fn parse_error(line: usize, what: &'static str) -> Error {
    Error::Parse { what, line }
}

/// The word of a body line (its first field).
fn first_field(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or("")
}

impl<const V: usize, const D: usize> Word2Vec<V, D> {
    /// Writes the embeddings of the vocabulary's words (ids `1..vocab.len()`; the
    /// unknown word is left out) in the word2vec text format to any `core::fmt::Write`
    /// sink — a `String` on a host, a UART writer in firmware.
    ///
    /// Everything is checked before the first byte is written, so a refused model
    /// writes nothing: [`Error::NonFinite`] (index `id·D + column`) if a vector to be
    /// written holds a NaN or an infinity (the reader refuses them), and
    /// [`Error::InvalidParameter`] if a word could not be read back as itself (a
    /// [`Vocab`] never holds one: this guards the invariant). If the sink fails,
    /// [`Error::InvalidParameter`] with `what: "word2vec text sink"`; then the lines
    /// before the failing write, and a part of that line, have been written.
    ///
    /// Whatever this accepts, [`read_text`](Self::read_text) reads back identically:
    /// the same words with the same ids, and the same bits of every vector written.
    ///
    /// ```
    /// use edgegrad::{vocab::Vocab, word2vec::Word2Vec};
    /// let mut vocab = Vocab::<3, 8>::ZERO;
    /// vocab.set_words(["cat", "dog"].into_iter())?;
    /// let mut w = Word2Vec::<3, 2>::ZERO;
    /// w.input.0 = [[0.0, 0.0], [0.5, -1.0], [2.0, 0.25]];
    /// let mut out = String::new();
    /// w.write_text(&vocab, &mut out)?;
    /// assert_eq!(out, "2 2\ncat 0.5 -1\ndog 2 0.25\n");
    ///
    /// w.input.0[2][0] = f32::NAN;
    /// let mut refused = String::new();
    /// assert!(w.write_text(&vocab, &mut refused).is_err());
    /// assert!(refused.is_empty());
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn write_text<const L: usize, W: Write>(
        &self,
        vocab: &Vocab<V, L>,
        out: &mut W,
    ) -> Result<()> {
        let () = Self::IDS_FIT_U16;
        let n = vocab.len().min(V);
        for id in 1..n {
            // id < V ≤ 65 536: the cast is exact.
            let word = vocab.word(id as u16);
            if !Vocab::<V, L>::fits(word) || vocab.id(word) != id as u16 {
                return Err(Error::InvalidParameter {
                    what: "word2vec text: vocabulary word",
                    expected: "distinct lower-cased words without whitespace",
                });
            }
        }
        (1..n).try_for_each(|id| self.check_input_row(id))?;
        let sink = |_| Error::InvalidParameter {
            what: "word2vec text sink",
            expected: "a core::fmt::Write that accepts the whole text",
        };
        writeln!(out, "{} {}", n.saturating_sub(1), D).map_err(sink)?;
        for id in 1..n {
            out.write_str(vocab.word(id as u16)).map_err(sink)?;
            for x in self.input.row(id) {
                write!(out, " {x}").map_err(sink)?;
            }
            out.write_char('\n').map_err(sink)?;
        }
        Ok(())
    }

    /// Reads embeddings in the word2vec text format: the file's words become the
    /// vocabulary (ids `1..=count` in file order, lower-cased like every lookup, counts
    /// zero) and their vectors the input vectors; other rows and the output vectors are
    /// set to zero.
    ///
    /// Everything is checked before anything is written, and a refused file leaves
    /// `self` and `vocab` bit-identical. [`Error::Parse`] with the 1-based line number
    /// for: a missing or malformed header (two unsigned integers), a count above
    /// `V − 1`, dimensions other than `D`, a missing, extra or unparsable number, a
    /// number that is NaN or infinite (`nan`, `inf`, or a literal beyond `f32::MAX`
    /// such as `1e39`), a word longer than `L` bytes lower-cased, a word that repeats
    /// an earlier one (compared lower-cased), an empty line among the words, or missing
    /// or extra lines (trailing blank lines are allowed). Subnormal numbers and `-0`
    /// are read exactly.
    ///
    /// A file may hold the word `<unk>`: it becomes a word of its own, distinct from
    /// [`UNK`](crate::vocab::UNK). Repeated words are found by a filter kept in
    /// `vocab`'s index, in one pass over the lines; a word the filter flags (about one
    /// in 600 when `count` is near `V`, far fewer for smaller counts) is compared with
    /// the lines before it.
    ///
    /// ```
    /// use edgegrad::{vocab::Vocab, word2vec::Word2Vec, Error};
    /// let mut w = Word2Vec::<4, 2>::ZERO;
    /// let mut vocab = Vocab::<4, 8>::ZERO;
    /// w.read_text("2 2\nCat 0.5 -1\ndog 2 1e-45\n", &mut vocab)?;
    /// assert_eq!((vocab.id("cat"), w.input.0[2]), (1, [2.0, 1e-45]));
    /// let err = w.read_text("2 2\nbird 1 2\nBIRD 3 4\n", &mut vocab).unwrap_err();
    /// assert!(matches!(err, Error::Parse { line: 3, .. }));
    /// assert!(w.read_text("1 2\nfish 1e39 0\n", &mut vocab).is_err());
    /// assert_eq!(vocab.word(1), "cat"); // unchanged
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn read_text<const L: usize>(&mut self, text: &str, vocab: &mut Vocab<V, L>) -> Result<()> {
        let () = Self::IDS_FIT_U16;
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let (_, header) = lines.next().ok_or(parse_error(1, "missing header"))?;
        let mut fields = header.split_whitespace();
        let count: usize = fields
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or(parse_error(1, "header: word count"))?;
        let dims: usize = fields
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or(parse_error(1, "header: dimensions"))?;
        if fields.next().is_some() {
            return Err(parse_error(1, "header: more than two fields"));
        }
        if dims != D {
            return Err(parse_error(
                1,
                "header: dimensions differ from the model's D",
            ));
        }
        if count >= V {
            return Err(parse_error(1, "header: more words than the model's V − 1"));
        }
        // Pass 1: validate every line.
        let body = || lines.clone().take(count);
        let mut seen = 0;
        for (no, line) in body() {
            let mut fields = line.split_whitespace();
            let word = fields.next().ok_or(parse_error(no, "empty line"))?;
            if !Vocab::<V, L>::fits(word) {
                return Err(parse_error(
                    no,
                    "word longer than the vocabulary's L bytes (lower-cased)",
                ));
            }
            for _ in 0..D {
                let f = fields
                    .next()
                    .ok_or(parse_error(no, "fewer numbers than dimensions"))?;
                let x: f32 = f.parse().map_err(|_| parse_error(no, "not a number"))?;
                if !x.is_finite() {
                    return Err(parse_error(no, "non-finite number"));
                }
            }
            if fields.next().is_some() {
                return Err(parse_error(no, "more numbers than dimensions"));
            }
            seen += 1;
        }
        if seen < count {
            return Err(parse_error(
                seen + 2,
                "fewer lines than the header's word count",
            ));
        }
        if let Some((no, _)) = lines
            .clone()
            .skip(count)
            .find(|(_, l)| !l.trim().is_empty())
        {
            return Err(parse_error(no, "more lines than the header's word count"));
        }
        let words = || body().map(|(_, l)| first_field(l));
        // Cannot fail: every word was checked above.
        let (n, fingerprint) = Vocab::<V, L>::check_words(words())?;
        if let Some(i) = vocab.find_duplicate(words(), n) {
            // Word i is on line i + 2 (after the header).
            return Err(parse_error(i + 2, "a word repeated (compared lower-cased)"));
        }
        // Pass 2: every check passed, copy. (`write_words` cannot fail: its pass over
        // the same lines sees the words the checks saw.)
        vocab.write_words(words(), n, fingerprint)?;
        self.input.fill(0.0);
        self.output.fill(0.0);
        for (id, (_, line)) in body().enumerate() {
            let row = self.input.row_mut(id + 1);
            for (x, f) in row.iter_mut().zip(line.split_whitespace().skip(1)) {
                *x = f.parse().unwrap_or(0.0);
            }
        }
        Ok(())
    }
}

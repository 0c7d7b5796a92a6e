//! The word2vec text format: a header line `count dimensions`, then one line per word:
//! the word and its `dimensions` numbers, separated by spaces. gensim reads it with
//! `KeyedVectors.load_word2vec_format(path)` and writes it with `save_word2vec_format`.

use core::fmt::Write;

use crate::error::{Error, Result};
use crate::vocab::Vocab;

use super::model::Word2Vec;

fn parse_error(line: usize, what: &'static str) -> Error {
    Error::Parse { what, line }
}

impl<const V: usize, const D: usize> Word2Vec<V, D> {
    /// Writes the embeddings of the vocabulary's words (ids `1..len`; the unknown word
    /// is left out) in the word2vec text format to any `core::fmt::Write` sink — a
    /// `String` on a host, a UART writer in firmware.
    ///
    /// ```
    /// use edgegrad::{vocab::Vocab, word2vec::Word2Vec};
    /// let mut vocab = Vocab::<3, 8>::ZERO;
    /// vocab.set_words(["cat", "dog"].into_iter())?;
    /// let mut w = Word2Vec::<3, 2>::ZERO;
    /// w.input.0 = [[0.0, 0.0], [0.5, -1.0], [2.0, 0.25]];
    /// let mut out = String::new();
    /// w.write_text(&vocab, &mut out).unwrap();
    /// assert_eq!(out, "2 2\ncat 0.5 -1\ndog 2 0.25\n");
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn write_text<const L: usize, W: Write>(
        &self,
        vocab: &Vocab<V, L>,
        out: &mut W,
    ) -> core::fmt::Result {
        let n = vocab.len().min(V);
        writeln!(out, "{} {}", n.saturating_sub(1), D)?;
        for id in 1..n {
            out.write_str(vocab.word(id as u16))?;
            for x in self.input.row(id) {
                write!(out, " {x}")?;
            }
            out.write_char('\n')?;
        }
        Ok(())
    }

    /// Reads embeddings in the word2vec text format: the file's words become the
    /// vocabulary (ids `1..=count` in file order, lower-cased like every lookup) and
    /// their vectors the input vectors;
    /// other rows and the output vectors are set to zero.
    ///
    /// Everything is checked before anything is written: a malformed header, a count
    /// above `V − 1` or dimensions other than `D`, a line with a missing, extra or
    /// unparsable number, a word longer than `L` bytes, or missing or extra lines give
    /// [`Error::Parse`] (or [`Error::InvalidLength`]) with the 1-based line number, and
    /// leave `self` and `vocab` unchanged.
    pub fn read_text<const L: usize>(&mut self, text: &str, vocab: &mut Vocab<V, L>) -> Result<()> {
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
        // Pass 2: every check passed, copy.
        vocab.set_words(body().map(|(_, l)| l.split_whitespace().next().unwrap_or("")))?;
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

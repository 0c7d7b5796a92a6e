//! A fixed-capacity word vocabulary: a tokenizer over `&str`, word counting, and the
//! word ↔ id mapping that word2vec trains on — all in `heapless` storage.
//!
//! Words are lower-cased and at most `L` bytes long (longer ones are unknown). Id
//! [`UNK`] stands for every word outside the vocabulary; the kept words get ids
//! `1..len` in order of decreasing count, as in the original word2vec.

use core::cmp::Ordering;

use heapless::String;
use heapless::index_map::FnvIndexMap;

use crate::error::{Error, Result};

/// Id of the unknown word.
pub const UNK: u16 = 0;

/// The words of `text`: maximal runs of letters and digits (anything else separates
/// words). No allocation; the words borrow from `text`.
///
/// ```
/// let words: Vec<&str> = edgegrad::vocab::words("In the beginning, God's 7 days.").collect();
/// assert_eq!(words, ["In", "the", "beginning", "God", "s", "7", "days"]);
/// ```
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// `word` lower-cased into a fixed-capacity string, or `None` if it does not fit in `L`
/// bytes.
fn normalise<const L: usize>(word: &str) -> Option<String<L>> {
    let mut s = String::new();
    for c in word.chars().flat_map(char::to_lowercase) {
        s.push(c).ok()?;
    }
    Some(s)
}

/// Counts words, with room for `CAP` distinct words of at most `L` bytes (`CAP` a power
/// of two, as `heapless`'s hash map requires).
///
/// ```
/// use edgegrad::vocab::{Vocab, VocabBuilder};
/// let mut b = VocabBuilder::<64, 16>::new();
/// b.add_text("the cat and the dog and the bird")?;
/// let mut vocab = Vocab::<4, 16>::ZERO;
/// b.build(1, &mut vocab);
/// assert_eq!(vocab.word(1), "the");
/// assert_eq!(vocab.id("AND"), 2);
/// assert_eq!(vocab.id("bird"), 3); // ties go alphabetically: bird, cat, dog
/// assert_eq!(vocab.id("dog"), edgegrad::vocab::UNK); // only V − 1 = 3 words fit
/// assert_eq!(vocab.count(edgegrad::vocab::UNK), 2); // cat and dog
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub struct VocabBuilder<const CAP: usize, const L: usize> {
    counts: FnvIndexMap<String<L>, u64, CAP>,
    skipped: u64,
}

impl<const CAP: usize, const L: usize> Default for VocabBuilder<CAP, L> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAP: usize, const L: usize> VocabBuilder<CAP, L> {
    /// An empty builder.
    pub const fn new() -> Self {
        VocabBuilder {
            counts: FnvIndexMap::new(),
            skipped: 0,
        }
    }

    /// Counts one word (lower-cased; words longer than `L` bytes are counted as unknown).
    /// [`Error::InvalidLength`] when a new word does not fit in the `CAP` slots.
    pub fn add_word(&mut self, word: &str) -> Result<()> {
        let Some(key) = normalise::<L>(word) else {
            self.skipped += 1;
            return Ok(());
        };
        if let Some(c) = self.counts.get_mut(&key) {
            *c += 1;
            return Ok(());
        }
        self.counts
            .insert(key, 1)
            .map(|_| ())
            .map_err(|_| Error::InvalidLength {
                what: "vocabulary builder (distinct words)",
                found: CAP + 1,
                min: 0,
                max: CAP,
            })
    }

    /// Counts every word of `text` (see [`words`]).
    pub fn add_text(&mut self, text: &str) -> Result<()> {
        words(text).try_for_each(|w| self.add_word(w))
    }

    /// Number of distinct words counted.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// Fills `vocab` with the `V − 1` most frequent words that occur at least
    /// `min_count` times (ties broken alphabetically, so the result is deterministic);
    /// every other occurrence is counted under [`UNK`].
    pub fn build<const V: usize>(&self, min_count: u64, vocab: &mut Vocab<V, L>) {
        vocab.clear();
        // Selection of the V − 1 best by repeated insertion into the sorted prefix: the
        // vocabulary is built once, and this needs no scratch memory.
        let better = |a: (&String<L>, u64), b: (&String<L>, u64)| {
            b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)) == Ordering::Less
        };
        let mut len = 1;
        let mut unk = self.skipped;
        for (word, &count) in &self.counts {
            if count < min_count || V < 2 {
                unk += count;
                continue;
            }
            if len == V {
                let last = (&vocab.words[V - 1], vocab.counts[V - 1]);
                if !better((word, count), last) {
                    unk += count;
                    continue;
                }
                unk += vocab.counts[V - 1];
                len -= 1;
            }
            let mut at = len;
            while at > 1 && better((word, count), (&vocab.words[at - 1], vocab.counts[at - 1])) {
                vocab.words.swap(at, at - 1);
                vocab.counts[at] = vocab.counts[at - 1];
                at -= 1;
            }
            vocab.words[at].clone_from(word);
            vocab.counts[at] = count;
            len += 1;
        }
        vocab.len = len.min(V);
        vocab.counts[0] = unk;
        vocab.reindex();
    }
}

/// A vocabulary of at most `V` words (including [`UNK`]) of at most `L` bytes each.
#[derive(Debug)]
pub struct Vocab<const V: usize, const L: usize> {
    words: [String<L>; V],
    counts: [u64; V],
    /// Ids sorted by word, for binary search.
    sorted: [u16; V],
    len: usize,
}

impl<const V: usize, const L: usize> Vocab<V, L> {
    /// A vocabulary holding only [`UNK`].
    pub const ZERO: Self = {
        assert!(V >= 1 && V <= 1 << 16, "a vocabulary has 1 to 65536 ids");
        Vocab {
            words: [const { String::new() }; V],
            counts: [0; V],
            sorted: [0; V],
            len: 1,
        }
    };

    /// Bytes this struct takes.
    pub const BYTES: usize = core::mem::size_of::<Self>();

    fn clear(&mut self) {
        self.len = 1;
        self.words[0].clear();
        let _ = self.words[0].push_str("<unk>");
        self.counts = [0; V];
    }

    fn reindex(&mut self) {
        let n = self.len;
        for (i, s) in self.sorted[..n].iter_mut().enumerate() {
            *s = i as u16;
        }
        let words = &self.words;
        self.sorted[..n].sort_unstable_by(|&a, &b| {
            words[usize::from(a)]
                .as_str()
                .cmp(words[usize::from(b)].as_str())
        });
    }

    /// Whether `word` can be a vocabulary word: non-empty and at most `L` bytes once
    /// lower-cased.
    pub fn fits(word: &str) -> bool {
        !word.is_empty() && normalise::<L>(word).is_some()
    }

    /// Number of ids in use (the kept words plus [`UNK`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether only [`UNK`] is present.
    pub fn is_empty(&self) -> bool {
        self.len <= 1
    }

    /// The word of `id` (`"<unk>"` for [`UNK`], `""` past [`len`](Self::len)).
    pub fn word(&self, id: u16) -> &str {
        // Only the first `len` slots are words; a rebuild leaves older ones behind.
        self.words[..self.len]
            .get(usize::from(id))
            .map_or("", |w| w.as_str())
    }

    /// How often `id` occurred when the vocabulary was built (for [`UNK`]: every
    /// occurrence of a word left out).
    pub fn count(&self, id: u16) -> u64 {
        self.counts.get(usize::from(id)).copied().unwrap_or(0)
    }

    /// Counts of every id, `len()` long: what word2vec's sampling tables are built from.
    pub fn counts(&self) -> &[u64] {
        &self.counts[..self.len]
    }

    /// The id of `word` (matched lower-cased), or [`UNK`].
    pub fn id(&self, word: &str) -> u16 {
        let Some(key) = normalise::<L>(word) else {
            return UNK;
        };
        self.sorted[..self.len]
            .binary_search_by(|&i| self.words[usize::from(i)].as_str().cmp(key.as_str()))
            .map_or(UNK, |pos| self.sorted[pos])
    }

    /// Writes the ids of the words of `text` into `out`; returns how many were written
    /// (at most `out.len()`; the rest of the text is ignored).
    pub fn encode(&self, text: &str, out: &mut [u16]) -> usize {
        let mut n = 0;
        for (slot, w) in out.iter_mut().zip(words(text)) {
            *slot = self.id(w);
            n += 1;
        }
        n
    }

    /// Replaces the vocabulary by `words` (ids `1..=words.len()` in that order, counts
    /// zero), lower-cased like every lookup. [`Error::InvalidLength`] if there are more
    /// than `V − 1` words, or a word is empty or longer than `L` bytes once lower-cased;
    /// then the vocabulary is unchanged.
    pub fn set_words<'a>(&mut self, words: impl Iterator<Item = &'a str> + Clone) -> Result<()> {
        let mut n = 0;
        for w in words.clone() {
            n += 1;
            if n >= V {
                return Err(Error::InvalidLength {
                    what: "vocabulary words",
                    found: n,
                    min: 0,
                    max: V - 1,
                });
            }
            if !Self::fits(w) {
                return Err(Error::InvalidLength {
                    what: "vocabulary word (bytes, lower-cased)",
                    found: w.len(),
                    min: 1,
                    max: L,
                });
            }
        }
        self.clear();
        for (i, w) in words.enumerate() {
            // Cannot fail: checked above.
            self.words[i + 1] = normalise::<L>(w).unwrap_or_default();
        }
        self.len = n + 1;
        self.reindex();
        Ok(())
    }
}

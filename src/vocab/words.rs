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
///
/// ```
/// use edgegrad::vocab::{UNK, Vocab};
/// let v = Vocab::<4, 8>::ZERO;
/// assert_eq!((v.id("anything"), v.word(UNK)), (UNK, "<unk>"));
/// ```
pub const UNK: u16 = 0;

/// The words of `text`: maximal runs of letters and digits (anything else separates
/// words). No allocation; the words borrow from `text`. Any text is valid; the words
/// are never empty and never hold whitespace.
///
/// ```
/// let words: Vec<&str> = edgegrad::vocab::words("In the beginning, God's 7 days.").collect();
/// assert_eq!(words, ["In", "the", "beginning", "God", "s", "7", "days"]);
/// ```
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Whether `word` can be a vocabulary word before its length is considered: not empty
/// and free of whitespace (which separates words in the word2vec text format).
fn is_word(word: &str) -> bool {
    !word.is_empty() && !word.chars().any(char::is_whitespace)
}

/// The characters of `word` lower-cased, as every comparison sees them.
fn lowered(word: &str) -> impl Iterator<Item = char> + Clone + '_ {
    word.chars().flat_map(char::to_lowercase)
}

/// `word` lower-cased into a fixed-capacity string, or `None` if it does not fit in `L`
/// bytes.
fn normalise<const L: usize>(word: &str) -> Option<String<L>> {
    let mut s = String::new();
    for c in lowered(word) {
        s.push(c).ok()?;
    }
    Some(s)
}

/// Whether two words are the same once lower-cased.
fn same_word(a: &str, b: &str) -> bool {
    a == b || lowered(a).eq(lowered(b))
}

/// SplitMix64's finaliser: every input bit affects every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit hash of `word` lower-cased (FNV-1a over its characters, then mixed).
fn word_hash(word: &str) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325_u64;
    for c in lowered(word) {
        h = (h ^ u64::from(u32::from(c))).wrapping_mul(0x0100_0000_01B3);
    }
    mix(h)
}

/// The fingerprint of no words.
const FINGERPRINT: u64 = 0x5EED;

/// The fingerprint `fp` of a sequence of words (lower-cased) extended by `word`: two
/// passes over clones of one iterator that end with the same fingerprint saw the same
/// words (up to a 2⁻⁶⁴ chance).
fn fingerprint(fp: u64, word: &str) -> u64 {
    mix(fp ^ word_hash(word)).wrapping_add(1)
}

/// Counts words, with room for `CAP` distinct words of at most `L` bytes (`CAP` a power
/// of two and at least 2, as `heapless`'s hash map requires: other values do not
/// compile).
///
/// Counts saturate at `u64::MAX` instead of overflowing. No method panics.
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
    ///
    /// ```
    /// let b = edgegrad::vocab::VocabBuilder::<8, 4>::new();
    /// assert_eq!(b.distinct(), 0);
    /// ```
    pub const fn new() -> Self {
        VocabBuilder {
            counts: FnvIndexMap::new(),
            skipped: 0,
        }
    }

    /// Counts one word, lower-cased. A word that cannot be a vocabulary word — one
    /// containing whitespace, or longer than `L` bytes lower-cased — is counted as
    /// unknown; the empty string is ignored.
    ///
    /// [`Error::InvalidLength`] when a new word does not fit in the `CAP` slots; then
    /// nothing is counted (the builder is unchanged).
    ///
    /// ```
    /// use edgegrad::vocab::VocabBuilder;
    /// let mut b = VocabBuilder::<2, 8>::new();
    /// b.add_word("Cat")?;
    /// b.add_word("cat")?; // the same word
    /// b.add_word("two words")?; // unknown
    /// b.add_word("dog")?;
    /// assert!(b.add_word("bird").is_err()); // a third distinct word: no room
    /// assert_eq!(b.distinct(), 2);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn add_word(&mut self, word: &str) -> Result<()> {
        if word.is_empty() {
            return Ok(());
        }
        let Some(key) = normalise::<L>(word).filter(|_| is_word(word)) else {
            self.skipped = self.skipped.saturating_add(1);
            return Ok(());
        };
        if let Some(c) = self.counts.get_mut(&key) {
            *c = c.saturating_add(1);
            return Ok(());
        }
        self.counts
            .insert(key, 1)
            .map(|_| ())
            .map_err(|_| Error::InvalidLength {
                what: "vocabulary builder (distinct words)",
                found: CAP.saturating_add(1),
                min: 0,
                max: CAP,
            })
    }

    /// Counts every word of `text` (see [`words`]) with [`add_word`](Self::add_word).
    ///
    /// [`Error::InvalidLength`] when a new word does not fit in the `CAP` slots. Then
    /// the words of `text` before that word have been counted (the builder is as if
    /// `text` had ended just before it), and that word and the rest of `text` have not.
    ///
    /// ```
    /// use edgegrad::vocab::VocabBuilder;
    /// let mut b = VocabBuilder::<2, 8>::new();
    /// assert!(b.add_text("a b a c a").is_err());
    /// assert_eq!(b.distinct(), 2); // "a b a" counted, "c a" not
    /// ```
    pub fn add_text(&mut self, text: &str) -> Result<()> {
        words(text).try_for_each(|w| self.add_word(w))
    }

    /// Number of distinct words counted.
    ///
    /// ```
    /// let mut b = edgegrad::vocab::VocabBuilder::<8, 8>::new();
    /// b.add_text("a b a")?;
    /// assert_eq!(b.distinct(), 2);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// Fills `vocab` with the `V − 1` most frequent words that occur at least
    /// `min_count` times (ties broken alphabetically, so the result is deterministic);
    /// every other occurrence is counted under [`UNK`] (saturating at `u64::MAX`).
    /// Cannot fail: every input is valid, and `vocab`'s previous content is replaced.
    ///
    /// ```
    /// use edgegrad::vocab::{Vocab, VocabBuilder, UNK};
    /// let mut b = VocabBuilder::<8, 8>::new();
    /// b.add_text("b a c a b a")?;
    /// let mut v = Vocab::<8, 8>::ZERO;
    /// b.build(2, &mut v);
    /// assert_eq!((v.len(), v.word(1), v.word(2)), (3, "a", "b"));
    /// assert_eq!(v.count(UNK), 1); // c
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
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
                unk = unk.saturating_add(count);
                continue;
            }
            if len == V {
                let last = (&vocab.words[V - 1], vocab.counts[V - 1]);
                if !better((word, count), last) {
                    unk = unk.saturating_add(count);
                    continue;
                }
                unk = unk.saturating_add(vocab.counts[V - 1]);
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

/// A vocabulary of at most `V` words (including [`UNK`]) of at most `L` bytes each;
/// `1 ≤ V ≤ 65 536`, since ids are `u16` (other sizes do not compile).
///
/// Its words are distinct, non-empty, free of whitespace and lower-cased: every id in
/// `1..len()` is the one [`id`](Self::id) returns for its word, and every vocabulary can
/// be written in the word2vec text format and read back. The unknown word's text
/// `"<unk>"` is only a label: a vocabulary may also hold `"<unk>"` as a word of its own.
///
/// ```
/// use edgegrad::vocab::{Vocab, UNK};
/// let mut v = Vocab::<4, 8>::ZERO;
/// v.set_words(["Cat", "dog"].into_iter())?;
/// assert_eq!((v.len(), v.id("CAT"), v.id("bird")), (3, 1, UNK));
/// assert!(v.set_words(["a", "A"].into_iter()).is_err()); // the same word twice
/// assert_eq!(v.word(1), "cat"); // unchanged
/// # Ok::<(), edgegrad::Error>(())
/// ```
///
/// A vocabulary with more than 65 536 ids does not compile:
///
/// ```compile_fail
/// let v = edgegrad::vocab::Vocab::<65_537, 4>::ZERO;
/// ```
#[derive(Debug)]
pub struct Vocab<const V: usize, const L: usize> {
    words: [String<L>; V],
    counts: [u64; V],
    /// Ids `1..len` sorted by word, for binary search, then zeros. Also the scratch of
    /// the duplicate check (restored from `words` by [`reindex`](Self::reindex)).
    sorted: [u16; V],
    len: usize,
}

impl<const V: usize, const L: usize> Vocab<V, L> {
    /// A vocabulary holding only [`UNK`].
    ///
    /// ```
    /// use edgegrad::vocab::Vocab;
    /// static mut VOCAB: Vocab<4096, 16> = Vocab::ZERO; // no stack
    /// assert_eq!(Vocab::<4, 8>::ZERO.len(), 1);
    /// ```
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
    ///
    /// ```
    /// assert!(edgegrad::vocab::Vocab::<4, 8>::BYTES >= 4 * 8);
    /// ```
    pub const BYTES: usize = core::mem::size_of::<Self>();

    /// Only [`UNK`], with every count zero (the index is left to [`reindex`](Self::reindex)).
    fn clear(&mut self) {
        self.len = 1;
        self.words[0].clear();
        let _ = self.words[0].push_str("<unk>");
        self.counts.fill(0);
    }

    /// Rebuilds the index from `words[1..len]`: a function of the words alone, so that
    /// it restores the index bit for bit after [`find_duplicate`](Self::find_duplicate)
    /// used it as scratch (the words being distinct, their sorted order is unique).
    fn reindex(&mut self) {
        let n = self.len.saturating_sub(1);
        for (i, s) in self.sorted.iter_mut().enumerate() {
            // Below V ≤ 65 536 ids (the assertion in ZERO): the cast is exact.
            *s = if i < n { (i + 1) as u16 } else { 0 };
        }
        let words = &self.words;
        self.sorted[..n].sort_unstable_by(|&a, &b| {
            words[usize::from(a)]
                .as_str()
                .cmp(words[usize::from(b)].as_str())
        });
    }

    /// Whether `word` can be a vocabulary word: non-empty, without whitespace, and at
    /// most `L` bytes once lower-cased.
    ///
    /// ```
    /// use edgegrad::vocab::Vocab;
    /// assert!(Vocab::<4, 3>::fits("CAT"));
    /// assert!(!Vocab::<4, 3>::fits("cats"));
    /// assert!(!Vocab::<4, 3>::fits("a b"));
    /// assert!(!Vocab::<4, 3>::fits(""));
    /// ```
    pub fn fits(word: &str) -> bool {
        is_word(word) && normalise::<L>(word).is_some()
    }

    /// Number of ids in use (the kept words plus [`UNK`]), in `1..=V`.
    ///
    /// ```
    /// assert_eq!(edgegrad::vocab::Vocab::<4, 3>::ZERO.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether only [`UNK`] is present.
    ///
    /// ```
    /// assert!(edgegrad::vocab::Vocab::<4, 3>::ZERO.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len <= 1
    }

    /// The word of `id` (`"<unk>"` for [`UNK`], `""` past [`len`](Self::len)); any id
    /// is valid.
    ///
    /// ```
    /// let v = edgegrad::vocab::Vocab::<4, 3>::ZERO;
    /// assert_eq!((v.word(0), v.word(3), v.word(u16::MAX)), ("<unk>", "", ""));
    /// ```
    pub fn word(&self, id: u16) -> &str {
        if id == UNK {
            return "<unk>";
        }
        // Only the first `len` slots are words; a rebuild leaves older ones behind.
        self.words[..self.len]
            .get(usize::from(id))
            .map_or("", |w| w.as_str())
    }

    /// How often `id` occurred when the vocabulary was built (for [`UNK`]: every
    /// occurrence of a word left out); 0 past [`len`](Self::len) and after
    /// [`set_words`](Self::set_words).
    ///
    /// ```
    /// let v = edgegrad::vocab::Vocab::<4, 3>::ZERO;
    /// assert_eq!((v.count(0), v.count(9)), (0, 0));
    /// ```
    pub fn count(&self, id: u16) -> u64 {
        self.counts().get(usize::from(id)).copied().unwrap_or(0)
    }

    /// Counts of every id, `len()` long: what word2vec's sampling tables are built from.
    ///
    /// ```
    /// assert_eq!(edgegrad::vocab::Vocab::<4, 3>::ZERO.counts(), &[0]);
    /// ```
    pub fn counts(&self) -> &[u64] {
        &self.counts[..self.len]
    }

    /// The id of `word` (matched lower-cased), or [`UNK`]; any text is valid.
    ///
    /// ```
    /// use edgegrad::vocab::{Vocab, UNK};
    /// let mut v = Vocab::<4, 8>::ZERO;
    /// v.set_words(["sun"].into_iter())?;
    /// assert_eq!((v.id("Sun"), v.id("moon"), v.id("")), (1, UNK, UNK));
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn id(&self, word: &str) -> u16 {
        let Some(key) = normalise::<L>(word) else {
            return UNK;
        };
        let n = self.len.saturating_sub(1);
        self.sorted[..n]
            .binary_search_by(|&i| self.words[usize::from(i)].as_str().cmp(key.as_str()))
            .map_or(UNK, |pos| self.sorted[pos])
    }

    /// Writes the ids of the words of `text` (see [`words`]) into `out`; returns how
    /// many were written (at most `out.len()`; the rest of the text is ignored, and
    /// `out` past the returned count is untouched). Every id is below
    /// [`len`](Self::len). Cannot fail.
    ///
    /// ```
    /// use edgegrad::vocab::Vocab;
    /// let mut v = Vocab::<4, 8>::ZERO;
    /// v.set_words(["a", "b"].into_iter())?;
    /// let mut ids = [9_u16; 3];
    /// assert_eq!(v.encode("b, c! a b", &mut ids), 3);
    /// assert_eq!(ids, [2, 0, 1]);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn encode(&self, text: &str, out: &mut [u16]) -> usize {
        let mut n = 0;
        for (slot, w) in out.iter_mut().zip(words(text)) {
            *slot = self.id(w);
            n += 1;
        }
        n
    }

    /// Replaces the vocabulary by `words` (ids `1..=n` in that order, counts zero),
    /// lower-cased like every lookup.
    ///
    /// Errors, with the vocabulary unchanged:
    /// - [`Error::InvalidLength`] for more than `V − 1` words (the iterator is not read
    ///   past the `V`-th word, so it may be endless), or for a word that is empty or
    ///   longer than `L` bytes lower-cased;
    /// - [`Error::InvalidParameter`] for a word containing whitespace, or a word given
    ///   twice (compared lower-cased: `"Cat"` and `"cat"` are the same word).
    ///
    /// The iterator is cloned for several passes: one to check the words, others to
    /// find a repeated word (a filter of `16·V` bits, kept in the vocabulary's own index,
    /// so no scratch; a word the filter flags is compared with the words before it),
    /// and one to copy the words. If the clones do not all yield the same words (an
    /// iterator with shared state), the vocabulary is reset to only [`UNK`] and the
    /// result is [`Error::InvalidParameter`]; it never panics.
    ///
    /// ```
    /// use edgegrad::{vocab::Vocab, Error};
    /// let mut v = Vocab::<4, 8>::ZERO;
    /// v.set_words(["to", "be"].into_iter())?;
    /// assert!(matches!(v.set_words(["a", "b", "c", "d"].into_iter()), Err(Error::InvalidLength { .. })));
    /// assert!(matches!(v.set_words(["or", "not", "OR"].into_iter()), Err(Error::InvalidParameter { .. })));
    /// assert!(matches!(v.set_words(["new york"].into_iter()), Err(Error::InvalidParameter { .. })));
    /// assert_eq!((v.len(), v.word(1), v.word(2)), (3, "to", "be"));
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn set_words<'a>(&mut self, words: impl Iterator<Item = &'a str> + Clone) -> Result<()> {
        let (n, fp) = Self::check_words(words.clone())?;
        if self.find_duplicate(words.clone(), n).is_some() {
            return Err(Error::InvalidParameter {
                what: "vocabulary words",
                expected: "every word once (compared lower-cased)",
            });
        }
        self.write_words(words, n, fp)
    }

    /// Checks that `words` are at most `V − 1` valid words (without reading past the
    /// `V`-th); returns their number and [`fingerprint`].
    pub(crate) fn check_words<'a>(words: impl Iterator<Item = &'a str>) -> Result<(usize, u64)> {
        let mut n = 0;
        let mut fp = FINGERPRINT;
        for w in words {
            n += 1;
            if n >= V {
                return Err(Error::InvalidLength {
                    what: "vocabulary words",
                    found: n,
                    min: 0,
                    max: V - 1,
                });
            }
            if w.chars().any(char::is_whitespace) {
                return Err(Error::InvalidParameter {
                    what: "vocabulary word",
                    expected: "no whitespace (it separates words in the text format)",
                });
            }
            if !Self::fits(w) {
                return Err(Error::InvalidLength {
                    what: "vocabulary word (bytes, lower-cased)",
                    found: lowered(w).map(char::len_utf8).sum(),
                    min: 1,
                    max: L,
                });
            }
            fp = fingerprint(fp, w);
        }
        Ok((n, fp))
    }

    /// The position of the first of the first `n` `words` that repeats an earlier one
    /// (compared lower-cased), or `None`. Uses the index as a Bloom filter of `16·V`
    /// bits (three bits per word) and compares a word with the earlier ones only when
    /// its bits were all set; restores the index before returning, so the vocabulary
    /// is unchanged.
    pub(crate) fn find_duplicate<'a>(
        &mut self,
        words: impl Iterator<Item = &'a str> + Clone,
        n: usize,
    ) -> Option<usize> {
        if n < 2 {
            return None;
        }
        self.sorted.fill(0);
        let bits = 16 * V as u64;
        let mut found = None;
        for (i, w) in words.clone().take(n).enumerate() {
            let h = word_hash(w);
            let step = mix(h ^ 0xA5A5_A5A5_A5A5_A5A5) | 1;
            let mut seen = true;
            for k in 0..3 {
                let bit = h.wrapping_add(step.wrapping_mul(k)) % bits;
                // bit < 16·V, so the slot is below V.
                let (slot, mask) = ((bit / 16) as usize, 1_u16 << (bit % 16));
                seen &= self.sorted[slot] & mask != 0;
                self.sorted[slot] |= mask;
            }
            if seen && words.clone().take(i).any(|earlier| same_word(earlier, w)) {
                found = Some(i);
                break;
            }
        }
        self.reindex();
        found
    }

    /// Replaces the vocabulary by the first `n` of `words`, which
    /// [`check_words`](Self::check_words) accepted with fingerprint `fp` and
    /// [`find_duplicate`](Self::find_duplicate) found distinct. If this pass does not
    /// see the same words (clones that disagree), resets to only [`UNK`] and errs.
    pub(crate) fn write_words<'a>(
        &mut self,
        words: impl Iterator<Item = &'a str>,
        n: usize,
        fp: u64,
    ) -> Result<()> {
        self.clear();
        let mut count = 0;
        let mut seen = FINGERPRINT;
        let mut consistent = true;
        for w in words.take(n.saturating_add(1)) {
            let slot = count + 1;
            match normalise::<L>(w).filter(|_| is_word(w)) {
                Some(s) if count < n && slot < V => self.words[slot] = s,
                _ => {
                    consistent = false;
                    break;
                }
            }
            seen = fingerprint(seen, w);
            count += 1;
        }
        self.len = count + 1;
        self.reindex();
        let sorted = &self.sorted[..count];
        let repeated = sorted
            .windows(2)
            .any(|p| self.words[usize::from(p[0])] == self.words[usize::from(p[1])]);
        if !consistent || count != n || seen != fp || repeated {
            self.clear();
            self.reindex();
            return Err(Error::InvalidParameter {
                what: "vocabulary words",
                expected: "an iterator whose clones yield the same words",
            });
        }
        Ok(())
    }
}

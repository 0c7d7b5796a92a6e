//! Character vocabularies: token id `i` is the `i`-th character of a fixed list, and
//! the last id stands for every character outside it.

use core::fmt;

use crate::error::{Error, Result};

/// Up to `V` characters, token id `i` being the `i`-th; the last one stands for every
/// character not in the list (text outside the training alphabet still encodes).
///
/// Build it from a saved list ([`from_chars`](Self::from_chars), the format its
/// `Display` writes), from the first characters a text uses
/// ([`first_seen`](Self::first_seen)), or from a text's most frequent characters
/// ([`CharCounter::most_frequent`]). `V ≤ 65 536`, since ids are `u16` (larger
/// vocabularies do not compile). No method panics; `V = 0` is allowed (every id is 0
/// and every character `'\u{FFFD}'`).
///
/// ```
/// use edgegrad::vocab::CharVocab;
/// let v = CharVocab::<9>::first_seen("hello world", '?');
/// assert_eq!(v.to_string(), "helo wrd?");
/// let mut ids = [0_u16; 5];
/// assert_eq!(v.encode("hold!", &mut ids), 5);
/// assert_eq!(ids, [0, 3, 2, 7, 8]); // h o l d, and the last id for the unknown !
/// assert_eq!(v.decode(&ids).to_string(), "hold?");
/// ```
///
/// ```compile_fail
/// let v = edgegrad::vocab::CharVocab::<65_537>::EMPTY;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CharVocab<const V: usize> {
    chars: [char; V],
    len: usize,
}

impl<const V: usize> CharVocab<V> {
    /// Token ids are `u16`: at most 65 536 characters.
    const FITS_U16: () = assert!(V <= 1 << 16, "a CharVocab holds at most 65 536 characters");

    /// No characters yet.
    ///
    /// ```
    /// let v = edgegrad::vocab::CharVocab::<4>::EMPTY;
    /// assert!(v.is_empty() && v.encode("x", &mut [0]) == 1);
    /// ```
    pub const EMPTY: Self = {
        let () = Self::FITS_U16;
        CharVocab {
            chars: ['\0'; V],
            len: 0,
        }
    };

    /// The characters of `chars`, in order, as ids `0, 1, …`; the last one stands for
    /// every other character. [`Error::InvalidLength`] for none or more than `V`
    /// characters, [`Error::InvalidParameter`] for a character listed twice.
    ///
    /// ```
    /// use edgegrad::vocab::CharVocab;
    /// let v = CharVocab::<4>::from_chars("ab?")?;
    /// assert_eq!((v.id('b'), v.id('z'), v.char(2)), (1, 2, '?'));
    /// assert!(CharVocab::<2>::from_chars("ab?").is_err());
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn from_chars(chars: &str) -> Result<Self> {
        let mut v = Self::EMPTY;
        v.set_chars(chars)?;
        Ok(v)
    }

    /// [`from_chars`](Self::from_chars) in place (no vocabulary built on the stack),
    /// with its errors; on an error `self` is unchanged. (The check for a repeated
    /// character compares each with those before it: `O(V²)` at worst.)
    ///
    /// ```
    /// use edgegrad::vocab::CharVocab;
    /// let mut v = CharVocab::<4>::from_chars("ab?")?;
    /// assert!(v.set_chars("xyzzy").is_err());
    /// assert!(v.set_chars("xyx").is_err());
    /// assert_eq!(v.to_string(), "ab?");
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn set_chars(&mut self, chars: &str) -> Result<()> {
        let () = Self::FITS_U16;
        let n = chars.chars().count();
        if n == 0 || n > V {
            return Err(Error::InvalidLength {
                what: "character vocabulary",
                found: n,
                min: 1,
                max: V,
            });
        }
        for (i, c) in chars.chars().enumerate() {
            if chars.chars().take(i).any(|d| d == c) {
                return Err(Error::InvalidParameter {
                    what: "character vocabulary",
                    expected: "every character listed once",
                });
            }
        }
        // Slots past the list are '\0', so that equal lists compare equal.
        self.chars.fill('\0');
        for (slot, c) in self.chars.iter_mut().zip(chars.chars()) {
            *slot = c;
        }
        self.len = n;
        Ok(())
    }

    /// The distinct characters of `text` in order of first appearance, at most `V − 1`
    /// of them (later new ones fall to the last id), then `other` as the last id
    /// (`other` itself is not taken from the text). With `V = 0` the result is empty.
    /// Cannot fail.
    ///
    /// ```
    /// use edgegrad::vocab::CharVocab;
    /// assert_eq!(CharVocab::<3>::first_seen("abc", '_').to_string(), "ab_");
    /// assert!(CharVocab::<0>::first_seen("abc", '_').is_empty());
    /// ```
    pub fn first_seen(text: &str, other: char) -> Self {
        let mut v = Self::EMPTY;
        v.set_first_seen(text, other);
        v
    }

    /// [`first_seen`](Self::first_seen) in place (no vocabulary built on the stack).
    ///
    /// ```
    /// let mut v = edgegrad::vocab::CharVocab::<4>::EMPTY;
    /// v.set_first_seen("banana", '?');
    /// assert_eq!(v.to_string(), "ban?");
    /// ```
    pub fn set_first_seen(&mut self, text: &str, other: char) {
        let () = Self::FITS_U16;
        self.chars.fill('\0');
        self.len = 0;
        if V == 0 {
            return;
        }
        for c in text.chars() {
            if self.len + 1 < V && c != other && !self.chars[..self.len].contains(&c) {
                self.chars[self.len] = c;
                self.len += 1;
            }
        }
        self.chars[self.len] = other;
        self.len += 1;
    }

    /// Number of characters (ids), the last standing for every other character.
    ///
    /// ```
    /// assert_eq!(edgegrad::vocab::CharVocab::<4>::from_chars("ab")?.len(), 2);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no character (only [`EMPTY`](Self::EMPTY)).
    ///
    /// ```
    /// assert!(edgegrad::vocab::CharVocab::<4>::EMPTY.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The characters in id order.
    ///
    /// ```
    /// assert_eq!(edgegrad::vocab::CharVocab::<4>::from_chars("ab")?.chars(), ['a', 'b']);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn chars(&self) -> &[char] {
        &self.chars[..self.len]
    }

    /// The id of `c`: its position, or the last id if it is not in the list (0 for an
    /// empty vocabulary). Any character is valid.
    ///
    /// ```
    /// let v = edgegrad::vocab::CharVocab::<4>::from_chars("ab?")?;
    /// assert_eq!((v.id('a'), v.id('?'), v.id('z')), (0, 2, 2));
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn id(&self, c: char) -> u16 {
        let () = Self::FITS_U16;
        let other = self.len.saturating_sub(1);
        // Below V ≤ 65 536 (FITS_U16): the cast is exact.
        self.chars().iter().position(|&d| d == c).unwrap_or(other) as u16
    }

    /// The character of `id`; ids past the list (a model's vocabulary may be larger
    /// than its alphabet) give the last character, the one for "other"; an empty
    /// vocabulary gives `'\u{FFFD}'`. Any id is valid.
    ///
    /// ```
    /// let v = edgegrad::vocab::CharVocab::<4>::from_chars("ab?")?;
    /// assert_eq!((v.char(1), v.char(3), v.char(u16::MAX)), ('b', '?', '?'));
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn char(&self, id: u16) -> char {
        let chars = self.chars();
        chars
            .get(usize::from(id))
            .or(chars.last())
            .copied()
            .unwrap_or('\u{FFFD}')
    }

    /// Writes the ids of `text`'s characters into `out` and returns how many were
    /// written (at most `out.len()`; the rest of the text is ignored and `out` past the
    /// count untouched). Cannot fail.
    ///
    /// ```
    /// let v = edgegrad::vocab::CharVocab::<4>::from_chars("ab?")?;
    /// let mut ids = [9_u16; 2];
    /// assert_eq!(v.encode("bad", &mut ids), 2);
    /// assert_eq!(ids, [1, 0]);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn encode(&self, text: &str, out: &mut [u16]) -> usize {
        let mut n = 0;
        for (slot, c) in out.iter_mut().zip(text.chars()) {
            *slot = self.id(c);
            n += 1;
        }
        n
    }

    /// The text of `ids`, as a `Display` value (no allocation); any id is valid (see
    /// [`char`](Self::char)).
    ///
    /// ```
    /// let v = edgegrad::vocab::CharVocab::<4>::from_chars("ab?")?;
    /// assert_eq!(v.decode(&[1, 0, 7]).to_string(), "ba?");
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn decode<'a>(&'a self, ids: &'a [u16]) -> impl fmt::Display + 'a {
        Decoded { vocab: self, ids }
    }
}

/// Writes the characters in id order: the text [`CharVocab::from_chars`] reads back.
impl<const V: usize> fmt::Display for CharVocab<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in self.chars() {
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

struct Decoded<'a, const V: usize> {
    vocab: &'a CharVocab<V>,
    ids: &'a [u16],
}

impl<const V: usize> fmt::Display for Decoded<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &id in self.ids {
            fmt::Write::write_char(f, self.vocab.char(id))?;
        }
        Ok(())
    }
}

/// Counts the characters of texts, with room for `N` distinct ones, to keep the most
/// frequent as a [`CharVocab`]. Counts saturate at `u64::MAX`; no method panics.
///
/// ```
/// use edgegrad::vocab::CharCounter;
/// let mut counter = CharCounter::<64>::new();
/// counter.add_text("abracadabra")?;
/// let v = counter.most_frequent::<4>('?');
/// assert_eq!(v.to_string(), "abr?"); // a ×5, b ×2, r ×2 (ties by character), then other
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CharCounter<const N: usize> {
    chars: [char; N],
    counts: [u64; N],
    len: usize,
}

impl<const N: usize> Default for CharCounter<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> CharCounter<N> {
    /// No character counted.
    ///
    /// ```
    /// assert_eq!(edgegrad::vocab::CharCounter::<8>::new().distinct(), 0);
    /// ```
    pub const fn new() -> Self {
        CharCounter {
            chars: ['\0'; N],
            counts: [0; N],
            len: 0,
        }
    }

    /// Counts every character of `text`. [`Error::InvalidLength`] when a character
    /// would be the `N + 1`-th distinct one: then the characters of `text` before it
    /// have been counted (the counter is as if `text` had ended just before it), and
    /// that character and the rest of `text` have not.
    ///
    /// ```
    /// let mut c = edgegrad::vocab::CharCounter::<2>::new();
    /// assert!(c.add_text("abac").is_err());
    /// assert_eq!(c.most_frequent::<3>('?').to_string(), "ab?"); // "aba" counted
    /// ```
    pub fn add_text(&mut self, text: &str) -> Result<()> {
        for c in text.chars() {
            match self.chars[..self.len].iter().position(|&d| d == c) {
                Some(i) => self.counts[i] = self.counts[i].saturating_add(1),
                None if self.len < N => {
                    self.chars[self.len] = c;
                    self.counts[self.len] = 1;
                    self.len += 1;
                }
                None => {
                    return Err(Error::InvalidLength {
                        what: "distinct characters",
                        found: N.saturating_add(1),
                        min: 0,
                        max: N,
                    });
                }
            }
        }
        Ok(())
    }

    /// Number of distinct characters counted.
    ///
    /// ```
    /// let mut c = edgegrad::vocab::CharCounter::<8>::new();
    /// c.add_text("aab")?;
    /// assert_eq!(c.distinct(), 2);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn distinct(&self) -> usize {
        self.len
    }

    /// The `V − 1` most frequent characters (ties: the smaller character first), then
    /// `other` as the last id, which every other character (and `other` itself, if the
    /// text has it) maps to. With `V = 0` the result is empty. Cannot fail.
    ///
    /// ```
    /// let mut c = edgegrad::vocab::CharCounter::<8>::new();
    /// c.add_text("aab")?;
    /// assert_eq!(c.most_frequent::<2>('?').to_string(), "a?");
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn most_frequent<const V: usize>(&self, other: char) -> CharVocab<V> {
        let mut v = CharVocab::<V>::EMPTY;
        self.set_most_frequent(&mut v, other);
        v
    }

    /// [`most_frequent`](Self::most_frequent) into `v`, in place (no vocabulary built
    /// on the stack).
    ///
    /// ```
    /// use edgegrad::vocab::{CharCounter, CharVocab};
    /// let mut c = CharCounter::<8>::new();
    /// c.add_text("abb")?;
    /// let mut v = CharVocab::<3>::EMPTY;
    /// c.set_most_frequent(&mut v, '?');
    /// assert_eq!(v.to_string(), "ba?");
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn set_most_frequent<const V: usize>(&self, v: &mut CharVocab<V>, other: char) {
        let () = CharVocab::<V>::FITS_U16;
        v.chars.fill('\0');
        v.len = 0;
        if V == 0 {
            return;
        }
        // Selection of the next best V − 1 times: V and N are small, and no sort of
        // the counter is needed.
        while v.len + 1 < V {
            let best = (0..self.len)
                .filter(|&i| self.chars[i] != other && !v.chars[..v.len].contains(&self.chars[i]))
                .max_by(|&a, &b| {
                    self.counts[a]
                        .cmp(&self.counts[b])
                        .then(self.chars[b].cmp(&self.chars[a]))
                });
            let Some(i) = best else {
                break;
            };
            v.chars[v.len] = self.chars[i];
            v.len += 1;
        }
        v.chars[v.len] = other;
        v.len += 1;
    }
}

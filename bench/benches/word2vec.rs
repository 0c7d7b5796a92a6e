//! word2vec training throughput in words per second on the King James excerpt shipped
//! with the examples: skip-gram and CBOW with negative sampling (k = 5) at D = 64 and
//! D = 100, and both with the full softmax at V = 1024; window 5, sub-sampling 1e-3.
//!
//! Throughput counts effective words — words left after sub-sampling, the figure gensim
//! reports — measured on the same sentences before timing.
//!
//! The `word2vec_16k` group trains on a corpus the size users have: 1.33 M words of
//! 16 383 types with Zipf's law of real text (`zipf_corpus`), so both `16 384 × D`
//! tables (8 MB at D = 64) are far beyond L2 and each prediction's rows come from all
//! over them. `EDGEGRAD_W2V_CORPUS=FILE` also writes that corpus to `FILE`, one
//! sentence per line, for `bench/gensim_word2vec.py`, which times gensim on it.
//!
//! Run: `cargo bench -p edgegrad-bench --bench word2vec`.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgegrad::vocab::{Vocab, VocabBuilder};
use edgegrad::word2vec::{Architecture, Objective, Word2Vec, Word2VecConfig, Word2VecTrainer};
use rand_core::SeedableRng;

const TEXT: &str = include_str!("../../examples/data/kjv-excerpt.txt");
fn sentences<const V: usize>(chunk: usize) -> (Box<Vocab<V, 24>>, Vec<Vec<u16>>) {
    let mut builder = Box::new(VocabBuilder::<16384, 24>::new());
    builder.add_text(TEXT).unwrap();
    let mut vocab = Box::new(Vocab::<V, 24>::ZERO);
    builder.build(1, &mut vocab);
    let mut buf = vec![0_u16; 512];
    let mut out = Vec::new();
    let mut total = 0;
    for line in TEXT.lines() {
        let n = vocab.encode(line, &mut buf);
        out.push(buf[..n].to_vec());
        total += n;
        if total >= chunk {
            break;
        }
    }
    (vocab, out)
}

/// Trains on the first `chunk` words of the text per measured iteration.
fn bench_mode<const V: usize, const D: usize>(
    c: &mut Criterion,
    architecture: Architecture,
    objective: Objective,
    chunk: usize,
) {
    let (vocab, sents) = sentences::<V>(chunk);
    let config = Word2VecConfig {
        architecture,
        objective,
        window: 5,
        sample: 1e-3,
        lr: 0.025,
    };
    let name = match (architecture, objective) {
        (Architecture::SkipGram, Objective::NegativeSampling(_)) => {
            format!("skipgram_ns/V{V}_D{D}")
        }
        (Architecture::Cbow, Objective::NegativeSampling(_)) => format!("cbow_ns/V{V}_D{D}"),
        (Architecture::SkipGram, Objective::Softmax) => format!("skipgram_softmax/V{V}_D{D}"),
        (Architecture::Cbow, Objective::Softmax) => format!("cbow_softmax/V{V}_D{D}"),
    };
    time_training::<V, D>(c, "word2vec", &name, config, vocab.counts(), &sents);
}

/// Times training on `sents` (once through per iteration) from a fresh model, after
/// one untimed pass that counts the effective words (the throughput's unit).
fn time_training<const V: usize, const D: usize>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    config: Word2VecConfig,
    counts: &[u64],
    sents: &[Vec<u16>],
) {
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let mut model = Box::new(Word2Vec::<V, D>::ZERO);
    model.init(&mut rng);
    let mut trainer = Box::new(Word2VecTrainer::<V, D, 1_000_000>::ZERO);
    trainer.init(config, counts, u64::MAX / 2).unwrap();
    let mut effective = 0;
    for s in sents {
        effective += trainer
            .train_sentence(&mut model, s, &mut rng)
            .unwrap()
            .effective_words;
    }
    eprintln!("{group}/{name}: {effective} effective words per iteration");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(effective));
    g.bench_function(name, |b| {
        b.iter(|| {
            for s in sents {
                trainer.train_sentence(&mut model, s, &mut rng).unwrap();
            }
        })
    });
    g.finish();
}

/// Word `r` (rank `r`, from 0) of the generated corpus.
fn zipf_word(r: usize) -> String {
    format!("w{r}")
}

/// `tokens` words in sentences of 5–24 words, drawn independently with probability
/// `∝ 1/(r + 1)` for rank `r < types` (Zipf's law with exponent 1, as in natural text):
/// with 1.33 M tokens and 16 383 types even the rarest word occurs about eight times,
/// so all of them pass `min_count = 5`. Deterministic (a fixed seed).
fn zipf_corpus(tokens: usize, types: usize) -> String {
    use rand_core::RngCore;
    let mut rng = rand_pcg::Pcg32::seed_from_u64(2016);
    let mut cumulative = Vec::with_capacity(types);
    let mut total = 0.0_f64;
    for r in 0..types {
        total += 1.0 / (r + 1) as f64;
        cumulative.push(total);
    }
    let mut text = String::with_capacity(tokens * 7);
    let mut written = 0;
    while written < tokens {
        let len = (5 + rng.next_u32() % 20) as usize;
        for i in 0..len.min(tokens - written) {
            let u = (rng.next_u64() >> 11) as f64 / (1_u64 << 53) as f64 * total;
            let r = cumulative.partition_point(|&c| c <= u).min(types - 1);
            if i > 0 {
                text.push(' ');
            }
            text.push_str(&zipf_word(r));
        }
        text.push('\n');
        written += len;
    }
    text
}

/// Skip-gram and CBOW with negative sampling on the generated 1.33 M-word corpus
/// (16 383 types + UNK in a `Word2Vec<16384, D>`), gensim's settings: window 5,
/// negative 5, sample 1e-3, `min_count` 5. Each measured iteration trains 100 000 words
/// from the middle of the corpus; the counts for sub-sampling and the noise table come
/// from all of it.
fn bench_realistic<const D: usize>(c: &mut Criterion, text: &str, architecture: Architecture) {
    const V: usize = 16_384;
    let mut builder = Box::new(VocabBuilder::<V, 24>::new());
    builder.add_text(text).unwrap();
    let mut vocab = Box::new(Vocab::<V, 24>::ZERO);
    builder.build(5, &mut vocab);
    assert!(vocab.len() > 16_000, "{} words", vocab.len());
    let mut buf = vec![0_u16; 64];
    let lines: Vec<&str> = text.lines().collect();
    let mut sents = Vec::new();
    let mut total = 0;
    for line in &lines[lines.len() / 2..] {
        let n = vocab.encode(line, &mut buf);
        sents.push(buf[..n].to_vec());
        total += n;
        if total >= 100_000 {
            break;
        }
    }
    let config = Word2VecConfig {
        architecture,
        objective: Objective::NegativeSampling(5),
        window: 5,
        sample: 1e-3,
        lr: 0.025,
    };
    let name = match architecture {
        Architecture::SkipGram => format!("skipgram_ns/D{D}"),
        Architecture::Cbow => format!("cbow_ns/D{D}"),
    };
    time_training::<V, D>(c, "word2vec_16k", &name, config, vocab.counts(), &sents);
}

fn benches(c: &mut Criterion) {
    let text = zipf_corpus(1_330_000, 16_383);
    if let Some(path) = std::env::var_os("EDGEGRAD_W2V_CORPUS") {
        std::fs::write(path, &text).unwrap();
    }
    bench_realistic::<64>(c, &text, Architecture::SkipGram);
    bench_realistic::<64>(c, &text, Architecture::Cbow);
    bench_realistic::<100>(c, &text, Architecture::SkipGram);

    let ns = Objective::NegativeSampling(5);
    bench_mode::<16384, 64>(c, Architecture::SkipGram, ns, 20_000);
    bench_mode::<16384, 64>(c, Architecture::Cbow, ns, 20_000);
    bench_mode::<16384, 100>(c, Architecture::SkipGram, ns, 20_000);
    bench_mode::<16384, 100>(c, Architecture::Cbow, ns, 20_000);
    bench_mode::<1024, 64>(c, Architecture::SkipGram, Objective::Softmax, 2_000);
    bench_mode::<1024, 64>(c, Architecture::Cbow, Objective::Softmax, 2_000);
}

criterion_group! { name = word2vec; config = common::config(500, 2000, 10); targets = benches }
criterion_main!(word2vec);

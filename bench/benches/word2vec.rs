//! word2vec training throughput in words per second on the King James excerpt shipped
//! with the examples: skip-gram and CBOW with negative sampling (k = 5) at D = 64 and
//! D = 100, and both with the full softmax at V = 1024; window 5, sub-sampling 1e-3.
//!
//! Throughput counts effective words — words left after sub-sampling, the figure gensim
//! reports — measured on the same sentences before timing.
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
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let mut model = Box::new(Word2Vec::<V, D>::ZERO);
    model.init(&mut rng);
    let mut trainer = Box::new(Word2VecTrainer::<V, D, 1_000_000>::ZERO);
    trainer.init(config, vocab.counts(), u64::MAX / 2).unwrap();
    let mut effective = 0;
    for s in &sents {
        effective += trainer
            .train_sentence(&mut model, s, &mut rng)
            .unwrap()
            .effective_words;
    }
    let name = match (architecture, objective) {
        (Architecture::SkipGram, Objective::NegativeSampling(_)) => {
            format!("skipgram_ns/V{V}_D{D}")
        }
        (Architecture::Cbow, Objective::NegativeSampling(_)) => format!("cbow_ns/V{V}_D{D}"),
        (Architecture::SkipGram, Objective::Softmax) => format!("skipgram_softmax/V{V}_D{D}"),
        (Architecture::Cbow, Objective::Softmax) => format!("cbow_softmax/V{V}_D{D}"),
    };
    eprintln!("{name}: {effective} effective words per iteration");
    let mut g = c.benchmark_group("word2vec");
    g.throughput(Throughput::Elements(effective));
    g.bench_function(name, |b| {
        b.iter(|| {
            for s in &sents {
                trainer.train_sentence(&mut model, s, &mut rng).unwrap();
            }
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
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

#!/usr/bin/env python3
"""gensim's word2vec on the corpus the word2vec bench generates, for a side-by-side figure.

    EDGEGRAD_W2V_CORPUS=/tmp/zipf.txt cargo bench -p edgegrad-bench --bench word2vec -- word2vec_16k
    python3 bench/gensim_word2vec.py /tmp/zipf.txt

Settings as the bench's: one worker, d 64 (or --size), window 5, negative 5, sample 1e-3,
min_count 5, one epoch; prints effective words per second (words left after
sub-sampling, the figure gensim logs and the bench counts) for skip-gram and CBOW.
"""
import argparse
import time

from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

parser = argparse.ArgumentParser()
parser.add_argument("corpus")
parser.add_argument("--size", type=int, default=64)
parser.add_argument("--rounds", type=int, default=2)
args = parser.parse_args()

sentences = list(LineSentence(args.corpus))
for sg, name in [(1, "skip-gram"), (0, "CBOW")]:
    model = Word2Vec(vector_size=args.size, window=5, negative=5, hs=0, sample=1e-3,
                     min_count=5, workers=1, sg=sg, seed=1)
    model.build_vocab(sentences)
    best = 0.0
    for _ in range(args.rounds):
        start = time.process_time()
        effective, raw = model.train(sentences, total_examples=len(sentences), epochs=1)
        rate = effective / (time.process_time() - start)
        best = max(best, rate)
    print(f"gensim {name} d={args.size}: {len(model.wv)} words, {best:,.0f} effective words/s")

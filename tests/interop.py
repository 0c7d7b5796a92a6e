#!/usr/bin/env python3
"""Safetensors interop between edgegrad and the Python ecosystem (numpy + safetensors).

    python3 tests/interop.py write DIR [SEED]
        Writes DIR/numpy_lm.safetensors: random attention-LM weights saved with
        safetensors.numpy, and DIR/numpy_lm.reference.txt: a token sequence and the
        logits and loss that a plain NumPy (float64) implementation of the model's
        formulas gives for it. tests/interop.rs loads both and must agree.

    python3 tests/interop.py check DIR
        Loads DIR/edgegrad_lm.safetensors, written by tests/interop.rs, with the
        safetensors package and checks names, dtypes, shapes, metadata and values
        against DIR/edgegrad_lm.expected.txt, then checks the NumPy logits of the
        file's weights against the logits edgegrad computed.

The model (row vectors, x·W products), for tokens x[0..L]:
    h0[i]   = tok_emb[x[i]] + pos_emb[i]
    q, k, v = h0·w_q, h0·w_k, h0·w_v
    s[i][j] = q[i]·k[j] / sqrt(DK)  for j <= i (masked above the diagonal)
    p       = softmax over each row of s
    h1      = h0 + (p·v)·w_o
    logits  = h1·w_out + b_out
    loss    = mean over i = 0..L-2 of cross_entropy(logits[i], x[i+1])
"""
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

# The shapes tests/interop.rs instantiates: AttentionLm<V, T, D, DK>.
V, T, D, DK = 13, 10, 12, 6
NAMES = ["tok_emb", "pos_emb", "w_q", "w_k", "w_v", "w_o", "w_out", "b_out"]
SHAPES = {
    "tok_emb": (V, D),
    "pos_emb": (T, D),
    "w_q": (D, DK),
    "w_k": (D, DK),
    "w_v": (D, DK),
    "w_o": (DK, D),
    "w_out": (D, V),
    "b_out": (V,),
}


def forward(w, tokens):
    """Logits (L × V) and loss in float64 from float32 weights."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    x = np.asarray(tokens)
    n = len(x)
    h0 = w["tok_emb"][x] + w["pos_emb"][:n]
    q, k, v = h0 @ w["w_q"], h0 @ w["w_k"], h0 @ w["w_v"]
    s = q @ k.T / np.sqrt(DK)
    s = np.where(np.tril(np.ones((n, n), dtype=bool)), s, -np.inf)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    h1 = h0 + (p @ v) @ w["w_o"]
    logits = h1 @ w["w_out"] + w["b_out"]
    z = logits[:-1]
    lse = z.max(axis=1) + np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1))
    loss = float(np.mean(lse - z[np.arange(n - 1), x[1:]]))
    return logits, loss


def write_reference(path, tokens, logits, loss, weights=None):
    with open(path, "w") as f:
        f.write("tokens " + " ".join(str(t) for t in tokens) + "\n")
        f.write(f"loss {loss!r}\n")
        f.write(f"logits {logits.shape[0]} {logits.shape[1]}\n")
        for row in logits:
            f.write(" ".join(repr(float(v)) for v in row) + "\n")
        for name in NAMES if weights is not None else []:
            f.write(f"{name} " + " ".join(repr(float(v)) for v in weights[name].ravel()) + "\n")


def read_expected(path):
    lines = Path(path).read_text().splitlines()
    out = {}
    for line in lines:
        key, *vals = line.split()
        out[key] = vals
    return out


def write(directory, seed):
    rng = np.random.default_rng(seed)
    w = {}
    for name in NAMES:
        scale = 1.0 if name in ("tok_emb", "pos_emb") else 1.0 / np.sqrt(SHAPES[name][0])
        w[name] = (rng.standard_normal(SHAPES[name]) * scale).astype(np.float32)
    tokens = rng.integers(0, V, size=T).tolist()
    logits, loss = forward(w, tokens)
    directory.mkdir(parents=True, exist_ok=True)
    # Foreign metadata and safetensors' own tensor order: edgegrad must accept both.
    save_file(w, directory / "numpy_lm.safetensors", metadata={"format": "np", "seed": str(seed)})
    write_reference(directory / "numpy_lm.reference.txt", tokens, logits, loss)
    print(f"wrote {directory}/numpy_lm.safetensors (seed {seed}), loss {loss:.6f}")


def check(directory):
    path = directory / "edgegrad_lm.safetensors"
    expected = read_expected(directory / "edgegrad_lm.expected.txt")
    w = load_file(path)
    assert sorted(w) == sorted(NAMES), f"tensor names {sorted(w)}"
    for name in NAMES:
        a = w[name]
        assert a.dtype == np.float32, f"{name}: dtype {a.dtype}"
        assert a.shape == SHAPES[name], f"{name}: shape {a.shape}, expected {SHAPES[name]}"
        want = np.array([float(v) for v in expected[name]], dtype=np.float32).reshape(SHAPES[name])
        assert np.array_equal(a, want), f"{name}: values differ"
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata()
    want_meta = {"model": "edgegrad.attention_lm", "vocab": str(V), "context": str(T),
                 "d_model": str(D), "d_head": str(DK)}
    assert meta == want_meta, f"metadata {meta}"
    tokens = [int(t) for t in expected["tokens"]]
    logits, loss = forward(w, tokens)
    rust_logits = np.array([float(v) for v in expected["logits_values"]]).reshape(logits.shape)
    err = np.max(np.abs(rust_logits - logits) / (1.0 + np.abs(logits)))
    assert err < 1e-4, f"logits differ: max relative error {err}"
    rust_loss = float(expected["loss"][0])
    assert abs(rust_loss - loss) < 1e-4 * (1 + abs(loss)), f"loss {rust_loss} vs {loss}"
    print(f"{path}: 8 tensors, names, shapes, metadata and values as written; "
          f"edgegrad logits within {err:.1e} of NumPy, loss {rust_loss:.6f} vs {loss:.6f}")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    directory = Path(sys.argv[2])
    if sys.argv[1] == "write":
        write(directory, int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    else:
        check(directory)


if __name__ == "__main__":
    main()

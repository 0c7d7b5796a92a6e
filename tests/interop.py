#!/usr/bin/env python3
"""Safetensors interop between edgegrad and the Python ecosystem (numpy + safetensors).

    python3 tests/interop.py write DIR [SEED]
        Writes, for each model (the attention LM "lm" and the GPT "gpt"),
        DIR/numpy_<model>.safetensors: random weights saved with safetensors.numpy
        (the GPT's under Hugging Face GPT-2's names and shapes), and
        DIR/numpy_<model>.reference.txt: a token sequence and the logits and loss that
        a plain NumPy (float64) implementation of the model's formulas gives for it.
        tests/interop.rs loads both and must agree.

    python3 tests/interop.py check DIR
        Loads DIR/edgegrad_<model>.safetensors, written by tests/interop.rs, with the
        safetensors package and checks names, dtypes, shapes, metadata and values
        against DIR/edgegrad_<model>.expected.txt, then checks the NumPy logits of the
        file's weights against the logits edgegrad computed.

The model (row vectors, x·W products), for tokens x[0..L]:
    h0[i]   = tok_emb[x[i]] + pos_emb[i]
    q, k, v = h0·w_q, h0·w_k, h0·w_v
    s[i][j] = q[i]·k[j] / sqrt(DK)  for j <= i (masked above the diagonal)
    p       = softmax over each row of s
    h1      = h0 + (p·v)·w_o
    logits  = h1·w_out + b_out
    loss    = mean over i = 0..L-2 of cross_entropy(logits[i], x[i+1])

The GPT (GPT-2's pre-LayerNorm block, see gpt_forward) has the same loss.
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


# The shapes tests/interop.rs instantiates: Gpt<GV, GT, GD, GN, GF, GL>.
GV, GT, GD, GN, GF, GL = 13, 10, 12, 3, 24, 2


def gpt_shapes():
    shapes = {"transformer.wte.weight": (GV, GD), "transformer.wpe.weight": (GT, GD)}
    for i in range(GL):
        p = f"transformer.h.{i}."
        shapes.update({
            p + "ln_1.weight": (GD,), p + "ln_1.bias": (GD,),
            p + "attn.c_attn.weight": (GD, 3 * GD), p + "attn.c_attn.bias": (3 * GD,),
            p + "attn.c_proj.weight": (GD, GD), p + "attn.c_proj.bias": (GD,),
            p + "ln_2.weight": (GD,), p + "ln_2.bias": (GD,),
            p + "mlp.c_fc.weight": (GD, GF), p + "mlp.c_fc.bias": (GF,),
            p + "mlp.c_proj.weight": (GF, GD), p + "mlp.c_proj.bias": (GD,),
        })
    shapes.update({"transformer.ln_f.weight": (GD,), "transformer.ln_f.bias": (GD,)})
    return shapes


GPT_SHAPES = gpt_shapes()


def layer_norm(x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def softmax_rows(s):
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def mean_loss(logits, x):
    z = logits[:-1]
    lse = z.max(axis=1) + np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(x) - 1), x[1:]]))


def gpt_forward(w, tokens):
    """GPT-2 (pre-LayerNorm, tied output layer, tanh GELU, LayerNorm eps 1e-5) in
    float64: logits (L x V) and loss."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    x_ids = np.asarray(tokens)
    n = len(x_ids)
    hw = GD // GN
    mask = np.tril(np.ones((n, n), dtype=bool))
    x = w["transformer.wte.weight"][x_ids] + w["transformer.wpe.weight"][:n]
    for i in range(GL):
        p = f"transformer.h.{i}."
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"])
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = qkv[:, :GD], qkv[:, GD:2 * GD], qkv[:, 2 * GD:]
        heads = []
        for h in range(GN):
            cols = slice(h * hw, (h + 1) * hw)
            s = q[:, cols] @ k[:, cols].T / np.sqrt(hw)
            heads.append(softmax_rows(np.where(mask, s, -np.inf)) @ v[:, cols])
        x = x + np.concatenate(heads, axis=1) @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"])
        hidden = gelu(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + hidden @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    logits = layer_norm(x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"]) @ w["transformer.wte.weight"].T
    return logits, mean_loss(logits, x_ids)


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


MODELS = {
    # name: (shapes in file order, forward, context, vocabulary, metadata)
    "lm": (SHAPES, forward, T, V, {"model": "edgegrad.attention_lm", "vocab": str(V), "context": str(T),
                                    "d_model": str(D), "d_head": str(DK)}),
    "gpt": (GPT_SHAPES, gpt_forward, GT, GV, {"model": "edgegrad.gpt", "vocab": str(GV), "context": str(GT),
                                              "d_model": str(GD), "heads": str(GN), "d_mlp": str(GF),
                                              "layers": str(GL)}),
}


def random_weights(rng, model):
    shapes = MODELS[model][0]
    w = {}
    for name, shape in shapes.items():
        if model == "lm":
            scale = 1.0 if name in ("tok_emb", "pos_emb") else 1.0 / np.sqrt(shape[0])
            w[name] = (rng.standard_normal(shape) * scale).astype(np.float32)
        elif name.endswith("wte.weight") or name.endswith("wpe.weight"):
            w[name] = (rng.standard_normal(shape) * 0.5).astype(np.float32)
        elif name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
            w[name] = (1.0 + 0.2 * rng.standard_normal(shape)).astype(np.float32)
        elif len(shape) == 1:
            w[name] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
        else:
            w[name] = (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)
    return w


def write(directory, seed):
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for model, (shapes, fwd, context, vocab, _) in MODELS.items():
        w = random_weights(rng, model)
        tokens = rng.integers(0, vocab, size=context).tolist()
        logits, loss = fwd(w, tokens)
        # Foreign metadata and safetensors' own tensor order: edgegrad must accept both.
        save_file(w, directory / f"numpy_{model}.safetensors", metadata={"format": "np", "seed": str(seed)})
        write_reference(directory / f"numpy_{model}.reference.txt", tokens, logits, loss)
        print(f"wrote {directory}/numpy_{model}.safetensors (seed {seed}), loss {loss:.6f}")


def check(directory):
    for model, (shapes, fwd, _, _, want_meta) in MODELS.items():
        path = directory / f"edgegrad_{model}.safetensors"
        expected = read_expected(directory / f"edgegrad_{model}.expected.txt")
        w = load_file(path)
        assert sorted(w) == sorted(shapes), f"tensor names {sorted(w)}"
        for name, shape in shapes.items():
            a = w[name]
            assert a.dtype == np.float32, f"{name}: dtype {a.dtype}"
            assert a.shape == shape, f"{name}: shape {a.shape}, expected {shape}"
            want = np.array([float(v) for v in expected[name]], dtype=np.float32).reshape(shape)
            assert np.array_equal(a, want), f"{name}: values differ"
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata()
            order = list(f.keys())
        assert meta == want_meta, f"metadata {meta}"
        tokens = [int(t) for t in expected["tokens"]]
        logits, loss = fwd(w, tokens)
        rust_logits = np.array([float(v) for v in expected["logits_values"]]).reshape(logits.shape)
        err = np.max(np.abs(rust_logits - logits) / (1.0 + np.abs(logits)))
        assert err < 1e-4, f"logits differ: max relative error {err}"
        rust_loss = float(expected["loss"][0])
        assert abs(rust_loss - loss) < 1e-4 * (1 + abs(loss)), f"loss {rust_loss} vs {loss}"
        print(f"{path}: {len(order)} tensors, names, shapes, metadata and values as written; "
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
